//! Given events, when an input arrives, then these events (and requests): the trail
//! here, conversions into freezes in [`conversion`], what must never break the core in
//! [`robustness`].

use std::time::Duration;

use adapters::{AdapterError, AdapterErrorKind};
use domain::City;
use domain::report::Destination;
use events::freezing::HopEnd;
use protocol::adapter::{Counterparty, Direction, FreezeStatus};
use protocol::subjects::bank_verb;

use super::*;
use crate::limits::LAPSE_MARGIN_MS;

pub(super) fn case() -> CaseId {
    CaseId::derive(&City::parse("huzhou").unwrap(), 1)
}

pub(super) fn account(n: u32) -> AccountRef {
    AccountRef::parse(&format!("icbc:{n:08}")).unwrap()
}

pub(super) fn entry(direction: Direction, amount: u64, balance: u64, to: Counterparty, id: &str) -> StatementEntry {
    StatementEntry {
        transfer_id: id.into(),
        at_ms: 10,
        direction,
        amount_fen: Fen::new(amount),
        counterparty: to,
        balance_after_fen: Fen::new(balance),
    }
}

/// [`super::step`], with a freeze answer whose `request_id` is empty made the answer to the
/// freeze the claim awaits.
pub(super) fn step(state: &mut State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Step, Rejection> {
    let input = answering(state, input);
    super::step(state, config, input, now)
}

fn answering(state: &State, input: Input) -> Input {
    match input {
        Input::FreezeAnswered { case_id, account, request_id, result } if request_id.is_empty() => {
            let request_id = awaited_freeze(state, &case_id, &account).unwrap_or_default();
            Input::FreezeAnswered { case_id, account, request_id, result }
        }
        other => other,
    }
}

/// Steps the core at 1,000 ms, returning the events and the requests.
pub(super) fn check(state: &mut State, config: &CoreConfig, input: Input) -> (Vec<FreezingEvent>, Vec<Action>) {
    let Step { events, actions } = step(state, config, input, 1_000).unwrap();
    (events, actions)
}

/// The events `input` causes at `now`, decided but not applied.
pub(super) fn decided(state: &State, config: &CoreConfig, input: Input, now: TimeMs) -> Vec<FreezingEvent> {
    decide(state, config, answering(state, input), now).unwrap().events
}

pub(super) fn reported(amount: u64) -> Input {
    Input::CaseReported {
        case_id: case(),
        reported_at_ms: 900,
        transfers: vec![Transfer {
            from_account: None,
            to: Destination::Account(account(1)),
            amount: Fen::new(amount),
            at_ms: 5,
        }],
        reported_loss: Fen::new(amount),
    }
}

pub(super) fn answered(hop: HopId, held: u64, entries: Vec<StatementEntry>) -> Input {
    Input::AccountAnswered {
        case_id: case(),
        hop,
        asked_at_ms: 0,
        result: Ok(Statement { stop_no: 1, held: Fen::new(held), expires_at_ms: 2_000, since_ms: 0, entries }),
    }
}

mod cold;
mod conversion;
mod cross_city;
mod joint;
mod late_arrival;
mod retry;
mod robustness;

#[test]
fn given_a_new_case_when_reported_then_each_transfer_is_stopped() {
    let mut state = State::default();
    let (events, actions) = check(&mut state, &CoreConfig::default(), reported(10_000));
    assert!(matches!(events[0], FreezingEvent::TraceStarted { .. }));
    assert!(matches!(&events[1], FreezingEvent::HopOpened { hop: 1, depth: 1, .. }));
    assert_eq!(
        actions,
        vec![Action::Stop {
            case_id: case(),
            hop: 1,
            account: account(1),
            since_ms: 0,
            request_id: stop_request_id(&case().city(), &account(1), 1),
        }]
    );
    let again = step(&mut state, &CoreConfig::default(), reported(10_000), 1_000);
    assert_eq!(again, Err(Rejection::AlreadyTraced { case_id: case() }), "a case is traced once");
}

#[test]
fn the_statement_is_asked_for_from_the_arrival_window_before_the_payment_staff_typed() {
    const HOUR: u64 = 60 * 60 * 1000;
    let mut state = State::default();
    let paid_at = 10 * HOUR;
    let transfers = vec![Transfer {
        from_account: None,
        to: Destination::Account(account(1)),
        amount: Fen::new(10_000),
        at_ms: paid_at,
    }];
    let reported =
        Input::CaseReported { case_id: case(), reported_at_ms: 11 * HOUR, transfers, reported_loss: Fen::new(10_000) };
    let Step { actions, .. } = step(&mut state, &CoreConfig::default(), reported, 11 * HOUR).unwrap();
    let [Action::Stop { since_ms, .. }] = &actions[..] else { panic!("{actions:?}") };
    assert_eq!(*since_ms, paid_at - crate::rule::ARRIVAL_WINDOW_MS);
}

#[test]
fn a_log_from_before_stops_opened_their_onward_hops_replays_to_the_same_state() {
    let config = CoreConfig::default();
    let mut live = State::default();
    let mut log = check(&mut live, &config, reported(10_000)).0;
    let statement = vec![
        entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v"),
        entry(Direction::Out, 6_000, 4_000, Counterparty::Account(account(2)), "t2"),
        entry(Direction::Out, 3_000, 1_000, Counterparty::Account(account(3)), "t3"),
    ];
    log.extend(check(&mut live, &config, answered(1, 1_000, statement)).0);
    // The same history as the former format recorded it: the stop without
    // first_onward_hop, then one hop_opened per onward leg.
    let mut former = Vec::new();
    for event in &log {
        match event {
            FreezingEvent::AccountStopped { case_id, hop, onward, first_onward_hop: Some(first), .. } => {
                let mut old = event.clone();
                if let FreezingEvent::AccountStopped { first_onward_hop, depth, .. } = &mut old {
                    *first_onward_hop = None;
                    *depth = None;
                }
                former.push(old);
                for (next, leg) in (*first..).zip(onward) {
                    former.push(FreezingEvent::HopOpened {
                        case_id: case_id.clone(),
                        hop: next,
                        parent: Some(*hop),
                        depth: 2,
                        target: leg.to.clone(),
                        traced_fen: leg.amount_fen,
                        since_ms: leg.at_ms,
                        arrival_transfer_id: Some(leg.transfer_id.clone()),
                    });
                }
            }
            other => former.push(other.clone()),
        }
    }
    assert_eq!(former.len(), log.len() + 2);
    let (mut replayed_new, mut replayed_old) = (State::default(), State::default());
    log.iter().for_each(|e| apply(&mut replayed_new, e));
    former.iter().for_each(|e| apply(&mut replayed_old, e));
    for state in [&replayed_new, &replayed_old] {
        assert_eq!(pending_actions(state, 1_000), pending_actions(&live, 1_000));
        assert_eq!(format!("{:?}", state.cases[&case()].hops), format!("{:?}", live.cases[&case()].hops));
    }
    assert_eq!(pending_actions(&live, 1_000).len(), 2, "hops 2 and 3 wait for their banks");
}

#[test]
fn given_a_stopped_mule_that_forwarded_when_answered_then_money_is_held_and_followed() {
    let mut state = State::default();
    check(&mut state, &CoreConfig::default(), reported(10_000));
    let statement = vec![
        entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v"),
        entry(Direction::Out, 6_000, 4_000, Counterparty::Account(account(2)), "t2"),
        entry(Direction::Out, 3_000, 1_000, Counterparty::CashOut("atm".into()), "t3"),
    ];
    let (events, actions) = check(&mut state, &CoreConfig::default(), answered(1, 1_000, statement));
    let FreezingEvent::AccountStopped {
        claim_fen,
        cashed_out_fen,
        onward,
        answered_in_ms,
        first_onward_hop,
        depth,
        ..
    } = &events[0]
    else {
        panic!()
    };
    assert_eq!((*claim_fen, *cashed_out_fen), (Fen::new(1_000), Fen::new(3_000)));
    assert_eq!(*answered_in_ms, Some(1_000), "asked at 0, decided at 1,000");
    assert_eq!(onward.len(), 1);
    // The stop opens the onward hop itself: no hop_opened event for it.
    assert_eq!((*first_onward_hop, *depth), (Some(2), Some(1)));
    assert_eq!(events.len(), 1, "{events:?}");
    let child = &state.cases[&case()].hops[&2];
    assert_eq!((child.parent, child.depth, child.traced, child.open), (Some(1), 2, Fen::new(6_000), true));
    assert_eq!(child.account.as_ref(), Some(&account(2)));
    assert!(matches!(&actions[..], [Action::Stop { hop: 2, .. }]));

    let last = vec![entry(Direction::In, 6_000, 6_000, Counterparty::Account(account(1)), "t2")];
    let (events, actions) = check(&mut state, &CoreConfig::default(), answered(2, 6_000, last));
    assert!(actions.is_empty());
    let Some(FreezingEvent::TraceCompleted { claimed_fen, cashed_out_fen, time_to_freeze_ms, .. }) = events.last()
    else {
        panic!("trace should complete: {events:?}")
    };
    assert_eq!((*claimed_fen, *cashed_out_fen), (Fen::new(7_000), Fen::new(3_000)));
    assert_eq!(*time_to_freeze_ms, Some(100));
}

#[test]
fn given_a_held_claim_when_the_bank_queues_it_then_the_center_ahead_is_recorded_or_the_reply_refused() {
    let mut state = State::default();
    check(&mut state, &CoreConfig::default(), reported(10_000));
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
    check(&mut state, &CoreConfig::default(), answered(1, 10_000, statement));
    let queued = |queued_behind: Option<City>| Input::FreezeAnswered {
        request_id: String::new(),
        case_id: case(),
        account: account(1),
        result: Ok(FreezeReply {
            status: FreezeStatus::Queued,
            frozen_fen: Fen::ZERO,
            expires_at_ms: 9_000,
            frozen_at_ms: 3_000,
            queued_behind,
        }),
    };
    // Not a queued freeze the protocol knows: a failed attempt (here, at the stop's lapse,
    // followed by the renewal).
    let Decided { events, requests } =
        decide(&state, &CoreConfig::default(), answering(&state, queued(None)), 3_000).unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert!(
        matches!(&requests[..], [Action::RenewStop { after, .. }] if after.contains("without naming")),
        "{requests:?}"
    );
    let ahead = City::parse("wenzhou").unwrap();
    let events = decided(&state, &CoreConfig::default(), queued(Some(ahead.clone())), 3_000);
    assert!(
        matches!(&events[..], [FreezingEvent::FreezeQueued { queued_behind, claim_fen, .. }] if *queued_behind == ahead && *claim_fen == Fen::new(10_000)),
        "{events:?}"
    );
}

#[test]
fn a_claim_awaits_its_conversion_until_frozen_queued_or_failed_and_a_renewal_moves_it() {
    let config = CoreConfig { freeze_after_ms: 500, ..CoreConfig::default() };
    let mut state = State::default();
    check(&mut state, &config, reported(10_000));
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(1_000)), "v")];
    let (events, _) = check(&mut state, &config, answered(1, 10_000, statement));
    let key = (case(), account(1));
    assert_eq!(events.iter().filter_map(conversion_touched).collect::<Vec<_>>(), vec![key.clone()]);
    // Stopped at 1,000 (the `check` clock), lapsing at 2,000: sooner than the lapse
    // margin, so converted at once.
    let waiting = state.conversions[&key];
    assert_eq!(waiting, Conversion::held(Some(1_000), 2_000, 1));
    assert_eq!(conversion_due(&config, &waiting), 1_000);

    let renewed = Input::StopRenewed { case_id: case(), account: account(1), result: Ok((2, 50_000_000)) };
    let events = decided(&state, &config, renewed, 1_800);
    events.iter().for_each(|e| apply(&mut state, e));
    assert_eq!(state.conversions[&key], Conversion::held(Some(1_800), 50_000_000, 2));
    assert_eq!(conversion_due(&config, &state.conversions[&key]), 2_300);

    let frozen = Input::FreezeAnswered {
        request_id: String::new(),
        case_id: case(),
        account: account(1),
        result: Ok(FreezeReply {
            status: FreezeStatus::Frozen,
            frozen_fen: Fen::new(10_000),
            expires_at_ms: 90_000_000,
            frozen_at_ms: 2_300,
            queued_behind: None,
        }),
    };
    let events = decided(&state, &config, frozen, 2_300);
    events.iter().for_each(|e| apply(&mut state, e));
    assert!(state.conversions.is_empty(), "a frozen claim awaits nothing: {:?}", state.conversions);
    // A renewal recorded before its time was kept converts at the latest safe moment.
    let old = Conversion::held(None, 50_000_000, 2);
    assert_eq!(conversion_due(&config, &old), 50_000_000 - LAPSE_MARGIN_MS);
}

