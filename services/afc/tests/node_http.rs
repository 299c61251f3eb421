//! `afc city --http` as an operator runs it, as an OS process against a real nats-server:
//! `/healthz` answers, `/readyz` once every service runs with its consumers, and `/metrics`
//! counts a report (intake's `case_reported`, its `report` command) without a word of it,
//! and the calls to a simulated bank that fail for good (`afc_adapter_errors_total`).

mod common;

use std::num::NonZeroU64;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::limits::ADAPTER_RETRIES;
use domain::{BankId, City, system_clock};
use protocol::to_json;
use testkit::{NatsServer, eventually, free_port_range, http_get};

/// Bound on the node starting, on a count moving, and on the node stopping.
const BOUND: Duration = Duration::from_secs(30);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

const VICTIM: &str = "王芳";
const PHONE: &str = "13900001111";
const ACCOUNT: &str = "6222020200001234";

fn report() -> Vec<u8> {
    let now = system_clock().now_ms();
    to_json(&serde_json::json!({
        "victim": {"name": VICTIM, "id_number": "33070219800101002X", "phone": PHONE},
        "fraud_type": "impersonating_authorities",
        "transfers": [{"account": format!("icbc:{ACCOUNT}"), "amount_fen": 500_000, "at_ms": now - 60_000}],
        "contacts": {"phones": ["+8617000000000"], "urls": [], "apps": [], "social": []},
        "narrative": "A caller said my bank card was used for money laundering."
    }))
}

/// The body of `path` once it answers 200 with a line `line` (any line when `None`).
/// (`get_when` for a line to be found by a test of its own.)
async fn get_until(port: u16, path: &str, line: Option<&str>) -> String {
    get_when(port, path, &format!("{line:?}"), |l| line.is_none_or(|line| l == line)).await
}

/// The body of `path` once it answers 200 with a line that `found` accepts.
async fn get_when(port: u16, path: &str, what: &str, found: impl Fn(&str) -> bool) -> String {
    eventually(BOUND, &format!("{path} with {what}"), || async {
        let response = http_get(port, path).await.ok()?;
        (response.status == 200 && response.body.lines().any(&found)).then_some(response.body)
    })
    .await
}

/// The value of the sample `series` (name and labels) in `metrics`, if it is there.
fn sample(metrics: &str, series: &str) -> Option<u64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn afc_city_with_http_serves_health_readiness_and_metrics_of_every_service() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = free_port_range(1);
    let addr = format!("127.0.0.1:{port}");
    let mut node = common::start(&server, data.path(), &city(), &["--http", &addr], "warn", Stdio::null());

    assert_eq!(get_until(port, "/healthz", None).await, "ok\n");
    assert_eq!(get_until(port, "/readyz", None).await, "ready\n");

    let client = async_nats::connect(server.url()).await.unwrap();
    common::report(&client, &city(), report()).await;
    let reported = r#"afc_events_published_total{city="huzhou",service="intake",kind="case_reported"} 1"#;
    let metrics = get_until(port, "/metrics", Some(reported)).await;
    let requests = r#"afc_command_requests_total{city="huzhou",service="intake",on="commands",verb="report"} 1"#;
    assert!(metrics.lines().any(|line| line == requests), "{metrics}");
    for service in ["intake", "freezing", "blocking", "dissuasion", "restitution"] {
        let connected = format!(r#"afc_nats_connected{{city="huzhou",service="{service}"}} 1"#);
        assert!(metrics.lines().any(|line| line == connected), "{connected} in\n{metrics}");
    }
    assert!(metrics.contains(r#"afc_consumer_attached{city="huzhou",service="freezing""#), "{metrics}");
    // Freezing shows its time-to-freeze from its start, before any trace completed.
    let traces = r#"afc_time_to_freeze_seconds_count{city="huzhou",service="freezing"}"#;
    assert!(metrics.lines().any(|line| line.starts_with(traces)), "{traces} in\n{metrics}");
    for word in [VICTIM, PHONE, ACCOUNT] {
        assert!(!metrics.contains(word), "{word} in /metrics");
    }

    common::stop(&mut node, BOUND).await;
}

#[tokio::test]
async fn afc_city_refuses_an_http_address_that_is_not_one() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = common::command(&server, data.path(), &city(), &["--http", "localhost"], "warn", Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("http: \"localhost\" is not an address"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_answering_unavailable_to_every_attempt_is_counted_once_a_call_by_party_verb_and_kind() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = free_port_range(1);
    let addr = format!("127.0.0.1:{port}");
    // The simulated icbc answers every request `unavailable` (its failure injection).
    let bank = async_nats::connect(server.url()).await.unwrap();
    let world = Arc::new(Mutex::new(simulator::World::new(vec![BankId::parse("icbc").unwrap()], vec![])));
    let failing = simulator::ServeOptions { fail_every: NonZeroU64::new(1), ..simulator::ServeOptions::default() };
    let icbc = simulator::serve(world, vec![bank], failing).await.unwrap();
    let mut node = common::start(&server, data.path(), &city(), &["--http", &addr], "warn", Stdio::null());
    assert_eq!(get_until(port, "/readyz", None).await, "ready\n");
    // Freezing shows its claims at risk from its start: none yet.
    let metrics = get_until(port, "/metrics", None).await;
    assert_eq!(sample(&metrics, r#"afc_claims_at_risk{city="huzhou",service="freezing"}"#), Some(0), "{metrics}");
    assert!(!metrics.contains("afc_adapter_errors_total"), "no call failed yet:\n{metrics}");

    let client = async_nats::connect(server.url()).await.unwrap();
    common::report(&client, &city(), report()).await;
    // Freezing's stop-payment at icbc fails for good after its retries, each `unavailable`.
    let series = r#"afc_adapter_errors_total{city="huzhou",service="freezing",adapter="bank",party="icbc",verb="stop_payment",kind="unavailable"}"#;
    let metrics = get_when(port, "/metrics", series, |line| line.starts_with(series)).await;
    let failed = sample(&metrics, series).expect("a count");
    let attempts = icbc.stats().injected_failures;
    assert!(failed >= 1, "{metrics}");
    assert!(
        failed * u64::from(ADAPTER_RETRIES + 1) <= attempts,
        "a call is counted once, after its {} attempts: {failed} counted, {attempts} refused",
        ADAPTER_RETRIES + 1
    );
    for word in [VICTIM, PHONE, ACCOUNT] {
        assert!(!metrics.contains(word), "{word} in /metrics");
    }

    common::stop(&mut node, BOUND).await;
    icbc.shutdown().await;
}
