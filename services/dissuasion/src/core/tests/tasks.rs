//! Tasks: steps by grade, escalation by deadline and by outcome through the four levels, each
//! outcome, SMS answers, capacity and queue order, and staff commands refused with a type.

use domain::FraudType;

use super::*;
use crate::events::{Closure, Escalation, Level, Outcome, TaskKind};

const POLICE: FraudType = FraudType::ImpersonatingAuthorities;

/// A world where `who` was reached once, briefly, by a fake police number: Medium, a call.
fn called(who: &str) -> World {
    let mut world = World::new();
    check(&mut world, known(FAKE_POLICE, T0, POLICE), T0);
    let signal = contact(&mut world, who, FAKE_POLICE, T0, 30);
    check(&mut world, signal, T0);
    assert_eq!(open_task(&world, who).unwrap().kind, TaskKind::Call);
    world
}

fn complete(task: u64, operator: &str, outcome: Outcome) -> Input {
    // An already-paid outcome comes with the case the shell filed for the person.
    let case_id = (outcome == Outcome::AlreadyPaid).then(|| case(99));
    Input::Complete {
        task: TaskId(task),
        operator: operator.into(),
        outcome,
        note: "explained the trick".into(),
        case_id,
    }
}

fn claim(task: u64, operator: &str) -> Input {
    Input::Claim { task: TaskId(task), operator: operator.into() }
}

#[test]
fn a_task_nobody_works_escalates_by_deadline_through_the_four_levels_then_is_flagged_overdue() {
    let mut world = called(ALICE);
    let mut now = T0;
    let mut kinds = Vec::new();
    for _ in 0..4 {
        now = world.state.next_deadline().unwrap();
        let (events, _) = check(&mut world, Input::TimerFired, now);
        let [DissuasionEvent::TaskEscalated { to, reason: Escalation::Deadline, .. }] = &events[..] else {
            panic!("{events:?}")
        };
        kinds.push(*to);
    }
    let levels: Vec<TaskKind> = Level::ALL.into_iter().map(TaskKind::Visit).collect();
    assert_eq!(kinds, levels);
    assert_eq!(now, T0 + (4 + 2 + 4 + 12) * HOUR_MS, "each step's deadline from the last");
    // A day after the first scam identifier, the daily forgetting: a person with an open task
    // stays.
    now = world.state.next_deadline().unwrap();
    assert_eq!(now, T0 + DAY_MS);
    let (events, _) = check(&mut world, Input::TimerFired, now);
    assert!(matches!(events[..], [DissuasionEvent::PeopleForgotten { people: 0, tasks: 0, .. }]), "{events:?}");
    now = world.state.next_deadline().unwrap();
    assert_eq!(now, T0 + (4 + 2 + 4 + 12 + 24) * HOUR_MS);
    let (events, _) = check(&mut world, Input::TimerFired, now);
    assert!(matches!(events[..], [DissuasionEvent::TaskOverdue { .. }]), "nobody further to send: {events:?}");
    assert_eq!(task(&world, 0).kind, TaskKind::Visit(Level::Community));
    assert!(task(&world, 0).overdue && task(&world, 0).is_open());
    let tasks_due = world.state.deadlines.iter().filter(|(_, d)| !matches!(d, Deadline::ForgetPeople)).count();
    assert_eq!(tasks_due, 0, "an overdue task waits for staff, no timer spins");
}

#[test]
fn people_and_closed_tasks_with_nothing_for_a_month_leave_memory_and_open_tasks_stay() {
    // Given Alice persuaded on a call, Bob's call still open, and Carol reached again later.
    let mut world = called(ALICE);
    let bob = contact(&mut world, BOB, FAKE_POLICE, T0 + 1, 30);
    check(&mut world, bob, T0 + 1);
    check(&mut world, claim(0, "op-1"), T0 + 2);
    check(&mut world, complete(0, "op-1", Outcome::Persuaded), T0 + 3);
    let carol = contact(&mut world, CAROL, FAKE_POLICE, T0 + 20 * DAY_MS, 30);
    check(&mut world, carol, T0 + 20 * DAY_MS);
    let people = world.state.people.len();
    assert_eq!(people, 3);
    // When the daily forgetting fires 31 days on (a month after Alice's call closed).
    let mut now = T0 + 31 * DAY_MS;
    let mut forgotten = Vec::new();
    while let Some(at) = world.state.next_deadline().filter(|at| *at <= now) {
        now = now.max(at);
        let (events, _) = check(&mut world, Input::TimerFired, at);
        forgotten.extend(events.into_iter().filter(|e| matches!(e, DissuasionEvent::PeopleForgotten { .. })));
    }
    // Then Alice and her closed task are gone; Bob (open task) and Carol (recent) stay, and
    // the log replays to the same state (`check`).
    let counted: (u64, u64) = forgotten.iter().fold((0, 0), |(p, t), e| match e {
        DissuasionEvent::PeopleForgotten { people, tasks, .. } => (p + people, t + tasks),
        _ => unreachable!(),
    });
    assert_eq!(counted, (1, 1), "{forgotten:?}");
    assert!(world.state.people.get(&person(ALICE)).is_none());
    assert!(!world.state.tasks.contains_key(&TaskId(0)));
    assert!(world.state.people.get(&person(BOB)).is_some_and(|p| p.open_task.is_some()));
    assert!(world.state.people.get(&person(CAROL)).is_some());
    // And Alice reached again starts afresh: a new task.
    let again = contact(&mut world, ALICE, FAKE_POLICE, now, 30);
    check(&mut world, again, now);
    assert!(open_task(&world, ALICE).is_some());
}

