//! The population of a script (`[population]`): for each gang, `per_victim` people per
//! victim, reached through the gang's lines over its active hours, each with a number of some
//! carrier, contacts, maybe transfer instructions, and a payment they would make after a delay
//! unless warned ([`crate::population`]). Drawn from generators of their own (one per gang),
//! so a population changes nothing else of the script.

use std::ops::RangeInclusive;

use domain::{AccountRef, Carrier, City, Fen, FraudType, TimeMs};
use rand::Rng;
use rand::rngs::StdRng;

use super::draw::{draw_log_normal, draw_u32, draw_u64, sub_rng};
use super::{Generator, ScriptError};
use crate::contact::LineKind;
use crate::limits;
use crate::population::{Effects, Payment, Person, Planned, Population, Touch};
use crate::scenario::{GangSpec, PopulationSpec, Scenario};
use crate::synth;

/// Seconds of a gang's call with someone it hooks: from a minute to a half-hour script
/// (an impersonation script runs 20 minutes and more).
const HOOKED_CALL_S: RangeInclusive<u32> = 60..=1_800;
/// Seconds of a call with someone who does not bite: under dissuasion's 300 s "long call".
const BRIEF_CALL_S: RangeInclusive<u32> = 5..=240;
/// How long before paying the transfer instructions come: ten minutes to an hour.
const INSTRUCTIONS_BEFORE_MS: RangeInclusive<u64> = 10 * 60_000..=60 * 60_000;

/// The scams that start online: the first contact is a site when the gang has one.
fn starts_online(fraud_type: FraudType) -> bool {
    matches!(
        fraud_type,
        FraudType::OrderBrushing
            | FraudType::PigButchering
            | FraudType::StockTips
            | FraudType::FakeEcommerce
            | FraudType::LuxuryBait
    )
}

impl Generator<'_> {
    /// The population of the scenario with `spec`, from the gangs' lines in the world's
    /// contacts, into the world: each gang's account for the people it reaches opened empty,
    /// the handsets drawn off switched off at the carriers.
    pub(super) fn population(&mut self, spec: &PopulationSpec) -> Result<(), ScriptError> {
        let scenario = self.scenario;
        let mut population = Population::new(scenario.seed, Effects::of(spec));
        for (index, gang) in scenario.gangs.iter().enumerate() {
            let contacts = &self.world.contacts;
            let kinds: Vec<LineKind> =
                (0..contacts.line_count(index)).filter_map(|line| contacts.line_kind(index, line)).collect();
            let phones: Vec<usize> = (0..kinds.len()).filter(|l| kinds[*l] == LineKind::Phone).collect();
            let sites: Vec<usize> = (0..kinds.len()).filter(|l| kinds[*l] == LineKind::Site).collect();
            let people = u64::from(gang.victims) * u64::from(spec.per_victim);
            if people == 0 || (phones.is_empty() && sites.is_empty()) {
                continue;
            }
            let account = self.open_account(&mut sub_rng(scenario.seed, "population-account", index as u64))?;
            let mut rng = sub_rng(scenario.seed, "population", index as u64);
            let lines = Lines { phones: &phones, sites: &sites, account: &account };
            for _ in 0..people {
                let (person, touches) = draw_person(&mut rng, scenario, spec, index, gang, &lines)?;
                let (phone, off) = (person.phone.clone(), person.handset_off);
                if population.add(person, &touches).is_none() {
                    return Err(ScriptError::IdsExhausted("population phone number"));
                }
                if off {
                    self.world.telecom.switch_off(&phone);
                }
            }
        }
        self.world.population = population;
        Ok(())
    }
}

/// A gang's lines by kind, and its account for the people it reaches.
struct Lines<'a> {
    phones: &'a [usize],
    sites: &'a [usize],
    account: &'a AccountRef,
}

/// One person of gang `index` and what the gang does to them.
fn draw_person(
    rng: &mut StdRng,
    scenario: &Scenario,
    spec: &PopulationSpec,
    index: usize,
    gang: &GangSpec,
    lines: &Lines<'_>,
) -> Result<(Person, Vec<Planned>), ScriptError> {
    let (phones, sites) = (lines.phones, lines.sites);
    let city = pick_city(rng, scenario, gang);
    let (name, id_number) = (synth::name(rng), synth::id_number(rng, &city));
    let (phone, carrier) = (0..limits::MAX_ID_ATTEMPTS)
        .map(|_| format!("+86{}", synth::phone(rng)))
        .find_map(|phone| Carrier::issuing(&phone).map(|carrier| (phone, carrier)))
        .ok_or(ScriptError::IdsExhausted("population phone number"))?;
    let active = gang.active_ms;
    let first_ms: TimeMs = scenario.start_ms + rng.random_range(active.min..active.max.max(active.min + 1));
    let delay_ms = draw_u64(rng, spec.pay_delay_ms).max(1);
    let pays = rng.random_bool(spec.pay_share).then(|| {
        let yuan = draw_log_normal(rng, &gang.amount_yuan).round().clamp(1.0, f64::from(limits::MAX_LOSS_YUAN));
        Payment { at_ms: first_ms + delay_ms, amount: Fen::yuan(yuan as u32), to: lines.account.clone() }
    });
    let handset_off = rng.random_bool(spec.handset_off_share);

    let mut touches = Vec::new();
    let count = draw_u32(rng, spec.contacts);
    let mut times: Vec<TimeMs> = (1..count).map(|_| first_ms + rng.random_range(1..delay_ms.max(2))).collect();
    times.sort_unstable();
    let online = starts_online(gang.fraud_type) && !sites.is_empty();
    for (k, at_ms) in std::iter::once(first_ms).chain(times).enumerate() {
        // After the first contact, a third of the contacts are page visits when there are
        // sites.
        let from_sites = if k == 0 {
            online || phones.is_empty()
        } else {
            phones.is_empty() || (!sites.is_empty() && rng.random_bool(1.0 / 3.0))
        };
        let pool = if from_sites { sites } else { phones };
        let line = pool[rng.random_range(0..pool.len())];
        let duration_s = match (from_sites, pays.is_some()) {
            (true, _) => 0,
            (false, true) => rng.random_range(HOOKED_CALL_S),
            (false, false) => rng.random_range(BRIEF_CALL_S),
        };
        let signal_ms = draw_u64(rng, spec.signal_delay_ms);
        touches.push(Planned { at_ms, delay_ms: signal_ms, touch: Touch::Contact { line, duration_s } });
    }
    if let Some(pay) = pays.as_ref().filter(|_| rng.random_bool(spec.instructions_share)) {
        let at_ms = pay.at_ms.saturating_sub(rng.random_range(INSTRUCTIONS_BEFORE_MS)).max(first_ms);
        let signal_ms = draw_u64(rng, spec.signal_delay_ms);
        touches.push(Planned { at_ms, delay_ms: signal_ms, touch: Touch::Instructions });
    }
    let person = Person {
        phone,
        name,
        id_number,
        carrier,
        city,
        gang: index,
        fraud_type: gang.fraud_type,
        first_contact_ms: first_ms,
        pays,
        handset_off,
    };
    Ok((person, touches))
}

/// One of the gang's cities, in proportion to its population.
fn pick_city(rng: &mut StdRng, scenario: &Scenario, gang: &GangSpec) -> City {
    let weight = |city: &City| scenario.cities.iter().find(|c| &c.city == city).map_or(1, |c| c.population);
    let total: u64 = gang.cities.iter().map(weight).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for city in &gang.cities {
        if pick < weight(city) {
            return city.clone();
        }
        pick -= weight(city);
    }
    gang.cities[0].clone()
}
