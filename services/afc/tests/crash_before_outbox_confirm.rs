//! `afc city` killed with SIGKILL after freezing's first events were committed and published,
//! before their outbox rows were removed. The crash gate `before_outbox_confirm` (feature
//! `crash-gates` of `store`) holds freezing's relay once JetStream acknowledged its first
//! events. The engine goes on meanwhile and commits the rest of the trace, which the held
//! relay does not publish; the test kills the node once a freeze has reached the bank.
//!
//! The restarted node's relay starts again from the outbox's first row: it publishes the
//! events the stream already holds again, with the same `Nats-Msg-Id` (the event id), and
//! JetStream drops them as duplicates; then it publishes the rest and removes every row.
//! Nothing waits for a redelivery: the report was acknowledged after freezing's commit, and
//! the restarted node resumes the trace from its log.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::{City, Clock, Service};
use events::Payload;
use protocol::subjects::bank_verb;
use store::crash_gate::{FILE_ENV, GATE_ENV, Gate};
use testkit::NatsServer;

/// Bound on the node starting, a request reaching the bank, and the case completing.
const BOUND: Duration = Duration::from_secs(60);
/// Delay from a stop to its freeze: short, the test runs on the wall clock.
const FREEZE_AFTER_MS: &str = "300";

fn city() -> City {
    City::parse("hangzhou").unwrap()
}

/// Freezing's events among `envelopes`, by id.
fn freezing_by_id(envelopes: &[events::Envelope]) -> BTreeMap<String, &events::Envelope> {
    envelopes.iter().filter(|e| matches!(e.payload, Payload::Freezing(_))).map(|e| (e.id.clone(), e)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_before_its_outbox_is_confirmed_publishes_again_and_the_stream_keeps_each_event_once() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let gates = tempfile::tempdir().unwrap();
    let gate_file = gates.path().join("reached");
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());

    let wave = simulator::single_trail(3, domain::SystemClock.now_ms());
    let report = serde_json::to_vec(&wave.reports[0].body).unwrap();
    let world = Arc::new(Mutex::new(wave.world));
    let (_bank, bank_log) = common::serve_recording_bank(client.clone(), world.clone()).await;

    let args = ["--freeze-after-ms", FREEZE_AFTER_MS];
    let mut node = common::command(&server, data.path(), &city(), &args, "warn", Stdio::inherit())
        .env(GATE_ENV, Gate::BeforeOutboxConfirm.arm(Service::Freezing))
        .env(FILE_ENV, &gate_file)
        .spawn()
        .expect("afc starts");
    common::wait_ready(&client, &city(), BOUND).await;
    let case_id = common::report(&client, &city(), report).await;

    // Freezing's relay holds its first confirmation; the engine goes on.
    testkit::eventually(BOUND, "freezing's relay reaches the gate", || async { gate_file.exists().then_some(()) })
        .await;
    let published = common::stream_events(&js, &city()).await;
    let published = freezing_by_id(&published);
    assert!(!published.is_empty(), "freezing's first events are in the stream");
    testkit::eventually(BOUND, "a freeze reaches the bank", || async {
        bank_log.lock().unwrap().iter().any(|r| r.is(bank_verb::FREEZE)).then_some(())
    })
    .await;
    common::kill(&mut node, BOUND).await;

    let held = common::stream_events(&js, &city()).await;
    assert_eq!(freezing_by_id(&held).len(), published.len(), "the held relay published nothing more");
    let (_, outbox) = common::log_and_outbox(data.path(), &city(), Service::Freezing, freezing::STORE).await;
    let unconfirmed: Vec<&String> = published.keys().filter(|id| !outbox.contains(id)).collect();
    assert!(unconfirmed.is_empty(), "published events whose rows were removed: {unconfirmed:?}");

    let mut node = common::start(&server, data.path(), &city(), &args, "warn", Stdio::inherit());
    let envelopes = common::case_completed(&js, &city(), &case_id, BOUND).await;
    common::stop(&mut node, BOUND).await;

    // The stream: each event once, those published before the kill unchanged, every committed
    // event in it; the outboxes are empty.
    common::assert_each_event_once(&envelopes);
    let now = freezing_by_id(&envelopes);
    for (id, envelope) in &published {
        assert_eq!(now.get(id).map(|e| &e.payload), Some(&envelope.payload), "{id} is the event published first");
    }
    common::assert_drained(data.path(), &city(), &envelopes).await;

    // The bank: each stop and each freeze applied once.
    let requests = bank_log.lock().unwrap().clone();
    common::assert_applied_once(&world, &requests);
}
