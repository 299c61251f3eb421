//! `afc city` as an OS process against a real nats-server, for the tests that start, stop
//! and kill it; [`secured`]: a city server with accounts, grants and TLS.
#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod secured;

use std::process::Stdio;
use std::time::Duration;

use async_nats::jetstream;
use domain::{CaseId, City, Service};
use protocol::intake::{IntakeErrorKind, ShowResponse, VERB_SHOW};
use testkit::NatsServer;
use tokio::process::{Child, Command};

/// Starts `afc city` for `city` on `server`, its stores in `data`, with `extra` arguments,
/// logging at `log` to `stderr`.
pub fn start(
    server: &NatsServer,
    data: &std::path::Path,
    city: &City,
    extra: &[&str],
    log: &str,
    stderr: Stdio,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_afc"))
        .args(["city", "--city", city.as_str(), "--nats", &server.url(), "--data"])
        .arg(data)
        .args(extra)
        .env("AFC_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("afc starts")
}

/// Waits, at most `bound` for each, until intake answers `show` and freezing's durable
/// consumer exists.
pub async fn wait_ready(client: &async_nats::Client, city: &City, bound: Duration) {
    let probe = serde_json::to_vec(&serde_json::json!({ "case_id": CaseId::derive(city, 0) })).unwrap();
    let subject = protocol::subjects::command(city, Service::Intake, VERB_SHOW);
    let js = jetstream::new(client.clone());
    let answer = testkit::eventually(bound, "intake answers", || async {
        let request = client.request(subject.clone(), probe.clone().into());
        tokio::time::timeout(Duration::from_secs(1), request).await.ok()?.ok()
    })
    .await;
    let ShowResponse::Error(error) = serde_json::from_slice(&answer.payload).unwrap() else {
        panic!("the probe case does not exist")
    };
    assert_eq!(error.kind, IntakeErrorKind::UnknownCase);
    testkit::eventually(bound, "freezing's consumer exists", || async {
        let stream = js.get_stream(city.stream_name()).await.ok()?;
        stream.consumer_info(freezing::shell::CONSUMER).await.ok().map(|_| ())
    })
    .await;
}
