//! A generated deployment's nats-server configs are valid for nats-server itself
//! (`nats-server -t`), its secrets are readable by their owner only, and a city's config
//! names its leaf seed without holding it.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use domain::{City, Service};
use protocol::subjects;
use security::Grant;
use security::deployment::{DeploymentSpec, HubNode, generate};

fn spec(data: &std::path::Path) -> DeploymentSpec {
    DeploymentSpec {
        cities: vec![City::parse("hangzhou").unwrap(), City::parse("wenzhou").unwrap()],
        host: "localhost".into(),
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        base_port: 14222,
        data: data.to_owned(),
        banks: vec![domain::BankId::parse("icbc").unwrap()],
        platforms: vec![domain::PlatformId::parse("alipay").unwrap()],
        carriers: domain::Carrier::ALL.to_vec(),
        hub_cluster: 0,
        hub_hosts: Vec::new(),
    }
}

/// Grants standing in for the services' own (the services' crates are not dependencies
/// here): each publishes its events into the city's stream.
fn services(city: &City) -> Vec<(&'static str, Grant)> {
    [("intake", Service::Intake), ("freezing", Service::Freezing)]
        .map(|(name, service)| {
            let grant = Grant::new()
                .publish(subjects::service_events(city, service))
                .produces_into(&city.stream_name())
                .answers(subjects::province_notices(city, service))
                .inbox(&subjects::city_inbox(city, name));
            (name, grant)
        })
        .into()
}

#[test]
fn every_generated_config_passes_nats_server_t_and_every_secret_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let deployment = generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    let configs = std::iter::once(&deployment.hub_config).chain(deployment.city_configs.iter().map(|(_, path)| path));
    let mut checked = 0;
    for config in configs {
        let output = Command::new(&binary).arg("-t").arg("-c").arg(config).output().unwrap();
        assert!(
            output.status.success(),
            "nats-server -t {}: {}{}",
            config.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 3, "the hub and both cities");

    for entry in std::fs::read_dir(dir.path().join("keys")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
    }
    let leaf = dir.path().join("nats/hangzhou.leaf.conf");
    assert_eq!(std::fs::metadata(&leaf).unwrap().permissions().mode() & 0o777, 0o600);
    let config = std::fs::read_to_string(&deployment.city_configs[0].1).unwrap();
    assert!(config.contains("nkey: $LEAF_SEED") && !config.contains("SU"), "the seed stays in the leaf file");
    // Per city: intake, freezing, staff, admin, lab, console, the icbc and alipay gateways,
    // the three carriers' and the six people of the default roster; and the province's admin,
    // lab, coordinator and officer.
    let people = security::staff::DEFAULT_CITY_STAFF.len();
    assert_eq!(
        std::fs::read_dir(dir.path().join("keys")).unwrap().count(),
        2 * (11 + people) + 4,
        "every identity has its key"
    );
    for city in ["hangzhou", "wenzhou"] {
        let roster = security::staff::Roster::load(&security::staff::Roster::path(dir.path(), city)).unwrap();
        assert_eq!(roster.members.len(), people);
        for member in &roster.members {
            let seed = std::fs::read_to_string(dir.path().join("keys").join(format!("{}.nk", member.name))).unwrap();
            let pair = nkeys::KeyPair::from_seed(seed.trim()).unwrap();
            assert_eq!(pair.public_key(), member.public_key, "the roster names {}'s own key", member.name);
            assert!(config_of(&deployment, city).contains(&member.public_key), "{city}'s server knows {}", member.name);
        }
    }
    assert!(dir.path().join("keys/province-coordinator.nk").exists());
    for carrier in domain::Carrier::ALL {
        let seed = dir.path().join("keys").join(format!("hangzhou-carrier-{carrier}.nk"));
        assert!(seed.exists(), "{}", seed.display());
    }
}

