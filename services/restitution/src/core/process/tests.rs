//! Given this account's trace and freezes, when this happens, then these events and orders.
//! Every step goes through [`World::when`], which also rebuilds the state the way a start does
//! (the books as rows, then the log replayed) and requires it to equal the live one.

use domain::report::Destination;
use domain::{AccountRef, CaseId, City, Fen, TimeMs};
use events::FreezingEvent;
use events::restitution::{Cause, RestitutionEvent, ReturnProblem, Rule};

use super::*;
use crate::limits::{DAY_MS, HOUR_MS, MINUTE_MS};

/// 09:00 on Monday 24 November 2025, Beijing time.
const T0: TimeMs = 1_763_946_000_000;

fn city() -> City {
    City::parse("wuhan").unwrap()
}

fn case(n: u64) -> CaseId {
    CaseId::derive(&city(), n)
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020000001234").unwrap()
}

fn approver(name: &str) -> Approver {
    Approver { name: name.into(), key: format!("U{}", name.to_uppercase()) }
}

struct World {
    state: State,
    config: ProcessConfig,
    now: TimeMs,
    log: Vec<RestitutionEvent>,
}

impl World {
    fn new() -> World {
        World { state: State::default(), config: ProcessConfig::new(city()), now: T0, log: Vec::new() }
    }

    fn when(&mut self, input: Input) -> Result<Step, Rejection> {
        let step = step(&mut self.state, &self.config, input, self.now)?;
        self.log.extend(step.events.iter().cloned());
        let mut rebuilt = State {
            cases: self.state.cases.clone(),
            books: self.state.books.clone(),
            details: self.state.details.clone(),
            ..State::default()
        };
        for event in &self.log {
            apply(&mut rebuilt, event);
        }
        assert_eq!(rebuilt, self.state, "the books and the log replayed give the live state");
        Ok(step)
    }

    fn freezing(&mut self, event: FreezingEvent) -> Result<Step, Rejection> {
        self.when(Input::Freezing(Box::new(event)))
    }

    /// Victim `n` lost `fen`, paid it into the mule at `T0 + n minutes`, and the center froze
    /// `frozen` of it there.
    fn victim(&mut self, n: u64, fen: u64, frozen: u64) -> Step {
        let case_id = case(n);
        self.freezing(FreezingEvent::TraceStarted {
            case_id: case_id.clone(),
            reported_at_ms: T0,
            reported_loss_fen: Fen::new(fen),
        })
        .unwrap();
        self.freezing(FreezingEvent::HopOpened {
            case_id: case_id.clone(),
            hop: 1,
            parent: None,
            depth: 1,
            target: Destination::Account(mule()),
            traced_fen: Fen::new(fen),
            since_ms: T0 + n * MINUTE_MS,
            arrival_transfer_id: Some(format!("t{n}")),
        })
        .unwrap();
        self.freezing(FreezingEvent::AccountFrozen {
            case_id,
            account: mule(),
            frozen_fen: Fen::new(frozen),
            frozen_at_ms: self.now,
            expires_at_ms: self.now + 180 * DAY_MS,
        })
        .unwrap()
    }

    /// The statement read the step asked for, answered: without a statement (pro rata).
    fn read(&mut self, step: &Step) -> Step {
        let [Order::ReadStatement { account, .. }] = step.orders.as_slice() else {
            panic!("one statement read asked, got {:?}", step.orders)
        };
        let input = Input::StatementRead { account: account.clone(), statement: None, rule: None, by: None };
        self.when(input).unwrap()
    }

    fn at(&mut self, t: TimeMs) -> Result<Step, Rejection> {
        self.now = t;
        self.when(Input::TimerFired)
    }

