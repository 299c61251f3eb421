//! The pure core of dissuasion: signals matched against scam identifiers, a risk grade per
//! person, and graded tasks with deadlines that escalate.
//!
//! [`step`] is the one entry: [`decide`] what an input causes, [`apply`] the events to the
//! state, and return the SMS orders they send. No I/O and no clock: `now` is passed in, and
//! the core says when it next needs to be woken ([`State::next_deadline`]).

mod apply;
mod decide;
pub mod grading;
mod people;
mod queue;
pub mod signal;
mod state;
mod tasks;
mod window;

pub use tasks::workable;

use domain::{Carrier, CaseId, City, FraudType, TimeMs};
use identifiers::Identifier;

use crate::events::{DissuasionEvent, Level, Outcome, PersonKey, SignalRecord, TaskId, TaskKind};
use crate::limits::{DAY_MS, DEFAULT_SIGNAL_RETENTION_DAYS, HOUR_MS, MINUTE_MS};

pub use apply::{apply, keep};
pub use decide::decide;
pub use grading::{Evidence, Exposure, Exposures, Grade, GradingConfig, grade};
pub use people::People;
pub use queue::{next, queue};
pub use signal::{PersonSecret, RawSignal, RawWhat, Signal, SignalProblem, SignalReason, Subscriber, validate};
pub use state::{Deadline, Kept, Period, Person, Scam, State, Status, Task};
pub use window::Window;

/// Rules the core applies.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The center: the first token of every request id.
    pub city: City,
    /// How long signals are kept for back-matching, and how long before an identifier became
    /// known a contact with it still counts.
    pub signal_retention_ms: u64,
    pub grading: GradingConfig,
    pub deadlines: DeadlineConfig,
    pub capacity: CapacityConfig,
    /// The city's offset from UTC, for the day a capacity counts (Beijing: +8 h).
    pub utc_offset_ms: u64,
    /// The node's secret that names people ([`PersonSecret::person`]).
    pub person_secret: PersonSecret,
}

impl CoreConfig {
    pub fn new(city: City, person_secret: PersonSecret) -> CoreConfig {
        CoreConfig {
            city,
            signal_retention_ms: DEFAULT_SIGNAL_RETENTION_DAYS * DAY_MS,
            grading: GradingConfig::default(),
            deadlines: DeadlineConfig::default(),
            capacity: CapacityConfig::default(),
            utc_offset_ms: 8 * HOUR_MS,
            person_secret,
        }
    }

    /// The city's day of `at_ms` (days since 1970 in local time).
    pub fn day(&self, at_ms: TimeMs) -> u64 {
        (at_ms + self.utc_offset_ms) / DAY_MS
    }

    /// When `day` starts, in ms since 1970.
    pub fn day_start_ms(&self, day: u64) -> TimeMs {
        (day * DAY_MS).saturating_sub(self.utc_offset_ms)
    }
}

/// How long each step may take before the task escalates by itself (docs/dissuasion.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineConfig {
    /// For the carrier to confirm an SMS warning.
    pub sms_ms: u64,
    pub call_ms: u64,
    /// Per visit level, city bureau first.
    pub visit_ms: [u64; 4],
}

impl Default for DeadlineConfig {
    fn default() -> DeadlineConfig {
        DeadlineConfig {
            sms_ms: 15 * MINUTE_MS,
            call_ms: 4 * HOUR_MS,
            visit_ms: [2 * HOUR_MS, 4 * HOUR_MS, 12 * HOUR_MS, 24 * HOUR_MS],
        }
    }
}

impl DeadlineConfig {
    pub fn for_kind(&self, kind: TaskKind) -> u64 {
        match kind {
            TaskKind::Sms => self.sms_ms,
            TaskKind::Call => self.call_ms,
            TaskKind::Visit(level) => self.visit_ms[level.index()],
        }
    }
}

/// Tasks each staffed queue takes a day (docs/dissuasion.md); the rest wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityConfig {
    pub calls_per_day: u32,
    /// Per visit level, city bureau first.
    pub visits_per_day: [u32; 4],
}

impl Default for CapacityConfig {
    fn default() -> CapacityConfig {
        CapacityConfig { calls_per_day: 2_000, visits_per_day: [50, 150, 300, 500] }
    }
}

impl CapacityConfig {
    /// The day's capacity of a staffed queue (an SMS has none: `u32::MAX`).
    pub fn for_kind(&self, kind: TaskKind) -> u32 {
        match kind {
            TaskKind::Sms => u32::MAX,
            TaskKind::Call => self.calls_per_day,
            TaskKind::Visit(level) => self.visits_per_day[level.index()],
        }
    }
}

/// Something that happened to dissuasion.
#[derive(Debug, Clone)]
pub enum Input {
    /// Blocking's mirror: `identifier` is a scam identifier from `since_ms`.
    ScamIdentifierKnown {
        identifier: Identifier,
        since_ms: TimeMs,
        fraud_types: Vec<FraudType>,
    },
    /// Blocking's mirror: its block ended at `until_ms`.
    ScamIdentifierEnded {
        identifier: Identifier,
        until_ms: TimeMs,
    },
    /// Intake's `case_reported`: the scammer's identifiers, normalised.
    CaseReported {
        case_id: CaseId,
        fraud_type: FraudType,
        reported_at_ms: TimeMs,
        identifiers: Vec<Identifier>,
    },
    /// A carrier's or platform's signal, unchecked.
    Signal(RawSignal),
    /// A carrier answered an SMS order.
    SmsAnswered {
        request_id: String,
        delivered: bool,
    },
    /// The deadline the core asked for came.
    TimerFired,
    Claim {
        task: TaskId,
        operator: String,
    },
    Complete {
        task: TaskId,
        operator: String,
        outcome: Outcome,
        note: String,
        /// For [`Outcome::AlreadyPaid`]: the case the shell filed with intake for the person
        /// (the report the operator took on the call) before this input.
        case_id: Option<CaseId>,
    },
    /// `by` (a supervisor) gives the task to `to`.
    Reassign {
        task: TaskId,
        by: String,
        to: String,
    },
}

