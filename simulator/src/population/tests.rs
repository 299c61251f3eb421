//! The population: contacts signalled by the person's carrier after the delay, a first
//! contact through a number the person's center blocked sparing them, warnings before the
//! payment avoiding the loss and after it finding the person already paid, and outcomes
//! drawn from the seed.

use domain::{AccountRef, City, Fen, FraudType, IdentifierKind};
use protocol::carrier::{BlockRequest, BlockTarget, RequestId};
use protocol::signal::SignalWhat;

use super::*;
use crate::scenario::Span;

const T0: TimeMs = 1_763_700_000_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 3_600_000;
const SCAM: &str = "+8617012345678";

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn gang_lines() -> Contacts {
    let mut contacts = Contacts::default();
    let never = Span { min: 366 * 24 * HOUR, max: 366 * 24 * HOUR };
    contacts.add_gang(1, "kefu", never, &[SCAM.to_owned()], &["https://kefu123.com.cn/".to_owned()]);
    contacts
}

fn all_or_nothing(effect: f64) -> Effects {
    Effects { sms: effect, call: effect, visit: effect, unreachable_share: 0.5 }
}

/// Someone of `home` reached through the gang's number at T0 and its site an hour later, who
/// would pay ¥5,000 at T0 + 6 h.
fn person(phone: &str, home: &str) -> (Person, Vec<Planned>) {
    let person = Person {
        phone: phone.to_owned(),
        name: "李娜".into(),
        id_number: "33050219800101002X".into(),
        carrier: Carrier::issuing(phone).unwrap(),
        city: city(home),
        gang: 0,
        fraud_type: FraudType::FakeCustomerService,
        first_contact_ms: T0,
        pays: Some(Payment {
            at_ms: T0 + 6 * HOUR,
            amount: Fen::yuan(5_000),
            to: AccountRef::parse("icbc:6222020200009999").unwrap(),
        }),
        handset_off: false,
    };
    let touches = vec![
        Planned { at_ms: T0, delay_ms: 5 * MINUTE, touch: Touch::Contact { line: 0, duration_s: 600 } },
        Planned { at_ms: T0 + HOUR, delay_ms: MINUTE, touch: Touch::Contact { line: 1, duration_s: 0 } },
        Planned { at_ms: T0 + 5 * HOUR, delay_ms: MINUTE, touch: Touch::Instructions },
    ];
    (person, touches)
}

fn one(effects: Effects) -> Population {
    let mut population = Population::new(7, effects);
    let (someone, touches) = person("+8613800138000", "huzhou");
    assert_eq!(population.add(someone, &touches), Some(0));
    population
}

fn block(telecom: &mut Telecom, center: &str, at: TimeMs) {
    let request = BlockRequest {
        request_id: RequestId::parse(&format!("{center}/ctcc/phone:{SCAM}/block1")).unwrap(),
        center: city(center),
        identifier: BlockTarget::new(IdentifierKind::Phone, SCAM).unwrap(),
    };
    telecom.block(Carrier::Ctcc, &request, at).unwrap();
}

#[test]
fn contacts_become_the_persons_carriers_signals_after_the_delay() {
    let (mut population, mut contacts, telecom) = (one(all_or_nothing(0.0)), gang_lines(), Telecom::new());
    assert_eq!(population.advance(T0 + 2 * MINUTE, &mut contacts, &telecom), 1);
    assert_eq!(population.fate(0), Fate::Reached);
    assert!(population.take_signals(T0 + 2 * MINUTE, 10).is_empty(), "the carrier signals it 5 minutes later");
    let due = population.take_signals(T0 + 5 * MINUTE, 10);
    assert_eq!(due.len(), 1);
    let signal = &due[0];
    assert_eq!((signal.city.as_str(), signal.carrier, signal.emit_at_ms), ("huzhou", Carrier::Cmcc, T0 + 5 * MINUTE));
    let message = &signal.message;
    assert_eq!((message.source.as_str(), message.signal_id.as_str()), ("cmcc", "p0-0"));
    assert_eq!((message.subscriber.as_str(), message.at_ms), ("+8613800138000", T0));
    assert_eq!(message.what, SignalWhat::Contact { identifier: format!("phone:{SCAM}"), duration_s: 600 });

    population.advance(T0 + 6 * HOUR, &mut contacts, &telecom);
    let rest: Vec<SignalWhat> =
        population.take_signals(T0 + 6 * HOUR, 10).into_iter().map(|s| s.message.what).collect();
    assert_eq!(
        rest,
        [
            SignalWhat::Contact { identifier: "domain:kefu123.com.cn".into(), duration_s: 0 },
            SignalWhat::TransferInstructions
        ]
    );
    assert_eq!((population.signals_sent(), population.pending()), (3, (0, 0)));
    assert_eq!(population.paid_at(0, T0 + 6 * HOUR), Some(T0 + 6 * HOUR), "nobody warned them");
    let truth = population.truth(T0 + 6 * HOUR).unwrap();
    assert_eq!((truth.reached, truth.would_pay, truth.paid, truth.lost_fen), (1, 1, 1, Fen::yuan(5_000).get()));
    assert_eq!((truth.warned_before_paying, truth.loss_avoided_fen), (0, 0));
}

