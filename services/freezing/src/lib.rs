//! Freezing: from a reported case, follow the victim's money hop by hop — resolve payment
//! orders to bank cards, stop payments out of each account, read where the money went next,
//! freeze where there is money and keep following where there is none — and convert every
//! stop-payment into a freeze before its 48 h lapse.
//!
//! - [`rule`]: which onward transfers carry the victim's money (lowest intermediate balance).
//! - [`core`]: the pure state machine (decide / apply / actions).
//! - [`adapters`]: bank and payment-platform clients with timeouts and bounded retries.
//! - [`service`]: the shell on NATS and redb.

pub mod adapters;
pub mod core;
pub mod limits;
pub mod rule;
pub mod service;

pub use service::{Config, FreezingError, run};
