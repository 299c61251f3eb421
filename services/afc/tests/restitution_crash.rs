//! `afc city --only restitution` killed with SIGKILL between a return's instruction and the
//! bank's confirmation. Freezing's events are published as freezing publishes them, intake's
//! `payers` and the bank are stubs; the bank keeps silent until the node is killed. The
//! approvals go through `afc restitution approve`, each signed with its approver's key file.
//!
//! The restarted node resends the return under the same request id: the bank executes it
//! once, and restitution records one instruction and one confirmation.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::report::Destination;
use domain::{AccountRef, CaseId, City, Clock, Fen, PayerRef, Sensitive, Service};
use events::restitution::RestitutionEvent;
use events::{Envelope, FreezingEvent, Payload};
use futures::StreamExt;
use protocol::adapter::{
    Counterparty, Direction, FlowsReply, ReturnReply, ReturnRequest, ReturnStatus, StatementEntry,
};
use protocol::intake::{CasePayers, PayersRequest, TransferPayer};
use protocol::subjects::{self, bank_verb};
use protocol::{Reply, to_json};
use testkit::NatsServer;

const BOUND: Duration = Duration::from_secs(60);

fn city() -> City {
    City::parse("hangzhou").unwrap()
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020000009876").unwrap()
}

fn victim_account() -> AccountRef {
    AccountRef::parse("boc:621700000000042").unwrap()
}

async fn publish(js: &jetstream::Context, seq: u64, event: FreezingEvent) {
    let envelope = Envelope::new(city(), seq, domain::SystemClock.now_ms(), Payload::Freezing(event));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
    let bytes = events::encode(&envelope).unwrap();
    js.publish_with_headers(envelope.subject(), headers, bytes.into()).await.unwrap().await.unwrap();
}

/// The bank: `flows` gives the mule's statement; `return` is recorded, and answered
/// (executing each request id once) only once `answering` is set.
async fn serve_bank(
    client: &async_nats::Client,
    t0: u64,
    answering: Arc<AtomicBool>,
) -> Arc<Mutex<Vec<ReturnRequest>>> {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut flows = client.subscribe(subjects::bank(&mule().bank(), bank_verb::FLOWS)).await.unwrap();
    let mut returns = client.subscribe(subjects::bank(&mule().bank(), bank_verb::RETURN)).await.unwrap();
    client.flush().await.unwrap();
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(message) = flows.next().await {
            let entry = StatementEntry {
                transfer_id: "t1".into(),
                at_ms: t0,
                direction: Direction::In,
                amount_fen: Fen::new(50_000),
                counterparty: Counterparty::Account(victim_account()),
                balance_after_fen: Fen::new(50_000),
            };
            let reply = FlowsReply { balance_fen: Fen::new(50_000), statement: vec![entry] };
            replier.publish(message.reply.unwrap(), to_json(&Reply::<_, ()>::Ok(reply)).into()).await.unwrap();
        }
    });
    let (replier, kept) = (client.clone(), asked.clone());
    tokio::spawn(async move {
        let mut executed: BTreeMap<String, String> = BTreeMap::new();
        while let Some(message) = returns.next().await {
            let request: ReturnRequest = serde_json::from_slice(&message.payload).unwrap();
            kept.lock().unwrap().push(request.clone());
            if !answering.load(Ordering::SeqCst) {
                continue;
            }
            let next = format!("ret-{}", executed.len() + 1);
            let transfer = executed.entry(request.request_id.clone()).or_insert(next).clone();
            let reply = ReturnReply {
                status: ReturnStatus::Executed,
                amount_fen: request.amount_fen,
                transfer_id: Some(transfer),
                executed_at_ms: Some(t0 + 60_000),
            };
            replier.publish(message.reply.unwrap(), to_json(&Reply::<_, ()>::Ok(reply)).into()).await.unwrap();
        }
    });
    asked
}

/// Intake's `payers`: the victim paid from `victim_account()`.
async fn serve_payers(client: &async_nats::Client) {
    let subject = subjects::command(&city(), Service::Intake, protocol::intake::VERB_PAYERS);
    let mut requests = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let request: PayersRequest = serde_json::from_slice(&message.payload).unwrap();
            let payer = PayerRef::new(&victim_account().bank(), 7);
            let transfer = TransferPayer { index: 0, from_account: Sensitive::new(victim_account()), payer };
            let reply = CasePayers { case_id: request.case_id, transfers: vec![transfer] };
            replier.publish(message.reply.unwrap(), to_json(&Reply::<_, ()>::Ok(reply)).into()).await.unwrap();
        }
    });
}

/// Restitution's events heard, each once (by envelope id).
struct Heard {
    subscription: async_nats::Subscriber,
    ids: std::collections::BTreeSet<String>,
}

