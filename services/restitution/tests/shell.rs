//! Restitution alone on a real nats-server and a real redb file: freezing's events published
//! as freezing publishes them, a stub bank answering `flows` and `return` (keeping every
//! request, executing each `request_id` once), a stub intake answering `payers`, and two
//! approvers with keys of their own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::report::Destination;
use domain::{AccountRef, CaseId, City, Fen, PayerRef, Sensitive, Service, SharedClock, system_clock};
use events::restitution::RestitutionEvent;
use events::{Envelope, FreezingEvent, Payload};
use futures::StreamExt;
use protocol::adapter::{
    Counterparty, Direction, FlowsReply, ReturnReply, ReturnRequest, ReturnStatus, StatementEntry,
};
use protocol::intake::{CasePayers, PayersRequest, TransferPayer};
use protocol::restitution::{
    AllocationResponse, AllocationView, ApproveRequest, ObjectRequest, RestitutionErrorKind, Signed, VERB_APPROVE,
    VERB_OBJECT, statement,
};
use protocol::subjects::{self, bank_verb};
use protocol::{Reply, to_json};
use runtime::{Context, ServiceError, Stores};
use store::{Producer, Store};
use testkit::NatsServer;
use tokio::sync::watch;

const BOUND: Duration = Duration::from_secs(60);
const NOTICE_MS: u64 = 300;

fn city() -> City {
    City::parse("wuhan").unwrap()
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020000001234").unwrap()
}

fn victim_account(n: u64) -> AccountRef {
    AccountRef::parse(&format!("boc:62170000000{n:05}")).unwrap()
}

/// The stub bank: every `return` asked, what it executed by request id, whether it answers.
#[derive(Clone, Default)]
struct Bank {
    asked: Arc<Mutex<Vec<ReturnRequest>>>,
    executed: Arc<Mutex<BTreeMap<String, ReturnRequest>>>,
    silent: Arc<AtomicBool>,
}

struct Harness {
    server: NatsServer,
    client: async_nats::Client,
    js: jetstream::Context,
    clock: SharedClock,
    store: Store,
    bank: Bank,
    approvers: Vec<(String, nkeys::KeyPair)>,
    t0: u64,
    _data: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let clock = system_clock();
        let server = NatsServer::single().await.unwrap();
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let producer = Producer { city: city(), service: Service::Restitution };
        let store =
            Stores::open(data.path(), &[restitution::STORE], &producer, &clock).unwrap().get(&restitution::STORE);
        let t0 = clock.now_ms() - 3_600_000;
        let bank = Bank::default();
        serve_bank(&client, bank.clone(), t0).await;
        serve_payers(&client).await;
        let approvers = ["li", "wang", "zhao"].map(|name| (name.to_owned(), nkeys::KeyPair::new_user())).to_vec();
        Harness { server, client, js, clock, store, bank, approvers, t0, _data: data }
    }

    /// Runs restitution on its own connection until stopped; `li` and `wang` are approvers.
    async fn run(&self) -> Running {
        let mut config = restitution::Config::new(city());
        config.process.notice_ms = NOTICE_MS;
        for (name, pair) in &self.approvers[..2] {
            config.approvers.insert(name.clone(), pair.public_key());
        }
        let client = async_nats::connect(self.server.url()).await.unwrap();
        let (stop, shutdown) = watch::channel(false);
        let context = Context::new(city(), Service::Restitution, client, self.clock.clone(), shutdown);
        let task = tokio::spawn(restitution::shell::run(config, context, self.store.clone()));
        Running { stop, task }
    }

    async fn publish(&self, seq: u64, event: FreezingEvent) {
        let envelope = Envelope::new(city(), seq, self.clock.now_ms(), Payload::Freezing(event));
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
        let bytes = events::encode(&envelope).unwrap();
        self.js.publish_with_headers(envelope.subject(), headers, bytes.into()).await.unwrap().await.unwrap();
    }

    /// Victim `n` paid `fen` into the mule, all of it frozen there.
    async fn victim(&self, n: u64, fen: u64) {
        let case_id = case(n);
        let seq = n * 10;
        let started = FreezingEvent::TraceStarted {
            case_id: case_id.clone(),
            reported_at_ms: self.t0,
            reported_loss_fen: Fen::new(fen),
        };
        self.publish(seq, started).await;
        let hop = FreezingEvent::HopOpened {
            case_id: case_id.clone(),
            hop: 1,
            parent: None,
            depth: 1,
            target: Destination::Account(mule()),
            traced_fen: Fen::new(fen),
            since_ms: self.t0 + n * 60_000,
            arrival_transfer_id: Some(format!("t{n}")),
        };
        self.publish(seq + 1, hop).await;
        let frozen = FreezingEvent::AccountFrozen {
            case_id,
            account: mule(),
            frozen_fen: Fen::new(fen),
            frozen_at_ms: self.t0 + 1_800_000,
            expires_at_ms: self.t0 + 180 * 86_400_000,
        };
        self.publish(seq + 2, frozen).await;
    }

    async fn ask<T: serde::Serialize>(&self, verb: &str, body: &T) -> AllocationResponse {
        let subject = subjects::command(&city(), Service::Restitution, verb);
        let answer =
            tokio::time::timeout(BOUND, self.client.request(subject, to_json(body).into())).await.unwrap().unwrap();
        serde_json::from_slice(&answer.payload).unwrap()
    }

    async fn approve(&self, allocation: &str, who: usize) -> AllocationResponse {
        let (name, pair) = &self.approvers[who];
        let said = statement(&city(), VERB_APPROVE, allocation, None);
        let signature = pair.sign(said.as_bytes()).unwrap().iter().map(|b| format!("{b:02x}")).collect();
        let request =
            ApproveRequest { allocation: allocation.into(), signed: Signed { approver: name.clone(), signature } };
        self.ask(VERB_APPROVE, &request).await
    }

    async fn watch(&self) -> Watch {
        let subscription =
            self.client.subscribe(subjects::service_events(&city(), Service::Restitution)).await.unwrap();
        self.client.flush().await.unwrap();
        Watch { subscription, ids: Default::default(), seen: Vec::new() }
    }
}

