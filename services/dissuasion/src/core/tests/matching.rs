//! Signals against scam identifiers and cases against signals; duplicates and bad signals.

use domain::FraudType;

use super::*;
use crate::events::{Clue, Level, TaskKind};

const PIG: FraudType = FraudType::PigButchering;

fn evidence_count(events: &[DissuasionEvent]) -> usize {
    events.iter().filter(|e| matches!(e, DissuasionEvent::EvidenceAdded { .. })).count()
}

#[test]
fn given_a_known_number_when_a_signal_names_it_then_the_subscriber_is_warned_by_sms() {
    let mut world = World::new();
    check(&mut world, known(FAKE_SHOP, T0, PIG), T0);
    let signal = contact(&mut world, "138 0013 8000", FAKE_SHOP, T0 + HOUR_MS, 20);
    let (events, orders) = check(&mut world, signal, T0 + HOUR_MS);
    assert!(matches!(&events[0], DissuasionEvent::EvidenceAdded { clue: Clue::Contact { .. }, .. }), "{events:?}");
    let DissuasionEvent::TaskOpened { task, grade, kind, first_contact_ms, .. } = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!((*task, *grade, *kind, *first_contact_ms), (TaskId(0), Grade::Low, TaskKind::Sms, T0 + HOUR_MS));
    let [Order::Sms { request_id, carrier, person: to }] = &orders[..] else { panic!("{orders:?}") };
    assert_eq!((request_id.as_str(), carrier.as_str(), *to), ("wuhan/cmcc/sms/t0", "cmcc", person(ALICE).key));
    assert_eq!(pending_orders(&world.state), orders, "a restart sends it again under the same id");
}

#[test]
fn given_signals_kept_when_a_case_names_the_number_then_the_people_it_reached_are_found() {
    let mut world = World::new();
    let first = contact(&mut world, ALICE, FAKE_SHOP, T0, 30);
    let (events, _) = check(&mut world, first, T0);
    assert_eq!(evidence_count(&events), 0, "nobody knows the number yet: kept, not evidence");
    let second = contact(&mut world, BOB, "phone:+8613900000000", T0, 30);
    check(&mut world, second, T0);
    let (events, _) = check(&mut world, reported(1, PIG, &[FAKE_SHOP], T0 + 6 * DAY_MS), T0 + 6 * DAY_MS);
    assert_eq!(evidence_count(&events), 1, "{events:?}");
    assert!(open_task(&world, ALICE).is_some() && open_task(&world, BOB).is_none());
    assert_eq!(open_task(&world, ALICE).unwrap().first_contact_ms, T0, "reached before the report: most urgent");
}

#[test]
fn a_contact_more_than_the_window_before_the_report_is_not_evidence() {
    let mut world = World::new();
    let old = contact(&mut world, ALICE, FAKE_SHOP, T0, 30);
    check(&mut world, old, T0);
    let (events, _) = check(&mut world, reported(1, PIG, &[FAKE_SHOP], T0 + 8 * DAY_MS), T0 + 8 * DAY_MS);
    assert_eq!(evidence_count(&events), 0, "{events:?}");
    let late = contact(&mut world, BOB, FAKE_SHOP, T0 + 8 * DAY_MS, 30);
    check(&mut world, late, T0 + 8 * DAY_MS);
    assert!(!world.state.seen.keys().any(|k| k.id == "sig-1"), "the old signal is forgotten as the window moves");
}

#[test]
fn a_number_whose_block_ended_is_evidence_only_for_contacts_before_the_end() {
    let mut world = World::new();
    check(&mut world, known(FAKE_POLICE, T0, FraudType::ImpersonatingAuthorities), T0);
    let end = T0 + DAY_MS;
    check(&mut world, Input::ScamIdentifierEnded { identifier: id(FAKE_POLICE), until_ms: end }, end);
    let after = contact(&mut world, ALICE, FAKE_POLICE, end + 1, 60);
    let (events, _) = check(&mut world, after, end + 1);
    assert_eq!(evidence_count(&events), 0, "the number is someone else's now");
    let before = contact(&mut world, BOB, FAKE_POLICE, end - 1, 60);
    let (events, _) = check(&mut world, before, end + 2);
    assert_eq!(evidence_count(&events), 1, "a late signal of a contact while it was a scam number");
    let again = Input::ScamIdentifierEnded { identifier: id(FAKE_POLICE), until_ms: end };
    assert!(matches!(refused(&mut world, again, end + 3), Rejection::NotKnown { .. }));
}

