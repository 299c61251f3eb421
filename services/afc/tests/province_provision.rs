//! `afc province provision --replicas N` on a secured hub of three nodes (TLS, accounts and
//! pinned routes from `security::secrets`, as an installed deployment's): the province's
//! stream is made with 3 copies, as `province-admin`, and provisioning it again without
//! `--replicas` (a city joins) keeps them. A count JetStream cannot keep is refused before
//! anything connects, naming the flag, the value and what is accepted.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use async_nats::jetstream;
use domain::City;
use protocol::subjects;
use security::CredentialFiles;
use security::secrets::{self, SecretsSpec, province_identity};
use testkit::{Province, ProvinceOptions, ProvinceSecurity};

/// Nodes of the hub, and copies of the province's stream.
const HUB_NODES: usize = 3;
/// Bound on one `afc province provision`.
const BOUND: Duration = Duration::from_secs(30);

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

/// Runs `afc province provision ARGS` to its end within [`BOUND`].
async fn provision(args: &[&str], credentials: Option<&Path>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_afc"));
    command.args(["province", "provision"]).args(args).env_remove("AFC_CREDENTIALS").kill_on_drop(true);
    if let Some(dir) = credentials {
        command.arg("--credentials").arg(dir);
    }
    tokio::time::timeout(BOUND, command.output()).await.expect("afc province provision finishes").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_replica_count_jetstream_cannot_keep_is_refused_naming_the_flag_and_the_range() {
    // Nothing listens at this URL: the count is refused before any connection.
    for value in ["0", "6", "three"] {
        let output = provision(&["--hub", "nats://127.0.0.1:1", "--city", "hangzhou", "--replicas", value], None).await;
        let said = text(&output.stderr);
        assert!(!output.status.success(), "--replicas {value} was accepted");
        assert!(said.contains("--replicas") && said.contains(&format!("'{value}'")), "--replicas {value}: {said}");
        assert!(said.contains("1 to 5"), "--replicas {value}: the accepted range is not named: {said}");
        assert!(!said.contains("connecting"), "--replicas {value}: it connected before refusing: {said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn province_provision_makes_the_stream_with_three_replicas_on_a_secured_hub_of_three_nodes() {
    let (hangzhou, wenzhou) = (city("hangzhou"), city("wenzhou"));
    let cities = [hangzhou.clone(), wenzhou.clone()];
    let dir = tempfile::tempdir().unwrap();
    let spec = SecretsSpec {
        cities: cities.to_vec(),
        host: "localhost".into(),
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        banks: Vec::new(),
        platforms: Vec::new(),
        carriers: Vec::new(),
        hub_hosts: Vec::new(),
    };
    let secrets = secrets::generate(&spec, dir.path(), &afc::host::service_grants).unwrap();
    let options = ProvinceOptions {
        security: Some(ProvinceSecurity::from_secrets(&secrets)),
        hub_cluster: HUB_NODES,
        ..ProvinceOptions::default()
    };
    let province = Province::start(&cities, options).await.expect("a secured province with a 3-node hub");
    let hub = province.hub_url();

    let made = provision(&["--hub", &hub, "--city", "hangzhou", "--replicas", "3"], Some(dir.path())).await;
    assert!(made.status.success(), "afc province provision --replicas 3 failed: {}", text(&made.stderr));
    assert!(text(&made.stdout).contains("(3 replicas)"), "{}", text(&made.stdout));

    let observer = security::roles::OBSERVER;
    let credentials = CredentialFiles::of_deployment(dir.path())
        .credentials(&province_identity(observer), subjects::province_inbox(observer))
        .unwrap();
    let client = credentials.options().connect(province.hub_urls()).await.expect("province-lab connects");
    let js = jetstream::new(client);
    let info = |js: jetstream::Context| async move {
        let mut stream = js.get_stream(subjects::PROVINCE_STREAM).await.expect("AFC_PROVINCE exists");
        stream.info().await.expect("the stream's information").clone()
    };
    let first = info(js.clone()).await;
    assert_eq!(first.config.num_replicas, HUB_NODES);
    let cluster = first.cluster.expect("a replicated stream reports its cluster");
    assert!(cluster.leader.is_some(), "the stream has a leader: {cluster:?}");
    assert_eq!(cluster.replicas.len(), HUB_NODES - 1, "a leader and two replicas: {cluster:?}");

    // A city joins: provisioning again with the full list and no count keeps the 3 copies.
    let joined = provision(&["--hub", &hub, "--city", "hangzhou", "--city", "wenzhou"], Some(dir.path())).await;
    assert!(joined.status.success(), "afc province provision failed: {}", text(&joined.stderr));
    let again = info(js).await;
    assert_eq!(again.config.num_replicas, HUB_NODES, "provisioning without --replicas kept the copies");
    let sources: Vec<String> = again.config.sources.iter().flatten().map(|source| source.name.clone()).collect();
    assert_eq!(sources, [hangzhou.stream_name(), wenzhou.stream_name()]);
}