#[test]
fn refused_and_unreachable_escalate_one_level_each_and_close_at_the_last() {
    let mut world = called(ALICE);
    let mut now = T0;
    let mut path = vec![task(&world, 0).kind];
    for outcome in [Outcome::Refused, Outcome::Unreachable, Outcome::Refused, Outcome::Unreachable] {
        now += HOUR_MS / 2;
        check(&mut world, claim(0, "officer-1"), now);
        let (events, _) = check(&mut world, complete(0, "officer-1", outcome), now);
        let [DissuasionEvent::TaskEscalated { operator, note, .. }] = &events[..] else { panic!("{events:?}") };
        assert_eq!((operator.as_deref(), note.as_str()), (Some("officer-1"), "explained the trick"));
        assert_eq!(task(&world, 0).claimed_by, None, "the next level's staff claim it");
        path.push(task(&world, 0).kind);
    }
    assert_eq!(path.len(), 5);
    assert_eq!(path[4], TaskKind::Visit(Level::Community));
    let (events, _) = check(&mut world, complete(0, "community-3", Outcome::Refused), now);
    assert!(matches!(events[..], [DissuasionEvent::TaskClosed { closure: Closure::Refused, .. }]), "{events:?}");
    assert_eq!(task(&world, 0).steps, 5);
}

#[test]
fn persuaded_closes_and_contacts_the_person_was_warned_about_open_nothing_new() {
    let mut world = called(ALICE);
    check(&mut world, complete(0, "caller-9", Outcome::Persuaded), T0 + HOUR_MS);
    assert_eq!(task(&world, 0).status, Status::Closed(Closure::Persuaded));
    let again = contact(&mut world, ALICE, FAKE_POLICE, T0 + 2 * HOUR_MS, 30);
    check(&mut world, again, T0 + 2 * HOUR_MS);
    assert!(open_task(&world, ALICE).is_none(), "Medium was dealt with");
    // A second scam number reaching her makes her High: a visit.
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0 + 3 * HOUR_MS);
    let shop = contact(&mut world, ALICE, FAKE_SHOP, T0 + 3 * HOUR_MS, 400);
    check(&mut world, shop, T0 + 3 * HOUR_MS);
    assert_eq!(open_task(&world, ALICE).unwrap().kind, TaskKind::Visit(Level::CityBureau));
}

#[test]
fn already_paid_needs_the_filed_case_and_closes_the_task_linked_to_it() {
    let mut world = called(ALICE);
    let without = Input::Complete {
        task: TaskId(0),
        operator: "caller-9".into(),
        outcome: Outcome::AlreadyPaid,
        note: String::new(),
        case_id: None,
    };
    assert_eq!(refused(&mut world, without, T0 + HOUR_MS), Rejection::NoReport { task: TaskId(0) });
    let (events, _) = check(&mut world, complete(0, "caller-9", Outcome::AlreadyPaid), T0 + HOUR_MS);
    let [DissuasionEvent::TaskClosed { closure: Closure::AlreadyPaid, .. }, report] = &events[..] else {
        panic!("{events:?}")
    };
    let DissuasionEvent::ReportFiled { task, case_id, person: who, identifiers, fraud_types, first_contact_ms, .. } =
        report
    else {
        panic!("{report:?}")
    };
    assert_eq!((*task, case_id, *who, *first_contact_ms), (TaskId(0), &case(99), person(ALICE), T0));
    assert_eq!((identifiers.clone(), fraud_types.clone()), (vec![id(FAKE_POLICE)], [POLICE].into()));
    let signal = transfer(&mut world, ALICE, T0 + 2 * HOUR_MS);
    check(&mut world, signal, T0 + 2 * HOUR_MS);
    assert_eq!(open_task(&world, ALICE).map(|t| t.kind), Some(TaskKind::Visit(Level::CityBureau)), "paying again");
}

