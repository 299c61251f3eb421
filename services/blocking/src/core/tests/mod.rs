//! Given these inputs, when this one arrives, then these events and orders: blocks here, the
//! high-risk pool in [`pool`], carrier orders in [`orders`], the province's blocks in [`province`]. Every step goes through one
//! helper, [`check`], which also replays the whole log into a new state and requires it to
//! equal the live one.

mod orders;
mod pool;
mod province;
mod robustness;

use domain::report::Contacts;
use domain::{City, FraudType};

use super::*;
use crate::events::{Carrier, OrderErrorKind};
use crate::normalize::Reason;

pub(super) const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// A Monday in November 2025, 09:00 in Beijing.
pub(super) const T0: TimeMs = 1_763_946_000_000;

/// The core of one center, with its log.
pub(super) struct World {
    pub state: State,
    pub config: CoreConfig,
    pub log: Vec<BlockingEvent>,
}

impl World {
    pub fn new() -> World {
        World { state: State::default(), config: CoreConfig::new(city()), log: Vec::new() }
    }
}

pub(super) fn city() -> City {
    City::parse("huzhou").unwrap()
}

pub(super) fn case(n: u64) -> CaseId {
    CaseId::derive(&city(), n)
}

pub(super) fn id(text: &str) -> Identifier {
    Identifier::parse(text).unwrap()
}

/// Steps the core with `input` at `now`: the events and the orders. Panics on a rejection,
/// and unless the log replayed from nothing gives the live state.
pub(super) fn check(world: &mut World, input: Input, now: TimeMs) -> (Vec<BlockingEvent>, Vec<Order>) {
    let Step { events, orders } = step(&mut world.state, &world.config, input, now).unwrap();
    world.log.extend(events.iter().cloned());
    let mut replayed = State::default();
    for event in &world.log {
        apply(&mut replayed, &world.config.city, event);
    }
    assert_eq!(replayed, world.state, "the log replays to the live state");
    (events, orders)
}

/// `step` expecting a rejection.
pub(super) fn refused(world: &mut World, input: Input, now: TimeMs) -> Rejection {
    step(&mut world.state, &world.config, input, now).unwrap_err()
}

pub(super) fn reported(n: u64, phones: &[&str], urls: &[&str]) -> Input {
    Input::CaseReported {
        case_id: case(n),
        reported_at_ms: T0,
        fraud_type: FraudType::ImpersonatingAuthorities,
        contacts: Contacts {
            phones: phones.iter().map(|p| p.to_string()).collect(),
            urls: urls.iter().map(|u| u.to_string()).collect(),
            ..Contacts::default()
        },
    }
}

pub(super) fn staff(reason: &str) -> Appeal {
    Appeal { reason: reason.into(), operator: "huzhou-liaison-07".into() }
}

#[test]
fn given_a_new_case_when_screened_then_each_identifier_is_blocked_and_ordered_from_its_carriers() {
    let mut world = World::new();
    let (events, orders) =
        check(&mut world, reported(1, &["+86 138-0013-8000"], &["https://m.fake-court.com.cn/x"]), T0);
    assert!(matches!(events[0], BlockingEvent::CaseScreened { identifiers: 2, rejected: 0, .. }));
    let BlockingEvent::IdentifierBlocked { identifier, generation: 1, carriers, expires_at_ms, .. } = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (identifier, carriers, *expires_at_ms),
        (&id("phone:+8613800138000"), &vec![Carrier::Cmcc], T0 + 180 * DAY_MS)
    );
    let BlockingEvent::IdentifierBlocked { carriers, expires_at_ms, .. } = &events[2] else { panic!("{events:?}") };
    assert_eq!((carriers.len(), *expires_at_ms), (3, T0 + 365 * DAY_MS), "a domain goes to every carrier, for a year");
    let ids: Vec<&str> = orders.iter().map(|o| o.request_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "huzhou/cmcc/phone:+8613800138000/block1",
            "huzhou/cmcc/domain:fake-court.com.cn/block1",
            "huzhou/cucc/domain:fake-court.com.cn/block1",
            "huzhou/ctcc/domain:fake-court.com.cn/block1",
        ]
    );
    assert_eq!(refused(&mut world, reported(1, &[], &[]), T0), Rejection::CaseKnown { case_id: case(1) });
}

