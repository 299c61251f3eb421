//! `afc case show` as an officer runs it, against a city node (an OS process on a real
//! nats-server) that traced and froze a 25-account trail: the trail prints as a tree, one
//! line per hop under the hop it was traced from, times on the Chinese clock and never in
//! ms; `--json` still prints intake's timeline for scripts; and with its stdout already
//! closed (`afc case show … | head -1` once `head` is gone) it exits 0 without a panic.

mod common;

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::{City, Clock};
use events::FreezingEvent;
use testkit::NatsServer;

/// Bound on the node starting, the case completing, and each `afc` command.
const BOUND: Duration = Duration::from_secs(60);

fn city() -> City {
    City::parse("hangzhou").unwrap()
}

/// Runs `afc` with `args` to its end (bounded), its stdout `stdout`.
async fn afc(args: &[&str], stdout: Stdio) -> Output {
    // Spawned, not `output()`: that would pipe stdout whatever it was set to.
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_afc"))
        .args(args)
        .env_remove("AFC_CREDENTIALS")
        .env_remove("AFC_TZ")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("afc runs");
    tokio::time::timeout(BOUND, child.wait_with_output()).await.expect("afc ends").expect("afc runs")
}

fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Whether `line` holds a number of 12 digits or more that is not part of an account, an
/// order reference or a phone number: a time in ms since the epoch.
fn has_raw_ms(line: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric() && !":+".contains(c))
        .any(|word| !word.contains([':', '+']) && word.len() >= 12 && word.bytes().all(|b| b.is_ascii_digit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_show_draws_the_trail_as_a_tree_in_local_time_and_ends_quietly_on_a_closed_pipe() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());

    let wave = simulator::single_trail(11, domain::SystemClock.now_ms());
    let report = serde_json::to_vec(&wave.reports[0].body).unwrap();
    let world = Arc::new(Mutex::new(wave.world));
    let (_bank, _log) = common::serve_recording_bank(client.clone(), world).await;
    let _node = common::start(&server, data.path(), &city(), &["--freeze-after-ms", "300"], "warn", Stdio::inherit());
    common::wait_ready(&client, &city(), BOUND).await;
    let case_id = common::report(&client, &city(), report).await;
    let envelopes = common::case_completed(&js, &city(), &case_id, BOUND).await;
    // Every hop freezing opened, and the hop it was traced from.
    let mut parents: BTreeMap<u32, Option<u32>> = BTreeMap::new();
    for event in common::freezing_events(&envelopes, &case_id) {
        if let FreezingEvent::HopOpened { hop, parent, .. } = event {
            parents.insert(*hop, *parent);
        }
        if let FreezingEvent::AccountStopped { hop, .. } = event {
            parents.extend(event.onward_hops().map(|(next, _)| (next, Some(*hop))));
        }
    }
    assert!(parents.len() >= 25, "a 25-account trail: {parents:?}");

    let url = server.url();
    let case = case_id.to_string();
    let show = ["case", "show", "--city", "hangzhou", "--nats", &url, &case];
    // Intake folds freezing's events in as they reach it, a moment after the stream has
    // them: ask until the shown trail has every hop.
    let shown = testkit::eventually(BOUND, "the shown trail has every hop", || async {
        let shown = afc(&show, Stdio::piped()).await;
        let tree = String::from_utf8_lossy(&shown.stdout).lines().filter(|l| l.contains("─ ")).count();
        (shown.status.success() && tree == parents.len()).then_some(shown)
    })
    .await;
    let stdout = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(stdout.contains("(UTC+08:00); offsets are from the report"), "{}", text(&shown));
    assert!(stdout.contains("\ntrail: money traced in, what holds it now, since when\nvictim\n"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour codes in a pipe:\n{stdout}");
    assert!(!stdout.lines().any(has_raw_ms), "no time in ms:\n{stdout}");
    // Each hop's line is as deep as the hop is in the trail: as many lines at each depth.
    let depth = |mut hop: u32| {
        let mut depth = 0;
        while let Some(Some(parent)) = parents.get(&hop) {
            (hop, depth) = (*parent, depth + 1);
        }
        depth
    };
    let mut expected: BTreeMap<usize, usize> = BTreeMap::new();
    for hop in parents.keys() {
        *expected.entry(depth(*hop)).or_default() += 1;
    }
    let mut drawn: BTreeMap<usize, usize> = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.contains("─ ")) {
        let prefix = line.chars().take_while(|c| " │├└─".contains(*c)).count();
        *drawn.entry(prefix / 3 - 1).or_default() += 1;
    }
    assert_eq!(drawn, expected, "hops per level:\n{stdout}");
    assert!(expected.len() >= 4, "a trail of four levels: {expected:?}");
    assert!(stdout.contains("frozen ¥"), "the frozen accounts say so:\n{stdout}");

    // --json: intake's timeline as before, for scripts.
    let mut args = show.to_vec();
    args.push("--json");
    let json = afc(&args, Stdio::piped()).await;
    assert!(json.status.success(), "{}", text(&json));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["case_id"], case.as_str());
    assert!(value["reported_at_ms"].is_u64() && value["entries"].as_array().is_some_and(|e| e.len() > 25));

    // Its reader gone before it prints a line: the pipe is closed when it starts.
    for args in [show.to_vec(), args] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let closed = afc(&args, Stdio::from(writer)).await;
        let stderr = String::from_utf8_lossy(&closed.stderr);
        assert!(closed.status.success(), "{:?} {args:?}: {stderr}", closed.status);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
        assert!(stderr.trim().is_empty(), "nothing said: {stderr}");
    }
}
