//! The province's link watcher (`bus::province::watch_links`) on real nats-servers: after a
//! cut leaf link heals, and after a hub restart, `AFC_PROVINCE` holds every event published
//! meanwhile, once, well before nats-server's own source retry would have brought them
//! (about 40 s). The bounds are generous (no machine-speed timing); `afc-lab bench
//! convergence` measures the times.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context};
use domain::City;
use protocol::subjects;
use testkit::{Province, ProvinceOptions, eventually};

/// Events each city publishes before the partition.
const BEFORE: u64 = 20;
/// Events published while the link is cut or the hub is down.
const DURING: u64 = 10;
/// Bound on the province sourcing the events published before the partition.
const INITIAL_SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the cut city's source must have been silent before the link is restored: long
/// enough for nats-server's health check (every 10 s) to have sent a consumer request that
/// nobody answers, the case where nats-server alone waits ~40 s.
const CUT_SILENCE: Duration = Duration::from_secs(20);
/// Bound on reaching [`CUT_SILENCE`].
const CUT_SILENCE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the province holding every event after the heal: generous, and still well under
/// what nats-server's retry backoff takes without the watcher.
const CONVERGENCE_TIMEOUT: Duration = Duration::from_secs(20);

fn city(name: &str) -> City {
    City::parse(name).expect("valid city name")
}

struct Setup {
    province: Province,
    cities: Vec<City>,
    city_js: Vec<Context>,
    hub_js: Context,
    stop_watcher: tokio::sync::watch::Sender<bool>,
}

async fn setup() -> Setup {
    let cities = vec![city("hangzhou"), city("wenzhou")];
    let province = Province::start(&cities, ProvinceOptions::default()).await.expect("province started");
    let mut city_js = Vec::new();
    for c in &cities {
        let client = async_nats::connect(province.city(c).unwrap().server.url()).await.expect("connect to city");
        let js = jetstream::new(client);
        bus::streams::ensure_city_stream(&js, c).await.expect("city stream");
        city_js.push(js);
    }
    let hub = async_nats::ConnectOptions::new()
        .reconnect_delay_callback(bus::province::reconnect_delay)
        .connect(province.hub_url())
        .await
        .expect("connect to hub");
    let hub_js = jetstream::new(hub.clone());
    bus::streams::ensure_province_stream(&hub_js, &cities).await.expect("province stream");
    let (stop_watcher, shutdown) = tokio::sync::watch::channel(false);
    if std::env::var("NO_WATCH").is_err() {
        tokio::spawn(bus::province::watch_links(hub, hub_js.clone(), cities.clone(), shutdown));
    }
    Setup { province, cities, city_js, hub_js, stop_watcher }
}

fn event_id(city: &City, i: u64) -> String {
    format!("{city}-intake-{i:08}")
}

async fn publish(js: &Context, city: &City, range: std::ops::Range<u64>) {
    for i in range {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", event_id(city, i).as_str());
        let subject = subjects::event(city, domain::Service::Intake, "test");
        js.publish_with_headers(subject, headers, format!("event {i}").into())
            .await
            .expect("publish sent")
            .await
            .expect("city stream acked");
    }
}

async fn province_count(hub: &Context) -> Option<u64> {
    let mut stream = hub.get_stream(subjects::PROVINCE_STREAM).await.ok()?;
    Some(stream.info().await.ok()?.state.messages)
}

/// Waits until the province holds `expected` events, failing at once if it ever holds more.
async fn wait_for_count(hub: &Context, expected: u64, timeout: Duration, what: &str) {
    eventually(timeout, what, || async {
        let count = province_count(hub).await?;
        assert!(count <= expected, "AFC_PROVINCE holds {count} events, more than {expected}");
        (count == expected).then_some(())
    })
    .await;
}

