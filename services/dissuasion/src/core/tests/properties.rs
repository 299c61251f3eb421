//! What must hold whatever happens: a task is never lost or closed twice; escalation always
//! ends; the log replays to the live state; matching finds the same people whichever of a
//! signal and a case comes first.

use std::collections::{BTreeMap, BTreeSet};

use domain::FraudType;
use proptest::prelude::*;

use super::*;
use crate::events::{Level, Outcome, TaskKind};
use crate::limits::MAX_TASK_STEPS;

const PEOPLE: [&str; 4] = [ALICE, BOB, CAROL, ABROAD];
const SCAMS: [&str; 3] = [FAKE_POLICE, FAKE_SHOP, LOAN_APP];
const TYPES: [FraudType; 3] = [FraudType::ImpersonatingAuthorities, FraudType::PigButchering, FraudType::OnlineLoan];
const OUTCOMES: [Outcome; 5] =
    [Outcome::Persuaded, Outcome::Refused, Outcome::Unreachable, Outcome::AlreadyPaid, Outcome::FalsePositive];

#[derive(Debug, Clone)]
enum Op {
    Known { scam: usize },
    Ended { scam: usize },
    Case { n: u64, scams: Vec<usize> },
    Contact { who: usize, scam: usize, duration_s: u32, ago_min: u64 },
    Transfer { who: usize },
    Resend,
    Sms { pick: usize, delivered: bool },
    Wait { minutes: u64 },
    Claim { pick: usize, operator: u8 },
    Complete { pick: usize, operator: u8, outcome: usize },
    Reassign { pick: usize, operator: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..SCAMS.len()).prop_map(|scam| Op::Known { scam }),
        1 => (0..SCAMS.len()).prop_map(|scam| Op::Ended { scam }),
        1 => (0u64..4, prop::collection::vec(0..SCAMS.len(), 1..3)).prop_map(|(n, scams)| Op::Case { n, scams }),
        3 => (0..PEOPLE.len(), 0..SCAMS.len(), 0u32..1200, 0u64..600)
            .prop_map(|(who, scam, duration_s, ago_min)| Op::Contact { who, scam, duration_s, ago_min }),
        1 => (0..PEOPLE.len()).prop_map(|who| Op::Transfer { who }),
        1 => Just(Op::Resend),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, delivered)| Op::Sms { pick, delivered }),
        2 => (0u64..3000).prop_map(|minutes| Op::Wait { minutes }),
        2 => (any::<usize>(), 0u8..3).prop_map(|(pick, operator)| Op::Claim { pick, operator }),
        3 => (any::<usize>(), 0u8..3, 0..OUTCOMES.len())
            .prop_map(|(pick, operator, outcome)| Op::Complete { pick, operator, outcome }),
        1 => (any::<usize>(), 0u8..3).prop_map(|(pick, operator)| Op::Reassign { pick, operator }),
    ]
}

