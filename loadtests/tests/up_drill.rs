//! A drill against a local province of OS processes (`afc-lab up --drill-clock`), as an
//! engineer tries a deployment before installing it: the cities run on the drill's clock, the
//! drill plays the banks as their gateway identities at each city's server, files the
//! scenario's reports with the observer's identity, and scores what the deployment froze. The
//! nodes are refused nothing by their servers.

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use loadtests::drill::{self, DrillOptions, Target};
use loadtests::up::record::Record;

const LAB: &str = env!("CARGO_BIN_EXE_afc-lab");
/// Bound on `afc-lab up` and `afc-lab down`.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Real time from the clock's making to its start: time for `afc-lab up`.
const START_IN: Duration = Duration::from_secs(15);
/// The drill's speed: the fixture's two simulated hours in about seven real seconds.
const TIME_SCALE: f64 = 1_000.0;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crash-drill.toml")
}

/// Takes the deployment down when the test ends, passed or not.
struct DownOnDrop(PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new(LAB).arg("down").arg("--dir").arg(&self.0).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_runs_against_a_local_province_of_processes_with_their_identities() {
    common::init();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().canonicalize().unwrap();
    let clock = drill::clock_for(&fixture(), Some(TIME_SCALE), START_IN).unwrap();
    let (afc, scenario) = (common::afc_binary(), fixture());
    let (base_port, clock_text) = (testkit::free_port_range(20).to_string(), clock.to_string());
    let args: Vec<&OsStr> = vec![
        "up".as_ref(),
        "--cities".as_ref(),
        "1".as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
        "--base-port".as_ref(),
        base_port.as_ref(),
        "--afc".as_ref(),
        afc.as_os_str(),
        "--scenario".as_ref(),
        scenario.as_os_str(),
        "--drill-clock".as_ref(),
        clock_text.as_ref(),
    ];
    let up = tokio::process::Command::new(LAB).args(&args).kill_on_drop(true).output();
    let up = tokio::time::timeout(COMMAND_TIMEOUT, up).await.expect("afc-lab up finishes").unwrap();
    let _down = DownOnDrop(dir.clone());
    let (stdout, stderr) = (String::from_utf8_lossy(&up.stdout), String::from_utf8_lossy(&up.stderr));
    assert!(up.status.success(), "afc-lab up failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("the drill plays them"), "{stdout}");
    let deployment = Record::load(&dir).unwrap();
    let names: Vec<&str> = deployment.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["hub", "nats-hangzhou", "afc-hangzhou"], "no banks of its own under a drill");

    let out = tempfile::tempdir().unwrap();
    let options = DrillOptions {
        scenario: fixture(),
        out: out.path().to_owned(),
        seed: None,
        time_scale: None,
        progress: false,
        target: Target::Secured { connector: deployment.connector(), clock },
        tracing_rule: freezing::rule::TracingRule::default(),
    };
    let run = drill::run_detailed(options).await.unwrap();
    // The node runs blocking: a victim the gang reaches through a number or site already
    // blocked is spared and files no report. Every other report is accepted.
    let filed = run.case_ids.iter().enumerate().filter(|(i, _)| !run.spared.contains(i));
    assert!(filed.clone().all(|(_, id)| id.is_some()), "every report filed is accepted: {:?}", run.case_ids);
    assert!(filed.count() > 0, "some victims were reached before any block: {:?}", run.spared);
    let total = &run.report.total;
    assert!(total.frozen_fen > 0, "the deployment froze victims' money: {total:?}");
    assert_eq!(total.not_traced, 0, "{total:?}");

    let node = deployment.processes.iter().find(|p| p.name == "afc-hangzhou").unwrap();
    let log = std::fs::read_to_string(&node.log).unwrap();
    assert!(!log.contains("the server refused"), "the node was refused by its server:\n{log}");
}