    /// Proposed, noticed and approved twice: the returns instructed.
    fn executed(&mut self) -> Step {
        let step = self.victim(1, 60_000, 60_000);
        self.read(&step);
        let step = self.victim(2, 40_000, 40_000);
        self.read(&step);
        let proposal = self.log.iter().rev().find_map(proposed).unwrap();
        self.at(proposal.1).unwrap();
        self.when(Input::Approve { allocation: proposal.0, by: approver("li") }).unwrap();
        self.when(Input::Approve { allocation: proposal.0, by: approver("wang") }).unwrap()
    }
}

/// The allocation a proposal makes and when its notice ends.
fn proposed(event: &RestitutionEvent) -> Option<(u64, TimeMs)> {
    match event {
        RestitutionEvent::AllocationProposed { allocation, notice_ends_at_ms, .. } => {
            Some((*allocation, *notice_ends_at_ms))
        }
        _ => None,
    }
}

fn shares(step: &Step) -> Vec<(CaseId, u64)> {
    step.events
        .iter()
        .find_map(|e| match e {
            RestitutionEvent::AllocationProposed { shares, .. } => {
                Some(shares.iter().map(|s| (s.case_id.clone(), s.fen.get())).collect())
            }
            _ => None,
        })
        .expect("a proposal")
}

#[test]
fn money_frozen_is_read_then_proposed_with_a_notice_of_thirty_days() {
    let mut world = World::new();
    let step = world.victim(1, 50_000, 30_000);
    assert!(matches!(&step.orders[..], [Order::ReadStatement { account, since_ms, .. }]
        if account == &mule() && *since_ms == T0 + MINUTE_MS - crate::limits::ARRIVAL_WINDOW_MS));
    let proposal = world.read(&step);
    assert_eq!(shares(&proposal), [(case(1), 30_000)]);
    assert_eq!(proposed(&proposal.events[0]), Some((1, T0 + 30 * DAY_MS)));
    assert_eq!(proposal.details.len(), 1, "the reason for every fen is kept with the proposal");
    assert!(matches!(
        &proposal.events[0],
        RestitutionEvent::AllocationProposed { cause: Cause::Frozen, replaces: None, rule: Rule::TimestampTrace, .. }
    ));
}

#[test]
fn a_second_victim_before_execution_reopens_the_allocation_and_the_notice_starts_again() {
    let mut world = World::new();
    let first = world.victim(1, 60_000, 60_000);
    world.read(&first);
    world.now = T0 + 10 * DAY_MS;
    let second = world.victim(2, 40_000, 40_000);
    let reproposal = world.read(&second);
    assert_eq!(shares(&reproposal), [(case(1), 60_000), (case(2), 40_000)]);
    assert!(
        matches!(&reproposal.events[0], RestitutionEvent::AllocationProposed { allocation: 2, replaces: Some(1), cause: Cause::Reopened, notice_ends_at_ms, .. }
        if *notice_ends_at_ms == T0 + 40 * DAY_MS)
    );
    assert_eq!(world.state.allocations[&1].phase, Phase::Superseded);
    world.at(T0 + 40 * DAY_MS).unwrap();
    assert_eq!(
        world.when(Input::Approve { allocation: 1, by: approver("li") }).unwrap_err(),
        Rejection::WrongPhase { allocation: 1, phase: "superseded", expected: "awaiting approval" }
    );
}

#[test]
fn the_same_freezing_event_twice_changes_nothing_and_proposes_nothing_again() {
    let mut world = World::new();
    let step = world.victim(1, 50_000, 50_000);
    world.read(&step);
    let again = FreezingEvent::AccountFrozen {
        case_id: case(1),
        account: mule(),
        frozen_fen: Fen::new(50_000),
        frozen_at_ms: T0,
        expires_at_ms: T0 + 180 * DAY_MS,
    };
    let step = world.freezing(again).unwrap();
    assert!(step.events.is_empty() && step.orders.is_empty(), "{step:?}");
    let read = Input::StatementRead { account: mule(), statement: None, rule: None, by: None };
    assert_eq!(world.when(read).unwrap_err(), Rejection::NothingChanged, "a stale read proposes nothing");
}