fn case(n: u64) -> CaseId {
    CaseId::derive(&city(), n)
}

/// The bank: `flows` gives the mule's statement (victims 1 and 2 paying 60,000 and 40,000);
/// `return` executes each request id once and answers it again as executed.
async fn serve_bank(client: &async_nats::Client, bank: Bank, t0: u64) {
    let mut flows = client.subscribe(subjects::bank(&mule().bank(), bank_verb::FLOWS)).await.unwrap();
    let mut returns = client.subscribe(subjects::bank(&mule().bank(), bank_verb::RETURN)).await.unwrap();
    client.flush().await.unwrap();
    let answering = client.clone();
    tokio::spawn(async move {
        while let Some(message) = flows.next().await {
            let entry = |n: u64, amount: u64, balance: u64| StatementEntry {
                transfer_id: format!("t{n}"),
                at_ms: t0 + n * 60_000,
                direction: Direction::In,
                amount_fen: Fen::new(amount),
                counterparty: Counterparty::Account(victim_account(n)),
                balance_after_fen: Fen::new(balance),
            };
            let reply = FlowsReply {
                balance_fen: Fen::new(100_000),
                statement: vec![entry(1, 60_000, 60_000), entry(2, 40_000, 100_000)],
            };
            answering.publish(message.reply.unwrap(), to_json(&Reply::<_, ()>::Ok(reply)).into()).await.unwrap();
        }
    });
    let answering = client.clone();
    tokio::spawn(async move {
        while let Some(message) = returns.next().await {
            let request: ReturnRequest = serde_json::from_slice(&message.payload).unwrap();
            bank.asked.lock().unwrap().push(request.clone());
            if bank.silent.load(Ordering::SeqCst) {
                continue;
            }
            let first = bank.executed.lock().unwrap().entry(request.request_id.clone()).or_insert(request).clone();
            let reply = ReturnReply {
                status: ReturnStatus::Executed,
                amount_fen: first.amount_fen,
                transfer_id: Some(format!("ret-{}", first.case_id)),
                executed_at_ms: Some(t0 + 7_200_000),
            };
            answering.publish(message.reply.unwrap(), to_json(&Reply::<_, ()>::Ok(reply)).into()).await.unwrap();
        }
    });
}