#[test]
fn given_a_blocked_number_when_a_second_case_names_it_then_the_block_is_extended_and_no_order_is_sent() {
    let mut world = World::new();
    check(&mut world, reported(1, &["17000000000"], &[]), T0);
    let later = T0 + 30 * DAY_MS;
    let (events, orders) = check(&mut world, reported(2, &["0086 170 0000 0000"], &[]), later);
    let BlockingEvent::BlockExtended { generation: 1, expires_at_ms, .. } = &events[1] else { panic!("{events:?}") };
    assert_eq!(*expires_at_ms, later + 180 * DAY_MS, "renewed from the new report");
    assert!(orders.is_empty(), "the carrier holds the block until it is lifted");
    let block = world.state.active_block(&id("phone:+8617000000000")).unwrap();
    assert_eq!((block.case_count, block.cases.clone()), (2, vec![case(1), case(2)]));
    assert_eq!((block.first_reported_ms, block.last_reported_ms), (T0, later));
    assert_eq!(world.state.next_deadline(), Some(later + 180 * DAY_MS));
}

#[test]
fn given_a_block_when_its_expiry_comes_then_it_expires_and_the_carriers_are_asked_to_lift_it() {
    let mut world = World::new();
    check(&mut world, reported(1, &["17000000000"], &[]), T0);
    let expiry = world.state.next_deadline().unwrap();
    assert_eq!(expiry, T0 + 180 * DAY_MS);
    let (events, _) = check(&mut world, Input::TimerFired, expiry - 1);
    assert!(events.is_empty(), "not before its time");
    let (events, orders) = check(&mut world, Input::TimerFired, expiry);
    assert!(matches!(&events[..], [BlockingEvent::BlockExpired { generation: 1, .. }]), "{events:?}");
    let [lift] = &orders[..] else { panic!("{orders:?}") };
    assert_eq!((lift.verb, lift.request_id.as_str()), (Verb::Lift, "huzhou/ctcc/phone:+8617000000000/lift1"));
    assert!(
        world.state.orders.keys().iter().all(|id| !id.ends_with("/block1")),
        "the unconfirmed block is not sent again"
    );
    // A new report blocks it again, as a new generation with new request ids.
    let (events, orders) = check(&mut world, reported(2, &["17000000000"], &[]), expiry + DAY_MS);
    assert!(matches!(events[1], BlockingEvent::IdentifierBlocked { generation: 2, .. }), "{events:?}");
    assert_eq!(orders[0].request_id, "huzhou/ctcc/phone:+8617000000000/block2");
}

#[test]
fn given_a_block_when_a_new_report_comes_before_expiry_then_the_expiry_timer_moves() {
    let mut world = World::new();
    check(&mut world, reported(1, &[], &["fake-shop.example.cn"]), T0);
    let renewed = T0 + 300 * DAY_MS;
    check(&mut world, reported(2, &[], &["https://www.fake-shop.example.cn/pay"]), renewed);
    let (events, _) = check(&mut world, Input::TimerFired, T0 + 365 * DAY_MS);
    assert!(events.is_empty(), "the first expiry is gone: {events:?}");
    let (events, _) = check(&mut world, Input::TimerFired, renewed + 365 * DAY_MS);
    assert!(matches!(&events[..], [BlockingEvent::BlockExpired { .. }]), "{events:?}");
}

