//! Blocking's start: the state's rows, written with their events as the engine writes them,
//! are the state a start opens — without reading the log — and a store whose rows are of
//! another format is folded again from its log into the same state. `AFC_BLOCKS=1000000` and
//! `--release` to see the times at scale; the test runs a few thousand.

use std::time::Instant;

use blocking::core::{self, CoreConfig, Input, State};
use blocking::index::Index;
use blocking::normalize::{ContactKind, normalize};
use blocking::shell::rows::{self, ROWS_META};
use blocking::shell::start::{self, Indexed};
use domain::report::Contacts;
use domain::{CaseId, City, FraudType, Service, system_clock};
use events::Payload;
use store::{Producer, Store, WriteError};

/// Cases written per store operation.
const PER_WRITE: usize = 1_000;
const T0: u64 = 1_763_946_000_000;

fn write(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    events: Vec<blocking::events::BlockingEvent>,
    changed: Vec<core::RowWrite>,
) {
    runtime
        .block_on(store.write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            for event in events {
                ctx.append(event.case_id().cloned(), None, Payload::Blocking(event))?;
            }
            rows::write(ctx.tx(), &changed, ctx.last_seq())?;
            Ok(())
        }))
        .unwrap();
}

#[test]
fn a_start_opens_the_rows_its_events_wrote_and_a_refold_gives_the_same_state() {
    let blocks: usize = std::env::var("AFC_BLOCKS").ok().and_then(|n| n.parse().ok()).unwrap_or(3_000);
    let city = City::parse("huzhou").unwrap();
    let config = CoreConfig::new(city.clone());
    let dir = tempfile::tempdir().unwrap();
    let producer = Producer { city: city.clone(), service: Service::Blocking };
    let store = Store::open(&dir.path().join("blocking.redb"), producer, system_clock()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let opened = runtime.block_on(start::open(&store)).unwrap();
    assert_eq!((opened.seq, opened.refolded), (0, Some(0)), "an empty store gets rows of this format");
    let (mut state, source) = (opened.state, opened.rows);
    // The same inputs stepped on a state in memory: what the rows must hold.
    let mut expected = State::default();
    let started = Instant::now();
    for (write_no, chunk) in (1..).zip(0..blocks.div_ceil(PER_WRITE)) {
        let mut events = Vec::new();
        for n in chunk * PER_WRITE..((chunk + 1) * PER_WRITE).min(blocks) {
            // Every tenth case names the number of the case before it: a block extended.
            let number = if n % 10 == 9 { n - 1 } else { n };
            let contacts = Contacts { phones: vec![format!("+86138{number:08}")], ..Contacts::default() };
            let input = Input::CaseReported {
                case_id: CaseId::derive(&city, n as u64),
                reported_at_ms: T0,
                fraud_type: FraudType::PigButchering,
                contacts,
            };
            let step = core::step(&mut state, &config, input.clone(), T0 + n as u64).unwrap();
            assert_eq!(step, core::step(&mut expected, &config, input, T0 + n as u64).unwrap());
            events.extend(step.events);
            // The carrier confirms most orders within seconds; every seventh stays pending.
            for order in step.orders.into_iter().filter(|_| n % 7 != 0) {
                let answered = Input::OrderAnswered { request_id: order.request_id, result: Ok(()) };
                let at = T0 + n as u64 + 100;
                let step = core::step(&mut state, &config, answered.clone(), at).unwrap();
                assert_eq!(step, core::step(&mut expected, &config, answered, at).unwrap());
                events.extend(step.events);
            }
        }
        write(&runtime, &store, events, state.take_rows(write_no));
        source.refresh();
        state.committed(write_no);
        assert_eq!(state.rows_in_memory(), 0, "committed rows are read from the store, not kept");
    }
    eprintln!("{blocks} cases written in {:?}", started.elapsed());
    assert!(state == expected, "the rows differ from the state stepped in memory");

    let started = Instant::now();
    let reopened = runtime.block_on(start::open(&store)).unwrap();
    eprintln!("started in {:?}, {} identifiers indexed", started.elapsed(), reopened.index.len());
    assert_eq!(reopened.refolded, None, "a start reads no event when the rows are there");
    assert!(matches!(reopened.indexed, Indexed::Rows { .. }), "no index file yet: {:?}", reopened.indexed);
    assert_eq!(reopened.index.len(), blocks - blocks / 10);
    assert!(reopened.state == expected, "the reopened state differs from the one that wrote the log");
    let pending = core::pending_orders(&reopened.state);
    assert_eq!(pending.len(), core::pending_orders(&expected).len());
    assert!(!pending.is_empty());

    // The index saved as of the last event: a start loads it and follows nothing.
    let path = start::index_path(&store);
    reopened.index.save(&path, reopened.seq).unwrap();
    let started = Instant::now();
    let loaded = runtime.block_on(start::open(&store)).unwrap();
    eprintln!("started from the index file in {:?}", started.elapsed());
    assert_eq!(loaded.indexed, Indexed::File { saved_at: reopened.seq, followed: 0 });
    drop(loaded);

    // Cases after the save: a start follows their events onto the file's index, and it
    // answers as one built from the rows does (a lift, an extension, new blocks).
    let (mut state, source) = (reopened.state, reopened.rows);
    let mut events = Vec::new();
    let lifted = normalize(ContactKind::Phone, "+8613800000030").unwrap();
    let appeal = blocking::events::Appeal { reason: "number reassigned".into(), operator: "officer-7".into() };
    let mut inputs = vec![Input::Lift { identifier: lifted.clone(), appeal }];
    for n in blocks..blocks + 50 {
        let contacts = Contacts { phones: vec![format!("+86138{:08}", n % (blocks + 25))], ..Contacts::default() };
        inputs.push(Input::CaseReported {
            case_id: CaseId::derive(&city, n as u64),
            reported_at_ms: T0,
            fraud_type: FraudType::FakeCustomerService,
            contacts,
        });
    }
    for input in inputs {
        let at = T0 + 10_000_000;
        let step = core::step(&mut state, &config, input.clone(), at).unwrap();
        assert_eq!(step, core::step(&mut expected, &config, input, at).unwrap());
        events.extend(step.events);
    }
    let followed = events.len() as u64;
    write(&runtime, &store, events, state.take_rows(1_000_000));
    source.refresh();
    state.committed(1_000_000);
    let caught_up = runtime.block_on(start::open(&store)).unwrap();
    assert_eq!(caught_up.indexed, Indexed::File { saved_at: caught_up.seq - followed, followed });
    let built = Index::build(&caught_up.state).unwrap();
    assert_eq!(caught_up.index.len(), built.len());
    for n in 0..blocks + 50 {
        let phone = normalize(ContactKind::Phone, &format!("+86138{n:08}")).unwrap();
        assert_eq!(caught_up.index.get(&phone), built.get(&phone), "{phone}");
    }
    assert_eq!(caught_up.index.get(&lifted).and_then(|facts| facts.blocked), None);
    drop(caught_up);

    // A file ahead of the store (a store restored from an older copy): built from the rows.
    Index::default().save(&path, 1 << 40).unwrap();
    let rebuilt = runtime.block_on(start::open(&store)).unwrap();
    assert!(matches!(rebuilt.indexed, Indexed::Rows { .. }), "{:?}", rebuilt.indexed);
    assert_eq!(rebuilt.index.len(), built.len());
    drop(rebuilt);

    // Rows of another format: folded again from the log.
    runtime
        .block_on(store.write(|ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            ctx.tx().open_table(ROWS_META)?.insert("format", 0)?;
            Ok(())
        }))
        .unwrap();
    let started = Instant::now();
    let refolded = runtime.block_on(start::open(&store)).unwrap();
    eprintln!("refolded in {:?}", started.elapsed());
    assert!(refolded.refolded.is_some_and(|events| events > blocks as u64), "{:?}", refolded.refolded);
    assert!(refolded.state == expected, "the refolded state differs from the one that wrote the log");
    assert_eq!(refolded.state.rows_in_memory(), 0);
}
