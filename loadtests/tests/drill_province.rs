//! The province's notices in a whole drill on the lab's embedded deployment (real
//! nats-servers, the five services of three cities, the coordinator on the hub, the
//! simulated banks and carriers): one gang calls from one number into three cities. Two
//! cities report; each blocks the number for its own subscribers and stops the same mule
//! accounts. The coordinator tells both of each other's claims, and has the third city block
//! the number — which spares the third victim, called about a day later: a block by another
//! center alone would not have protected them.

mod common;

use common::drill;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_two_cities_blocked_is_blocked_by_the_province_for_the_third_and_spares_its_victim() {
    common::init();
    let (script, run, json) = drill("drill-province-block.toml").await;
    let mut cases: Vec<usize> = (0..script.reports.len()).collect();
    cases.sort_by_key(|case| script.reports[*case].case.contact.at_ms);
    let [first, second, third] = cases[..] else { panic!("the fixture has three victims") };
    let city = |case: usize| script.reports[case].city.to_string();
    assert_eq!([city(first), city(second), city(third)], ["huzhou", "jiaxing", "shaoxing"], "the fixture's seed");
    let gap = script.reports[third].case.contact.at_ms - script.reports[second].case.report_at_ms;
    assert!(gap > 12 * 3_600_000, "the third call comes {gap} ms after the second report");

    // The two first victims reported; the third was spared, by the province's block.
    assert!(run.case_ids[first].is_some() && run.case_ids[second].is_some());
    assert_eq!(run.case_ids[third], None, "a spared victim reports nothing");
    let notices = &run.report.province.notices;
    assert_eq!(notices.province_blocks_decided, 1, "{notices:?}");
    assert_eq!(notices.province_blocks_applied, 1, "Shaoxing's block, on the notice: {notices:?}");
    assert_eq!(notices.victims_spared_by_province, 1, "{notices:?}");
    assert_eq!(notices.loss_avoided_by_province_fen, script.reports[third].case.loss.get());
    assert_eq!(run.report.blocking.victims_spared, 1);
    assert!(notices.province_block_ms.max < gap, "blocked in Shaoxing before the call: {notices:?}");
    // Its carriers confirmed Shaoxing's block as they confirm a city's own.
    assert_eq!(run.report.blocking.blocks_unconfirmed, 0, "{:?}", run.report.blocking);
    assert_eq!(run.report.blocking.report_to_confirmed_ms.n, 3, "Huzhou's, Jiaxing's and Shaoxing's");

    // Both reporting cities stopped the same mule accounts and recorded each other's claims.
    assert!(notices.cross_city_accounts > 0, "{notices:?}");
    assert_eq!(notices.cross_city_records, 2 * notices.cross_city_accounts, "each claiming city once: {notices:?}");
    assert_eq!(notices.cross_city_notice_ms.n, notices.cross_city_records);

    // The report says so.
    assert_eq!(json["province"]["notices"]["victims_spared_by_province"], 1);
    let table = loadtests::drill::render::table(&run.report);
    assert!(table.contains("victims spared by the province's blocks 1"), "{table}");
}
