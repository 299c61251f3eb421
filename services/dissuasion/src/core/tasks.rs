//! What evidence, deadlines, carriers' answers and staff do to tasks: opening at a person's
//! grade, escalation by deadline, by outcome and by a higher grade, admission within each
//! queue's daily capacity, and the typed refusals of staff commands.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use domain::{CaseId, TimeMs};

use super::grading::{Evidence, Grade, grade};
use super::people::KeyBits;
use super::state::{Deadline, State, Status, Task};
use super::{CoreConfig, Rejection, sms_request_id};
use crate::events::PersonId;
use crate::events::{Admission, Closure, Clue, DissuasionEvent, Escalation, Outcome, TaskId, TaskKind};
use crate::limits::{MAX_NOTE_CHARS, MAX_OPERATOR_CHARS, MAX_TASKS_PER_QUEUE, PEOPLE_KEPT_MS, TIMER_BATCH};

/// The events of one decision, with what they will change that later parts of the same
/// decision must see: people's evidence, tasks opened, capacity taken.
pub(super) struct Batch {
    pub events: Vec<DissuasionEvent>,
    /// Each person this decision adds evidence to. A hash map (a case can reach tens of
    /// thousands of people); [`Batch::finish`] takes them in person order.
    evidence: HashMap<PersonId, Pending, BuildHasherDefault<KeyBits>>,
    /// The kept signals (slots of `State::seen`) this decision makes evidence of.
    matched: Vec<u32>,
    admitted: BTreeMap<(TaskKind, u64), u32>,
    opened: BTreeMap<TaskKind, usize>,
    next_task: u64,
}

/// A person's evidence as it will stand, whether an alarm (transfer instructions, a scam app)
/// is among the new clues, what the state holds of them besides (read once, with their
/// evidence), and the task this decision opens for them.
struct Pending {
    evidence: Evidence,
    alarm: bool,
    open_task: Option<TaskId>,
    handled: Option<Grade>,
    opened: Option<TaskId>,
}

/// What a decision's events leave of the people it adds evidence to, and the kept signals it
/// makes evidence of: what [`super::step`] applies in place of folding every clue again
/// (the events' fold, [`super::apply`], gives the same; every core test replays the log to
/// check it).
pub(super) struct Prepared {
    /// In person order: each person's evidence after the decision, and the task it opens for
    /// them.
    pub people: Vec<(PersonId, Evidence, Option<TaskId>)>,
    /// Slots of `State::seen`, one for each `evidence_added` (a back-matched signal).
    pub matched: Vec<u32>,
}

impl Batch {
    pub fn new(state: &State) -> Batch {
        Batch {
            events: Vec::new(),
            evidence: HashMap::default(),
            matched: Vec::new(),
            admitted: BTreeMap::new(),
            opened: BTreeMap::new(),
            next_task: state.next_task,
        }
    }

    /// Makes room for `clues` more clues (a case's back-matching knows how many signals it
    /// reads): the events and the people grow once, not by doubling.
    pub fn expect(&mut self, clues: usize) {
        self.events.reserve(clues);
        self.evidence.reserve(clues);
        self.matched.reserve(clues);
    }

    /// Records `clue` against `person`: the kept signal in `slot` is evidence.
    pub fn back_matched(&mut self, state: &State, person: &PersonId, clue: Clue, slot: u32) {
        self.clue(state, person, clue);
        self.matched.push(slot);
    }

    /// Records `clue` against `person`.
    pub fn clue(&mut self, state: &State, person: &PersonId, clue: Clue) {
        let pending = self.evidence.entry(*person).or_insert_with(|| {
            let known = state.people.get(person);
            Pending {
                evidence: known.map(|p| p.evidence.clone()).unwrap_or_default(),
                alarm: false,
                open_task: known.and_then(|p| p.open_task),
                handled: known.and_then(|p| p.handled),
                opened: None,
            }
        });
        pending.evidence.add_clue(&clue);
        pending.alarm |= !matches!(clue, Clue::Contact { .. });
        self.events.push(DissuasionEvent::EvidenceAdded { person: *person, clue });
    }

