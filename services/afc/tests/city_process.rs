//! `afc city` as an operator runs it, as an OS process against a real nats-server: it exits
//! non-zero when a part of a service fails (here freezing's consumer, deleted on the server),
//! so that its supervisor restarts it, and exits zero on Ctrl-C after draining. Its log to a
//! pipe or a file has no colour codes, and `--log-format json` writes one object a line.

mod common;

use std::process::Stdio;
use std::time::Duration;

use async_nats::jetstream;
use domain::City;
use testkit::NatsServer;
use tokio::io::AsyncReadExt;
use tokio::process::Child;

/// Bound on the node starting, and on it stopping once told (or once a part failed).
const BOUND: Duration = Duration::from_secs(30);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

/// Starts `afc city` for huzhou on `server`, with its stores in `data`.
fn start(server: &NatsServer, data: &std::path::Path) -> Child {
    common::start(server, data, &city(), &[], "info", Stdio::piped())
}

/// Starts the node, waits until it serves, stops it with Ctrl-C; returns its log.
async fn run_and_stop(extra: &[&str]) -> String {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut node = common::start(&server, data.path(), &city(), extra, "info", Stdio::piped());
    let client = async_nats::connect(server.url()).await.unwrap();
    common::wait_ready(&client, &city(), BOUND).await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(node.id().unwrap()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = tokio::time::timeout(BOUND, node.wait()).await.expect("afc city stops").unwrap();
    let log = stderr_of(&mut node).await;
    assert!(status.success(), "{status}\n{log}");
    log
}

async fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text).await;
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn afc_city_exits_non_zero_when_a_services_consumer_is_deleted() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut node = start(&server, data.path());
    let client = async_nats::connect(server.url()).await.unwrap();
    common::wait_ready(&client, &city(), BOUND).await;

    let stream = jetstream::new(client.clone()).get_stream(city().stream_name()).await.unwrap();
    assert!(stream.delete_consumer(freezing::shell::CONSUMER).await.unwrap().success);

    let status = tokio::time::timeout(BOUND, node.wait()).await.expect("afc city exits").unwrap();
    let log = stderr_of(&mut node).await;
    assert!(!status.success(), "afc city must fail for its supervisor to restart it: {status}\n{log}");
    assert!(log.contains("consumer freezing was deleted on the server"), "the log says why:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn afc_city_exits_zero_on_ctrl_c_and_logs_to_a_pipe_without_colour_codes() {
    let log = run_and_stop(&[]).await;
    assert!(log.contains("freezing started"), "the node logged its start:\n{log}");
    assert!(!log.contains('\x1b'), "no escape codes in a log that is not a terminal:\n{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_every_log_line_is_one_json_object() {
    let log = run_and_stop(&["--log-format", "json"]).await;
    let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the node logged");
    for line in &lines {
        let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(object["level"].is_string() && object["fields"].is_object(), "{line}");
    }
    assert!(
        lines.iter().any(|line| line.contains("\"message\":\"freezing started\"")),
        "the start is logged as a message:\n{log}"
    );
}
