//! Given a claim on a held account: when it falls due, fails, is retried, renewed, frozen
//! in part or at risk of lapsing.

use super::*;
use crate::limits::{FREEZE_RENEWAL_LEAD_MS, FREEZE_RETRY_BACKOFF_MS, LAST_ATTEMPT_MARGIN_MS, MAX_FREEZE_PARTS};

const HOUR: u64 = 60 * 60 * 1000;
/// When the stop of [`held_48h`] was made and lapses.
const STOPPED: TimeMs = 1_000;
const LAPSE: TimeMs = STOPPED + 48 * HOUR;

/// A case whose one account holds all of its 10,000 fen under a first stop-payment made at
/// [`STOPPED`] and lapsing 48 h later, as a bank answers.
fn held_48h(config: &CoreConfig) -> State {
    let mut state = State::default();
    check(&mut state, config, reported(10_000));
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
    let answer = Input::AccountAnswered {
        case_id: case(),
        hop: 1,
        asked_at_ms: 0,
        result: Ok(Statement {
            stop_no: 1,
            held: Fen::new(10_000),
            expires_at_ms: LAPSE,
            since_ms: 0,
            entries: statement,
        }),
    };
    step(&mut state, config, answer, STOPPED).unwrap();
    state
}

fn key() -> (CaseId, AccountRef) {
    (case(), account(1))
}

fn freeze_failed() -> Input {
    Input::FreezeAnswered {
        request_id: String::new(),
        case_id: case(),
        account: account(1),
        result: Err(timed_out(&bank_subject(bank_verb::FREEZE))),
    }
}

fn frozen(amount: u64, at_ms: TimeMs) -> Input {
    let reply = FreezeReply {
        status: FreezeStatus::Frozen,
        frozen_fen: Fen::new(amount),
        expires_at_ms: at_ms + 180 * 24 * HOUR,
        frozen_at_ms: at_ms,
        queued_behind: None,
    };
    Input::FreezeAnswered { request_id: String::new(), case_id: case(), account: account(1), result: Ok(reply) }
}

/// The freeze the claim's timer asks for at `now`.
fn freeze_asked(state: &mut State, config: &CoreConfig, now: TimeMs) -> (Fen, String) {
    let due = Input::ConversionDue { case_id: case(), account: account(1) };
    match &step(state, config, due, now).unwrap().actions[..] {
        [Action::Freeze { amount, request_id, .. }] => (*amount, request_id.clone()),
        other => panic!("one freeze: {other:?}"),
    }
}

/// Fails the freeze at every due time from `from` until the core stops retrying; returns the
/// attempts made and what the last failure decided.
fn fail_until_given_up(state: &mut State, config: &CoreConfig, from: TimeMs) -> (Vec<TimeMs>, Step) {
    let mut now = from;
    let mut attempts = Vec::new();
    loop {
        attempts.push(now);
        let (_, id) = freeze_asked(state, config, now);
        assert_eq!(id, freeze_request_id(&case(), &account(1), state.holds[&account(1)].stop_no, Fen::ZERO));
        let decided = step(state, config, freeze_failed(), now).unwrap();
        match decided.events.iter().find(|e| matches!(e, FreezingEvent::FreezeRetrying { .. })) {
            Some(FreezingEvent::FreezeRetrying { retry_at_ms, .. }) => {
                assert_eq!(conversion_due(config, &state.conversions[&key()]), *retry_at_ms);
                now = *retry_at_ms;
            }
            _ => return (attempts, decided),
        }
    }
}

