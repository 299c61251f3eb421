//! The service runtime against a real nats-server and real redb files: a failing part
//! stops the service with its error, a consumer deleted on the server stops it, shutdown
//! stops the relay last so that what the other parts committed is published, and the
//! router answers a verb it does not know with the verbs it knows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use bus::BusError;
use domain::{CaseId, City, Fen, Service, system_clock};
use events::{FreezingEvent, Payload};
use protocol::command::{CommandErrorKind, CommandResponse};
use runtime::{Context, Router, ServiceError};
use store::{Producer, Store, WriteError};
use testkit::NatsServer;
use tokio::sync::watch;

/// Bound on anything the runtime does after being told (a stop, a failure noticed).
const BOUND: Duration = Duration::from_secs(30);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

struct Fixture {
    server: NatsServer,
    client: async_nats::Client,
    store: Store,
    shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> (Fixture, Context) {
    let server = NatsServer::single().await.unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let producer = Producer { city: city(), service: Service::Freezing };
    let store = Store::open(&dir.path().join("freezing.redb"), producer, system_clock()).unwrap();
    let (shutdown, signal) = watch::channel(false);
    let context = Context::new(city(), Service::Freezing, client.clone(), system_clock(), signal);
    (Fixture { server, client, store, shutdown, _dir: dir }, context)
}

async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future).await.unwrap_or_else(|_| panic!("{what} within {BOUND:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_part_stops_the_others_and_the_service_returns_its_error() {
    let (_fixture, mut context) = fixture().await;
    let told = Arc::new(AtomicBool::new(false));
    let mut shutdown = context.shutdown();
    let seen = told.clone();
    context.spawn("patient part", async move {
        runtime::stopped(&mut shutdown).await;
        seen.store(true, Ordering::SeqCst);
        Ok::<(), std::io::Error>(())
    });
    context.spawn("failing part", async { Err::<(), _>(std::io::Error::other("disk on fire")) });
    let outcome = bounded("the service stops", context.run()).await;
    match outcome {
        Err(ServiceError::Failed { part, source, .. }) => {
            assert_eq!(part, "failing part");
            assert_eq!(source.to_string(), "disk on fire");
        }
        other => panic!("expected the failing part's error, got {other:?}"),
    }
    assert!(told.load(Ordering::SeqCst), "the other part was told to stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_ends_before_shutdown_or_panics_stops_the_service() {
    let (_fixture, mut context) = fixture().await;
    context.spawn("quitter", async { Ok::<(), std::io::Error>(()) });
    let outcome = bounded("the service stops", context.run()).await;
    assert!(matches!(&outcome, Err(ServiceError::Ended { part, .. }) if part == "quitter"), "{outcome:?}");

    let (_fixture, mut context) = fixture().await;
    context.spawn("buggy", async {
        let empty: Vec<u8> = Vec::new();
        let _ = empty[usize::from(empty.is_empty())];
        Ok::<(), std::io::Error>(())
    });
    let outcome = bounded("the service stops", context.run()).await;
    assert!(matches!(&outcome, Err(ServiceError::Panicked { part, .. }) if part == "buggy"), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_deleted_on_the_server_stops_the_service() {
    let (fixture, mut context) = fixture().await;
    context.start_producer(&fixture.store).await.unwrap();
    let filter = protocol::subjects::service_events(&city(), Service::Intake);
    context.consume("probe", filter, |_envelope| async { Ok(()) });
    let running = tokio::spawn(context.run());

    let js = jetstream::new(fixture.client.clone());
    let stream = js.get_stream(city().stream_name()).await.unwrap();
    testkit::eventually(BOUND, "the consumer is created", || async { stream.consumer_info("probe").await.ok() }).await;
    assert!(stream.delete_consumer("probe").await.unwrap().success);

    let outcome = bounded("the service stops", running).await.unwrap();
    match &outcome {
        Err(ServiceError::Failed { part, source, .. }) => {
            assert_eq!(part, "consumer probe");
            assert!(
                matches!(source.downcast_ref::<BusError>(), Some(BusError::ConsumerDeleted { consumer }) if consumer == "probe"),
                "{source:?}"
            );
        }
        other => panic!("expected the consumer's failure, got {other:?}"),
    }
    drop(fixture.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_the_relay_stops_last_and_publishes_what_the_other_parts_committed() {
    let (fixture, mut context) = fixture().await;
    context.start_producer(&fixture.store).await.unwrap();
    let (store, mut shutdown) = (fixture.store.clone(), context.shutdown());
    let case_id = CaseId::derive(&city(), 1);
    let logged = case_id.clone();
    // A part that commits an event only once it is told to stop.
    context.spawn("last words", async move {
        runtime::stopped(&mut shutdown).await;
        store
            .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                let event = FreezingEvent::TraceStarted {
                    case_id: logged.clone(),
                    reported_at_ms: 1,
                    reported_loss_fen: Fen::new(1),
                };
                ctx.append(Some(logged), None, Payload::Freezing(event))?;
                Ok(())
            })
            .await
            .map_err(store::StoreError::from)
    });
    let running = tokio::spawn(context.run());
    fixture.shutdown.send(true).unwrap();
    bounded("the service stops", running).await.unwrap().unwrap();

    let js = jetstream::new(fixture.client.clone());
    let mut stream = js.get_stream(city().stream_name()).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1, "the event committed at shutdown was published");
    let message = stream
        .get_last_raw_message_by_subject(&protocol::subjects::event(
            &city(),
            Service::Freezing,
            FreezingEvent::TRACE_STARTED,
        ))
        .await
        .unwrap();
    assert_eq!(events::decode(&message.payload).unwrap().correlation, Some(case_id));
    assert_eq!(fixture.store.outbox_len().await.unwrap(), 0, "the outbox is drained");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_answers_its_verbs_and_names_them_for_an_unknown_one() {
    let (fixture, mut context) = fixture().await;
    let router = Router::new().verb("ping", |body: bytes::Bytes| async move { Ok::<_, String>(body.len()) });
    context.serve(router).await.unwrap();
    let running = tokio::spawn(context.run());

    let ask = |verb: &'static str| {
        let client = fixture.client.clone();
        async move {
            let subject = protocol::subjects::command(&city(), Service::Freezing, verb);
            client.request(subject, "four".into()).await.unwrap().payload
        }
    };
    let answer: serde_json::Value = serde_json::from_slice(&ask("ping").await).unwrap();
    assert_eq!(answer, serde_json::json!({"ok": 4}));
    let CommandResponse::Error(error) = serde_json::from_slice(&ask("pnig").await).unwrap() else {
        panic!("an unknown verb is an error")
    };
    assert_eq!(error.kind, CommandErrorKind::UnknownVerb);
    assert_eq!(error.verbs, ["ping"]);

    fixture.shutdown.send(true).unwrap();
    bounded("the service stops", running).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_stops_the_service() {
    let (fixture, mut context) = fixture().await;
    context.watch_store("freezing", &fixture.store);
    let running = tokio::spawn(context.run());
    let failed = fixture
        .store
        .write(|_ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            Err(WriteError::Store(store::StoreError::Corrupt("injected disk failure".into())))
        })
        .await;
    assert!(failed.is_err());
    match bounded("the service stops", running).await.unwrap() {
        Err(ServiceError::Failed { part, source, .. }) => {
            assert_eq!(part, "store freezing");
            assert!(source.to_string().contains("injected disk failure"), "{source}");
        }
        other => panic!("expected the store's failure, got {other:?}"),
    }
}

/// Publishes `bytes` as intake's `case_reported` number `seq`; returns its stream sequence.
async fn publish_case_reported(client: &async_nats::Client, seq: u64) -> u64 {
    let js = jetstream::new(client.clone());
    let case_id = CaseId::derive(&city(), seq);
    let envelope = events::Envelope::new(
        city(),
        seq,
        1,
        Payload::Intake(events::IntakeEvent::CaseReported {
            case_id,
            received_at_ms: 1,
            fraud_type: domain::FraudType::OnlineLoan,
            transfers: Vec::new(),
            contacts: domain::report::Contacts::default(),
            reported_loss_fen: Fen::new(1),
        }),
    );
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
    let ack = js.publish_with_headers(envelope.subject(), headers, events::encode(&envelope).unwrap().into());
    ack.await.unwrap().await.unwrap().sequence
}

/// The dead letter of the consuming service (freezing), once it is stored.
async fn dead_letter(client: &async_nats::Client) -> async_nats::jetstream::message::StreamMessage {
    let stream = jetstream::new(client.clone()).get_stream(city().stream_name()).await.unwrap();
    let subject = protocol::subjects::dead_letter(&city(), Service::Freezing);
    testkit::eventually(BOUND, "a dead letter", || async {
        stream.get_last_raw_message_by_subject(&subject).await.ok()
    })
    .await
}

fn header(message: &async_nats::jetstream::message::StreamMessage, name: &str) -> String {
    message.headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_failing_transiently_on_every_delivery_is_dead_lettered_and_terminated() {
    let (fixture, mut context) = fixture().await;
    bus::streams::ensure_city_stream(context.jetstream(), &city()).await.unwrap();
    let redelivery =
        bus::consumer::Redelivery { ack_wait: BOUND, nak_delays: vec![Duration::from_millis(10)], max_deliver: 3 };
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = calls.clone();
    let filter = protocol::subjects::service_events(&city(), Service::Intake);
    context.consume_with("flaky", filter, redelivery, move |_envelope| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Err(bus::consumer::HandleError::transient("the bank's gateway is down")) }
    });
    let running = tokio::spawn(context.run());
    let seq = publish_case_reported(&fixture.client, 1).await;

    let letter = dead_letter(&fixture.client).await;
    assert_eq!(header(&letter, bus::HEADER_DLQ_STREAM_SEQ), seq.to_string());
    let reason = header(&letter, bus::HEADER_DLQ_REASON);
    assert!(reason.contains("gave up after 3 deliveries") && reason.contains("gateway is down"), "{reason}");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "delivered max_deliver times, no more");
    // Terminated: acknowledged as far as the server is concerned, never delivered again.
    let stream = jetstream::new(fixture.client.clone()).get_stream(city().stream_name()).await.unwrap();
    let info = stream.consumer_info("flaky").await.unwrap();
    assert_eq!((info.ack_floor.stream_sequence, info.num_ack_pending, info.num_pending), (seq, 0, 0));
    fixture.shutdown.send(true).unwrap();
    bounded("the service stops", running).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_nobody_answers_is_dead_lettered_when_the_server_gives_up_on_it() {
    let (fixture, mut context) = fixture().await;
    bus::streams::ensure_city_stream(context.jetstream(), &city()).await.unwrap();
    let redelivery = bus::consumer::Redelivery {
        ack_wait: Duration::from_secs(1),
        nak_delays: vec![Duration::ZERO],
        max_deliver: 2,
    };
    // A handler that hangs until the test ends (a stuck dependency, a lost task).
    let (release, hung) = watch::channel(false);
    let filter = protocol::subjects::service_events(&city(), Service::Intake);
    context.consume_with("stuck", filter, redelivery, move |_envelope| {
        let mut hung = hung.clone();
        async move {
            let _ = hung.wait_for(|released| *released).await;
            Ok(())
        }
    });
    let running = tokio::spawn(context.run());
    let seq = publish_case_reported(&fixture.client, 1).await;

    let letter = dead_letter(&fixture.client).await;
    assert_eq!(header(&letter, bus::HEADER_DLQ_STREAM_SEQ), seq.to_string());
    assert_eq!(
        header(&letter, bus::HEADER_DLQ_SUBJECT),
        protocol::subjects::event(&city(), Service::Intake, events::IntakeEvent::CASE_REPORTED)
    );
    let reason = header(&letter, bus::HEADER_DLQ_REASON);
    assert!(reason.contains("no answer after 2 deliveries"), "{reason}");
    release.send(true).unwrap();
    fixture.shutdown.send(true).unwrap();
    bounded("the service stops", running).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producing_service_answers_the_provinces_resend_from_its_log_beside_its_own_notices() {
    use events::province::{NoticeError, ResendRequest, Resent, from_hex, kind};
    let (fixture, mut context) = fixture().await;
    context.start_producer(&fixture.store).await.unwrap();
    for n in 1..=3 {
        let case_id = CaseId::derive(&city(), n);
        fixture
            .store
            .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                let event = FreezingEvent::TraceStarted {
                    case_id: case_id.clone(),
                    reported_at_ms: n,
                    reported_loss_fen: Fen::new(n),
                };
                ctx.append(Some(case_id), None, Payload::Freezing(event))?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let router = Router::new().verb("cross_city", |_| async { Ok::<_, NoticeError>("heard") });
    context.serve_province(router).await.unwrap();
    let running = tokio::spawn(context.run());

    let ask = |kind: &'static str, body: String| {
        let client = fixture.client.clone();
        async move {
            let subject = protocol::subjects::province_notice(&city(), Service::Freezing, kind);
            let answer = testkit::eventually(BOUND, "the service answers", || {
                let (client, subject, body) = (client.clone(), subject.clone(), body.clone());
                async move { client.request(subject, body.into()).await.ok() }
            })
            .await;
            serde_json::from_slice::<serde_json::Value>(&answer.payload).unwrap()
        }
    };
    let resend = |from_seq, to_seq| serde_json::to_string(&ResendRequest { from_seq, to_seq }).unwrap();
    // The events asked for, from the log, with the log's highest.
    let answer = ask(kind::RESEND, resend(2, 5)).await;
    let resent: Resent = serde_json::from_value(answer["ok"].clone()).unwrap();
    assert_eq!(resent.highest_seq, 3);
    assert_eq!(resent.next_seq, None);
    let seqs: Vec<u64> =
        resent.events_hex.iter().map(|hex| events::decode(&from_hex(hex).unwrap()).unwrap().seq).collect();
    assert_eq!(seqs, [2, 3]);
    // Past the log's end: nothing, and the highest.
    let answer = ask(kind::RESEND, resend(4, 9)).await;
    assert_eq!(answer["ok"]["events_hex"], serde_json::json!([]));
    assert_eq!(answer["ok"]["highest_seq"], 3);
    // A range it does not take is refused with what it takes.
    let answer = ask(kind::RESEND, resend(0, 2)).await;
    assert_eq!(answer["error"]["kind"], "refused");
    assert!(answer["error"]["message"].as_str().unwrap().contains("1 <= from_seq"), "{answer}");
    // The service's own notices are answered on the same subjects.
    assert_eq!(ask("cross_city", "{}".into()).await, serde_json::json!({"ok": "heard"}));

    fixture.shutdown.send(true).unwrap();
    bounded("the service stops", running).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cases_of_the_events_a_service_published_and_handled_are_told_as_changed() {
    use futures::StreamExt as _;
    let (fixture, mut context) = fixture().await;
    let subject = protocol::subjects::changes(&city(), Service::Freezing);
    let mut told = fixture.client.subscribe(subject).await.unwrap();
    fixture.client.flush().await.unwrap();
    context.start_producer(&fixture.store).await.unwrap();
    context
        .consume("probe", protocol::subjects::service_events(&city(), Service::Intake), |_envelope| async { Ok(()) });
    // Case 1: an event the service commits (its relay publishes it). Case 2: an event of
    // intake's the service handles.
    let (store, published) = (fixture.store.clone(), CaseId::derive(&city(), 1));
    let case = published.clone();
    store
        .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            let event = FreezingEvent::TraceStarted {
                case_id: case.clone(),
                reported_at_ms: 1,
                reported_loss_fen: Fen::new(1),
            };
            ctx.append(Some(case), None, Payload::Freezing(event))?;
            Ok(())
        })
        .await
        .unwrap();
    let running = tokio::spawn(context.run());
    publish_case_reported(&fixture.client, 2).await;
    let mut heard = std::collections::BTreeSet::new();
    bounded("both cases told", async {
        while heard.len() < 2 {
            let message = told.next().await.expect("the subscription lasts");
            let changes: protocol::changes::Changes = serde_json::from_slice(&message.payload).unwrap();
            assert!(!changes.overflow && !changes.uncased, "{changes:?}");
            heard.extend(changes.cases);
        }
    })
    .await;
    assert_eq!(heard, [published, CaseId::derive(&city(), 2)].into(), "exactly the two cases");
    fixture.shutdown.send(true).unwrap();
    bounded("the service stops", running).await.unwrap().unwrap();
}