#[test]
fn a_stop_is_converted_after_the_configured_delay_but_always_before_its_lapse() {
    const HOUR: u64 = 60 * 60 * 1000;
    let lapse = 48 * HOUR;
    let quick = CoreConfig { freeze_after_ms: 10 * 60 * 1000, ..CoreConfig::default() };
    assert_eq!(freeze_due(&quick, 1_000, 1_000 + lapse), 1_000 + 10 * 60 * 1000);
    let slow = CoreConfig { freeze_after_ms: 72 * HOUR, ..CoreConfig::default() };
    assert_eq!(freeze_due(&slow, 1_000, 1_000 + lapse), 1_000 + lapse - LAPSE_MARGIN_MS);
    // A stop about to lapse (or already lapsed) is converted at once.
    assert_eq!(freeze_due(&quick, 5 * HOUR, 5 * HOUR + 60_000), 5 * HOUR);
    assert_eq!(freeze_due(&quick, 5 * HOUR, 0), 5 * HOUR);
}

#[test]
fn given_an_account_held_for_one_case_when_another_case_reads_it_then_it_claims_only_the_rest() {
    let mut state = State::default();
    let config = CoreConfig::default();
    check(&mut state, &config, reported(10_000));
    let first = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v1")];
    check(&mut state, &config, answered(1, 10_000, first));
    // A second victim's money arrives in the held account afterwards.
    let other = CaseId::derive(&City::parse("huzhou").unwrap(), 2);
    let transfers =
        vec![Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(5_000), at_ms: 20 }];
    let report =
        Input::CaseReported { case_id: other.clone(), reported_at_ms: 950, transfers, reported_loss: Fen::new(5_000) };
    let events = decided(&state, &config, report, 1_000);
    events.iter().for_each(|e| apply(&mut state, e));
    let actions = actions(&state, &events, 1_000);
    assert!(matches!(&actions[..], [Action::Read { .. }]), "an account held for another case is read: {actions:?}");
    let statement = vec![
        entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v1"),
        entry(Direction::In, 5_000, 15_000, Counterparty::Account(account(98)), "v2"),
    ];
    let read = Input::AccountAnswered {
        case_id: other.clone(),
        hop: 1,
        asked_at_ms: 1_000,
        result: Ok(Statement { stop_no: 0, held: Fen::new(15_000), expires_at_ms: 0, since_ms: 0, entries: statement }),
    };
    let events = decided(&state, &config, read, 1_100);
    events.iter().for_each(|e| apply(&mut state, e));
    let FreezingEvent::AccountStopped { claim_fen, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(*claim_fen, Fen::new(5_000));
    let hold = &state.holds[&account(1)];
    assert_eq!(hold.held, Fen::new(15_000));
    assert_eq!(hold.claims.values().copied().map(Fen::get).sum::<u64>(), 15_000);
}

