//! The freeze path under faults, on a manual clock: freezing on a real nats-server and a
//! real redb file, against a bank (answering on the real adapter subjects) whose freezes
//! fail until told otherwise. The clock is moved by the test, so hours of a stop-payment's
//! 48 h pass at once, and nothing depends on the machine's speed.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{Harness, Watch};
use domain::{AccountRef, CaseId, City, Clock, Fen, TimeMs};
use events::FreezingEvent;
use freezing::core::CoreConfig;
use futures::StreamExt;
use protocol::adapter::{
    AdapterError, AdapterErrorKind, Counterparty, Direction, FreezeReply, FreezeRequest, FreezeStatus, StatementEntry,
    StopPaymentReply, StopPaymentRequest,
};
use protocol::{Reply, subjects};

const HOUR: u64 = 60 * 60 * 1000;
const MINUTE: u64 = 60 * 1000;
const STOP_MS: u64 = 48 * HOUR;
const LOSS: u64 = 1_000_000;

/// A clock only the test moves.
#[derive(Debug)]
struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_ms(&self) -> TimeMs {
        self.0.load(Ordering::SeqCst)
    }
}

impl ManualClock {
    fn set(&self, at_ms: TimeMs) {
        self.0.store(at_ms, Ordering::SeqCst);
    }
}

fn account() -> AccountRef {
    AccountRef::parse("icbc:6222020200001234").unwrap()
}

/// The bank of [`account`]: applies stop-payments and freezes once per request id (a
/// repeat gets the first answer), records every request id it was sent, and answers every
/// freeze `unavailable` while `failing`.
#[derive(Clone)]
struct Bank {
    clock: Arc<ManualClock>,
    failing: Arc<AtomicBool>,
    stops: Arc<Mutex<Vec<String>>>,
    freezes: Arc<Mutex<Vec<String>>>,
    stop_replies: Arc<Mutex<Vec<(String, StopPaymentReply)>>>,
}

impl Bank {
    async fn serve(client: async_nats::Client, clock: Arc<ManualClock>, arrived_at_ms: TimeMs) -> Bank {
        let bank = Bank {
            clock,
            failing: Arc::new(AtomicBool::new(true)),
            stops: Arc::default(),
            freezes: Arc::default(),
            stop_replies: Arc::default(),
        };
        let mut requests = client.subscribe(subjects::bank(&account().bank(), ">")).await.unwrap();
        client.flush().await.unwrap();
        let serving = bank.clone();
        tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let Some(reply_to) = message.reply.clone() else { continue };
                let body = if message.subject.ends_with(subjects::bank_verb::STOP_PAYMENT) {
                    let request: StopPaymentRequest = serde_json::from_slice(&message.payload).unwrap();
                    protocol::to_json(&Reply::<_, AdapterError>::Ok(serving.stop(request, arrived_at_ms)))
                } else if message.subject.ends_with(subjects::bank_verb::FREEZE) {
                    let request: FreezeRequest = serde_json::from_slice(&message.payload).unwrap();
                    protocol::to_json(&serving.freeze(request))
                } else {
                    panic!("no other verb is expected: {}", message.subject)
                };
                client.publish(reply_to, body.into()).await.unwrap();
            }
        });
        bank
    }

    fn stop(&self, request: StopPaymentRequest, arrived_at_ms: TimeMs) -> StopPaymentReply {
        self.stops.lock().unwrap().push(request.request_id.clone());
        let mut replies = self.stop_replies.lock().unwrap();
        if let Some((_, first)) = replies.iter().find(|(id, _)| *id == request.request_id) {
            return first.clone();
        }
        let now = self.clock.now_ms();
        let arrival = StatementEntry {
            transfer_id: "victim-1".into(),
            at_ms: arrived_at_ms,
            direction: Direction::In,
            amount_fen: Fen::new(LOSS),
            counterparty: Counterparty::Account(AccountRef::parse("abc:6228480000000001").unwrap()),
            balance_after_fen: Fen::new(LOSS),
        };
        let reply = StopPaymentReply {
            stop_no: u8::try_from(replies.len() + 1).unwrap(),
            held_fen: Fen::new(LOSS),
            expires_at_ms: now + STOP_MS,
            stopped_at_ms: now,
            statement_since_ms: request.since_ms,
            statement: vec![arrival],
        };
        replies.push((request.request_id, reply.clone()));
        reply
    }

    fn freeze(&self, request: FreezeRequest) -> Reply<FreezeReply, AdapterError> {
        self.freezes.lock().unwrap().push(request.request_id);
        if self.failing.load(Ordering::SeqCst) {
            let error = AdapterError { kind: AdapterErrorKind::Unavailable, message: "freeze system down".into() };
            return Reply::Error(error);
        }
        let now = self.clock.now_ms();
        Reply::Ok(FreezeReply {
            status: FreezeStatus::Frozen,
            frozen_fen: request.amount_fen,
            expires_at_ms: now + 180 * 24 * HOUR,
            frozen_at_ms: now,
            queued_behind: None,
        })
    }

    /// Distinct request ids, in the order first seen.
    fn distinct(ids: &Mutex<Vec<String>>) -> Vec<String> {
        let mut distinct: Vec<String> = Vec::new();
        for id in ids.lock().unwrap().iter() {
            if !distinct.contains(id) {
                distinct.push(id.clone());
            }
        }
        distinct
    }
}

