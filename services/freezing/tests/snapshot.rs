//! Freezing's snapshots on a real redb file: saved with the events as the service runs, and
//! a start from the last snapshot plus the events after it rebuilds the same state as a
//! replay of the whole log.

mod common;

use common::{Harness, trace_completed};
use events::{FreezingEvent, Payload};
use freezing::core::{self, CoreConfig, State};
use freezing::shell::{COLD_HOLDS, ColdTables, snapshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_from_the_snapshot_and_the_events_after_it_rebuilds_the_state_of_the_whole_log() {
    let wave = simulator::wave::single_trail(23, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let harness = Harness::start(report.city.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    // A snapshot every 7 events: several during one trail, the last one mid-way.
    let config = freezing::Config {
        snapshot_every_events: 7,
        ..freezing::Config::new(CoreConfig { freeze_after_ms: 0, ..CoreConfig::default() })
    };
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
    assert!(whole_of(rebuilt, &whole) == whole, "snapshot + tail rebuilds the state of the whole log");
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
    let mut saved = snapshot::decode(&bytes).unwrap();
    saved.set_cold(core::Cold::new(std::sync::Arc::new(ColdTables::new(harness.store.clone()))));
    assert!(whole_of(saved, &prefix) == prefix, "the snapshot and its cold rows are the state after its event");
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

/// Every hold and closed case of `state`, with those it moved out brought back: comparable
/// with a state that kept everything in memory.
fn whole_of(mut state: State, kept_whole: &State) -> State {
    for account in kept_whole.holds.keys() {
        state.warm(account);
    }
    assert!(kept_whole.closed.iter().all(|case_id| state.is_closed(case_id)), "every closed case is known closed");
    state.closed = kept_whole.closed.clone();
    state
}

fn replayed_whole(store: &store::Store) -> State {
    let mut whole = State::default();
    store
        .replay(|envelope| {
            if let Payload::Freezing(event) = &envelope.payload {
                core::apply(&mut whole, event);
            }
        })
        .unwrap();
    whole
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_moved_out_of_memory_decides_the_next_case_on_its_account_and_comes_back_after_a_restart() {
    let wave = simulator::wave::single_trail(29, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let harness = Harness::start(report.city.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    // A snapshot with every write: the one that closes the case moves its holds out.
    let config = freezing::Config {
        snapshot_every_events: 1,
        ..freezing::Config::new(CoreConfig { freeze_after_ms: 0, ..CoreConfig::default() })
    };
    let running = harness.run_with(config.clone()).await;
    let first = harness.report(1, &report.body).await;
    let settled = |events: &[events::FreezingEvent]| {
        let claims = events
            .iter()
            .filter(|e| matches!(e, FreezingEvent::AccountStopped { claim_fen, .. } if !claim_fen.is_zero()))
            .count();
        let frozen = events.iter().filter(|e| matches!(e, FreezingEvent::AccountFrozen { .. })).count();
        trace_completed(events) && claims == frozen
    };
    watch.until(&first, settled).await;
    // The closing write is committed (its events were published from the outbox).
    let mule =
        report.truth.mules.keys().find(|a| report.body["transfers"][0]["account"] == a.as_str()).unwrap().clone();
    let moved_out =
        harness.store.read_blocking(|tx| Ok(tx.open_table(COLD_HOLDS)?.get(mule.as_str())?.is_some())).unwrap();
    assert!(moved_out, "the closed case's hold on {mule} left memory with the snapshot");

    // Another victim pays the same mule: the center froze it, so it is only read.
    let mut second_body = report.body.clone();
    second_body["victim"]["name"] = "另一位受害人".into();
    second_body["victim"]["id_number"] = "110101199003070011".into();
    let second = harness.report(2, &second_body).await;
    let events = watch.until(&second, trace_completed).await;
    let read = events.iter().find_map(|e| match e {
        FreezingEvent::AccountStopped { account, stop_no, .. } if *account == mule => Some(*stop_no),
        _ => None,
    });
    assert_eq!(read, Some(0), "the held mule is read, not stopped again: {events:?}");
    assert_eq!(
        simulator::world::lock(&harness.world).ledger.stops_applied(&report.city, &mule),
        1,
        "the bank saw one stop-payment from the center"
    );
    running.stop().await;

    // A start from the last snapshot, its cold rows and the events after it is the state of
    // the whole log.
    let whole = replayed_whole(&harness.store);
    let (rebuilt, _) = snapshot::rebuild(&harness.store).unwrap();
    assert!(whole_of(rebuilt, &whole) == whole, "snapshot + cold rows + tail rebuild the whole log's state");
    harness.stop().await;
}
