//! `afc-lab up` and `afc-lab down`: a local province of two cities as separate OS processes
//! (a hub and two city nats-servers, two `afc city`, the simulated banks), secured as an
//! installed one. A report filed with the staff tool is traced, the province's stream on the
//! hub receives the city's events, and `down` leaves no process of the deployment behind.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use async_nats::jetstream;
use domain::{CaseId, Service};
use events::FreezingEvent;
use loadtests::deployment::{Watch, trace_completed};
use loadtests::secured::{self, CityRole};
use loadtests::up::{process, record};
use protocol::subjects;

const LAB: &str = env!("CARGO_BIN_EXE_afc-lab");
/// Bound on `afc-lab up` (its own waits are bounded too) and `afc-lab down`.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on one report being traced.
const TRACE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `program args` to its end within [`COMMAND_TIMEOUT`].
async fn run(program: &Path, args: &[&OsStr]) -> Output {
    let child = tokio::process::Command::new(program).args(args).kill_on_drop(true).output();
    tokio::time::timeout(COMMAND_TIMEOUT, child)
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not finish within {COMMAND_TIMEOUT:?}", program.display()))
        .expect("the command runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Takes the deployment down when the test ends, passed or not.
struct DownOnDrop<'a>(&'a Path);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new(LAB).arg("down").arg("--dir").arg(self.0).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_province_runs_as_processes_traces_a_report_and_goes_down() {
    common::init();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().canonicalize().unwrap();
    let afc = common::afc_binary();
    // The hub takes the first ten ports (three of them used), each city the next ten.
    let base_port = testkit::free_port_range(30).to_string();
    let up_args: Vec<&OsStr> = vec![
        "up".as_ref(),
        "--cities".as_ref(),
        "2".as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
        "--base-port".as_ref(),
        base_port.as_ref(),
        "--afc".as_ref(),
        afc.as_os_str(),
    ];
    let up = run(LAB.as_ref(), &up_args).await;
    let _down = DownOnDrop(&dir);
    assert!(up.status.success(), "afc-lab up failed:\n{}\n{}", text(&up.stdout), text(&up.stderr));
    let summary = text(&up.stdout);
    assert!(summary.contains("afc case report --city hangzhou"), "{summary}");
    assert!(summary.contains(&format!("afc-lab down --dir {}", dir.display())), "{summary}");

    let deployment = record::Record::load(&dir).unwrap();
    let names: Vec<&str> = deployment.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["hub", "nats-hangzhou", "nats-wenzhou", "afc-hangzhou", "afc-wenzhou", "sim"]);
    for started in &deployment.processes {
        assert!(process::is_ours(started.pid, &dir), "{} (pid {}) is not running", started.name, started.pid);
        assert!(record::pid_file(&dir, &started.name).is_file(), "{} has no pid file", started.name);
    }

    let again = run(LAB.as_ref(), &up_args).await;
    assert!(!again.status.success(), "a second up on a running deployment was accepted");
    assert!(text(&again.stderr).contains("is already up"), "{}", text(&again.stderr));

    let city = common::city("hangzhou");
    let node = deployment.city(&city).unwrap();
    let observer = secured::connect_city(&deployment.secrets, &city, CityRole::Observer, &node.node.url).await.unwrap();
    let mut watch = Watch::start(&observer, &city).await.unwrap();
    let report = dir.join(loadtests::sim_serve::REPORTS_DIR).join("hangzhou-1.json");
    let filed = run(
        &afc,
        &[
            "case".as_ref(),
            "report".as_ref(),
            "--city".as_ref(),
            "hangzhou".as_ref(),
            "--nats".as_ref(),
            node.node.url.as_ref(),
            "--credentials".as_ref(),
            deployment.secrets.as_os_str(),
            "--file".as_ref(),
            report.as_os_str(),
        ],
    )
    .await;
    assert!(filed.status.success(), "afc case report failed: {}", text(&filed.stderr));
    let case_id = CaseId::parse(text(&filed.stdout).trim()).expect("afc case report prints the case id");
    watch
        .until(TRACE_TIMEOUT, |all| all.get(&case_id).is_some_and(|events| trace_completed(events)))
        .await
        .unwrap_or_else(|e| panic!("{case_id} not traced: {e:#}"));
    assert!(
        watch.events(&case_id).iter().any(|e| matches!(e, FreezingEvent::AccountStopped { .. })),
        "the simulated banks stopped nothing for {case_id}"
    );

    // The province's stream on the hub sources everything the city recorded.
    let hub = secured::connect_province(&deployment.secrets, CityRole::Observer, &deployment.hub.url).await.unwrap();
    let (hub_js, city_js) = (jetstream::new(hub), jetstream::new(observer.clone()));
    let everything = subjects::city_events(&city);
    let traced = subjects::event(&city, Service::Freezing, FreezingEvent::TRACE_COMPLETED);
    common::poll(common::CATCH_UP_TIMEOUT, "the province holding the city's events", || async {
        let local = common::count(&city_js, &city.stream_name(), &everything).await?;
        let province = common::count(&hub_js, subjects::PROVINCE_STREAM, &everything).await?;
        let completed = common::count(&hub_js, subjects::PROVINCE_STREAM, &traced).await?;
        Ok(if province == local && completed == 1 {
            Ok(())
        } else {
            Err(format!("{province} of {local} events, {completed} traces completed"))
        })
    })
    .await
    .unwrap();

    let down = run(LAB.as_ref(), &["down".as_ref(), "--dir".as_ref(), dir.as_os_str()]).await;
    assert!(down.status.success(), "afc-lab down failed: {}", text(&down.stderr));
    for stopped in &deployment.processes {
        assert!(!process::is_ours(stopped.pid, &dir), "{} (pid {}) outlived down", stopped.name, stopped.pid);
        assert!(!record::pid_file(&dir, &stopped.name).exists(), "{}'s pid file stayed", stopped.name);
    }
    assert!(dir.join("data").join("hangzhou").is_dir(), "down removed the data without --purge");
}
