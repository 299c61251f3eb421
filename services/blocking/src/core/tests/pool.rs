//! The high-risk pool: accounts that held victim money, card sellers; release after five
//! years without new involvement, or by appeal.

use super::*;
use crate::events::{Channel, HolderKey, PoolSubject};

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020200001234").unwrap()
}

fn held(n: u64) -> Input {
    Input::MoneyHeld { case_id: case(n), account: mule() }
}

fn holder() -> HolderKey {
    HolderKey::parse("icbc:0123456789abcdef0123456789abcdef").unwrap()
}

fn holder_named(n: u64, phones: &[&str]) -> Input {
    Input::HolderReported {
        case_id: case(n),
        holder: holder(),
        phones: phones.iter().map(|p| p.to_string()).collect(),
        accounts: vec![mule()],
    }
}

/// 2025-11-24 09:00 (Beijing) plus five calendar years: 2030-11-24, past one leap day (2028).
const FIVE_YEARS_ON: TimeMs = T0 + (5 * 365 + 1) * DAY_MS;

#[test]
fn given_an_account_holding_victim_money_then_it_enters_the_pool_and_its_bank_cuts_its_channels() {
    let mut world = World::new();
    let (events, orders) = check(&mut world, held(1), T0);
    let [BlockingEvent::PoolEntered { generation: 1, release_at_ms, channels, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(*release_at_ms, FIVE_YEARS_ON, "five calendar years");
    assert_eq!(channels, &Channel::BANK_POOL.to_vec());
    let [order] = &orders[..] else { panic!("{orders:?}") };
    assert_eq!(order.to, Counterparty::Bank(domain::BankId::parse("icbc").unwrap()));
    assert_eq!(order.request_id, "huzhou/icbc/icbc:6222020200001234/restrict1");
    assert_eq!(order.channels, Channel::BANK_POOL.to_vec());
    assert!(matches!(refused(&mut world, held(1), T0 + 1), Rejection::AlreadyInvolved { .. }), "a case counts once");
}

#[test]
fn given_a_pool_account_when_five_years_pass_without_new_involvement_then_it_is_released() {
    let mut world = World::new();
    check(&mut world, held(1), T0);
    let (events, _) = check(&mut world, Input::TimerFired, FIVE_YEARS_ON - 1);
    assert!(events.is_empty());
    let (events, orders) = check(&mut world, Input::TimerFired, FIVE_YEARS_ON);
    assert!(matches!(&events[..], [BlockingEvent::PoolReleased { appeal: None, generation: 1, .. }]), "{events:?}");
    assert_eq!(
        (orders[0].verb, orders[0].request_id.as_str()),
        (Verb::Unrestrict, "huzhou/icbc/icbc:6222020200001234/unrestrict1")
    );
    assert!(!world.state.in_pool(&PoolSubject::Account(mule())));
    assert!(
        world.state.orders.keys().iter().all(|id| !id.ends_with("/restrict1")),
        "an unconfirmed restriction is not sent again"
    );
}

#[test]
fn given_a_pool_account_when_a_new_case_involves_it_then_its_five_years_start_again() {
    let mut world = World::new();
    check(&mut world, held(1), T0);
    let later = T0 + 3 * 365 * DAY_MS;
    let (events, orders) = check(&mut world, held(2), later);
    let [BlockingEvent::PoolInvolved { release_at_ms, .. }] = &events[..] else { panic!("{events:?}") };
    assert!(orders.is_empty(), "already restricted");
    let (events, _) = check(&mut world, Input::TimerFired, FIVE_YEARS_ON);
    assert!(events.is_empty(), "the first release is gone");
    assert_eq!(world.state.next_deadline(), Some(*release_at_ms));
    let (events, _) = check(&mut world, Input::TimerFired, *release_at_ms);
    assert!(matches!(&events[..], [BlockingEvent::PoolReleased { .. }]));
}

#[test]
fn given_a_pool_account_when_staff_uphold_an_appeal_then_it_is_released_at_once() {
    let mut world = World::new();
    check(&mut world, held(1), T0);
    let appeal =
        Input::PoolAppeal { subject: PoolSubject::Account(mule()), appeal: staff("account holder was a victim too") };
    let (events, orders) = check(&mut world, appeal.clone(), T0 + DAY_MS);
    assert!(matches!(&events[..], [BlockingEvent::PoolReleased { appeal: Some(_), .. }]));
    assert_eq!(orders[0].verb, Verb::Unrestrict);
    assert_eq!(world.state.next_deadline(), None);
    assert!(matches!(refused(&mut world, appeal, T0 + DAY_MS), Rejection::NotInPool { .. }));
    // Involved again later: a new generation, new request ids.
    let (events, orders) = check(&mut world, held(2), T0 + 2 * DAY_MS);
    assert!(matches!(events[0], BlockingEvent::PoolEntered { generation: 2, .. }));
    assert!(orders[0].request_id.ends_with("/restrict2"));
}

#[test]
fn given_a_holder_named_in_one_case_when_a_second_case_names_them_then_their_cards_are_restricted_to_local_voice() {
    let mut world = World::new();
    let (events, orders) = check(&mut world, holder_named(1, &["13800138000", "not a number"]), T0);
    assert!(matches!(events[0], BlockingEvent::IdentifierRejected { reason: Reason::NotANumber, .. }), "{events:?}");
    assert!(matches!(events[1], BlockingEvent::HolderReported { .. }));
    assert_eq!(events.len(), 2, "one case: not a card seller yet");
    assert!(orders.is_empty());

    let (events, orders) = check(&mut world, holder_named(2, &["18900000000"]), T0 + DAY_MS);
    let entered: Vec<&PoolSubject> = events
        .iter()
        .filter_map(|e| match e {
            BlockingEvent::PoolEntered { subject, .. } => Some(subject),
            _ => None,
        })
        .collect();
    assert_eq!(entered, [&PoolSubject::Holder(holder()), &PoolSubject::Account(mule())]);
    let cards: Vec<(&str, &str)> = orders
        .iter()
        .filter(|o| matches!(o.to, Counterparty::Carrier(_)))
        .map(|o| (o.target.as_str(), o.request_id.as_str()))
        .collect();
    assert_eq!(
        cards,
        [
            ("phone:+8613800138000", "huzhou/cmcc/phone:+8613800138000/restrict1"),
            ("phone:+8618900000000", "huzhou/ctcc/phone:+8618900000000/restrict1"),
        ]
    );
    assert!(orders.iter().filter(|o| o.verb == Verb::Restrict).all(|o| !o.channels.is_empty()));
    assert_eq!(orders[0].channels, Channel::LOCAL_VOICE_ONLY.to_vec());

    // A third case with a new card: restricted too, and the five years start again.
    let (events, orders) = check(&mut world, holder_named(3, &["13300000000"]), T0 + 2 * DAY_MS);
    assert!(events.iter().any(|e| matches!(e, BlockingEvent::PoolInvolved { cards, .. } if cards.len() == 1)));
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].request_id, "huzhou/ctcc/phone:+8613300000000/restrict1");
    assert!(matches!(refused(&mut world, holder_named(3, &["13300000000"]), T0), Rejection::AlreadyInvolved { .. }));
}