/// A request the shell must send (`afc.carrier.<carrier>.sms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    Sms {
        /// Derived from the task it warns for ([`sms_request_id`]): the same on every retry.
        request_id: String,
        carrier: Carrier,
        /// The person to warn: the shell reads their number from its store.
        person: PersonKey,
    },
}

/// Idempotency key of a task's SMS warning: `<city>/<carrier>/sms/<task>`.
pub fn sms_request_id(city: &City, carrier: Carrier, task: TaskId) -> String {
    format!("{city}/{carrier}/sms/{task}")
}

/// Why an input causes nothing. Matched by kind; a signal's refusals are counted by reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Signal(#[from] SignalProblem),
    #[error("signal {id} from {from} was recorded already")]
    DuplicateSignal { from: signal::Source, id: String },
    #[error("case {case_id} was matched already")]
    CaseKnown { case_id: CaseId },
    #[error("{identifier} is not a known scam identifier")]
    NotKnown { identifier: Identifier },
    #[error("too many identifiers in case {case_id}: {count}, expected at most {limit}")]
    TooManyIdentifiers { case_id: CaseId, count: usize, limit: usize },
    #[error("no task {task}")]
    TaskUnknown { task: TaskId },
    #[error("task {task} is claimed by {operator}")]
    ClaimedByOther { task: TaskId, operator: String },
    #[error("task {task} is closed already")]
    AlreadyClosed { task: TaskId },
    #[error("task {task}: already paid needs the report taken on the call (victim's name, id number, transfers)")]
    NoReport { task: TaskId },
    #[error("task {task} is an SMS warning: no staff work it")]
    NotForStaff { task: TaskId },
    #[error("task {task} waits for the capacity of day {day}")]
    NotReady { task: TaskId, day: u64 },
    #[error("invalid {field} {value:?}: expected {expected}")]
    InvalidText { field: &'static str, value: String, expected: String },
    #[error("no SMS {request_id} awaits an answer")]
    NotAwaited { request_id: String },
    #[error("the {queue:?} queue holds {limit} open tasks already")]
    QueueFull { queue: TaskKind, limit: usize },
}

/// What an input causes: the events to record and, for a new signal, the record to keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub events: Vec<DissuasionEvent>,
    pub signal: Option<SignalRecord>,
}

/// What [`step`] did: the signal kept (a row of the shell's store, not an event), the events
/// applied (to record, in order) and the orders to send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub signal: Option<SignalRecord>,
    pub events: Vec<DissuasionEvent>,
    pub orders: Vec<Order>,
}

/// Decides `input` at `now`, applies its events to `state` and returns them with the orders
/// they send.
pub fn step(state: &mut State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Step, Rejection> {
    let (Decision { events, signal }, prepared) = decide::decide_prepared(state, config, input, now)?;
    // The signal first: evidence it is marks it matched.
    if let Some(record) = &signal {
        keep(state, record);
    }
    let mut orders = Vec::new();
    match prepared {
        Some(prepared) => {
            assert!(signal.is_none(), "a decision that prepares keeps no signal: its slots stay");
            apply::apply_prepared(state, &events, prepared, |state, event| {
                orders.extend(order_for(state, config, event));
            });
        }
        None => {
            for event in &events {
                apply(state, event);
                orders.extend(order_for(state, config, event));
            }
        }
    }
    Ok(Step { signal, events, orders })
}

/// The SMS order an applied event sends, if any.
fn order_for(state: &State, config: &CoreConfig, event: &DissuasionEvent) -> Option<Order> {
    let task = match event {
        DissuasionEvent::TaskOpened { task, kind: TaskKind::Sms, .. } => state.tasks.get(task)?,
        _ => return None,
    };
    let carrier = task.person.carrier?;
    Some(Order::Sms {
        request_id: task.sms_request.clone().unwrap_or_else(|| sms_request_id(&config.city, carrier, task.id)),
        carrier,
        person: task.person.key,
    })
}

/// Every SMS awaiting its carrier's answer: what a restart sends again, under the same ids.
pub fn pending_orders(state: &State) -> Vec<Order> {
    let open = state.sms_requests.values().filter_map(|id| state.tasks.get(id));
    open.filter_map(|task| {
        let carrier = task.person.carrier?;
        let request_id = task.sms_request.clone()?;
        Some(Order::Sms { request_id, carrier, person: task.person.key })
    })
    .collect()
}

/// The visit levels, for callers listing queues.
pub const QUEUES: [TaskKind; 5] = [
    TaskKind::Call,
    TaskKind::Visit(Level::CityBureau),
    TaskKind::Visit(Level::DistrictBureau),
    TaskKind::Visit(Level::PoliceStation),
    TaskKind::Visit(Level::Community),
];

#[cfg(test)]
mod tests;