/// Freezing holding a claim of the whole loss on [`account`] under its first stop, with
/// freezes failing; the stop was made at the returned time.
async fn held() -> (Harness, common::Running, Watch, Bank, Arc<ManualClock>, CaseId, TimeMs) {
    let start = domain::system_clock().now_ms();
    let clock = Arc::new(ManualClock(AtomicU64::new(start)));
    let city = City::parse("huzhou").unwrap();
    let harness = Harness::on_clock(city, simulator::world::World::default(), clock.clone()).await;
    let bank = Bank::serve(harness.client.clone(), clock.clone(), start - 60_000).await;
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;
    let body = serde_json::json!({
        "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
        "fraud_type": "pig_butchering",
        "transfers": [{"account": account().to_string(), "amount_fen": LOSS, "at_ms": start - 60_000}],
        "narrative": "met online"
    });
    let case_id = harness.report(1, &body).await;
    let events = watch.until(&case_id, common::trace_completed).await;
    assert!(
        events.iter().any(
            |e| matches!(e, FreezingEvent::AccountStopped { stop_no: 1, claim_fen, .. } if *claim_fen == Fen::new(LOSS))
        ),
        "{events:?}"
    );
    (harness, running, watch, bank, clock, case_id, start)
}

fn count(events: &[FreezingEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.name() == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_freeze_is_retried_the_stop_renewed_before_its_lapse_and_the_freeze_placed_under_a_new_id() {
    let (harness, running, mut watch, bank, clock, case_id, stopped_at) = held().await;

    // Its conversion falls due 10 minutes after the stop: the freeze fails and is retried.
    clock.set(stopped_at + 10 * MINUTE + 1);
    watch.until(&case_id, |events| count(events, FreezingEvent::FREEZE_RETRYING) >= 1).await;
    // An hour before the lapse, the retry fails again: the stop is renewed.
    let renewing_at = stopped_at + STOP_MS - HOUR + 1;
    clock.set(renewing_at);
    let events = watch.until(&case_id, |events| count(events, FreezingEvent::STOP_RENEWED) == 1).await;
    assert_eq!(count(&events, FreezingEvent::FREEZE_FAILED), 0, "{events:?}");
    // The bank works again: ten minutes after the renewal the freeze is placed.
    bank.failing.store(false, Ordering::SeqCst);
    clock.set(renewing_at + 10 * MINUTE + 1);
    let events = watch.until(&case_id, |events| count(events, FreezingEvent::ACCOUNT_FROZEN) == 1).await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, FreezingEvent::AccountFrozen { frozen_fen, .. } if *frozen_fen == Fen::new(LOSS))),
        "{events:?}"
    );
    assert_eq!(count(&events, FreezingEvent::FREEZE_AT_RISK), 0, "a renewal was left: {events:?}");

    let stop_ids = Bank::distinct(&bank.stops);
    assert_eq!(stop_ids, vec![format!("huzhou/{}/stop1", account()), format!("huzhou/{}/stop2", account())]);
    let freeze_ids = Bank::distinct(&bank.freezes);
    let first = format!("{case_id}/{}/freeze", account());
    assert_eq!(freeze_ids, vec![first.clone(), format!("{first}2")], "the same id until the renewal, a new one after");
    assert!(
        bank.freezes.lock().unwrap().iter().filter(|id| **id == first).count() >= 2,
        "the failed freeze was retried"
    );
    running.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_that_keeps_failing_raises_an_alert_before_the_last_stop_lapses_then_fails_for_good() {
    let (harness, running, mut watch, bank, clock, case_id, stopped_at) = held().await;

    let renewing_at = stopped_at + STOP_MS - HOUR + 1;
    clock.set(renewing_at);
    watch.until(&case_id, |events| count(events, FreezingEvent::STOP_RENEWED) == 1).await;
    let lapse = renewing_at + STOP_MS;
    // Within the alert margin of the last stop's lapse, with no renewal left.
    let margin = CoreConfig::default().at_risk_margin_ms;
    clock.set(lapse - margin + HOUR);
    let events = watch.until(&case_id, |events| count(events, FreezingEvent::FREEZE_AT_RISK) == 1).await;
    let Some(FreezingEvent::FreezeAtRisk { claim_fen, expires_at_ms, .. }) =
        events.iter().find(|e| e.name() == FreezingEvent::FREEZE_AT_RISK)
    else {
        unreachable!("counted above")
    };
    assert_eq!((*claim_fen, *expires_at_ms), (Fen::new(LOSS), lapse));
    // Minutes before the lapse the last attempt fails: the freeze failed for good, and no
    // third stop was asked for.
    clock.set(lapse - 4 * MINUTE);
    let events = watch.until(&case_id, |events| count(events, FreezingEvent::FREEZE_FAILED) == 1).await;
    assert_eq!(count(&events, FreezingEvent::FREEZE_AT_RISK), 1, "one alert: {events:?}");
    assert_eq!(count(&events, FreezingEvent::ACCOUNT_FROZEN), 0);
    assert_eq!(Bank::distinct(&bank.stops).len(), 2, "no third stop-payment");
    running.stop().await;
    harness.stop().await;
}
