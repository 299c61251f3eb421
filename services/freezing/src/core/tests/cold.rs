//! Holds and closed cases moved out of memory (`core::cold`) come back when a case touches
//! them, and the core decides exactly as if they had never left; a hold whose freeze ended
//! is stopped again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use domain::City;
use domain::report::Destination;
use proptest::prelude::*;
use protocol::adapter::{Counterparty, Direction, FreezeStatus};

use super::*;

const HOUR: u64 = 3_600_000;

/// A cold store in memory: what the shell keeps in redb.
#[derive(Default)]
struct MapCold {
    holds: Mutex<HashMap<AccountRef, Hold>>,
    closed: Mutex<Vec<CaseId>>,
}

impl ColdStore for MapCold {
    fn hold(&self, account: &AccountRef) -> Option<Hold> {
        self.holds.lock().unwrap().get(account).cloned()
    }
    fn is_closed(&self, case_id: &CaseId) -> bool {
        self.closed.lock().unwrap().contains(case_id)
    }
}

impl MapCold {
    fn keep(&self, evicted: Evicted) {
        self.holds.lock().unwrap().extend(evicted.holds);
        self.closed.lock().unwrap().extend(evicted.closed);
    }
}

fn with_cold() -> (State, Arc<MapCold>) {
    let cold = Arc::new(MapCold::default());
    let mut state = State::default();
    state.set_cold(Cold::new(cold.clone()));
    (state, cold)
}

fn victim(n: u64) -> CaseId {
    CaseId::derive(&City::parse("huzhou").unwrap(), 500 + n)
}

fn report(n: u64, to: &AccountRef, amount: u64, at_ms: TimeMs) -> Input {
    let transfers =
        vec![Transfer { from_account: None, to: Destination::Account(to.clone()), amount: Fen::new(amount), at_ms }];
    Input::CaseReported { case_id: victim(n), reported_at_ms: at_ms, transfers, reported_loss: Fen::new(amount) }
}

/// A closed case of its own on `account`, stopped by the first stop and then queued at the
/// bank (so the center's hold stays unfrozen and its stop lapses after 48 h).
fn closed_on(state: &mut State, config: &CoreConfig, n: u64, mule: &AccountRef, now: TimeMs) {
    closed_with(state, config, n, mule, now, FreezeStatus::Queued);
}

/// The same, the bank answering the freeze with `status` (frozen for six months, or queued).
fn closed_with(state: &mut State, config: &CoreConfig, n: u64, mule: &AccountRef, now: TimeMs, status: FreezeStatus) {
    let Step { actions, .. } = super::step(state, config, report(n, mule, 10_000, now), now).unwrap();
    let [Action::Stop { hop, since_ms, .. }] = &actions[..] else { panic!("{actions:?}") };
    let entry = StatementEntry {
        transfer_id: format!("v{n}"),
        at_ms: now,
        direction: Direction::In,
        amount_fen: Fen::new(10_000),
        counterparty: Counterparty::Account(account(90)),
        balance_after_fen: Fen::new(10_000),
    };
    let statement = Statement {
        stop_no: 1,
        held: Fen::new(10_000),
        expires_at_ms: now + 48 * HOUR,
        since_ms: *since_ms,
        entries: vec![entry],
    };
    let answered = Input::AccountAnswered { case_id: victim(n), hop: *hop, asked_at_ms: now, result: Ok(statement) };
    super::step(state, config, answered, now).unwrap();
    let frozen = status == FreezeStatus::Frozen;
    let queued = FreezeReply {
        status,
        frozen_fen: Fen::new(if frozen { 10_000 } else { 0 }),
        expires_at_ms: now + if frozen { 180 * 24 * HOUR } else { 48 * HOUR },
        frozen_at_ms: now,
        queued_behind: (!frozen).then(|| City::parse("wenzhou").unwrap()),
    };
    let request_id = awaited_freeze(state, &victim(n), mule).expect("the claim awaits its freeze");
    let answer = Input::FreezeAnswered { case_id: victim(n), account: mule.clone(), request_id, result: Ok(queued) };
    super::step(state, config, answer, now).unwrap();
    assert!(state.is_closed(&victim(n)), "the case closed");
}

