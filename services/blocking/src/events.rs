//! What blocking records: past tense, one enum, serde only here (the wire and the log).
//!
//! These live in the blocking crate until its shell is built; they move to `shared/events`
//! (a `Payload::Blocking` variant, `domain::Service::Blocking`, a golden file per kind) with
//! it. Their bytes are pinned already by `tests/golden.rs`.
//!
//! No victim's personal data is here: the identifiers are the scammer's (from the report's
//! `contacts`), accounts are the mules' that held victim money, a card seller is a
//! pseudonymous [`HolderKey`] from the bank, never a name; a lift names the operator (staff).

use std::fmt;

use domain::{AccountRef, BankId, CaseId, FraudType, TimeMs};
use serde::{Deserialize, Serialize};

use crate::normalize::{ContactKind, Identifier, Reason};

/// The three carriers of a Chinese center (`afc.carrier.<carrier>.…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// China Mobile.
    Cmcc,
    /// China Unicom.
    Cucc,
    /// China Telecom.
    Ctcc,
}

impl Carrier {
    pub const ALL: [Carrier; 3] = [Carrier::Cmcc, Carrier::Cucc, Carrier::Ctcc];

    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Cmcc => "cmcc",
            Carrier::Cucc => "cucc",
            Carrier::Ctcc => "ctcc",
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service an order cuts (or, lifted, gives back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Bank: online banking.
    OnlineBanking,
    /// Bank: the mobile banking app.
    MobileBanking,
    /// Bank: payments through third-party platforms (WeChat Pay, Alipay).
    ThirdPartyPayment,
    /// Bank: cash machines.
    Atm,
    /// Phone card: mobile data.
    Data,
    /// Phone card: SMS.
    Sms,
    /// Phone card: voice calls outside the card's home area.
    OutOfAreaVoice,
    /// Phone card: international calls and roaming.
    International,
}

impl Channel {
    /// What a pool account loses: everything but the bank counter (Shenzhen's pool).
    pub const BANK_POOL: [Channel; 4] =
        [Channel::OnlineBanking, Channel::MobileBanking, Channel::ThirdPartyPayment, Channel::Atm];
    /// What a card seller's phone card loses: everything but local voice.
    pub const LOCAL_VOICE_ONLY: [Channel; 4] =
        [Channel::Data, Channel::Sms, Channel::OutOfAreaVoice, Channel::International];
}

/// A person who holds accounts or phone cards, as the bank or carrier knows them: a
/// pseudonymous key `<issuer>:<16-64 lower-case hex digits>` (the issuer's code, then a keyed
/// hash of the person's identity the issuer computes), never a name or an ID number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HolderKey(String);

impl HolderKey {
    pub const EXPECTED: &'static str =
        "<issuer>:<16-64 lower-case hex digits>, issuer 2-16 lower-case letters or digits";

    pub fn parse(s: &str) -> Result<HolderKey, domain::IdError> {
        let valid = s.split_once(':').is_some_and(|(issuer, key)| {
            BankId::parse(issuer).is_ok()
                && (16..=64).contains(&key.len())
                && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid {
            Ok(HolderKey(s.to_owned()))
        } else {
            Err(domain::IdError { kind: "holder key", value: crate::normalize::echo(s), expected: Self::EXPECTED })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HolderKey {
    type Error = domain::IdError;
    fn try_from(s: String) -> Result<Self, domain::IdError> {
        HolderKey::parse(&s)
    }
}

impl From<HolderKey> for String {
    fn from(key: HolderKey) -> String {
        key.0
    }
}

impl fmt::Display for HolderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is in the high-risk pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolSubject {
    /// A bank account that held victim money.
    Account(AccountRef),
    /// A card seller: a holder named in [`crate::limits::CARD_SELLER_CASES`] cases or more.
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
