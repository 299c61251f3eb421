//! `afc city` killed with SIGKILL while freezing's events are queued and not committed. The
//! crash gate `before_commit` (feature `crash-gates` of `store`) holds freezing's writer
//! with its first batch of events run in the write transaction and not committed. The engine
//! goes on meanwhile, as during a slow fsync: requests leave with the queued events, not
//! after their commit, so the bank applies stop-payments and freezes while none of the
//! events that called for them is durable. The test kills the node once a freeze has
//! reached the bank.
//!
//! The restarted node has none of those events, and the report that produced them was never
//! acknowledged: JetStream redelivers it one consumer `ack_wait` (30 s) after its first
//! delivery, and the test waits that long. The trace then runs again and must ask the bank
//! again with the same request ids (the bank answers from its record and applies nothing
//! twice), publish each event once, and leave the outbox empty.

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use common::BankRequest;
use domain::{City, Clock, Service};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_before_its_events_commit_traces_the_report_again_and_does_nothing_twice() {
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
        .env(GATE_ENV, Gate::BeforeCommit.arm(Service::Freezing))
        .env(FILE_ENV, &gate_file)
        .spawn()
        .expect("afc starts");
    common::wait_ready(&client, &city(), BOUND).await;
    let case_id = common::report(&client, &city(), report).await;

    // Freezing's writer holds its first events; the bank applies what they called for.
    testkit::eventually(BOUND, "freezing's first events reach the gate", || async { gate_file.exists().then_some(()) })
        .await;
    testkit::eventually(BOUND, "a freeze reaches the bank", || async {
        bank_log.lock().unwrap().iter().any(|r| r.is(bank_verb::FREEZE)).then_some(())
    })
    .await;
    common::kill(&mut node, BOUND).await;
    let (before, killed_at) = {
        let requests = bank_log.lock().unwrap();
        (common::holds(&requests), requests.len())
    };

    let stream = common::stream_events(&js, &city()).await;
    assert!(common::freezing_events(&stream, &case_id).is_empty(), "nothing of freezing's was committed, or published");
    let (log, _) = common::log_and_outbox(data.path(), &city(), Service::Freezing, freezing::STORE).await;
    assert!(log.is_empty(), "the kill took freezing's first commit with it: {} events", log.len());
    let applied = simulator::world::lock(&world).ledger.hold_audit();
    assert!(applied.stops_applied >= 1 && applied.freezes_applied >= 1, "the bank acted before the kill: {applied:?}");

    let mut node = common::start(&server, data.path(), &city(), &args, "warn", Stdio::inherit());
    let redelivery = bus::limits::CONSUMER_ACK_WAIT + BOUND;
    let envelopes = common::case_completed(&js, &city(), &case_id, redelivery).await;
    common::stop(&mut node, BOUND).await;

    // The bank: every stop and freeze asked before the kill is asked again with the same id,
    // and applied once (one trail, nobody else's freezes).
    let requests: Vec<BankRequest> = bank_log.lock().unwrap().clone();
    let after = common::holds(&requests[killed_at..]);
    let lost: Vec<_> = before.difference(&after).collect();
    assert!(lost.is_empty(), "requests not asked again with the same id after the restart: {lost:?}");
    let audit = common::assert_applied_once(&world, &requests);
    assert!(audit.repeated_requests >= before.len() as u64, "{audit:?}");

    // The stream: each event once, and every committed event in it; the outboxes are empty.
    common::assert_each_event_once(&envelopes);
    common::assert_drained(data.path(), &city(), &envelopes).await;
}
