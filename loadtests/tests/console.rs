//! The staff console over HTTP on a real deployment (the lab's embedded one: nats-servers
//! with identities and TLS, the five services, the simulated banks): login with a person's
//! own key, roles refused on the server, sessions that expire, forms that cannot be replayed
//! or forged, escaped search text, a case of another city; a report filed through the form;
//! and a return approved by two different approvers, never by one alone.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use afc::console::Scope;
use afc::console::limits::SESSION_IDLE_MS;
use common::{TRACE_TIMEOUT, city, now_ms, poll, submit_ok};
use domain::{Clock, Service, SharedClock, TimeMs};
use loadtests::bench::console::http::encode;
use loadtests::console::{RunningConsole, seed_of, start};
use loadtests::deployment::{Embedded, EmbeddedOptions};
use protocol::restitution::{self as rst, ListReply, ListRequest, RestitutionError};
use simulator::wave::{WaveConfig, generate};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The system clock moved on by what a test says: sessions expire without waiting.
#[derive(Debug, Default)]
struct Later(AtomicU64);

impl Clock for Later {
    fn now_ms(&self) -> TimeMs {
        domain::system_clock().now_ms() + self.0.load(Ordering::SeqCst)
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The session cookie it sets.
    fn session(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| v.strip_prefix("afc_session="))
            .map(|v| format!("afc_session={}", v.split(';').next().unwrap_or_default()))
    }