#[test]
fn given_a_claim_awaiting_conversion_when_it_is_due_then_a_freeze_of_the_claim_is_requested() {
    let config = CoreConfig::default();
    let mut state = held_case(&config);
    let due = Input::ConversionDue { case_id: case(), account: account(1) };
    let Step { events, actions } = step(&mut state, &config, due.clone(), 2_000).unwrap();
    assert!(events.is_empty(), "asking for a freeze records nothing: {events:?}");
    assert_eq!(
        actions,
        vec![Action::Freeze {
            case_id: case(),
            account: account(1),
            amount: Fen::new(10_000),
            request_id: freeze_request_id(&case(), &account(1), 1, Fen::ZERO),
        }]
    );
    assert_eq!(freeze_request_id(&case(), &account(1), 1, Fen::ZERO), format!("{}/icbc:00000001/freeze", case()));
    // Once frozen, the claim awaits nothing: a late timer, or a repeated answer, is refused.
    step(&mut state, &config, frozen(10_000, 2_100), 2_100).unwrap();
    let not_awaiting = Err(Rejection::NotAwaitingConversion { case_id: case(), account: account(1) });
    assert_eq!(step(&mut state, &config, due, 2_200), not_awaiting);
    assert_eq!(step(&mut state, &config, frozen(10_000, 2_100), 2_200), not_awaiting);
    let stranger = Input::ConversionDue { case_id: case(), account: account(7) };
    assert_eq!(
        step(&mut state, &config, stranger, 2_200),
        Err(Rejection::NoClaim { case_id: case(), account: account(7) })
    );
}

#[test]
fn a_failing_freeze_is_retried_with_backoff_under_its_id_until_an_hour_before_the_lapse_then_the_stop_is_renewed() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let first = conversion_due(&config, &state.conversions[&key()]);
    assert_eq!(first, STOPPED + config.freeze_after_ms);

    let (attempts, last) = fail_until_given_up(&mut state, &config, first);
    // The pauses follow the backoff, its last step repeating.
    let pauses: Vec<u64> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(pauses[..FREEZE_RETRY_BACKOFF_MS.len()], FREEZE_RETRY_BACKOFF_MS);
    assert!(pauses[FREEZE_RETRY_BACKOFF_MS.len()..].iter().all(|p| *p == FREEZE_RETRY_BACKOFF_MS[4]));
    // Tried until the renewal lead, not given up after a few seconds.
    let last_attempt = *attempts.last().unwrap();
    assert!(last_attempt <= LAPSE - FREEZE_RENEWAL_LEAD_MS, "{last_attempt}");
    assert!(last_attempt + FREEZE_RETRY_BACKOFF_MS[4] > LAPSE - FREEZE_RENEWAL_LEAD_MS, "{last_attempt}");
    assert!(attempts.len() > 90, "about every 30 minutes for 47 hours: {}", attempts.len());
    // Then the stop is renewed (the second and last stop), and nothing is recorded yet.
    assert!(last.events.is_empty(), "{:?}", last.events);
    let [Action::RenewStop { request_id, since_ms, after, .. }] = &last.actions[..] else {
        panic!("a renewal: {:?}", last.actions)
    };
    assert_eq!(request_id, &stop_request_id(&case().city(), &account(1), MAX_STOPS_PER_ACCOUNT));
    assert_eq!(*since_ms, last_attempt);
    assert!(after.contains("no answer within"), "{after}");
    assert!(state.conversions.contains_key(&key()), "the claim still awaits its freeze");
}

#[test]
fn after_the_renewal_the_freeze_is_asked_for_under_a_new_id_and_the_claim_ends_frozen() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let renewed_at = LAPSE - FREEZE_RENEWAL_LEAD_MS;
    let renewed = Input::StopRenewed { case_id: case(), account: account(1), result: Ok((2, renewed_at + 48 * HOUR)) };
    let Step { events, .. } = step(&mut state, &config, renewed, renewed_at).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::StopRenewed { stop_no: 2, .. }]), "{events:?}");
    assert_eq!(conversion_due(&config, &state.conversions[&key()]), renewed_at + config.freeze_after_ms);

    let (amount, id) = freeze_asked(&mut state, &config, renewed_at + config.freeze_after_ms);
    assert_eq!(amount, Fen::new(10_000));
    assert_ne!(id, freeze_request_id(&case(), &account(1), 1, Fen::ZERO), "a new request after the renewal");
    assert!(id.ends_with("/freeze2"), "{id}");
    let Step { events, .. } = step(&mut state, &config, frozen(10_000, renewed_at + 1), renewed_at + 1).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::AccountFrozen { .. }]), "{events:?}");
    assert!(state.conversions.is_empty());
}