/// The input `op` makes at `now` (advancing `now` for a wait), or `None` if it makes none.
fn input(world: &mut World, op: Op, now: &mut TimeMs) -> Option<Input> {
    let pick_task = |world: &World, pick: usize| {
        let n = world.state.next_task;
        (n > 0).then(|| TaskId(pick as u64 % n))
    };
    Some(match op {
        Op::Known { scam } => known(SCAMS[scam], *now, TYPES[scam]),
        Op::Ended { scam } => Input::ScamIdentifierEnded { identifier: id(SCAMS[scam]), until_ms: *now },
        Op::Case { n, scams } => {
            let named: Vec<&str> = scams.iter().map(|s| SCAMS[*s]).collect();
            reported(n, TYPES[scams[0]], &named, *now)
        }
        Op::Contact { who, scam, duration_s, ago_min } => {
            let at = now.saturating_sub(ago_min * 60_000);
            if SCAMS[scam] == LOAN_APP {
                world.signals += 1;
                raw(world.signals, PEOPLE[who], at, RawWhat::AppInstalled { app: LOAN_APP.into() })
            } else {
                contact(world, PEOPLE[who], SCAMS[scam], at, duration_s)
            }
        }
        Op::Transfer { who } => transfer(world, PEOPLE[who], *now),
        Op::Resend => raw(world.signals, ALICE, *now, RawWhat::TransferInstructions),
        Op::Sms { pick, delivered } => {
            let ids: Vec<&String> = world.state.sms_requests.keys().collect();
            let request_id = ids.get(pick % ids.len().max(1))?.to_string();
            Input::SmsAnswered { request_id, delivered }
        }
        Op::Wait { minutes } => {
            *now += minutes * 60_000;
            Input::TimerFired
        }
        Op::Claim { pick, operator } => {
            Input::Claim { task: pick_task(world, pick)?, operator: format!("op-{operator}") }
        }
        Op::Complete { pick, operator, outcome } => Input::Complete {
            task: pick_task(world, pick)?,
            operator: format!("op-{operator}"),
            outcome: OUTCOMES[outcome],
            note: String::new(),
            case_id: (OUTCOMES[outcome] == Outcome::AlreadyPaid).then(|| case(1)),
        },
        Op::Reassign { pick, operator } => {
            Input::Reassign { task: pick_task(world, pick)?, by: "supervisor".into(), to: format!("op-{operator}") }
        }
    })
}

/// Every task ever opened is in the state; each open one is in its queue and is either
/// ready with a deadline, waiting, or overdue at the last level; a person has one open task.
fn invariants(state: &State) -> Result<(), TestCaseError> {
    prop_assert_eq!(state.tasks.len() as u64, state.next_task, "no task lost");
    for task in state.tasks.values() {
        prop_assert!(task.steps as usize <= MAX_TASK_STEPS);
        let in_queue = state.open.get(&task.kind).is_some_and(|open| open.contains(&task.id));
        prop_assert_eq!(in_queue, task.is_open(), "an open task is in its queue, a closed one in none");
        match task.status {
            Status::Ready { due_at_ms } => {
                let timed = state.deadlines.contains(&(due_at_ms, Deadline::Task(task.id)));
                prop_assert!(timed != task.overdue, "a ready task has a deadline unless overdue");
                prop_assert!(!task.overdue || task.kind == TaskKind::Visit(Level::Community));
            }
            Status::Waiting { .. } => prop_assert!(state.waiting[&task.kind].contains(&task.queue_key())),
            Status::Closed(_) => {}
        }
        if task.is_open() {
            prop_assert_eq!(state.people[&task.person].open_task, Some(task.id));
        }
    }
    Ok(())
}

