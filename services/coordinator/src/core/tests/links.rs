//! Cross-city accounts (a notice per new claiming city) and province-wide blocks (one
//! decision, at the second city).

use events::province::{CrossCityClaim, CrossCityNotice, ProvinceBlockNotice, ProvinceUnblockNotice};

use super::*;

fn mule() -> AccountRef {
    account("icbc:6222020000001234")
}

fn stop(of: &City, seq: u64, n: u64, at: TimeMs) -> Envelope {
    env(of, seq, at, stopped(case(of, n), mule(), 1, 10_000, at))
}

fn block(of: &City, seq: u64, text: &str, at: TimeMs) -> Envelope {
    env(of, seq, at, blocked(case(of, seq), identifier(text), at))
}

#[test]
fn given_a_stop_in_hangzhou_when_wenzhou_stops_the_same_account_then_both_claims_are_announced_in_time_order() {
    let given = [stop(&hangzhou(), 1, 1, MARCH_14 + HOUR_MS)];
    check(&given, &stop(&wenzhou(), 1, 7, MARCH_14 + 2 * HOUR_MS), |answer, _| {
        let claims = vec![
            CrossCityClaim { city: hangzhou(), case_id: case(&hangzhou(), 1), first_stop_at_ms: MARCH_14 + HOUR_MS },
            CrossCityClaim { city: wenzhou(), case_id: case(&wenzhou(), 7), first_stop_at_ms: MARCH_14 + 2 * HOUR_MS },
        ];
        let notice = CrossCityNotice { account: mule(), claims, decided_at_ms: MARCH_14 + 2 * HOUR_MS };
        assert_eq!(notices(answer), vec![Notice::CrossCity(notice)]);
    });
}

#[test]
fn given_two_cities_on_an_account_when_one_of_them_stops_it_again_then_nothing_is_announced() {
    let given = [stop(&hangzhou(), 1, 1, MARCH_14), stop(&wenzhou(), 1, 1, MARCH_14 + 1)];
    check(&given, &stop(&hangzhou(), 2, 2, MARCH_14 + 2), |answer, _| assert_eq!(notices(answer), vec![]));
}

#[test]
fn given_two_cities_on_an_account_when_a_third_stops_it_then_all_three_are_announced_once() {
    let given = [stop(&hangzhou(), 1, 1, MARCH_14 + 10), stop(&wenzhou(), 1, 1, MARCH_14 + 20)];
    let mut state = check(&given, &stop(&ningbo(), 1, 1, MARCH_14 + 5), |answer, _| {
        let announced = notices(answer);
        let [Notice::CrossCity(notice)] = announced.as_slice() else { panic!("{announced:?}") };
        let order: Vec<City> = notice.claims.iter().map(|c| c.city.clone()).collect();
        assert_eq!(order, vec![ningbo(), hangzhou(), wenzhou()], "earliest stop first");
    });
    // The same set again (a second case of Ningbo) announces nothing; a redelivery neither.
    assert_eq!(notices(absorb(&mut state, &stop(&ningbo(), 2, 2, MARCH_14))), vec![]);
    assert_eq!(absorb(&mut state, &stop(&ningbo(), 1, 1, MARCH_14 + 5)), Ok(Absorbed::Duplicate));
    // An earlier stop of a city already claiming replaces its first claim, silently.
    assert_eq!(state.links.claims_on(&mule())[0].case_id, case(&ningbo(), 2));
}

#[test]
fn given_a_block_in_one_city_when_a_second_city_blocks_the_same_number_then_the_province_blocks_it_once() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14), block(&hangzhou(), 2, "phone:+8617000000001", MARCH_14)];
    let mut state = check(&given, &block(&wenzhou(), 1, number, MARCH_14 + HOUR_MS), |answer, state| {
        let decision = ProvinceBlockNotice {
            identifier: identifier(number),
            cities: vec![hangzhou(), wenzhou()],
            case_id: case(&hangzhou(), 1),
            fraud_type: FraudType::ImpersonatingAuthorities,
            first_reported_at_ms: MARCH_14,
            decided_at_ms: MARCH_14 + HOUR_MS,
        };
        assert_eq!(notices(answer), vec![Notice::ProvinceBlock(decision)]);
        assert!(state.links.province_blocked(&identifier(number)));
        assert!(!state.links.province_blocked(&identifier("phone:+8617000000001")));
    });
    // A third city blocking it decides nothing new: every city blocks it already.
    assert_eq!(notices(absorb(&mut state, &block(&ningbo(), 1, number, MARCH_14 + 2 * HOUR_MS))), vec![]);
}

