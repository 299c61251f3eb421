//! The coordinator on a real hub with two cities (real nats-servers, leaf links, the
//! province stream sourcing each city's stream, a real redb file): it counts what the
//! cities publish, tells a cross-city account, a province-wide block and its withdrawal,
//! dead-letters an event of a city the province does not have, and after a restart resumes
//! from its snapshot without counting anything twice.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use coordinator::core::Report;
use coordinator::shell::{self, Options};
use domain::{AccountRef, CaseId, City, Fen, FraudType, TimeMs};
use events::{Envelope, FreezingEvent, IntakeEvent, Payload};
use futures::StreamExt as _;
use protocol::coordinator::{CoordinatorError, Status};
use protocol::{Reply, subjects};
use testkit::{Province, ProvinceOptions, eventually};
use tokio::sync::watch;

/// Bound on the province seeing what a city published, and on the coordinator's answers.
const BOUND: Duration = Duration::from_secs(30);

/// 09:00 on 14 March 2025, Beijing time.
const AT: TimeMs = 1_741_914_000_000;

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn reported(case_id: &CaseId, loss: u64) -> Payload {
    Payload::Intake(IntakeEvent::CaseReported {
        case_id: case_id.clone(),
        received_at_ms: AT,
        fraud_type: FraudType::PigButchering,
        transfers: Vec::new(),
        contacts: Default::default(),
        reported_loss_fen: Fen::new(loss),
    })
}

fn stopped(case_id: &CaseId, account: &AccountRef, claim: u64, at: TimeMs) -> Payload {
    Payload::Freezing(FreezingEvent::AccountStopped {
        case_id: case_id.clone(),
        hop: 1,
        account: account.clone(),
        stop_no: 1,
        held_fen: Fen::new(claim),
        claim_fen: Fen::new(claim),
        onward: Vec::new(),
        cashed_out_fen: Fen::ZERO,
        stopped_at_ms: at,
        expires_at_ms: at + 48 * 3_600_000,
        answered_in_ms: Some(40),
        first_onward_hop: None,
        depth: Some(1),
    })
}

/// Publishes `envelope` into `into`'s city stream as the outbox relay does.
async fn publish(js: &jetstream::Context, into: &City, envelope: &Envelope) {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", envelope.id.as_str());
    let subject = subjects::event(into, envelope.service, envelope.payload.name());
    let bytes = events::encode(envelope).unwrap();
    let ack = js.publish_with_headers(subject, headers, bytes.into()).await.unwrap().await.unwrap();
    assert_eq!(ack.stream, into.stream_name());
}

/// The coordinator's answer; `None` while nobody answers (it is starting).
async fn try_ask<T: serde::de::DeserializeOwned>(
    hub: &async_nats::Client,
    verb: &str,
    body: &str,
) -> Option<Result<T, CoordinatorError>> {
    let answer = hub.request(subjects::coordinator_command(verb), body.to_owned().into()).await.ok()?;
    Some(serde_json::from_slice::<Reply<T, CoordinatorError>>(&answer.payload).unwrap().into_result())
}

async fn ask<T: serde::de::DeserializeOwned>(
    hub: &async_nats::Client,
    verb: &str,
    body: &str,
) -> Result<T, CoordinatorError> {
    try_ask(hub, verb, body).await.expect("the coordinator answers")
}