#[test]
fn given_the_depth_bound_when_money_moves_deeper_then_the_hop_ends() {
    let mut state = State::default();
    let config = CoreConfig { max_depth: 1, ..CoreConfig::default() };
    check(&mut state, &config, reported(10_000));
    let statement = vec![
        entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v"),
        entry(Direction::Out, 10_000, 0, Counterparty::Account(account(2)), "t2"),
    ];
    let (events, actions) = check(&mut state, &config, answered(1, 0, statement));
    assert!(actions.is_empty());
    assert!(events.iter().any(|e| matches!(e, FreezingEvent::HopEnded { reason: HopEnd::DepthLimit, .. })));
    assert!(
        matches!(events.last(), Some(FreezingEvent::TraceCompleted { untraced_fen, .. }) if *untraced_fen == Fen::new(10_000))
    );
}

#[test]
fn given_two_payments_into_one_account_then_one_stop_follows_both() {
    let mut state = State::default();
    let input = Input::CaseReported {
        case_id: case(),
        reported_at_ms: 900,
        transfers: vec![
            Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(500), at_ms: 5 },
            Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(700), at_ms: 6 },
        ],
        reported_loss: Fen::new(1_200),
    };
    let (_, actions) = check(&mut state, &CoreConfig::default(), input);
    assert_eq!(actions.len(), 1, "one stop-payment per case and account");
    assert_eq!(state.cases[&case()].hops[&1].traced, Fen::new(1_200));
}

