//! `list` and `search` against intake on a real nats-server and real redb files: reports
//! filed, then listed newest first a page at a time and filtered; found by case id, by the
//! account they paid into (typed with spaces, with or without its bank), by an account
//! freezing traced the money to, by the scammer's phone number in another spelling and by a
//! URL's domain; and a query that is nothing searchable (SQL, HTML, a case of another city)
//! refused with a typed error naming the field, the value and what is accepted.

use std::time::Duration;

use async_nats::jetstream;
use domain::{AccountRef, CaseId, City, Fen, Service, system_clock};
use events::{Envelope, FreezingEvent, Payload};
use protocol::Reply;
use protocol::intake::{
    CaseStatus, IntakeErrorKind, ListRequest, ListResponse, MatchSource, ReportResponse, SearchKind, SearchRequest,
    SearchResponse, VERB_LIST, VERB_REPORT, VERB_SEARCH,
};
use runtime::{NodeOptions, run_node};
use serde_json::{Value, json};
use testkit::NatsServer;
use tokio::sync::watch;

/// Bound on intake starting, and on a published event being folded in.
const BOUND: Duration = Duration::from_secs(30);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn now_ms() -> u64 {
    system_clock().now_ms()
}

/// A report of one transfer of `amount_fen` into `account`, naming the scammer's `phone` and
/// `url`.
fn report(fraud_type: &str, amount_fen: u64, account: &str, phone: &str, url: &str) -> Value {
    json!({
        "victim": {"name": "王伟", "id_number": "330102198001011234", "phone": "13900000000"},
        "fraud_type": fraud_type,
        "transfers": [{"account": account, "amount_fen": amount_fen, "at_ms": now_ms() - 60_000}],
        "contacts": {"phones": [phone], "urls": [url]},
    })
}

struct Intake {
    _server: NatsServer,
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
        let intake = Intake { _server: server, client, js, stop, node, _data: data };
        testkit::eventually(BOUND, "intake answers", || intake.ask(VERB_LIST, b"{}".to_vec())).await;
        intake
    }

    async fn ask(&self, verb: &str, body: Vec<u8>) -> Option<Vec<u8>> {
        let subject = protocol::subjects::command(&city(), Service::Intake, verb);
        self.client.request(subject, body.into()).await.ok().map(|m| m.payload.to_vec())
    }

    async fn report(&self, body: Value) -> CaseId {
        let answer = self.ask(VERB_REPORT, serde_json::to_vec(&body).unwrap()).await.expect("intake answers");
        match serde_json::from_slice::<ReportResponse>(&answer).unwrap() {
            Reply::Ok(accepted) => accepted.case_id,
            Reply::Error(error) => panic!("refused: {error}"),
        }
    }

    async fn list(&self, request: &ListRequest) -> ListResponse {
        let answer = self.ask(VERB_LIST, serde_json::to_vec(request).unwrap()).await.expect("intake answers");
        serde_json::from_slice(&answer).unwrap()
    }

    async fn search(&self, query: &str, kind: Option<SearchKind>) -> SearchResponse {
        let request = SearchRequest { query: query.to_owned(), kind };
        let answer = self.ask(VERB_SEARCH, serde_json::to_vec(&request).unwrap()).await.expect("intake answers");
        serde_json::from_slice(&answer).unwrap()
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(BOUND, self.node).await.expect("intake stops").unwrap().unwrap();
    }
}

fn ids(response: ListResponse) -> (Vec<CaseId>, Option<protocol::intake::CaseCursor>) {
    match response {
        Reply::Ok(list) => (list.cases.into_iter().map(|c| c.case_id).collect(), list.next),
        Reply::Error(error) => panic!("list refused: {error} {:?}", error.problems),
    }
}