    /// The value of the first hidden `form` field.
    fn form_token(&self) -> String {
        let Some(at) = self.body.find("name=\"form\" value=\"") else {
            panic!("no form with a token: {} {}", self.status, self.body)
        };
        let rest = &self.body[at + "name=\"form\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// One request to `console` (HTTP/1.1, the connection closed after it).
async fn send(
    console: &RunningConsole,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    send_from(console, method, path, cookie, form, None).await
}

/// A request with the `Origin` a page of `origin` (this console's, by default) sends.
async fn send_from(
    console: &RunningConsole,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> Answer {
    let origin = origin.unwrap_or(&console.url).to_owned();
    send_with(console, method, path, cookie, form, &[("Origin", &origin)]).await
}

/// A request with `headers`.
async fn send_with(
    console: &RunningConsole,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Answer {
    let host = console.url.trim_start_matches("http://");
    let body: String = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
    Answer { status, headers, body: body.to_owned() }
}

/// Logs `who` in with their own key; the session cookie.
async fn login(console: &RunningConsole, deployment: &Embedded, who: &str) -> String {
    let seed = seed_of(deployment, who).unwrap();
    let answer = send(console, "POST", "/login", None, &[("name", who), ("key", &seed)]).await;
    assert_eq!(answer.status, 303, "{who} logs in: {}", answer.body);
    answer.session().expect("a session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_sessions_forms_and_search_text_are_checked_on_the_server() {
    common::init();
    let hangzhou = city("hangzhou");
    let wave = generate(&WaveConfig::typical(18, vec![hangzhou.clone()], 1), now_ms()).unwrap();
    let deployment =
        Embedded::start(std::slice::from_ref(&hangzhou), wave.world.clone(), EmbeddedOptions::default()).await.unwrap();
    let later = Arc::new(Later::default());
    let clock: SharedClock = later.clone();
    let console =
        start(&deployment, Scope::City(hangzhou.clone()), clock, "127.0.0.1:0".parse().unwrap()).await.unwrap();

    // Nobody: the login page. A wrong key (another person's) is refused as an unknown one.
    let anonymous = send(&console, "GET", "/", None, &[]).await;
    assert_eq!((anonymous.status, anonymous.header("location")), (303, Some("/login")));
    let other = seed_of(&deployment, "hangzhou-approver-1").unwrap();
    let wrong = send(&console, "POST", "/login", None, &[("name", "hangzhou-intake-1"), ("key", &other)]).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.session().is_none());

    // The intake officer files a report through the form and lands on its case.
    let officer = login(&console, &deployment, "hangzhou-intake-1").await;
    let form = send(&console, "GET", "/file", Some(&officer), &[]).await;
    assert_eq!(form.status, 200);
    let token = form.form_token();
    let fields = [
        ("form", token.as_str()),
        ("name", "王芳"),
        ("id_number", "33070219800101002X"),
        ("phone", "13900001111"),
        ("fraud_type", "impersonating_authorities"),
        ("transfers", "icbc:6222020200001234 5000.00"),
        ("phones", "+86 170 0000 1111"),
        ("narrative", "<b>a caller</b> said my card was used"),
    ];
    let filed = send(&console, "POST", "/file", Some(&officer), &fields).await;
    assert_eq!(filed.status, 303, "{}", filed.body);
    let case_path = filed.header("location").unwrap().to_owned();
    assert!(case_path.starts_with("/case/hangzhou-"), "{case_path}");
    let page = send(&console, "GET", &case_path, Some(&officer), &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg class=\"trail\""), "the trail is drawn");
    assert!(
        !page.body.contains("王芳") && !page.body.contains("33070219800101002X"),
        "no victim data on the case page"
    );

    // The same post again: refused, nothing filed twice.
    let replayed = send(&console, "POST", "/file", Some(&officer), &fields).await;
    assert_eq!(replayed.status, 403, "a replayed form");
    // A post from another site, with a token of this session: refused.
    let fresh = send(&console, "GET", "/file", Some(&officer), &[]).await.form_token();
    let mut forged = fields;
    forged[0] = ("form", fresh.as_str());
    let elsewhere = send_from(&console, "POST", "/file", Some(&officer), &forged, Some("http://evil.example")).await;
    assert_eq!(elsewhere.status, 403, "a post from another origin");

    // Outside the role: refused by the console, the page saying so.
    for path in ["/tasks", "/returns", "/province"] {
        let refused = send(&console, "GET", path, Some(&officer), &[]).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
    let lift = [("form", ""), ("value", "+8617000001111"), ("kind", "phone"), ("reason", "appeal")];
    assert_eq!(send(&console, "POST", "/blocks/lift", Some(&officer), &lift).await.status, 403);

    // Search text with HTML or SQL in it is refused as a query, and shown escaped.
    let html = send(&console, "GET", "/cases?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", Some(&officer), &[]).await;
    assert_eq!(html.status, 422, "{}", html.body);
    assert!(!html.body.contains("<script>alert") && html.body.contains("&lt;script&gt;"), "{}", html.body);
    let sql = send(&console, "GET", "/cases?q=%27%20OR%201%3D1%20--", Some(&officer), &[]).await;
    assert_eq!(sql.status, 422, "{}", sql.body);
    // A case of another city: not this console's.
    let elsewhere = send(&console, "GET", "/case/ningbo-00000000000000aa", Some(&officer), &[]).await;
    assert_eq!(elsewhere.status, 404);
    // The case list shows the case filed.
    let list = send(&console, "GET", "/cases", Some(&officer), &[]).await;
    assert!(list.body.contains(case_path.trim_start_matches("/case/")), "{}", list.body);

    // Half an hour idle: the session is over, though its page refreshed itself live meanwhile.
    later.0.store(SESSION_IDLE_MS - 60_000, Ordering::SeqCst);
    let live = send_with(&console, "GET", "/cases", Some(&officer), &[], &[("X-Afc-Live", "1")]).await;
    assert_eq!(live.status, 200, "a live refresh within the half hour");
    later.0.store(SESSION_IDLE_MS, Ordering::SeqCst);
    let expired = send(&console, "GET", "/cases", Some(&officer), &[]).await;
    assert_eq!((expired.status, expired.header("location")), (303, Some("/login?why=expired")));
    let gone = send(&console, "GET", "/cases", Some(&officer), &[]).await;
    assert_eq!(gone.header("location"), Some("/login"), "ended for good");

    // A person taken off the roster cannot log in any more, without a restart of the console.
    let dir = deployment.secrets_dir().unwrap();
    let path = security::staff::Roster::path(dir, hangzhou.as_str());
    let mut roster = security::staff::Roster::load(&path).unwrap();
    roster.members.retain(|member| member.name != "hangzhou-intake-1");
    roster.save(&path).unwrap();
    let seed = seed_of(&deployment, "hangzhou-intake-1").unwrap();
    let removed = send(&console, "POST", "/login", None, &[("name", "hangzhou-intake-1"), ("key", &seed)]).await;
    assert_eq!(removed.status, 401, "off the roster: {}", removed.body);
    login(&console, &deployment, "hangzhou-carrierdesk-1").await;
    deployment.stop().await;
}

/// Allocations of `city`'s restitution in `phase`, as staff list them.
async fn allocations(client: &async_nats::Client, city: &domain::City, phase: &str) -> anyhow::Result<ListReply> {
    let request = ListRequest { phase: Some(phase.into()), case_id: None, account: None, after: None, limit: None };
    let answer =
        afc::client::ask(client, city, Service::Restitution, rst::VERB_LIST, serde_json::to_vec(&request)?).await?;
    let reply: protocol::Reply<ListReply, RestitutionError> = serde_json::from_slice(&answer)?;
    Ok(reply.into_result()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_return_needs_two_different_approvers_and_one_alone_cannot_approve_it_twice() {
    common::init();
    let hangzhou = city("hangzhou");
    let wave = generate(&WaveConfig::typical(7, vec![hangzhou.clone()], 2), now_ms()).unwrap();
    let options = EmbeddedOptions {
        restitution: restitution::Tuning { notice_ms: 1, ..Default::default() },
        ..Default::default()
    };
    let deployment = Embedded::start(std::slice::from_ref(&hangzhou), wave.world.clone(), options).await.unwrap();
    let console =
        start(&deployment, Scope::City(hangzhou.clone()), domain::system_clock(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let desk = deployment.client(&hangzhou);
    for report in &wave.reports {
        submit_ok(desk, &hangzhou, &report.body).await.unwrap();
    }
    let allocation = poll(TRACE_TIMEOUT, "an allocation awaiting approval", || async {
        let reply = allocations(desk, &hangzhou, "awaiting_approval").await?;
        Ok(reply.allocations.first().map(|a| a.allocation.clone()).ok_or_else(|| "none yet".to_owned()))
    })
    .await
    .unwrap();
    let page = format!("/returns/{allocation}");
    let approve = format!("/returns/{allocation}/approve");

    // A bank liaison reads the allocation but may not approve it.
    let liaison = login(&console, &deployment, "hangzhou-bankdesk-1").await;
    let seen = send(&console, "GET", &page, Some(&liaison), &[]).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("/approve\""), "no approve button for a bank liaison");
    let refused = send(&console, "POST", &approve, Some(&liaison), &[("form", "")]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("您的角色不能执行此操作"), "refused for the role: {}", refused.body);

    // The first approver approves once; a second approval of theirs is refused by restitution.
    // The page open twice (two tabs): each with a token of its own.
    let first = login(&console, &deployment, "hangzhou-approver-1").await;
    let token = send(&console, "GET", &page, Some(&first), &[]).await.form_token();
    let other_tab = send(&console, "GET", &page, Some(&first), &[]).await.form_token();
    let approved = send(&console, "POST", &approve, Some(&first), &[("form", &token)]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let after = send(&console, "GET", &page, Some(&first), &[]).await;
    assert!(after.body.contains("hangzhou-approver-1"), "the approval names its approver");
    assert!(!after.body.contains("/approve\""), "no second button for the same approver");
    let again = send(&console, "POST", &approve, Some(&first), &[("form", &other_tab)]).await;
    assert_eq!(again.status, 422, "restitution refuses a second approval by one person: {}", again.body);
    let waiting = allocations(desk, &hangzhou, "awaiting_approval").await.unwrap();
    assert!(waiting.allocations.iter().any(|a| a.allocation == allocation), "one approver alone: still waiting");

    // The second approver's approval releases it.
    let second = login(&console, &deployment, "hangzhou-approver-2").await;
    let token = send(&console, "GET", &page, Some(&second), &[]).await.form_token();
    assert_eq!(send(&console, "POST", &approve, Some(&second), &[("form", &token)]).await.status, 303);
    let released = poll(TRACE_TIMEOUT, "the allocation released", || async {
        let all = allocations(desk, &hangzhou, "all").await?;
        let phase = all.allocations.iter().find(|a| a.allocation == allocation).map(|a| a.phase.clone());
        Ok(phase.clone().filter(|p| p == "executing" || p == "completed").ok_or_else(|| format!("{phase:?}")))
    })
    .await;
    assert!(released.is_ok(), "{released:?}");
    deployment.stop().await;
}

/// `GET path` over TLS to `address`, trusting `ca` for `localhost`: the whole answer.
async fn get_over_tls(address: std::net::SocketAddr, ca: &std::path::Path, request: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(ca).unwrap()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_serves_https_with_its_own_certificate_and_a_stalled_handshake_holds_nobody_up() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    common::init();
    let hangzhou = city("hangzhou");
    let wave = generate(&WaveConfig::typical(2, vec![hangzhou.clone()], 1), now_ms()).unwrap();
    let deployment =
        Embedded::start(std::slice::from_ref(&hangzhou), wave.world.clone(), EmbeddedOptions::default()).await.unwrap();
    // The console's certificate, from the deployment's CA, for the name the desks dial.
    let secrets = deployment.secrets_dir().unwrap().to_owned();
    let pki = secrets.join(security::connect::PKI_DIR);
    let ca = security::pki::DevCa::load(&pki).unwrap();
    let spec = security::pki::CertSpec {
        common_name: "hangzhou console".into(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec![],
        usage: security::pki::CertUsage::Server,
    };
    let own = tempfile::tempdir().unwrap();
    let files = ca.issue(&spec).unwrap().save(own.path(), "console").unwrap();
    let mut options =
        loadtests::console::options(&deployment, Scope::City(hangzhou.clone()), "127.0.0.1:0".parse().unwrap())
            .unwrap();
    options.tls = Some(afc::console::TlsFiles { cert: files.cert, key: files.key });
    let console = afc::console::start(&options, deployment.clock.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(afc::console::serve_on(listener, console, shutdown));

    // A client that connects and never says anything: the next one is served all the same.
    let _stalled = tokio::net::TcpStream::connect(address).await.unwrap();
    let ca_file = pki.join(security::connect::CA_FILE);
    let page =
        get_over_tls(address, &ca_file, "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");

    // A login over it: the session cookie is Secure without any proxy saying so.
    let seed = seed_of(&deployment, "hangzhou-intake-1").unwrap();
    let body = format!("name=hangzhou-intake-1&key={}", loadtests::bench::console::http::encode(&seed));
    let login = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = get_over_tls(address, &ca_file, &login).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let cookie = answer.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie: afc_session=")).unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");

    // Plain HTTP to it gets no page.
    let mut plain = tokio::net::TcpStream::connect(address).await.unwrap();
    plain.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), plain.read_to_end(&mut got)).await;
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "a page over plain HTTP");
    deployment.stop().await;
}
