//! Intake alone on a real nats-server and real redb files: the same report twice is one
//! case with one `case_reported` event, bad input is refused with a typed error naming
//! each offending field and nothing recorded, an unknown command lists the known ones, a
//! case's timeline folds freezing's events, a freezing event for a case intake never
//! recorded is dead-lettered, and the victim's paying accounts are published by reference
//! only and read back with `payers`.

use std::time::Duration;

use async_nats::jetstream;
use domain::{AccountRef, CaseId, City, Fen, Service, system_clock};
use events::{Envelope, FreezingEvent, IntakeEvent, Payload};
use protocol::Reply;
use protocol::command::{CommandErrorKind, CommandResponse};
use protocol::intake::{
    IntakeErrorKind, PayersResponse, ReportResponse, ShowResponse, TimelineKind, VERB_LIST, VERB_PAYERS, VERB_REPORT,
    VERB_SEARCH, VERB_SHOW,
};
use runtime::{NodeOptions, run_node};
use serde_json::{Value, json};
use testkit::NatsServer;
use tokio::sync::watch;

/// Bound on intake starting, and on a committed event reaching the stream.
const BOUND: Duration = Duration::from_secs(30);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn now_ms() -> u64 {
    system_clock().now_ms()
}

/// A valid report of one transfer.
fn report(amount_fen: u64) -> Value {
    json!({
        "victim": {"name": "王伟", "id_number": "330102198001011234", "phone": "13900000000"},
        "fraud_type": "online_loan",
        "transfers": [{"account": "icbc:6222020200001234", "amount_fen": amount_fen, "at_ms": now_ms() - 60_000}],
        "contacts": {"phones": ["+8617000000000"]},
        "narrative": "对方自称网贷平台客服",
    })
}

/// Intake of huzhou, alone in a node, on a server of its own.
struct Intake {
    server: NatsServer,
    client: async_nats::Client,
    js: jetstream::Context,
    stop: watch::Sender<bool>,
    node: tokio::task::JoinHandle<Result<(), runtime::NodeError>>,
    _data: tempfile::TempDir,
}

impl Intake {
    async fn start() -> Intake {
        let server = NatsServer::single().await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let options = NodeOptions {
            city: city(),
            nats_url: server.url(),
            data_dir: data.path().to_owned(),
            clock: system_clock(),
            credentials: None,
            http: None,
        };
        let (stop, shutdown) = watch::channel(false);
        let node = tokio::spawn(run_node(options, vec![Box::new(intake::Intake)], shutdown));
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        let intake = Intake { server, client, js, stop, node, _data: data };
        let probe = serde_json::to_vec(&json!({ "case_id": CaseId::derive(&city(), 0) })).unwrap();
        testkit::eventually(BOUND, "intake answers", || intake.ask(VERB_SHOW, probe.clone())).await;
        intake
    }

    /// The answer to a command, `None` while nobody answers.
    async fn ask(&self, verb: &str, body: Vec<u8>) -> Option<Vec<u8>> {
        let subject = protocol::subjects::command(&city(), Service::Intake, verb);
        self.client.request(subject, body.into()).await.ok().map(|m| m.payload.to_vec())
    }

    async fn report(&self, body: Vec<u8>) -> ReportResponse {
        serde_json::from_slice(&self.ask(VERB_REPORT, body).await.expect("intake answers")).unwrap()
    }

    async fn show(&self, case_id: &CaseId) -> ShowResponse {
        let body = serde_json::to_vec(&json!({ "case_id": case_id })).unwrap();
        serde_json::from_slice(&self.ask(VERB_SHOW, body).await.expect("intake answers")).unwrap()
    }

    async fn payers(&self, body: Vec<u8>) -> PayersResponse {
        serde_json::from_slice(&self.ask(VERB_PAYERS, body).await.expect("intake answers")).unwrap()
    }

    /// The `case_reported` events in the city stream, in order, with their raw bytes.
    async fn case_reported_events(&self) -> Vec<(Envelope, Vec<u8>)> {
        let subject = protocol::subjects::event(&city(), Service::Intake, IntakeEvent::CASE_REPORTED);
        let stream = self.js.get_stream(city().stream_name()).await.unwrap();
        let mut found = Vec::new();
        let mut next = 1;
        while let Ok(message) = stream.direct_get_next_for_subject(&subject, Some(next)).await {
            next = message.sequence + 1;
            found.push((events::decode(&message.payload).unwrap(), message.payload.to_vec()));
        }
        found
    }

    /// Case ids of the `case_reported` events in the city stream, in order.
    async fn case_reported(&self) -> Vec<CaseId> {
        self.case_reported_events().await.iter().filter_map(|(e, _)| e.payload.case_id().cloned()).collect()
    }

    /// Waits until `case_id`'s `case_reported` is in the stream: then so is everything intake
    /// committed before it (the relay publishes in commit order).
    async fn published(&self, case_id: &CaseId) -> Vec<CaseId> {
        testkit::eventually(BOUND, "the event reaches the stream", || async {
            let ids = self.case_reported().await;
            ids.contains(case_id).then_some(ids)
        })
        .await
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(BOUND, self.node).await.expect("intake stops").unwrap().unwrap();
        drop(self.server);
    }
}