#[test]
fn given_a_lapsed_hold_moved_out_when_a_new_case_reaches_its_account_then_the_second_stop_is_asked() {
    let config = CoreConfig::default();
    let (mut state, cold) = with_cold();
    closed_on(&mut state, &config, 1, &account(1), 1_000);
    let evicted = state.evict();
    assert_eq!(evicted.holds.len(), 1, "the hold no open case needs is moved out");
    assert_eq!(evicted.closed, vec![victim(1)]);
    cold.keep(evicted);
    assert!(state.holds.is_empty() && state.closed.is_empty(), "nothing of the closed case stays in memory");

    let later = 1_000 + 49 * HOUR;
    let Step { actions, .. } = super::step(&mut state, &config, report(2, &account(1), 5_000, later), later).unwrap();
    let [Action::Stop { request_id, .. }] = &actions[..] else { panic!("{actions:?}") };
    assert_eq!(
        request_id,
        &stop_request_id(&victim(2).city(), &account(1), 2),
        "the center's first stop was spent: its renewal is asked, never the first again"
    );
}

#[test]
fn given_a_frozen_hold_moved_out_when_a_new_case_reaches_its_account_then_the_second_stop_is_asked() {
    let config = CoreConfig::default();
    let (mut state, cold) = with_cold();
    closed_with(&mut state, &config, 1, &account(1), 1_000, FreezeStatus::Frozen);
    cold.keep(state.evict());
    // Long after the stop lapsed, the freeze still holds what it froze, and nothing holds the
    // new money: the hold comes back and the center's second stop is asked, not the first.
    let within = 1_000 + 90 * 24 * HOUR;
    let Step { actions, .. } = super::step(&mut state, &config, report(2, &account(1), 5_000, within), within).unwrap();
    let [Action::Stop { request_id, .. }] = &actions[..] else { panic!("stopped again: {actions:?}") };
    assert_eq!(request_id, &stop_request_id(&victim(2).city(), &account(1), 2));
}

#[test]
fn given_a_closed_case_moved_out_when_it_is_reported_again_then_it_is_traced_already() {
    let config = CoreConfig::default();
    let (mut state, cold) = with_cold();
    closed_on(&mut state, &config, 1, &account(1), 1_000);
    cold.keep(state.evict());
    let again = super::step(&mut state, &config, report(1, &account(1), 10_000, 1_000), 2_000);
    assert_eq!(again, Err(Rejection::AlreadyTraced { case_id: victim(1) }));
}

#[test]
fn a_hold_an_open_case_has_a_share_in_stays_in_memory() {
    let config = CoreConfig::default();
    let (mut state, _cold) = with_cold();
    super::step(&mut state, &config, report(1, &account(1), 10_000, 1_000), 1_000).unwrap();
    let answered = Input::AccountAnswered {
        case_id: victim(1),
        hop: 1,
        asked_at_ms: 1_000,
        result: Ok(Statement {
            stop_no: 1,
            held: Fen::new(10_000),
            expires_at_ms: 1_000 + 48 * HOUR,
            since_ms: 0,
            entries: vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(90)), "v1")],
        }),
    };
    super::step(&mut state, &config, answered, 1_000).unwrap();
    assert!(state.evict().holds.is_empty(), "the case still awaits its freeze");
    assert!(state.holds.contains_key(&account(1)));
}

/// One case of a generated wave: the mule it pays, how much, when, and how its freeze ends.
#[derive(Debug, Clone)]
struct Wave {
    mule: u32,
    amount: u64,
    gap_ms: u64,
    frozen: bool,
    evict_after: bool,
}

fn arb_wave() -> impl Strategy<Value = Vec<Wave>> {
    let case = (0u32..4, 100u64..50_000, prop_oneof![Just(60_000u64), Just(30 * HOUR)], any::<bool>(), any::<bool>())
        .prop_map(|(mule, amount, gap_ms, frozen, evict_after)| Wave { mule, amount, gap_ms, frozen, evict_after });
    proptest::collection::vec(case, 1..24)
}