#[test]
fn given_a_pool_account_whose_holder_its_bank_named_when_a_second_case_reaches_it_then_the_holder_is_a_card_seller() {
    let mut world = World::new();
    check(&mut world, held(1), T0);
    // The bank's answer to the restriction named the holder, in the account's case.
    check(&mut world, holder_named(1, &["13800138000"]), T0 + 1);
    // No order goes to the bank for a second case (the account is restricted already): the
    // holder it named is named in this case too.
    let (events, orders) = check(&mut world, held(2), T0 + DAY_MS);
    assert!(matches!(events[0], BlockingEvent::PoolInvolved { .. }), "{events:?}");
    assert!(
        matches!(&events[1], BlockingEvent::HolderReported { case_id, phones, .. } if *case_id == case(2) && phones.is_empty())
    );
    assert!(
        matches!(&events[2], BlockingEvent::PoolEntered { subject: PoolSubject::Holder(h), cards, .. } if *h == holder() && cards.len() == 1)
    );
    assert_eq!(events.len(), 3, "the account is in the pool already: {events:?}");
    let [order] = &orders[..] else { panic!("{orders:?}") };
    assert_eq!(
        (order.request_id.as_str(), order.channels.as_slice()),
        ("huzhou/cmcc/phone:+8613800138000/restrict1", Channel::LOCAL_VOICE_ONLY.as_slice())
    );
    // The holder's first case again changes nothing more.
    assert!(matches!(refused(&mut world, held(2), T0 + DAY_MS), Rejection::AlreadyInvolved { .. }));
}
