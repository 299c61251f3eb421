//! What blocking records: past tense, one enum, serde only here (the wire and the log).
//!
//! No victim's personal data is here: the identifiers are the scammer's (from the report's
//! `contacts`), accounts are the mules' that held victim money, a card seller is a
//! pseudonymous [`HolderKey`] from the bank, never a name; a lift names the operator (staff).

use std::fmt;

use domain::{AccountRef, CaseId, City, FraudType, TimeMs};
use serde::{Deserialize, Serialize};

use identifiers::{ContactKind, Identifier, Reason};

/// The carriers, the channels an order cuts and a card seller's pseudonymous key are the
/// vocabulary blocking shares with the carriers' and banks' wire (`protocol::carrier`): they
/// are `domain`'s.
pub use domain::{Carrier, Channel, HolderKey};

/// What is in the high-risk pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolSubject {
    /// A bank account that held victim money.
    Account(AccountRef),
    /// A card seller: a holder named in two or more cases (blocking's `CARD_SELLER_CASES`).
    Holder(HolderKey),
}

impl fmt::Display for PoolSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolSubject::Account(account) => write!(f, "account:{account}"),
            PoolSubject::Holder(holder) => write!(f, "holder:{holder}"),
        }
    }
}

/// A card seller's phone card to restrict, and the carriers asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub phone: Identifier,
    pub carriers: Vec<Carrier>,
}

/// Staff's decision to lift a block or release from the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appeal {
    /// Why (the appeal's outcome, in staff's words).
    pub reason: String,
    /// The operator who decided, as the center's staff directory names them.
    pub operator: String,
}

/// Where a block of the province's came from: the cities that blocked the identifier first,
/// earliest first, and when the province decided it was blocked everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceOrigin {
    pub cities: Vec<City>,
    pub decided_at_ms: TimeMs,
}

/// Why a carrier or bank order failed (the adapter's error kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderErrorKind {
    /// No answer within the adapter's timeout.
    Timeout,
    /// Nobody listens on the carrier's subject.
    NoResponders,
    /// The connection failed under the request.
    Transport,
    /// The carrier answered that it cannot act now.
    Unavailable,
    /// The carrier's answer was malformed or named another request.
    InvalidReply,
    /// The carrier refused the order for good (not its number, a target it cannot act on).
    Refused,
}

impl OrderErrorKind {
    /// Whether asking again, under the same request id, may succeed. A malformed reply says
    /// nothing about the order, so asking again is safe and may succeed.
    pub fn is_transient(self) -> bool {
        !matches!(self, OrderErrorKind::Refused)
    }
}

/// What blocking recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingEvent {
    /// A reported case's contacts were read: how many identifiers it named and how many were
    /// refused. Recorded once per case, first.
    CaseScreened {
        case_id: CaseId,
        reported_at_ms: TimeMs,
        identifiers: u32,
        rejected: u32,
    },
    /// A contact of a case could not be normalised, or may not be blocked; the rest of the
    /// case goes on. `value` is at most `MAX_ECHO_CHARS` characters of what was given.
    IdentifierRejected {
        case_id: CaseId,
        kind: ContactKind,
        value: String,
        reason: Reason,
    },
    /// An identifier not blocked before (or no longer) is blocked: generation `generation`,
    /// ordered from `carriers` (none for apps and social accounts, which are listed only).
    IdentifierBlocked {
        identifier: Identifier,
        generation: u32,
        case_id: CaseId,
        fraud_type: FraudType,
        blocked_at_ms: TimeMs,
        expires_at_ms: TimeMs,
        carriers: Vec<Carrier>,
        /// The Unicode form of a look-alike domain, as the victim saw it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        looks_like: Option<String>,
        /// Set when the province blocked it (`events::province::ProvinceBlockNotice`): then
        /// `case_id` is the first blocking city's case, not one of this city's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        province: Option<ProvinceOrigin>,
    },
    /// Another case named a blocked identifier: the block lasts to `expires_at_ms` now.
    BlockExtended {
        identifier: Identifier,
        generation: u32,
        case_id: CaseId,
        fraud_type: FraudType,
        extended_at_ms: TimeMs,
        expires_at_ms: TimeMs,
    },
    /// The block reached its expiry without a new report; the carriers are asked to lift it.
    BlockExpired {
        identifier: Identifier,
        generation: u32,
        expired_at_ms: TimeMs,
    },
    /// Staff lifted the block (an appeal); the carriers are asked to lift it.
    BlockLifted {
        identifier: Identifier,
        generation: u32,
        lifted_at_ms: TimeMs,
        appeal: Appeal,
    },
    /// A carrier or bank did not confirm an order; it is asked again at `retry_at_ms` under the
    /// same request id.
    OrderRetrying {
        request_id: String,
        attempt: u32,
        retry_at_ms: TimeMs,
        error: OrderErrorKind,
    },
    /// An order is sent again (its retry time came).
    OrderResent {
        request_id: String,
        attempt: u32,
    },
    OrderConfirmed {
        request_id: String,
        confirmed_at_ms: TimeMs,
    },
    /// An order failed for good (refused, or not confirmed after `MAX_ORDER_ATTEMPTS`): for
    /// the liaison to take up by phone.
    OrderFailed {
        request_id: String,
        attempts: u32,
        error: OrderErrorKind,
    },
    /// A bank or carrier named the holder of accounts or phone cards used in a case.
    HolderReported {
        holder: HolderKey,
        case_id: CaseId,
        phones: Vec<Identifier>,
        accounts: Vec<AccountRef>,
    },
    /// Into the high-risk pool: an account is restricted to the bank counter (`channels` cut),
    /// a card seller's phone cards to local voice (`cards`), until `release_at_ms`.
    PoolEntered {
        subject: PoolSubject,
        generation: u32,
        case_id: CaseId,
        entered_at_ms: TimeMs,
        release_at_ms: TimeMs,
        channels: Vec<Channel>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cards: Vec<Card>,
    },
    /// A subject in the pool is involved in another case: its release moves to `release_at_ms`;
    /// a card seller's cards not restricted yet are (`cards`).
    PoolInvolved {
        subject: PoolSubject,
        generation: u32,
        case_id: CaseId,
        release_at_ms: TimeMs,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cards: Vec<Card>,
    },
    /// Out of the pool: five years without new involvement (`appeal` none), or by appeal.
    PoolReleased {
        subject: PoolSubject,
        generation: u32,
        released_at_ms: TimeMs,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appeal: Option<Appeal>,
    },
}

