//! What the province coordinator tells the cities: its notices, on
//! `afc.<city>.province.<service>.<kind>` (JSON requests, answered `{"ok": NoticeTaken}` or
//! `{"error": NoticeError}`).
//!
//! - [`CrossCityNotice`] (`afc.<city>.province.freezing.cross_city`): cases of two or more
//!   cities stopped the same account; every claiming city's freezing hears who else claims
//!   it and in what order (each city's first stop there, earliest first). Freezing records
//!   it as `cross_city_claims` on the account it holds; restitution reads that event.
//! - [`ProvinceBlockNotice`] (`afc.<city>.province.blocking.province_block`): an identifier
//!   blocked in two or more cities is blocked in every city; each city's blocking blocks it
//!   (`identifier_blocked` with its `province` field) unless it blocks it already.
//! - [`ProvinceUnblockNotice`] (`afc.<city>.province.blocking.province_unblock`): a city lifted
//!   its own block of an identifier the province blocked, and fewer than two cities still hold
//!   theirs; each city's blocking lifts the block it holds for the province (`block_lifted`),
//!   not a block of its own.
//!
//! - [`ResendRequest`] (`afc.<city>.province.<service>.resend`, any service with a log,
//!   served by the shared runtime): the events of a range of the service's sequence
//!   numbers, read from its redb log, for the province to fill a gap with ([`Resent`]).
//!
//! Only the hub can send on these subjects: a city's staff may send the city's commands
//! (`afc.<city>.cmd.>`), not these, and the hub's grants let the coordinator alone send them
//! (docs/ARCHITECTURE.md, "Security"). The coordinator sends each notice until the city
//! answers (an outbox in its state), so a city hears it once its link is back; a notice
//! heard twice changes nothing the second time (`recorded: false`).

use domain::{AccountRef, CaseId, City, FraudType, TimeMs};
use identifiers::Identifier;
use serde::{Deserialize, Serialize};

pub use protocol::subjects::notice_kind as kind;

/// One city's claim on an account: its first case stopped there, and when.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CrossCityClaim {
    pub city: City,
    pub case_id: CaseId,
    pub first_stop_at_ms: TimeMs,
}

/// Cases of two or more cities stopped `account`: every city's claim, earliest stop first
/// (ties by city). The set of cities only grows; each new city sends the notice again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCityNotice {
    pub account: AccountRef,
    pub claims: Vec<CrossCityClaim>,
    /// When the coordinator absorbed the stop that made it cross-city.
    pub decided_at_ms: TimeMs,
}

/// `identifier` was blocked in two or more cities: every city blocks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceBlockNotice {
    pub identifier: Identifier,
    /// The cities that blocked it, earliest first.
    pub cities: Vec<City>,
    /// The first city's block: its case, the fraud, and when.
    pub case_id: CaseId,
    pub fraud_type: FraudType,
    pub first_reported_at_ms: TimeMs,
    /// When the coordinator absorbed the second city's block.
    pub decided_at_ms: TimeMs,
}

/// The province withdraws its block of `identifier`: `lifted_in` lifted its own block (an
/// appeal) and fewer than two cities still hold theirs. The appeal's reason and operator stay
/// in that city: staff's words are not the province's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceUnblockNotice {
    pub identifier: Identifier,
    /// The city whose lift withdrew the province's block.
    pub lifted_in: City,
    /// When the coordinator absorbed that lift.
    pub decided_at_ms: TimeMs,
}

/// A notice taken: `recorded` when it changed what the city knew (an event was recorded),
/// false when the city knew it already (a notice heard again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeTaken {
    pub recorded: bool,
}

/// Why a city did not take a notice. `Refused` is final (the coordinator stops sending it
/// and records why); `Unavailable` is asked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeError {
    #[error("notice refused: {message}")]
    Refused { message: String },
    #[error("notice not taken now: {message}")]
    Unavailable { message: String },
}

/// Most events a `resend` asks for at once.
pub const MAX_RESEND_EVENTS: u64 = 1_000;

/// Most bytes of events (encoded) one answer to a `resend` carries: a quarter of
/// nats-server's default 1 MiB payload, twice over in hex. An event is at most
/// [`crate::MAX_EVENT_BYTES`], so an answer always carries at least the first one asked for.
pub const MAX_RESEND_BYTES: usize = 256 * 1024;

/// `resend`: the events `from_seq..=to_seq` of the service's log (at most
/// [`MAX_RESEND_EVENTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResendRequest {
    pub from_seq: u64,
    pub to_seq: u64,
}

/// The answer to a `resend`: the events found, in order (each an encoded envelope, in hex),
/// where to go on from when [`MAX_RESEND_BYTES`] cut the answer short, and the log's highest
/// sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resent {
    pub events_hex: Vec<String>,
    pub next_seq: Option<u64>,
    pub highest_seq: u64,
}

/// Lower-case hex of `bytes` (`domain::hex`).
pub use domain::hex::encode as to_hex;

/// The bytes of `text`, hex; `None` when it is not (`domain::hex`).
pub use domain::hex::decode as from_hex;
