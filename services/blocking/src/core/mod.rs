//! The pure core of blocking: state, decisions and the orders they call for.
//!
//! [`step`] is the one entry: [`decide`] what an input causes, [`apply`] the events to the
//! state, and return the carrier and bank orders the applied events send. No I/O and no
//! clock: `now` is passed in, and the core says when it next needs to be woken
//! ([`State::next_deadline`]): a block's expiry, a pool release, an order's retry.
//!
//! Every rule is here: one block per identifier ([`state::Block`]), renewed by each new
//! report; expiry and lift; the carrier table ([`carriers`]); orders with request ids derived
//! from what they act on ([`request_id`]), retried with bounded backoff; the high-risk pool.

mod apply;
pub mod carriers;
mod decide;
mod lookup;
pub mod rows;
mod state;

use std::collections::BTreeSet;

use ::events::province::{ProvinceBlockNotice, ProvinceUnblockNotice};
use domain::report::Contacts;
use domain::{AccountRef, BankId, CaseId, City, FraudType, TimeMs};

use crate::events::{Appeal, BlockingEvent, Carrier, Channel, HolderKey, OrderErrorKind, PoolSubject};
use crate::limits::{DEFAULT_DOMAIN_BLOCK_MS, DEFAULT_IP_BLOCK_MS, DEFAULT_LISTING_MS, DEFAULT_PHONE_BLOCK_MS};
use crate::normalize::{ContactKind, Identifier, IdentifierKind, normalize};

pub use apply::apply;
pub use decide::decide;
pub use lookup::{Answer, BlockedSince, lookup};
pub use rows::{RowSource, RowTable, RowWrite, Rows};
pub use state::{Block, Deadline, Holder, InFlight, OrderStatus, PoolEntry, State};

/// Rules the core applies.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The center: the first token of every request id, so two centers' orders on one number
    /// are two orders, each lifted by its own center.
    pub city: City,
    pub phone_block_ms: u64,
    pub domain_block_ms: u64,
    pub ip_block_ms: u64,
    /// How long an app or social account stays listed.
    pub listing_ms: u64,
    /// Identifiers never blocked whoever names them (a platform millions use).
    pub never_block: BTreeSet<Identifier>,
}

/// The never-block list a center starts with: platforms a victim's link often points into
/// (a scam page hosted on them), whose block would cut a city off from services it lives on.
pub const DEFAULT_NEVER_BLOCK: [&str; 12] = [
    "qq.com",
    "baidu.com",
    "taobao.com",
    "tmall.com",
    "alipay.com",
    "jd.com",
    "weibo.com",
    "douyin.com",
    "kuaishou.com",
    "pinduoduo.com",
    "apple.com",
    "microsoft.com",
];

impl CoreConfig {
    pub fn new(city: City) -> CoreConfig {
        let never_block = DEFAULT_NEVER_BLOCK
            .iter()
            .map(|domain| normalize(ContactKind::Domain, domain).expect("the default never-block list is valid"))
            .collect();
        CoreConfig {
            city,
            phone_block_ms: DEFAULT_PHONE_BLOCK_MS,
            domain_block_ms: DEFAULT_DOMAIN_BLOCK_MS,
            ip_block_ms: DEFAULT_IP_BLOCK_MS,
            listing_ms: DEFAULT_LISTING_MS,
            never_block,
        }
    }

    /// How long a block of an identifier of `kind` lasts from its last report.
    pub fn block_life_ms(&self, kind: IdentifierKind) -> u64 {
        match kind {
            IdentifierKind::Phone => self.phone_block_ms,
            IdentifierKind::Domain => self.domain_block_ms,
            IdentifierKind::Ip => self.ip_block_ms,
            IdentifierKind::App | IdentifierKind::Social => self.listing_ms,
        }
    }
}