#[test]
fn a_payment_order_is_resolved_with_an_id_derived_from_the_case_and_the_order() {
    let mut state = State::default();
    let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
    let input = Input::CaseReported {
        case_id: case(),
        reported_at_ms: 900,
        transfers: vec![Transfer {
            from_account: None,
            to: Destination::Order(order.clone()),
            amount: Fen::new(5_000),
            at_ms: 5,
        }],
        reported_loss: Fen::new(5_000),
    };
    let (_, actions) = check(&mut state, &CoreConfig::default(), input);
    let request_id = format!("{}/wechatpay:4200001234ABC/resolve", case());
    assert_eq!(actions, vec![Action::Resolve { case_id: case(), hop: 1, order: order.clone(), request_id }]);
    let failed = Input::OrderResolved {
        case_id: case(),
        hop: 1,
        asked_at_ms: 0,
        result: Err(timed_out(&protocol::subjects::platform(
            &order.platform(),
            protocol::subjects::platform_verb::RESOLVE,
        ))),
    };
    // Past the retry window (a report made hours ago), a platform that does not answer ends
    // the hop.
    let late = CoreConfig { retry_window_ms: 0, ..CoreConfig::default() };
    let (events, _) = check(&mut state, &late, failed);
    assert!(
        matches!(&events[0], FreezingEvent::HopEnded { reason: HopEnd::Failed, detail, .. } if detail.contains("no answer"))
    );
}

