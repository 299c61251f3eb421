//! The province outgrows one hub server: the hub is a 3-node JetStream cluster, secured as a
//! center's is (TLS routes pinned to the hub's certificate, the same accounts on every
//! node), `AFC_PROVINCE` has 3 replicas, and each city's leaf remote lists every node. The
//! node leading the province's stream is killed (as in a crash: no leadership handed over)
//! while both cities keep publishing, as their intake identities: another node takes the lead, the stream keeps sourcing, and
//! every event of both cities (before, during and after) is in `AFC_PROVINCE` exactly once.
//! Started again, the node catches up.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, ServerAddr};
use common::{city, now_ms};
use domain::{City, Service};
use loadtests::secured::{self, CityRole};
use protocol::subjects;
use security::CredentialFiles;
use security::secrets::{city_identity, province_identity};
use testkit::{Province, ProvinceOptions, eventually};

/// Nodes of the hub, and copies of the province's stream.
const HUB_NODES: usize = 3;
/// Events each city publishes before the stop.
const BEFORE_STOP: u64 = 30;
/// Pause between two events of a city's publisher (pacing, not synchronization: the test
/// waits on what the streams report).
const PUBLISH_PACE: Duration = Duration::from_millis(20);
/// Events each city publishes, after the node stopped and a new leader leads, before the
/// publishers stop.
const AFTER_FAILOVER: u64 = 30;
/// Bound on the province holding what the cities published, on a new leader being elected
/// and on the restarted node catching up.
const BOUND: Duration = Duration::from_secs(30);

/// A connection as `identity` of the deployment in `dir`, to any of `urls` (it fails over).
async fn connect(dir: &std::path::Path, identity: &str, inbox: String, urls: &[String]) -> async_nats::Client {
    let addrs: Vec<ServerAddr> = urls.iter().map(|url| url.parse().expect("a server URL")).collect();
    let credentials = CredentialFiles::of_deployment(dir).credentials(identity, inbox).expect("the identity's seed");
    credentials.options().connect(addrs).await.unwrap_or_else(|e| panic!("connecting as {identity}: {e}"))
}

/// Publishes `city`'s intake events from `next` on, as intake's relay does (`Nats-Msg-Id` =
/// the event id), each acknowledged by the city's stream, until `stop`. Returns how many
/// events of the city are published in all.
async fn publish(js: jetstream::Context, city: City, next: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> u64 {
    loop {
        if stop.load(Ordering::Acquire) {
            return next.load(Ordering::Acquire) - 1;
        }
        let seq = next.load(Ordering::Acquire);
        let event = events::intake::IntakeEvent::CaseReported {
            case_id: domain::CaseId::derive(&city, seq),
            received_at_ms: now_ms(),
            fraud_type: domain::FraudType::OnlineLoan,
            transfers: Vec::new(),
            contacts: domain::report::Contacts::default(),
            reported_loss_fen: domain::Fen::new(100),
        };
        let envelope = events::Envelope::new(city.clone(), seq, now_ms(), events::Payload::Intake(event));
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", events::event_id(&city, Service::Intake, seq).as_str());
        let body = events::encode(&envelope).expect("an encodable event");
        let ack = js.publish_with_headers(envelope.subject(), headers, body.into()).await.expect("publish sent");
        ack.await.unwrap_or_else(|e| panic!("{city}'s stream acknowledges event {seq}: {e}"));
        next.store(seq + 1, Ordering::Release);
        tokio::time::sleep(PUBLISH_PACE).await;
    }
}

/// The province stream's information, asked until a node answers.
async fn province_info(js: &jetstream::Context, what: &str) -> stream::Info {
    eventually(BOUND, what, || async {
        let mut stream = js.get_stream(subjects::PROVINCE_STREAM).await.ok()?;
        stream.info().await.ok().map(|info| (*info).clone())
    })
    .await
}

/// Waits until the province stream holds `expected` messages (never more).
async fn wait_province_count(js: &jetstream::Context, expected: u64, what: &str) {
    eventually(BOUND, what, || async {
        let info = province_info(js, "the province stream's information").await;
        assert!(
            info.state.messages <= expected,
            "{} messages in AFC_PROVINCE, more than {expected}",
            info.state.messages
        );
        (info.state.messages == expected).then_some(())
    })
    .await;
}

/// How many times each (subject, `Nats-Msg-Id`) is in the province stream.
async fn province_contents(js: &jetstream::Context) -> BTreeMap<(String, String), u32> {
    let stream = js.get_stream(subjects::PROVINCE_STREAM).await.expect("the province stream");
    let info = province_info(js, "the province stream's information").await;
    let mut seen = BTreeMap::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let message = stream.get_raw_message(seq).await.unwrap_or_else(|e| panic!("province message {seq}: {e}"));
        let id = message.headers.get("Nats-Msg-Id").map(|id| id.to_string()).unwrap_or_default();
        *seen.entry((message.subject.to_string(), id)).or_insert(0) += 1;
    }
    seen
}