#[test]
fn a_hub_cluster_is_three_configs_with_pinned_tls_routes_and_every_city_lists_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DeploymentSpec { hub_cluster: 3, ..spec(&dir.path().join("data")) };
    let deployment = generate(&spec, dir.path(), &services).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    let names: Vec<&str> = deployment.hub_nodes.iter().map(|node| node.name.as_str()).collect();
    assert_eq!(names, ["province-hub-1", "province-hub-2", "province-hub-3"]);
    let mut ports = std::collections::BTreeSet::new();
    for node in &deployment.hub_nodes {
        assert!(node.config.ends_with(format!("nats/hub-{}.conf", &node.name["province-hub-".len()..])));
        let output = Command::new(&binary).arg("-t").arg("-c").arg(&node.config).output().unwrap();
        assert!(
            output.status.success(),
            "nats-server -t {}: {}",
            node.config.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(&node.config).unwrap();
        assert!(text.contains("name: \"province\"") && text.contains("pinned_certs: [\""), "{text}");
        assert_eq!(text.matches("nats-route://localhost:").count(), 3, "routes to every node: {text}");
        assert!(text.contains("include \"hub.accounts.conf\""), "the same accounts on every node");
        for port in [node.leaf_port, node.monitor_port, node.route_port.unwrap()] {
            assert!(ports.insert(port), "port {port} given twice");
        }
    }
    assert!(deployment.hub_config.ends_with("nats/hub-1.conf"), "the hub's config is its first node's");
    for (_, config) in &deployment.city_configs {
        let output = Command::new(&binary).arg("-t").arg("-c").arg(config).output().unwrap();
        assert!(
            output.status.success(),
            "nats-server -t {}: {}",
            config.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(config).unwrap();
        for node in &deployment.hub_nodes {
            assert!(
                text.contains(&format!("tls://localhost:{}", node.leaf_port)),
                "{} lists {}",
                config.display(),
                node.name
            );
        }
    }
}

#[test]
fn a_config_naming_a_missing_file_fails_nats_server_t() {
    // The check is worth something: nats-server -t refuses a config whose include is gone.
    let dir = tempfile::tempdir().unwrap();
    let deployment = generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    std::fs::remove_file(dir.path().join("nats/hangzhou.leaf.conf")).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    let output = Command::new(&binary).arg("-t").arg("-c").arg(&deployment.city_configs[0].1).output().unwrap();
    assert!(!output.status.success(), "a missing include is refused");
}

#[test]
fn generating_again_keeps_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    let first = std::fs::read(dir.path().join("pki/ca.crt")).unwrap();
    generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    assert_eq!(std::fs::read(dir.path().join("pki/ca.crt")).unwrap(), first, "certificates issued before stay trusted");
}