/// Something that happened to blocking.
#[derive(Debug, Clone)]
pub enum Input {
    /// Intake's `case_reported`: the scammer's contacts the victim gave.
    CaseReported { case_id: CaseId, reported_at_ms: TimeMs, fraud_type: FraudType, contacts: Contacts },
    /// Freezing found `account` holding victim money of `case_id` (a stop with a claim).
    MoneyHeld { case_id: CaseId, account: AccountRef },
    /// A bank or carrier adapter named the holder of accounts or phone cards used in a case.
    HolderReported { case_id: CaseId, holder: HolderKey, phones: Vec<String>, accounts: Vec<AccountRef> },
    /// A carrier or bank answered an order (or the adapter gave up on this attempt).
    OrderAnswered { request_id: String, result: Result<(), OrderErrorKind> },
    /// The deadline the core asked for ([`State::next_deadline`]) came.
    TimerFired,
    /// Staff lift a block (an appeal).
    Lift { identifier: Identifier, appeal: Appeal },
    /// Staff release a subject from the high-risk pool (an appeal).
    PoolAppeal { subject: PoolSubject, appeal: Appeal },
    /// The province: an identifier two or more cities blocked is blocked in every city.
    ProvinceBlock(ProvinceBlockNotice),
    /// The province withdraws its block of an identifier (a city lifted its own): lifted here
    /// if the block held here is the province's, as staff's lift is.
    ProvinceUnblock(ProvinceUnblockNotice),
}

/// What an order asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Verb {
    Block,
    Lift,
    /// Cut `channels` (a pool account's online services, a card seller's non-local service).
    Restrict,
    /// Give `channels` back.
    Unrestrict,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Block => "block",
            Verb::Lift => "lift",
            Verb::Restrict => "restrict",
            Verb::Unrestrict => "unrestrict",
        }
    }
}

/// Who an order goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Counterparty {
    Carrier(Carrier),
    Bank(BankId),
}

/// A request the shell must send (`afc.carrier.<carrier>.<verb>`, `afc.bank.<bank>.<verb>`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// Derived from what it acts on ([`request_id`]): the same on every retry and restart.
    pub request_id: String,
    pub to: Counterparty,
    pub verb: Verb,
    /// An identifier's text form, or an account.
    pub target: String,
    /// For `restrict` / `unrestrict`: what is cut or given back.
    pub channels: Vec<Channel>,
}

/// Idempotency key of an order: the center, the counterparty, the target, the verb and the
/// generation of the block or pool entry it serves (`huzhou/cmcc/phone:+8617000000000/block1`).
/// A lift and a new block after it are new requests; a retry is the same one.
pub fn request_id(city: &City, to: &Counterparty, target: &str, verb: Verb, generation: u32) -> String {
    let to = match to {
        Counterparty::Carrier(carrier) => carrier.as_str(),
        Counterparty::Bank(bank) => bank.as_str(),
    };
    format!("{city}/{to}/{target}/{}{generation}", verb.as_str())
}

/// Why an input causes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("case {case_id} was screened already")]
    CaseKnown { case_id: CaseId },
    #[error("{subject} is already known to be involved in case {case_id}")]
    AlreadyInvolved { subject: String, case_id: CaseId },
    #[error("no order {request_id} awaits an answer")]
    NotAwaited { request_id: String },
    #[error("{identifier} is not blocked")]
    NotBlocked { identifier: Identifier },
    #[error("{subject} is not in the pool")]
    NotInPool { subject: PoolSubject },
    #[error("invalid appeal {field}: expected {expected}")]
    InvalidAppeal { field: &'static str, expected: String },
    /// The province asked to block an identifier this city never blocks.
    #[error("{identifier} is a {} on this city's never-block list", identifier.kind())]
    NeverBlocked { identifier: Identifier },
    #[error("invalid notice {field} {value:?}: expected {expected}")]
    InvalidNotice { field: &'static str, value: String, expected: String },
}

/// What [`step`] did: the events applied (to record, in order) and the orders to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub events: Vec<BlockingEvent>,
    pub orders: Vec<Order>,
}

/// Decides `input` at `now`, applies its events to `state` and returns them with the orders
/// they send.
pub fn step(state: &mut State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Step, Rejection> {
    let events = decide(state, config, input, now)?;
    let mut orders = Vec::new();
    for event in &events {
        for request_id in apply(state, &config.city, event) {
            let in_flight = state.orders.get(&request_id).expect("apply sends only the orders it holds");
            orders.push(in_flight.order.clone());
        }
    }
    Ok(Step { events, orders })
}

/// Every order awaiting an answer (not waiting for its retry time): what a restart sends
/// again, under the same request ids.
pub fn pending_orders(state: &State) -> Vec<Order> {
    let mut orders = Vec::new();
    state.orders.scan(None, |_, in_flight| {
        if in_flight.retry_at_ms.is_none() {
            orders.push(in_flight.order.clone());
        }
        true
    });
    orders
}

#[cfg(test)]
mod tests;