#[test]
fn a_false_positive_clears_the_evidence() {
    let mut world = called(ALICE);
    check(&mut world, complete(0, "caller-9", Outcome::FalsePositive), T0 + HOUR_MS);
    assert!(world.state.people[&person(ALICE)].evidence.is_empty());
    let next = contact(&mut world, ALICE, FAKE_POLICE, T0 + 2 * HOUR_MS, 30);
    check(&mut world, next, T0 + 2 * HOUR_MS);
    assert_eq!(open_task(&world, ALICE).map(|t| t.id), Some(TaskId(1)), "new evidence is graded afresh");
}

#[test]
fn an_sms_delivered_closes_its_task_and_one_not_delivered_or_unanswered_becomes_a_call() {
    let mut world = World::new();
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0);
    for who in [ALICE, BOB, CAROL] {
        let signal = contact(&mut world, who, FAKE_SHOP, T0, 10);
        check(&mut world, signal, T0);
    }
    let delivered = Input::SmsAnswered { request_id: "wuhan/cmcc/sms/t0".into(), delivered: true };
    check(&mut world, delivered.clone(), T0 + 1_000);
    assert_eq!(task(&world, 0).status, Status::Closed(Closure::SmsDelivered));
    assert!(matches!(refused(&mut world, delivered, T0 + 2_000), Rejection::NotAwaited { .. }));
    let failed = Input::SmsAnswered { request_id: "wuhan/cucc/sms/t1".into(), delivered: false };
    let (events, _) = check(&mut world, failed, T0 + 1_000);
    assert!(matches!(events[..], [DissuasionEvent::TaskEscalated { reason: Escalation::SmsFailed, .. }]));
    let (events, _) = check(&mut world, Input::TimerFired, T0 + 15 * 60 * 1000);
    assert!(matches!(events[..], [DissuasionEvent::TaskEscalated { task: TaskId(2), to: TaskKind::Call, .. }]));
    assert!(pending_orders(&world.state).is_empty());
}

#[test]
fn more_evidence_raises_an_open_task_to_the_step_of_its_new_grade() {
    let mut world = World::new();
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0);
    let first = contact(&mut world, ALICE, FAKE_SHOP, T0, 10);
    check(&mut world, first, T0);
    assert_eq!(task(&world, 0).kind, TaskKind::Sms);
    let long = contact(&mut world, ALICE, FAKE_SHOP, T0 + 60_000, 900);
    let (events, _) = check(&mut world, long, T0 + 60_000);
    let DissuasionEvent::TaskEscalated { to: TaskKind::Call, reason: Escalation::Regraded, grade, .. } = &events[1]
    else {
        panic!("{events:?}")
    };
    assert_eq!(*grade, Grade::Medium);
}

#[test]
fn a_low_grade_abroad_is_called_not_texted() {
    let mut world = World::new();
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0);
    let signal = contact(&mut world, ABROAD, FAKE_SHOP, T0, 10);
    let (_, orders) = check(&mut world, signal, T0);
    assert!(orders.is_empty());
    assert_eq!((task(&world, 0).grade, task(&world, 0).kind), (Grade::Low, TaskKind::Call));
}

#[test]
fn staff_commands_on_tasks_that_cannot_take_them_are_refused_with_a_type() {
    let mut world = called(ALICE);
    assert_eq!(refused(&mut world, claim(9, "a"), T0), Rejection::TaskUnknown { task: TaskId(9) });
    check(&mut world, claim(0, "caller-1"), T0);
    let (events, _) = check(&mut world, claim(0, "caller-1"), T0);
    assert!(events.is_empty(), "claiming one's own task again changes nothing");
    let other = refused(&mut world, complete(0, "caller-2", Outcome::Persuaded), T0);
    assert_eq!(other, Rejection::ClaimedByOther { task: TaskId(0), operator: "caller-1".into() });
    for (operator, note) in [(" ", "ok"), ("caller\u{7}", "ok"), ("caller-1", "a\u{0}b")] {
        let input = Input::Complete {
            task: TaskId(0),
            operator: operator.into(),
            outcome: Outcome::Persuaded,
            note: note.into(),
            case_id: None,
        };
        assert!(matches!(refused(&mut world, input, T0), Rejection::InvalidText { .. }), "{operator:?} {note:?}");
    }
    let long = "x".repeat(crate::limits::MAX_NOTE_CHARS + 1);
    let input = Input::Complete {
        task: TaskId(0),
        operator: "caller-1".into(),
        outcome: Outcome::Persuaded,
        note: long,
        case_id: None,
    };
    assert!(matches!(refused(&mut world, input, T0), Rejection::InvalidText { field: "note", .. }));
    let reassign = Input::Reassign { task: TaskId(0), by: "supervisor".into(), to: "caller-2".into() };
    check(&mut world, reassign, T0);
    check(&mut world, complete(0, "caller-2", Outcome::Persuaded), T0);
    assert_eq!(refused(&mut world, claim(0, "caller-2"), T0), Rejection::AlreadyClosed { task: TaskId(0) });
    // An SMS warning is the carrier's, not staff's.
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0);
    let signal = contact(&mut world, BOB, FAKE_SHOP, T0, 10);
    check(&mut world, signal, T0);
    assert_eq!(refused(&mut world, claim(1, "caller-1"), T0), Rejection::NotForStaff { task: TaskId(1) });
}