#[test]
fn given_a_block_in_one_city_when_the_same_city_blocks_it_again_then_nothing_is_decided() {
    let number = "domain:fake-police.cn";
    let given = [block(&hangzhou(), 1, number, MARCH_14)];
    check(&given, &block(&hangzhou(), 2, number, MARCH_14 + DAY_MS), |answer, state| {
        assert_eq!(notices(answer), vec![]);
        assert!(!state.links.province_blocked(&identifier(number)));
    });
}

#[test]
fn given_remembered_accounts_when_a_year_passes_without_a_stop_then_they_are_forgotten() {
    let given = [stop(&hangzhou(), 1, 1, MARCH_14)];
    let mut state = check(&given, &block(&wenzhou(), 1, "phone:+8617000000000", MARCH_14), |_, _| {});
    forget_before(&mut state, MARCH_14 + 365 * DAY_MS);
    assert_eq!(state.links.sizes(), (1, 1), "a year to the ms is still remembered");
    forget_before(&mut state, MARCH_14 + 365 * DAY_MS + 1);
    assert_eq!(state.links.sizes(), (0, 0));
    // Forgotten, a second city's stop is a first claim again: no notice.
    assert_eq!(notices(absorb(&mut state, &stop(&wenzhou(), 2, 1, MARCH_14 + 400 * DAY_MS))), vec![]);
    assert_eq!(set(&state.links.claims_on(&mule()).into_iter().map(|c| c.city).collect::<Vec<_>>()), set(&[wenzhou()]));
}

#[test]
fn given_a_cross_city_account_then_each_claiming_city_is_to_hear_it_and_an_answer_settles_only_its_own() {
    let given = [stop(&hangzhou(), 1, 1, MARCH_14)];
    let mut state = check(&given, &stop(&wenzhou(), 1, 1, MARCH_14 + 1), |_, state| {
        let pending = state.outbox.pending_by_city();
        assert_eq!(pending.into_iter().collect::<Vec<_>>(), vec![(hangzhou(), 1), (wenzhou(), 1)], "not Ningbo");
    });
    let due = state.outbox.due(|_| true, |_| true, 10);
    let (to_hangzhou, sent) = due.iter().find(|(d, _)| d.city == hangzhou()).cloned().unwrap();
    // Ningbo joins while Hangzhou's notice is on its way: the newer set replaces it, and the
    // answer to the older one leaves the newer pending.
    absorb(&mut state, &stop(&ningbo(), 1, 1, MARCH_14 + 2)).unwrap();
    assert!(!state.outbox.settle(&to_hangzhou, &sent, Settled::Taken { recorded: true }));
    let [(_, Notice::CrossCity(newest))] = &state.outbox.due(|city| *city == hangzhou(), |_| true, 10)[..] else {
        panic!()
    };
    assert_eq!(newest.claims.len(), 3);
    let (delivery, newest) = state.outbox.due(|city| *city == hangzhou(), |_| true, 1).remove(0);
    assert!(state.outbox.settle(&delivery, &newest, Settled::Taken { recorded: true }));
    assert_eq!(state.outbox.pending_by_city().get(&hangzhou()), None);
    assert_eq!((state.outbox.len(), state.outbox.taken), (2, 1), "Wenzhou's and Ningbo's still pending");
}

#[test]
fn given_a_province_block_then_every_city_is_to_hear_it_and_the_outbox_survives_a_snapshot() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14)];
    let state = check(&given, &block(&wenzhou(), 1, number, MARCH_14 + 1), |_, state| {
        assert_eq!(state.outbox.len(), 3, "Hangzhou, Ningbo and Wenzhou");
    });
    let back = State::from_snapshot(&state.to_snapshot()).unwrap();
    assert_eq!(back.outbox, state.outbox);
    let due = back.outbox.due(|_| true, |_| true, 10);
    assert!(due.iter().all(|(_, n)| n.addressee() == (domain::Service::Blocking, "province_block")));
}

#[test]
fn given_a_refusal_then_the_notice_leaves_the_outbox_counted_as_refused() {
    let given = [stop(&hangzhou(), 1, 1, MARCH_14)];
    let mut state = check(&given, &stop(&wenzhou(), 1, 1, MARCH_14 + 1), |_, _| {});
    for (delivery, notice) in state.outbox.due(|_| true, |_| true, 10) {
        assert!(state.outbox.settle(&delivery, &notice, Settled::Refused));
    }
    assert!(state.outbox.is_empty());
    assert_eq!((state.outbox.taken, state.outbox.refused), (0, 2));
}

