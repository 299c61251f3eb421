//! The pure core of freezing: state, decisions and the requests they call for.
//!
//! [`step`] is the core's one entry: [`decide`] what an input causes (events to record,
//! and requests that follow from no event — a freeze whose time has come, a renewal after
//! a failed freeze), [`apply`] the events to the state, complete the case when its last hop
//! ended, and list every request the new state calls for ([`actions`]). No I/O and no
//! clock: the shell ([`crate::shell`]) does NATS, redb and time, and passes `now` in.
//!
//! Every rule lives here: the trail's bounds ([`CoreConfig`]), the tracing rule
//! ([`crate::rule`]), when a stop is converted ([`conversion_due`]), that an account is
//! stopped at most [`MAX_STOPS_PER_ACCOUNT`] times, and every request id (derived from what
//! it acts on, so a request re-sent after a restart carries the same id and the bank
//! applies it once).

mod actions;
mod cold;
mod conversion;
mod cross_city;
mod decide;
mod joint;
mod retry;
mod state;

use adapters::AdapterError;
use domain::report::Transfer;
use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef, TimeMs};
use events::FreezingEvent;
use events::freezing::HopId;
use events::province::CrossCityClaim;
use protocol::adapter::{FreezeReply, ResolveOrderReply, StatementEntry};

pub use actions::{
    actions, awaited_freeze, freeze_request_id, pending_actions, resolve_request_id, retry_touched, stop_request_id,
};
pub use cold::{Cold, ColdStore, Cooling, Evicted};
pub use conversion::{conversion_due, conversion_touched, freeze_due};
pub use decide::{completion, decide};
pub use joint::Share;
pub use retry::hop_retry;
pub use state::{CaseTrace, Conversion, FreezeRetry, Hold, Hop, HopRetry, State, apply};

use crate::limits::{
    DEFAULT_AT_RISK_MARGIN_MS, DEFAULT_FREEZE_AFTER_MS, MAX_TRACE_DEPTH, MIN_FOLLOW_FEN, RETRY_WINDOW_MS,
    UNSETTLED_ORDER_WINDOW_MS,
};
use crate::rule::TracingRule;

/// A center may stop payments out of one account at most this often (the first stop and
/// one renewal, 48 h each).
pub const MAX_STOPS_PER_ACCOUNT: u8 = 2;

/// Rules the core applies.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Deepest trail level followed; beyond it a hop ends with `depth_limit`.
    pub max_depth: u8,
    /// Smallest onward amount worth following.
    pub min_follow: Fen,
    /// Delay from a stop-payment to its conversion into a freeze.
    pub freeze_after_ms: u64,
    /// How long after the report a hop that failed for now is asked again.
    pub retry_window_ms: u64,
    /// How long after its first `unknown_order` an order is asked about again.
    pub unsettled_order_window_ms: u64,
    /// How long before its stop lapses a claim not frozen yet, with no renewal left, raises
    /// `freeze_at_risk`.
    pub at_risk_margin_ms: u64,
    /// How money leaving a mixed account is attributed to the victims in it.
    pub rule: TracingRule,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            max_depth: MAX_TRACE_DEPTH,
            min_follow: Fen::new(MIN_FOLLOW_FEN),
            freeze_after_ms: DEFAULT_FREEZE_AFTER_MS,
            retry_window_ms: RETRY_WINDOW_MS,
            unsettled_order_window_ms: UNSETTLED_ORDER_WINDOW_MS,
            at_risk_margin_ms: DEFAULT_AT_RISK_MARGIN_MS,
            rule: TracingRule::default(),
        }
    }
}

/// What the bank answered about a hop's account.
#[derive(Debug, Clone)]
pub struct Statement {
    /// 0 when the account was already held and only read.
    pub stop_no: u8,
    pub held: Fen,
    pub expires_at_ms: TimeMs,
    /// The time the entries start from.
    pub since_ms: TimeMs,
    pub entries: Vec<StatementEntry>,
}

/// Something that happened to freezing.
#[derive(Debug, Clone)]
pub enum Input {
    CaseReported {
        case_id: CaseId,
        reported_at_ms: TimeMs,
        transfers: Vec<Transfer>,
        reported_loss: Fen,
    },
    OrderResolved {
        case_id: CaseId,
        hop: HopId,
        /// When the request left (for the platform's share of time-to-freeze).
        asked_at_ms: TimeMs,
        result: Result<ResolveOrderReply, AdapterError>,
    },
    AccountAnswered {
        case_id: CaseId,
        hop: HopId,
        /// When the request left (for the bank's share of time-to-freeze).
        asked_at_ms: TimeMs,
        result: Result<Statement, AdapterError>,
    },
    /// A hop waiting to be asked again is due (its timer fired).
    RetryDue {
        case_id: CaseId,
        hop: HopId,
    },
    /// A claim's conversion into a freeze is due (its timer fired).
    ConversionDue {
        case_id: CaseId,
        account: AccountRef,
    },
    FreezeAnswered {
        case_id: CaseId,
        account: AccountRef,
        /// The request answered.
        request_id: String,
        result: Result<FreezeReply, AdapterError>,
    },
    /// The bank answered the renewal of a stop-payment (after a failed freeze): the stop's
    /// number and new lapse time, or why it could not renew.
    StopRenewed {
        case_id: CaseId,
        account: AccountRef,
        result: Result<(u8, TimeMs), AdapterError>,
    },
    /// The province coordinator's notice that cases of two or more cities stopped `account`
    /// (`events::province::CrossCityNotice`), heard by `city`, this center.
    CrossCityNotice {
        city: City,
        account: AccountRef,
        claims: Vec<CrossCityClaim>,
    },
}