#[test]
fn with_no_renewal_left_a_failing_freeze_raises_one_alert_within_the_margin_and_fails_for_good_at_the_last_margin() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let renewed_at = 2 * HOUR;
    let lapse = renewed_at + 48 * HOUR;
    let renewed = Input::StopRenewed { case_id: case(), account: account(1), result: Ok((2, lapse)) };
    step(&mut state, &config, renewed, renewed_at).unwrap();

    let mut alerts = Vec::new();
    let mut now = renewed_at + config.freeze_after_ms;
    let given_up = loop {
        freeze_asked(&mut state, &config, now);
        let Step { events, actions } = step(&mut state, &config, freeze_failed(), now).unwrap();
        assert!(actions.is_empty(), "no third stop: {actions:?}");
        for event in &events {
            if let FreezingEvent::FreezeAtRisk { claim_fen, expires_at_ms, .. } = event {
                alerts.push((now, *claim_fen, *expires_at_ms));
            }
        }
        match events.last() {
            Some(FreezingEvent::FreezeRetrying { retry_at_ms, .. }) => now = *retry_at_ms,
            Some(FreezingEvent::FreezeFailed { reason, .. }) => break (now, reason.clone()),
            other => panic!("retrying or failed: {other:?}"),
        }
    };
    let [(alerted_at, claim, expires)] = alerts[..] else { panic!("one alert: {alerts:?}") };
    assert_eq!((claim, expires), (Fen::new(10_000), lapse));
    assert!(
        lapse - alerted_at <= config.at_risk_margin_ms,
        "alerted {} h before the lapse",
        (lapse - alerted_at) / HOUR
    );
    assert!(
        lapse - alerted_at > config.at_risk_margin_ms - FREEZE_RETRY_BACKOFF_MS[4],
        "as soon as it is within the margin"
    );
    let (failed_at, reason) = given_up;
    assert!(
        failed_at <= lapse - LAST_ATTEMPT_MARGIN_MS
            && failed_at + FREEZE_RETRY_BACKOFF_MS[4] > lapse - LAST_ATTEMPT_MARGIN_MS
    );
    assert!(reason.contains("attempt(s)"), "{reason}");
    assert!(state.conversions.is_empty());
}

#[test]
fn a_failed_renewal_with_time_left_keeps_the_claim_and_the_freeze_is_tried_again() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let at = LAPSE - FREEZE_RENEWAL_LEAD_MS;
    let refused = || Input::StopRenewed {
        case_id: case(),
        account: account(1),
        result: Err(timed_out(&bank_subject(bank_verb::STOP_PAYMENT))),
    };
    let Step { events, .. } = step(&mut state, &config, refused(), at).unwrap();
    let [FreezingEvent::FreezeAtRisk { .. }, FreezingEvent::FreezeRetrying { retry_at_ms, reason, .. }] = &events[..]
    else {
        panic!("an alert (an hour is left and the renewal failed) and a retry: {events:?}")
    };
    assert!(reason.contains("could not be renewed"), "{reason}");
    // The freeze is tried again; failing, the renewal is asked for again (the same stop).
    let (_, id) = freeze_asked(&mut state, &config, *retry_at_ms);
    assert_eq!(id, freeze_request_id(&case(), &account(1), 1, Fen::ZERO));
    let Step { actions, .. } = step(&mut state, &config, freeze_failed(), *retry_at_ms).unwrap();
    assert!(
        matches!(&actions[..], [Action::RenewStop { request_id, .. }] if request_id.ends_with("/stop2")),
        "{actions:?}"
    );
    // A renewal failing within the last margin ends the claim's freeze.
    let Step { events, .. } = step(&mut state, &config, refused(), LAPSE - LAST_ATTEMPT_MARGIN_MS).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::FreezeFailed { .. }]), "no second alert: {events:?}");
}