    /// Grades every person this decision added evidence to, and opens or escalates their task.
    pub fn finish(self, state: &State, config: &CoreConfig, now: TimeMs) -> Result<Vec<DissuasionEvent>, Rejection> {
        self.finish_prepared(state, config, now).map(|(events, _)| events)
    }

    /// [`Batch::finish`], with what the events leave of the people and the signals matched.
    pub fn finish_prepared(
        mut self,
        state: &State,
        config: &CoreConfig,
        now: TimeMs,
    ) -> Result<(Vec<DissuasionEvent>, Prepared), Rejection> {
        let mut people: Vec<(PersonId, Pending)> = std::mem::take(&mut self.evidence).into_iter().collect();
        people.sort_unstable_by_key(|(person, _)| *person);
        // At most a task opened or moved on for each.
        self.events.reserve(people.len());
        for (person, pending) in &mut people {
            graded(state, config, &mut self, person, pending, now)?;
        }
        let people = people.into_iter().map(|(person, pending)| (person, pending.evidence, pending.opened)).collect();
        Ok((self.events, Prepared { people, matched: self.matched }))
    }

    /// The step a task wanting `kind` at `now` enters, and how: a visit whose level has no
    /// room today goes down to the first later level that has (a person about to pay is better
    /// visited today by the district bureau than in days by the city bureau); only when no
    /// level has room does it wait at `kind` for the next day.
    fn placement(&mut self, state: &State, config: &CoreConfig, kind: TaskKind, now: TimeMs) -> (TaskKind, Admission) {
        let mut level = kind;
        while matches!(level, TaskKind::Visit(_)) && !self.has_room(state, config, level, now) {
            match level.next() {
                Some(next) => level = next,
                None => return (kind, self.admission(state, config, kind, now)),
            }
        }
        (level, self.admission(state, config, level, now))
    }

    /// Whether `kind`'s queue can take a task today without anyone waiting ahead of it.
    fn has_room(&self, state: &State, config: &CoreConfig, kind: TaskKind, now: TimeMs) -> bool {
        let day = config.day(now);
        let taken = self.admitted.get(&(kind, day)).copied().unwrap_or(0);
        let used = state.admitted.get(&(kind, day)).copied().unwrap_or(0).saturating_add(taken);
        let queued = state.waiting.get(&kind).is_some_and(|w| !w.is_empty());
        used < config.capacity.for_kind(kind) && !queued
    }

    /// Where a task entering `kind` at `now` goes: ready if the day's capacity allows and
    /// nobody waits ahead of it, else waiting for the next day.
    fn admission(&mut self, state: &State, config: &CoreConfig, kind: TaskKind, now: TimeMs) -> Admission {
        let day = config.day(now);
        let due_at_ms = now.saturating_add(config.deadlines.for_kind(kind));
        if !kind.is_staffed() {
            return Admission::Ready { day, due_at_ms };
        }
        let taken = self.admitted.entry((kind, day)).or_insert(0);
        let used = state.admitted.get(&(kind, day)).copied().unwrap_or(0).saturating_add(*taken);
        let queued = state.waiting.get(&kind).is_some_and(|w| !w.is_empty());
        if used < config.capacity.for_kind(kind) && !queued {
            *taken += 1;
            Admission::Ready { day, due_at_ms }
        } else {
            Admission::Waiting { day, until_ms: config.day_start_ms(day + 1) }
        }
    }
}

/// Where a step sits in the escalation: SMS, call, then the four visit levels.
pub(super) fn rank(kind: TaskKind) -> usize {
    match kind {
        TaskKind::Sms => 0,
        TaskKind::Call => 1,
        TaskKind::Visit(level) => 2 + level.index(),
    }
}

