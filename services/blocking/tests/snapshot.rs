//! Blocking's start: the state rebuilt from the snapshot and the events after it equals the
//! state that wrote them, and how long it takes with many blocks (`AFC_BLOCKS=1000000` and
//! `--release` to measure; the test runs a few thousand).

use std::time::Instant;

use blocking::core::{self, CoreConfig, Input, State};
use blocking::shell::snapshot;
use domain::report::Contacts;
use domain::{CaseId, City, FraudType, Service, system_clock};
use events::Payload;
use store::{Producer, Store, WriteError};

/// Cases written per store operation.
const PER_WRITE: usize = 1_000;

#[test]
fn a_start_rebuilds_from_the_snapshot_and_the_events_after_it() {
    let blocks: usize = std::env::var("AFC_BLOCKS").ok().and_then(|n| n.parse().ok()).unwrap_or(3_000);
    let city = City::parse("huzhou").unwrap();
    let config = CoreConfig::new(city.clone());
    let dir = tempfile::tempdir().unwrap();
    let producer = Producer { city: city.clone(), service: Service::Blocking };
    let store = Store::open(&dir.path().join("blocking.redb"), producer, system_clock()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let mut state = State::default();
    let started = Instant::now();
    for chunk in 0..blocks.div_ceil(PER_WRITE) {
        let mut events = Vec::new();
        for n in chunk * PER_WRITE..((chunk + 1) * PER_WRITE).min(blocks) {
            let contacts = Contacts { phones: vec![format!("+86138{n:08}")], ..Contacts::default() };
            let input = Input::CaseReported {
                case_id: CaseId::derive(&city, n as u64),
                reported_at_ms: 1_763_946_000_000,
                fraud_type: FraudType::PigButchering,
                contacts,
            };
            let step = core::step(&mut state, &config, input, 1_763_946_000_000).unwrap();
            events.extend(step.events);
            // The carrier confirms, as it does within seconds: a start holds settled blocks.
            for order in step.orders {
                let answered = Input::OrderAnswered { request_id: order.request_id, result: Ok(()) };
                events.extend(core::step(&mut state, &config, answered, 1_763_946_000_100).unwrap().events);
            }
        }
        // Half way, a snapshot: the rest is replayed from the log.
        let snapshot = (chunk == (blocks.div_ceil(PER_WRITE) - 1) / 2).then(|| snapshot::encode(&state));
        runtime
            .block_on(store.write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                for event in events {
                    ctx.append(event.case_id().cloned(), None, Payload::Blocking(event))?;
                }
                if let Some(bytes) = &snapshot {
                    ctx.save_snapshot(snapshot::SNAPSHOT, bytes)?;
                }
                Ok(())
            }))
            .unwrap();
    }
    eprintln!("{blocks} blocks written in {:?}", started.elapsed());

    let started = Instant::now();
    let (_, bytes) = store.snapshot(snapshot::SNAPSHOT).unwrap().unwrap();
    let decoded = identifiers::read_stored(|| snapshot::decode(&bytes)).unwrap();
    eprintln!("snapshot of {} bytes, {} blocks decoded in {:?}", bytes.len(), decoded.blocks.len(), started.elapsed());
    drop(decoded);

    let started = Instant::now();
    let (rebuilt, how) = snapshot::rebuild(&store).unwrap();
    eprintln!("started in {:?}: snapshot at {}, {} events replayed", started.elapsed(), how.snapshot_seq, how.replayed);
    assert!(how.snapshot_seq > 0 && how.replayed > 0, "{how:?}");
    assert_eq!(rebuilt.blocks.len(), blocks);
    assert!(rebuilt == state, "the rebuilt state differs from the one that wrote the log");
}
