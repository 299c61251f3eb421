//! `afc city` as an OS process against a real nats-server, for the tests that start, stop
//! and kill it; [`secured`]: a city server with accounts, grants and TLS.
#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod secured;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::{AccountRef, CaseId, City, Clock, Service};
use events::{FreezingEvent, Payload};
use futures::StreamExt;
use protocol::intake::{IntakeErrorKind, ReportResponse, ShowResponse, VERB_REPORT, VERB_SHOW};
use protocol::subjects::bank_verb;
use runtime::StoreSpec;
use simulator::World;
use simulator::ledger::HoldAudit;
use testkit::NatsServer;
use tokio::process::{Child, Command};

/// Starts `afc city` for `city` on `server`, its stores in `data`, with `extra` arguments,
/// logging at `log` to `stderr`.
pub fn start(
    server: &NatsServer,
    data: &std::path::Path,
    city: &City,
    extra: &[&str],
    log: &str,
    stderr: Stdio,
) -> Child {
    command(server, data, city, extra, log, stderr).spawn().expect("afc starts")
}

/// The command [`start`] spawns, for a test to add to (e.g. the environment).
pub fn command(
    server: &NatsServer,
    data: &std::path::Path,
    city: &City,
    extra: &[&str],
    log: &str,
    stderr: Stdio,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_afc"));
    command
        .args(["city", "--city", city.as_str(), "--nats", &server.url(), "--data"])
        .arg(data)
        .args(extra)
        .env("AFC_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true);
    command
}

/// Waits, at most `bound` for each, until intake answers `show` and freezing's durable
/// consumer exists.
pub async fn wait_ready(client: &async_nats::Client, city: &City, bound: Duration) {
    let probe = serde_json::to_vec(&serde_json::json!({ "case_id": CaseId::derive(city, 0) })).unwrap();
    let subject = protocol::subjects::command(city, Service::Intake, VERB_SHOW);
    let js = jetstream::new(client.clone());
    let answer = testkit::eventually(bound, "intake answers", || async {
        let request = client.request(subject.clone(), probe.clone().into());
        tokio::time::timeout(Duration::from_secs(1), request).await.ok()?.ok()
    })
    .await;
    let ShowResponse::Error(error) = serde_json::from_slice(&answer.payload).unwrap() else {
        panic!("the probe case does not exist")
    };
    assert_eq!(error.kind, IntakeErrorKind::UnknownCase);
    testkit::eventually(bound, "freezing's consumer exists", || async {
        let stream = js.get_stream(city.stream_name()).await.ok()?;
        stream.consumer_info(freezing::shell::CONSUMER).await.ok().map(|_| ())
    })
    .await;
}

/// A request that reached the test's bank: its subject and its body.
#[derive(Debug, Clone)]
pub struct BankRequest {
    pub subject: String,
    pub body: serde_json::Value,
}

impl BankRequest {
    /// Whether it asks for `verb` (`protocol::subjects::bank_verb`).
    pub fn is(&self, verb: &str) -> bool {
        self.subject.rsplit('.').next() == Some(verb)
    }

    /// The request id of a stop-payment or a freeze.
    pub fn request_id(&self) -> &str {
        self.body["request_id"].as_str().expect("the request has an id")
    }

    /// The center and the account of a stop-payment or a freeze.
    pub fn held(&self) -> (City, AccountRef) {
        let center = City::parse(self.body["center"].as_str().unwrap()).unwrap();
        let account = AccountRef::parse(self.body["account"].as_str().unwrap()).unwrap();
        (center, account)
    }
}

/// What the test's bank does with a request it has applied.
pub enum Reply {
    Answer,
    /// Applied, never answered.
    Withhold,
}

/// A bank serving `world` on `client`: it applies every request as the simulator does, shows
/// it to `hook`, and answers it unless `hook` says to withhold the answer.
pub async fn serve_bank(
    client: async_nats::Client,
    world: Arc<Mutex<World>>,
    mut hook: impl FnMut(&BankRequest) -> Reply + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let banks = simulator::world::lock(&world).banks.clone();
    let mut subscriptions = Vec::new();
    for bank in &banks {
        subscriptions.push(client.subscribe(protocol::subjects::bank(bank, "*")).await.unwrap());
    }
    client.flush().await.unwrap();
    let mut requests = futures::stream::select_all(subscriptions);
    tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let now = domain::SystemClock.now_ms();
            let body = simulator::answer(&world, message.subject.as_str(), &message.payload, now);
            let request = BankRequest {
                subject: message.subject.to_string(),
                body: serde_json::from_slice(&message.payload).unwrap(),
            };
            if let Reply::Withhold = hook(&request) {
                continue;
            }
            if let Some(reply) = message.reply {
                client.publish(reply, body.into()).await.unwrap();
            }
        }
    })
}