/// A request the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Resolve {
        case_id: CaseId,
        hop: HopId,
        order: PaymentOrderRef,
        request_id: String,
    },
    /// Stop payments out of the account and read its statement.
    Stop {
        case_id: CaseId,
        hop: HopId,
        account: AccountRef,
        since_ms: TimeMs,
        request_id: String,
    },
    /// The account is already held by this center: only read its statement.
    Read {
        case_id: CaseId,
        hop: HopId,
        account: AccountRef,
        since_ms: TimeMs,
    },
    /// Convert a claim on a held account into a freeze.
    Freeze {
        case_id: CaseId,
        account: AccountRef,
        amount: Fen,
        request_id: String,
    },
    /// Stop the account again (the renewal), so the money stays held while the freeze that
    /// failed is tried again.
    RenewStop {
        case_id: CaseId,
        account: AccountRef,
        since_ms: TimeMs,
        request_id: String,
        /// Why the freeze failed.
        after: String,
    },
}

/// Why an input causes nothing: the core cannot act on it. A duplicate or late input (a
/// case traced already, an answer for a hop that already ended) is the common cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("case {case_id} is traced already")]
    AlreadyTraced { case_id: CaseId },
    /// A report that cannot be traced as it stands: it can never be processed.
    #[error("case {case_id} cannot be traced: {reason}")]
    InconsistentReport { case_id: CaseId, reason: String },
    #[error("hop {hop} of case {case_id} is not open")]
    HopNotOpen { case_id: CaseId, hop: HopId },
    #[error("hop {hop} of case {case_id} follows no payment order")]
    NotAnOrder { case_id: CaseId, hop: HopId },
    #[error("hop {hop} of case {case_id} knows no account yet")]
    NoAccount { case_id: CaseId, hop: HopId },
    #[error("case {case_id} holds no claim on {account}")]
    NoClaim { case_id: CaseId, account: AccountRef },
    #[error("the claim of case {case_id} on {account} awaits no conversion")]
    NotAwaitingConversion { case_id: CaseId, account: AccountRef },
    #[error("the claim of case {case_id} on {account} awaits the answer to another freeze than {request_id}")]
    NotTheAwaitedFreeze { case_id: CaseId, account: AccountRef, request_id: String },
    #[error("hop {hop} of case {case_id} waits for no retry now")]
    NotRetrying { case_id: CaseId, hop: HopId },
    /// A cross-city notice about an account this center holds under no stop.
    #[error("this center holds no stop-payment on {account}: only a held account's claims are recorded")]
    NotHeld { account: AccountRef },
    /// A cross-city notice that does not say what one must.
    #[error("{field} = {value}: expected {expected}")]
    InvalidNotice { field: String, value: String, expected: String },
}

impl Rejection {
    /// Whether the message that carried the input can never be processed (it goes to the
    /// dead-letter subject) rather than being a repeat of something already done.
    pub fn is_poison(&self) -> bool {
        matches!(self, Rejection::InconsistentReport { .. })
    }
}

/// What [`decide`] decided: events to record, and requests that follow from no event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decided {
    pub events: Vec<FreezingEvent>,
    pub requests: Vec<Action>,
}

/// What [`step`] did: the events applied (to record, in order) and the requests to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub events: Vec<FreezingEvent>,
    pub actions: Vec<Action>,
}

/// Decides `input` at `now`, applies its events to `state` (completing the case when its
/// last hop ended) and returns them with every request they call for.
pub fn step(state: &mut State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Step, Rejection> {
    state.warm_for_input(&input);
    let Decided { mut events, requests } = decide(state, config, input, now)?;
    for event in &events {
        apply(state, event);
    }
    if let Some(case_id) = events.first().and_then(FreezingEvent::case_id).cloned()
        && let Some(completed) = completion(state, &case_id, now)
    {
        apply(state, &completed);
        events.push(completed);
    }
    let mut actions = actions(state, &events, now);
    actions.extend(requests);
    Ok(Step { events, actions })
}

#[cfg(test)]
mod tests;
