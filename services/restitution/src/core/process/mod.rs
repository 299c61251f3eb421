//! The process of an allocation, pure: proposed when money is frozen → a notice period in
//! which victims may object (an objection pauses it until an approver dismisses it) → two
//! approvals by two distinct approvers → the bank holding the account instructed to return
//! each share (`return`, request ids from allocation and victim) → each return confirmed,
//! overdue after three working days, or failed for staff → completed. A new victim's claim
//! before execution replaces the proposal (the notice starts again); after it, the claim is
//! recorded, and what remains is allocated once the executed allocation completes.
//!
//! [`step`] is the one entry: [`decide`] what an input causes, [`apply`] the events, and
//! return the orders for the shell (read a statement, send a return). No I/O and no clock.

mod apply;
mod decide;
mod state;
#[cfg(test)]
mod tests;

use domain::{AccountRef, CaseId, City, Fen, TimeMs};
use events::FreezingEvent;
use events::restitution::{AllocationNo, ObjectionNo, RestitutionEvent, ReturnProblem, Rule};

pub use apply::apply;
pub use decide::{decide, pending_orders, working_days_after};
pub use state::{
    AllocationState, Approval, Basis, Book, CaseBook, Hop, Objection, Phase, Resolution, Return, ReturnOutcome, State,
    Touched,
};

use crate::core::{Allocation, Entry};
use crate::limits::{DAY_MS, HOUR_MS};

/// The process's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// The center: the first token of every request id.
    pub city: City,
    /// How long victims may object to a proposal (30 days by the rules; a drill shortens it).
    pub notice_ms: u64,
    /// Working days the bank has to confirm a return (3 by the rules).
    pub confirm_working_days: u32,
    /// The city's offset from UTC, for working days (Beijing: +8 h).
    pub utc_offset_ms: u64,
    /// The rule of an allocation nobody chose one for.
    pub default_rule: Rule,
}

impl ProcessConfig {
    pub fn new(city: City) -> ProcessConfig {
        ProcessConfig {
            city,
            notice_ms: 30 * DAY_MS,
            confirm_working_days: 3,
            utc_offset_ms: 8 * HOUR_MS,
            default_rule: Rule::default(),
        }
    }
}

/// An approver whose signed statement the shell verified against the center's roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    pub name: String,
    /// Their public key (an nkey), as in the roster.
    pub key: String,
}

/// Something that happened to restitution.
#[derive(Debug, Clone)]
pub enum Input {
    /// One of freezing's events.
    Freezing(Box<FreezingEvent>),
    /// The statement of `account` the shell read for a proposal (`None`: it could not be read;
    /// the allocation says so and the timestamp rule falls back).
    StatementRead {
        account: AccountRef,
        statement: Option<Vec<Entry>>,
        rule: Option<Rule>,
        by: Option<String>,
    },
    Object {
        allocation: AllocationNo,
        case_id: Option<CaseId>,
        by: String,
        reason: String,
    },
    Dismiss {
        allocation: AllocationNo,
        objection: ObjectionNo,
        by: Approver,
        reason: String,
    },
    Approve {
        allocation: AllocationNo,
        by: Approver,
    },
    /// The bank answered a return: `executed` (with what it executed) or still `accepted`.
    ReturnAnswered {
        allocation: AllocationNo,
        case_id: CaseId,
        executed: Option<(Fen, String, TimeMs)>,
    },
    /// The return cannot go through without staff.
    ReturnImpossible {
        allocation: AllocationNo,
        case_id: CaseId,
        problem: ReturnProblem,
        detail: String,
    },
    TimerFired,
}

/// What the shell must do once the step is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Read the account's statement from `since_ms` (the bank's `flows`), then step
    /// [`Input::StatementRead`].
    ReadStatement { account: AccountRef, since_ms: TimeMs, rule: Option<Rule>, by: Option<String> },
    /// Ask the bank holding `account` to return `amount_fen` to the victim of `case_id`
    /// (whose paying account the shell reads from intake), under `request_id`; ask again
    /// with the same id until it is executed.
    Return { allocation: AllocationNo, case_id: CaseId, request_id: String, account: AccountRef, amount_fen: Fen },
}

/// What one input caused.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub events: Vec<RestitutionEvent>,
    /// The reason for every fen of each proposal: rows written with its event.
    pub details: Vec<(AllocationNo, Allocation)>,
    pub touched: Touched,
    pub orders: Vec<Order>,
}

/// Why an input changes nothing: staff's commands answer it as a typed error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("allocation a{0} does not exist")]
    UnknownAllocation(AllocationNo),
    #[error("allocation a{allocation} is {phase}: {expected}")]
    WrongPhase { allocation: AllocationNo, phase: &'static str, expected: &'static str },
    #[error("objection {objection} of allocation a{allocation} does not exist")]
    UnknownObjection { allocation: AllocationNo, objection: ObjectionNo },
    #[error("objection {objection} of allocation a{allocation} was already dismissed")]
    AlreadyDismissed { allocation: AllocationNo, objection: ObjectionNo },
    #[error("{by} already approved allocation a{allocation}: a second approval must be another approver's")]
    AlreadyApproved { allocation: AllocationNo, by: String },
    #[error("case {case_id} has no return in allocation a{allocation}")]
    UnknownReturn { allocation: AllocationNo, case_id: CaseId },
    #[error("the return of case {case_id} in allocation a{allocation} is already settled")]
    ReturnSettled { allocation: AllocationNo, case_id: CaseId },
    #[error("the bank only accepted the return so far")]
    NotExecuted,
    #[error("account {0} holds no money frozen for this center")]
    NothingFrozen(AccountRef),
    #[error("{field} = {value:?}: expected {expected}")]
    Invalid { field: &'static str, value: String, expected: &'static str },
    #[error("the allocation refused the account's input: {0}")]
    Refused(String),
    #[error("nothing to do")]
    NothingChanged,
}

/// Steps the core: decides what `input` causes at `now`, applies it, and returns it.
pub fn step(state: &mut State, config: &ProcessConfig, input: Input, now: TimeMs) -> Result<Step, Rejection> {
    let mut step = decide(state, config, input, now)?;
    for event in &step.events {
        apply(state, event);
    }
    for (no, allocation) in &step.details {
        state.details.insert(*no, allocation.clone());
    }
    step.touched.books.retain(|account| state.books.contains_key(account));
    Ok(step)
}

/// When the core next needs a [`Input::TimerFired`]: the earliest notice to end (of an
/// allocation no objection holds) or return to fall overdue.
pub fn next_deadline(state: &State) -> Option<TimeMs> {
    let notices = state
        .allocations
        .values()
        .filter(|a| a.phase == Phase::Notice && a.open_objections().next().is_none())
        .map(|a| a.notice_ends_at_ms);
    let dues = state
        .allocations
        .values()
        .filter(|a| a.phase == Phase::Executing)
        .flat_map(|a| a.returns.values())
        .filter(|r| r.outcome.is_none() && !r.overdue)
        .map(|r| r.due_ms);
    notices.chain(dues).min()
}

/// The request id of a victim's return: derived from the allocation and the case, so a
/// return instructed again after a crash is the same request to the bank.
pub fn request_id(city: &City, allocation: AllocationNo, case_id: &CaseId) -> String {
    format!("{city}/restitution/a{allocation}/{case_id}")
}
