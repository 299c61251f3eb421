//! How each event changes the state: the fold replay uses. It takes no configuration: every
//! time it needs (a deadline, the window's edge, the next admission) is in the event.

use domain::TimeMs;
use identifiers::Identifier;

use super::grading::Grade;
use super::signal::SignalKey;
use super::state::{Deadline, Kept, Period, State, Status, Task};
use super::tasks::Prepared;
use crate::events::{
    Admission, Closure, Clue, DissuasionEvent, PersonId, SignalBody, SignalRecord, TaskId, TaskKind, TransferKind,
};
use crate::limits::{FORGET_PEOPLE_EVERY_MS, MAX_PERIODS_PER_IDENTIFIER, MAX_TASK_STEPS};

/// Applies `event` to `state`.
pub fn apply(state: &mut State, event: &DissuasionEvent) {
    match event {
        DissuasionEvent::ScamIdentifierKnown { identifier, since_ms, fraud_types, .. } => {
            let scam = state.scam.entry(identifier.clone()).or_default();
            if !scam.is_active() {
                scam.periods.push(Period { since_ms: *since_ms, until_ms: None });
                if scam.periods.len() > MAX_PERIODS_PER_IDENTIFIER {
                    scam.periods.remove(0);
                }
            }
            scam.fraud_types.extend(fraud_types.iter().copied());
            schedule_forgetting(state, *since_ms);
        }
        DissuasionEvent::ScamIdentifierEnded { identifier, until_ms } => {
            let scam = state.scam.get_mut(identifier).expect("an ended identifier is known");
            let period = scam.periods.last_mut().expect("an active identifier has a period");
            period.until_ms = Some(*until_ms);
        }
        DissuasionEvent::CaseMatched { case_id, .. } => {
            state.cases.insert(case_id.clone());
        }
        DissuasionEvent::EvidenceAdded { person, clue } => {
            state.people.get_or_default(*person).evidence.add_clue(clue);
            match clue {
                Clue::Contact { signal, identifier, at_ms, .. } | Clue::ScamApp { signal, app: identifier, at_ms } => {
                    mark_matched(state, identifier, signal, *at_ms);
                }
                Clue::TransferInstructions { .. } => {}
            }
        }
        DissuasionEvent::TaskOpened { task, person: who, .. } => {
            let person = state.people.get_or_default(*who);
            assert!(person.open_task.is_none(), "one open task per person");
            person.open_task = Some(*task);
            task_opened(state, event);
        }
        DissuasionEvent::TaskEscalated { task, grade, to, admission, .. } => {
            leave(state, *task);
            let entry = state.tasks.get_mut(task).expect("an escalated task exists");
            assert!(entry.is_open(), "only an open task escalates");
            entry.kind = *to;
            entry.grade = *grade;
            entry.claimed_by = None;
            entry.steps += 1;
            assert!(entry.steps as usize <= MAX_TASK_STEPS, "escalation ends at the last level");
            enter(state, *task, *admission);
        }
        DissuasionEvent::TaskAdmitted { task, day, due_at_ms } => {
            leave(state, *task);
            enter(state, *task, Admission::Ready { day: *day, due_at_ms: *due_at_ms });
        }
        DissuasionEvent::QueueWaiting { queue, until_ms, .. } => set_admit_at(state, *queue, Some(*until_ms)),
        DissuasionEvent::TaskOverdue { task, .. } => {
            let entry = state.tasks.get_mut(task).expect("an overdue task exists");
            entry.overdue = true;
            if let Status::Ready { due_at_ms } = entry.status {
                state.deadlines.remove(&(due_at_ms, Deadline::Task(*task)));
            }
        }
        DissuasionEvent::TaskClaimed { task, operator, .. }
        | DissuasionEvent::TaskReassigned { task, to: operator, .. } => {
            state.tasks.get_mut(task).expect("a claimed task exists").claimed_by = Some(operator.clone());
        }
        DissuasionEvent::TaskClosed { task, closure, at_ms, .. } => close(state, *task, *closure, *at_ms),
        DissuasionEvent::ReportFiled { .. } => {}
        DissuasionEvent::PeopleForgotten { before_ms, people, tasks, at_ms } => {
            let (forgot_people, forgot_tasks) = forget_people(state, *before_ms);
            debug_assert_eq!((forgot_people, forgot_tasks), (*people, *tasks), "the decision counted the same");
            if let Some(at) = state.forget_people_at.take() {
                state.deadlines.remove(&(at, Deadline::ForgetPeople));
            }
            schedule_forgetting(state, *at_ms);
        }
    }
}