#[test]
fn given_a_block_in_one_city_when_another_blocks_it_on_the_provinces_notice_then_that_is_no_second_report() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14)];
    let mut on_notice = block(&wenzhou(), 1, number, MARCH_14 + 1);
    let Payload::Blocking(BlockingEvent::IdentifierBlocked { province, .. }) = &mut on_notice.payload else { panic!() };
    *province = Some(events::blocking::ProvinceOrigin { cities: vec![hangzhou(), ningbo()], decided_at_ms: MARCH_14 });
    check(&given, &on_notice, |answer, state| {
        assert_eq!(notices(answer), vec![]);
        assert!(!state.links.province_blocked(&identifier(number)));
        assert!(state.outbox.is_empty());
    });
}

/// A cross-city notice about the `n`th mule account, for Hangzhou and Wenzhou.
fn notice_about(n: u64) -> Notice {
    let claim = |city: City| CrossCityClaim { case_id: case(&city, 1), city, first_stop_at_ms: MARCH_14 };
    Notice::CrossCity(CrossCityNotice {
        account: account(&format!("icbc:6222{n:012}")),
        claims: vec![claim(hangzhou()), claim(wenzhou())],
        decided_at_ms: MARCH_14,
    })
}

#[test]
fn at_the_bound_of_pending_notices_a_new_subject_is_dropped_and_counted_while_a_newer_notice_of_a_pending_one_replaces_it()
 {
    let mut outbox = crate::core::Outbox::default();
    let limit = crate::limits::MAX_PENDING_NOTICES as u64;
    for n in 0..limit / 2 {
        outbox.push(&notice_about(n), [hangzhou(), wenzhou()].iter());
    }
    assert_eq!((outbox.len() as u64, outbox.dropped), (limit, 0));
    // A new account: neither city can keep it.
    outbox.push(&notice_about(limit), [hangzhou(), wenzhou()].iter());
    assert_eq!((outbox.len() as u64, outbox.dropped), (limit, 2));
    // A newer set of claims on an account already pending replaces it: nothing dropped.
    let Notice::CrossCity(mut newer) = notice_about(0) else { unreachable!() };
    newer.decided_at_ms += 1;
    outbox.push(&Notice::CrossCity(newer.clone()), [hangzhou()].iter());
    assert_eq!((outbox.len() as u64, outbox.dropped), (limit, 2));
    let first = outbox.due(|city| *city == hangzhou(), |_| true, 1);
    assert_eq!(first[0].1, Notice::CrossCity(newer));
}

#[test]
fn a_city_waiting_out_a_miss_is_passed_over_whole_and_the_others_hear_theirs() {
    let mut outbox = crate::core::Outbox::default();
    for n in 0..1_000 {
        outbox.push(&notice_about(n), [hangzhou(), wenzhou()].iter());
    }
    let due = outbox.due(|city| *city != hangzhou(), |_| true, 5);
    assert_eq!(due.len(), 5);
    assert!(due.iter().all(|(delivery, _)| delivery.city == wenzhou()), "{due:?}");
    // Notices in flight are skipped, not counted against the limit.
    let in_flight: Vec<_> = due.iter().map(|(delivery, _)| delivery.clone()).collect();
    let next = outbox.due(|_| true, |d| !in_flight.contains(d), 2_000);
    assert_eq!(next.len(), 2_000 - 5);
}

#[test]
fn given_a_province_block_when_a_city_joins_later_then_it_alone_is_to_hear_the_block_decided_before() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14)];
    let mut state = check(&given, &block(&wenzhou(), 1, number, MARCH_14 + HOUR_MS), |_, _| {});
    for (delivery, notice) in state.outbox.due(|_| true, |_| true, 10) {
        assert!(state.outbox.settle(&delivery, &notice, Settled::Taken { recorded: true }));
    }
    let taken = state.outbox.taken;
    let lishui = City::parse("lishui").unwrap();
    state.admit_cities([hangzhou(), lishui.clone()]).unwrap();
    let due = state.outbox.due(|_| true, |_| true, 10);
    let [(delivery, Notice::ProvinceBlock(told))] = &due[..] else { panic!("{due:?}") };
    assert_eq!(delivery.city, lishui);
    assert_eq!((&told.identifier, &told.cities[..]), (&identifier(number), &[hangzhou(), wenzhou()][..]));
    assert_eq!((told.decided_at_ms, told.first_reported_at_ms), (MARCH_14 + HOUR_MS, MARCH_14));
    assert_eq!(state.outbox.taken, taken);
    // Admitted again (the next start names it too): nothing more to tell.
    state.admit_cities([lishui]).unwrap();
    assert_eq!(state.outbox.len(), 1);
}