#[test]
fn over_capacity_tasks_wait_for_the_next_day_and_enter_it_in_queue_order() {
    let mut world = World::new();
    world.config.capacity.calls_per_day = 1;
    check(&mut world, known(FAKE_POLICE, T0, POLICE), T0);
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0);
    let (alice, bob, carol) = (ALICE, BOB, CAROL);
    let first = contact(&mut world, alice, FAKE_POLICE, T0, 30);
    check(&mut world, first, T0);
    let late = contact(&mut world, bob, FAKE_POLICE, T0 + HOUR_MS, 30);
    let (events, _) = check(&mut world, late, T0 + HOUR_MS);
    assert!(matches!(
        events[1],
        DissuasionEvent::TaskOpened { admission: crate::events::Admission::Waiting { .. }, .. }
    ));
    assert!(matches!(refused(&mut world, claim(1, "caller-1"), T0), Rejection::NotReady { task: TaskId(1), .. }));
    // Carol was reached earlier than Bob: she goes first when the next day's capacity comes.
    let earlier = contact(&mut world, carol, FAKE_POLICE, T0 + HOUR_MS / 2, 30);
    check(&mut world, earlier, T0 + 2 * HOUR_MS);
    assert_eq!(queue(&world.state, TaskKind::Call, 10).len(), 1, "only the admitted task is worked");
    check(&mut world, complete(0, "caller-1", Outcome::Persuaded), T0 + 3 * HOUR_MS);
    let midnight = world.config.day_start_ms(world.config.day(T0) + 1);
    let (events, _) = check(&mut world, Input::TimerFired, midnight);
    let admitted: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            DissuasionEvent::TaskAdmitted { task, .. } => Some(*task),
            _ => None,
        })
        .collect();
    assert_eq!(admitted, [TaskId(2)], "{events:?}");
    assert!(events.iter().any(|e| matches!(e, DissuasionEvent::QueueWaiting { waiting: 1, .. })), "the core says so");
    assert_eq!(next(&world.state, TaskKind::Call, "caller-1").map(|t| t.id), Some(TaskId(2)));
}

#[test]
fn a_visit_the_city_bureau_has_no_room_for_today_goes_down_to_the_first_level_that_has() {
    let mut world = World::new();
    world.config.capacity.visits_per_day = [1, 1, 0, 5];
    check(&mut world, known(FAKE_POLICE, T0, POLICE), T0);
    let visit = |task: &Task| (task.kind, matches!(task.status, Status::Ready { .. }));
    let (city, district, community) = (Level::CityBureau, Level::DistrictBureau, Level::Community);
    for (n, who) in [ALICE, BOB, CAROL].into_iter().enumerate() {
        // A 20-minute fake-police call: High, a visit.
        let input = contact(&mut world, who, FAKE_POLICE, T0 + n as u64, 1_200);
        check(&mut world, input, T0 + n as u64);
    }
    assert_eq!(visit(open_task(&world, ALICE).unwrap()), (TaskKind::Visit(city), true));
    assert_eq!(visit(open_task(&world, BOB).unwrap()), (TaskKind::Visit(district), true), "the district has room");
    // The police station has none today: the community goes.
    assert_eq!(visit(open_task(&world, CAROL).unwrap()), (TaskKind::Visit(community), true));
}

#[test]
fn the_queue_orders_by_risk_then_the_earliest_contact() {
    let mut world = World::new();
    check(&mut world, known(FAKE_POLICE, T0, POLICE), T0);
    check(&mut world, known(FAKE_SHOP, T0, FraudType::PigButchering), T0);
    let late_medium = contact(&mut world, ALICE, FAKE_POLICE, T0 + HOUR_MS, 30);
    check(&mut world, late_medium, T0 + HOUR_MS);
    let early_medium = contact(&mut world, BOB, FAKE_SHOP, T0, 600);
    check(&mut world, early_medium, T0 + HOUR_MS);
    let ids: Vec<TaskId> = queue(&world.state, TaskKind::Call, 10).iter().map(|t| t.id).collect();
    assert_eq!(ids, [TaskId(1), TaskId(0)]);
}
