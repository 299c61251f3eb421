//! Cross-city accounts (a notice per new claiming city) and province-wide blocks (one
//! decision, at the second city).

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
            Claim { city: hangzhou(), case: case(&hangzhou(), 1), first_stop_at_ms: MARCH_14 + HOUR_MS },
            Claim { city: wenzhou(), case: case(&wenzhou(), 7), first_stop_at_ms: MARCH_14 + 2 * HOUR_MS },
        ];
        assert_eq!(notices(answer), vec![Notice::CrossCity(CrossCity { account: mule(), claims })]);
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
    assert_eq!(state.links.claims_on(&mule())[0].case, case(&ningbo(), 2));
}

#[test]
fn given_a_block_in_one_city_when_a_second_city_blocks_the_same_number_then_the_province_blocks_it_once() {
    let number = "phone:+8617000000000";
    let given = [block(&hangzhou(), 1, number, MARCH_14), block(&hangzhou(), 2, "phone:+8617000000001", MARCH_14)];
    let mut state = check(&given, &block(&wenzhou(), 1, number, MARCH_14 + HOUR_MS), |answer, state| {
        let decision = ProvinceBlock {
            identifier: identifier(number),
            cities: vec![hangzhou(), wenzhou()],
            first_reported_at_ms: MARCH_14,
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
