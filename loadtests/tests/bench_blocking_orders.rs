//! `afc-lab bench blocking-orders`' core on a small load: every case filed with intake causes
//! exactly the carrier block orders its contacts call for, each at the carrier it is for,
//! none missing, none unexpected, and each measured case has its latencies. No timing is
//! judged here (speed is measured by the benchmark, not by tests).

mod common;

use loadtests::bench::orders::{self, Figures, OrdersBench, Trail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_filed_causes_its_carrier_orders_and_nothing_else() {
    common::init();
    let options = OrdersBench { rate: 20.0, duration: 2, warmup: 1, trail: Trail::Light, seed: 5 };
    let run = orders::measure(&options).await.unwrap();
    let figures = Figures::tally(&options, &run).unwrap();
    figures.check().unwrap();

    assert_eq!(figures.cases, 60);
    assert_eq!(figures.measured, 40, "the first second is warm-up");
    let per_case: u64 = run.expected.orders_per_case.iter().map(|n| u64::from(*n)).sum();
    assert_eq!(figures.orders_expected, per_case);
    assert_eq!(figures.orders_expected, run.expected.phones + 3 * run.expected.sites);
    assert!(figures.orders_expected >= 2 * figures.cases, "every case names 2 or 3 numbers");
    assert_eq!(figures.orders_arrived, figures.orders_expected);
    assert_eq!((figures.missing, figures.unexpected, figures.cases_incomplete), (0, 0, 0));
    for latency in [figures.first_us, figures.last_us, figures.accepted_last_us, figures.acceptance_us] {
        assert_eq!(latency.count, figures.measured, "{latency:?}");
    }
    assert!(figures.first_us.p50 <= figures.last_us.p50 && figures.first_us.max <= figures.last_us.max);
    assert_eq!(figures.reported_last_us.count + figures.reported_unheard, figures.measured);
    assert!(figures.rtt_us.count > 0 && figures.commit_us.count > 0, "the floor is measured in the run");
}
