//! The adapter client against a real nats-server and hand-made responders: each way a call
//! can fail has its own kind, and only what asking again may cure is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use adapters::errors::{AdapterErrors, ErrorSeries};
use adapters::{AdapterErrorKind, Adapters};
use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef, Sensitive};
use futures::StreamExt;
use protocol::adapter::{AdapterErrorKind as Refusal, FreezeRequest, ResolveOrderRequest, ReturnRequest, ReturnStatus};
use protocol::subjects::{self, bank_verb};
use testkit::NatsServer;

/// Per attempt in these tests: long enough for a loopback answer, short for a silent one.
const TIMEOUT: Duration = Duration::from_millis(300);
const RETRIES: u32 = 2;

fn request() -> FreezeRequest {
    FreezeRequest {
        request_id: "huzhou-0000000000000001/icbc:00000001/freeze".into(),
        center: City::parse("huzhou").unwrap(),
        case_id: CaseId::derive(&City::parse("huzhou").unwrap(), 1),
        account: AccountRef::parse("icbc:00000001").unwrap(),
        amount_fen: Fen::new(10_000),
    }
}

fn freeze_subject() -> String {
    subjects::bank(&request().account.bank(), bank_verb::FREEZE)
}

/// Answers every freeze on icbc with `answer(attempt)` (1-based); counts the attempts.
async fn bank(client: &async_nats::Client, answer: fn(u32) -> Option<&'static str>) -> Arc<AtomicU32> {
    bank_on(client, freeze_subject(), answer).await
}

/// Answers every request on `subject` with `answer(attempt)` (1-based); counts the attempts.
async fn bank_on(
    client: &async_nats::Client,
    subject: String,
    answer: fn(u32) -> Option<&'static str>,
) -> Arc<AtomicU32> {
    let mut requests = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    let (counted, client) = (attempts.clone(), client.clone());
    tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
            if let (Some(reply), Some(body)) = (message.reply, answer(attempt)) {
                client.publish(reply, body.into()).await.unwrap();
            }
        }
    });
    attempts
}

async fn setup() -> (NatsServer, async_nats::Client, Adapters) {
    let server = NatsServer::single().await.unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let adapters = Adapters::new(client.clone()).with_limits(TIMEOUT, RETRIES);
    (server, client, adapters)
}

const FROZEN: &str =
    r#"{"ok":{"status":"frozen","frozen_fen":10000,"expires_at_ms":9,"frozen_at_ms":1,"queued_behind":null}}"#;

#[tokio::test]
async fn nobody_listening_is_no_responders_after_every_attempt() {
    let (_server, _client, adapters) = setup().await;
    let error = adapters.freeze(&request()).await.unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::NoResponders);
    assert_eq!(error.attempts, RETRIES + 1);
    assert_eq!(error.subject, freeze_subject());
    assert!(error.kind.is_transient());
}

#[tokio::test]
async fn a_bank_that_never_answers_is_a_timeout() {
    let (_server, client, adapters) = setup().await;
    let attempts = bank(&client, |_| None).await;
    let error = adapters.freeze(&request()).await.unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::Timeout(TIMEOUT));
    assert_eq!(attempts.load(Ordering::SeqCst), RETRIES + 1);
}

