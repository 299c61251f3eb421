//! Drills in which blocking acts on the crime wave (`afc-lab sim run` on the embedded secured
//! deployment, in scaled time): a gang's first victim reports, blocking has the gang's number
//! blocked at its carrier, and the gang's next victim, called through that number about
//! fifteen simulated hours later (hours of margin, seconds of real time: no race), is spared —
//! not defrauded and scored as such. With a gang that takes up a new number an hour after the
//! block, the next victim is reached through the new one and defrauded.

mod common;

use simulator::crime::Script;

use common::drill;

/// The gang's two victims: the one called first, then the later one.
fn victims(script: &Script) -> (usize, usize) {
    let mut cases: Vec<usize> = (0..script.reports.len()).collect();
    cases.sort_by_key(|case| script.reports[*case].case.contact.at_ms);
    let (first, later) = (cases[0], cases[1]);
    let gap = script.reports[later].case.contact.at_ms - script.reports[first].case.report_at_ms;
    assert!(gap > 12 * 3_600_000, "the fixture's seed puts the later call {gap} ms after the first report");
    (first, later)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_victim_called_through_a_blocked_number_is_spared() {
    common::init();
    let (script, run, json) = drill("drill-spared.toml").await;
    let (first, later) = victims(&script);
    let report = &run.report;
    let blocking = &report.blocking;

    // The first victim was defrauded, reported, and the number was blocked at its carrier.
    assert!(run.case_ids[first].is_some(), "the first victim reported");
    assert_eq!(blocking.blocked_by_kind.get("phone"), Some(&1), "{blocking:?}");
    assert_eq!(blocking.report_to_confirmed_ms.n, 1);
    assert_eq!(blocking.blocks_unconfirmed, 0);
    let gap = script.reports[later].case.contact.at_ms - script.reports[first].case.report_at_ms;
    assert!(blocking.report_to_confirmed_ms.max < gap, "confirmed before the later call: {blocking:?}");

    // The later victim was called through it: spared, and scored as such.
    assert_eq!(run.case_ids[later], None, "a spared victim reports nothing");
    assert_eq!((blocking.victims_contacted, blocking.victims_spared), (2, 1));
    assert_eq!(blocking.loss_avoided_fen, script.reports[later].case.loss.get());
    assert_eq!(blocking.by_city["huzhou"].victims_spared, 1);
    assert_eq!((blocking.lines_replaced, blocking.reached_through_replacement), (0, 0));
    let victim = &script.reports[later].case.victim_account;
    let kept = run.ledger.balance(victim).unwrap();
    assert!(kept >= script.reports[later].case.loss, "the spared victim kept their money: {kept}");
    assert_eq!(report.total.cases, 1, "only the defrauded victim is scored");
    assert_eq!(report.total.not_traced, 0);
    assert_eq!(report.total.loss_fen, script.reports[first].case.loss.get());
    assert_eq!(report.total.unpaid_fen, 0);

    // The first victim's money, frozen where the mules still held it, entered the pool.
    assert!(blocking.pool_entered > 0, "{blocking:?}");
    assert_eq!(blocking.pool_series.last().map(|p| p.size), Some(blocking.pool_entered));
    assert_eq!(json["blocking"]["victims_spared"], 1);
    assert_eq!(json["blocking"]["loss_avoided_fen"], script.reports[later].case.loss.get());
    let table = loadtests::drill::render::table(report);
    assert!(table.contains("victims spared by blocks") && table.contains("1 of 2 contacted"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gang_that_moved_to_a_new_number_defrauds_the_later_victim() {
    common::init();
    let (script, run, json) = drill("drill-adapted.toml").await;
    let (first, later) = victims(&script);
    let blocking = &run.report.blocking;

    assert_eq!(blocking.victims_spared, 0, "{blocking:?}");
    assert_eq!((blocking.lines_replaced, blocking.reached_through_replacement), (1, 1));
    assert!(run.case_ids[first].is_some() && run.case_ids[later].is_some(), "both victims reported");
    // The later victim named the new number, and blocking blocked that one too.
    assert_eq!(blocking.blocked_by_kind.get("phone"), Some(&2), "{blocking:?}");
    assert_eq!(run.report.total.cases, 2);
    let paid = run.report.total.loss_fen - run.report.total.unpaid_fen;
    assert_eq!(paid, run.report.total.loss_fen, "the later victim was defrauded");
    assert_eq!(json["blocking"]["victims_spared"], 0);
    // Both victims pay into one network: its mule holders are the plan's card sellers.
    // Blocking sees a holder in a case only where freezing stopped their account holding the
    // case's money, so it may find fewer.
    assert!(blocking.card_sellers_truth > 0 && blocking.seller_cards > 0, "{blocking:?}");
    assert!(blocking.card_sellers_found_true <= blocking.card_sellers_truth, "{blocking:?}");
    assert!(blocking.seller_cards_restricted <= blocking.seller_cards, "{blocking:?}");
}
