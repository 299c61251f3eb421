//! `afc-lab up` and `afc-lab down`: a local province of two cities as separate OS processes
//! (a hub and two city nats-servers, two `afc city`, the simulated banks), secured as an
//! installed one. A report filed with the staff tool is traced, the province's stream on the
//! hub receives the city's events, and `down` leaves no process of the deployment behind.
//! With `--hub-cluster 3` the hub is three nats-servers and the province's stream, made by
//! `afc province provision --replicas 3`, has a copy on each.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use async_nats::jetstream;
use domain::{CaseId, Service};
use events::{FreezingEvent, IntakeEvent};
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

/// Held from choosing a port range until `afc-lab up` has bound it: the tests of this file
/// run at once and [`testkit::free_port_range`] starts from the same port in one process.
static PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes the deployment down when the test ends, passed or not.
struct DownOnDrop<'a>(&'a Path);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new(LAB).arg("down").arg("--dir").arg(self.0).output();
    }
}

/// Files `report` at `url` with `afc case report`, as the city's staff of `secrets`.
async fn file_report(afc: &Path, city: &str, url: &str, secrets: &Path, report: &Path) -> CaseId {
    let filed = run(
        afc,
        &[
            "case".as_ref(),
            "report".as_ref(),
            "--city".as_ref(),
            city.as_ref(),
            "--nats".as_ref(),
            url.as_ref(),
            "--credentials".as_ref(),
            secrets.as_os_str(),
            "--file".as_ref(),
            report.as_os_str(),
        ],
    )
    .await;
    assert!(filed.status.success(), "afc case report failed: {}", text(&filed.stderr));
    CaseId::parse(text(&filed.stdout).trim()).expect("afc case report prints the case id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_province_runs_as_processes_traces_a_report_and_goes_down() {
    common::init();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().canonicalize().unwrap();
    let afc = common::afc_binary();
    let ports = PORTS.lock().await;
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
    drop(ports);
    assert!(up.status.success(), "afc-lab up failed:\n{}\n{}", text(&up.stdout), text(&up.stderr));
    let summary = text(&up.stdout);
    assert!(summary.contains("afc case report --city hangzhou"), "{summary}");
    assert!(summary.contains(&format!("afc-lab down --dir {}", dir.display())), "{summary}");

    let deployment = record::Record::load(&dir).unwrap();
    let names: Vec<&str> = deployment.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "hub",
            "nats-hangzhou",
            "nats-wenzhou",
            "afc-hangzhou",
            "afc-wenzhou",
            "console-hangzhou",
            "console-wenzhou",
            "console-province",
            "sim"
        ]
    );
    // Each console serves its login page, and the summary says where and who may log in.
    for (node, url) in &deployment.consoles {
        let login = loadtests::bench::console::http::get(url, "/login", None).await.unwrap();
        assert_eq!(login.status, 200, "{node}'s console at {url}");
        assert!(summary.contains(url.as_str()), "{node}'s console in the summary: {summary}");
    }
    assert_eq!(deployment.consoles.len(), 3, "{:?}", deployment.consoles);
    assert!(summary.contains("hangzhou-approver-2") && summary.contains("province-officer-1"), "{summary}");
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
    let case_id = file_report(&afc, "hangzhou", &node.node.url, &deployment.secrets, &report).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_province_with_a_hub_of_three_nodes_keeps_three_copies_of_the_province_stream() {
    common::init();
    let begun = std::time::Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().canonicalize().unwrap();
    let afc = common::afc_binary();
    let ports = PORTS.lock().await;
    // The hub's first node and the city take a block of ten ports each, nodes 2 and 3 the next.
    let base_port = testkit::free_port_range(40).to_string();
    let up_args: Vec<&OsStr> = vec![
        "up".as_ref(),
        "--cities".as_ref(),
        "1".as_ref(),
        "--hub-cluster".as_ref(),
        "3".as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
        "--base-port".as_ref(),
        base_port.as_ref(),
        "--afc".as_ref(),
        afc.as_os_str(),
    ];
    let up = run(LAB.as_ref(), &up_args).await;
    let _down = DownOnDrop(&dir);
    drop(ports);
    assert!(up.status.success(), "afc-lab up --hub-cluster 3 failed:\n{}\n{}", text(&up.stdout), text(&up.stderr));
    let deployment = record::Record::load(&dir).unwrap();
    let names: Vec<&str> = deployment.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["hub", "hub-2", "hub-3", "nats-hangzhou", "afc-hangzhou", "console-hangzhou", "console-province", "sim"]
    );
    for started in &deployment.processes {
        assert!(process::is_ours(started.pid, &dir), "{} (pid {}) is not running", started.name, started.pid);
    }

    // The province's observer sees AFC_PROVINCE with a leader and two replicas.
    let hub = secured::connect_province(&deployment.secrets, CityRole::Observer, &deployment.hub.url).await.unwrap();
    let hub_js = jetstream::new(hub);
    let mut stream = hub_js.get_stream(subjects::PROVINCE_STREAM).await.expect("afc-lab up made AFC_PROVINCE");
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.config.num_replicas, 3, "AFC_PROVINCE's replicas");
    let cluster = info.cluster.expect("a replicated stream reports its cluster");
    assert!(cluster.leader.is_some() && cluster.replicas.len() == 2, "a leader and two replicas: {cluster:?}");

    // One report, filed at the city, reaches the province's stream.
    let city = common::city("hangzhou");
    let node = deployment.city(&city).unwrap();
    let report = dir.join(loadtests::sim_serve::REPORTS_DIR).join("hangzhou-1.json");
    let case_id = file_report(&afc, "hangzhou", &node.node.url, &deployment.secrets, &report).await;
    let reported = subjects::event(&city, Service::Intake, IntakeEvent::CASE_REPORTED);
    common::poll(TRACE_TIMEOUT, &format!("the province holding {case_id}'s report"), || async {
        let held = common::count(&hub_js, subjects::PROVINCE_STREAM, &reported).await?;
        Ok(if held == 1 { Ok(()) } else { Err(format!("{held} reports in AFC_PROVINCE")) })
    })
    .await
    .unwrap();

    let down = run(LAB.as_ref(), &["down".as_ref(), "--dir".as_ref(), dir.as_os_str()]).await;
    assert!(down.status.success(), "afc-lab down failed: {}", text(&down.stderr));
    for stopped in &deployment.processes {
        assert!(!process::is_ours(stopped.pid, &dir), "{} (pid {}) outlived down", stopped.name, stopped.pid);
        assert!(!record::pid_file(&dir, &stopped.name).exists(), "{}'s pid file stayed", stopped.name);
    }
    println!("up, a report at the province, down: {:?}", begun.elapsed());
}
