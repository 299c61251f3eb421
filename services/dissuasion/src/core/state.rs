//! What dissuasion knows: the scam identifiers and when they were known, the signals of the
//! retention window by identifier, the evidence by person, the tasks, their queues and the
//! deadlines the shell's timer waits for.
//!
//! Laid out so both directions of matching are cheap: a signal looks its identifier up in
//! [`State::scam`] (one hash-map read); a newly known identifier reads its own time-ordered
//! list in [`State::seen`] (one hash-table read, then the list). Evidence is kept by person
//! ([`State::people`]), so grading a person reads one entry.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::{CaseId, FraudType, TimeMs};
use identifiers::Identifier;

use super::grading::{Evidence, Grade};
use super::people::People;
use super::signal::SignalKey;
use super::window::Window;
use crate::events::{Closure, PersonId, TaskId, TaskKind};

/// Everything dissuasion knows. Internal: rebuilt by replaying the log ([`super::apply`]).
#[derive(Debug, Default, PartialEq)]
pub struct State {
    /// Scam identifiers, with the periods they were known (a hash map: a signal reads it,
    /// nothing walks it in order).
    pub scam: HashMap<Identifier, Scam>,
    /// Cases read: a case is matched once.
    pub cases: BTreeSet<CaseId>,
    /// Every signal of the retention window, held once: by key (a key here is a duplicate),
    /// contacts and app installs by identifier in (time, key) order (back-matching), and by
    /// time (forgotten as the window moves).
    pub seen: Window,
    /// Evidence and task of each person with evidence (a hash map by the person's key: a
    /// case reads and writes each person it finds; nothing walks them in order).
    pub people: People,
    /// Every task, open or closed.
    pub tasks: BTreeMap<TaskId, Task>,
    /// The id the next task takes.
    pub next_task: u64,
    /// Open tasks by queue.
    pub open: BTreeMap<TaskKind, BTreeSet<TaskId>>,
    /// Tasks waiting for capacity by queue, in queue order.
    pub waiting: BTreeMap<TaskKind, BTreeSet<QueueKey>>,
    /// Tasks admitted to each staffed queue per day (the current days only).
    pub admitted: BTreeMap<(TaskKind, u64), u32>,
    /// When each queue with waiting tasks next admits some.
    pub admit_at: BTreeMap<TaskKind, TimeMs>,
    /// The open SMS task each awaited warning's request id serves.
    pub sms_requests: BTreeMap<String, TaskId>,
    /// When the core must be woken, and why.
    pub deadlines: BTreeSet<(TimeMs, Deadline)>,
    /// When people and closed tasks with nothing recent are next forgotten (set by the first
    /// scam identifier or task, then every [`crate::limits::FORGET_PEOPLE_EVERY_MS`]).
    pub forget_people_at: Option<TimeMs>,
}

/// Something the core must do at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deadline {
    /// A task's step is due.
    Task(TaskId),
    /// A queue's waiting tasks may be admitted (a new day's capacity).
    Admit(TaskKind),
    /// People and closed tasks with nothing recent leave memory.
    ForgetPeople,
}

/// A task's place in its queue: higher risk first, then the person reached earliest, then
/// the oldest task.
pub type QueueKey = (Reverse<Grade>, TimeMs, TaskId);

/// A scam identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scam {
    /// When it was known as a scam identifier (at most `MAX_PERIODS_PER_IDENTIFIER`).
    pub periods: Vec<Period>,
    pub fraud_types: BTreeSet<FraudType>,
}

/// A period an identifier was known as a scam identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub since_ms: TimeMs,
    /// When it ended (its block was lifted or expired); `None` while it lasts.
    pub until_ms: Option<TimeMs>,
}

impl Scam {
    /// Whether a contact at `at_ms` is evidence: the identifier was known then, or became
    /// known within `window_ms` after (the gang was using it before anybody reported it), and
    /// had not ended (a number lifted on appeal, given to someone else, is nobody's scam).
    pub fn matches(&self, at_ms: TimeMs, window_ms: u64) -> bool {
        self.periods
            .iter()
            .any(|p| p.since_ms.saturating_sub(window_ms) <= at_ms && p.until_ms.is_none_or(|until| at_ms < until))
    }

    /// Whether it is known now (a period open).
    pub fn is_active(&self) -> bool {
        self.periods.last().is_some_and(|p| p.until_ms.is_none())
    }
}

/// A signal kept for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub key: SignalKey,
    pub person: PersonId,
    pub at_ms: TimeMs,
    pub duration_s: u32,
    /// Whether it is evidence already (matched when it came, or back-matched since).
    pub matched: bool,
    /// An app install, rather than a contact.
    pub install: bool,
}

/// A person with evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub evidence: Evidence,
    pub open_task: Option<TaskId>,
    /// The highest grade a closed task dealt with (an SMS delivered is Low, a persuaded call
    /// Medium…): evidence that does not grade higher opens no new task.
    pub handled: Option<Grade>,
    /// When their last task closed.
    pub closed_at_ms: Option<TimeMs>,
}

impl Person {
    /// Whether the person may leave memory: no open task, and nothing (evidence, a task
    /// closed) at or after `before_ms`.
    pub fn forgettable(&self, before_ms: TimeMs) -> bool {
        self.open_task.is_none()
            && self.closed_at_ms.is_none_or(|at| at < before_ms)
            && self.evidence.last_at_ms().is_none_or(|at| at < before_ms)
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for a day's capacity in its queue.
    Waiting {
        day: u64,
    },
    /// In its queue, due at `due_at_ms`.
    Ready {
        due_at_ms: TimeMs,
    },
    Closed(Closure),
}

/// One person's dissuasion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub person: PersonId,
    pub grade: Grade,
    pub kind: TaskKind,
    pub status: Status,
    pub opened_at_ms: TimeMs,
    /// When the person was first reached: the queue's urgency.
    pub first_contact_ms: TimeMs,
    pub claimed_by: Option<String>,
    /// Past its deadline at the last level.
    pub overdue: bool,
    /// Steps taken: 1 when opened, +1 per escalation (at most `MAX_TASK_STEPS`).
    pub steps: u32,
    /// The SMS warning's request id while one is awaited.
    pub sms_request: Option<String>,
    /// When it closed.
    pub closed_at_ms: Option<TimeMs>,
}

impl Task {
    pub fn is_open(&self) -> bool {
        !matches!(self.status, Status::Closed(_))
    }

    pub fn queue_key(&self) -> QueueKey {
        (Reverse(self.grade), self.first_contact_ms, self.id)
    }
}

impl State {
    /// The earliest time the core needs an [`super::Input::TimerFired`], if any.
    pub fn next_deadline(&self) -> Option<TimeMs> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The open task awaiting the SMS sent under `request_id`.
    pub fn sms_task(&self, request_id: &str) -> Option<&Task> {
        self.sms_requests.get(request_id).and_then(|id| self.tasks.get(id))
    }

    /// Open tasks in `kind`'s queue.
    pub fn open_in(&self, kind: TaskKind) -> usize {
        self.open.get(&kind).map_or(0, BTreeSet::len)
    }
}
