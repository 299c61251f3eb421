//! Given these inputs, when this one arrives, then these events and orders: grading in
//! [`grading`], matching both ways in [`matching`], tasks in [`tasks`], properties in
//! [`properties`]. Every step goes through one helper, [`check`], which also replays the
//! whole log into a new state and requires it to equal the live one.

mod grading;
mod matching;
mod properties;
mod tasks;

use domain::{CaseId, City, FraudType, TimeMs};
use identifiers::Identifier;

use super::*;
use crate::events::{DissuasionEvent, PersonId, SignalRecord, TaskId};

pub(super) const DAY_MS: u64 = 24 * 60 * 60 * 1000;
pub(super) const HOUR_MS: u64 = 60 * 60 * 1000;
/// A Monday in November 2025, 09:00 in Beijing.
pub(super) const T0: TimeMs = 1_763_946_000_000;

/// Subscribers of each carrier, and one no Chinese carrier serves.
pub(super) const ALICE: &str = "+8613800138000";
pub(super) const BOB: &str = "+8618600000000";
pub(super) const CAROL: &str = "+8618900000000";
pub(super) const ABROAD: &str = "+16502530000";

/// Scam numbers and a scam app.
pub(super) const FAKE_POLICE: &str = "phone:+8617000000000";
pub(super) const FAKE_SHOP: &str = "domain:fake-shop.com.cn";
pub(super) const LOAN_APP: &str = "app:com.fake.loan";

/// The core of one center, with its log.
pub(super) struct World {
    pub state: State,
    pub config: CoreConfig,
    pub log: Vec<DissuasionEvent>,
    /// The signals kept (the shell's rows), in the order they came.
    pub kept: Vec<SignalRecord>,
    /// Signal ids handed out.
    pub signals: u64,
}

impl World {
    pub fn new() -> World {
        World {
            state: State::default(),
            config: CoreConfig::new(city(), SECRET),
            log: Vec::new(),
            kept: Vec::new(),
            signals: 0,
        }
    }
}

pub(super) fn city() -> City {
    City::parse("wuhan").unwrap()
}

pub(super) fn case(n: u64) -> CaseId {
    CaseId::derive(&city(), n)
}

pub(super) fn id(text: &str) -> Identifier {
    Identifier::parse(text).unwrap()
}

/// The node secret of the tests.
pub(super) const SECRET: PersonSecret = PersonSecret(7, 11);

pub(super) fn subscriber(number: &str) -> Subscriber {
    Subscriber::parse(number).unwrap()
}

/// The person `number` is under the tests' secret.
pub(super) fn person(number: &str) -> PersonId {
    SECRET.person(&subscriber(number))
}

/// Steps the core with `input` at `now`: the events and the orders. Panics on a rejection,
/// and unless the signals kept and the log replayed from nothing give the live state.
pub(super) fn check(world: &mut World, input: Input, now: TimeMs) -> (Vec<DissuasionEvent>, Vec<Order>) {
    let Step { signal, events, orders } = step(&mut world.state, &world.config, input, now).unwrap();
    world.kept.extend(signal);
    world.log.extend(events.iter().cloned());
    assert_eq!(replay(&world.kept, &world.log), world.state, "the rows and the log replay to the live state");
    (events, orders)
}

/// What a start does: every signal still kept (the rows left after the window moved), then
/// the log.
pub(super) fn replay(kept: &[SignalRecord], log: &[DissuasionEvent]) -> State {
    let mut replayed = State::default();
    let edge = kept.iter().map(|r| r.forget_before_ms).max().unwrap_or(0);
    let mut rows: Vec<&SignalRecord> = kept.iter().filter(|r| r.at_ms >= edge).collect();
    rows.sort_by_key(|r| (r.at_ms, r.key.clone()));
    for record in rows {
        keep(&mut replayed, record);
    }
    for event in log {
        apply(&mut replayed, event);
    }
    replayed
}

/// `step` expecting a rejection; the state must not change.
pub(super) fn refused(world: &mut World, input: Input, now: TimeMs) -> Rejection {
    let rejection = step(&mut world.state, &world.config, input, now).unwrap_err();
    assert_eq!(replay(&world.kept, &world.log), world.state, "a rejection changes nothing");
    rejection
}

/// A contact signal from China Mobile with a fresh id.
pub(super) fn contact(world: &mut World, who: &str, identifier: &str, at_ms: TimeMs, duration_s: u32) -> Input {
    world.signals += 1;
    raw(world.signals, who, at_ms, RawWhat::Contact { identifier: identifier.into(), duration_s })
}

pub(super) fn raw(n: u64, who: &str, at_ms: TimeMs, what: RawWhat) -> Input {
    Input::Signal(RawSignal {
        source: "cmcc".into(),
        signal_id: format!("sig-{n}"),
        subscriber: who.into(),
        at_ms,
        what,
    })
}

pub(super) fn transfer(world: &mut World, who: &str, at_ms: TimeMs) -> Input {
    world.signals += 1;
    raw(world.signals, who, at_ms, RawWhat::TransferInstructions)
}

pub(super) fn reported(n: u64, fraud_type: FraudType, identifiers: &[&str], at_ms: TimeMs) -> Input {
    Input::CaseReported {
        case_id: case(n),
        fraud_type,
        reported_at_ms: at_ms,
        identifiers: identifiers.iter().map(|i| id(i)).collect(),
    }
}

pub(super) fn known(identifier: &str, since_ms: TimeMs, fraud_type: FraudType) -> Input {
    Input::ScamIdentifierKnown { identifier: id(identifier), since_ms, fraud_types: vec![fraud_type] }
}

/// The task open for `who`, if any.
pub(super) fn open_task<'w>(world: &'w World, who: &str) -> Option<&'w Task> {
    let person = world.state.people.get(&person(who))?;
    world.state.tasks.get(&person.open_task?)
}

pub(super) fn task(world: &World, n: u64) -> &Task {
    &world.state.tasks[&TaskId(n)]
}

#[test]
fn a_subscriber_never_prints_its_number_and_no_event_holds_it() {
    let alice = subscriber("138 0013 8000");
    assert_eq!(format!("{alice:?} {alice}"), "Subscriber(<redacted>) <redacted>");
    assert_eq!(alice.expose(), ALICE);
    assert_eq!(SECRET.person(&alice), person(ALICE), "stable across spellings");
    assert_ne!(SECRET.person(&alice), PersonSecret(7, 12).person(&alice), "keyed");
    assert!(!SECRET.person(&alice).to_string().contains("138"));
    assert_eq!(SECRET.person(&alice).carrier, Some(domain::Carrier::Cmcc));
    assert_eq!(person(ABROAD).carrier, None);
    let task = {
        let mut world = World::new();
        check(&mut world, known(FAKE_POLICE, T0, FraudType::PigButchering), T0);
        let input = contact(&mut world, ALICE, FAKE_POLICE, T0, 10);
        check(&mut world, input, T0);
        let log = serde_json::to_string(&world.log).unwrap();
        assert!(log.contains("task_opened") && !log.contains("13800138000"), "no event holds the number: {log}");
        assert!(world.kept.iter().all(|r| r.subscriber.expose() == ALICE), "the kept signal (a row) does");
        format!("{:?}", world.state)
    };
    assert!(!task.contains("13800138000"), "no state dump shows a number");
}