/// No task is closed twice, and nothing happens to a task after it closes.
fn closed_once(log: &[DissuasionEvent]) -> Result<(), TestCaseError> {
    let mut closed = BTreeSet::new();
    for event in log {
        let task = match event {
            DissuasionEvent::TaskEscalated { task, .. }
            | DissuasionEvent::TaskAdmitted { task, .. }
            | DissuasionEvent::TaskOverdue { task, .. }
            | DissuasionEvent::TaskClaimed { task, .. }
            | DissuasionEvent::TaskReassigned { task, .. } => task,
            DissuasionEvent::TaskClosed { task, .. } => {
                prop_assert!(closed.insert(*task), "{} closed twice", task);
                continue;
            }
            _ => continue,
        };
        prop_assert!(!closed.contains(task), "{} changed after it closed", task);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn tasks_are_never_lost_or_closed_twice_and_the_log_replays_to_the_state(ops in prop::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        world.config.capacity.calls_per_day = 2;
        world.config.capacity.visits_per_day = [1, 1, 2, 2];
        let mut now = T0;
        for op in ops {
            now += 1_000;
            let Some(input) = input(&mut world, op, &mut now) else { continue };
            if let Ok(Step { signal, events, .. }) = step(&mut world.state, &world.config, input, now) {
                world.kept.extend(signal);
                world.log.extend(events);
            }
            invariants(&world.state)?;
        }
        closed_once(&world.log)?;
        prop_assert_eq!(replay(&world.kept, &world.log), world.state);
    }

    #[test]
    fn escalation_always_ends_at_a_close_or_the_last_level(ops in prop::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        let mut now = T0;
        for op in ops {
            now += 1_000;
            let Some(input) = input(&mut world, op, &mut now) else { continue };
            if let Ok(Step { events, .. }) = step(&mut world.state, &world.config, input, now) {
                world.log.extend(events);
            }
        }
        // Nobody works the queues any more: only the timer fires.
        let bound = world.state.tasks.len() * MAX_TASK_STEPS + 2;
        let mut firings = 0;
        // The daily forgetting of people comes back forever: the tasks' deadlines are watched.
        let task_deadline = |state: &State| {
            state.deadlines.iter().find(|(_, d)| !matches!(d, Deadline::ForgetPeople)).map(|(at, _)| *at)
        };
        while let Some(at) = task_deadline(&world.state) {
            prop_assert!(firings < bound, "still escalating after {} firings", firings);
            now = now.max(at);
            let Step { events, .. } = step(&mut world.state, &world.config, Input::TimerFired, now).unwrap();
            world.log.extend(events);
            firings += 1;
        }
        for task in world.state.tasks.values().filter(|t| t.is_open()) {
            prop_assert_eq!(task.kind, TaskKind::Visit(Level::Community));
            prop_assert!(task.overdue);
        }
        closed_once(&world.log)?;
    }

    #[test]
    fn matching_finds_the_same_people_whichever_comes_first(
        contacts in prop::collection::vec((0..3usize, 0..2usize, 0u32..900, 0u64..(12 * 24)), 1..12),
        named in prop::collection::btree_set(0..2usize, 1..3),
    ) {
        // Contacts from 6 days before the case to 6 days after, by the hour.
        let case_at = T0 + 6 * DAY_MS;
        let at = |hours: u64| T0 + hours * HOUR_MS;
        let identifiers: Vec<&str> = named.iter().map(|s| SCAMS[*s]).collect();
        let case_input = || reported(1, FraudType::ImpersonatingAuthorities, &identifiers, case_at);

        // In time order: the signals before the report, the report, the signals after.
        let mut in_order = World::new();
        let mut sorted = contacts.clone();
        sorted.sort_by_key(|c| c.3);
        let mut reported_yet = false;
        for (who, scam, duration_s, hours) in &sorted {
            if !reported_yet && at(*hours) >= case_at {
                check(&mut in_order, case_input(), case_at);
                reported_yet = true;
            }
            let signal = contact(&mut in_order, PEOPLE[*who], SCAMS[*scam], at(*hours), *duration_s);
            check(&mut in_order, signal, at(*hours));
        }
        if !reported_yet {
            check(&mut in_order, case_input(), case_at);
        }

        // The report first, then every signal (those before it arriving late).
        let mut case_first = World::new();
        check(&mut case_first, case_input(), case_at);
        for (who, scam, duration_s, hours) in &sorted {
            let signal = contact(&mut case_first, PEOPLE[*who], SCAMS[*scam], at(*hours), *duration_s);
            check(&mut case_first, signal, case_at.max(at(*hours)));
        }

        prop_assert_eq!(found(&in_order), found(&case_first));
        let expected: BTreeSet<usize> = contacts.iter().filter(|c| named.contains(&c.1)).map(|c| c.0).collect();
        prop_assert_eq!(found(&in_order).len(), expected.len());
    }
}

/// By person: (identifier, contacts, longest) of their evidence, and its grade.
type Found = BTreeMap<String, (Vec<(String, u32, u32)>, Option<Grade>)>;

/// Who has evidence, from what, and the grade it gives.
fn found(world: &World) -> Found {
    let people = world.state.people.iter().filter(|(_, p)| !p.evidence.is_empty());
    people
        .map(|(who, person)| {
            let exposures = person.evidence.exposures.iter();
            let summary = exposures.map(|(i, e)| (i.to_string(), e.contacts, e.longest_s)).collect();
            (who.to_string(), (summary, grade(&person.evidence, &world.config.grading)))
        })
        .collect()
}