fn accepted(response: ReportResponse) -> protocol::intake::ReportAccepted {
    match response {
        Reply::Ok(accepted) => accepted,
        Reply::Error(error) => panic!("refused: {error} {:?}", error.problems),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_report_twice_is_one_case_with_one_case_reported_event() {
    let intake = Intake::start().await;
    let body = serde_json::to_vec(&report(500_000)).unwrap();
    let first = accepted(intake.report(body.clone()).await);
    let second = accepted(intake.report(body).await);
    assert!(!first.duplicate && second.duplicate);
    assert_eq!(first.case_id, second.case_id);
    // A different report afterwards: once it is published, anything the duplicate might
    // have recorded would be too.
    let sentinel = accepted(intake.report(serde_json::to_vec(&report(10_000)).unwrap()).await);
    assert_eq!(intake.published(&sentinel.case_id).await, vec![first.case_id, sentinel.case_id]);
    intake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reports_are_refused_with_every_problem_named_and_nothing_recorded() {
    let intake = Intake::start().await;
    let good = report(10_000);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        edit(&mut body);
        body
    };
    let now = now_ms();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown fraud type", with(&|b| b["fraud_type"] = json!("lottery")), "fraud_type"),
        ("zero amount", with(&|b| b["transfers"][0]["amount_fen"] = json!(0)), "transfers[0].amount_fen"),
        ("negative amount", with(&|b| b["transfers"][0]["amount_fen"] = json!(-500)), "transfers[0].amount_fen"),
        ("amount beyond 64 bits", with(&|b| b["transfers"][0]["amount_fen"] = json!(1e30)), "transfers[0].amount_fen"),
        ("malformed account", with(&|b| b["transfers"][0]["account"] = json!("icbc:12")), "transfers[0].account"),
        (
            "malformed paying account",
            with(&|b| b["transfers"][0]["from_account"] = json!("ccb:12")),
            "transfers[0].from_account",
        ),
        (
            "paid from the account paid into",
            with(&|b| b["transfers"][0]["from_account"] = b["transfers"][0]["account"].clone()),
            "transfers[0].from_account",
        ),
        ("no transfers", with(&|b| b["transfers"] = json!([])), "transfers"),
        (
            "transfer in the future",
            with(&|b| b["transfers"][0]["at_ms"] = json!(now + 86_400_000)),
            "transfers[0].at_ms",
        ),
    ];
    for (name, bad, field) in &cases {
        let Reply::Error(error) = intake.report(serde_json::to_vec(bad).unwrap()).await else {
            panic!("{name}: accepted")
        };
        assert_eq!(error.kind, IntakeErrorKind::InvalidReport, "{name}: {error}");
        assert!(
            error.problems.iter().any(|p| p.field == *field),
            "{name}: no problem names {field}: {:?}",
            error.problems
        );
    }
    let mut large = good.clone();
    large["narrative"] = json!("x".repeat(protocol::MAX_BODY_BYTES + 1));
    let Reply::Error(error) = intake.report(serde_json::to_vec(&large).unwrap()).await else { panic!("accepted") };
    assert_eq!(error.kind, IntakeErrorKind::BodyTooLarge);
    let Reply::Error(error) = intake.report(b"victim=me&amount=100".to_vec()).await else { panic!("accepted") };
    assert_eq!(error.kind, IntakeErrorKind::NotJson);

    let valid = accepted(intake.report(serde_json::to_vec(&good).unwrap()).await);
    assert_eq!(intake.published(&valid.case_id).await, vec![valid.case_id], "only the valid report was recorded");
    intake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_command_is_answered_with_the_commands_intake_knows() {
    let intake = Intake::start().await;
    let answer = intake.ask("reprot", b"{}".to_vec()).await.expect("intake answers");
    let CommandResponse::Error(error) = serde_json::from_slice(&answer).unwrap() else { panic!("an error") };
    assert_eq!(error.kind, CommandErrorKind::UnknownVerb);
    assert_eq!(error.verbs, [VERB_LIST, VERB_PAYERS, VERB_REPORT, VERB_SEARCH, VERB_SHOW]);
    assert!(error.message.contains("\"reprot\""), "{}", error.message);
    intake.stop().await;
}

/// A freezing event as freezing would publish it.
fn freezing_event(seq: u64, event: FreezingEvent) -> Envelope {
    Envelope::new(city(), seq, now_ms(), Payload::Freezing(event))
}

async fn publish(js: &jetstream::Context, envelope: &Envelope) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
    js.publish_with_headers(envelope.subject(), headers, events::encode(envelope).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_shows_freezings_events_and_an_event_of_an_unknown_case_is_dead_lettered() {
    let intake = Intake::start().await;
    let case_id = accepted(intake.report(serde_json::to_vec(&report(500_000)).unwrap()).await).case_id;
    let Reply::Error(unknown) = intake.show(&CaseId::derive(&city(), 1)).await else { panic!("shown") };
    assert_eq!(unknown.kind, IntakeErrorKind::UnknownCase);

    let account = AccountRef::parse("icbc:6222020200001234").unwrap();
    let frozen = |case_id: &CaseId| FreezingEvent::AccountFrozen {
        case_id: case_id.clone(),
        account: account.clone(),
        frozen_fen: Fen::new(300_000),
        frozen_at_ms: now_ms(),
        expires_at_ms: now_ms() + 1,
    };
    let stranger = CaseId::derive(&city(), 2);
    publish(&intake.js, &freezing_event(1, frozen(&stranger))).await;
    publish(&intake.js, &freezing_event(2, frozen(&case_id))).await;

    let timeline = testkit::eventually(BOUND, "the frozen entry is shown", || async {
        match intake.show(&case_id).await {
            Reply::Ok(timeline) if timeline.entries.len() == 2 => Some(timeline),
            _ => None,
        }
    })
    .await;
    assert_eq!(timeline.entries[0].kind, TimelineKind::Reported);
    assert_eq!(timeline.entries[1].kind, TimelineKind::Frozen);
    assert_eq!(timeline.summary.frozen_fen, Fen::new(300_000));

    let dead_letters = protocol::subjects::dead_letter(&city(), Service::Intake);
    let stream = intake.js.get_stream(city().stream_name()).await.unwrap();
    // Handled concurrently with the other event: waited for on its own.
    let letter = testkit::eventually(BOUND, "a dead letter from intake", || async {
        stream.get_last_raw_message_by_subject(&dead_letters).await.ok()
    })
    .await;
    let reason = letter.headers.get(bus::HEADER_DLQ_REASON).map(|v| v.as_str().to_owned()).unwrap_or_default();
    assert!(reason.contains(&format!("unknown case {stranger}")), "{reason}");
    intake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_accounts_are_published_by_reference_only_and_read_back_with_payers() {
    let intake = Intake::start().await;
    let paid_from = "ccb:6217000011112222";
    let mut first = report(500_000);
    first["transfers"][0]["from_account"] = json!(paid_from);
    first["transfers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"order": "alipay:2025ABCDEF01", "amount_fen": 7_000, "at_ms": now_ms() - 30_000}));
    // A second victim's report from the same account (another case), and one of the old
    // kind, naming no paying account.
    let mut second = report(40_000);
    second["transfers"][0]["from_account"] = json!(paid_from);
    let first = accepted(intake.report(serde_json::to_vec(&first).unwrap()).await).case_id;
    let second = accepted(intake.report(serde_json::to_vec(&second).unwrap()).await).case_id;
    let old = accepted(intake.report(serde_json::to_vec(&report(9_000)).unwrap()).await).case_id;
    intake.published(&old).await;

    let published = intake.case_reported_events().await;
    let reference = |case: &CaseId, index: usize| {
        let (envelope, bytes) = published.iter().find(|(e, _)| e.payload.case_id() == Some(case)).unwrap();
        assert_eq!(envelope.schema, events::SCHEMA_VERSION);
        assert!(!String::from_utf8_lossy(bytes).contains("6217000011112222"), "the account is not in the event");
        let Payload::Intake(IntakeEvent::CaseReported { transfers, .. }) = &envelope.payload else { unreachable!() };
        transfers[index].from_account.clone()
    };
    let payer = reference(&first, 0).expect("named by reference");
    assert_eq!(payer.bank().as_str(), "ccb");
    assert_eq!(reference(&first, 1), None, "the order names none");
    assert_eq!(reference(&second, 0), Some(payer.clone()), "one account, one reference");
    assert_eq!(reference(&old, 0), None);

    let Reply::Ok(payers) = intake.payers(serde_json::to_vec(&json!({"case_id": first})).unwrap()).await else {
        panic!("payers refused")
    };
    assert_eq!(payers.case_id, first);
    assert_eq!(payers.transfers.len(), 1);
    assert_eq!((payers.transfers[0].index, payers.transfers[0].from_account.expose().as_str()), (0, paid_from));
    assert_eq!(payers.transfers[0].payer, payer);
    let Reply::Ok(none) = intake.payers(serde_json::to_vec(&json!({"case_id": old})).unwrap()).await else {
        panic!("payers refused")
    };
    assert!(none.transfers.is_empty());
    let unknown = serde_json::to_vec(&json!({"case_id": CaseId::derive(&city(), 3)})).unwrap();
    let Reply::Error(error) = intake.payers(unknown).await else { panic!("an unknown case answered") };
    assert_eq!(error.kind, IntakeErrorKind::UnknownCase);
    let Reply::Error(error) = intake.payers(br#"{"case":"x"}"#.to_vec()).await else { panic!("a bad body answered") };
    assert_eq!(error.kind, IntakeErrorKind::NotJson);
    intake.stop().await;
}