#[test]
fn approval_waits_for_the_notice_and_needs_two_distinct_approvers() {
    let mut world = World::new();
    let step = world.victim(1, 50_000, 50_000);
    world.read(&step);
    let approve = |name: &str| Input::Approve { allocation: 1, by: approver(name) };
    assert!(matches!(world.when(approve("li")), Err(Rejection::WrongPhase { phase: "notice", .. })));
    assert!(world.at(T0 + 30 * DAY_MS - 1).is_err(), "nothing is due before the notice ends");
    let ended = world.at(T0 + 30 * DAY_MS).unwrap();
    assert!(matches!(&ended.events[..], [RestitutionEvent::NoticeEnded { allocation: 1, .. }]));
    let first = world.when(approve("li")).unwrap();
    assert!(first.orders.is_empty(), "one approval instructs nothing");
    assert_eq!(world.when(approve("li")).unwrap_err(), Rejection::AlreadyApproved { allocation: 1, by: "li".into() });
    let same_key = Approver { name: "li-2".into(), key: approver("li").key };
    assert!(matches!(
        world.when(Input::Approve { allocation: 1, by: same_key }),
        Err(Rejection::AlreadyApproved { .. })
    ));
    let second = world.when(approve("wang")).unwrap();
    let request = request_id(&city(), 1, &case(1));
    assert_eq!(request, format!("wuhan/restitution/a1/{}", case(1)));
    assert_eq!(
        second.orders,
        [Order::Return {
            allocation: 1,
            case_id: case(1),
            request_id: request,
            account: mule(),
            amount_fen: Fen::new(50_000)
        }]
    );
    assert_eq!(world.state.allocations[&1].phase, Phase::Executing);
    assert!(matches!(world.when(approve("zhao")), Err(Rejection::WrongPhase { phase: "executing", .. })));
}

#[test]
fn an_objection_holds_the_notice_until_an_approver_dismisses_it() {
    let mut world = World::new();
    let step = world.victim(1, 50_000, 50_000);
    world.read(&step);
    let object = |reason: &str| Input::Object {
        allocation: 1,
        case_id: Some(case(1)),
        by: "victim".into(),
        reason: reason.into(),
    };
    assert!(matches!(world.when(object("  ")), Err(Rejection::Invalid { field: "reason", .. })));
    world.when(object("my second transfer is missing")).unwrap();
    assert_eq!(world.at(T0 + 31 * DAY_MS).unwrap_err(), Rejection::NothingChanged, "the notice does not end");
    assert_eq!(next_deadline(&world.state), None);
    let dismiss =
        |objection| Input::Dismiss { allocation: 1, objection, by: approver("li"), reason: "checked: included".into() };
    assert_eq!(world.when(dismiss(2)).unwrap_err(), Rejection::UnknownObjection { allocation: 1, objection: 2 });
    let dismissed = world.when(dismiss(1)).unwrap();
    assert!(matches!(
        &dismissed.events[..],
        [RestitutionEvent::ObjectionDismissed { .. }, RestitutionEvent::NoticeEnded { .. }]
    ));
    assert_eq!(world.when(dismiss(1)).unwrap_err(), Rejection::AlreadyDismissed { allocation: 1, objection: 1 });
}

#[test]
fn returns_are_due_in_three_working_days_and_fall_overdue_once() {
    // Friday 09:00 + 3 working days = Wednesday 09:00.
    let friday = T0 + 4 * DAY_MS;
    assert_eq!(working_days_after(friday, 3, 8 * HOUR_MS), T0 + 9 * DAY_MS);
    assert_eq!(working_days_after(T0, 3, 8 * HOUR_MS), T0 + 3 * DAY_MS);
    let mut world = World::new();
    world.executed();
    let due = world.state.allocations.values().find(|a| a.phase == Phase::Executing).unwrap().returns[&case(1)].due_ms;
    assert_eq!(next_deadline(&world.state), Some(due));
    let overdue = world.at(due).unwrap();
    assert_eq!(overdue.events.len(), 2, "both returns overdue: {:?}", overdue.events);
    assert_eq!(world.at(due + HOUR_MS).unwrap_err(), Rejection::NothingChanged, "raised once");
}