/// Applies a decision's `events` as [`apply`] would one by one, with what the decision
/// `prepared`: each person's evidence and task set once (not folded clue by clue, reading the
/// person again for each) and the signals matched by their slots (not found by key again).
/// `applied` is called after each event, as a caller of [`apply`] would.
pub(super) fn apply_prepared(
    state: &mut State,
    events: &[DissuasionEvent],
    prepared: Prepared,
    mut applied: impl FnMut(&State, &DissuasionEvent),
) {
    state.people.reserve_for(prepared.people.iter().map(|(who, ..)| who));
    for (who, evidence, opened) in prepared.people {
        let person = state.people.get_or_default(who);
        person.evidence = evidence;
        if let Some(task) = opened {
            assert!(person.open_task.is_none(), "one open task per person");
            person.open_task = Some(task);
        }
    }
    let matched = prepared.matched.len();
    for slot in prepared.matched {
        state.seen.mark_slot_matched(slot);
    }
    let mut evidence = 0;
    for event in events {
        match event {
            DissuasionEvent::EvidenceAdded { .. } => evidence += 1,
            DissuasionEvent::TaskOpened { .. } => task_opened(state, event),
            // Nothing else in a decision that adds evidence reads or writes a person.
            _ => apply(state, event),
        }
        applied(state, event);
    }
    assert_eq!(evidence, matched, "each evidence_added prepared is a kept signal matched");
}

/// A task opened: the task in its queue; the person's part is the caller's.
fn task_opened(state: &mut State, event: &DissuasionEvent) {
    let DissuasionEvent::TaskOpened {
        task,
        person: who,
        grade,
        kind,
        opened_at_ms,
        first_contact_ms,
        admission,
        sms_request,
    } = event
    else {
        unreachable!("a task_opened event")
    };
    assert_eq!(task.0, state.next_task, "tasks open in order");
    schedule_forgetting(state, *opened_at_ms);
    state.next_task += 1;
    state.tasks.insert(
        *task,
        Task {
            id: *task,
            person: *who,
            grade: *grade,
            kind: *kind,
            status: Status::Waiting { day: 0 },
            opened_at_ms: *opened_at_ms,
            first_contact_ms: *first_contact_ms,
            claimed_by: None,
            overdue: false,
            steps: 1,
            sms_request: sms_request.clone(),
            closed_at_ms: None,
        },
    );
    if let Some(request_id) = sms_request {
        state.sms_requests.insert(request_id.clone(), *task);
    }
    enter(state, *task, *admission);
}

/// Keeps a signal for matching: the window moves to its `forget_before_ms` first. Signals
/// are not events (see [`SignalRecord`]): the shell keeps each record as a row and, at start,
/// keeps every row again before it replays the log.
pub fn keep(state: &mut State, record: &SignalRecord) {
    state.seen.forget(record.forget_before_ms);
    self::record(state, &record.key, record.person, record.at_ms, &record.body);
}

/// Keeps a signal: its key for deduplication, and a contact or install under its identifier,
/// in time order (a late signal goes in its place).
fn record(state: &mut State, key: &SignalKey, person: PersonId, at_ms: TimeMs, body: &SignalBody) {
    let (filed, duration_s, install) = match body {
        SignalBody::Contact { identifier, duration_s } => (Some(identifier), *duration_s, false),
        SignalBody::Transfer { kind: TransferKind::AppInstalled { app } } => (Some(app), 0, true),
        SignalBody::Transfer { kind: TransferKind::TransferInstructions } => (None, 0, false),
    };
    let kept = Kept { key: key.clone(), person, at_ms, duration_s, matched: false, install };
    state.seen.hold(kept, filed);
}

fn mark_matched(state: &mut State, identifier: &Identifier, key: &SignalKey, at_ms: TimeMs) {
    state.seen.mark_matched(identifier, key, at_ms);
}

