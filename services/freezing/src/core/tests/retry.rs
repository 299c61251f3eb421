//! Given a hop whose bank or platform could not answer: asked again while its failure's kind
//! and window allow, with the same request, and ended as failed once they do not.

use adapters::{AdapterError, AdapterErrorKind};
use protocol::adapter::{AdapterError as Refusal, AdapterErrorKind as RefusalKind};

use super::*;
use crate::limits::{HOP_RETRY_BACKOFF_MS, UNSETTLED_ORDER_WINDOW_MS};

fn failure(kind: AdapterErrorKind) -> AdapterError {
    AdapterError { subject: bank_subject(protocol::subjects::bank_verb::STOP_PAYMENT), kind, attempts: 4 }
}

fn refused(kind: RefusalKind) -> AdapterError {
    failure(AdapterErrorKind::Refused(Refusal { kind, message: "no".into() }))
}

fn stop_failed(failure: AdapterError) -> Input {
    Input::AccountAnswered { case_id: case(), hop: 1, asked_at_ms: 0, result: Err(failure) }
}

#[test]
fn given_a_bank_not_answering_then_the_hop_is_asked_again_with_the_same_stop_and_followed_when_it_answers() {
    let (config, mut state) = (CoreConfig::default(), State::default());
    let (_, first) = check(&mut state, &config, reported(10_000));
    let Step { events, actions } =
        step(&mut state, &config, stop_failed(failure(AdapterErrorKind::NoResponders)), 2_000).unwrap();
    let [FreezingEvent::HopRetrying { attempt: 1, retry_at_ms, first_failed_at_ms: 2_000, .. }] = &events[..] else {
        panic!("a retry: {events:?}")
    };
    assert_eq!(*retry_at_ms, 2_000 + HOP_RETRY_BACKOFF_MS[0]);
    assert!(actions.is_empty(), "nothing asked before the retry is due");
    assert!(state.cases[&case()].hops[&1].open);
    assert!(pending_actions(&state, 2_000).is_empty(), "a restart leaves it to the retry timer");
    assert_eq!(state.retries.get(&(case(), 1)), Some(retry_at_ms));

    // Due too early: refused; due: the same stop again.
    let due = || Input::RetryDue { case_id: case(), hop: 1 };
    assert_eq!(
        step(&mut state, &config, due(), *retry_at_ms - 1),
        Err(Rejection::NotRetrying { case_id: case(), hop: 1 })
    );
    let Step { events, actions } = step(&mut state, &config, due(), *retry_at_ms).unwrap();
    assert!(events.is_empty());
    assert_eq!(actions, first, "the same request, the same id");

    // Another failure: the next pause is longer, counted from the first failure.
    let Step { events, .. } =
        step(&mut state, &config, stop_failed(failure(AdapterErrorKind::NoResponders)), 8_000).unwrap();
    assert!(
        matches!(&events[..], [FreezingEvent::HopRetrying { attempt: 2, first_failed_at_ms: 2_000, retry_at_ms, .. }] if *retry_at_ms == 8_000 + HOP_RETRY_BACKOFF_MS[1]),
        "{events:?}"
    );
    // The bank answers: the hop is stopped and waits for nothing more.
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
    let Step { events, .. } = step(&mut state, &config, answered(1, 10_000, statement), 30_000).unwrap();
    assert!(matches!(&events[0], FreezingEvent::AccountStopped { .. }));
    assert!(state.retries.is_empty());
    assert_eq!(state.cases[&case()].hops[&1].retry, None);
}

#[test]
fn a_failure_that_asking_again_cannot_cure_or_past_the_window_ends_the_hop() {
    let config = CoreConfig::default();
    let ended = |failure: AdapterError, now: TimeMs| {
        let mut state = State::default();
        check(&mut state, &config, reported(10_000));
        let Step { events, .. } = step(&mut state, &config, stop_failed(failure), now).unwrap();
        matches!(&events[..], [FreezingEvent::HopEnded { reason: HopEnd::Failed, .. }, ..])
    };
    assert!(ended(refused(RefusalKind::UnknownAccount), 2_000), "an account the bank does not have");
    assert!(ended(failure(AdapterErrorKind::InvalidReply("garbage".into())), 2_000));
    assert!(!ended(refused(RefusalKind::Unavailable), 2_000), "unavailable is asked again");
    // Reported at 900: the window closes 2 h later.
    assert!(ended(failure(AdapterErrorKind::NoResponders), 900 + config.retry_window_ms));
}

#[test]
fn an_order_not_settled_yet_is_asked_about_again_for_a_while() {
    let config = CoreConfig::default();
    let mut state = State::default();
    let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
    let transfers =
        vec![Transfer { from_account: None, to: Destination::Order(order), amount: Fen::new(5_000), at_ms: 5 }];
    let report =
        Input::CaseReported { case_id: case(), reported_at_ms: 900, transfers, reported_loss: Fen::new(5_000) };
    check(&mut state, &config, report);
    let unsettled = || Input::OrderResolved {
        case_id: case(),
        hop: 1,
        asked_at_ms: 0,
        result: Err(refused(RefusalKind::UnknownOrder)),
    };
    let Step { events, .. } = step(&mut state, &config, unsettled(), 1_000).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::HopRetrying { .. }]), "{events:?}");
    // Still unknown past the window after the first failure: the order is wrong.
    let Step { events, .. } = step(&mut state, &config, unsettled(), 1_000 + UNSETTLED_ORDER_WINDOW_MS).unwrap();
    assert!(matches!(&events[..], [FreezingEvent::HopEnded { reason: HopEnd::Failed, .. }, ..]), "{events:?}");
}
