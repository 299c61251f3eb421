//! A secured province on real servers: a hub and two cities, every link TLS with the
//! development CA (the hub verifies each city's certificate, each city the hub's), each
//! city's leaf link bound on the hub to that city's account, every process its own identity.
//! The province's stream still sources both cities; a process of one city that could publish
//! anything in its own city still cannot put an event into another city's stream.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream;
use domain::{City, Service};
use events::{Envelope, Payload};
use protocol::subjects;
use security::accounts::{self, User};
use security::pki::{CertPaths, CertSpec, CertUsage, DevCa};
use security::{Credentials, Grant, Identity, hub, roles};
use testkit::{NatsServer, ServerOptions};

/// Bound on the leaf links coming up and on events reaching the province.
const BOUND: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

fn cities() -> [City; 2] {
    [City::parse("hangzhou").unwrap(), City::parse("wenzhou").unwrap()]
}

fn user(identity: &Identity, grant: Grant) -> User {
    User { who: identity.name().into(), public_key: identity.public_key().into(), grant, leaf: false }
}

fn tls_block(indent: &str, cert: &CertPaths, ca: &Path, verify: bool) -> String {
    let mut block = format!(
        "{indent}tls {{\n{indent}  cert_file: \"{}\"\n{indent}  key_file: \"{}\"\n{indent}  ca_file: \"{}\"\n{indent}  timeout: 2\n",
        cert.cert.display(),
        cert.key.display(),
        ca.display()
    );
    if verify {
        block.push_str(&format!("{indent}  verify: true\n"));
    }
    block.push_str(&format!("{indent}}}\n"));
    block
}

/// One city of the province: its server and the identities the test uses.
struct CityNode {
    city: City,
    server: NatsServer,
    intake: Identity,
    admin: Identity,
    /// A process of the city that may publish and subscribe to anything in its city's account:
    /// a city compromised as far as it can be without the hub.
    rogue: Identity,
}

struct SecuredProvince {
    hub: NatsServer,
    province_admin: Identity,
    cities: Vec<CityNode>,
    ca: PathBuf,
    _pki: tempfile::TempDir,
}

async fn secured_province() -> SecuredProvince {
    let pki = tempfile::tempdir().unwrap();
    let dev_ca = DevCa::generate("afc test CA").unwrap();
    let ca = dev_ca.save(pki.path()).unwrap().cert;
    let issue = |name: &str| {
        let spec = CertSpec {
            common_name: name.into(),
            dns_names: vec!["localhost".into()],
            ip_addresses: vec![std::net::Ipv4Addr::LOCALHOST.into()],
            usage: CertUsage::ServerAndClient,
        };
        dev_ca.issue(&spec).unwrap().save(pki.path(), name).unwrap()
    };

    let leaves: Vec<(City, Identity)> =
        cities().into_iter().map(|city| (city.clone(), Identity::generate(&format!("leaf-{city}")).unwrap())).collect();
    let province_admin = Identity::generate("province-admin").unwrap();
    let hub_users: Vec<(City, User)> =
        leaves.iter().map(|(city, leaf)| (city.clone(), user(leaf, hub::leaf_link(city)))).collect();
    let hub_accounts = accounts::render(
        &hub::hub_accounts(&hub_users, vec![user(&province_admin, hub::province_provisioner())]),
        None,
    )
    .unwrap();
    let hub_cert = issue("province-hub");
    let hub = NatsServer::start(ServerOptions {
        jetstream_domain: Some(subjects::PROVINCE_DOMAIN.into()),
        leaf_listen: true,
        extra_config: Some(format!("{}{hub_accounts}", tls_block("", &hub_cert, &ca, false))),
        leaf_listen_extra: Some(tls_block("  ", &hub_cert, &ca, true)),
        ..ServerOptions::new("province-hub")
    })
    .await
    .unwrap();
    let leaf_url = format!("tls://127.0.0.1:{}", hub.leaf_port().unwrap());

    let mut nodes = Vec::new();
    for (city, leaf) in leaves {
        let [intake, admin, rogue] =
            ["intake", "admin", "rogue"].map(|who| Identity::generate(&format!("{city}-{who}")).unwrap());
        let anything = Grant::new().publish(">").subscribe(">");
        let users =
            vec![user(&intake, intake::grant(&city)), user(&admin, roles::provisioner(&city)), user(&rogue, anything)];
        let city_accounts = accounts::render(&roles::city_accounts(&city, users, Default::default()), None).unwrap();
        let cert = issue(city.as_str());
        let remote = format!(
            "    account: \"{}\"\n    nkey: \"{}\"\n{}",
            roles::city_account_name(&city),
            leaf.seed(),
            tls_block("    ", &cert, &ca, false)
        );
        let server = NatsServer::start(ServerOptions {
            jetstream_domain: Some(city.as_str().into()),
            leaf_remote: Some(leaf_url.clone()),
            leaf_remote_extra: Some(remote),
            extra_config: Some(format!("{}{city_accounts}", tls_block("", &cert, &ca, false))),
            ..ServerOptions::new(city.as_str())
        })
        .await
        .unwrap();
        nodes.push(CityNode { city, server, intake, admin, rogue });
    }
    let province = SecuredProvince { hub, province_admin, cities: nodes, ca, _pki: pki };
    province.wait_leaves(2).await;
    province
}

