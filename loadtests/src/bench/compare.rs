//! `afc-lab bench freeze --security both`: the insecure and the secured deployment
//! alternately (off, on, off, on, … for `--rounds` rounds), each run as `afc-lab bench freeze
//! --security off|on` in a process of its own (no run inherits another's heap, threads or
//! connections), its full report on stdout as it goes, its figures read back from the JSON
//! it writes; then one [`Comparison`]: each run's time-to-freeze, the floor measured in it
//! (the round trip between two harness connections — over TLS with the city observer's
//! identity when secured — and the redb commit), and p99(on) / p99(off) against the goal.

use std::path::Path;

use anyhow::Context;

use super::FreezeBench;
use super::report::FreezeResult;
use super::security::{Comparison, Run, Security};
use crate::load::cpu::{self, QUIET_SAMPLE};
use crate::setup::{self, Setup};

/// Runs every run of `--security both` and prints the comparison.
pub async fn run(options: &FreezeBench) -> anyhow::Result<()> {
    let setup = Setup::probe();
    let dir = tempfile::tempdir().context("creating a directory for the runs' results")?;
    let order = options.security.runs(options.rounds);
    let mut runs = Vec::with_capacity(order.len());
    for (i, &secure) in order.iter().enumerate() {
        eprintln!(
            "afc-lab bench freeze --security both: run {}/{}, security {}",
            i + 1,
            order.len(),
            Security::flag(secure)
        );
        let busy = cpu::machine_busy_before(QUIET_SAMPLE).await;
        let path = dir.path().join(format!("run-{:02}-{}.json", i + 1, Security::flag(secure)));
        let result = run_in_child(options, secure, &path).await.with_context(|| format!("run {}", i + 1))?;
        runs.push(row(&result, busy));
    }
    let comparison = Comparison {
        title: "afc-lab bench freeze".into(),
        setup: vec![
            format!("machine: {} cpus; {}", setup.cpus, setup.nats_version),
            format!(
                "load: {}, banks answer at once; open loop, {} cases/s, {} measured + {} warm-up, seed {}; nats-server sync {}",
                setup::trail(),
                options.rate,
                options.cases,
                options.warmup,
                options.seed,
                if options.sync_always { "always" } else { "default" }
            ),
            "ttf: intake's receipt → the last stop holding money (freezing's own figure, ms resolution)".into(),
            "floor, measured in each run before its load: NATS round trip between two harness connections to the city's server (the city observer's identity over TLS when secured) and a redb Immediate commit; floor = 4 × (rtt p50 + commit p50)".into(),
        ],
        columns: ["reached /s", "rtt p50 / p99 µs", "commit p50 µs", "floor ms", "ttf p50 / floor", "machine busy before"]
            .map(String::from)
            .to_vec(),
        runs,
    };
    println!();
    println!("{}", comparison.markdown());
    Ok(())
}

/// A run's row: its time-to-freeze, floor, and how busy the machine was just before it.
fn row(result: &FreezeResult, busy_before_pct: Option<f64>) -> Run {
    let floor = result.floor_ms();
    let ratio = if floor > 0.0 { format!("{:.2}", result.ttf_ms.p50 as f64 / floor) } else { "-".into() };
    Run {
        secure: result.secure,
        ttf_us: result.ttf_ms.scaled(1_000),
        cells: vec![
            format!("{:.1}", result.achieved_rate),
            format!("{} / {}", result.rtt_us.p50, result.rtt_us.p99),
            result.commit_us.p50.to_string(),
            format!("{floor:.2}"),
            ratio,
            busy_before_pct.map_or("-".into(), |b| format!("{b:.0}%")),
        ],
    }
}

/// Runs `afc-lab bench freeze --security on|off` (this executable) with the same options,
/// its report on this process's stdout, and reads its figures back from `path`.
async fn run_in_child(options: &FreezeBench, secure: bool, path: &Path) -> anyhow::Result<FreezeResult> {
    let exe = std::env::current_exe().context("locating the afc-lab executable")?;
    let mut command = tokio::process::Command::new(&exe);
    command
        .args(["bench", "freeze", "--security", Security::flag(secure)])
        .args(["--rate", &options.rate.to_string()])
        .args(["--cases", &options.cases.to_string()])
        .args(["--warmup", &options.warmup.to_string()])
        .args(["--seed", &options.seed.to_string()])
        .arg("--result-json")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if options.sync_always {
        command.arg("--sync-always");
    }
    let status = command.status().await.with_context(|| format!("running {}", exe.display()))?;
    anyhow::ensure!(status.success(), "the run's process ended with {status}");
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let result: FreezeResult = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(result.secure == secure, "the run at {} was not the one asked for", path.display());
    Ok(result)
}