#[test]
fn a_bank_freezing_less_than_the_claim_is_asked_for_the_rest_which_it_queues() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let due = STOPPED + config.freeze_after_ms;
    freeze_asked(&mut state, &config, due);
    let Step { events, .. } = step(&mut state, &config, frozen(6_000, due), due).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::AccountFrozen { frozen_fen, .. }] if *frozen_fen == Fen::new(6_000)));
    // The rest is asked for at once, under an id of its own.
    assert!(conversion_due(&config, &state.conversions[&key()]) <= due);
    let (amount, id) = freeze_asked(&mut state, &config, due);
    assert_eq!(amount, Fen::new(4_000));
    assert!(id.ends_with("/freeze/after6000"), "{id}");
    let queued = FreezeReply {
        status: FreezeStatus::Queued,
        frozen_fen: Fen::ZERO,
        expires_at_ms: due + 180 * 24 * HOUR,
        frozen_at_ms: due,
        queued_behind: Some(City::parse("wenzhou").unwrap()),
    };
    let answer =
        Input::FreezeAnswered { request_id: String::new(), case_id: case(), account: account(1), result: Ok(queued) };
    let Step { events, .. } = step(&mut state, &config, answer, due).unwrap();
    assert!(
        matches!(&events[..], [FreezingEvent::FreezeQueued { claim_fen, .. }] if *claim_fen == Fen::new(4_000)),
        "{events:?}"
    );
    assert!(state.conversions.is_empty());
}

#[test]
fn a_claim_frozen_in_parts_stops_asking_at_the_bound_and_a_bank_freezing_nothing_ends_it() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let due = STOPPED + config.freeze_after_ms;
    for part in 1..=MAX_FREEZE_PARTS {
        let (_, id) = freeze_asked(&mut state, &config, due);
        assert_eq!(id, freeze_request_id(&case(), &account(1), 1, Fen::new(u64::from(part - 1) * 100)));
        step(&mut state, &config, frozen(100, due), due).unwrap();
    }
    assert!(state.conversions.is_empty(), "{} parts at most", MAX_FREEZE_PARTS);

    let mut state = held_48h(&config);
    freeze_asked(&mut state, &config, due);
    let Step { events, .. } = step(&mut state, &config, frozen(0, due), due).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::AccountFrozen { frozen_fen, .. }] if frozen_fen.is_zero()));
    assert!(state.conversions.is_empty(), "nothing free and nothing to queue behind: recorded as it is");
    // A bank claiming to freeze more than was asked is recorded at the amount asked.
    let mut state = held_48h(&config);
    freeze_asked(&mut state, &config, due);
    let Step { events, .. } = step(&mut state, &config, frozen(99_999, due), due).unwrap();
    assert!(
        matches!(&events[..], [FreezingEvent::AccountFrozen { frozen_fen, .. }] if *frozen_fen == Fen::new(10_000))
    );
}

#[test]
fn an_answer_for_a_hop_that_ended_is_refused_and_changes_nothing() {
    let config = CoreConfig::default();
    let mut state = held_case(&config);
    let again = answered(1, 10_000, Vec::new());
    assert_eq!(step(&mut state, &config, again, 3_000), Err(Rejection::HopNotOpen { case_id: case(), hop: 1 }));
    let unknown = Input::AccountAnswered {
        case_id: CaseId::derive(&City::parse("huzhou").unwrap(), 9),
        hop: 1,
        asked_at_ms: 0,
        result: Ok(Statement { stop_no: 1, held: Fen::ZERO, expires_at_ms: 0, since_ms: 0, entries: Vec::new() }),
    };
    assert!(matches!(step(&mut state, &config, unknown, 3_000), Err(Rejection::HopNotOpen { .. })));
}

#[test]
fn the_lapse_margin_bounds_every_conversion() {
    let config = CoreConfig { freeze_after_ms: u64::MAX, ..CoreConfig::default() };
    let lapse = 48 * 3_600_000;
    assert_eq!(freeze_due(&config, 0, lapse), lapse - LAPSE_MARGIN_MS);
}

