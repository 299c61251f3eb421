//! The development PKI against real peers: its certificates parse back with the names, usages
//! and validity nats-server and rustls insist on, its key files are never readable by others,
//! a saved CA loads back and keeps signing, and real nats-servers with `verify: true` admit
//! clients and a leaf city holding its certificates and refuse everyone else.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::{ConnectError, ConnectOptions};
use security::pki::{
    CA_CERT_FILE, CA_KEY_FILE, CA_VALIDITY, CLOCK_SKEW, CertPaths, CertSpec, CertUsage, DevCa, KEY_FILE_MODE,
    LEAF_VALIDITY, PkiError,
};
use tempfile::TempDir;
use testkit::{NatsServer, ServerOptions, eventually};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

/// The address every test server listens on and every server certificate names.
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Bound on one client's connection attempt, accepted or refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on a message arriving, or on a leaf link coming up (a leaf remote retries every second).
const LINK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one probe of a round trip waits for its message before publishing again.
const PROBE_WAIT: Duration = Duration::from_millis(200);

/// What a test reads back from a PEM certificate.
#[derive(Debug)]
struct Facts {
    subject: String,
    issuer: String,
    serial: Vec<u8>,
    /// `Some(path length)` for a CA (`None` inside: unconstrained), `None` for an end entity.
    ca_path_len: Option<Option<u32>>,
    can_sign_certificates: bool,
    /// `DNS:<name>` and `IP:<address>` entries.
    sans: Vec<String>,
    server_auth: bool,
    client_auth: bool,
    valid_for: time::Duration,
    not_before: time::OffsetDateTime,
}

fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("a PEM certificate").1.contents
}

fn facts(pem: &str) -> Facts {
    let der = der(pem);
    let (_, cert) = X509Certificate::from_der(&der).expect("a DER certificate");
    let constraints = cert.basic_constraints().expect("one basicConstraints").map(|e| e.value.clone());
    let eku =
        cert.extended_key_usage().expect("one extendedKeyUsage").map(|e| (e.value.server_auth, e.value.client_auth));
    let sans = cert.subject_alternative_name().expect("one subjectAltName").map_or_else(Vec::new, |e| {
        e.value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(dns) => format!("DNS:{dns}"),
                GeneralName::IPAddress([a, b, c, d]) => format!("IP:{}", Ipv4Addr::new(*a, *b, *c, *d)),
                other => format!("{other:?}"),
            })
            .collect()
    });
    let validity = cert.validity();
    Facts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial().to_vec(),
        ca_path_len: constraints.filter(|c| c.ca).map(|c| c.path_len_constraint),
        can_sign_certificates: cert.key_usage().expect("one keyUsage").is_some_and(|e| e.value.key_cert_sign()),
        sans,
        server_auth: eku.is_some_and(|(server, _)| server),
        client_auth: eku.is_some_and(|(_, client)| client),
        valid_for: validity.not_after.to_datetime() - validity.not_before.to_datetime(),
        not_before: validity.not_before.to_datetime(),
    }
}

/// Whether `leaf_pem`'s signature verifies with the public key of `ca_pem`.
fn signed_by(leaf_pem: &str, ca_pem: &str) -> bool {
    let (leaf_der, ca_der) = (der(leaf_pem), der(ca_pem));
    let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    leaf.verify_signature(Some(ca.public_key())).is_ok()
}