/// `of` lifted its block of `text` (an appeal), as event `seq` of its blocking.
fn lift(of: &City, seq: u64, text: &str, at: TimeMs) -> Envelope {
    let appeal = events::blocking::Appeal { reason: "a bakery's line".into(), operator: "officer-9".into() };
    let lifted = BlockingEvent::BlockLifted { identifier: identifier(text), generation: 1, lifted_at_ms: at, appeal };
    env(of, seq, at, Payload::Blocking(lifted))
}

fn withdrawal(text: &str, lifted_in: City, at: TimeMs) -> Notice {
    Notice::ProvinceUnblock(ProvinceUnblockNotice { identifier: identifier(text), lifted_in, decided_at_ms: at })
}

#[test]
fn given_three_cities_blocking_a_number_when_one_lifts_its_block_then_the_province_keeps_it_blocked() {
    let number = "phone:+8617000000000";
    let given = [
        block(&hangzhou(), 1, number, MARCH_14),
        block(&wenzhou(), 1, number, MARCH_14 + 1),
        block(&ningbo(), 1, number, MARCH_14 + 2),
    ];
    check(&given, &lift(&wenzhou(), 2, number, MARCH_14 + DAY_MS), |answer, state| {
        assert_eq!(notices(answer), vec![]);
        assert!(state.links.province_blocked(&identifier(number)), "Hangzhou and Ningbo still hold theirs");
    });
}

#[test]
fn given_two_cities_blocking_a_number_when_one_lifts_its_block_then_every_city_is_to_hear_the_withdrawal() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14), block(&wenzhou(), 1, number, MARCH_14 + 1)];
    let mut state = check(&given, &lift(&hangzhou(), 2, number, MARCH_14 + DAY_MS), |answer, state| {
        assert_eq!(notices(answer), vec![withdrawal(number, hangzhou(), MARCH_14 + DAY_MS)]);
        assert!(!state.links.province_blocked(&identifier(number)));
        assert_eq!(state.links.province_blocks().count(), 0, "a city joining now is not told of it");
        // The block not yet heard is replaced: each city is to hear the withdrawal alone.
        let due = state.outbox.due(|_| true, |_| true, 10);
        assert_eq!(due.len(), 3, "{due:?}");
        let cities: Vec<City> = due.iter().map(|(delivery, _)| delivery.city.clone()).collect();
        assert_eq!(set(&cities), set(&[hangzhou(), wenzhou(), ningbo()]));
        for (_, notice) in &due {
            assert_eq!(notice, &withdrawal(number, hangzhou(), MARCH_14 + DAY_MS));
            assert_eq!(notice.addressee(), (domain::Service::Blocking, "province_unblock"));
        }
    });
    // Wenzhou lifting its own too withdraws nothing more: the province holds no block.
    assert_eq!(notices(absorb(&mut state, &lift(&wenzhou(), 2, number, MARCH_14 + 2 * DAY_MS))), vec![]);
}

#[test]
fn given_a_province_block_when_a_city_that_held_only_the_provinces_block_lifts_it_then_nothing_changes() {
    let number = "domain:fake-police.cn";
    let given = [block(&hangzhou(), 1, number, MARCH_14), block(&wenzhou(), 1, number, MARCH_14 + 1)];
    let mut state = check(&given, &lift(&ningbo(), 1, number, MARCH_14 + DAY_MS), |answer, state| {
        assert_eq!(notices(answer), vec![]);
        assert!(state.links.province_blocked(&identifier(number)));
    });
    // Nor does a lift of an identifier the province never heard of (remembered, for a block
    // of that generation absorbed later not to count).
    assert_eq!(notices(absorb(&mut state, &lift(&ningbo(), 2, "ip:8.8.4.4", MARCH_14 + DAY_MS))), vec![]);
    assert!(!state.links.province_blocked(&identifier("ip:8.8.4.4")));
}

#[test]
fn given_a_lift_absorbed_before_the_block_it_lifts_when_that_block_arrives_then_it_does_not_count() {
    let number = "phone:+8617000000000";
    // Wenzhou's block (its seq 1) is a gap the province fills after the lift (its seq 2).
    let given = [block(&hangzhou(), 1, number, MARCH_14), lift(&wenzhou(), 2, number, MARCH_14 + DAY_MS)];
    check(&given, &block(&wenzhou(), 1, number, MARCH_14 + 1), |answer, state| {
        assert_eq!(notices(answer), vec![]);
        assert!(!state.links.province_blocked(&identifier(number)));
    });
}