/// The province stream's replica on hub node `monitor_port`, from its `/jsz`: (messages,
/// last sequence).
async fn local_replica(monitor_port: u16) -> Option<(u64, u64)> {
    let body = testkit::monitor_get(monitor_port, "/jsz?accounts=true&streams=true").await.ok()?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let accounts = json.get("account_details")?.as_array()?;
    let stream = accounts
        .iter()
        .flat_map(|account| account.get("stream_detail").and_then(serde_json::Value::as_array).into_iter().flatten())
        .find(|stream| stream.get("name").and_then(serde_json::Value::as_str) == Some(subjects::PROVINCE_STREAM))?;
    let state = stream.get("state")?;
    Some((state.get("messages")?.as_u64()?, state.get("last_seq")?.as_u64()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_province_stream_keeps_sourcing_every_event_once_while_its_leader_node_is_down() {
    common::init();
    let cities = [city("hangzhou"), city("wenzhou")];
    let dir = tempfile::tempdir().unwrap();
    let secrets = secured::generate(dir.path(), &cities, &[], &[]).unwrap();
    let options = ProvinceOptions {
        security: Some(secured::province_security(&secrets)),
        hub_cluster: HUB_NODES,
        ..ProvinceOptions::default()
    };
    let mut province = Province::start(&cities, options).await.expect("a province with a 3-node hub");
    assert_eq!(province.hub_size(), HUB_NODES);
    let hub_urls = province.hub_urls();
    let names: Vec<String> = province.hub_nodes().map(|node| node.name().to_owned()).collect();
    for node in province.hub_nodes() {
        let json = |body: String| serde_json::from_str::<serde_json::Value>(&body).unwrap();
        let varz = json(node.monitor_get("/varz").await.unwrap());
        assert_eq!(varz.pointer("/cluster/tls_required"), Some(&true.into()), "{}: routes on TLS", node.name());
        assert_eq!(varz.pointer("/cluster/tls_verify"), Some(&true.into()), "{}: routes verified", node.name());
        let routez = json(node.monitor_get("/routez").await.unwrap());
        let peers: std::collections::BTreeSet<&str> = routez["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|route| route["remote_name"].as_str())
            .collect();
        let others: std::collections::BTreeSet<&str> =
            names.iter().map(String::as_str).filter(|name| *name != node.name()).collect();
        assert_eq!(peers, others, "{} routes to the other nodes", node.name());
    }

    // The provisioners make the streams: each city's at the city, the province's (3
    // replicas) on the hub; the cities publish as their intake identities.
    let mut publishers = Vec::new();
    for city in &cities {
        let url = province.city(city).unwrap().server.url();
        let admin = secured::connect_city(dir.path(), city, CityRole::Admin, &url).await.unwrap();
        bus::streams::ensure_city_stream(&jetstream::new(admin), city).await.unwrap();
        let who = Service::Intake.as_str();
        let intake = connect(dir.path(), &city_identity(city, who), subjects::city_inbox(city, who), &[url]).await;
        publishers.push((city.clone(), jetstream::new(intake)));
    }
    let admin = connect(dir.path(), &province_identity("admin"), subjects::province_inbox("admin"), &hub_urls).await;
    let created = bus::streams::ensure_province_stream_replicated(&jetstream::new(admin.clone()), &cities, HUB_NODES)
        .await
        .expect("the province stream with 3 replicas");
    assert_eq!(created.config.num_replicas, HUB_NODES);
    // Provisioning again without a count keeps the replicas.
    let again = bus::streams::ensure_province_stream(&jetstream::new(admin), &cities).await.unwrap();
    assert_eq!(again.config.num_replicas, HUB_NODES, "re-provisioning keeps 3 replicas");
    let observer = connect(
        dir.path(),
        &province_identity(security::roles::OBSERVER),
        subjects::province_inbox(security::roles::OBSERVER),
        &hub_urls,
    )
    .await;
    let province_js = jetstream::new(observer);

    // Before the stop: every city's first events reach the province.
    let stop = Arc::new(AtomicBool::new(false));
    let mut counters = Vec::new();
    for (city, js) in &publishers {
        let next = Arc::new(AtomicU64::new(1));
        let done = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(publish(js.clone(), city.clone(), next.clone(), done.clone()));
        eventually(BOUND, &format!("{city} publishing {BEFORE_STOP} events"), || {
            let next = next.clone();
            async move { (next.load(Ordering::Acquire) > BEFORE_STOP).then_some(()) }
        })
        .await;
        done.store(true, Ordering::Release);
        let published = task.await.unwrap();
        next.store(published + 1, Ordering::Release);
        counters.push(next);
    }
    let before: u64 = counters.iter().map(|next| next.load(Ordering::Acquire) - 1).sum();
    wait_province_count(&province_js, before, "AFC_PROVINCE holding the events before the stop").await;

    // The cities keep publishing while the stream's leader node stops.
    let tasks: Vec<_> = publishers
        .iter()
        .zip(&counters)
        .map(|((city, js), next)| tokio::spawn(publish(js.clone(), city.clone(), next.clone(), stop.clone())))
        .collect();
    let info = province_info(&province_js, "the province stream's information").await;
    let cluster = info.cluster.clone().expect("a replicated stream reports its cluster");
    let old_leader = cluster.leader.clone().expect("the stream has a leader");
    assert_eq!(cluster.replicas.len(), HUB_NODES - 1, "the leader and 2 replicas: {cluster:?}");
    let stopped = province.hub_node_index(&old_leader).expect("the leader is a hub node");
    province.hub_node_mut(stopped).unwrap().kill_hard();
    let at_stop: Vec<u64> = counters.iter().map(|next| next.load(Ordering::Acquire)).collect();
    println!("stopped {old_leader} (the stream's leader) with the cities at {at_stop:?}");

    province.wait_hub_cluster(HUB_NODES - 1).await.expect("the two other nodes agree on a meta leader");
    province.wait_leaf_count(cities.len()).await.expect("every city linked to a remaining node");
    let failed_over = eventually(BOUND, "a new leader of the province stream", || {
        let js = province_js.clone();
        let old_leader = old_leader.clone();
        async move {
            let info = province_info(&js, "the province stream's information").await;
            let leader = info.cluster.as_ref()?.leader.clone()?;
            (leader != old_leader).then_some(info)
        }
    })
    .await;
    let new_leader = failed_over.cluster.as_ref().unwrap().leader.clone().unwrap();
    assert_eq!(failed_over.config.num_replicas, HUB_NODES, "still 3 replicas");
    let replicas = &failed_over.cluster.as_ref().unwrap().replicas;
    assert!(replicas.iter().any(|peer| peer.name == old_leader), "the stopped node is still a replica: {replicas:?}");
    println!("{new_leader} leads AFC_PROVINCE");

    // Events published after the stop reach the province while the node is down.
    let mark: Vec<u64> = counters.iter().map(|next| next.load(Ordering::Acquire)).collect();
    eventually(BOUND, "each city publishing after the failover", || {
        let counters = counters.clone();
        let mark = mark.clone();
        async move {
            counters
                .iter()
                .zip(&mark)
                .all(|(next, mark)| next.load(Ordering::Acquire) >= mark + AFTER_FAILOVER)
                .then_some(())
        }
    })
    .await;
    stop.store(true, Ordering::Release);
    let mut published = Vec::new();
    for task in tasks {
        published.push(task.await.unwrap());
    }
    let total: u64 = published.iter().sum();
    wait_province_count(&province_js, total, "AFC_PROVINCE holding every event while a node is down").await;

    // Exactly once, each under its own city's subject and id.
    let seen = province_contents(&province_js).await;
    let mut expected = BTreeMap::new();
    for (city, count) in cities.iter().zip(&published) {
        for seq in 1..=*count {
            let subject = subjects::event(city, Service::Intake, events::IntakeEvent::CASE_REPORTED);
            expected.insert((subject, events::event_id(city, Service::Intake, seq)), 1);
        }
    }
    let missing: Vec<_> = expected.keys().filter(|key| !seen.contains_key(*key)).take(5).collect();
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let strangers: Vec<_> = seen.keys().filter(|key| !expected.contains_key(*key)).take(5).collect();
    assert!(
        missing.is_empty() && doubled.is_empty() && strangers.is_empty(),
        "missing {missing:?}, doubled {doubled:?}, not published {strangers:?}"
    );
    assert_eq!(seen, expected);
    println!("{published:?} events of {cities:?}: all in AFC_PROVINCE once");

    // Started again, the node catches up: a current replica holding every event.
    province.hub_node_mut(stopped).unwrap().start_again().await.unwrap();
    province.wait_hub_cluster(HUB_NODES).await.expect("three nodes agree on a meta leader again");
    let monitor_port = province.hub_nodes().nth(stopped).unwrap().monitor_port();
    eventually(BOUND, "the restarted node's replica current and holding every event", || {
        let js = province_js.clone();
        let old_leader = old_leader.clone();
        async move {
            let info = province_info(&js, "the province stream's information").await;
            let cluster = info.cluster.as_ref()?;
            let current = cluster.leader.as_deref() == Some(old_leader.as_str())
                || cluster.replicas.iter().any(|peer| peer.name == old_leader && peer.current && !peer.offline);
            let (messages, last) = local_replica(monitor_port).await?;
            (current && messages == total && last == info.state.last_sequence).then_some(())
        }
    })
    .await;
    let info = province_info(&province_js, "the province stream's information").await;
    assert_eq!(info.config.num_replicas, HUB_NODES);
    assert_eq!(info.state.messages, total, "nothing doubled by the node's return");
}