#[test]
fn signals_are_taken_in_time_order_a_batch_at_a_time() {
    let mut population = one(all_or_nothing(0.0));
    let (other, touches) = person("+8618900000000", "huzhou");
    population.add(other, &touches).unwrap();
    let (again, touches) = person("+8618900000000", "wenzhou");
    assert_eq!(population.add(again, &touches), None, "a number is one person's");
    let (mut contacts, telecom) = (gang_lines(), Telecom::new());
    population.advance(T0 + 6 * HOUR, &mut contacts, &telecom);
    let first = population.take_signals(T0 + 6 * HOUR, 4);
    let times: Vec<TimeMs> = first.iter().map(|s| s.emit_at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!((first.len(), population.take_signals(T0 + 6 * HOUR, 4).len()), (4, 2));
}

#[test]
fn a_first_contact_through_a_number_their_center_blocked_spares_them() {
    let (mut contacts, mut telecom) = (gang_lines(), Telecom::new());
    block(&mut telecom, "huzhou", T0 - HOUR);
    let mut population = one(all_or_nothing(0.0));
    population.advance(T0 + 6 * HOUR, &mut contacts, &telecom);
    assert_eq!(population.fate(0), Fate::Spared);
    assert!(population.take_signals(T0 + 6 * HOUR, 10).is_empty(), "the gang never reached them");
    assert_eq!(population.paid_at(0, T0 + 7 * HOUR), None);
    let truth = population.truth(T0 + 7 * HOUR).unwrap();
    assert_eq!((truth.spared_by_blocks, truth.reached, truth.would_pay, truth.paid), (1, 0, 0, 0));

    // Another center's block does not protect them; a block after their first contact stops
    // only the calls after it.
    let (mut contacts, mut telecom) = (gang_lines(), Telecom::new());
    block(&mut telecom, "wenzhou", T0 - HOUR);
    block(&mut telecom, "huzhou", T0 + MINUTE);
    let mut population = one(all_or_nothing(0.0));
    population.advance(T0 + 6 * HOUR, &mut contacts, &telecom);
    assert_eq!(population.fate(0), Fate::Reached);
    assert_eq!(population.take_signals(T0 + 6 * HOUR, 10).len(), 3, "the site and the instructions still reach");
    assert_eq!(population.contacts_blocked(), 0);
}

#[test]
fn a_warning_before_the_payment_avoids_the_loss() {
    let (mut contacts, telecom) = (gang_lines(), Telecom::new());
    let mut population = one(all_or_nothing(1.0));
    population.advance(T0 + 2 * HOUR, &mut contacts, &telecom);
    assert_eq!(population.staff_outcome("+8613800138000", Step::Call, T0 + 2 * HOUR), StaffOutcome::Persuaded);
    assert_eq!(population.warned(0), Some((T0 + 2 * HOUR, Step::Call)));
    population.advance(T0 + 7 * HOUR, &mut contacts, &telecom);
    assert_eq!(population.take_signals(T0 + 7 * HOUR, 10).len(), 2, "nothing reaches them after the warning");
    assert_eq!(population.paid_at(0, T0 + 7 * HOUR), None);
    let truth = population.truth(T0 + 7 * HOUR).unwrap();
    assert_eq!((truth.warned_before_paying, truth.loss_avoided_fen), (1, Fen::yuan(5_000).get()));
    assert_eq!((truth.paid, truth.lost_fen, truth.stopped_by["call"]), (0, 0, 1));
}

#[test]
fn a_call_after_the_payment_finds_them_already_paid() {
    let (mut contacts, telecom) = (gang_lines(), Telecom::new());
    let mut population = one(all_or_nothing(1.0));
    population.advance(T0 + 7 * HOUR, &mut contacts, &telecom);
    let outcome = population.staff_outcome("+8613800138000", Step::Visit(0), T0 + 7 * HOUR);
    assert_eq!(outcome, StaffOutcome::AlreadyPaid);
    population.sms_delivered("+8613800138000", T0 + 7 * HOUR);
    assert_eq!(population.warned(0), None, "too late to stop anything");
    let truth = population.truth(T0 + 7 * HOUR).unwrap();
    assert_eq!((truth.paid, truth.warned_before_paying), (1, 0));
    let outcomes: Vec<StaffOutcome> = population.steps().iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [StaffOutcome::AlreadyPaid, StaffOutcome::AlreadyPaid]);
    let report = population.people()[0].paid_report().unwrap();
    assert_eq!((report.name.as_str(), report.fraud_type.as_deref()), ("李娜", Some("fake_customer_service")));
    assert_eq!(report.transfers[0]["account"], "icbc:6222020200009999");
    assert_eq!(report.transfers[0]["amount_fen"], 500_000);
    assert_eq!(report.transfers[0]["at_ms"], T0 + 6 * HOUR);
}