#[test]
fn a_resolution_that_answers_about_another_order_ends_the_hop_failed() {
    let mut state = State::default();
    let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
    let input = Input::CaseReported {
        case_id: case(),
        reported_at_ms: 900,
        transfers: vec![Transfer {
            from_account: None,
            to: Destination::Order(order),
            amount: Fen::new(5_000),
            at_ms: 5,
        }],
        reported_loss: Fen::new(5_000),
    };
    check(&mut state, &CoreConfig::default(), input);
    let other = PaymentOrderRef::parse("wechatpay:4200009999ZZZ").unwrap();
    let reply = ResolveOrderReply {
        order: other,
        account: account(7),
        amount_fen: Fen::new(5_000),
        settled_at_ms: 6,
        transfer_id: "t7".into(),
        payer: None,
    };
    let answered = Input::OrderResolved { case_id: case(), hop: 1, asked_at_ms: 0, result: Ok(reply) };
    let (events, actions) = check(&mut state, &CoreConfig::default(), answered);
    assert!(actions.is_empty(), "nothing is stopped on another order's word: {actions:?}");
    assert!(
        matches!(&events[0], FreezingEvent::HopEnded { reason: HopEnd::Failed, detail, .. } if detail.contains("another order") || detail.contains("4200009999ZZZ")),
        "{events:?}"
    );
}

#[test]
fn a_stop_with_more_onward_transfers_than_an_event_holds_opens_the_rest_by_hop_opened() {
    // Enough legs that one event holding them all would be over MAX_EVENT_BYTES.
    let legs = 3_000;
    let config = CoreConfig::default();
    let mut live = State::default();
    let traced = 100 * legs as u64;
    let mut log = check(&mut live, &config, reported(traced)).0;
    let mut statement = vec![entry(Direction::In, traced, traced, Counterparty::Account(account(99_999)), "v")];
    for i in 0..legs {
        let balance = traced - 100 * (i as u64 + 1);
        let to = Counterparty::Account(account(10_000 + i as u32));
        statement.push(entry(Direction::Out, 100, balance, to, &format!("t{i}")));
    }
    let (events, actions) = check(&mut live, &config, answered(1, 0, statement));
    let FreezingEvent::AccountStopped { onward, first_onward_hop, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!((onward.len(), *first_onward_hop), (crate::limits::MAX_ONWARD_IN_STOP, Some(2)));
    let opened: Vec<HopId> = events
        .iter()
        .filter_map(|e| match e {
            FreezingEvent::HopOpened { hop, parent: Some(1), .. } => Some(*hop),
            _ => None,
        })
        .collect();
    assert_eq!(opened, (2 + crate::limits::MAX_ONWARD_IN_STOP as HopId..2 + legs as HopId).collect::<Vec<_>>());
    assert_eq!(actions.len(), legs, "every onward account is stopped");
    // Every event fits what a commit takes.
    for (seq, event) in (1..).zip(&events) {
        let city = City::parse("huzhou").unwrap();
        let envelope = events::Envelope::new(city, seq, 1, events::Payload::Freezing(event.clone()));
        assert!(events::encode(&envelope).is_ok(), "{} is too large", event.name());
    }
    // The log replays to the same hops.
    log.extend(events);
    let mut replayed = State::default();
    log.iter().for_each(|e| apply(&mut replayed, e));
    assert_eq!(pending_actions(&replayed, 1_000), pending_actions(&live, 1_000));
    assert_eq!(pending_actions(&replayed, 1_000).len(), legs);
}

pub(super) fn bank_subject(verb: &str) -> String {
    protocol::subjects::bank(&account(1).bank(), verb)
}

pub(super) fn timed_out(subject: &str) -> AdapterError {
    AdapterError { subject: subject.into(), kind: AdapterErrorKind::Timeout(Duration::from_secs(5)), attempts: 4 }
}

/// A case whose one account holds all of its 10,000 fen, stopped once.
pub(super) fn held_case(config: &CoreConfig) -> State {
    let mut state = State::default();
    check(&mut state, config, reported(10_000));
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
    check(&mut state, config, answered(1, 10_000, statement));
    state
}

fn other_case() -> CaseId {
    CaseId::derive(&City::parse("huzhou").unwrap(), 2)
}

fn reported_by(case_id: CaseId, amount: u64, at_ms: TimeMs) -> Input {
    let transfers =
        vec![Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(amount), at_ms }];
    Input::CaseReported { case_id, reported_at_ms: 900, transfers, reported_loss: Fen::new(amount) }
}

