//! The drill report's `province.notices`: what the cities heard from the province
//! coordinator, measured from the cities' own streams, and what it spared.
//!
//! - **Cross-city accounts**: accounts stopped for cases of two or more cities (each city's
//!   first `account_stopped` there). Per `cross_city_claims` a city recorded: from the
//!   recording of the stop that completed its set of claims (the latest of the claiming
//!   cities' first stops) to the city's record.
//! - **Province-wide blocks**: identifiers two or more cities blocked on their own reports;
//!   per block a city made on the province's notice (`identifier_blocked` with `province`):
//!   from the second city's own block to it.
//! - **Victims spared by the province**: victims a block spared ([`simulator::contact`]) in a
//!   city that blocked the identifier only on the province's notice — a block by another
//!   center does not protect a city's subscribers, so without the coordinator they would
//!   have been defrauded.
//!
//! Times are the cities' event times (simulated ms, on the drill clock); `*_real_ms` divides
//! them by the drill's time scale.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use domain::{AccountRef, City, TimeMs};
use events::{BlockingEvent, Envelope, FreezingEvent, Payload};
use identifiers::Identifier;
use serde::{Deserialize, Serialize};
use simulator::contact::Contacts;

use super::spread::Spread;

/// The notices' figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoticesSection {
    /// Accounts cases of two or more cities stopped.
    pub cross_city_accounts: u64,
    /// `cross_city_claims` the cities recorded.
    pub cross_city_records: u64,
    /// From the stop that made the account cross-city to each claiming city's record.
    pub cross_city_notice_ms: Spread,
    pub cross_city_notice_real_ms: Spread,
    /// Identifiers blocked by two or more cities on their own reports.
    pub province_blocks_decided: u64,
    /// Blocks cities made on the province's notice.
    pub province_blocks_applied: u64,
    /// From the second city's own block to each city's block on the notice.
    pub province_block_ms: Spread,
    pub province_block_real_ms: Spread,
    /// Victims spared by a block their city made only on the province's notice, and what
    /// they would have lost.
    pub victims_spared_by_province: u64,
    pub loss_avoided_by_province_fen: u64,
}

/// The section from every city's events (`recorded`, in stream order) and the contacts the
/// drill played; `time_scale` simulated ms per real ms.
pub fn section(recorded: &BTreeMap<City, Vec<Envelope>>, contacts: &Contacts, time_scale: f64) -> NoticesSection {
    let mut out = NoticesSection::default();
    // Each city's first stop of each account, and first own block of each identifier.
    let mut stops: BTreeMap<&AccountRef, BTreeMap<&City, TimeMs>> = BTreeMap::new();
    let mut own_blocks: BTreeMap<&Identifier, BTreeMap<&City, TimeMs>> = BTreeMap::new();
    let mut province_blocks: BTreeMap<(&City, &Identifier), TimeMs> = BTreeMap::new();
    for (city, envelope) in recorded.iter().flat_map(|(city, events)| events.iter().map(move |e| (city, e))) {
        match &envelope.payload {
            Payload::Freezing(FreezingEvent::AccountStopped { account, .. }) => {
                let first = stops.entry(account).or_default().entry(city).or_insert(envelope.time_ms);
                *first = (*first).min(envelope.time_ms);
            }
            Payload::Blocking(BlockingEvent::IdentifierBlocked { identifier, province, .. }) => {
                let firsts = match province {
                    None => own_blocks.entry(identifier).or_default().entry(city),
                    Some(_) => {
                        out.province_blocks_applied += 1;
                        let first = province_blocks.entry((city, identifier)).or_insert(envelope.time_ms);
                        *first = (*first).min(envelope.time_ms);
                        continue;
                    }
                };
                let first = firsts.or_insert(envelope.time_ms);
                *first = (*first).min(envelope.time_ms);
            }
            _ => {}
        }
    }
    out.cross_city_accounts = stops.values().filter(|cities| cities.len() >= 2).count() as u64;
    out.province_blocks_decided = own_blocks.values().filter(|cities| cities.len() >= 2).count() as u64;

    let mut cross = Vec::new();
    for envelope in recorded.values().flatten() {
        let Payload::Freezing(FreezingEvent::CrossCityClaims { account, claims, .. }) = &envelope.payload else {
            continue;
        };
        out.cross_city_records += 1;
        let firsts = stops.get(account);
        let completed = claims.iter().filter_map(|claim| firsts?.get(&claim.city).copied()).max();
        if let Some(completed) = completed {
            cross.push(envelope.time_ms.saturating_sub(completed));
        }
    }
    let mut blocks = Vec::new();
    for ((_, identifier), at) in &province_blocks {
        let mut own: Vec<TimeMs> =
            own_blocks.get(identifier).map(|c| c.values().copied().collect()).unwrap_or_default();
        own.sort_unstable();
        if let Some(second) = own.get(1) {
            blocks.push(at.saturating_sub(*second));
        }
    }
    let real = |values: &[u64]| values.iter().map(|v| (*v as f64 / time_scale.max(1.0)) as u64).collect::<Vec<_>>();
    out.cross_city_notice_ms = Spread::of(&cross);
    out.cross_city_notice_real_ms = Spread::of(&real(&cross));
    out.province_block_ms = Spread::of(&blocks);
    out.province_block_real_ms = Spread::of(&real(&blocks));

    // A victim whose city had blocked the identifier on its own report by then was spared by
    // the city, not the province.
    for contact in contacts.outcomes().filter(|c| c.spared()) {
        let by_province = province_blocks.keys().any(|(city, id)| {
            let own_by_then =
                || own_blocks.get(id).and_then(|cities| cities.get(city)).is_some_and(|first| *first <= contact.at_ms);
            *city == &contact.city
                && id.kind() == contact.target.kind()
                && id.value() == contact.target.value()
                && !own_by_then()
        });
        if by_province {
            out.victims_spared_by_province += 1;
            out.loss_avoided_by_province_fen += contact.loss.get();
        }
    }
    out
}

/// The section's lines for the text report.
pub fn rows(out: &mut String, section: &NoticesSection) {
    let spread = |s: &Spread| format!("p50 {} p99 {} max {} ms", s.p50, s.p99, s.max);
    let _ = writeln!(
        out,
        "  cross-city accounts {:>5}; recorded by their cities {:>5}; stop to record (real) {}",
        section.cross_city_accounts,
        section.cross_city_records,
        spread(&section.cross_city_notice_real_ms)
    );
    let _ = writeln!(
        out,
        "  province-wide blocks {:>4}; made in cities {:>5}; second block to city's (real) {}",
        section.province_blocks_decided,
        section.province_blocks_applied,
        spread(&section.province_block_real_ms)
    );
    let _ = writeln!(
        out,
        "  victims spared by the province's blocks {} (loss avoided {})",
        section.victims_spared_by_province,
        domain::Fen::new(section.loss_avoided_by_province_fen)
    );
}