fn spec(common_name: &str, usage: CertUsage) -> CertSpec {
    CertSpec {
        common_name: common_name.into(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec![LOOPBACK],
        usage,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_ca_and_the_certificates_it_issues_parse_back_with_their_names_usages_and_validity() {
    let ca = DevCa::generate("afc development CA").unwrap();
    let ca_facts = facts(&ca.ca_pem());
    assert_eq!(ca_facts.subject, "CN=afc development CA");
    assert_eq!(ca_facts.issuer, ca_facts.subject, "self-signed");
    assert_eq!(ca_facts.ca_path_len, Some(Some(0)), "a CA that signs end entities only");
    assert!(ca_facts.can_sign_certificates);
    assert_eq!(ca_facts.valid_for, CA_VALIDITY + CLOCK_SKEW);
    assert!(signed_by(&ca.ca_pem(), &ca.ca_pem()));

    let city = ca.issue(&spec("hangzhou", CertUsage::ServerAndClient)).unwrap();
    let hub = ca.issue(&spec("hub", CertUsage::Server)).unwrap();
    let gateway =
        ca.issue(&CertSpec { dns_names: vec![], ip_addresses: vec![], ..spec("icbc", CertUsage::Client) }).unwrap();
    let (city_facts, hub_facts, gateway_facts) =
        (facts(&city.cert_pem), facts(&hub.cert_pem), facts(&gateway.cert_pem));

    assert_eq!(city_facts.subject, "CN=hangzhou");
    assert_eq!(city_facts.issuer, ca_facts.subject);
    assert_eq!(city_facts.sans, ["DNS:localhost", "IP:127.0.0.1"]);
    assert_eq!(city_facts.ca_path_len, None, "an end entity");
    assert!(!city_facts.can_sign_certificates);
    assert_eq!((city_facts.server_auth, city_facts.client_auth), (true, true));
    assert_eq!((hub_facts.server_auth, hub_facts.client_auth), (true, false));
    assert_eq!((gateway_facts.server_auth, gateway_facts.client_auth), (false, true));
    assert!(gateway_facts.sans.is_empty());
    assert_eq!(city_facts.valid_for, LEAF_VALIDITY + CLOCK_SKEW);
    assert!(city_facts.not_before < time::OffsetDateTime::now_utc());
    for issued in [&city, &hub, &gateway] {
        assert!(signed_by(&issued.cert_pem, &ca.ca_pem()));
    }
    let other_ca = DevCa::generate("another CA").unwrap();
    assert!(!signed_by(&city.cert_pem, &other_ca.ca_pem()));

    let serials = [&ca_facts, &city_facts, &hub_facts, &gateway_facts].map(|f| f.serial.clone());
    assert!(serials.iter().all(|s| s.len() == 16), "{serials:?}");
    assert!((1..serials.len()).all(|i| !serials[..i].contains(&serials[i])), "serials repeat: {serials:?}");
}

#[test]
fn keys_are_saved_mode_0600_and_a_saved_ca_loads_back_and_keeps_signing() {
    let dir = TempDir::new().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = DevCa::generate("afc development CA").unwrap();
    let saved = ca.save(&ca_dir).unwrap();
    assert_eq!(saved, CertPaths { cert: ca_dir.join(CA_CERT_FILE), key: ca_dir.join(CA_KEY_FILE) });
    assert_eq!(mode(&saved.key), KEY_FILE_MODE);
    assert_eq!(std::fs::read_to_string(&saved.cert).unwrap(), ca.ca_pem());

    let issued = ca.issue(&spec("hangzhou", CertUsage::ServerAndClient)).unwrap();
    let paths = issued.save(&dir.path().join("certs"), "hangzhou").unwrap();
    assert_eq!(mode(&paths.key), KEY_FILE_MODE);
    assert_eq!(std::fs::read_to_string(&paths.key).unwrap(), issued.key_pem);
    // A renewal replaces the files, and the key stays private.
    let renewed = ca.issue(&spec("hangzhou", CertUsage::ServerAndClient)).unwrap();
    renewed.save(&dir.path().join("certs"), "hangzhou").unwrap();
    assert_eq!(std::fs::read_to_string(&paths.cert).unwrap(), renewed.cert_pem);
    assert_eq!(mode(&paths.key), KEY_FILE_MODE);
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path().join("certs")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left behind: {leftovers:?}");

    let loaded = DevCa::load(&ca_dir).unwrap();
    assert_eq!(loaded.ca_pem(), ca.ca_pem());
    assert_eq!(loaded.not_after(), ca.not_after());
    let later = loaded.issue(&spec("wenzhou", CertUsage::Server)).unwrap();
    assert!(signed_by(&later.cert_pem, &ca.ca_pem()), "the loaded CA signs with the saved key");
    assert_eq!(facts(&later.cert_pem).issuer, "CN=afc development CA");
}

#[test]
fn a_saved_ca_is_never_replaced_and_a_bad_one_is_refused_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let ca = DevCa::generate("afc development CA").unwrap();
    let paths = ca.save(dir.path()).unwrap();
    let again = DevCa::generate("afc development CA").unwrap().save(dir.path()).unwrap_err();
    assert!(matches!(&again, PkiError::AlreadyExists { path } if *path == paths.cert), "{again}");
    assert_eq!(DevCa::load(dir.path()).unwrap().ca_pem(), ca.ca_pem(), "the first CA is intact");

    std::fs::set_permissions(&paths.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = DevCa::load(dir.path()).unwrap_err();
    assert!(matches!(&exposed, PkiError::KeyFileExposed { path, mode: 0o644 } if *path == paths.key), "{exposed}");
    std::fs::set_permissions(&paths.key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let foreign = DevCa::generate("another CA").unwrap().issue(&spec("x", CertUsage::Client)).unwrap();
    std::fs::write(&paths.key, &foreign.key_pem).unwrap();
    let mismatch = DevCa::load(dir.path()).unwrap_err();
    assert!(matches!(&mismatch, PkiError::KeyMismatch { key, .. } if *key == paths.key), "{mismatch}");

    std::fs::write(&paths.cert, &foreign.cert_pem).unwrap();
    let not_ca = DevCa::load(dir.path()).unwrap_err();
    assert!(matches!(&not_ca, PkiError::NotACa { path } if *path == paths.cert), "{not_ca}");

    std::fs::remove_file(&paths.cert).unwrap();
    let missing = DevCa::load(dir.path()).unwrap_err();
    assert!(matches!(&missing, PkiError::Io { action: "reading", path, .. } if *path == paths.cert), "{missing}");
}

/// A fresh CA saved in a temp dir and loaded back (as every run after a deployment's first
/// does), issuing certificates into that dir.
struct Pki {
    dir: TempDir,
    ca: DevCa,
    ca_file: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = TempDir::new().unwrap();
        let ca_file = DevCa::generate(name).unwrap().save(dir.path()).unwrap().cert;
        let ca = DevCa::load(dir.path()).unwrap();
        Pki { dir, ca, ca_file }
    }

    fn issue(&self, stem: &str, usage: CertUsage) -> CertPaths {
        self.ca.issue(&spec(stem, usage)).unwrap().save(self.dir.path(), stem).unwrap()
    }
}

/// A nats-server `tls { }` block presenting `cert`, trusting `ca_file`.
fn tls_block(cert: &CertPaths, ca_file: &Path, verify: bool) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: {verify}\n  timeout: 2\n}}\n",
        cert.cert.display(),
        cert.key.display(),
        ca_file.display()
    )
}

