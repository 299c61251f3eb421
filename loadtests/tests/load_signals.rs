//! `afc-lab load --signals`: a point publishes carriers' contact signals beside its cases,
//! through each city's carriers (their gateway identities when secured), and dissuasion
//! consumes them. Low rates, a few seconds, nothing timed: speed is the benchmark's.

mod common;

use std::time::Duration;

use loadtests::load::{PointConfig, run_point};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_with_signals_publishes_them_through_the_carriers_and_dissuasion_consumes_them() {
    common::init();
    for secure in [true, false] {
        let point = PointConfig {
            rate: 10.0,
            cities: 2,
            duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            seed: 3,
            sync_always: false,
            secure,
            signals_per_s: 300.0,
        };
        let result = run_point(&point).await.unwrap();
        assert_eq!((result.load.incomplete, result.refused), (0, 0), "secure {secure}: the cases still complete");
        let signals = result.signals.expect("a point with --signals reports them");
        // 300 signals/s over the warm-up and the window: every one acknowledged by its city's
        // signal stream (a gateway publishing on another carrier's subject would be refused).
        assert_eq!(signals.scheduled, 900, "secure {secure}");
        assert_eq!(
            (signals.published, signals.failed, signals.not_sent),
            (900, 0, 0),
            "secure {secure}: {:?}",
            signals.first_failure
        );
        assert!(signals.matching > 0 && signals.transfers > 0, "secure {secure}: {signals:?}");
        // Dissuasion's durable consumer on each city's signal stream took every one.
        let cities: Vec<&str> = signals.pending_at_end.iter().map(|(city, _)| city.as_str()).collect();
        assert_eq!(cities, ["hangzhou", "wenzhou"], "secure {secure}: the backlog was read");
        assert!(signals.drained_after_ms.is_some(), "secure {secure}: nothing pending in the end: {signals:?}");
        // Transfer instructions are evidence on their own: each opens a task for its person.
        assert!(signals.tasks_opened > 0, "secure {secure}: {signals:?}");
    }
}
