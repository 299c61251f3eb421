//! Helpers shared by the afc integration tests: starting an embedded deployment, submitting
//! reports, reading a city's or the province's stream, and bounded polling.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use async_nats::jetstream;
use domain::{AccountRef, CaseId, City, Fen};
use events::FreezingEvent;
use futures::StreamExt;
use protocol::Reply;
use protocol::intake::{IntakeError, ReportAccepted};

/// Bound on a trace (or a freeze) completing on a healthy deployment.
pub const TRACE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the province catching up after a leaf link comes back: sources retry with
/// backoff, so this is generous.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(180);
/// Bound on a stored message (e.g. a dead letter) appearing.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between polls of a condition that has no event to wait on.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Installs a log subscriber once per test binary (`RUST_LOG` to see more than warnings).
/// The nats-server binary is found by the test kit (`AFC_NATS_SERVER` or `.tools/`).
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

pub fn city(name: &str) -> City {
    City::parse(name).expect("a valid city name")
}

/// The time now, in ms since 1970.
pub fn now_ms() -> u64 {
    domain::system_clock().now_ms()
}

/// Submits a report body and returns the typed reply.
pub async fn submit(
    client: &async_nats::Client,
    city: &City,
    body: &serde_json::Value,
) -> anyhow::Result<Reply<ReportAccepted, IntakeError>> {
    afc::client::report(client, city, serde_json::to_vec(body)?).await
}

/// Submits a report body that must be accepted; returns its case id.
pub async fn submit_ok(
    client: &async_nats::Client,
    city: &City,
    body: &serde_json::Value,
) -> anyhow::Result<ReportAccepted> {
    match submit(client, city, body).await? {
        Reply::Ok(accepted) => Ok(accepted),
        Reply::Error(error) => bail!("report refused: {error} {:?}", error.problems),
    }
}

/// Per-subject message counts of `stream` for subjects matching `filter`.
pub async fn subject_counts(
    js: &jetstream::Context,
    stream: &str,
    filter: &str,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let stream = js.get_stream(stream).await.with_context(|| format!("getting stream {stream}"))?;
    let mut subjects = stream.info_with_subjects(filter).await.context("stream info with subjects")?;
    let mut counts = BTreeMap::new();
    while let Some(entry) = subjects.next().await {
        let (subject, count) = entry.context("reading subject counts")?;
        counts.insert(subject, count);
    }
    Ok(counts)
}

/// Total messages of `stream` on subjects matching `filter`.
pub async fn count(js: &jetstream::Context, stream: &str, filter: &str) -> anyhow::Result<usize> {
    Ok(subject_counts(js, stream, filter).await?.values().sum())
}

/// Every stored message of `stream` whose subject is exactly `subject`, oldest first.
pub async fn messages_on(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
) -> anyhow::Result<Vec<jetstream::message::StreamMessage>> {
    let stream = js.get_stream(stream).await?;
    let mut found = Vec::new();
    let mut next = 1u64;
    loop {
        match stream.direct_get_next_for_subject(subject, Some(next)).await {
            Ok(message) => {
                next = message.sequence + 1;
                found.push(message);
            }
            Err(error) if error.kind() == jetstream::stream::DirectGetErrorKind::NotFound => {
                return Ok(found);
            }
            Err(error) => return Err(error).context("direct get"),
        }
    }
}

/// Case ids of the `CaseReported` events stored in a city's stream, in order.
pub async fn case_reported_ids(js: &jetstream::Context, city: &City) -> anyhow::Result<Vec<CaseId>> {
    let subject = protocol::subjects::event(city, domain::Service::Intake, events::IntakeEvent::CASE_REPORTED);
    let mut ids = Vec::new();
    for message in messages_on(js, &city.stream_name(), &subject).await? {
        if let Ok(envelope) = events::decode(&message.payload)
            && let Some(case_id) = envelope.payload.case_id()
        {
            ids.push(case_id.clone());
        }
    }
    Ok(ids)
}