async fn until(
    heard: &mut Heard,
    seen: &mut Vec<RestitutionEvent>,
    what: &str,
    done: impl Fn(&[RestitutionEvent]) -> bool,
) {
    let Heard { subscription: events, ids } = heard;
    let waited = tokio::time::timeout(BOUND, async {
        while !done(seen) {
            let message = events.next().await.expect("subscribed");
            let envelope = events::decode(&message.payload).unwrap();
            // A restarted node's relay publishes again what its outbox still held (the
            // stream drops it by its id; a plain subscriber hears it twice).
            if ids.insert(envelope.id.clone())
                && let Payload::Restitution(event) = envelope.payload
            {
                seen.push(event);
            }
        }
    });
    assert!(waited.await.is_ok(), "{what}: {seen:?}");
}

fn count(seen: &[RestitutionEvent], name: &str) -> usize {
    seen.iter().filter(|e| e.name() == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_between_a_returns_instruction_and_its_confirmation_pays_the_victim_once() {
    let server = NatsServer::single().await.unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());
    bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let approvers = ["li", "wang"].map(|name| security::Identity::generate(name).unwrap());
    let mut roster = String::new();
    for identity in &approvers {
        identity.save(keys.path()).unwrap();
        roster.push_str(&format!("{} = \"{}\"\n", identity.name(), identity.public_key()));
    }
    let config = data.path().join("city.toml");
    std::fs::write(&config, format!("[restitution]\nnotice_seconds = 1\n\n[restitution.approvers]\n{roster}")).unwrap();
    let t0 = domain::SystemClock.now_ms() - 3_600_000;
    let answering = Arc::new(AtomicBool::new(false));
    let asked = serve_bank(&client, t0, answering.clone()).await;
    serve_payers(&client).await;
    let subscription = client.subscribe(subjects::service_events(&city(), Service::Restitution)).await.unwrap();
    let mut events = Heard { subscription, ids: Default::default() };
    client.flush().await.unwrap();
    let mut seen = Vec::new();
    let node_data = data.path().join("node");
    let args = ["--config", config.to_str().unwrap(), "--only", "restitution"];
    let mut node = common::start(&server, &node_data, &city(), &args, "warn", Stdio::inherit());

    let case_id = CaseId::derive(&city(), 1);
    let started = FreezingEvent::TraceStarted {
        case_id: case_id.clone(),
        reported_at_ms: t0,
        reported_loss_fen: Fen::new(50_000),
    };
    publish(&js, 1, started).await;
    let hop = FreezingEvent::HopOpened {
        case_id: case_id.clone(),
        hop: 1,
        parent: None,
        depth: 1,
        target: Destination::Account(mule()),
        traced_fen: Fen::new(50_000),
        since_ms: t0,
        arrival_transfer_id: Some("t1".into()),
    };
    publish(&js, 2, hop).await;
    let frozen = FreezingEvent::AccountFrozen {
        case_id: case_id.clone(),
        account: mule(),
        frozen_fen: Fen::new(50_000),
        frozen_at_ms: t0 + 1_000,
        expires_at_ms: t0 + 180 * 86_400_000,
    };
    publish(&js, 3, frozen).await;
    until(&mut events, &mut seen, "the notice ends", |seen| count(seen, "notice_ended") == 1).await;
    let allocation = seen
        .iter()
        .find_map(|e| match e {
            RestitutionEvent::AllocationProposed { allocation, .. } => Some(format!("a{allocation}")),
            _ => None,
        })
        .unwrap();
    let url = server.url();
    for identity in &approvers {
        let key = keys.path().join(format!("{}.nk", identity.name()));
        let approve = [
            "restitution",
            "approve",
            "--city",
            "hangzhou",
            "--nats",
            &url,
            &allocation,
            "--as",
            identity.name(),
            "--key",
            key.to_str().unwrap(),
        ];
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_afc")).args(approve).output().await.unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    until(&mut events, &mut seen, "the return instructed", |seen| count(seen, "return_instructed") == 1).await;
    testkit::eventually(BOUND, "the bank asked to return", || {
        let asked = asked.clone();
        async move { (!asked.lock().unwrap().is_empty()).then_some(()) }
    })
    .await;
    node.kill().await.unwrap();

    answering.store(true, Ordering::SeqCst);
    let mut node = common::start(&server, &node_data, &city(), &args, "warn", Stdio::inherit());
    until(&mut events, &mut seen, "the return confirmed", |seen| count(seen, "allocation_completed") == 1).await;
    node.kill().await.unwrap();
    let asked = asked.lock().unwrap().clone();
    assert!(asked.len() >= 2, "asked before the kill and after the restart");
    assert!(asked.iter().all(|r| r.request_id == asked[0].request_id && r.amount_fen == Fen::new(50_000)), "{asked:?}");
    assert_eq!(asked[0].to_account.expose(), &victim_account(), "back to the victim's own account");
    assert_eq!((count(&seen, "return_instructed"), count(&seen, "return_confirmed")), (1, 1), "{seen:?}");
}