#[test]
fn a_handset_off_is_not_reached_by_a_call_and_a_stranger_is_a_false_positive() {
    let mut population = Population::new(7, all_or_nothing(1.0));
    let (mut someone, touches) = person("+8613800138000", "huzhou");
    someone.handset_off = true;
    population.add(someone, &touches).unwrap();
    population.advance(T0, &mut gang_lines(), &Telecom::new());
    assert_eq!(population.staff_outcome("+8613800138000", Step::Call, T0 + HOUR), StaffOutcome::Unreachable);
    assert_eq!(population.staff_outcome("+8613800138000", Step::Visit(0), T0 + HOUR), StaffOutcome::Persuaded);
    assert_eq!(population.staff_outcome("+8613300000000", Step::Call, T0 + HOUR), StaffOutcome::FalsePositive);
    assert_eq!(population.steps().last().map(|s| s.person), Some(None));
}

#[test]
fn outcomes_are_drawn_from_the_seed_at_the_steps_effect() {
    let run = |seed: u64| {
        let mut population = Population::new(seed, Effects { sms: 0.3, call: 0.5, visit: 0.8, unreachable_share: 0.5 });
        for n in 0..400u32 {
            let (someone, touches) = person(&format!("+86138{n:08}"), "huzhou");
            population.add(someone, &touches).unwrap();
        }
        population.advance(T0, &mut gang_lines(), &Telecom::new());
        let calls: Vec<StaffOutcome> =
            (0..400u32).map(|n| population.staff_outcome(&format!("+86138{n:08}"), Step::Call, T0 + HOUR)).collect();
        for n in 0..400u32 {
            population.sms_delivered(&format!("+86138{n:08}"), T0 + HOUR);
        }
        (calls, population.truth(T0 + HOUR).unwrap().warned)
    };
    let (calls, warned) = run(7);
    assert_eq!(run(7), (calls.clone(), warned), "the same seed, the same outcomes");
    assert_ne!(run(8).0, calls, "another seed, other outcomes");
    let persuaded = calls.iter().filter(|o| **o == StaffOutcome::Persuaded).count();
    assert!((160..=240).contains(&persuaded), "half of 400 calls persuade: {persuaded}");
    let unreachable = calls.iter().filter(|o| **o == StaffOutcome::Unreachable).count();
    assert!((60..=140).contains(&unreachable), "half of the rest are not reached: {unreachable}");
    // Persuaded by the call, or else by the SMS with 0.3: about 0.5 + 0.5 × 0.3.
    assert!((230..=290).contains(&warned), "{warned}");
}