fn found(response: SearchResponse) -> Vec<(CaseId, SearchKind, String, MatchSource)> {
    match response {
        Reply::Ok(result) => result.matches.into_iter().map(|m| (m.case_id, m.kind, m.matched, m.source)).collect(),
        Reply::Error(error) => panic!("search refused: {error} {:?}", error.problems),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_are_listed_newest_first_a_page_at_a_time_and_found_by_what_staff_type() {
    let intake = Intake::start().await;
    let a = intake
        .report(report(
            "online_loan",
            10_000,
            "icbc:6222020200001234",
            "+8617000000000",
            "https://m.loan-example.top/x",
        ))
        .await;
    let b = intake
        .report(report("pig_butchering", 20_000, "abc:622848000011", "17000000001", "http://invest-example.top"))
        .await;
    let c = intake
        .report(report("online_loan", 30_000, "icbc:6222020200001234", "170 0000 0002", "http://other-example.top"))
        .await;

    // Newest first: received in the order filed (the same millisecond sorts by case id, so
    // only the set of each page is certain then; the pages never repeat or skip a case).
    let (first, next) = ids(intake.list(&ListRequest { limit: Some(2), ..ListRequest::default() }).await);
    assert_eq!(first.len(), 2);
    let next = next.expect("a third case follows");
    let (rest, end) =
        ids(intake.list(&ListRequest { after: Some(next), limit: Some(2), ..ListRequest::default() }).await);
    assert_eq!(end, None);
    let mut all: Vec<CaseId> = first.into_iter().chain(rest).collect();
    let (whole, _) = ids(intake.list(&ListRequest::default()).await);
    assert_eq!(all, whole, "two pages are the one page");
    all.sort();
    let mut filed = vec![a.clone(), b.clone(), c.clone()];
    filed.sort();
    assert_eq!(all, filed);
    let Reply::Ok(listed) = intake.list(&ListRequest::default()).await else { panic!("refused") };
    let times: Vec<u64> = listed.cases.iter().map(|c| c.reported_at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("王伟") && !text.contains("13900000000") && !text.contains("330102"), "no victim data");

    let pig = ListRequest { fraud_type: Some(domain::FraudType::PigButchering), ..ListRequest::default() };
    assert_eq!(ids(intake.list(&pig).await).0, vec![b.clone()]);

    // By case id, by account (with spaces, without its bank), by phone in another spelling,
    // by a URL's domain.
    assert_eq!(
        found(intake.search(a.as_str(), None).await),
        vec![(a.clone(), SearchKind::Case, a.to_string(), MatchSource::Report)]
    );
    let by_account: Vec<CaseId> =
        found(intake.search("6222 0202 0000 1234", None).await).into_iter().map(|m| m.0).collect();
    assert_eq!(by_account.len(), 2);
    assert!(by_account.contains(&a) && by_account.contains(&c));
    assert!(found(intake.search("ccb:6222020200001234", None).await).is_empty(), "another bank's account");
    let by_phone = found(intake.search("+86 170-0000-0001", None).await);
    assert_eq!(by_phone, vec![(b.clone(), SearchKind::Phone, "phone:+8617000000001".into(), MatchSource::Report)]);
    let by_site = found(intake.search("https://www.invest-example.top/login", None).await);
    assert_eq!(by_site, vec![(b.clone(), SearchKind::Domain, "domain:invest-example.top".into(), MatchSource::Report)]);

    // Freezing traces b's money on to an account and freezes it there: b is found by it,
    // and listed as frozen.
    let onward = AccountRef::parse("cmb:6214830000009999").unwrap();
    let frozen = FreezingEvent::AccountFrozen {
        case_id: b.clone(),
        account: onward.clone(),
        frozen_fen: Fen::new(20_000),
        frozen_at_ms: now_ms(),
        expires_at_ms: now_ms() + 1,
    };
    let envelope = Envelope::new(city(), 1, now_ms(), Payload::Freezing(frozen));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
    intake
        .js
        .publish_with_headers(envelope.subject(), headers, events::encode(&envelope).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
    let trail = testkit::eventually(BOUND, "the trail's account is found", || async {
        let matches = found(intake.search(onward.as_str(), Some(SearchKind::Account)).await);
        (!matches.is_empty()).then_some(matches)
    })
    .await;
    assert_eq!(trail, vec![(b.clone(), SearchKind::Account, onward.to_string(), MatchSource::Trail)]);
    let frozen_only = ListRequest { status: Some(CaseStatus::Frozen), ..ListRequest::default() };
    assert_eq!(ids(intake.list(&frozen_only).await).0, vec![b.clone()]);
    intake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_is_nothing_searchable_is_refused_with_a_typed_error_and_nothing_read_into_it() {
    let intake = Intake::start().await;
    intake
        .report(report("online_loan", 10_000, "icbc:6222020200001234", "+8617000000000", "http://x-example.top"))
        .await;
    let other = CaseId::derive(&City::parse("ningbo").unwrap(), 1);
    for bad in ["'; DROP TABLE reports; --", "<img src=x onerror=alert(1)>", other.as_str()] {
        let Reply::Error(error) = intake.search(bad, None).await else { panic!("{bad}: answered") };
        assert_eq!(error.kind, IntakeErrorKind::InvalidQuery, "{bad}");
        assert_eq!((error.problems[0].field.as_str(), error.problems[0].value.as_str()), ("query", bad));
        assert!(!error.problems[0].expected.is_empty());
    }
    let Reply::Error(error) = intake.search("not-a-phone", Some(SearchKind::Phone)).await else { panic!("answered") };
    assert!(error.problems[0].expected.starts_with("a phone number"), "{:?}", error.problems);
    let Reply::Error(error) = intake.list(&ListRequest { limit: Some(0), ..ListRequest::default() }).await else {
        panic!("a page of none")
    };
    assert_eq!((error.kind, error.problems[0].field.as_str()), (IntakeErrorKind::InvalidQuery, "limit"));
    let answer = intake.ask(VERB_LIST, br#"{"order_by":"1; DROP"}"#.to_vec()).await.unwrap();
    let Reply::Error(error) = serde_json::from_slice::<ListResponse>(&answer).unwrap() else { panic!("answered") };
    assert_eq!(error.kind, IntakeErrorKind::NotJson);
    let (cases, _) = ids(intake.list(&ListRequest::default()).await);
    assert_eq!(cases.len(), 1, "nothing changed");
    intake.stop().await;
}
