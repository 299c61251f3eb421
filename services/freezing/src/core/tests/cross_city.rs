//! The province coordinator's cross-city notices: given an account this center holds, when
//! the coordinator tells that cases of other cities stopped it too, then every city's claim
//! is recorded on the hold, once.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::City;
use events::province::CrossCityClaim;
use serde::Serialize;

use super::*;
use crate::limits::MAX_CROSS_CITY_CLAIMS;

fn huzhou() -> City {
    City::parse("huzhou").unwrap()
}

fn claim(city: &str, n: u64, first_stop_at_ms: TimeMs) -> CrossCityClaim {
    let city = City::parse(city).unwrap();
    CrossCityClaim { case_id: CaseId::derive(&city, n), city, first_stop_at_ms }
}

/// Wenzhou stopped the account first, then this center (huzhou) for [`case`].
fn claims() -> Vec<CrossCityClaim> {
    vec![claim("wenzhou", 7, 400), CrossCityClaim { city: huzhou(), case_id: case(), first_stop_at_ms: 1_000 }]
}

fn notice(account: AccountRef, claims: Vec<CrossCityClaim>) -> Input {
    Input::CrossCityNotice { city: huzhou(), account, claims }
}

fn invalid(state: &mut State, claims: Vec<CrossCityClaim>) -> (String, String, String) {
    match step(state, &CoreConfig::default(), notice(account(1), claims), 2_000) {
        Err(Rejection::InvalidNotice { field, value, expected }) => (field, value, expected),
        other => panic!("refused as invalid: {other:?}"),
    }
}

#[test]
fn given_a_held_account_when_the_coordinator_tells_of_other_cities_then_their_claims_are_recorded_once() {
    let config = CoreConfig::default();
    let mut state = held_case(&config);
    // Listed latest first: recorded in the contract's order, earliest first stop first.
    let listed: Vec<CrossCityClaim> = claims().into_iter().rev().collect();
    let Step { events, actions } = step(&mut state, &config, notice(account(1), listed.clone()), 2_000).unwrap();
    assert_eq!(
        events,
        vec![FreezingEvent::CrossCityClaims { account: account(1), claims: claims(), noticed_at_ms: 2_000 }]
    );
    assert!(actions.is_empty(), "a notice asks no bank for anything");
    assert_eq!(events[0].case_in(&huzhou()), Some(&case()), "its case is this city's claim's");
    assert_eq!(state.holds[&account(1)].cross_city_claims, claims());

    // Heard again (the coordinator sends until answered).
    let again = step(&mut state, &config, notice(account(1), listed), 3_000).unwrap();
    assert_eq!(again, Step::default(), "heard again: nothing recorded");

    // A third city claims it: the notice comes again with every claim.
    let mut three = claims();
    three.push(claim("ningbo", 9, 1_500));
    let Step { events, .. } = step(&mut state, &config, notice(account(1), three.clone()), 4_000).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(state.holds[&account(1)].cross_city_claims, three);
    // The two-city notice heard late changes nothing: the cities claiming an account only grow.
    let older = step(&mut state, &config, notice(account(1), claims()), 5_000).unwrap();
    assert_eq!(older, Step::default());
    assert_eq!(state.holds[&account(1)].cross_city_claims, three);
}

#[test]
fn given_an_account_this_center_does_not_hold_when_told_of_it_then_it_is_refused_naming_it() {
    let config = CoreConfig::default();
    let mut state = held_case(&config);
    let refused = step(&mut state, &config, notice(account(2), claims()), 2_000);
    assert_eq!(refused, Err(Rejection::NotHeld { account: account(2) }));
    assert!(refused.unwrap_err().to_string().contains(account(2).as_str()));
    let mut empty = State::default();
    assert_eq!(
        step(&mut empty, &config, notice(account(1), claims()), 2_000),
        Err(Rejection::NotHeld { account: account(1) })
    );
}