#[tokio::test]
async fn a_refusal_carries_the_banks_kind_and_is_not_retried_unless_unavailable() {
    let (_server, client, adapters) = setup().await;
    let attempts =
        bank(&client, |_| Some(r#"{"error":{"kind":"stop_limit_reached","message":"two stops already"}}"#)).await;
    let error = adapters.freeze(&request()).await.unwrap_err();
    assert_eq!(error.kind.refusal(), Some(Refusal::StopLimitReached));
    assert!(!error.kind.is_transient());
    assert_eq!((error.attempts, attempts.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test]
async fn an_unavailable_bank_is_asked_again_and_its_later_answer_taken() {
    let (_server, client, adapters) = setup().await;
    let attempts = bank(&client, |attempt| {
        Some(if attempt == 1 { r#"{"error":{"kind":"unavailable","message":"maintenance"}}"# } else { FROZEN })
    })
    .await;
    let reply = adapters.freeze(&request()).await.unwrap();
    assert_eq!(reply.frozen_fen, Fen::new(10_000));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_reply_outside_the_protocol_is_invalid_and_not_retried() {
    let (_server, client, adapters) = setup().await;
    let attempts = bank(&client, |_| Some(r#"{"ok":{"status":"melted"}}"#)).await;
    let error = adapters.freeze(&request()).await.unwrap_err();
    assert!(matches!(error.kind, AdapterErrorKind::InvalidReply(_)), "{error}");
    assert_eq!((error.attempts, attempts.load(Ordering::SeqCst)), (1, 1));
}

fn return_request() -> ReturnRequest {
    let center = City::parse("huzhou").unwrap();
    let case_id = CaseId::derive(&center, 1);
    ReturnRequest {
        request_id: format!("{case_id}/a1/v1/return"),
        allocation: format!("{case_id}/a1"),
        center,
        case_id,
        account: AccountRef::parse("icbc:00000001").unwrap(),
        to_account: Sensitive::new(AccountRef::parse("ccb:00000002").unwrap()),
        amount_fen: Fen::new(10_000),
    }
}

fn return_subject() -> String {
    subjects::bank(&return_request().account.bank(), bank_verb::RETURN)
}

const ACCEPTED: &str = r#"{"ok":{"status":"accepted","amount_fen":10000}}"#;
const EXECUTED: &str =
    r#"{"ok":{"status":"executed","amount_fen":10000,"transfer_id":"t-9","executed_at_ms":1763960000000}}"#;

#[tokio::test]
async fn a_return_goes_to_the_bank_of_the_frozen_account_and_is_asked_again_until_executed() {
    let (_server, client, adapters) = setup().await;
    let attempts = bank_on(&client, return_subject(), |attempt| {
        Some(match attempt {
            1 => r#"{"error":{"kind":"unavailable","message":"maintenance"}}"#,
            2 => ACCEPTED,
            _ => EXECUTED,
        })
    })
    .await;
    let first = adapters.return_money(&return_request()).await.unwrap();
    assert_eq!((first.status, first.transfer_id), (ReturnStatus::Accepted, None));
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "unavailable was asked again");
    let polled = adapters.return_money(&return_request()).await.unwrap();
    assert_eq!(polled.status, ReturnStatus::Executed);
    assert_eq!((polled.transfer_id.as_deref(), polled.executed_at_ms), (Some("t-9"), Some(1_763_960_000_000)));
}

#[tokio::test]
async fn a_return_refused_not_frozen_is_not_asked_again() {
    let (_server, client, adapters) = setup().await;
    let attempts = bank_on(&client, return_subject(), |_| {
        Some(r#"{"error":{"kind":"not_frozen","message":"huzhou holds 50.00 frozen on icbc:00000001"}}"#)
    })
    .await;
    let error = adapters.return_money(&return_request()).await.unwrap_err();
    assert_eq!(error.kind.refusal(), Some(Refusal::NotFrozen));
    assert!(!error.kind.is_transient());
    assert_eq!((error.attempts, attempts.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(error.subject, return_subject());
}

#[tokio::test]
async fn a_return_reply_for_another_amount_or_executed_without_its_transfer_is_invalid() {
    for reply in [
        r#"{"ok":{"status":"accepted","amount_fen":9999}}"#,
        r#"{"ok":{"status":"executed","amount_fen":10000}}"#,
        r#"{"ok":{"status":"executed","amount_fen":10000,"transfer_id":"t-9"}}"#,
    ] {
        let (_server, client, adapters) = setup().await;
        // Answered by hand: `bank_on` takes a fn pointer, which cannot capture `reply`.
        let mut requests = client.subscribe(return_subject()).await.unwrap();
        client.flush().await.unwrap();
        let answering = tokio::spawn({
            let client = client.clone();
            async move {
                let request = requests.next().await.unwrap();
                client.publish(request.reply.unwrap(), reply.into()).await.unwrap();
                client.flush().await.unwrap();
            }
        });
        let error = adapters.return_money(&return_request()).await.unwrap_err();
        assert!(matches!(error.kind, AdapterErrorKind::InvalidReply(_)), "{reply}: {error}");
        assert_eq!(error.attempts, 1, "{reply}");
        answering.await.unwrap();
    }
}

#[tokio::test]
async fn a_call_that_fails_for_good_is_counted_once_by_party_verb_and_kind_and_a_success_not_at_all() {
    let (_server, client, adapters) = setup().await;
    let errors = Arc::new(AdapterErrors::default());
    let adapters = adapters.counting(errors.clone());
    // icbc is unavailable to the first two calls' every attempt, then freezes.
    let attempts = bank(&client, |attempt| {
        Some(if attempt <= 2 * (RETRIES + 1) {
            r#"{"error":{"kind":"unavailable","message":"maintenance"}}"#
        } else {
            FROZEN
        })
    })
    .await;
    for _ in 0..2 {
        let error = adapters.freeze(&request()).await.unwrap_err();
        assert_eq!(error.kind.refusal(), Some(Refusal::Unavailable));
    }
    adapters.freeze(&request()).await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2 * (RETRIES + 1) + 1);
    // No platform gateway listens.
    let resolve =
        ResolveOrderRequest { request_id: "r-1".into(), order: PaymentOrderRef::parse("alipay:2025ABCDEF01").unwrap() };
    assert_eq!(adapters.resolve(&resolve).await.unwrap_err().kind, AdapterErrorKind::NoResponders);

    let series = |adapter, party: &str, verb, kind| ErrorSeries { adapter, party: party.to_owned(), verb, kind };
    assert_eq!(
        errors.counts(),
        [
            (series("bank", "icbc", "freeze", "unavailable"), 2),
            (series("platform", "alipay", "resolve", "no_responders"), 1),
        ]
    );
}
