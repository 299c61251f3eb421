//! The blocking service: cuts scammers' numbers, sites, apps and accounts off.
//!
//! - [`normalize`]: a victim's contacts (phones, URLs, apps, social accounts) into one
//!   canonical [`Identifier`](normalize::Identifier) each, or a typed problem.
//! - [`core`] (pure): one block per identifier with every case that named it, its expiry and
//!   lift, the carrier orders it calls for (idempotent request ids, retried with bounded
//!   backoff), the number-range → carrier table, and the high-risk pool (accounts that held
//!   victim money, card sellers).
//! - [`events`]: what blocking records.
//! - [`limits`]: every bound, with its reason.
//!
//! The shell (NATS, redb, the carrier adapters) is not built yet; see docs/blocking.md.

pub mod core;
pub mod events;
pub mod limits;
pub mod normalize;