#[test]
fn given_a_newer_block_of_a_city_when_the_lift_of_its_older_block_arrives_late_then_the_city_still_counts() {
    let number = "phone:+8617000000000";
    let mut renewed = block(&wenzhou(), 3, number, MARCH_14 + 2 * DAY_MS);
    let Payload::Blocking(BlockingEvent::IdentifierBlocked { generation, .. }) = &mut renewed.payload else { panic!() };
    *generation = 2;
    let given = [block(&hangzhou(), 1, number, MARCH_14), block(&wenzhou(), 1, number, MARCH_14 + 1), renewed];
    // The lift of Wenzhou's first block (its seq 2) arrives after its second block.
    check(&given, &lift(&wenzhou(), 2, number, MARCH_14 + DAY_MS), |answer, state| {
        assert_eq!(notices(answer), vec![]);
        assert!(state.links.province_blocked(&identifier(number)), "Wenzhou holds its second block");
    });
}

#[test]
fn given_a_withdrawn_province_block_when_two_cities_block_it_again_then_the_province_blocks_it_again() {
    let number = "phone:+8617000000000";
    let given = [
        block(&hangzhou(), 1, number, MARCH_14),
        block(&wenzhou(), 1, number, MARCH_14 + 1),
        lift(&hangzhou(), 2, number, MARCH_14 + DAY_MS),
    ];
    // Wenzhou still holds its own: Ningbo's block is the second city's again.
    let later = MARCH_14 + 2 * DAY_MS;
    check(&given, &block(&ningbo(), 1, number, later), |answer, state| {
        let [Notice::ProvinceBlock(decision)] = &notices(answer)[..] else { panic!("a new decision") };
        assert_eq!((&decision.cities[..], decision.decided_at_ms), (&[wenzhou(), ningbo()][..], later));
        assert!(state.links.province_blocked(&identifier(number)));
        // The newer block replaces the withdrawal not yet heard.
        let due = state.outbox.due(|_| true, |_| true, 10);
        assert_eq!(due.len(), 3, "{due:?}");
        assert!(due.iter().all(|(_, notice)| matches!(notice, Notice::ProvinceBlock(_))), "{due:?}");
    });
}

#[test]
fn given_a_province_block_on_its_way_when_it_is_withdrawn_then_the_answer_to_the_block_leaves_the_withdrawal_pending() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14)];
    let mut state = check(&given, &block(&wenzhou(), 1, number, MARCH_14 + 1), |_, _| {});
    let due = state.outbox.due(|city| *city == ningbo(), |_| true, 10);
    let [(to_ningbo, Notice::ProvinceBlock(_))] = &due[..] else { panic!("{due:?}") };
    let sent = due[0].1.clone();
    absorb(&mut state, &lift(&wenzhou(), 2, number, MARCH_14 + HOUR_MS)).unwrap();
    assert_eq!(state.outbox.len(), 3, "one notice a city: the withdrawal replaced the block");
    assert!(!state.outbox.settle(to_ningbo, &sent, Settled::Taken { recorded: true }));
    let due = state.outbox.due(|city| *city == ningbo(), |_| true, 10);
    assert_eq!(due, vec![(to_ningbo.clone(), withdrawal(number, wenzhou(), MARCH_14 + HOUR_MS))]);
    let back = State::from_snapshot(&state.to_snapshot()).unwrap();
    assert_eq!(back.outbox, state.outbox, "the withdrawal survives a snapshot");
}

#[test]
fn given_a_province_block_that_a_third_citys_own_case_named_when_one_of_the_two_lifts_then_the_province_keeps_it() {
    let number = "phone:+8617000000000";
    // Ningbo held the province's block; then a case of its own named the number.
    let extended = BlockingEvent::BlockExtended {
        identifier: identifier(number),
        generation: 1,
        case_id: case(&ningbo(), 4),
        fraud_type: FraudType::ImpersonatingAuthorities,
        extended_at_ms: MARCH_14 + HOUR_MS,
        expires_at_ms: MARCH_14 + 90 * DAY_MS,
    };
    let given = [
        block(&hangzhou(), 1, number, MARCH_14),
        block(&wenzhou(), 1, number, MARCH_14 + 1),
        env(&ningbo(), 1, MARCH_14 + HOUR_MS, Payload::Blocking(extended)),
    ];
    check(&given, &lift(&hangzhou(), 2, number, MARCH_14 + DAY_MS), |answer, state| {
        assert_eq!(notices(answer), vec![], "Wenzhou and Ningbo hold their own");
        assert!(state.links.province_blocked(&identifier(number)));
    });
}
