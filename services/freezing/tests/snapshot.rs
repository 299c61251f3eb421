//! Freezing's snapshots on a real redb file: saved with the events as the service runs, and
//! a start from the last snapshot plus the events after it rebuilds the same state as a
//! replay of the whole log.

mod common;

use common::{Harness, trace_completed};
use events::Payload;
use freezing::core::{self, CoreConfig, State};
use freezing::shell::snapshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_from_the_snapshot_and_the_events_after_it_rebuilds_the_state_of_the_whole_log() {
    let wave = simulator::wave::single_trail(23, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let harness = Harness::start(report.city.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    // A snapshot every 7 events: several during one trail, the last one mid-way.
    let config =
        freezing::Config { core: CoreConfig { freeze_after_ms: 0, ..CoreConfig::default() }, snapshot_every_events: 7 };
    let running = harness.run_with(config).await;
    let case_id = harness.report(1, &report.body).await;
    watch.until(&case_id, trace_completed).await;
    running.stop().await;

    let (seq, bytes) = harness.store.snapshot(snapshot::SNAPSHOT).unwrap().expect("a snapshot was saved");
    let mut whole = State::default();
    let last = harness
        .store
        .replay(|envelope| {
            if let Payload::Freezing(event) = &envelope.payload {
                core::apply(&mut whole, event);
            }
        })
        .unwrap();
    assert!(seq > 0 && seq <= last, "the snapshot holds a prefix of the log: {seq} of {last}");
    let (rebuilt, how) = snapshot::rebuild(&harness.store).unwrap();
    assert_eq!((how.snapshot_seq, how.replayed), (seq, last - seq));
    assert!(rebuilt == whole, "snapshot + tail rebuilds the state of the whole log");
    // The snapshot alone is the fold of the log up to its event.
    let mut prefix = State::default();
    let mut n = 0;
    harness
        .store
        .replay(|envelope| {
            n += 1;
            if n <= seq
                && let Payload::Freezing(event) = &envelope.payload
            {
                core::apply(&mut prefix, event);
            }
        })
        .unwrap();
    assert!(snapshot::decode(&bytes).unwrap() == prefix, "the snapshot is the state after its event");
    harness.stop().await;
}

#[test]
fn a_snapshot_of_another_format_or_not_decoding_is_refused() {
    let state = State::default();
    let bytes = snapshot::encode(&state);
    assert!(snapshot::decode(&bytes).unwrap() == state);
    let other = rmp_serde::to_vec(&(snapshot::SNAPSHOT_FORMAT + 1, &state)).unwrap();
    assert!(snapshot::decode(&other).unwrap_err().contains("format"));
    assert!(snapshot::decode(b"\x93garbage").is_err());
}