/// The first step for `grade`; a Low person no carrier can send an SMS to is called.
fn first_kind(grade: Grade, person: &PersonId) -> TaskKind {
    match TaskKind::for_grade(grade) {
        TaskKind::Sms if person.carrier.is_none() => TaskKind::Call,
        kind => kind,
    }
}

/// A person's new grade: their open task escalates if the grade asks for a later step; with
/// no open task, one opens if the grade is above what was dealt with, or on an alarm.
fn graded(
    state: &State,
    config: &CoreConfig,
    batch: &mut Batch,
    who: &PersonId,
    pending: &mut Pending,
    now: TimeMs,
) -> Result<(), Rejection> {
    let Pending { evidence, alarm, open_task, handled, opened } = pending;
    let Some(grade) = grade(evidence, &config.grading) else { return Ok(()) };
    let wanted = first_kind(grade, who);
    match open_task.and_then(|id| state.tasks.get(&id)) {
        Some(task) if rank(wanted) > rank(task.kind) => {
            let grade = grade.max(task.grade);
            escalate(state, config, batch, task, wanted, grade, Escalation::Regraded, None, String::new(), now);
        }
        Some(_) => {}
        None if *alarm || handled.is_none_or(|handled| grade > handled) => {
            if state.open_in(wanted).saturating_add(batch.opened.get(&wanted).copied().unwrap_or(0))
                >= MAX_TASKS_PER_QUEUE
            {
                return Err(Rejection::QueueFull { queue: wanted, limit: MAX_TASKS_PER_QUEUE });
            }
            let task = TaskId(batch.next_task);
            batch.next_task += 1;
            let (wanted, admission) = batch.placement(state, config, wanted, now);
            *batch.opened.entry(wanted).or_insert(0) += 1;
            *opened = Some(task);
            let sms_request = who.carrier.filter(|_| wanted == TaskKind::Sms);
            batch.events.push(DissuasionEvent::TaskOpened {
                task,
                person: *who,
                grade,
                kind: wanted,
                opened_at_ms: now,
                first_contact_ms: evidence.first_contact_ms().unwrap_or(now),
                admission,
                sms_request: sms_request.map(|carrier| sms_request_id(&config.city, carrier, task)),
            });
        }
        None => {}
    }
    Ok(())
}

/// `task` moves on to `to`.
#[allow(clippy::too_many_arguments)]
fn escalate(
    state: &State,
    config: &CoreConfig,
    batch: &mut Batch,
    task: &Task,
    to: TaskKind,
    grade: Grade,
    reason: Escalation,
    operator: Option<String>,
    note: String,
    now: TimeMs,
) {
    let (to, admission) = batch.placement(state, config, to, now);
    batch.events.push(DissuasionEvent::TaskEscalated {
        task: task.id,
        grade,
        to,
        reason,
        at_ms: now,
        admission,
        operator,
        note,
    });
}

/// The deadlines due at `now` (at most [`TIMER_BATCH`]): a task past its step's deadline
/// escalates (or, at the last level, is flagged overdue); a queue's waiting tasks take the
/// new day's capacity in queue order.
pub(super) fn timers(state: &State, config: &CoreConfig, now: TimeMs) -> Result<Vec<DissuasionEvent>, Rejection> {
    let mut batch = Batch::new(state);
    let due = state.deadlines.iter().take_while(|(at, _)| *at <= now).take(TIMER_BATCH);
    for (_, deadline) in due {
        match *deadline {
            Deadline::Task(id) => {
                let task = state.tasks.get(&id).expect("a deadline names a task");
                match task.kind.next() {
                    Some(next) => {
                        let reason = Escalation::Deadline;
                        escalate(state, config, &mut batch, task, next, task.grade, reason, None, String::new(), now);
                    }
                    None => batch.events.push(DissuasionEvent::TaskOverdue { task: id, at_ms: now }),
                }
            }
            Deadline::Admit(queue) => admit(state, config, &mut batch, queue, now),
            Deadline::ForgetPeople => {
                let before_ms = now.saturating_sub(PEOPLE_KEPT_MS.max(config.signal_retention_ms));
                let people = state.people.iter().filter(|(_, person)| person.forgettable(before_ms)).count();
                let closed = |task: &&Task| !task.is_open() && task.closed_at_ms.is_some_and(|at| at < before_ms);
                let tasks = state.tasks.values().filter(closed).count();
                batch.events.push(DissuasionEvent::PeopleForgotten {
                    before_ms,
                    people: people as u64,
                    tasks: tasks as u64,
                    at_ms: now,
                });
            }
        }
    }
    Ok(batch.events)
}