#[test]
fn a_number_known_again_from_a_case_does_not_count_its_contacts_twice() {
    let mut world = World::new();
    check(&mut world, known(FAKE_SHOP, T0, PIG), T0);
    let signal = contact(&mut world, ALICE, FAKE_SHOP, T0 + 1, 30);
    check(&mut world, signal, T0 + 1);
    let (events, _) = check(&mut world, reported(1, FraudType::OnlineLoan, &[FAKE_SHOP], T0 + 2), T0 + 2);
    assert_eq!(evidence_count(&events), 0, "{events:?}");
    assert!(world.state.scam[&id(FAKE_SHOP)].fraud_types.contains(&FraudType::OnlineLoan));
    let again = reported(1, PIG, &[FAKE_SHOP], T0 + 3);
    assert_eq!(refused(&mut world, again, T0 + 3), Rejection::CaseKnown { case_id: case(1) });
}

#[test]
fn a_resent_signal_is_deduplicated_with_its_reason() {
    let mut world = World::new();
    check(&mut world, known(FAKE_SHOP, T0, PIG), T0);
    let signal = raw(7, ALICE, T0, RawWhat::Contact { identifier: FAKE_SHOP.into(), duration_s: 5 });
    check(&mut world, signal.clone(), T0);
    let rejection = refused(&mut world, signal, T0 + 1_000);
    assert!(matches!(&rejection, Rejection::DuplicateSignal { id, .. } if id == "sig-7"), "{rejection}");
    assert_eq!(world.state.people[&person(ALICE)].evidence.exposures[&id(FAKE_SHOP)].contacts, 1);
}

#[test]
fn bad_signals_are_refused_naming_field_value_and_what_is_accepted_never_the_number() {
    let mut world = World::new();
    let contact_with = |identifier: &str, duration_s| RawWhat::Contact { identifier: identifier.into(), duration_s };
    let cases: Vec<(Input, SignalReason, &str)> = vec![
        (raw(1, ALICE, T0, contact_with("fax:12345", 0)), SignalReason::UnknownIdentifierKind, "identifier"),
        (raw(2, ALICE, T0, contact_with("phone:95588", 0)), SignalReason::MalformedIdentifier, "identifier"),
        (raw(3, "1380013", T0, contact_with(FAKE_SHOP, 0)), SignalReason::MalformedSubscriber, "subscriber"),
        (raw(4, ALICE, T0 + HOUR_MS, contact_with(FAKE_SHOP, 0)), SignalReason::TooFarInFuture, "at_ms"),
        (raw(5, ALICE, T0 - 8 * DAY_MS, contact_with(FAKE_SHOP, 0)), SignalReason::TooOld, "at_ms"),
        (raw(6, ALICE, T0, contact_with(FAKE_SHOP, 90_000)), SignalReason::TooLong, "duration_s"),
        (raw(7, ALICE, T0, RawWhat::AppInstalled { app: FAKE_SHOP.into() }), SignalReason::NotAnApp, "app"),
    ];
    for (input, reason, field) in cases {
        let Rejection::Signal(problem) = refused(&mut world, input, T0) else { panic!("{reason:?}") };
        assert_eq!((problem.reason, problem.field), (reason, field), "{problem}");
        assert!(!problem.to_string().contains("1380013"), "{problem}");
    }
    let mut unknown = raw(8, ALICE, T0, contact_with(FAKE_SHOP, 0));
    if let Input::Signal(signal) = &mut unknown {
        signal.source = "carrier-x".into();
    }
    assert!(
        matches!(refused(&mut world, unknown, T0), Rejection::Signal(p) if p.reason == SignalReason::UnknownSource)
    );
}

#[test]
fn any_spelling_of_a_number_in_a_signal_matches_the_normalised_identifier() {
    let mut world = World::new();
    check(&mut world, known(FAKE_POLICE, T0, PIG), T0);
    let signal = contact(&mut world, ALICE, "phone:170 0000 0000", T0, 5);
    let (events, _) = check(&mut world, signal, T0);
    assert_eq!(evidence_count(&events), 1, "{events:?}");
}

#[test]
fn transfer_instructions_or_a_scam_app_make_a_visit_at_once() {
    let mut world = World::new();
    let signal = transfer(&mut world, ALICE, T0);
    let (events, orders) = check(&mut world, signal, T0);
    assert!(orders.is_empty());
    assert!(events.iter().any(|e| matches!(e, DissuasionEvent::TaskOpened { grade: Grade::High, .. })), "{events:?}");
    assert_eq!(open_task(&world, ALICE).unwrap().kind, TaskKind::Visit(Level::CityBureau));
    // An app install is kept under the app and back-matched when the app becomes known.
    world.signals += 1;
    let install = raw(world.signals, BOB, T0, RawWhat::AppInstalled { app: LOAN_APP.into() });
    check(&mut world, install, T0);
    assert!(open_task(&world, BOB).is_none());
    check(&mut world, known(LOAN_APP, T0 + 1, FraudType::OnlineLoan), T0 + 1);
    assert_eq!(open_task(&world, BOB).unwrap().grade, Grade::High);
}