/// The month's report once its totals count `reports` reports.
async fn report_with(hub: &async_nats::Client, reports: u64) -> Report {
    eventually(BOUND, "the coordinator counts the reports", || async {
        match tokio::time::timeout(BOUND, try_ask::<Report>(hub, "report", r#"{"period":"2025-03"}"#)).await {
            Ok(Some(Ok(report))) if report.totals.figures.reports == reports => Some(report),
            _ => None,
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_counts_each_city_once_tells_a_shared_account_and_resumes_after_a_restart() {
    let (hangzhou, wenzhou) = (city("hangzhou"), city("wenzhou"));
    let cities = [hangzhou.clone(), wenzhou.clone()];
    let province = Province::start(&cities, ProvinceOptions::default()).await.unwrap();
    let mut js = Vec::new();
    for c in &cities {
        let client = async_nats::connect(province.city(c).unwrap().server.url()).await.unwrap();
        let city_js = jetstream::new(client);
        bus::streams::city_stream(&city_js, c).await.unwrap();
        js.push(city_js);
    }
    let hub = async_nats::connect(province.hub_url()).await.unwrap();
    bus::streams::ensure_province_stream(&jetstream::new(hub.clone()), &cities).await.unwrap();
    let mut dead_letters = hub.subscribe(subjects::coordinator_dead_letter()).await.unwrap();
    hub.flush().await.unwrap();

    let data = tempfile::tempdir().unwrap();
    let options = Options::new(cities.to_vec(), data.path().to_owned());
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(shell::run(hub.clone(), options.clone(), shutdown));

    // Given a case in each city whose money reached the same mule account.
    let mule = AccountRef::parse("icbc:6222020000000001").unwrap();
    let (h1, w1) = (CaseId::derive(&hangzhou, 1), CaseId::derive(&wenzhou, 1));
    publish(&js[0], &hangzhou, &Envelope::new(hangzhou.clone(), 1, AT, reported(&h1, 1_000_000))).await;
    publish(&js[0], &hangzhou, &Envelope::new(hangzhou.clone(), 1, AT, stopped(&h1, &mule, 600_000, AT + 60_000)))
        .await;
    publish(&js[1], &wenzhou, &Envelope::new(wenzhou.clone(), 1, AT, reported(&w1, 500_000))).await;
    publish(&js[1], &wenzhou, &Envelope::new(wenzhou.clone(), 1, AT, stopped(&w1, &mule, 300_000, AT + 30_000))).await;
    // And an event naming a city the province does not have, in Hangzhou's stream.
    let ningbo = city("ningbo");
    let forged = Envelope::new(ningbo.clone(), 1, AT, reported(&CaseId::derive(&ningbo, 1), 1));
    publish(&js[0], &hangzhou, &forged).await;

    // Then the month's report counts each city once.
    let report = report_with(&hub, 2).await;
    let row = |of: &City| report.rows.iter().find(|r| r.city.as_ref() == Some(of)).unwrap().figures;
    assert_eq!(row(&hangzhou).reported_loss, Fen::new(1_000_000));
    assert_eq!(row(&wenzhou).money_stopped, Fen::new(300_000));
    assert_eq!(report.totals.figures.money_stopped, Fen::new(900_000));
    assert_eq!(report.totals.figures.accounts_stopped, 2);
    // The forged event is dead-lettered with its reason, counted, and counts nowhere.
    let letter = tokio::time::timeout(BOUND, dead_letters.next()).await.unwrap().unwrap();
    let reason = letter.headers.as_ref().and_then(|h| h.get(bus::HEADER_DLQ_REASON)).unwrap().to_string();
    assert!(reason.contains("unknown city \"ningbo\""), "{reason}");
    let status: Status = ask(&hub, "status", "{}").await.unwrap();
    assert_eq!(status.refused, vec![("unknown_city".to_owned(), 1)]);
    // The shared account is told, Wenzhou's earlier stop first.
    let notice = serde_json::to_string(&status.notices).unwrap();
    assert!(notice.contains("cross_city") && notice.contains("6222020000000001"), "{notice}");
    assert!(notice.find("wenzhou").unwrap() < notice.find("hangzhou").unwrap(), "{notice}");
    // Each case names the account it shares, with both cities' claims.
    let shared: Vec<coordinator::core::CrossCity> =
        ask(&hub, "case", &format!(r#"{{"case_id":"{h1}"}}"#)).await.unwrap();
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].account, mule);
    let claimed: Vec<&str> = shared[0].claims.iter().map(|c| c.city.as_str()).collect();
    assert_eq!(claimed, ["wenzhou", "hangzhou"]);
    let malformed = ask::<Vec<coordinator::core::CrossCity>>(&hub, "case", r#"{"case_id":"x"}"#).await.unwrap_err();
    assert!(matches!(&malformed, CoordinatorError::BadRequest { field, .. } if field == "case_id"), "{malformed:?}");
    // A bad period and an unknown city are refused with what is accepted.
    let bad = ask::<Report>(&hub, "report", r#"{"period":"2025-13"}"#).await.unwrap_err();
    assert!(matches!(&bad, CoordinatorError::BadRequest { field, .. } if field == "period"), "{bad:?}");
    let nobody = ask::<Report>(&hub, "city", r#"{"period":"2025-03","city":"ningbo"}"#).await.unwrap_err();
    assert!(matches!(nobody, CoordinatorError::UnknownCity { .. }), "{nobody:?}");
    let empty = ask::<Report>(&hub, "report", r#"{"period":"2024-03"}"#).await.unwrap_err();
    assert!(matches!(empty, CoordinatorError::NoData { .. }), "{empty:?}");

    // When the coordinator stops (a snapshot) and starts again, and Wenzhou reports again.
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
    // Its store holds a snapshot of all five messages, which reports the same month.
    let store = shell::store::SnapshotStore::open(&data.path().join("coordinator.redb")).unwrap();
    let (snapshot, covered) = store.load().unwrap().expect("a snapshot at the stop");
    assert_eq!(covered, 5, "the province stream's five messages");
    let period = coordinator::core::Period::parse("2025-03").unwrap();
    let margin = coordinator::core::FlagMargin::percent(20).unwrap();
    assert_eq!(coordinator::core::report(&snapshot, period, margin).unwrap(), report);
    drop(store);
    let (_stop, shutdown) = watch::channel(false);
    let _running = tokio::spawn(shell::run(hub.clone(), options, shutdown));
    let w2 = CaseId::derive(&wenzhou, 2);
    publish(&js[1], &wenzhou, &Envelope::new(wenzhou.clone(), 2, AT, reported(&w2, 200_000))).await;

    // Then it counts the new report, and nothing it had counted before twice.
    let report = report_with(&hub, 3).await;
    assert_eq!(report.totals.figures.reported_loss, Fen::new(1_700_000));
    assert_eq!(report.totals.figures.money_stopped, Fen::new(900_000));
    let wenzhou_row = ask::<Report>(&hub, "city", r#"{"period":"2025-03-14","city":"wenzhou"}"#).await.unwrap();
    assert_eq!(wenzhou_row.rows.len(), 1);
    assert_eq!(wenzhou_row.rows[0].figures.reports, 2);
}

/// Answers the province's notices of one kind on `at` (a city's server) as a city's service
/// would, passing each notice on; `refuse` answers every one refused instead.
async fn answer_notices(
    at: &async_nats::Client,
    subject: String,
    refuse: bool,
) -> tokio::sync::mpsc::UnboundedReceiver<serde_json::Value> {
    use events::province::{NoticeError, NoticeTaken};
    let mut notices = at.subscribe(subject).await.unwrap();
    at.flush().await.unwrap();
    let (heard, hear) = tokio::sync::mpsc::unbounded_channel();
    let at = at.clone();
    tokio::spawn(async move {
        while let Some(message) = notices.next().await {
            let answer: Reply<NoticeTaken, NoticeError> = if refuse {
                Reply::Error(NoticeError::Refused { message: "never_block".into() })
            } else {
                Reply::Ok(NoticeTaken { recorded: true })
            };
            let _ = heard.send(serde_json::from_slice(&message.payload).unwrap());
            at.publish(message.reply.unwrap(), serde_json::to_vec(&answer).unwrap().into()).await.unwrap();
        }
    });
    hear
}

/// The coordinator's status once `done` says it is what the test waits for.
async fn status_when(hub: &async_nats::Client, what: &str, done: impl Fn(&Status) -> bool) -> Status {
    eventually(BOUND, what, || async {
        match tokio::time::timeout(BOUND, try_ask::<Status>(hub, "status", "{}")).await {
            Ok(Some(Ok(status))) if done(&status) => Some(status),
            _ => None,
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_claiming_city_hears_a_cross_city_account_and_every_city_a_province_block_and_its_withdrawal_once_it_answers()
 {
    use events::province::kind;
    let (hangzhou, wenzhou, ningbo) = (city("hangzhou"), city("wenzhou"), city("ningbo"));
    let cities = [hangzhou.clone(), wenzhou.clone(), ningbo.clone()];
    let province = Province::start(&cities, ProvinceOptions::default()).await.unwrap();
    let mut at = Vec::new();
    for c in &cities {
        let client = async_nats::connect(province.city(c).unwrap().server.url()).await.unwrap();
        bus::streams::city_stream(&jetstream::new(client.clone()), c).await.unwrap();
        at.push(client);
    }
    let js: Vec<_> = at.iter().map(|c| jetstream::new(c.clone())).collect();
    let hub = async_nats::connect(province.hub_url()).await.unwrap();
    bus::streams::ensure_province_stream(&jetstream::new(hub.clone()), &cities).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let options = Options::new(cities.to_vec(), data.path().to_owned());
    let (_stop, shutdown) = watch::channel(false);
    let _running = tokio::spawn(shell::run(hub.clone(), options, shutdown));

    // Given Hangzhou's freezing answering, and Wenzhou's not running yet.
    let freezing = |c: &City| subjects::province_notice(c, domain::Service::Freezing, kind::CROSS_CITY);
    let mut hangzhou_hears = answer_notices(&at[0], freezing(&hangzhou), false).await;
    // When cases of both stop one account.
    let mule = AccountRef::parse("icbc:6222020000000001").unwrap();
    let (h1, w1) = (CaseId::derive(&hangzhou, 1), CaseId::derive(&wenzhou, 1));
    publish(&js[0], &hangzhou, &Envelope::new(hangzhou.clone(), 1, AT, stopped(&h1, &mule, 600_000, AT + 60_000)))
        .await;
    publish(&js[1], &wenzhou, &Envelope::new(wenzhou.clone(), 1, AT, stopped(&w1, &mule, 300_000, AT + 30_000))).await;

    // Then Hangzhou hears both claims, Wenzhou's earlier stop first; Wenzhou's notice waits.
    let heard = tokio::time::timeout(BOUND, hangzhou_hears.recv()).await.unwrap().unwrap();
    assert_eq!(heard["account"], "icbc:6222020000000001");
    assert_eq!(heard["claims"][0]["city"], "wenzhou");
    assert_eq!(heard["claims"][1]["case_id"], h1.as_str());
    let waiting = status_when(&hub, "Hangzhou's notice taken", |s| s.notices_taken == 1).await;
    assert_eq!(waiting.notices_pending, vec![("wenzhou".to_owned(), 1)], "Ningbo claims nothing: no notice");
    // And once Wenzhou's freezing answers, it hears the same notice.
    let mut wenzhou_hears = answer_notices(&at[1], freezing(&wenzhou), false).await;
    let heard_late = tokio::time::timeout(BOUND, wenzhou_hears.recv()).await.unwrap().unwrap();
    assert_eq!(heard_late, heard);
    status_when(&hub, "Wenzhou's notice taken", |s| s.notices_taken == 2 && s.notices_pending.is_empty()).await;

    // Given every city's blocking answering, Ningbo's refusing (the number is on its
    // never-block list).
    let blocking = |c: &City| subjects::province_notice(c, domain::Service::Blocking, kind::PROVINCE_BLOCK);
    let mut hears = Vec::new();
    for (i, c) in cities.iter().enumerate() {
        hears.push(answer_notices(&at[i], blocking(c), *c == ningbo).await);
    }
    // When Hangzhou and Wenzhou block the same number.
    let number = identifiers::Identifier::parse("phone:+8617000000000").unwrap();
    for (i, c) in [&hangzhou, &wenzhou].into_iter().enumerate() {
        let payload = Payload::Blocking(events::BlockingEvent::IdentifierBlocked {
            identifier: number.clone(),
            generation: 1,
            case_id: CaseId::derive(c, 9),
            fraud_type: FraudType::ImpersonatingAuthorities,
            blocked_at_ms: AT + u64::try_from(i).unwrap(),
            expires_at_ms: AT + 90 * 86_400_000,
            carriers: Vec::new(),
            looks_like: None,
            province: None,
        });
        publish(&js[i], c, &Envelope::new(c.clone(), 1, AT, payload)).await;
    }
    // Then every city hears it, naming Hangzhou's case as the first; Ningbo's refusal is
    // counted, not asked again.
    for hear in &mut hears {
        let heard = tokio::time::timeout(BOUND, hear.recv()).await.unwrap().unwrap();
        assert_eq!(heard["identifier"], "phone:+8617000000000");
        assert_eq!(heard["cities"], serde_json::json!(["hangzhou", "wenzhou"]));
        assert_eq!(heard["case_id"], CaseId::derive(&hangzhou, 9).as_str());
    }
    let done = status_when(&hub, "every city answered", |s| s.notices_taken == 4 && s.notices_refused == 1).await;
    assert!(done.notices_pending.is_empty(), "{:?}", done.notices_pending);

    // Given every city's blocking answering the province's withdrawals.
    let unblocking = |c: &City| subjects::province_notice(c, domain::Service::Blocking, kind::PROVINCE_UNBLOCK);
    let mut hears = Vec::new();
    for (i, c) in cities.iter().enumerate() {
        hears.push(answer_notices(&at[i], unblocking(c), false).await);
    }
    // When Wenzhou's staff lift its block (an appeal): one city is left holding its own.
    let appeal = events::blocking::Appeal { reason: "a bakery's line".into(), operator: "officer-9".into() };
    let lifted = events::BlockingEvent::BlockLifted { identifier: number, generation: 1, lifted_at_ms: AT + 1, appeal };
    publish(&js[1], &wenzhou, &Envelope::new(wenzhou.clone(), 2, AT + 1, Payload::Blocking(lifted))).await;
    // Then every city hears the province withdraw its block, without the appeal's words.
    for hear in &mut hears {
        let heard = tokio::time::timeout(BOUND, hear.recv()).await.unwrap().unwrap();
        let expected = serde_json::json!({
            "identifier": "phone:+8617000000000",
            "lifted_in": "wenzhou",
            "decided_at_ms": AT + 1,
        });
        assert_eq!(heard, expected);
    }
    let done = status_when(&hub, "every city heard the withdrawal", |s| s.notices_taken == 7).await;
    assert!(done.notices_pending.is_empty(), "{:?}", done.notices_pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_and_a_stalled_tail_of_a_producer_are_re_sent_from_its_log_into_the_province_stream() {
    use store::WriteError;
    let hangzhou = city("hangzhou");
    let cities = [hangzhou.clone()];
    let province = Province::start(&cities, ProvinceOptions::default()).await.unwrap();
    let at_city = async_nats::connect(province.city(&hangzhou).unwrap().server.url()).await.unwrap();
    let js = jetstream::new(at_city.clone());
    bus::streams::city_stream(&js, &hangzhou).await.unwrap();

    // Given Hangzhou's freezing with four events in its log, published into its stream.
    let data = tempfile::tempdir().unwrap();
    let producer = store::Producer { city: hangzhou.clone(), service: domain::Service::Freezing };
    let log = store::Store::open(&data.path().join("freezing.redb"), producer, domain::system_clock()).unwrap();
    for n in 1..=4 {
        let case_id = CaseId::derive(&hangzhou, n);
        log.write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            let event = FreezingEvent::TraceStarted {
                case_id: case_id.clone(),
                reported_at_ms: AT,
                reported_loss_fen: Fen::new(n),
            };
            ctx.append(Some(case_id), None, Payload::Freezing(event))?;
            Ok(())
        })
        .await
        .unwrap();
    }
    let (stop_service, service_shutdown) = watch::channel(false);
    let mut context = runtime::Context::new(
        hangzhou.clone(),
        domain::Service::Freezing,
        at_city.clone(),
        domain::system_clock(),
        service_shutdown,
    );
    context.start_producer(&log).await.unwrap();
    let service = tokio::spawn(context.run());
    let mut stream = js.get_stream(hangzhou.stream_name()).await.unwrap();
    eventually(BOUND, "the four events in the city stream", || {
        let mut stream = stream.clone();
        async move { (stream.info().await.ok()?.state.messages == 4).then_some(()) }
    })
    .await;
    // When the city stream loses the second and the last before the province sources it.
    stream.delete_message(2).await.unwrap();
    stream.delete_message(4).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
    let hub = async_nats::connect(province.hub_url()).await.unwrap();
    bus::streams::ensure_province_stream(&jetstream::new(hub.clone()), &cities).await.unwrap();
    let mut options = Options::new(cities.to_vec(), data.path().join("province"));
    options.resend_every = Duration::from_millis(200);
    let (_stop, shutdown) = watch::channel(false);
    let _running = tokio::spawn(shell::run(hub.clone(), options, shutdown));

    // Then the coordinator asks for the gap and the tail, and the province holds all four.
    let mended = status_when(&hub, "the gap and the tail re-sent", |s| {
        s.producers.iter().any(|p| p.producer == "hangzhou.freezing" && p.highest_seq == 4 && p.gaps.is_empty())
    })
    .await;
    assert_eq!(mended.events_resent, 2);
    let mut held = jetstream::new(hub.clone()).get_stream(subjects::PROVINCE_STREAM).await.unwrap();
    let messages = held.info().await.unwrap().state.messages;
    assert_eq!(messages, 4, "two sourced, two re-sent");
    stop_service.send(true).unwrap();
    service.await.unwrap().unwrap();
}