#[test]
fn a_confirmation_for_another_amount_is_not_taken_as_returned() {
    let mut world = World::new();
    world.executed();
    let allocation = 2;
    let accepted = Input::ReturnAnswered { allocation, case_id: case(1), executed: None };
    assert_eq!(world.when(accepted).unwrap_err(), Rejection::NotExecuted);
    let wrong = Input::ReturnAnswered { allocation, case_id: case(1), executed: Some((Fen::new(1), "x1".into(), T0)) };
    let step = world.when(wrong).unwrap();
    assert!(
        matches!(&step.events[..], [RestitutionEvent::ReturnFailed { problem: ReturnProblem::AmountMismatch { confirmed_fen }, .. }] if confirmed_fen.get() == 1)
    );
    let again =
        Input::ReturnAnswered { allocation, case_id: case(1), executed: Some((Fen::new(60_000), "x2".into(), T0)) };
    assert!(matches!(world.when(again), Err(Rejection::ReturnSettled { .. })));
    let other =
        Input::ReturnAnswered { allocation, case_id: case(2), executed: Some((Fen::new(40_000), "x3".into(), T0)) };
    let done = world.when(other).unwrap();
    assert!(
        matches!(done.events.last(), Some(RestitutionEvent::AllocationCompleted { returned_fen, .. }) if returned_fen.get() == 40_000)
    );
}

#[test]
fn a_claim_after_execution_waits_and_gets_what_remains_once_the_allocation_completes() {
    let mut world = World::new();
    world.executed();
    let logged = world.log.len();
    let late = world.victim(3, 10_000, 10_000);
    assert!(matches!(&world.log[logged..], [RestitutionEvent::ClaimAfterExecution { allocation: 2, .. }]), "{late:?}");
    assert!(late.orders.is_empty(), "nothing is proposed while the returns run");
    for (n, fen) in [(1, 60_000), (2, 40_000)] {
        let answer = Input::ReturnAnswered {
            allocation: 2,
            case_id: case(n),
            executed: Some((Fen::new(fen), format!("r{n}"), T0)),
        };
        let step = world.when(answer).unwrap();
        if n == 2 {
            let remainder = world.read(&step);
            assert!(
                matches!(&remainder.events[0], RestitutionEvent::AllocationProposed { cause: Cause::Remainder, frozen_fen, replaces: None, .. } if frozen_fen.get() == 10_000)
            );
            assert_eq!(shares(&remainder).iter().map(|(_, f)| f).sum::<u64>(), 10_000, "only what remains");
        }
    }
}

#[test]
fn a_start_resends_every_unsettled_return_under_its_first_request_id_and_instructs_nothing_twice() {
    let mut world = World::new();
    let instructed = world.executed();
    let mut restarted = State {
        cases: world.state.cases.clone(),
        books: world.state.books.clone(),
        details: world.state.details.clone(),
        ..State::default()
    };
    for event in &world.log {
        apply(&mut restarted, event);
    }
    assert_eq!(pending_orders(&restarted), instructed.orders);
    let step = world
        .when(Input::ReturnImpossible {
            allocation: 2,
            case_id: case(1),
            problem: ReturnProblem::NoPayingAccount,
            detail: "none named".into(),
        })
        .unwrap();
    assert!(matches!(&step.events[..], [RestitutionEvent::ReturnFailed { .. }]));
    assert_eq!(pending_orders(&world.state).len(), 1, "the failed return is not sent again");
    assert!(matches!(
        world.when(Input::Approve { allocation: 2, by: approver("zhao") }),
        Err(Rejection::WrongPhase { .. })
    ));
}