fn free_port() -> u16 {
    TcpListener::bind((LOOPBACK, 0)).unwrap().local_addr().unwrap().port()
}

/// Starts a JetStream server (domain = `name`) with `extra` appended to its config.
async fn start(name: &str, extra: String) -> NatsServer {
    let opts =
        ServerOptions { jetstream_domain: Some(name.into()), extra_config: Some(extra), ..ServerOptions::new(name) };
    NatsServer::start(opts).await.unwrap_or_else(|e| panic!("starting {name}: {e}"))
}

/// Connects over TLS trusting `ca_file`, presenting `client` if given.
async fn connect(
    server: &NatsServer,
    ca_file: &Path,
    client: Option<&CertPaths>,
) -> Result<async_nats::Client, ConnectError> {
    let mut options = ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(ca_file.to_path_buf())
        .connection_timeout(CONNECT_TIMEOUT);
    if let Some(client) = client {
        options = options.add_client_certificate(client.cert.clone(), client.key.clone());
    }
    tokio::time::timeout(CONNECT_TIMEOUT * 2, options.connect(server.url())).await.expect("connect is bounded")
}

/// Publishes on `from` until `to` receives it on `subject` (interest may still be on its way
/// across a link), bounded by [`LINK_TIMEOUT`].
async fn round_trip(from: &async_nats::Client, to: &async_nats::Client, subject: &str) {
    use futures::StreamExt as _;
    let mut subscription = to.subscribe(subject.to_owned()).await.unwrap();
    to.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + LINK_TIMEOUT;
    loop {
        from.publish(subject.to_owned(), "over TLS".into()).await.unwrap();
        from.flush().await.unwrap();
        if let Ok(Some(message)) = tokio::time::timeout(PROBE_WAIT, subscription.next()).await {
            assert_eq!(message.payload.as_ref(), b"over TLS");
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no message on {subject} within {LINK_TIMEOUT:?}");
    }
}

#[tokio::test]
async fn a_verifying_server_admits_clients_of_its_ca_and_refuses_strangers_and_the_certificateless() {
    let pki = Pki::new("afc development CA");
    let server_cert = pki.issue("hub", CertUsage::Server);
    let client_cert = pki.issue("freezing", CertUsage::Client);
    let server = start("hub", tls_block(&server_cert, &pki.ca_file, true)).await;

    let publisher = connect(&server, &pki.ca_file, Some(&client_cert)).await.expect("a client of the CA connects");
    let subscriber = connect(&server, &pki.ca_file, Some(&client_cert)).await.unwrap();
    round_trip(&publisher, &subscriber, "pki.round.trip").await;

    let stranger_pki = Pki::new("someone else's CA");
    let stranger_cert = stranger_pki.issue("stranger", CertUsage::Client);
    let distrusting = connect(&server, &stranger_pki.ca_file, Some(&stranger_cert)).await.unwrap_err();
    assert!(distrusting.to_string().contains("UnknownIssuer"), "{distrusting}");

    let certificateless = connect(&server, &pki.ca_file, None).await.unwrap_err();
    assert!(certificateless.to_string().contains("CertificateRequired"), "{certificateless}");

    // A certificate of another CA is refused by the server, even by a client that trusts it.
    let foreign = connect(&server, &pki.ca_file, Some(&stranger_cert)).await.unwrap_err();
    eventually(LINK_TIMEOUT, "the server logging the foreign client certificate", || async {
        server.log_tail().contains("unknown certificate authority").then_some(())
    })
    .await;
    drop(foreign);
}

#[tokio::test]
async fn a_city_joins_the_hub_over_a_mutually_verified_leaf_link_and_a_certificate_without_client_auth_cannot() {
    let pki = Pki::new("afc development CA");
    let hub_cert = pki.issue("hub", CertUsage::Server);
    let leaf_port = free_port();
    let hub = start(
        "hub",
        format!(
            "{}leafnodes {{\n  listen: \"{LOOPBACK}:{leaf_port}\"\n  no_advertise: true\n  {}}}\n",
            tls_block(&hub_cert, &pki.ca_file, false),
            tls_block(&hub_cert, &pki.ca_file, true)
        ),
    )
    .await;
    let leaf_remote = |cert: &CertPaths| {
        format!(
            "leafnodes {{\n  reconnect: \"1s\"\n  remotes: [ {{\n    urls: [\"tls://{LOOPBACK}:{leaf_port}\"]\n    {}  }} ]\n}}\n",
            tls_block(cert, &pki.ca_file, false)
        )
    };

    let city_cert = pki.issue("hangzhou", CertUsage::ServerAndClient);
    let city_leaf_cert = pki.issue("hangzhou-leaf", CertUsage::Client);
    let city =
        start("hangzhou", format!("{}{}", tls_block(&city_cert, &pki.ca_file, false), leaf_remote(&city_leaf_cert)))
            .await;
    eventually(LINK_TIMEOUT, "the hub's /leafz listing hangzhou", || async {
        let leafz = hub.monitor_get("/leafz").await.ok()?;
        let leafz: serde_json::Value = serde_json::from_str(&leafz).ok()?;
        (leafz["leafnodes"] == 1 && leafz["leafs"][0]["name"] == "hangzhou").then_some(())
    })
    .await;
    let on_hub = connect(&hub, &pki.ca_file, None).await.expect("a client of the hub's CA connects");
    let on_city = connect(&city, &pki.ca_file, None).await.expect("a client of the city's CA connects");
    round_trip(&on_city, &on_hub, "pki.city.to.hub").await;
    round_trip(&on_hub, &on_city, "pki.hub.to.city").await;

    // A leaf certificate for serving only (no clientAuth) is refused by the hub.
    let rogue_cert = pki.issue("wenzhou", CertUsage::Server);
    let _rogue =
        start("wenzhou", format!("{}{}", tls_block(&rogue_cert, &pki.ca_file, false), leaf_remote(&rogue_cert))).await;
    eventually(LINK_TIMEOUT, "the hub refusing a leaf certificate without clientAuth", || async {
        hub.log_tail().contains("incompatible key usage").then_some(())
    })
    .await;
    let leafz: serde_json::Value = serde_json::from_str(&hub.monitor_get("/leafz").await.unwrap()).unwrap();
    assert_eq!(leafz["leafnodes"], 1, "only hangzhou is linked: {leafz}");
}
