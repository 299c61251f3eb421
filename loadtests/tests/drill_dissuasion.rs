//! A drill in which dissuasion avoids losses (`afc-lab sim run` on the embedded secured
//! deployment, in scaled time): a gang's victims report its number, the carriers' signals of
//! the other people it reached are matched against it, and the simulated staff's calls and
//! visits reach people before they pay. The report's `dissuasion` section says how many were
//! warned in time and what they would have lost, from the ground truth.

mod common;

use std::path::PathBuf;

use loadtests::drill::{DrillOptions, Target, run_detailed};
use simulator::crime::generate_script;
use simulator::scenario::Scenario;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_before_paying_measurably_avoid_losses() {
    common::init();
    let out = tempfile::tempdir().unwrap();
    let options = DrillOptions {
        scenario: fixture("drill-dissuasion.toml"),
        out: out.path().to_owned(),
        seed: None,
        time_scale: None,
        progress: false,
        target: Target::Embedded,
        tracing_rule: freezing::rule::TracingRule::default(),
    };
    let run = run_detailed(options).await.unwrap();
    let script = generate_script(&Scenario::load(&fixture("drill-dissuasion.toml")).unwrap()).unwrap();
    let d = &run.report.dissuasion;
    eprintln!("{}", loadtests::drill::render::table(&run.report));

    // The ground truth: fifty people, each either reached or, called only after blocking had
    // the number blocked, spared; of those reached, the ones who would pay.
    assert_eq!((d.people, d.reached + d.spared_by_blocks), (50, 50), "{d:?}");
    assert!(d.reached >= 30, "the fixture's seed has most people called before the report: {d:?}");
    let payers = script.world.population.people().iter().filter(|p| p.pays.is_some()).count() as u64;
    assert!(d.would_pay > 0 && d.would_pay <= payers, "{d:?}");
    // Every contact was signalled, matched once a report named the number, and worked.
    assert_eq!(d.signals_lost, 0, "{d:?}");
    assert!(d.signals_published >= 50, "{d:?}");
    assert!(d.tasks_opened > 0 && d.calls + d.visits > 0, "{d:?}");
    assert_eq!(d.staff_errors, 0, "{d:?}");
    // Warnings measurably avoided losses: people who would have paid were warned in time, and
    // what they would have lost is counted from the ground truth.
    assert!(d.warned_before_paying > 0 && d.loss_avoided_fen > 0, "{d:?}");
    assert!(d.lost_fen < d.would_pay_fen, "{d:?}");
    assert_eq!(d.warned_before_paying + d.paid + d.not_paid_yet, d.would_pay);
    assert_eq!(d.not_paid_yet, 0, "the drill runs until every payment is due");
    assert_eq!(d.loss_avoided_fen + d.lost_fen, d.would_pay_fen);
    // A person found paid became a report filed with intake.
    assert_eq!(d.reports_filed, d.already_paid, "{d:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["dissuasion"]["loss_avoided_fen"], d.loss_avoided_fen);
    let table = loadtests::drill::render::table(&run.report);
    assert!(table.contains("warned before paying") && table.contains("loss avoided"), "{table}");
    let svg = std::fs::read_to_string(out.path().join("report.svg")).unwrap();
    assert!(svg.contains("open tasks per queue"), "the backlog chart");
}
