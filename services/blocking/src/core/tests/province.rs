//! The province's blocks: an identifier two or more other cities blocked is blocked here as
//! a block of this city's own is, under the first city's case, with its province origin.

use ::events::province::{ProvinceBlockNotice, ProvinceUnblockNotice};

use super::*;
use crate::events::ProvinceOrigin;

fn other_city(name: &str) -> City {
    City::parse(name).unwrap()
}

/// Jiaxing's case: the first city's, not one this city ever screened.
fn jiaxing_case() -> CaseId {
    CaseId::derive(&other_city("jiaxing"), 7)
}

fn notice(identifier: &str, cities: &[&str]) -> Input {
    Input::ProvinceBlock(ProvinceBlockNotice {
        identifier: id(identifier),
        cities: cities.iter().map(|c| other_city(c)).collect(),
        case_id: jiaxing_case(),
        fraud_type: FraudType::PigButchering,
        first_reported_at_ms: T0 - DAY_MS,
        decided_at_ms: T0 - 1,
    })
}

const CITIES: [&str; 2] = ["jiaxing", "hangzhou"];

#[test]
fn given_nothing_blocked_when_the_province_blocks_a_number_then_it_is_blocked_here_and_ordered_from_its_carrier() {
    let mut world = World::new();
    let (events, orders) = check(&mut world, notice("phone:+8617000000000", &CITIES), T0);
    let [
        BlockingEvent::IdentifierBlocked {
            generation: 1,
            case_id,
            fraud_type,
            blocked_at_ms,
            expires_at_ms,
            carriers,
            province,
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!((case_id, *fraud_type), (&jiaxing_case(), FraudType::PigButchering));
    assert_eq!((*blocked_at_ms, *expires_at_ms), (T0, T0 + 180 * DAY_MS), "this city's block life, from now");
    assert_eq!(carriers, &vec![Carrier::Ctcc]);
    let cities = CITIES.map(other_city).to_vec();
    assert_eq!(province, &Some(ProvinceOrigin { cities: cities.clone(), decided_at_ms: T0 - 1 }));
    let [order] = &orders[..] else { panic!("{orders:?}") };
    assert_eq!((order.verb, order.request_id.as_str()), (Verb::Block, "huzhou/ctcc/phone:+8617000000000/block1"));
    let block = world.state.active_block(&id("phone:+8617000000000")).unwrap();
    assert_eq!((block.cases.clone(), block.case_count), (vec![jiaxing_case()], 1));
    assert_eq!(block.province.as_ref().map(|o| o.cities.clone()), Some(cities));
    assert!(world.state.cases.is_empty(), "another city's case is not screened here");
    let answer = lookup(&world.state, ContactKind::Phone, "17000000000").unwrap();
    assert_eq!(answer.blocked.map(|b| b.since_ms), Some(T0));
    assert_eq!(world.state.next_deadline(), Some(T0 + 180 * DAY_MS));
}

#[test]
fn given_a_province_block_when_the_notice_is_heard_again_then_nothing_is_recorded() {
    let mut world = World::new();
    check(&mut world, notice("domain:fake-court.com.cn", &CITIES), T0);
    let (events, orders) = check(&mut world, notice("domain:fake-court.com.cn", &CITIES), T0 + 1);
    assert!(events.is_empty() && orders.is_empty(), "{events:?} {orders:?}");
    // The set of cities grew: the notice comes again; the block stands as it is.
    let (events, _) = check(&mut world, notice("domain:fake-court.com.cn", &["jiaxing", "hangzhou", "ningbo"]), T0 + 2);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn given_a_number_this_city_blocked_when_the_province_blocks_it_then_nothing_is_recorded() {
    let mut world = World::new();
    check(&mut world, reported(1, &["17000000000"], &[]), T0);
    let (events, orders) = check(&mut world, notice("phone:+8617000000000", &CITIES), T0 + DAY_MS);
    assert!(events.is_empty() && orders.is_empty(), "{events:?} {orders:?}");
    let block = world.state.active_block(&id("phone:+8617000000000")).unwrap();
    assert_eq!((block.province.clone(), block.cases.clone()), (None, vec![case(1)]), "still this city's own block");
}

#[test]
fn a_notice_of_an_identifier_on_the_never_block_list_is_refused() {
    let mut world = World::new();
    let rejection = refused(&mut world, notice("domain:qq.com", &CITIES), T0);
    assert_eq!(rejection, Rejection::NeverBlocked { identifier: id("domain:qq.com") });
    assert!(rejection.to_string().contains("domain"), "{rejection}");
    assert!(world.state.blocks.is_empty());
}

#[test]
fn a_notice_of_fewer_than_two_cities_or_of_too_many_or_a_city_twice_is_refused() {
    let mut world = World::new();
    let Rejection::InvalidNotice { field, value, expected } =
        refused(&mut world, notice("phone:+8617000000000", &["jiaxing"]), T0)
    else {
        panic!("not a notice refusal")
    };
    assert_eq!((field, value.as_str()), ("cities", "1 cities"));
    assert_eq!(expected, format!("2 to {} distinct cities", crate::limits::MAX_NOTICE_CITIES));
    let many: Vec<String> = (0..=crate::limits::MAX_NOTICE_CITIES).map(|n| format!("city{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        refused(&mut world, notice("phone:+8617000000000", &many), T0),
        Rejection::InvalidNotice { field: "cities", .. }
    ));
    let Rejection::InvalidNotice { value, .. } =
        refused(&mut world, notice("phone:+8617000000000", &["jiaxing", "jiaxing"]), T0)
    else {
        panic!("not a notice refusal")
    };
    assert_eq!(value, "jiaxing twice");
    assert!(world.state.blocks.is_empty());
}

#[test]
fn given_a_province_block_when_this_city_reports_the_number_then_the_block_is_extended_and_becomes_its_own() {
    let mut world = World::new();
    check(&mut world, notice("phone:+8617000000000", &CITIES), T0);
    let later = T0 + 30 * DAY_MS;
    let (events, orders) = check(&mut world, reported(1, &["17000000000"], &[]), later);
    let BlockingEvent::BlockExtended { generation: 1, case_id, expires_at_ms, .. } = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!((case_id, *expires_at_ms), (&case(1), later + 180 * DAY_MS));
    assert!(orders.is_empty(), "the carrier holds the block already");
    let block = world.state.active_block(&id("phone:+8617000000000")).unwrap();
    assert_eq!((block.cases.clone(), block.case_count), (vec![jiaxing_case(), case(1)], 2));
    assert_eq!(block.province, None, "the block rests on this city's own report now");
    // The province withdrawing its block does not lift it.
    let withdrawn = Input::ProvinceUnblock(ProvinceUnblockNotice {
        identifier: id("phone:+8617000000000"),
        lifted_in: other_city("jiaxing"),
        decided_at_ms: later + 1,
    });
    let (events, orders) = check(&mut world, withdrawn, later + 2);
    assert!(events.is_empty() && orders.is_empty(), "{events:?} {orders:?}");
    assert!(world.state.active_block(&id("phone:+8617000000000")).is_some());
}

#[test]
fn given_a_province_block_when_staff_lift_it_then_it_is_lifted_and_a_later_own_block_is_this_citys() {
    let mut world = World::new();
    check(&mut world, notice("phone:+8617000000000", &CITIES), T0);
    let lift = Input::Lift { identifier: id("phone:+8617000000000"), appeal: staff("number reassigned") };
    let (events, orders) = check(&mut world, lift, T0 + DAY_MS);
    assert!(matches!(&events[..], [BlockingEvent::BlockLifted { generation: 1, .. }]), "{events:?}");
    assert_eq!(orders[0].request_id, "huzhou/ctcc/phone:+8617000000000/lift1");
    assert_eq!(world.state.next_deadline(), None);
    let (events, _) = check(&mut world, reported(1, &["17000000000"], &[]), T0 + 2 * DAY_MS);
    assert!(matches!(events[1], BlockingEvent::IdentifierBlocked { generation: 2, province: None, .. }), "{events:?}");
    assert!(world.state.active_block(&id("phone:+8617000000000")).unwrap().province.is_none());
}

#[test]
fn given_a_province_block_when_its_expiry_comes_then_it_expires_as_any_block() {
    let mut world = World::new();
    check(&mut world, notice("ip:8.8.4.4", &CITIES), T0);
    let (events, orders) = check(&mut world, Input::TimerFired, T0 + 90 * DAY_MS);
    assert!(matches!(&events[..], [BlockingEvent::BlockExpired { generation: 1, .. }]), "{events:?}");
    assert_eq!(orders.len(), 3, "lifted at every carrier");
}

fn withdrawn(identifier: &str) -> Input {
    Input::ProvinceUnblock(ProvinceUnblockNotice {
        identifier: id(identifier),
        lifted_in: other_city("jiaxing"),
        decided_at_ms: T0 + DAY_MS - 1,
    })
}

#[test]
fn given_a_province_block_when_the_province_withdraws_it_then_it_is_lifted_here_as_staff_lift_it() {
    let mut world = World::new();
    check(&mut world, notice("phone:+8617000000000", &CITIES), T0);
    let (events, orders) = check(&mut world, withdrawn("phone:+8617000000000"), T0 + DAY_MS);
    let [BlockingEvent::BlockLifted { identifier, generation: 1, lifted_at_ms, appeal }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((identifier, *lifted_at_ms), (&id("phone:+8617000000000"), T0 + DAY_MS));
    assert_eq!(appeal.reason, "withdrawn by the province: lifted in jiaxing");
    assert_eq!(appeal.operator, "province");
    let [order] = &orders[..] else { panic!("{orders:?}") };
    assert_eq!((order.verb, order.request_id.as_str()), (Verb::Lift, "huzhou/ctcc/phone:+8617000000000/lift1"));
    assert!(world.state.active_block(&id("phone:+8617000000000")).is_none());
    assert!(lookup(&world.state, ContactKind::Phone, "17000000000").unwrap().blocked.is_none());
    assert_eq!(world.state.next_deadline(), None, "no expiry left");
    // Heard again (the coordinator asks until it hears an answer): nothing more.
    let (events, orders) = check(&mut world, withdrawn("phone:+8617000000000"), T0 + DAY_MS + 1);
    assert!(events.is_empty() && orders.is_empty(), "{events:?} {orders:?}");
}

#[test]
fn given_a_number_this_city_blocked_when_the_province_withdraws_its_block_then_this_citys_block_stands() {
    let mut world = World::new();
    check(&mut world, reported(1, &["17000000000"], &[]), T0);
    let (events, orders) = check(&mut world, withdrawn("phone:+8617000000000"), T0 + DAY_MS);
    assert!(events.is_empty() && orders.is_empty(), "{events:?} {orders:?}");
    let block = world.state.active_block(&id("phone:+8617000000000")).unwrap();
    assert_eq!((block.generation, block.province.clone()), (1, None));
}

#[test]
fn given_nothing_blocked_when_the_province_withdraws_a_block_then_nothing_is_recorded() {
    let mut world = World::new();
    let (events, orders) = check(&mut world, withdrawn("domain:fake-court.com.cn"), T0);
    assert!(events.is_empty() && orders.is_empty(), "{events:?} {orders:?}");
    // Lifted by staff already: the withdrawal finds nothing to lift.
    check(&mut world, notice("domain:fake-court.com.cn", &CITIES), T0);
    let lift = Input::Lift { identifier: id("domain:fake-court.com.cn"), appeal: staff("a court's own site") };
    check(&mut world, lift, T0 + 1);
    let (events, _) = check(&mut world, withdrawn("domain:fake-court.com.cn"), T0 + 2);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn given_a_withdrawn_province_block_when_the_province_blocks_it_again_then_it_is_a_new_generation() {
    let mut world = World::new();
    check(&mut world, notice("ip:8.8.4.4", &CITIES), T0);
    check(&mut world, withdrawn("ip:8.8.4.4"), T0 + DAY_MS);
    let (events, orders) = check(&mut world, notice("ip:8.8.4.4", &["hangzhou", "ningbo"]), T0 + 2 * DAY_MS);
    assert!(matches!(&events[..], [BlockingEvent::IdentifierBlocked { generation: 2, .. }]), "{events:?}");
    assert!(orders.iter().all(|o| o.verb == Verb::Block && o.request_id.ends_with("/block2")), "{orders:?}");
}