/// Plays `wave` through the core, each case to its end, moving the cold part out where the
/// wave says when `cold` is given; returns every event and request, in order.
fn play(wave: &[Wave], cold: Option<&MapCold>, state: &mut State) -> Vec<String> {
    let config = CoreConfig::default();
    let mut log = Vec::new();
    let mut now: TimeMs = 1_000_000;
    let mut balances: BTreeMap<u32, u64> = BTreeMap::new();
    let mut arrivals: BTreeMap<u32, Vec<StatementEntry>> = BTreeMap::new();
    for (n, case) in wave.iter().enumerate() {
        let n = n as u64;
        now += case.gap_ms;
        let mule = account(case.mule + 1);
        let balance = balances.entry(case.mule).or_default();
        *balance += case.amount;
        arrivals.entry(case.mule).or_default().push(StatementEntry {
            transfer_id: format!("v{n}"),
            at_ms: now - 1_000,
            direction: Direction::In,
            amount_fen: Fen::new(case.amount),
            counterparty: Counterparty::Account(account(90)),
            balance_after_fen: Fen::new(*balance),
        });
        let Step { events, actions } =
            super::step(state, &config, report(n, &mule, case.amount, now - 1_000), now).unwrap();
        log.push(format!("{events:?} {actions:?}"));
        let (hop, since_ms, stop_no) = match &actions[..] {
            [Action::Stop { hop, since_ms, request_id, .. }] => {
                (*hop, *since_ms, request_id.rsplit("stop").next().unwrap().parse::<u8>().unwrap())
            }
            [Action::Read { hop, since_ms, .. }] => (*hop, *since_ms, 0),
            other => panic!("one request per case, got {other:?}"),
        };
        let entries = arrivals[&case.mule].iter().filter(|e| e.at_ms >= since_ms).cloned().collect();
        let statement = Statement {
            stop_no,
            held: Fen::new(*balance),
            expires_at_ms: if stop_no > 0 { now + 48 * HOUR } else { 0 },
            since_ms,
            entries,
        };
        let answered = Input::AccountAnswered { case_id: victim(n), hop, asked_at_ms: now, result: Ok(statement) };
        let Step { events, actions } = super::step(state, &config, answered, now).unwrap();
        log.push(format!("{events:?} {actions:?}"));
        if let Some(request_id) = awaited_freeze(state, &victim(n), &mule) {
            let claim = state.hold(&mule).and_then(|h| h.claims.get(&victim(n))).copied().unwrap_or(Fen::ZERO);
            let reply = FreezeReply {
                status: if case.frozen { FreezeStatus::Frozen } else { FreezeStatus::Queued },
                frozen_fen: if case.frozen { claim } else { Fen::ZERO },
                expires_at_ms: now + 180 * 24 * HOUR,
                frozen_at_ms: now,
                queued_behind: (!case.frozen).then(|| City::parse("wenzhou").unwrap()),
            };
            let answer =
                Input::FreezeAnswered { case_id: victim(n), account: mule.clone(), request_id, result: Ok(reply) };
            let Step { events, actions } = super::step(state, &config, answer, now).unwrap();
            log.push(format!("{events:?} {actions:?}"));
        }
        // Claims other cases' revisions left awaiting a freeze are settled as queued.
        let pending: Vec<(CaseId, AccountRef)> = state.conversions.keys().cloned().collect();
        for (case_id, account) in pending {
            state.warm(&account);
            let request_id = awaited_freeze(state, &case_id, &account).unwrap();
            let queued = FreezeReply {
                status: FreezeStatus::Queued,
                frozen_fen: Fen::ZERO,
                expires_at_ms: now + 48 * HOUR,
                frozen_at_ms: now,
                queued_behind: Some(City::parse("wenzhou").unwrap()),
            };
            let answer = Input::FreezeAnswered { case_id, account, request_id, result: Ok(queued) };
            let Step { events, actions } = super::step(state, &config, answer, now).unwrap();
            log.push(format!("{events:?} {actions:?}"));
        }
        if let Some(cold) = cold.filter(|_| case.evict_after) {
            cold.keep(state.evict());
        }
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn moving_the_cold_part_out_at_any_point_changes_no_decision(wave in arb_wave()) {
        let mut whole = State::default();
        let kept = play(&wave, None, &mut whole);
        let (mut state, cold) = with_cold();
        let moved = play(&wave, Some(&cold), &mut state);
        prop_assert_eq!(&kept, &moved);
        // What is in memory and what was moved out are, together, the state kept whole.
        for (account, hold) in &whole.holds {
            let found = state.holds.get(account).cloned().or_else(|| cold.hold(account));
            prop_assert_eq!(found.as_ref(), Some(hold), "the hold on {}", account);
        }
        for case_id in &whole.closed {
            prop_assert!(state.is_closed(case_id));
        }
    }
}