/// Puts an open task in its queue: ready with its deadline (counted in the day's capacity),
/// or waiting.
fn enter(state: &mut State, id: TaskId, admission: Admission) {
    let task = state.tasks.get_mut(&id).expect("an entering task exists");
    let kind = task.kind;
    state.open.entry(kind).or_default().insert(id);
    match admission {
        Admission::Ready { day, due_at_ms } => {
            task.status = Status::Ready { due_at_ms };
            state.deadlines.insert((due_at_ms, Deadline::Task(id)));
            if kind.is_staffed() {
                *state.admitted.entry((kind, day)).or_insert(0) += 1;
                state.admitted.retain(|(_, d), _| *d + 1 >= day);
            }
        }
        Admission::Waiting { day, until_ms } => {
            task.status = Status::Waiting { day };
            let key = task.queue_key();
            state.waiting.entry(kind).or_default().insert(key);
            if !state.admit_at.contains_key(&kind) {
                set_admit_at(state, kind, Some(until_ms));
            }
        }
    }
}

/// Takes an open task out of its queue (before it moves on or closes).
fn leave(state: &mut State, id: TaskId) {
    let task = state.tasks.get_mut(&id).expect("a leaving task exists");
    let (kind, key) = (task.kind, task.queue_key());
    match task.status {
        Status::Ready { due_at_ms } => {
            state.deadlines.remove(&(due_at_ms, Deadline::Task(id)));
        }
        Status::Waiting { .. } => {
            let waiting = state.waiting.get_mut(&kind).expect("a waiting task is in its queue");
            waiting.remove(&key);
            if waiting.is_empty() {
                state.waiting.remove(&kind);
                set_admit_at(state, kind, None);
            }
        }
        Status::Closed(_) => unreachable!("a closed task is in no queue"),
    }
    if let Some(request_id) = state.tasks.get_mut(&id).and_then(|t| t.sms_request.take()) {
        state.sms_requests.remove(&request_id);
    }
    if let Some(open) = state.open.get_mut(&kind) {
        open.remove(&id);
        if open.is_empty() {
            state.open.remove(&kind);
        }
    }
}

/// The first time anything is known, people begin to be forgotten a period later; after each
/// forgetting, the next is a period after it.
fn schedule_forgetting(state: &mut State, from_ms: TimeMs) {
    if state.forget_people_at.is_none() {
        let at = from_ms.saturating_add(FORGET_PEOPLE_EVERY_MS);
        state.forget_people_at = Some(at);
        state.deadlines.insert((at, Deadline::ForgetPeople));
    }
}

/// Removes the people and closed tasks with nothing at or after `before_ms` (see
/// [`DissuasionEvent::PeopleForgotten`]); returns how many of each.
pub(super) fn forget_people(state: &mut State, before_ms: TimeMs) -> (u64, u64) {
    let people = state.people.retain(|person| !person.forgettable(before_ms));
    let before = state.tasks.len();
    state.tasks.retain(|_, task| task.is_open() || task.closed_at_ms.is_none_or(|at| at >= before_ms));
    (people as u64, (before - state.tasks.len()) as u64)
}

/// Moves (or removes) the deadline at which `queue`'s waiting tasks are admitted.
fn set_admit_at(state: &mut State, queue: TaskKind, at_ms: Option<TimeMs>) {
    if let Some(before) = state.admit_at.remove(&queue) {
        state.deadlines.remove(&(before, Deadline::Admit(queue)));
    }
    if let Some(at) = at_ms {
        state.admit_at.insert(queue, at);
        state.deadlines.insert((at, Deadline::Admit(queue)));
    }
}

/// Closes a task; what it dealt with is remembered on the person.
fn close(state: &mut State, id: TaskId, closure: Closure, at_ms: TimeMs) {
    leave(state, id);
    let task = state.tasks.get_mut(&id).expect("a closed task exists");
    assert!(task.is_open(), "a task closes once");
    task.status = Status::Closed(closure);
    task.closed_at_ms = Some(at_ms);
    let (who, grade) = (task.person, task.grade);
    let person = state.people.get_mut(&who).expect("a task's person is known");
    person.open_task = None;
    person.closed_at_ms = Some(at_ms);
    match closure {
        Closure::FalsePositive => {
            person.evidence = Default::default();
            person.handled = None;
        }
        Closure::AlreadyPaid => person.handled = Some(Grade::High),
        Closure::SmsDelivered => person.handled = person.handled.max(Some(Grade::Low)),
        Closure::Persuaded | Closure::Refused | Closure::Unreachable => {
            person.handled = person.handled.max(Some(grade));
        }
    }
}
