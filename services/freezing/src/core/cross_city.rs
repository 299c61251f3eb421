//! The province coordinator's cross-city notices: cases of two or more cities stopped an
//! account this center holds. Freezing records every city's claim on its hold
//! (`cross_city_claims`), so who else claims the money, and who stopped it first, is known
//! where the money is held and to restitution, which reads the event.

use std::collections::BTreeSet;

use domain::{AccountRef, City, TimeMs};
use events::FreezingEvent;
use events::province::CrossCityClaim;

use super::{Decided, Rejection, State};
use crate::limits::MAX_CROSS_CITY_CLAIMS;

/// What `city` hearing the notice of `claims` on `account` at `now` records: nothing when the
/// hold records these claims already (the notice heard again, or an older one heard late:
/// the cities claiming an account only grow), `cross_city_claims` otherwise. Refused when
/// the notice does not hold together or the center holds no stop on the account.
pub(super) fn decide(
    state: &State,
    city: &City,
    account: AccountRef,
    mut claims: Vec<CrossCityClaim>,
    now: TimeMs,
) -> Result<Decided, Rejection> {
    check(city, &claims)?;
    let hold = state.hold(&account).ok_or_else(|| Rejection::NotHeld { account: account.clone() })?;
    // Earliest first stop first, ties by city: the order the contract gives, kept whatever
    // order a notice lists them in, so the same claims are always recorded alike.
    claims.sort_by(|a, b| (a.first_stop_at_ms, &a.city).cmp(&(b.first_stop_at_ms, &b.city)));
    if claims.iter().all(|claim| hold.cross_city_claims.contains(claim)) {
        return Ok(Decided::default());
    }
    let event = FreezingEvent::CrossCityClaims { account, claims, noticed_at_ms: now };
    Ok(Decided { events: vec![event], requests: Vec::new() })
}

/// A notice names two cities or more (at most [`MAX_CROSS_CITY_CLAIMS`]), each once, each
/// with a case of its own, and one of them is `city`.
fn check(city: &City, claims: &[CrossCityClaim]) -> Result<(), Rejection> {
    let invalid = |field: String, value: String, expected: String| Rejection::InvalidNotice { field, value, expected };
    if claims.len() < 2 {
        let value = format!("{} claim(s)", claims.len());
        return Err(invalid("claims".into(), value, "the claims of two cities or more".into()));
    }
    if claims.len() > MAX_CROSS_CITY_CLAIMS {
        let value = format!("{} claims", claims.len());
        return Err(invalid("claims".into(), value, format!("at most {MAX_CROSS_CITY_CLAIMS} claims, one per city")));
    }
    let mut cities = BTreeSet::new();
    for (index, claim) in claims.iter().enumerate() {
        if claim.case_id.city() != claim.city {
            let expected = format!("a case of {}", claim.city);
            return Err(invalid(format!("claims[{index}].case_id"), claim.case_id.to_string(), expected));
        }
        if !cities.insert(&claim.city) {
            let expected = "each city once".to_owned();
            return Err(invalid(format!("claims[{index}].city"), claim.city.to_string(), expected));
        }
    }
    if !cities.contains(city) {
        let listed: Vec<String> = cities.iter().map(ToString::to_string).collect();
        return Err(invalid(
            "claims".into(),
            format!("the cities {}", listed.join(", ")),
            format!("a claim of {city}"),
        ));
    }
    Ok(())
}