impl SecuredProvince {
    async fn connect(&self, server: &NatsServer, identity: &Identity, inbox: String) -> async_nats::Client {
        let credentials = Credentials { identity: identity.clone(), ca: Some(self.ca.clone()), inbox };
        credentials.options().connect(server.url()).await.unwrap()
    }

    /// Waits until the hub sees `n` leaf connections.
    async fn wait_leaves(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let leafz = self.hub.monitor_get("/leafz").await.unwrap();
            let leafs: serde_json::Value = serde_json::from_str(&leafz).unwrap();
            if leafs["leafs"].as_array().map_or(0, Vec::len) == n {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the cities' leaf links came up: {leafz}");
            tokio::time::sleep(POLL).await;
        }
    }
}

async fn messages(js: &jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream).await.unwrap().info().await.unwrap().state.messages
}

fn case_reported(city: &City, n: u64) -> (String, bytes::Bytes) {
    let event = events::intake::IntakeEvent::CaseReported {
        case_id: domain::CaseId::derive(city, n),
        received_at_ms: 1,
        fraud_type: domain::FraudType::OnlineLoan,
        transfers: Vec::new(),
        contacts: domain::report::Contacts::default(),
        reported_loss_fen: domain::Fen::new(1),
    };
    let envelope = Envelope::new(city.clone(), n, 1, Payload::Intake(event));
    (envelope.subject(), events::encode(&envelope).unwrap().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_province_sources_every_city_over_verified_links_and_no_city_writes_into_another() {
    let province = secured_province().await;
    let [hangzhou, wenzhou] = &province.cities[..] else { unreachable!() };
    for node in &province.cities {
        let admin = province.connect(&node.server, &node.admin, subjects::city_inbox(&node.city, "admin")).await;
        bus::streams::ensure_city_stream(&jetstream::new(admin), &node.city).await.unwrap();
    }
    let hub_admin = province.connect(&province.hub, &province.province_admin, subjects::province_inbox("admin")).await;
    let hub_js = jetstream::new(hub_admin);
    bus::streams::ensure_province_stream(&hub_js, &cities()).await.unwrap();

    // A hangzhou process that may publish anything in hangzhou forges a wenzhou event; then
    // each city's intake records one event.
    let rogue = province.connect(&hangzhou.server, &hangzhou.rogue, "_INBOX.rogue".into()).await;
    let (forged_subject, forged) = case_reported(&wenzhou.city, 99);
    rogue.publish(forged_subject, forged).await.unwrap();
    rogue.flush().await.unwrap();
    for (node, n) in [(hangzhou, 1), (wenzhou, 2)] {
        let intake = province
            .connect(&node.server, &node.intake, subjects::city_inbox(&node.city, Service::Intake.as_str()))
            .await;
        let (subject, bytes) = case_reported(&node.city, n);
        jetstream::new(intake).publish(subject, bytes).await.unwrap().await.expect("the city's own event is stored");
    }

    // Both cities' events reach the province across their accounts and verified links.
    let deadline = tokio::time::Instant::now() + BOUND;
    while messages(&hub_js, subjects::PROVINCE_STREAM).await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both cities' events reach AFC_PROVINCE");
        tokio::time::sleep(POLL).await;
    }
    // By then the forged event, sent before hangzhou's own on the same link, would have
    // crossed the hub: wenzhou's stream holds only wenzhou's event, the province only two.
    let wenzhou_admin =
        province.connect(&wenzhou.server, &wenzhou.admin, subjects::city_inbox(&wenzhou.city, "admin")).await;
    assert_eq!(messages(&jetstream::new(wenzhou_admin), &wenzhou.city.stream_name()).await, 1);
    assert_eq!(messages(&hub_js, subjects::PROVINCE_STREAM).await, 2);
}