/// Every event of every city in the province, once: the ids, and each city's sourced
/// sequence numbers (`Nats-Stream-Source`), are distinct and complete.
async fn assert_each_once(hub: &Context, expected: &[(City, u64)]) {
    let mut stream = hub.get_stream(subjects::PROVINCE_STREAM).await.expect("province stream");
    let state = stream.info().await.expect("province info").state.clone();
    let mut ids = Vec::new();
    let mut sourced = BTreeSet::new();
    for seq in state.first_sequence..=state.last_sequence {
        let msg = stream.get_raw_message(seq).await.expect("message by sequence");
        ids.push(msg.headers.get("Nats-Msg-Id").expect("sourced events keep their id").to_string());
        let source = msg.headers.get("Nats-Stream-Source").expect("sourced events name their source").to_string();
        // `<stream>:<hash> <sequence> …`: the city's stream and its sequence there.
        let mut fields = source.split(' ');
        let origin = fields.next().unwrap_or_default().split(':').next().unwrap_or_default().to_owned();
        let sequence = fields.next().unwrap_or_default().to_owned();
        assert!(sourced.insert((origin, sequence)), "a city sequence sourced twice: {source}");
    }
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "AFC_PROVINCE holds an event twice");
    let total: u64 = expected.iter().map(|(_, n)| n).sum();
    assert_eq!(ids.len() as u64, total, "AFC_PROVINCE holds {} events, not {total}", ids.len());
    for (city, n) in expected {
        for i in 0..*n {
            assert!(distinct.contains(&event_id(city, i)), "AFC_PROVINCE lacks {}", event_id(city, i));
        }
    }
}

/// How long the province has not heard from `city`'s source (`None`: never since it started).
async fn source_silence(hub: &Context, city: &City) -> Option<Option<Duration>> {
    let mut stream = hub.get_stream(subjects::PROVINCE_STREAM).await.ok()?;
    let info = stream.info().await.ok()?;
    let source = info.sources.iter().find(|source| source.name == city.stream_name())?;
    Some(source.active)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healed_leaf_link_converges_at_once_with_nothing_lost_or_doubled() {
    let s = setup().await;
    let (hangzhou, wenzhou) = (&s.cities[0], &s.cities[1]);
    for (c, js) in s.cities.iter().zip(&s.city_js) {
        publish(js, c, 0..BEFORE).await;
    }
    wait_for_count(&s.hub_js, 2 * BEFORE, INITIAL_SYNC_TIMEOUT, "the first events in the province").await;

    let link = &s.province.city(hangzhou).unwrap().link;
    link.cut().await;
    s.province.wait_leaf_count(1).await.expect("the hub lost hangzhou's leaf");
    publish(&s.city_js[0], hangzhou, BEFORE..BEFORE + DURING).await;
    eventually(CUT_SILENCE_TIMEOUT, "hangzhou's source silent long enough", || async {
        let silence = source_silence(&s.hub_js, hangzhou).await?;
        eprintln!("silence {silence:?}");
        silence.is_none_or(|silent| silent >= CUT_SILENCE).then_some(())
    })
    .await;
    assert_eq!(province_count(&s.hub_js).await, Some(2 * BEFORE), "nothing crossed the cut link");

    link.restore();
    wait_for_count(&s.hub_js, 2 * BEFORE + DURING, CONVERGENCE_TIMEOUT, "the province after the heal").await;
    assert_each_once(&s.hub_js, &[(hangzhou.clone(), BEFORE + DURING), (wenzhou.clone(), BEFORE)]).await;

    // Restarting a live source is harmless too: it resumes after what the province holds.
    assert!(bus::province::restart_province_source(&s.hub_js, wenzhou).await.expect("restarted"));
    publish(&s.city_js[1], wenzhou, BEFORE..BEFORE + DURING).await;
    wait_for_count(&s.hub_js, 2 * (BEFORE + DURING), CONVERGENCE_TIMEOUT, "wenzhou after its restart").await;
    assert_each_once(&s.hub_js, &[(hangzhou.clone(), BEFORE + DURING), (wenzhou.clone(), BEFORE + DURING)]).await;
    s.stop_watcher.send_replace(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_hub_converges_at_once_with_nothing_lost_or_doubled() {
    let mut s = setup().await;
    for (c, js) in s.cities.iter().zip(&s.city_js) {
        publish(js, c, 0..BEFORE).await;
    }
    wait_for_count(&s.hub_js, 2 * BEFORE, INITIAL_SYNC_TIMEOUT, "the first events in the province").await;

    s.province.hub.stop().await.expect("hub stopped");
    for (c, js) in s.cities.iter().zip(&s.city_js) {
        publish(js, c, BEFORE..BEFORE + DURING).await;
    }
    s.province.hub.start_again().await.expect("hub started again");
    s.province.wait_leaf_count(2).await.expect("both cities' leaves are back");
    let expected = 2 * (BEFORE + DURING);
    wait_for_count(&s.hub_js, expected, CONVERGENCE_TIMEOUT, "the province after the hub's restart").await;
    let cities: Vec<(City, u64)> = s.cities.iter().map(|c| (c.clone(), BEFORE + DURING)).collect();
    assert_each_once(&s.hub_js, &cities).await;
    s.stop_watcher.send_replace(true);
}