#[test]
fn a_case_traced_and_every_claim_converted_is_released_and_never_traced_again() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    assert!(state.cases[&case()].completed, "the trace is complete");
    assert_eq!(state.cases[&case()].claims_pending, 1, "kept while its claim awaits its freeze");
    let due = STOPPED + config.freeze_after_ms;
    freeze_asked(&mut state, &config, due);
    step(&mut state, &config, frozen(10_000, due), due).unwrap();
    assert!(state.cases.is_empty(), "the closed case's trace is released");
    assert!(state.closed.contains(&case()));
    assert_eq!(step(&mut state, &config, reported(10_000), due), Err(Rejection::AlreadyTraced { case_id: case() }));
    // What a later case needs of the account is kept: the center's hold and its claims.
    assert_eq!(state.holds[&account(1)].claims[&case()], Fen::new(10_000));
}

#[test]
fn an_answer_to_another_freeze_than_the_one_awaited_is_refused_and_records_nothing() {
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let due = STOPPED + config.freeze_after_ms;
    let (_, first) = freeze_asked(&mut state, &config, due);
    let answer = |request_id: &str, amount| {
        let Input::FreezeAnswered { case_id, account, result, .. } = frozen(amount, due) else { unreachable!() };
        Input::FreezeAnswered { case_id, account, request_id: request_id.to_owned(), result }
    };
    // The bank froze 6,000 of the 10,000: recorded, and the rest asked for.
    step(&mut state, &config, answer(&first, 6_000), due).unwrap();
    // The same answer again (a repeated request answered from the bank's record) is not a
    // second freeze of 6,000.
    assert_eq!(
        step(&mut state, &config, answer(&first, 6_000), due),
        Err(Rejection::NotTheAwaitedFreeze { case_id: case(), account: account(1), request_id: first.clone() })
    );
    assert_eq!(state.conversions[&key()].frozen, Fen::new(6_000));
    let (_, rest) = freeze_asked(&mut state, &config, due);
    let Step { events, .. } = step(&mut state, &config, answer(&rest, 4_000), due).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::AccountFrozen { frozen_fen, .. }] if *frozen_fen == Fen::new(4_000)));
    assert!(state.conversions.is_empty());
}

/// A freeze holds the amount it froze, not the account: another victim's money that reaches
/// the account once the stop lapsed is held by nothing but a stop until its own freeze lands
/// (read only, it left in the minutes between the read and the freeze, wenzhou-month drill).
#[test]
fn given_an_account_frozen_for_one_case_when_new_money_reaches_it_after_the_stop_lapsed_then_the_second_stop_holds_it()
{
    let config = CoreConfig::default();
    let mut state = held_48h(&config);
    let due = conversion_due(&config, &state.conversions[&key()]);
    freeze_asked(&mut state, &config, due);
    step(&mut state, &config, frozen(10_000, due), due).unwrap();
    assert!(state.holds[&account(1)].frozen_until_ms.is_some_and(|until| until > LAPSE + 24 * HOUR));

    // A day after the stop lapsed, with the freeze in force, another victim pays 5,000 in.
    let (other, paid) = (CaseId::derive(&City::parse("huzhou").unwrap(), 2), LAPSE + 24 * HOUR);
    let reported_at_ms = paid + HOUR;
    let transfers = vec![Transfer {
        from_account: None,
        to: Destination::Account(account(1)),
        amount: Fen::new(5_000),
        at_ms: paid,
    }];
    let report =
        Input::CaseReported { case_id: other.clone(), reported_at_ms, transfers, reported_loss: Fen::new(5_000) };
    let Step { actions, .. } = step(&mut state, &config, report, reported_at_ms).unwrap();
    let [Action::Stop { request_id, since_ms, .. }] = &actions[..] else {
        panic!("the new money is stopped, not only read: {actions:?}")
    };
    assert_eq!(request_id, &stop_request_id(&other.city(), &account(1), 2));

    // The stop holds it: its claim is frozen after the configured delay, like any stop's.
    let answered_at = reported_at_ms + 1_000;
    let mut arrival = entry(Direction::In, 5_000, 15_000, Counterparty::Account(account(98)), "v2");
    arrival.at_ms = paid;
    let entries = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v"), arrival];
    let statement = Statement {
        stop_no: 2,
        held: Fen::new(15_000),
        expires_at_ms: answered_at + 48 * HOUR,
        since_ms: *since_ms,
        entries,
    };
    let answer =
        Input::AccountAnswered { case_id: other.clone(), hop: 1, asked_at_ms: reported_at_ms, result: Ok(statement) };
    let Step { events, .. } = step(&mut state, &config, answer, answered_at).unwrap();
    assert!(
        matches!(&events[0], FreezingEvent::AccountStopped { stop_no: 2, claim_fen, .. } if *claim_fen == Fen::new(5_000)),
        "{events:?}"
    );
    let conversion = &state.conversions[&(other, account(1))];
    assert_eq!(conversion_due(&config, conversion), answered_at + config.freeze_after_ms);

    // Once both stops are spent and the second lapsed, nothing is left but a read.
    let third = CaseId::derive(&City::parse("huzhou").unwrap(), 3);
    let late = answered_at + 49 * HOUR;
    let transfers = vec![Transfer {
        from_account: None,
        to: Destination::Account(account(1)),
        amount: Fen::new(2_000),
        at_ms: late,
    }];
    let report =
        Input::CaseReported { case_id: third, reported_at_ms: late, transfers, reported_loss: Fen::new(2_000) };
    let Step { actions, .. } = step(&mut state, &config, report, late).unwrap();
    assert!(matches!(&actions[..], [Action::Read { .. }]), "{actions:?}");
}