#[test]
fn given_a_block_when_staff_lift_it_on_appeal_then_it_is_lifted_with_the_reason_and_operator() {
    let mut world = World::new();
    check(&mut world, reported(1, &["13800138000"], &[]), T0);
    let lift = |reason: &str| Input::Lift { identifier: id("phone:+8613800138000"), appeal: staff(reason) };
    assert!(matches!(refused(&mut world, lift("  "), T0), Rejection::InvalidAppeal { field: "reason", .. }));
    let (events, orders) = check(&mut world, lift("number reassigned to a new subscriber"), T0 + DAY_MS);
    let [BlockingEvent::BlockLifted { appeal, lifted_at_ms, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!((appeal.operator.as_str(), *lifted_at_ms), ("huzhou-liaison-07", T0 + DAY_MS));
    assert_eq!(orders[0].request_id, "huzhou/cmcc/phone:+8613800138000/lift1");
    assert_eq!(world.state.next_deadline(), None, "no expiry left to fire");
    assert!(matches!(refused(&mut world, lift("again"), T0 + DAY_MS), Rejection::NotBlocked { .. }));
}

#[test]
fn given_a_case_with_malformed_contacts_then_each_is_recorded_with_its_reason_and_the_rest_is_blocked() {
    let mut world = World::new();
    let input = reported(1, &["95588", "13800138000", "138 0013 8000"], &["javascript:alert(1)", "https://qq.com/x"]);
    let (events, orders) = check(&mut world, input, T0);
    assert!(matches!(events[0], BlockingEvent::CaseScreened { identifiers: 1, rejected: 3, .. }), "{events:?}");
    let reasons: Vec<(ContactKind, &str, Reason)> = events
        .iter()
        .filter_map(|e| match e {
            BlockingEvent::IdentifierRejected { kind, value, reason, .. } => Some((*kind, value.as_str(), *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (ContactKind::Phone, "95588", Reason::InvalidNumber),
            (ContactKind::Url, "javascript:alert(1)", Reason::UnsupportedScheme),
            (ContactKind::Url, "https://qq.com/x", Reason::Protected),
        ]
    );
    assert_eq!(orders.len(), 1, "the valid number (named twice) is blocked once");
}

#[test]
fn given_more_identifiers_than_a_case_may_hold_then_the_rest_are_refused_one_problem_each() {
    let mut world = World::new();
    let phones: Vec<String> = (0..150).map(|n| format!("1380013{n:04}")).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let (events, _) = check(&mut world, reported(1, &phones, &[]), T0);
    let too_many = events
        .iter()
        .filter(|e| matches!(e, BlockingEvent::IdentifierRejected { reason: Reason::TooMany, .. }))
        .count();
    assert_eq!(too_many, 150 - crate::limits::MAX_IDENTIFIERS_PER_CASE);
}

#[test]
fn the_carrier_table_routes_mobile_numbers_by_prefix_and_everything_else_to_all_three() {
    use super::carriers::carriers_for;
    for (number, carrier) in [
        ("+8613800138000", Carrier::Cmcc),
        ("+8617050000000", Carrier::Cmcc),
        ("+8618600000000", Carrier::Cucc),
        ("+8617080000000", Carrier::Cucc),
        ("+8618900000000", Carrier::Ctcc),
        ("+8617000000000", Carrier::Ctcc),
        ("+8619200001111", Carrier::Cmcc),
    ] {
        assert_eq!(carriers_for(&id(&format!("phone:{number}"))), vec![carrier], "{number}");
    }
    for all in ["phone:+861012345678", "phone:+864001234567", "phone:+16502530000", "domain:x.cn", "ip:8.8.8.8"] {
        assert_eq!(carriers_for(&id(all)), Carrier::ALL.to_vec(), "{all}");
    }
    assert!(carriers_for(&id("app:com.fake.loan")).is_empty(), "apps are listed, not ordered");
}

#[test]
fn an_answer_to_no_order_in_flight_is_refused() {
    let mut world = World::new();
    let answer = Input::OrderAnswered { request_id: "huzhou/cmcc/phone:+8613800138000/block1".into(), result: Ok(()) };
    assert!(matches!(refused(&mut world, answer, T0), Rejection::NotAwaited { .. }));
    let _ = OrderErrorKind::Timeout;
}

#[test]
fn a_lookup_normalises_the_value_and_answers_since_when_and_why_without_personal_data() {
    let mut world = World::new();
    check(&mut world, reported(1, &["17000000000"], &[]), T0);
    check(&mut world, reported(2, &["17000000000"], &[]), T0 + DAY_MS);
    let answer = lookup(&world.state, ContactKind::Phone, "+86 170-0000-0000").unwrap();
    let blocked = answer.blocked.unwrap();
    assert_eq!((blocked.since_ms, blocked.case_count), (T0, 2));
    assert_eq!(blocked.fraud_types, [FraudType::ImpersonatingAuthorities].into());
    assert!(!answer.in_pool);
    assert_eq!(lookup(&world.state, ContactKind::Phone, "13800138000").unwrap().blocked, None);
    assert_eq!(lookup(&world.state, ContactKind::Url, "data:,x").unwrap_err().reason, Reason::UnsupportedScheme);
}

#[test]
fn five_years_on_is_the_same_day_five_calendar_years_later() {
    use super::decide::years_later;
    let leap_day = domain::calendar::days_from_civil(2028, 2, 29) as u64 * DAY_MS + 3_600_000;
    let march_first = domain::calendar::days_from_civil(2033, 3, 1) as u64 * DAY_MS + 3_600_000;
    assert_eq!(years_later(leap_day, 5), march_first);
    assert_eq!(years_later(T0, 5), T0 + (5 * 365 + 1) * DAY_MS);
}