/// Admits `queue`'s waiting tasks, in queue order, up to the day's capacity left.
fn admit(state: &State, config: &CoreConfig, batch: &mut Batch, queue: TaskKind, now: TimeMs) {
    let day = config.day(now);
    let waiting: Vec<TaskId> =
        state.waiting.get(&queue).map(|w| w.iter().map(|(_, _, id)| *id).collect()).unwrap_or_default();
    let taken = batch.admitted.entry((queue, day)).or_insert(0);
    let used = state.admitted.get(&(queue, day)).copied().unwrap_or(0).saturating_add(*taken);
    let left = (config.capacity.for_kind(queue).saturating_sub(used) as usize).min(waiting.len());
    *taken = taken.saturating_add(u32::try_from(left).unwrap_or(u32::MAX));
    let due_at_ms = now.saturating_add(config.deadlines.for_kind(queue));
    for task in &waiting[..left] {
        batch.events.push(DissuasionEvent::TaskAdmitted { task: *task, day, due_at_ms });
    }
    if waiting.len() > left {
        let still = u32::try_from(waiting.len() - left).unwrap_or(u32::MAX);
        let until_ms = config.day_start_ms(day + 1);
        batch.events.push(DissuasionEvent::QueueWaiting { queue, day, waiting: still, until_ms });
    }
}

/// A carrier's answer to an SMS warning: delivered closes the task; not delivered calls.
pub(super) fn sms_answered(
    state: &State,
    config: &CoreConfig,
    request_id: String,
    delivered: bool,
    now: TimeMs,
) -> Result<Vec<DissuasionEvent>, Rejection> {
    let task = state.sms_task(&request_id).ok_or(Rejection::NotAwaited { request_id })?;
    if delivered {
        return Ok(vec![closed(task.id, Closure::SmsDelivered, None, String::new(), now)]);
    }
    let mut batch = Batch::new(state);
    let reason = Escalation::SmsFailed;
    escalate(state, config, &mut batch, task, TaskKind::Call, task.grade, reason, None, String::new(), now);
    Ok(batch.events)
}

fn closed(task: TaskId, closure: Closure, operator: Option<String>, note: String, now: TimeMs) -> DissuasionEvent {
    DissuasionEvent::TaskClosed { task, closure, operator, note, at_ms: now }
}

/// The open, staffed, ready task `id` for `operator`, or why staff cannot act on it.
/// The task `operator` may work (claim, complete): open, ready, staffed, and not claimed by
/// someone else.
pub fn workable<'s>(state: &'s State, id: TaskId, operator: &str) -> Result<&'s Task, Rejection> {
    let task = state.tasks.get(&id).ok_or(Rejection::TaskUnknown { task: id })?;
    match task.status {
        Status::Closed(_) => return Err(Rejection::AlreadyClosed { task: id }),
        Status::Waiting { day } => return Err(Rejection::NotReady { task: id, day }),
        Status::Ready { .. } => {}
    }
    if !task.kind.is_staffed() {
        return Err(Rejection::NotForStaff { task: id });
    }
    match &task.claimed_by {
        Some(other) if other != operator => Err(Rejection::ClaimedByOther { task: id, operator: other.clone() }),
        _ => Ok(task),
    }
}

