//! Dissuasion's shell on a real nats-server and redb file: what survives a restart, what a
//! carrier's silence and re-sends do, and how bad signals are refused.

mod common;

use std::sync::atomic::Ordering;

use common::{BOUND, Harness};
use dissuasion::events::{Closure, DissuasionEvent, TaskKind};
use domain::FraudType;
use protocol::signal::{SignalMessage, SignalWhat};

fn opened_sms(events: &[DissuasionEvent]) -> usize {
    events.iter().filter(|e| matches!(e, DissuasionEvent::TaskOpened { kind: TaskKind::Sms, .. })).count()
}

fn delivered(events: &[DissuasionEvent]) -> usize {
    events.iter().filter(|e| matches!(e, DissuasionEvent::TaskClosed { closure: Closure::SmsDelivered, .. })).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_numbers_kept_before_a_restart_are_matched_after_it_and_an_unanswered_sms_is_sent_again() {
    let harness = Harness::start().await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    let now = harness.clock.now_ms();
    harness.contact("c-1", "138 0013 8000", "phone:17100001111", now - 3_600_000, 10).await;
    // The signal is recorded once it is acknowledged: the stream's consumer has nothing pending.
    testkit::eventually(BOUND, "the signal is recorded", || async {
        let stream = harness.js.get_stream(harness.city.signal_stream_name()).await.ok()?;
        let info = stream.consumer_info(dissuasion::shell::SIGNAL_CONSUMER).await.ok()?;
        (info.num_ack_pending == 0 && info.num_pending == 0 && info.delivered.stream_sequence == 1).then_some(())
    })
    .await;
    running.stop().await;

    // After the restart the report names the number: the signal kept as a row is matched, and
    // the SMS goes to the number kept for the person. The carrier does not answer.
    harness.sms.silent.store(true, Ordering::SeqCst);
    let running = harness.run().await;
    harness.report(1, FraudType::PigButchering, &["17100001111"]).await;
    watch.until("the SMS task opens", |seen| opened_sms(seen) == 1).await;
    testkit::eventually(BOUND, "the carrier is asked", || async {
        (!harness.sms.asked.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    running.stop().await;

    // The next start sends the awaited SMS again under the same id; the carrier answers now.
    harness.sms.silent.store(false, Ordering::SeqCst);
    let running = harness.run().await;
    watch.until("the SMS delivered", |seen| delivered(seen) == 1).await;
    let asked = harness.sms.asked.lock().unwrap().clone();
    assert!(asked.len() >= 2, "{asked:?}");
    assert!(
        asked.iter().all(|r| r.to == "+8613800138000" && r.request_id.as_str() == "wuhan/cmcc/sms/t0"),
        "{asked:?}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signals_are_dead_lettered_with_their_reason_and_a_resent_one_changes_nothing() {
    let harness = Harness::start().await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    let now = harness.clock.now_ms();
    harness.report(1, FraudType::PigButchering, &["17100001111"]).await;
    watch
        .until("the case is matched", |seen| seen.iter().any(|e| matches!(e, DissuasionEvent::CaseMatched { .. })))
        .await;
    let signal = |id: &str, subscriber: &str, at_ms, what| SignalMessage {
        source: "cmcc".into(),
        signal_id: id.into(),
        subscriber: subscriber.into(),
        at_ms,
        what,
    };
    let contact = || SignalWhat::Contact { identifier: "phone:17100001111".into(), duration_s: 10 };
    // A future time, a subscriber that is no number, an unknown identifier kind, and one the
    // carrier sends twice under two message ids (past the stream's deduplication).
    harness.signal_as("cmcc", "m-1", &signal("f-1", "13800138000", now + 3_600_000, contact())).await;
    harness.signal_as("cmcc", "m-2", &signal("f-2", "12", now, contact())).await;
    let odd = SignalWhat::Contact { identifier: "fax:12345".into(), duration_s: 1 };
    harness.signal_as("cmcc", "m-3", &signal("f-3", "13800138000", now, odd)).await;
    harness.signal_as("cmcc", "m-4", &signal("ok-1", "13800138000", now - 60_000, contact())).await;
    harness.signal_as("cmcc", "m-5", &signal("ok-1", "13800138000", now - 60_000, contact())).await;
    let subject = protocol::subjects::signals(&harness.city, "cmcc");
    harness.js.publish(subject, "13800138000 is not JSON".into()).await.unwrap().await.unwrap();
    watch.until("the good signal warns", |seen| delivered(seen) == 1).await;
    let letters = testkit::eventually(BOUND, "four dead letters", || async {
        let letters = harness.dead_letters().await;
        (letters.len() == 4).then_some(letters)
    })
    .await;
    let reasons: Vec<&str> = letters.iter().map(|(reason, _)| reason.as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("at_ms")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("subscriber") && r.contains("<redacted>")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("identifier") && r.contains("fax:12345")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not a signal")), "{reasons:?}");
    for (reason, payload) in &letters {
        assert!(!reason.contains("13800138000") && !payload.contains("13800138000"), "{reason} {payload}");
    }
    assert_eq!(opened_sms(&watch.seen), 1, "the re-sent signal opened nothing more: {:?}", watch.seen);
    running.stop().await;
}
