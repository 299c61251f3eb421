//! `afc city` killed with SIGKILL at the worst moment for a stop-payment: the bank has applied
//! it and not answered yet. The restarted node must ask again with the same request id (the
//! bank answers from its record and applies nothing twice), complete the case, and publish
//! no event twice.
//!
//! Stop-payments leave with freezing's commit, not after it, so the kill may take the case's
//! first events with it: the report is then traced again when JetStream redelivers it, one
//! consumer `ack_wait` (30 s) after its first delivery, and the test waits that long. When
//! the commit made it, the restarted node resumes the open hop at once. Either way the same
//! stop is asked for again.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use common::Reply;
use domain::{AccountRef, City, Clock};
use events::FreezingEvent;
use protocol::subjects::bank_verb;
use simulator::World;
use testkit::NatsServer;
use tokio::process::Child;
use tokio::sync::{oneshot, watch};

/// Bound on the node starting, a request reaching the bank, and the case completing.
const BOUND: Duration = Duration::from_secs(60);
/// Delay from a stop to its freeze: short, the test runs on the wall clock.
const FREEZE_AFTER_MS: &str = "300";

fn city() -> City {
    City::parse("hangzhou").unwrap()
}

/// Starts `afc city` for hangzhou on `server`, with its stores in `data`.
fn start(server: &NatsServer, data: &std::path::Path) -> Child {
    common::start(server, data, &city(), &["--freeze-after-ms", FREEZE_AFTER_MS], "warn", Stdio::inherit())
}

/// What the bank saw: every stop-payment request id, before and after the restart.
#[derive(Debug, Default)]
struct Seen {
    /// Stop-payment request ids received while the node was the first one, in order.
    before: Vec<String>,
    /// Stop-payment request ids received after the restart.
    after: Vec<String>,
}

/// A bank serving `world`: it applies every request, answers every one except the first
/// stop-payment's (and its re-sends) until `restarted` turns true, and hands that request's
/// id to `gate` when it first arrives.
async fn serve_bank(
    client: async_nats::Client,
    world: Arc<Mutex<World>>,
    seen: Arc<Mutex<Seen>>,
    gate: oneshot::Sender<(String, City, AccountRef)>,
    restarted: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let mut gate = Some(gate);
    let mut held: Option<String> = None;
    common::serve_bank(client, world, move |request| {
        if !request.is(bank_verb::STOP_PAYMENT) {
            return Reply::Answer;
        }
        let id = request.request_id().to_owned();
        let after = *restarted.borrow();
        {
            let mut seen = seen.lock().unwrap();
            if after { seen.after.push(id.clone()) } else { seen.before.push(id.clone()) }
        }
        if let Some(gate) = gate.take() {
            let (center, account) = request.held();
            held = Some(id.clone());
            let _ = gate.send((id.clone(), center, account));
        }
        if !after && held.as_ref() == Some(&id) {
            // Applied, never answered: the node dies waiting for this answer.
            return Reply::Withhold;
        }
        Reply::Answer
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_a_bank_holds_its_stop_asks_again_with_the_same_id_and_does_nothing_twice() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());

    let wave = simulator::single_trail(3, domain::SystemClock.now_ms());
    let report = serde_json::to_vec(&wave.reports[0].body).unwrap();
    let world = Arc::new(Mutex::new(wave.world));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (gate, gated) = oneshot::channel();
    let (restarted_tx, restarted) = watch::channel(false);
    let _bank = serve_bank(client.clone(), world.clone(), seen.clone(), gate, restarted).await;

    let mut node = start(&server, data.path());
    common::wait_ready(&client, &city(), BOUND).await;
    let case_id = common::report(&client, &city(), report).await;

    // The bank has applied the first stop and holds its answer: kill the node now.
    let (held_id, center, account) =
        tokio::time::timeout(BOUND, gated).await.expect("a stop-payment reaches the bank").unwrap();
    common::kill(&mut node, BOUND).await;
    assert_eq!(simulator::world::lock(&world).ledger.stops_applied(&center, &account), 1);

    restarted_tx.send(true).unwrap();
    let _node = start(&server, data.path());
    let redelivery = bus::limits::CONSUMER_ACK_WAIT + BOUND;
    let envelopes = common::case_completed(&js, &city(), &case_id, redelivery).await;

    let seen = seen.lock().unwrap();
    assert!(seen.before.iter().all(|id| id == &held_id), "only the held stop left before the kill: {seen:?}");
    assert!(seen.after.contains(&held_id), "the restarted node asks for the held stop again, same id: {seen:?}");
    let audit = simulator::world::lock(&world).ledger.hold_audit();
    assert_eq!(simulator::world::lock(&world).ledger.stops_applied(&center, &account), 1, "applied once");
    assert!(audit.repeated_requests >= 1, "{audit:?}");
    let distinct: BTreeSet<&String> = seen.before.iter().chain(&seen.after).collect();
    assert_eq!(audit.stops_applied, distinct.len() as u64, "one stop per request id: {audit:?}");
    // One trail, nobody else's freezes: each claim is frozen whole, by one freeze.
    assert!(audit.freezes.values().all(|(n, _)| *n == 1), "a claim frozen twice: {audit:?}");
    assert!(audit.stops_beyond_limit.is_empty(), "{audit:?}");

    let keys = common::assert_each_event_once(&envelopes);
    let stopped = keys.keys().filter(|k| k.starts_with(FreezingEvent::ACCOUNT_STOPPED)).count();
    assert!(stopped > 1, "the trail went on past the held stop: {stopped} stops");
}
