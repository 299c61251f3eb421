//! Given an account the case's trail already answered, when more of the case's money
//! reaches it: read again and claimed.

use super::*;

/// The case of two transfers: 10,000 into account 1 and 5,000 into account 2, whose bank
/// has not answered; account 1 is answered and holds the 10,000 (its claim).
fn first_account_answered(config: &CoreConfig) -> State {
    let mut state = State::default();
    let input = Input::CaseReported {
        case_id: case(),
        reported_at_ms: 900,
        transfers: vec![
            Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(10_000), at_ms: 5 },
            Transfer { from_account: None, to: Destination::Account(account(2)), amount: Fen::new(5_000), at_ms: 6 },
        ],
        reported_loss: Fen::new(15_000),
    };
    check(&mut state, config, input);
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v1")];
    check(&mut state, config, answered(1, 10_000, statement));
    state
}

/// Account 2 answers: its 5,000 went on to account 1 (answered already) by transfer `late`.
fn second_account_forwards_to_the_first() -> Input {
    let statement = vec![
        entry(Direction::In, 5_000, 5_000, Counterparty::Account(account(98)), "v2"),
        entry(Direction::Out, 5_000, 0, Counterparty::Account(account(1)), "late"),
    ];
    answered(2, 0, statement)
}

/// Account 1 read again (from before the first arrival, which the rule splits again with the
/// late one): the late 5,000 is in it, beside the 10,000 held before.
fn first_account_read_again(hop: HopId) -> Input {
    let statement = vec![
        entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v1"),
        entry(Direction::In, 5_000, 15_000, Counterparty::Account(account(2)), "late"),
    ];
    Input::AccountAnswered {
        case_id: case(),
        hop,
        asked_at_ms: 0,
        result: Ok(Statement { stop_no: 0, held: Fen::new(15_000), expires_at_ms: 0, since_ms: 0, entries: statement }),
    }
}

#[test]
fn money_reaching_an_account_after_it_was_answered_is_read_again_and_claimed() {
    let config = CoreConfig::default();
    let mut state = first_account_answered(&config);
    let (events, actions) = check(&mut state, &config, second_account_forwards_to_the_first());
    assert!(!events.iter().any(|e| matches!(e, FreezingEvent::HopEnded { .. })), "not ended as merged: {events:?}");
    let [Action::Read { hop, account: read, since_ms, .. }] = &actions[..] else {
        panic!("a read of account 1: {actions:?}")
    };
    assert_eq!(read, &account(1), "the center holds it: read, not stopped again");
    assert_eq!(*since_ms, 0, "read from the window before the case's first arrival there, at 5");
    let (events, _) = check(&mut state, &config, first_account_read_again(*hop));
    let Some(FreezingEvent::AccountStopped { claim_fen, stop_no: 0, .. }) = events.first() else {
        panic!("{events:?}")
    };
    assert_eq!(*claim_fen, Fen::new(5_000), "the late money is claimed");
    let Some(FreezingEvent::TraceCompleted { claimed_fen, untraced_fen, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!((*claimed_fen, *untraced_fen), (Fen::new(15_000), Fen::ZERO));
    assert_eq!(state.holds[&account(1)].claims[&case()], Fen::new(15_000), "one claim of the case, grown");
    // The claim awaited its freeze still: the freeze asks for all of it.
    let due = Input::ConversionDue { case_id: case(), account: account(1) };
    let Step { actions, .. } = step(&mut state, &config, due, 2_000).unwrap();
    assert!(matches!(&actions[..], [Action::Freeze { amount, .. }] if *amount == Fen::new(15_000)), "{actions:?}");
}

#[test]
fn money_reaching_an_account_whose_claim_was_frozen_gets_a_freeze_of_its_own() {
    let config = CoreConfig::default();
    let mut state = first_account_answered(&config);
    let frozen = FreezeReply {
        status: FreezeStatus::Frozen,
        frozen_fen: Fen::new(10_000),
        expires_at_ms: 90_000,
        frozen_at_ms: 1_000,
        queued_behind: None,
    };
    check(
        &mut state,
        &config,
        Input::FreezeAnswered { request_id: String::new(), case_id: case(), account: account(1), result: Ok(frozen) },
    );
    assert!(state.conversions.is_empty());
    let (_, actions) = check(&mut state, &config, second_account_forwards_to_the_first());
    let [Action::Read { hop, .. }] = &actions[..] else { panic!("{actions:?}") };
    check(&mut state, &config, first_account_read_again(*hop));
    let due = Input::ConversionDue { case_id: case(), account: account(1) };
    let Step { actions, .. } = step(&mut state, &config, due, 2_000).unwrap();
    let [Action::Freeze { amount, request_id, .. }] = &actions[..] else { panic!("{actions:?}") };
    assert_eq!(*amount, Fen::new(5_000), "only the late money");
    assert_eq!(request_id, &freeze_request_id(&case(), &account(1), 1, Fen::new(10_000)));
}