/// Checks a text staff give: an operator id is not blank and holds no control character; a
/// note (`is_note`) may be empty and hold line breaks. Both have a length bound.
fn check_text(field: &'static str, value: &str, max: usize, is_note: bool) -> Result<(), Rejection> {
    let blank = value.trim().is_empty();
    let controls = value.chars().any(|c| c.is_control() && !(is_note && c == '\n'));
    if (blank && !is_note) || value.chars().count() > max || controls {
        let shape =
            if is_note { "line breaks but no other control characters" } else { "not blank, no control characters" };
        return Err(Rejection::InvalidText {
            field,
            value: value.chars().take(crate::limits::MAX_ECHO_CHARS).collect(),
            expected: format!("at most {max} characters, {shape}"),
        });
    }
    Ok(())
}

fn check_operator(field: &'static str, operator: &str) -> Result<(), Rejection> {
    check_text(field, operator, MAX_OPERATOR_CHARS, false)
}

pub(super) fn claim(
    state: &State,
    id: TaskId,
    operator: String,
    now: TimeMs,
) -> Result<Vec<DissuasionEvent>, Rejection> {
    check_operator("operator", &operator)?;
    let task = workable(state, id, &operator)?;
    if task.claimed_by.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![DissuasionEvent::TaskClaimed { task: id, operator, at_ms: now }])
}

pub(super) fn reassign(
    state: &State,
    id: TaskId,
    by: String,
    to: String,
    now: TimeMs,
) -> Result<Vec<DissuasionEvent>, Rejection> {
    check_operator("by", &by)?;
    check_operator("to", &to)?;
    // A supervisor reassigns whoever holds it: the claim does not bind them.
    let holder = state.tasks.get(&id).and_then(|t| t.claimed_by.clone()).unwrap_or_else(|| by.clone());
    workable(state, id, &holder)?;
    Ok(vec![DissuasionEvent::TaskReassigned { task: id, to, by, at_ms: now }])
}

/// An outcome: persuaded and false positive close; refused and unreachable go to the next
/// step (or close at the last); already paid closes and asks for a report.
pub(super) fn complete(
    state: &State,
    config: &CoreConfig,
    id: TaskId,
    (operator, outcome, note, case_id): (String, Outcome, String, Option<CaseId>),
    now: TimeMs,
) -> Result<Vec<DissuasionEvent>, Rejection> {
    check_operator("operator", &operator)?;
    check_text("note", &note, MAX_NOTE_CHARS, true)?;
    let task = workable(state, id, &operator)?;
    let by = Some(operator);
    let closure = match outcome {
        Outcome::Persuaded => Closure::Persuaded,
        Outcome::FalsePositive => Closure::FalsePositive,
        Outcome::AlreadyPaid => {
            let case_id = case_id.ok_or(Rejection::NoReport { task: id })?;
            let evidence = state.people.get(&task.person).map(|p| p.evidence.clone()).unwrap_or_default();
            return Ok(vec![
                closed(id, Closure::AlreadyPaid, by, note, now),
                DissuasionEvent::ReportFiled {
                    task: id,
                    case_id,
                    person: task.person,
                    identifiers: evidence.exposures.keys().cloned().collect(),
                    fraud_types: evidence.fraud_types(),
                    first_contact_ms: task.first_contact_ms,
                    at_ms: now,
                },
            ]);
        }
        Outcome::Refused | Outcome::Unreachable => {
            let reason = if outcome == Outcome::Refused { Escalation::Refused } else { Escalation::Unreachable };
            if let Some(next) = task.kind.next() {
                let mut batch = Batch::new(state);
                escalate(state, config, &mut batch, task, next, task.grade, reason, by, note, now);
                return Ok(batch.events);
            }
            if outcome == Outcome::Refused { Closure::Refused } else { Closure::Unreachable }
        }
    };
    Ok(vec![closed(id, closure, by, note, now)])
}