/// Intake's `payers`: victim n paid from their account `victim_account(n)`.
async fn serve_payers(client: &async_nats::Client) {
    let subject = subjects::command(&city(), Service::Intake, protocol::intake::VERB_PAYERS);
    let mut requests = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    let answering = client.clone();
    tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let request: PayersRequest = serde_json::from_slice(&message.payload).unwrap();
            let n = (1..=9).find(|n| case(*n) == request.case_id).unwrap();
            let account = victim_account(n);
            let payer = PayerRef::new(&account.bank(), u128::from(n));
            let transfer = TransferPayer { index: 0, from_account: Sensitive::new(account), payer };
            let reply = CasePayers { case_id: request.case_id, transfers: vec![transfer] };
            answering.publish(message.reply.unwrap(), to_json(&Reply::<_, ()>::Ok(reply)).into()).await.unwrap();
        }
    });
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(BOUND, self.task).await.expect("restitution stops").unwrap().unwrap();
    }
}

struct Watch {
    subscription: async_nats::Subscriber,
    ids: std::collections::BTreeSet<String>,
    seen: Vec<RestitutionEvent>,
}

impl Watch {
    async fn until(&mut self, what: &str, done: impl Fn(&[RestitutionEvent]) -> bool) {
        let waited = tokio::time::timeout(BOUND, async {
            while !done(&self.seen) {
                let message = self.subscription.next().await.expect("subscribed");
                let envelope = events::decode(&message.payload).unwrap();
                // A restarted service's relay publishes again what its outbox still held (the
                // stream drops it by its id; a plain subscriber hears it twice).
                if !self.ids.insert(envelope.id.clone()) {
                    continue;
                }
                let Payload::Restitution(event) = envelope.payload else { panic!("restitution's own events") };
                self.seen.push(event);
            }
        });
        if waited.await.is_err() {
            panic!("{what}: {:?}", self.seen);
        }
    }
}

fn count(events: &[RestitutionEvent], name: &str) -> usize {
    events.iter().filter(|e| e.name() == name).count()
}

fn ok(response: AllocationResponse) -> AllocationView {
    match response {
        Reply::Ok(view) => view,
        Reply::Error(error) => panic!("refused: {error:?}"),
    }
}

fn refused(response: AllocationResponse) -> RestitutionErrorKind {
    match response {
        Reply::Ok(view) => panic!("accepted: {view:?}"),
        Reply::Error(error) => error.kind,
    }
}