/// Polls `condition` every [`POLL_INTERVAL`] until it returns `Some`, or fails after
/// `timeout` naming `what` and the last value seen.
pub async fn poll<T, F, Fut>(timeout: Duration, what: &str, mut condition: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match condition().await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(last)) => last,
            Err(error) => format!("error: {error:#}"),
        };
        if tokio::time::Instant::now() >= deadline {
            bail!("{what} not reached within {timeout:?}; last: {last}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The `AccountStopped` events of a case, by account: (claim, depth of the hop).
pub fn stops(events: &[FreezingEvent]) -> BTreeMap<AccountRef, (Fen, u8)> {
    let depths: BTreeMap<u32, u8> = events
        .iter()
        .filter_map(|e| match e {
            FreezingEvent::HopOpened { hop, depth, .. } => Some((*hop, *depth)),
            _ => None,
        })
        .collect();
    events
        .iter()
        .filter_map(|e| match e {
            FreezingEvent::AccountStopped { account, claim_fen, hop, depth, .. } => {
                let depth = depth.or_else(|| depths.get(hop).copied()).unwrap_or(0);
                Some((account.clone(), (*claim_fen, depth)))
            }
            _ => None,
        })
        .collect()
}

/// Hops of a case that ended in failure, with their detail.
pub fn failed_hops(events: &[FreezingEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            FreezingEvent::HopEnded { reason: events::freezing::HopEnd::Failed, detail, .. } => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

/// The `TraceCompleted` event of a case: (claimed, time to freeze).
pub fn completion(events: &[FreezingEvent]) -> Option<(Fen, Option<u64>)> {
    events.iter().find_map(|e| match e {
        FreezingEvent::TraceCompleted { claimed_fen, time_to_freeze_ms, .. } => {
            Some((*claimed_fen, *time_to_freeze_ms))
        }
        _ => None,
    })
}

/// How many `account_stopped` events a case has: one per account stopped, or some account
/// was stopped (or read) twice. [`stops`] folds them by account, so compare the two.
pub fn stop_events(events: &[FreezingEvent]) -> usize {
    events.iter().filter(|e| matches!(e, FreezingEvent::AccountStopped { .. })).count()
}

/// The accounts of a case's claims that are frozen (`account_frozen`), and whether every
/// claim is: not merely settled, since a failed freeze settles a claim too.
pub fn claims_frozen(events: &[FreezingEvent]) -> (Vec<AccountRef>, bool) {
    let claimed: std::collections::BTreeSet<&AccountRef> = events
        .iter()
        .filter_map(|e| match e {
            FreezingEvent::AccountStopped { account, claim_fen, .. } if !claim_fen.is_zero() => Some(account),
            _ => None,
        })
        .collect();
    let frozen: std::collections::BTreeSet<&AccountRef> = events
        .iter()
        .filter_map(|e| match e {
            FreezingEvent::AccountFrozen { account, .. } => Some(account),
            _ => None,
        })
        .collect();
    let failed = events.iter().any(|e| matches!(e, FreezingEvent::FreezeFailed { .. }));
    let all = !claimed.is_empty() && claimed.iter().all(|a| frozen.contains(a)) && !failed;
    (frozen.into_iter().cloned().collect(), all)
}

/// The `afc` binary: `AFC_BIN`, else the one built beside this test (`cargo nextest run
/// --workspace` and `cargo xtask test` build it), else built now.
pub fn afc_binary() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("AFC_BIN") {
        return std::path::PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/<test>-<hash> → <target>/<profile>/afc
    let beside = exe.parent().and_then(|deps| deps.parent()).map(|profile| profile.join("afc"));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return path;
    }
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "-p", "afc", "--bin", "afc", "--message-format=json-render-diagnostics"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building afc: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "afc")
        .find_map(|message| message["executable"].as_str().map(std::path::PathBuf::from))
        .expect("cargo names the afc executable it built")
}

/// A test fixture of `loadtests/tests/fixtures`.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Runs the drill of fixture `name` on the embedded deployment: its script, the run, and the
/// report it wrote (`report.json`).
pub async fn drill(name: &str) -> (simulator::crime::Script, loadtests::drill::DrillRun, serde_json::Value) {
    use loadtests::drill::{DrillOptions, Target, run_detailed};
    let out = tempfile::tempdir().unwrap();
    let options = DrillOptions {
        scenario: fixture(name),
        out: out.path().to_owned(),
        seed: None,
        time_scale: None,
        progress: false,
        target: Target::Embedded,
        tracing_rule: freezing::rule::TracingRule::default(),
    };
    let run = run_detailed(options).await.unwrap();
    let script =
        simulator::crime::generate_script(&simulator::scenario::Scenario::load(&fixture(name)).unwrap()).unwrap();
    let json = serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    (script, run, json)
}