#[test]
fn two_cases_reaching_one_account_at_once_send_the_same_first_stop() {
    let (config, mut state) = (CoreConfig::default(), State::default());
    let (_, first) = check(&mut state, &config, reported_by(case(), 10_000, 5));
    let (_, second) = check(&mut state, &config, reported_by(other_case(), 5_000, 7));
    let id = |actions: &[Action]| match actions {
        [Action::Stop { request_id, .. }] => request_id.clone(),
        other => panic!("one stop: {other:?}"),
    };
    assert_eq!(id(&first), id(&second), "the bank applies one stop for both");
    assert_eq!(id(&first), format!("huzhou/{}/stop1", account(1)));
}

#[test]
fn a_repeated_stop_answered_with_a_statement_that_starts_after_the_arrival_is_followed_by_a_read() {
    let (config, mut state) = (CoreConfig::default(), State::default());
    check(&mut state, &config, reported_by(other_case(), 5_000, 3));
    // The bank applied the other case's stop first (its statement from 8 on) and answers
    // this one with it: this case's money arrived at 3, before the statement starts.
    let statement =
        Statement { stop_no: 1, held: Fen::new(5_000), expires_at_ms: 2_000, since_ms: 8, entries: Vec::new() };
    let answered = Input::AccountAnswered { case_id: other_case(), hop: 1, asked_at_ms: 0, result: Ok(statement) };
    let Step { events, actions } = step(&mut state, &config, answered, 1_000).unwrap();
    assert!(events.is_empty(), "nothing decided on a statement that may miss the arrival: {events:?}");
    // Read from the arrival window before it on.
    let since_ms = 3u64.saturating_sub(crate::rule::ARRIVAL_WINDOW_MS);
    assert_eq!(actions, vec![Action::Read { case_id: other_case(), hop: 1, account: account(1), since_ms }]);
    assert!(state.cases[&other_case()].hops[&1].open, "the hop waits for the read");
}

#[test]
fn a_hold_that_lapsed_unfrozen_is_stopped_again_while_a_stop_is_left_and_read_after() {
    let config = CoreConfig::default();
    let mut state = State::default();
    check(&mut state, &config, reported(10_000));
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
    check(&mut state, &config, answered(1, 10_000, statement));
    // The stop lapses at 2,000; new money of another case reaches the account at 5,000.
    let later = |state: &mut State| {
        let Step { actions, .. } =
            step(state, &config, reported_by(CaseId::derive(&City::parse("huzhou").unwrap(), 3), 1_000, 4_000), 5_000)
                .unwrap();
        actions
    };
    let actions = later(&mut state);
    assert!(matches!(&actions[..], [Action::Stop { request_id, .. }] if request_id.ends_with("/stop2")), "{actions:?}");
    // Once both stops are spent, the account can only be read.
    state.holds.get_mut(&account(1)).unwrap().stop_no = MAX_STOPS_PER_ACCOUNT;
    let mut spent = state;
    spent.cases.remove(&CaseId::derive(&City::parse("huzhou").unwrap(), 3));
    let actions = later(&mut spent);
    assert!(matches!(&actions[..], [Action::Read { .. }]), "{actions:?}");
}
