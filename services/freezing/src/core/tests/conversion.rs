//! Given a claim on a held account: when it falls due, fails, is renewed or frozen.

use super::*;

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
            request_id: freeze_request_id(&case(), &account(1)),
        }]
    );
    assert_eq!(freeze_request_id(&case(), &account(1)), format!("{}/icbc:00000001/freeze", case()));
    // Once frozen, the claim awaits nothing: a late timer is refused.
    let frozen = FreezeReply {
        status: FreezeStatus::Frozen,
        frozen_fen: Fen::new(10_000),
        expires_at_ms: 90_000,
        frozen_at_ms: 2_100,
        queued_behind: None,
    };
    let answer = Input::FreezeAnswered { case_id: case(), account: account(1), result: Ok(frozen) };
    step(&mut state, &config, answer, 2_100).unwrap();
    assert_eq!(
        step(&mut state, &config, due, 2_200),
        Err(Rejection::NotAwaitingConversion { case_id: case(), account: account(1) })
    );
    let stranger = Input::ConversionDue { case_id: case(), account: account(7) };
    assert_eq!(
        step(&mut state, &config, stranger, 2_200),
        Err(Rejection::NoClaim { case_id: case(), account: account(7) })
    );
}

#[test]
fn given_one_stop_when_the_freeze_fails_then_the_stop_is_renewed_once_and_a_second_failure_is_final() {
    let config = CoreConfig::default();
    let mut state = held_case(&config);
    let failed = || Input::FreezeAnswered {
        case_id: case(),
        account: account(1),
        result: Err(timed_out(&bank_subject(bank_verb::FREEZE))),
    };
    let Step { events, actions } = step(&mut state, &config, failed(), 3_000).unwrap();
    assert!(events.is_empty(), "{events:?}");
    let [Action::RenewStop { request_id, since_ms, after, .. }] = &actions[..] else {
        panic!("a renewal: {actions:?}")
    };
    assert_eq!(request_id, &stop_request_id(&case().city(), &account(1), MAX_STOPS_PER_ACCOUNT));
    assert!(request_id.ends_with("/stop2"), "{request_id}");
    assert_eq!(*since_ms, 3_000);
    assert!(after.contains("no answer within"), "{after}");

    let renewed = Input::StopRenewed { case_id: case(), account: account(1), result: Ok((2, 3_000 + 48 * 3_600_000)) };
    let Step { events, .. } = step(&mut state, &config, renewed, 3_000).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::StopRenewed { stop_no: 2, .. }]), "{events:?}");
    assert_eq!(state.holds[&account(1)].stop_no, MAX_STOPS_PER_ACCOUNT);

    // Both stops spent: the next failure ends the claim's conversion.
    let Step { events, actions } = step(&mut state, &config, failed(), 4_000).unwrap();
    assert!(actions.is_empty(), "no third stop: {actions:?}");
    assert!(
        matches!(&events[..], [FreezingEvent::FreezeFailed { reason, .. }] if reason.contains(&bank_subject(bank_verb::FREEZE)))
    );
    assert!(state.conversions.is_empty());
}

#[test]
fn given_a_failed_renewal_then_the_freeze_failed_for_good() {
    let config = CoreConfig::default();
    let mut state = held_case(&config);
    let refused = Input::StopRenewed {
        case_id: case(),
        account: account(1),
        result: Err(timed_out(&bank_subject(bank_verb::STOP_PAYMENT))),
    };
    let Step { events, .. } = step(&mut state, &config, refused, 3_000).unwrap();
    assert!(
        matches!(&events[..], [FreezingEvent::FreezeFailed { reason, .. }] if reason.contains("could not be renewed")),
        "{events:?}"
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