#[test]
fn a_notice_that_does_not_hold_together_is_refused_with_the_field_the_value_and_what_is_accepted() {
    let mut state = held_case(&CoreConfig::default());
    let (field, value, expected) = invalid(&mut state, claims()[1..].to_vec());
    assert_eq!((field.as_str(), value.as_str()), ("claims", "1 claim(s)"));
    assert!(expected.contains("two cities"), "{expected}");

    let mut twice = claims();
    twice.push(claim("wenzhou", 8, 500));
    let (field, value, expected) = invalid(&mut state, twice);
    assert_eq!((field.as_str(), value.as_str(), expected.as_str()), ("claims[2].city", "wenzhou", "each city once"));

    let elsewhere = vec![claim("wenzhou", 7, 400), claim("ningbo", 9, 500)];
    let (field, value, expected) = invalid(&mut state, elsewhere);
    assert_eq!((field.as_str(), expected.as_str()), ("claims", "a claim of huzhou"));
    assert!(value.contains("ningbo") && value.contains("wenzhou"), "{value}");

    let mut forged = claims();
    forged[0].case_id = CaseId::derive(&City::parse("ningbo").unwrap(), 7);
    let (field, _, expected) = invalid(&mut state, forged);
    assert_eq!((field.as_str(), expected.as_str()), ("claims[0].case_id", "a case of wenzhou"));

    let mut many = claims();
    many.extend((0..MAX_CROSS_CITY_CLAIMS).map(|n| claim(&format!("city{n}"), 1, 2_000)));
    let (field, value, expected) = invalid(&mut state, many);
    assert_eq!(field, "claims");
    assert_eq!(value, format!("{} claims", MAX_CROSS_CITY_CLAIMS + 2));
    assert!(expected.contains(&MAX_CROSS_CITY_CLAIMS.to_string()), "{expected}");
    assert!(state.holds[&account(1)].cross_city_claims.is_empty(), "nothing refused is recorded");
}

/// The log replayed, and the state through a snapshot, hold the claims as recorded.
#[test]
fn the_claims_survive_a_replay_of_the_log_and_a_snapshot() {
    let config = CoreConfig::default();
    let mut live = State::default();
    let mut log = Vec::new();
    let mut record = |state: &mut State, input| log.extend(step(state, &config, input, 2_000).unwrap().events);
    record(&mut live, reported(10_000));
    let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
    record(&mut live, answered(1, 10_000, statement));
    record(&mut live, notice(account(1), claims()));

    let mut replayed = State::default();
    for event in &log {
        apply(&mut replayed, event);
    }
    assert_eq!(replayed, live);
    let restored = crate::shell::snapshot::decode(&crate::shell::snapshot::encode(&live)).unwrap();
    assert_eq!(restored, live);
    assert_eq!(restored.holds[&account(1)].cross_city_claims, claims());
}

/// A hold as snapshots and cold rows kept it before the claims were: it reads as a hold no
/// other city claims.
#[test]
fn a_hold_written_before_the_claims_were_kept_reads_with_none() {
    #[derive(Serialize)]
    struct Before {
        case_id: CaseId,
        stop_no: u8,
        held: Fen,
        expires_at_ms: TimeMs,
        claims: BTreeMap<CaseId, Fen>,
        frozen_until_ms: Option<TimeMs>,
        shares: BTreeMap<CaseId, Share>,
    }
    let before = Before {
        case_id: case(),
        stop_no: 1,
        held: Fen::new(10_000),
        expires_at_ms: 2_000,
        claims: BTreeMap::from([(case(), Fen::new(10_000))]),
        frozen_until_ms: None,
        shares: BTreeMap::new(),
    };
    let hold: Hold = rmp_serde::from_slice(&rmp_serde::to_vec(&before).unwrap()).unwrap();
    assert!(hold.cross_city_claims.is_empty());
    assert_eq!(hold.claims, before.claims);
}

/// A cold store in memory holding one hold.
struct OneHold(AccountRef, Hold);

impl ColdStore for OneHold {
    fn hold(&self, account: &AccountRef) -> Option<Hold> {
        (*account == self.0).then(|| self.1.clone())
    }
    fn is_closed(&self, _: &CaseId) -> bool {
        false
    }
}

#[test]
fn given_a_hold_moved_out_of_memory_when_told_of_it_then_it_comes_back_and_records_the_claims() {
    let config = CoreConfig::default();
    let held = held_case(&config);
    let hold = held.holds[&account(1)].clone();
    let mut state = State::default();
    state.set_cold(Cold::new(Arc::new(OneHold(account(1), hold))));
    let Step { events, .. } = step(&mut state, &config, notice(account(1), claims()), 2_000).unwrap();
    assert_eq!(events.len(), 1, "the hold moved out is still this center's");
    assert_eq!(state.holds[&account(1)].cross_city_claims, claims());
    let evicted = state.evict();
    assert_eq!(evicted.holds.len(), 1, "no open case needs it: it moves out again, claims and all");
    assert_eq!(evicted.holds[0].1.cross_city_claims, claims());
}
