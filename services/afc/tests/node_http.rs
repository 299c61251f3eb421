//! `afc city --http` as an operator runs it, as an OS process against a real nats-server:
//! `/healthz` answers, `/readyz` once every service runs with its consumers, and `/metrics`
//! counts a report (intake's `case_reported`, its `report` command) without a word of it.

mod common;

use std::process::Stdio;
use std::time::Duration;

use domain::{City, system_clock};
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
async fn get_until(port: u16, path: &str, line: Option<&str>) -> String {
    eventually(BOUND, &format!("{path} with {line:?}"), || async {
        let response = http_get(port, path).await.ok()?;
        let found = line.is_none_or(|line| response.body.lines().any(|l| l == line));
        (response.status == 200 && found).then_some(response.body)
    })
    .await
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