impl BlockingEvent {
    /// Every kind, in declaration order: the last token of its subject.
    pub const KINDS: [&'static str; 14] = [
        "case_screened",
        "identifier_rejected",
        "identifier_blocked",
        "block_extended",
        "block_expired",
        "block_lifted",
        "order_retrying",
        "order_resent",
        "order_confirmed",
        "order_failed",
        "holder_reported",
        "pool_entered",
        "pool_involved",
        "pool_released",
    ];

    pub const CASE_SCREENED: &'static str = Self::KINDS[0];
    pub const IDENTIFIER_BLOCKED: &'static str = Self::KINDS[2];
    pub const ORDER_CONFIRMED: &'static str = Self::KINDS[8];
    pub const POOL_ENTERED: &'static str = Self::KINDS[11];

    /// The case the event belongs to, if it belongs to one (orders and expiries do not).
    pub fn case_id(&self) -> Option<&CaseId> {
        match self {
            BlockingEvent::CaseScreened { case_id, .. }
            | BlockingEvent::IdentifierRejected { case_id, .. }
            | BlockingEvent::IdentifierBlocked { case_id, .. }
            | BlockingEvent::BlockExtended { case_id, .. }
            | BlockingEvent::HolderReported { case_id, .. }
            | BlockingEvent::PoolEntered { case_id, .. }
            | BlockingEvent::PoolInvolved { case_id, .. } => Some(case_id),
            BlockingEvent::BlockExpired { .. }
            | BlockingEvent::BlockLifted { .. }
            | BlockingEvent::OrderRetrying { .. }
            | BlockingEvent::OrderResent { .. }
            | BlockingEvent::OrderConfirmed { .. }
            | BlockingEvent::OrderFailed { .. }
            | BlockingEvent::PoolReleased { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        let index = match self {
            BlockingEvent::CaseScreened { .. } => 0,
            BlockingEvent::IdentifierRejected { .. } => 1,
            BlockingEvent::IdentifierBlocked { .. } => 2,
            BlockingEvent::BlockExtended { .. } => 3,
            BlockingEvent::BlockExpired { .. } => 4,
            BlockingEvent::BlockLifted { .. } => 5,
            BlockingEvent::OrderRetrying { .. } => 6,
            BlockingEvent::OrderResent { .. } => 7,
            BlockingEvent::OrderConfirmed { .. } => 8,
            BlockingEvent::OrderFailed { .. } => 9,
            BlockingEvent::HolderReported { .. } => 10,
            BlockingEvent::PoolEntered { .. } => 11,
            BlockingEvent::PoolInvolved { .. } => 12,
            BlockingEvent::PoolReleased { .. } => 13,
        };
        BlockingEvent::KINDS[index]
    }
}