#[test]
fn unknown_allocations_are_refused_by_name() {
    let mut world = World::new();
    assert_eq!(
        world.when(Input::Approve { allocation: 9, by: approver("li") }).unwrap_err(),
        Rejection::UnknownAllocation(9)
    );
    let object = Input::Object { allocation: 9, case_id: None, by: "x".into(), reason: "y".into() };
    assert_eq!(world.when(object).unwrap_err(), Rejection::UnknownAllocation(9));
    assert_eq!(Rejection::UnknownAllocation(9).to_string(), "allocation a9 does not exist");
}

#[test]
fn an_order_resolved_before_its_hop_is_taken_in_still_brings_the_victims_deposit() {
    let mut world = World::new();
    let order = domain::PaymentOrderRef::parse("alipay:2025112400001").unwrap();
    world
        .freezing(FreezingEvent::OrderResolved {
            case_id: case(1),
            hop: 1,
            order: order.clone(),
            account: mule(),
            settled_at_ms: T0 + MINUTE_MS,
            transfer_id: "s1".into(),
            answered_in_ms: None,
        })
        .unwrap();
    assert!(world.state.books.get(&mule()).is_none_or(|b| b.deposits.is_empty()), "not before its hop");
    world
        .freezing(FreezingEvent::HopOpened {
            case_id: case(1),
            hop: 1,
            parent: None,
            depth: 1,
            target: Destination::Order(order),
            traced_fen: Fen::new(30_000),
            since_ms: T0,
            arrival_transfer_id: None,
        })
        .unwrap();
    let deposits = &world.state.books[&mule()].deposits[&case(1)];
    assert_eq!(deposits[&1].amount_fen, Fen::new(30_000));
    assert_eq!(deposits[&1].transfer_id.as_deref(), Some("s1"));
}

#[test]
fn money_frozen_for_a_victim_after_execution_is_allocated_once_the_allocation_completes() {
    let mut world = World::new();
    world.executed();
    // Victim 1's claim was frozen in part; the rest is frozen while the returns run.
    let more = FreezingEvent::AccountFrozen {
        case_id: case(1),
        account: mule(),
        frozen_fen: Fen::new(10_000),
        frozen_at_ms: T0 + DAY_MS,
        expires_at_ms: T0 + 180 * DAY_MS,
    };
    let step = world.freezing(more).unwrap();
    assert!(step.orders.is_empty(), "nothing is proposed while the returns run");
    world
        .when(Input::ReturnAnswered {
            allocation: 2,
            case_id: case(1),
            executed: Some((Fen::new(60_000), "r1".into(), T0)),
        })
        .unwrap();
    let last =
        Input::ReturnAnswered { allocation: 2, case_id: case(2), executed: Some((Fen::new(40_000), "r2".into(), T0)) };
    let completed = world.when(last).unwrap();
    let remainder = world.read(&completed);
    assert!(
        matches!(&remainder.events[0], RestitutionEvent::AllocationProposed { cause: Cause::Remainder, frozen_fen, .. } if frozen_fen.get() == 10_000)
    );
}

#[test]
fn a_claim_frozen_in_parts_counts_every_part_once() {
    let mut world = World::new();
    world.victim(1, 50_000, 30_000);
    let part = |at| FreezingEvent::AccountFrozen {
        case_id: case(1),
        account: mule(),
        frozen_fen: Fen::new(20_000),
        frozen_at_ms: at,
        expires_at_ms: T0 + 180 * DAY_MS,
    };
    world.freezing(part(T0 + HOUR_MS)).unwrap();
    assert_eq!(world.state.books[&mule()].frozen_fen(), Fen::new(50_000), "the second part adds to the first");
    let again = world.freezing(part(T0 + HOUR_MS)).unwrap();
    assert!(again.events.is_empty() && again.orders.is_empty(), "a part delivered twice counts once");
    assert_eq!(world.state.books[&mule()].frozen_fen(), Fen::new(50_000));
}