/// Kills the servers it started when dropped.
struct Servers(Vec<std::process::Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_province_runs_and_sources_every_city_over_its_verified_links() {
    run_generated_province(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_province_with_a_3_node_hub_runs_and_sources_into_3_replicas() {
    run_generated_province(3).await;
}

/// A server holding hangzhou's certificate (issued by the same CA) dials the routes of
/// `hub`, a node of the running hub cluster in `dir`: the node refuses it (its routes are
/// pinned to the hub's key) and it never becomes a route.
async fn a_citys_certificate_cannot_join_the_hub_as_a_route(
    dir: &std::path::Path,
    hub: &HubNode,
    servers: &mut Servers,
) {
    let binary = testkit::nats_server_binary().unwrap();
    let free = || std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let pki = dir.join("pki");
    let rogue = dir.join("rogue.conf");
    std::fs::write(
        &rogue,
        format!(
            "server_name: \"rogue\"\nlisten: \"127.0.0.1:{}\"\nhttp: \"127.0.0.1:{}\"\ncluster {{\n  name: \"province\"\n  listen: \"127.0.0.1:{}\"\n  routes: [\"nats-route://localhost:{}\"]\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n  }}\n}}\n",
            free(),
            free(),
            free(),
            hub.route_port.unwrap(),
            pki.join("hangzhou.crt").display(),
            pki.join("hangzhou.key").display(),
            pki.join("ca.crt").display(),
        ),
    )
    .unwrap();
    let log = || std::fs::File::create(dir.join("rogue.log")).unwrap();
    servers.0.push(Command::new(&binary).arg("-c").arg(&rogue).stdout(log()).stderr(log()).spawn().unwrap());
    let hub_log = dir.join(format!("{}.log", hub.name));
    testkit::eventually(std::time::Duration::from_secs(20), "the hub refusing the rogue route", || {
        let hub_log = hub_log.clone();
        async move { std::fs::read_to_string(&hub_log).ok()?.contains("certificate not pinned").then_some(()) }
    })
    .await;
    let routez = http_get(hub.monitor_port, "/routez").await.expect("the hub's /routez");
    assert!(!routez.contains("\"rogue\""), "the rogue is no route of the hub: {routez}");
}

/// Starts a generated deployment's servers as processes (the hub as `hub_cluster` nodes),
/// makes the streams as the provisioners, and sees one event of each city in `AFC_PROVINCE`;
/// on a hub cluster, a server with a city's certificate cannot join the hub's routes.
async fn run_generated_province(hub_cluster: usize) {
    use async_nats::jetstream;
    use security::{Credentials, Identity};

    // `free_port_range` starts from a point of the process: two runs at once would pick the
    // same range.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;

    let dir = tempfile::tempdir().unwrap();
    let spec =
        DeploymentSpec { base_port: testkit::free_port_range(60), hub_cluster, ..spec(&dir.path().join("data")) };
    let deployment = generate(&spec, dir.path(), &services).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    let log = |name: &str| std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
    let configs = deployment
        .hub_nodes
        .iter()
        .map(|node| (node.name.clone(), node.config.clone()))
        .chain(deployment.city_configs.iter().map(|(city, path)| (city.to_string(), path.clone())));
    let mut servers = Servers(
        configs
            .map(|(name, config)| {
                Command::new(&binary).arg("-c").arg(config).stdout(log(&name)).stderr(log(&name)).spawn().unwrap()
            })
            .collect(),
    );
    let credentials = |name: &str, inbox: String| Credentials {
        identity: Identity::load(&dir.path().join("keys"), name).unwrap(),
        ca: Some(dir.path().join("pki/ca.crt")),
        inbox,
    };
    let connect = |credentials: Credentials, url: String| async move {
        testkit::eventually(std::time::Duration::from_secs(20), "the server accepts its identity", || {
            let (options, url) = (credentials.options(), url.clone());
            async move { options.connect(url).await.ok() }
        })
        .await
    };

    let hub =
        connect(credentials("province-admin", subjects::province_inbox("admin")), deployment.hub_client_url.clone())
            .await;
    let hub = jetstream::new(hub);
    for (city, url) in &deployment.city_client_urls {
        let admin =
            connect(credentials(&format!("{city}-admin"), subjects::city_inbox(city, "admin")), url.clone()).await;
        bus::streams::ensure_city_stream(&jetstream::new(admin), city).await.unwrap();
    }
    // The province's stream is made once the hub sees both cities' leaf links (a source
    // made before its link is up retries only after the server's backoff).
    let monitors: Vec<u16> = deployment.hub_nodes.iter().map(|node| node.monitor_port).collect();
    testkit::eventually(std::time::Duration::from_secs(20), "the hub sees both cities' leaf links", || {
        let monitors = monitors.clone();
        async move {
            let mut links = 0;
            for monitor in monitors {
                links += http_get(monitor, "/leafz").await?.matches("\"account\"").count();
            }
            (links == 2).then_some(())
        }
    })
    .await;
    let replicas = deployment.hub_nodes.len();
    let created = testkit::eventually(std::time::Duration::from_secs(20), "the province stream made", || {
        let hub = hub.clone();
        let cities = spec.cities.clone();
        async move { bus::streams::ensure_province_stream_replicated(&hub, &cities, replicas).await.ok() }
    })
    .await;
    assert_eq!(created.config.num_replicas, replicas);
    for (city, url) in &deployment.city_client_urls {
        let intake =
            connect(credentials(&format!("{city}-intake"), subjects::city_inbox(city, "intake")), url.clone()).await;
        let subject = subjects::event(city, Service::Intake, "case_reported");
        jetstream::new(intake).publish(subject, "event".into()).await.unwrap().await.expect("stored in the city");
    }
    testkit::eventually(std::time::Duration::from_secs(30), "both cities' events reach AFC_PROVINCE", || {
        let hub = hub.clone();
        async move {
            let messages = hub.get_stream(subjects::PROVINCE_STREAM).await.ok()?.info().await.ok()?.state.messages;
            (messages == 2).then_some(())
        }
    })
    .await;
    // The coordinator's notice reaches a city's freezing across the accounts and the leaf
    // link, and its answer comes back.
    let hangzhou = &spec.cities[0];
    let (_, url) = deployment.city_client_urls.iter().find(|(city, _)| city == hangzhou).unwrap();
    let freezing =
        connect(credentials(&format!("{hangzhou}-freezing"), subjects::city_inbox(hangzhou, "freezing")), url.clone())
            .await;
    let notice = subjects::province_notice(hangzhou, Service::Freezing, subjects::notice_kind::CROSS_CITY);
    let mut notices = freezing.subscribe(subjects::province_notices(hangzhou, Service::Freezing)).await.unwrap();
    freezing.flush().await.unwrap();
    let answering = tokio::spawn(async move {
        let request = futures::StreamExt::next(&mut notices).await.expect("a notice");
        freezing.publish(request.reply.expect("a reply subject"), "{\"ok\":{\"recorded\":true}}".into()).await.unwrap();
        freezing.flush().await.unwrap();
    });
    let coordinator = connect(
        credentials("province-coordinator", subjects::province_inbox(security::hub::COORDINATOR)),
        deployment.hub_client_url.clone(),
    )
    .await;
    let answer = testkit::eventually(std::time::Duration::from_secs(20), "the city's freezing answers", || {
        let (coordinator, notice) = (coordinator.clone(), notice.clone());
        async move { coordinator.request(notice, "{}".into()).await.ok() }
    })
    .await;
    assert_eq!(&answer.payload[..], b"{\"ok\":{\"recorded\":true}}");
    answering.await.unwrap();
    if hub_cluster > 1 {
        a_citys_certificate_cannot_join_the_hub_as_a_route(dir.path(), &deployment.hub_nodes[0], &mut servers).await;
    }
}

/// The body of `GET path` on the loopback monitoring port `port`, if it answers.
async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

#[test]
fn a_hub_of_nodes_on_hosts_of_their_own_is_dialled_at_each_host_which_its_certificate_names() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = ["hub-a.afc.example", "hub-b.afc.example", "hub-c.afc.example"].map(String::from);
    let spread = DeploymentSpec { hub_cluster: 3, hub_hosts: hosts.to_vec(), ..spec(&dir.path().join("data")) };
    let deployment = generate(&spread, dir.path(), &services).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    for (node, host) in deployment.hub_nodes.iter().zip(&hosts) {
        let output = Command::new(&binary).arg("-t").arg("-c").arg(&node.config).output().unwrap();
        assert!(output.status.success(), "nats-server -t: {}", String::from_utf8_lossy(&output.stderr));
        assert!(node.client_url.starts_with(&format!("tls://{host}:")), "{}", node.client_url);
        let text = std::fs::read_to_string(&node.config).unwrap();
        for other in &hosts {
            assert_eq!(text.matches(&format!("nats-route://{other}:")).count(), 1, "a route to {other}: {text}");
        }
    }
    for (_, config) in &deployment.city_configs {
        let text = std::fs::read_to_string(config).unwrap();
        for (node, host) in deployment.hub_nodes.iter().zip(&hosts) {
            assert!(text.contains(&format!("\"tls://{host}:{}\"", node.leaf_port)), "the city dials {host}: {text}");
        }
    }
    // One certificate for every node: it names every host (clients, cities and the other
    // nodes verify the name they dialled).
    let pem = std::fs::read_to_string(dir.path().join("pki/hub.crt")).unwrap();
    let der = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
    let (_, cert) =
        <x509_parser::prelude::X509Certificate as x509_parser::prelude::FromDer<_>>::from_der(&der).unwrap();
    let names: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::prelude::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect();
    for host in &hosts {
        assert!(names.contains(host), "the hub's certificate names {host}: {names:?}");
    }

    let wrong = DeploymentSpec { hub_cluster: 3, hub_hosts: hosts[..2].to_vec(), ..spec(&dir.path().join("data")) };
    let error = generate(&wrong, dir.path(), &services).unwrap_err().to_string();
    assert!(error.contains("2 hub hosts for a hub of 3 nodes"), "{error}");
}

/// The accounts file `city`'s server config includes.
fn config_of(deployment: &security::deployment::Deployment, city: &str) -> String {
    let (_, path) = deployment.city_configs.iter().find(|(c, _)| c.as_str() == city).expect("the city's config");
    std::fs::read_to_string(path.with_file_name(format!("{city}.accounts.conf"))).unwrap()
}
