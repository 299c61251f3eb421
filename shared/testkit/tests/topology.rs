//! De-risks the province topology with real servers: each city's own JetStream stream
//! (domain = city) is sourced into the hub's `AFC_PROVINCE` stream (domain `province`) across
//! the leaf connection, and a cut leaf link catches up after it is restored, without
//! duplicates.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use domain::City;
use testkit::{Province, ProvinceOptions};
use tokio::time::Instant;

/// Messages published to each city before the cut.
const PER_CITY: u64 = 20;
/// Messages published to the cut city while its link is cut.
const DURING_CUT: u64 = 10;
/// Bound on the province sourcing the first messages of every city.
const INITIAL_SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the province catching up after the link is restored (sources retry with backoff).
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the province is watched for not receiving the cut city's messages.
const ABSENCE_WINDOW: Duration = Duration::from_secs(2);
/// Interval between stream-state probes.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The hub's aggregate stream.
const PROVINCE_STREAM: &str = "AFC_PROVINCE";
/// Window within which a city stream drops a repeated `Nats-Msg-Id`.
const CITY_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

fn city(name: &str) -> City {
    City::parse(name).expect("valid city name")
}

fn event_filter(city: &City) -> String {
    protocol::subjects::city_events(city)
}

/// The city's own stream, created on the city's server (its JetStream is local).
fn city_stream_config(city: &City) -> stream::Config {
    stream::Config {
        name: city.stream_name(),
        subjects: vec![event_filter(city)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: CITY_DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// The hub's stream: no subjects of its own, one source per city across JetStream domains.
fn province_stream_config(cities: &[City]) -> stream::Config {
    stream::Config {
        name: PROVINCE_STREAM.into(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        // Zero is "unset" on the wire: the server applies its default (2 min).
        duplicate_window: Duration::ZERO,
        sources: Some(
            cities
                .iter()
                .map(|c| stream::Source {
                    name: c.stream_name(),
                    filter_subject: Some(event_filter(c)),
                    external: Some(stream::External { api_prefix: format!("$JS.{c}.API"), delivery_prefix: None }),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

async fn publish(js: &jetstream::Context, city: &City, range: std::ops::Range<u64>) {
    for i in range {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{city}-{i}").as_str());
        let subject = protocol::subjects::event(city, domain::Service::Intake, "test");
        let ack = js
            .publish_with_headers(subject, headers, format!("event {i}").into())
            .await
            .expect("publish sent")
            .await
            .expect("city stream acked");
        assert_eq!(ack.stream, city.stream_name());
    }
}

async fn message_count(js: &jetstream::Context, name: &str) -> u64 {
    let mut stream = js.get_stream(name).await.expect("stream exists");
    stream.info().await.expect("stream info").state.messages
}

/// Polls until the stream holds `expected` messages; returns how long that took.
async fn wait_for_count(js: &jetstream::Context, name: &str, expected: u64, timeout: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let count = message_count(js, name).await;
        assert!(count <= expected, "{name} has {count} messages, more than {expected}");
        if count == expected {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "{name} has {count} of {expected} messages after {timeout:?}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The `Nats-Msg-Id` of every message in the stream.
async fn msg_ids(js: &jetstream::Context, name: &str) -> Vec<String> {
    let mut stream = js.get_stream(name).await.expect("stream exists");
    let state = stream.info().await.expect("stream info").state.clone();
    let mut ids = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let msg = stream.get_raw_message(seq).await.expect("message by sequence");
        let id = msg.headers.get("Nats-Msg-Id").expect("sourced message keeps Nats-Msg-Id");
        ids.push(id.to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn city_streams_source_into_province_and_catch_up_after_a_cut() {
    let hangzhou = city("hangzhou");
    let wenzhou = city("wenzhou");
    let cities = [hangzhou.clone(), wenzhou.clone()];
    let province = Province::start(&cities, ProvinceOptions { sync_always: true, ..ProvinceOptions::default() })
        .await
        .expect("province started");

    let mut city_js = Vec::new();
    for c in &cities {
        let client = async_nats::connect(province.city(c).unwrap().server.url()).await.expect("connect to city");
        let js = jetstream::new(client);
        js.create_stream(city_stream_config(c)).await.expect("city stream created");
        city_js.push(js);
    }

    let hub = async_nats::connect(province.hub_url()).await.expect("connect to hub");
    let hub_js = jetstream::new(hub);
    let created = hub_js.create_stream(province_stream_config(&cities)).await.expect("province created");
    println!("AFC_PROVINCE duplicate_window on the server: {:?}", created.cached_info().config.duplicate_window);

    let start = Instant::now();
    for (c, js) in cities.iter().zip(&city_js) {
        publish(js, c, 0..PER_CITY).await;
    }
    let took = wait_for_count(&hub_js, PROVINCE_STREAM, 2 * PER_CITY, INITIAL_SYNC_TIMEOUT).await;
    println!(
        "initial sync: {} messages in province {:?} after the last publish ({:?} in all)",
        2 * PER_CITY,
        took,
        start.elapsed()
    );

    // Partition hangzhou: its own JetStream still accepts, the province does not see it.
    let link = &province.city(&hangzhou).unwrap().link;
    link.cut().await;
    province.wait_leaf_count(1).await.expect("hub lost hangzhou's leaf");
    publish(&city_js[0], &hangzhou, PER_CITY..PER_CITY + DURING_CUT).await;
    assert_eq!(message_count(&city_js[0], &hangzhou.stream_name()).await, PER_CITY + DURING_CUT);
    let watch = Instant::now();
    while watch.elapsed() < ABSENCE_WINDOW {
        assert_eq!(message_count(&hub_js, PROVINCE_STREAM).await, 2 * PER_CITY);
        tokio::time::sleep(POLL_INTERVAL).await;
    }

    let restored = Instant::now();
    link.restore();
    province.wait_leaf_count(2).await.expect("hangzhou's leaf is back");
    let leaf_back = restored.elapsed();
    let expected = 2 * PER_CITY + DURING_CUT;
    wait_for_count(&hub_js, PROVINCE_STREAM, expected, CATCH_UP_TIMEOUT).await;
    println!(
        "catch-up: leaf reconnected {leaf_back:?} after restore, province complete {:?} after \
         restore",
        restored.elapsed()
    );

    let ids = msg_ids(&hub_js, PROVINCE_STREAM).await;
    let distinct: BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len() as u64, expected);
    assert_eq!(distinct.len(), ids.len(), "province holds duplicates");
    for c in &cities {
        let n = if *c == hangzhou { PER_CITY + DURING_CUT } else { PER_CITY };
        for i in 0..n {
            assert!(distinct.contains(&format!("{c}-{i}")), "province lacks {c}-{i}");
        }
    }
}