/// The state's count of claims at risk, and the claims flagged, counted one by one.
fn at_risk(state: &State) -> (usize, usize) {
    (state.claims_at_risk(), state.conversions.values().filter(|c| c.at_risk).count())
}

#[test]
fn a_claim_at_risk_is_counted_once_until_a_renewed_stop_or_its_freeze_settles_it() {
    let config = CoreConfig::default();
    let at = LAPSE - FREEZE_RENEWAL_LEAD_MS;
    let refused = || Input::StopRenewed {
        case_id: case(),
        account: account(1),
        result: Err(timed_out(&bank_subject(bank_verb::STOP_PAYMENT))),
    };
    let retry_at = |events: &[FreezingEvent]| match events {
        [FreezingEvent::FreezeAtRisk { .. }, FreezingEvent::FreezeRetrying { retry_at_ms, .. }] => *retry_at_ms,
        other => panic!("an alert and a retry: {other:?}"),
    };

    // Renewed after all: a new stop is in force, and the claim is no longer at risk.
    let mut state = held_48h(&config);
    assert_eq!(at_risk(&state), (0, 0));
    let Step { events, .. } = step(&mut state, &config, refused(), at).unwrap();
    let retry_at_ms = retry_at(&events);
    assert_eq!(at_risk(&state), (1, 1));
    freeze_asked(&mut state, &config, retry_at_ms);
    step(&mut state, &config, freeze_failed(), retry_at_ms).unwrap();
    assert_eq!(at_risk(&state), (1, 1), "a claim at risk is counted once however often it fails");
    let renewed = Input::StopRenewed { case_id: case(), account: account(1), result: Ok((2, LAPSE + 48 * HOUR)) };
    let Step { events, .. } = step(&mut state, &config, renewed, retry_at_ms).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::StopRenewed { stop_no: 2, .. }]), "{events:?}");
    assert_eq!(state.conversions.len(), 1, "still awaiting its freeze");
    assert_eq!(at_risk(&state), (0, 0));

    // Frozen: nothing is at risk any more.
    let mut state = held_48h(&config);
    let Step { events, .. } = step(&mut state, &config, refused(), at).unwrap();
    let retry_at_ms = retry_at(&events);
    assert_eq!(at_risk(&state), (1, 1));
    freeze_asked(&mut state, &config, retry_at_ms);
    step(&mut state, &config, frozen(10_000, retry_at_ms), retry_at_ms).unwrap();
    assert!(state.conversions.is_empty());
    assert_eq!(at_risk(&state), (0, 0));

    // The count is not saved with a snapshot: it is counted again when one is read.
    let mut state = held_48h(&config);
    step(&mut state, &config, refused(), at).unwrap();
    let read = crate::shell::snapshot::decode(&crate::shell::snapshot::encode(&state)).unwrap();
    assert_eq!(at_risk(&read), (1, 1));
}
