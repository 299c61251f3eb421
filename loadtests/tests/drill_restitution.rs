//! A drill in which the frozen money goes back to its victims (`afc-lab sim run` on the
//! embedded secured deployment, in scaled time): restitution proposes an allocation of every
//! frozen account, the notice passes, the lab's two approvers approve with their own keys, the
//! simulated banks return each victim's share to the victim's own account. The report's
//! `restitution` section is checked against the banks' ledger and the ground truth.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use domain::{CaseId, Fen};
use loadtests::drill::{DrillOptions, Target, run_detailed};
use simulator::crime::generate_script;
use simulator::scenario::Scenario;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_money_goes_back_to_each_victims_own_account_as_the_ground_truth_says() {
    common::init();
    let out = tempfile::tempdir().unwrap();
    let options = DrillOptions {
        scenario: fixture("drill-restitution.toml"),
        out: out.path().to_owned(),
        seed: None,
        time_scale: None,
        progress: false,
        target: Target::Embedded,
        tracing_rule: freezing::rule::TracingRule::default(),
    };
    let run = run_detailed(options).await.unwrap();
    let script = generate_script(&Scenario::load(&fixture("drill-restitution.toml")).unwrap()).unwrap();
    let table = loadtests::drill::render::table(&run.report);
    eprintln!("{table}");
    let r = &run.report.restitution;

    // Everything was frozen (slow mules, instant banks), proposed, approved and returned.
    assert_eq!(run.report.total.recall(), 1.0, "{:?}", run.report.total);
    assert!(r.allocations_proposed > 0 && r.allocations_executed > 0, "{r:?}");
    assert_eq!((r.allocations_open, r.returns_failed, r.returns_overdue, r.approver_errors), (0, 0, 0, 0), "{r:?}");
    assert_eq!(r.approvals, 2 * r.allocations_executed, "two approvers for each: {r:?}");
    assert!(r.returns_confirmed > 0 && r.returned_fen > 0, "{r:?}");
    // Returned at most what was frozen; the banks' ledger agrees with the confirmations.
    assert!(r.returned_fen <= r.frozen_fen, "{r:?}");
    let executed = run.ledger.returns_executed();
    let ledger_fen = Fen::sum(executed.iter().map(|e| e.amount)).unwrap().get();
    assert_eq!((r.returned_ledger_fen, ledger_fen), (r.returned_fen, r.returned_fen), "{r:?}");
    assert_eq!((r.returns_executed, r.returns_confirmed), (executed.len() as u64, executed.len() as u64));
    assert_eq!(r.returns_unmatched, 0, "{r:?}");
    // Each return lands in the victim's own account.
    let index: BTreeMap<&CaseId, usize> =
        run.case_ids.iter().enumerate().filter_map(|(i, id)| Some((id.as_ref()?, i))).collect();
    for e in &executed {
        let case = index[&e.case_id];
        assert_eq!(e.to, script.reports[case].case.victim_account, "{e:?}");
    }
    assert_eq!(r.returns_to_other_accounts, 0);

    // The province coordinator counted every city's events once: its per-city table is the
    // one each city's own stream gives, and it holds the drill's reports and returns.
    let p = &run.report.province;
    assert!(p.measured && p.matches_cities, "{:?}", p.differences);
    let reports: u64 = p.rows.iter().map(|row| row.coordinator.reports).sum();
    let filed: u64 = p.rows.iter().map(|row| row.filed_by_victims).sum();
    assert_eq!(filed, run.case_ids.iter().flatten().count() as u64);
    assert!(reports >= filed, "every filed report reached the province: {reports} < {filed}");
    let returned: u64 = p.rows.iter().map(|row| row.coordinator.money_returned.get()).sum();
    assert_eq!(returned, r.returned_fen, "the province's money returned is the banks'");

    // The per-victim error is against the ground truth: an account that held one victim's
    // money only (a network of its own; nothing moved after the freezes) gave that victim
    // back all of it, to the fen.
    let mut attribution = script.attribution();
    for t in simulator::truth::booked_transfers_before_returns(&run.ledger) {
        attribution.record(&t.from, &t.to, t.amount, t.at_ms).unwrap();
    }
    let (mut single, mut mixed) = (0, 0);
    for e in &executed {
        let holdings = attribution.holdings(&e.from).unwrap();
        mixed += u64::from(holdings.len() > 1);
        if holdings.len() == 1 {
            let (case, held) = holdings.iter().next().unwrap();
            assert_eq!((*case, e.amount), (index[&e.case_id], *held), "{e:?}");
            assert!(!r.errors.iter().any(|v| v.account == e.from.to_string()), "{:?}", r.errors);
            single += 1;
        }
    }
    assert!(single > 0 && mixed > 0, "the fixture has single-victim accounts and a mixed one");
    assert!(r.victims_exact >= single && r.victims_scored >= r.victims_exact, "{r:?}");
    assert_eq!(r.error_abs_fen, r.over_returned_fen + r.under_returned_fen);
    assert!(r.freeze_to_return_ms.n > 0 && r.freeze_to_return_ms.p50 >= 70 * 60_000, "notice + approvers: {r:?}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["restitution"]["returned_fen"], r.returned_fen);
    assert!(table.contains("restitution") && table.contains("the banks' ledger agrees"), "{table}");
}
