//! The outbox relay against a real nats-server and a real redb file: nothing leaves the
//! outbox before JetStream acknowledged it, events go out in sequence order with their id as
//! `Nats-Msg-Id`, and at shutdown the relay publishes what is left.

use async_nats::jetstream;
use domain::{CaseId, City, Fen, Service, system_clock};
use events::{FreezingEvent, Payload};
use store::{Producer, Store, WriteError};
use testkit::NatsServer;

fn city() -> City {
    City::parse("huzhou").unwrap()
}

async fn with_events(count: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let producer = Producer { city: city(), service: Service::Freezing };
    let store = Store::open(&dir.path().join("freezing.redb"), producer, system_clock()).unwrap();
    for n in 0..count {
        store
            .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                let case_id = CaseId::derive(&city(), n);
                let event = FreezingEvent::TraceStarted {
                    case_id: case_id.clone(),
                    reported_at_ms: n,
                    reported_loss_fen: Fen::new(1),
                };
                ctx.append(Some(case_id), None, Payload::Freezing(event))?;
                Ok(())
            })
            .await
            .unwrap();
    }
    (dir, store)
}

/// The ids of the stream's messages, in stream order.
async fn stream_ids(js: &jetstream::Context) -> Vec<String> {
    let stream = js.get_stream(city().stream_name()).await.unwrap();
    let last = stream.get_info().await.unwrap().state.last_sequence;
    let mut ids = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        ids.push(message.headers.get(async_nats::header::NATS_MESSAGE_ID).unwrap().as_str().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_leaves_the_outbox_before_jetstream_acknowledged_it() {
    let server = NatsServer::single().await.unwrap();
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let (_dir, store) = with_events(3).await;

    // No stream yet: the publish is not acknowledged, and every row stays.
    let mut cursor = 0;
    assert!(bus::relay::relay_once(&js, &store, &mut cursor).await.is_err());
    assert_eq!((cursor, store.outbox_len().await.unwrap()), (0, 3));

    bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
    assert_eq!(bus::relay::relay_once(&js, &store, &mut cursor).await.unwrap(), 3);
    assert_eq!(cursor, 3);
    assert_eq!(stream_ids(&js).await, ["huzhou.freezing.1", "huzhou.freezing.2", "huzhou.freezing.3"]);
    bus::relay::drain(&js, &store).await.unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 0, "confirmed rows leave the outbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_the_relay_publishes_what_is_left() {
    let server = NatsServer::single().await.unwrap();
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
    let (_dir, store) = with_events(2).await;
    // Told to stop before it ever ran: it still publishes the outbox on its way out.
    let (stop, shutdown) = tokio::sync::watch::channel(true);
    bus::relay::run_relay(js.clone(), store.clone(), shutdown).await.unwrap();
    drop(stop);
    assert_eq!(stream_ids(&js).await.len(), 2);
    assert_eq!(store.outbox_len().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_counts_each_kind_it_published_and_the_time_to_freeze_of_each_trace_completed() {
    let server = NatsServer::single().await.unwrap();
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
    let (_dir, store) = with_events(1).await;
    for (n, time_to_freeze_ms) in [(1, Some(40)), (2, Some(2_000)), (3, None)] {
        store
            .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                let case_id = CaseId::derive(&city(), n);
                let event = FreezingEvent::TraceCompleted {
                    case_id: case_id.clone(),
                    completed_at_ms: 10,
                    accounts_stopped: 1,
                    claimed_fen: Fen::new(1),
                    cashed_out_fen: Fen::ZERO,
                    untraced_fen: Fen::ZERO,
                    time_to_freeze_ms,
                };
                ctx.append(Some(case_id), None, Payload::Freezing(event))?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let stats = bus::relay::RelayStats::default();
    let (_stop, shutdown) = tokio::sync::watch::channel(true);
    bus::relay::run_relay_counted(js.clone(), store.clone(), &stats, shutdown).await.unwrap();
    assert_eq!(stats.published(), [("trace_started", 1), ("trace_completed", 3)]);
    let time = stats.time_to_freeze();
    assert_eq!(
        (time.count(), time.total()),
        (2, std::time::Duration::from_millis(2_040)),
        "a trace that held none has none"
    );
    let bucket = |seconds: f64| time.bounds().iter().position(|b| *b == seconds).unwrap();
    let mut expected = vec![0; time.bounds().len()];
    expected[bucket(0.05)] = 1;
    expected[bucket(2.5)] = 1;
    assert_eq!(time.buckets(), expected);
}