/// Every request the bank of [`serve_recording_bank`] received, in order.
pub type BankLog = Arc<Mutex<Vec<BankRequest>>>;

/// A bank serving `world` that answers everything and logs every request.
pub async fn serve_recording_bank(
    client: async_nats::Client,
    world: Arc<Mutex<World>>,
) -> (tokio::task::JoinHandle<()>, BankLog) {
    let log = BankLog::default();
    let kept = log.clone();
    let handle = serve_bank(client, world, move |request| {
        kept.lock().unwrap().push(request.clone());
        Reply::Answer
    })
    .await;
    (handle, log)
}

/// The request ids of the stop-payments and freezes among `requests`.
pub fn holds(requests: &[BankRequest]) -> BTreeSet<String> {
    requests
        .iter()
        .filter(|r| r.is(bank_verb::STOP_PAYMENT) || r.is(bank_verb::FREEZE))
        .map(|r| r.request_id().to_owned())
        .collect()
}

/// Asserts that the bank of `world` applied each stop-payment and freeze among `requests`
/// once (one trail, no renewal: each account stopped once, each claim frozen by one freeze);
/// returns what it did.
pub fn assert_applied_once(world: &Mutex<World>, requests: &[BankRequest]) -> HoldAudit {
    let world = simulator::world::lock(world);
    let audit = world.ledger.hold_audit();
    for request in requests.iter().filter(|r| r.is(bank_verb::STOP_PAYMENT)) {
        let (center, account) = request.held();
        assert_eq!(world.ledger.stops_applied(&center, &account), 1, "{account} stopped once: {audit:?}");
    }
    let distinct = holds(requests).len() as u64;
    assert_eq!(audit.stops_applied + audit.freezes_applied, distinct, "one change per request id: {audit:?}");
    assert!(audit.freezes.values().all(|(n, _)| *n == 1), "a claim frozen twice: {audit:?}");
    assert!(audit.stops_beyond_limit.is_empty(), "{audit:?}");
    audit
}

/// Files `report` with intake and returns its case id.
pub async fn report(client: &async_nats::Client, city: &City, report: Vec<u8>) -> CaseId {
    let subject = protocol::subjects::command(city, Service::Intake, VERB_REPORT);
    let answer = client.request(subject, report.into()).await.unwrap();
    let ReportResponse::Ok(accepted) = serde_json::from_slice(&answer.payload).unwrap() else {
        panic!("the report is accepted: {}", String::from_utf8_lossy(&answer.payload))
    };
    accepted.case_id
}

/// Every event of `city`'s stream, by direct get.
pub async fn stream_events(js: &jetstream::Context, city: &City) -> Vec<events::Envelope> {
    let mut stream = js.get_stream(city.stream_name()).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut envelopes = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        envelopes.push(events::decode(&message.payload).unwrap());
    }
    envelopes
}

/// Freezing's events of `case_id` among `envelopes`.
pub fn freezing_events<'a>(envelopes: &'a [events::Envelope], case_id: &CaseId) -> Vec<&'a FreezingEvent> {
    envelopes
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Freezing(event) if event.case_id() == Some(case_id) => Some(event),
            _ => None,
        })
        .collect()
}

/// What makes a freezing event unique: a second one with the same key records one thing
/// twice.
pub fn logical_key(event: &FreezingEvent) -> Option<String> {
    let name = event.name();
    Some(match event {
        FreezingEvent::TraceStarted { case_id, .. } | FreezingEvent::TraceCompleted { case_id, .. } => {
            format!("{name} {case_id}")
        }
        FreezingEvent::HopOpened { case_id, hop, .. }
        | FreezingEvent::AccountStopped { case_id, hop, .. }
        | FreezingEvent::OrderResolved { case_id, hop, .. }
        | FreezingEvent::HopEnded { case_id, hop, .. } => format!("{name} {case_id} {hop}"),
        FreezingEvent::AccountFrozen { case_id, account, .. }
        | FreezingEvent::FreezeQueued { case_id, account, .. }
        | FreezingEvent::FreezeFailed { case_id, account, .. } => format!("claim_settled {case_id} {account}"),
        _ => return None,
    })
}