#[tokio::test]
async fn frozen_money_goes_back_to_each_victims_own_account_once_after_notice_and_two_approvals() {
    let harness = Harness::start().await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    harness.victim(1, 60_000).await;
    harness.victim(2, 40_000).await;
    watch
        .until("both victims in one proposal", |seen| {
            seen.iter().any(|e| matches!(e, RestitutionEvent::AllocationProposed { shares, .. } if shares.len() == 2))
        })
        .await;
    let allocation = watch
        .seen
        .iter()
        .rev()
        .find_map(|e| match e {
            RestitutionEvent::AllocationProposed { allocation, shares, statement_entries, .. } => {
                assert_eq!(*statement_entries, Some(2), "the bank's statement was read");
                let given: Vec<u64> = shares.iter().map(|s| s.fen.get()).collect();
                assert_eq!(given.iter().sum::<u64>(), 100_000);
                Some(format!("a{allocation}"))
            }
            _ => None,
        })
        .unwrap();
    let object = ObjectRequest { allocation: "a99".into(), case_id: None, by: "x".into(), reason: "y".into() };
    assert_eq!(refused(harness.ask(VERB_OBJECT, &object).await), RestitutionErrorKind::UnknownAllocation);
    watch.until("the notice ends", |seen| count(seen, "notice_ended") == 1).await;
    let late = ObjectRequest {
        allocation: allocation.clone(),
        case_id: Some(case(2)),
        by: "victim".into(),
        reason: "late".into(),
    };
    assert_eq!(refused(harness.ask(VERB_OBJECT, &late).await), RestitutionErrorKind::WrongPhase);
    assert_eq!(
        refused(harness.approve(&allocation, 2).await),
        RestitutionErrorKind::NotAnApprover,
        "zhao is not in the roster"
    );
    let view = ok(harness.approve(&allocation, 0).await);
    assert_eq!(view.approvals.len(), 1);
    assert_eq!(refused(harness.approve(&allocation, 0).await), RestitutionErrorKind::AlreadyApproved);
    let forged = ApproveRequest {
        allocation: allocation.clone(),
        signed: Signed { approver: "wang".into(), signature: "00".repeat(64) },
    };
    assert_eq!(refused(harness.ask(VERB_APPROVE, &forged).await), RestitutionErrorKind::BadSignature);
    ok(harness.approve(&allocation, 1).await);
    watch.until("every return confirmed", |seen| count(seen, "allocation_completed") == 1).await;
    assert_eq!(count(&watch.seen, "return_instructed"), 2);
    assert_eq!(count(&watch.seen, "return_confirmed"), 2);
    let executed = harness.bank.executed.lock().unwrap().clone();
    let paid: BTreeMap<String, u64> =
        executed.values().map(|r| (r.to_account.expose().to_string(), r.amount_fen.get())).collect();
    assert_eq!(paid.values().sum::<u64>(), 100_000);
    assert!(paid.keys().all(|to| to.starts_with("boc:")), "each back to the victim's own account: {paid:?}");

    // The fund-flow report of the allocation: both trails, the shares, the returns.
    let subject = subjects::command(&city(), Service::Restitution, protocol::restitution::VERB_REPORT);
    let body = to_json(&protocol::restitution::ReportRequest { case_id: None, allocation: Some(allocation.clone()) });
    let answer = harness.client.request(subject, body.into()).await.unwrap();
    let report: Reply<restitution::report::FundFlow, protocol::restitution::RestitutionError> =
        serde_json::from_slice(&answer.payload).unwrap();
    let Reply::Ok(report) = report else { panic!("no report: {report:?}") };
    assert_eq!(report.trail.len(), 2, "one hop a victim: {:?}", report.trail);
    let [section] = report.allocations.as_slice() else { panic!("one allocation") };
    assert!(section.totals().adds_up);
    assert_eq!(section.returns.iter().filter(|r| r.state == "confirmed").count(), 2);
    let html = restitution::report::render_html(&report);
    assert!(html.contains("<svg") && !html.contains("62170000000"), "a graph, and no victim's account number");
    running.stop().await;
}

#[tokio::test]
async fn a_restart_between_instruction_and_confirmation_asks_the_same_request_and_pays_once() {
    let harness = Harness::start().await;
    harness.bank.silent.store(true, Ordering::SeqCst);
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    harness.victim(1, 60_000).await;
    watch.until("the notice ends", |seen| count(seen, "notice_ended") == 1).await;
    let allocation = watch.seen.iter().find_map(|e| match e {
        RestitutionEvent::AllocationProposed { allocation, .. } => Some(format!("a{allocation}")),
        _ => None,
    });
    let allocation = allocation.unwrap();
    ok(harness.approve(&allocation, 0).await);
    ok(harness.approve(&allocation, 1).await);
    watch.until("the return instructed", |seen| count(seen, "return_instructed") == 1).await;
    let deadline = tokio::time::Instant::now() + BOUND;
    while harness.bank.asked.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the bank was never asked");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.task.abort();
    let _ = running.task.await;
    harness.bank.silent.store(false, Ordering::SeqCst);
    let running = harness.run().await;
    watch.until("the return confirmed", |seen| count(seen, "allocation_completed") == 1).await;
    let asked = harness.bank.asked.lock().unwrap().clone();
    assert!(asked.len() >= 2, "asked before and after the restart");
    assert!(asked.iter().all(|r| r.request_id == asked[0].request_id), "one request id: {asked:?}");
    assert_eq!(harness.bank.executed.lock().unwrap().len(), 1, "executed once");
    assert_eq!(count(&watch.seen, "return_instructed"), 1, "instructed once");
    running.stop().await;
}
