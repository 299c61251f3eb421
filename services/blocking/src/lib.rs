//! The blocking service: cuts scammers' numbers, sites, apps and accounts off.
//!
//! - [`normalize`]: a victim's contacts (phones, URLs, apps, social accounts) into one
//!   canonical [`Identifier`](normalize::Identifier) each, or a typed problem (the
//!   `identifiers` crate: blocking's events in `shared/events` hold identifiers too).
//! - [`core`] (pure): one block per identifier with every case that named it, its expiry and
//!   lift, the carrier orders it calls for (idempotent request ids, retried with bounded
//!   backoff), the number-range → carrier table, and the high-risk pool (accounts that held
//!   victim money, card sellers).
//! - [`events`]: what blocking records (`events::blocking` in `shared/events`).
//! - [`limits`]: every bound, with its reason.
//!
//! The shell (NATS, redb, the carrier adapters) is not built yet; see docs/blocking.md.

pub mod core;
pub mod limits;

pub use ::events::blocking as events;
pub use identifiers as normalize;

use runtime::StoreSpec;
use store::WriterPriority;

/// Blocking's store (`blocking.redb`): its log, outbox, inbox and snapshot, and each case's
/// rows for `afc case show`. Nothing on the time-to-freeze path waits for its commits, and
/// its orders leave with them (not after): its writer runs in the background.
pub const STORE: StoreSpec = StoreSpec { name: "blocking", priority: WriterPriority::Background };