/// Waits, at most `bound`, until `case_id`'s trace is completed in `city`'s stream and each
/// of its claims is settled; returns the stream's events then.
pub async fn case_completed(
    js: &jetstream::Context,
    city: &City,
    case_id: &CaseId,
    bound: Duration,
) -> Vec<events::Envelope> {
    testkit::eventually(bound, "the case completes with its freezes", || async {
        let envelopes = stream_events(js, city).await;
        let freezing = freezing_events(&envelopes, case_id);
        let completed = freezing.iter().any(|e| matches!(e, FreezingEvent::TraceCompleted { .. }));
        let claims = freezing
            .iter()
            .filter(|e| matches!(e, FreezingEvent::AccountStopped { claim_fen, .. } if !claim_fen.is_zero()))
            .count();
        let settled =
            freezing.iter().filter(|e| logical_key(e).is_some_and(|k| k.starts_with("claim_settled"))).count();
        (completed && settled >= claims).then_some(envelopes)
    })
    .await
}

/// Asserts that no event is in `envelopes` twice, by id or by what it records; returns how
/// many freezing events record each thing (all 1).
pub fn assert_each_event_once(envelopes: &[events::Envelope]) -> BTreeMap<String, u32> {
    let mut ids = BTreeSet::new();
    let mut keys: BTreeMap<String, u32> = BTreeMap::new();
    for envelope in envelopes {
        assert!(ids.insert(envelope.id.clone()), "{} published twice", envelope.id);
        if let Payload::Freezing(event) = &envelope.payload
            && let Some(key) = logical_key(event)
        {
            *keys.entry(key).or_default() += 1;
        }
    }
    let doubled: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "events recorded twice: {doubled:?}");
    keys
}

/// Stops `node` as an operator does (Ctrl-C) and waits, at most `bound`, for it to exit
/// zero: its relays have drained and its stores are closed.
pub async fn stop(node: &mut Child, bound: Duration) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(node.id().unwrap()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = tokio::time::timeout(bound, node.wait()).await.expect("afc city stops").unwrap();
    assert!(status.success(), "afc city stops cleanly: {status}");
}

/// Kills `node` with SIGKILL and waits, at most `bound`, for it to die.
pub async fn kill(node: &mut Child, bound: Duration) {
    node.start_kill().unwrap();
    let status = tokio::time::timeout(bound, node.wait()).await.expect("the node dies").unwrap();
    assert!(!status.success(), "SIGKILL: {status}");
}

/// The log of the store `spec` in `data`, kept by `service` (the node not running), and the
/// ids of the events its outbox still holds.
pub async fn log_and_outbox(
    data: &std::path::Path,
    city: &City,
    service: Service,
    spec: StoreSpec,
) -> (Vec<events::Envelope>, Vec<String>) {
    let producer = store::Producer { city: city.clone(), service };
    let store = store::Store::open(&data.join(spec.file_name()), producer, domain::system_clock()).unwrap();
    let mut log = Vec::new();
    store.replay(|envelope| log.push(envelope.clone())).unwrap();
    let outbox = store.outbox(usize::MAX).await.unwrap().into_iter().map(|(_, envelope, _)| envelope.id).collect();
    (log, outbox)
}

/// Asserts, the node in `data` stopped, that the outboxes of intake and freezing are empty and
/// that every event their logs hold is among `envelopes` (the city's stream).
pub async fn assert_drained(data: &std::path::Path, city: &City, envelopes: &[events::Envelope]) {
    let published: BTreeSet<&str> = envelopes.iter().map(|e| e.id.as_str()).collect();
    for (service, spec) in [(Service::Freezing, freezing::STORE), (Service::Intake, intake::RECORDS)] {
        let (log, outbox) = log_and_outbox(data, city, service, spec).await;
        assert!(outbox.is_empty(), "{service}'s outbox is drained: {outbox:?}");
        let missing: Vec<&str> = log.iter().map(|e| e.id.as_str()).filter(|id| !published.contains(id)).collect();
        assert!(missing.is_empty(), "{service}'s events not in the stream: {missing:?}");
    }
}
