//! The `[population]`, `[staff]` and `[restitution]` tables: the people the gangs' campaigns
//! reach besides their victims, the centers' dissuasion staff, and restitution's notice and
//! approvers, each value checked against its bounds with the defaults (and where they come
//! from) filled in.

use super::error::invalid;
use super::raw::{RawPopulation, RawRestitution, RawStaff};
use super::values::{count_span, minutes_span, share};
use super::{HOUR_MS, PopulationSpec, RestitutionSpec, ScenarioError, Span, StaffSpec};
use crate::limits;

/// Defaults of `[population]` and `[staff]`, in the file's units, with their sources
/// (mission.md's figures; the rest are assumptions, said so).
pub(super) mod defaults {
    /// People reached per victim. Foshan (2022) handled 2.2 M warnings against 17,000+
    /// alerts, about 130 per reported case; a drill on a small machine reaches fewer.
    pub const PER_VICTIM: i64 = 10;
    /// Share of the people reached who pay if nobody warns them. Between Foshan's ¥270 M
    /// avoided over 2.2 M warnings (about ¥120 a warning, a few percent of a typical loss) and
    /// Kaifeng's ¥80 M over 19,000 people dissuaded by 96110 (about ¥4,200 each, a fifth of a
    /// typical loss): an assumption.
    pub const PAY_SHARE: f64 = 0.1;
    /// Hours from the first contact to the payment: the fast scams (fake police, customer
    /// service, loans) take the money within the first calls, others within days. An
    /// assumption, kept within two days so that drills stay short.
    pub const PAY_DELAY_HOURS: [f64; 2] = [1.0, 48.0];
    /// Contacts per person: one call that is hung up, up to a gang calling back (dissuasion
    /// grades three contacts from one number as a repeat). An assumption.
    pub const CONTACTS: [u32; 2] = [1, 4];
    /// Share of those who pay who get transfer instructions first. An assumption.
    pub const INSTRUCTIONS_SHARE: f64 = 0.5;
    /// Minutes from a contact to the carrier's signal (issue 15: signals come in batches).
    pub const SIGNAL_DELAY_MINUTES: [f64; 2] = [1.0, 10.0];
    /// Share of handsets off (or out of service). An assumption.
    pub const HANDSET_OFF_SHARE: f64 = 0.05;
    /// Chance that a delivered SMS warning stops a person. An assumption: the least of the
    /// three steps.
    pub const SMS_EFFECT: f64 = 0.1;
    /// Chance that a call-back reaching a person persuades them. An assumption.
    pub const CALL_EFFECT: f64 = 0.4;
    /// Chance that a visit reaching a person persuades them: the officer explains the trick,
    /// deletes the scammer's contacts and installs the anti-fraud app (Wuhan), and some still
    /// refuse. An assumption; the documents give counts (Foshan: 515,000 face-to-face of 2.2 M
    /// warnings), not rates.
    pub const VISIT_EFFECT: f64 = 0.8;
    /// Of the people not persuaded, the share not reached (no answer, nobody home). An
    /// assumption.
    pub const UNREACHABLE_SHARE: f64 = 0.3;
    /// Call-backs a day: about twenty operators at Jinhua's 100+ a day each (dissuasion's own
    /// default capacity).
    pub const CALLS_PER_DAY: u32 = 2_000;
    /// Visits a day from city bureau to community: Wuhan meets about 500 people a day face to
    /// face (dissuasion's own default capacities).
    pub const VISITS_PER_DAY: [u32; 4] = [50, 150, 300, 500];
    /// Restitution's notice period in a drill, in simulated minutes: an hour. The rules give
    /// 30 days, which no drill plays; an hour is longer than a case takes to be traced and
    /// frozen (minutes), so the claims of one report's accounts are all in before an
    /// allocation is approved, and at the drill scales (1,440 to 4,000x) it passes in one to
    /// three real seconds, so the drill sees its returns.
    pub const NOTICE_MINUTES: f64 = 60.0;
    /// Minutes the simulated approvers take after the notice ends: an assumption (two people
    /// reading an allocation and signing it).
    pub const APPROVE_AFTER_MINUTES: f64 = 10.0;
}

impl RawPopulation {
    /// The population with `victims` victims in all: `per_victim` of them each.
    pub(super) fn validate(&self, victims: u64) -> Result<PopulationSpec, ScenarioError> {
        let per_victim = self.per_victim.unwrap_or(defaults::PER_VICTIM);
        let per_victim =
            u32::try_from(per_victim).ok().filter(|n| *n <= limits::MAX_REACHED_PER_VICTIM).ok_or_else(|| {
                invalid("population.per_victim", per_victim, format!("0 to {}", limits::MAX_REACHED_PER_VICTIM))
            })?;
        let people = victims.saturating_mul(u64::from(per_victim));
        if people > limits::MAX_SCENARIO_PEOPLE {
            return Err(invalid(
                "population.per_victim",
                format!("{per_victim} ({people} people for {victims} victims)"),
                format!("at most {} people in all", limits::MAX_SCENARIO_PEOPLE),
            ));
        }
        let [from, to] = self.pay_delay_hours.unwrap_or(defaults::PAY_DELAY_HOURS);
        let hours = |h: f64| h * HOUR_MS;
        let (floor, ceiling) = (limits::MIN_SCENARIO_DELAY_MS as f64, limits::MAX_PAY_DELAY_MS as f64);
        if !(from.is_finite() && to.is_finite() && floor <= hours(from) && from <= to && hours(to) <= ceiling) {
            return Err(invalid(
                "population.pay_delay_hours",
                format!("[{from}, {to}]"),
                format!("[min, max] hours with {} <= min <= max <= {}", floor / HOUR_MS, ceiling / HOUR_MS),
            ));
        }
        let contacts = match &self.contacts {
            None => Span { min: defaults::CONTACTS[0], max: defaults::CONTACTS[1] },
            Some(value) => count_span("population.contacts", value, 1, limits::MAX_CONTACTS_PER_PERSON)?,
        };
        let shares = |field: &str, value: Option<f64>, default: f64| share(field, value.unwrap_or(default));
        Ok(PopulationSpec {
            per_victim,
            pay_share: shares("population.pay_share", self.pay_share, defaults::PAY_SHARE)?,
            pay_delay_ms: Span { min: hours(from).round() as u64, max: hours(to).round() as u64 },
            contacts,
            instructions_share: shares(
                "population.instructions_share",
                self.instructions_share,
                defaults::INSTRUCTIONS_SHARE,
            )?,
            signal_delay_ms: minutes_span(
                "population.signal_delay_minutes",
                self.signal_delay_minutes.unwrap_or(defaults::SIGNAL_DELAY_MINUTES),
                0,
                limits::MAX_SIGNAL_DELAY_MS,
            )?,
            handset_off_share: shares(
                "population.handset_off_share",
                self.handset_off_share,
                defaults::HANDSET_OFF_SHARE,
            )?,
            sms_effect: shares("population.sms_effect", self.sms_effect, defaults::SMS_EFFECT)?,
            call_effect: shares("population.call_effect", self.call_effect, defaults::CALL_EFFECT)?,
            visit_effect: shares("population.visit_effect", self.visit_effect, defaults::VISIT_EFFECT)?,
            unreachable_share: shares(
                "population.unreachable_share",
                self.unreachable_share,
                defaults::UNREACHABLE_SHARE,
            )?,
        })
    }
}

impl RawStaff {
    pub(super) fn validate(&self) -> Result<StaffSpec, ScenarioError> {
        let expected = || format!("0 to {}", limits::MAX_STAFF_PER_DAY);
        let per_day = |field: &str, value: i64| {
            u32::try_from(value)
                .ok()
                .filter(|n| *n <= limits::MAX_STAFF_PER_DAY)
                .ok_or_else(|| invalid(field, value, expected()))
        };
        let calls_per_day = match self.calls_per_day {
            None => defaults::CALLS_PER_DAY,
            Some(value) => per_day("staff.calls_per_day", value)?,
        };
        let visits_per_day = match &self.visits_per_day {
            None => defaults::VISITS_PER_DAY,
            Some(values) => {
                let shown = format!("{values:?}");
                let [a, b, c, d] = values[..] else {
                    return Err(invalid(
                        "staff.visits_per_day",
                        shown,
                        format!(
                            "four counts (city bureau, district bureau, police station, community), each {}",
                            expected()
                        ),
                    ));
                };
                let mut out = [0; 4];
                for (k, value) in [a, b, c, d].into_iter().enumerate() {
                    out[k] = per_day(&format!("staff.visits_per_day[{k}]"), value)?;
                }
                out
            }
        };
        Ok(StaffSpec { calls_per_day, visits_per_day })
    }
}

impl RawRestitution {
    pub(super) fn validate(&self) -> Result<RestitutionSpec, ScenarioError> {
        let max = limits::MAX_NOTICE_MINUTES;
        let notice = self.notice_minutes.unwrap_or(defaults::NOTICE_MINUTES);
        if !(notice.is_finite() && notice > 0.0 && notice <= max) {
            return Err(invalid(
                "restitution.notice_minutes",
                notice,
                format!("more than 0 to {max} simulated minutes"),
            ));
        }
        let approve = self.approve_after_minutes.unwrap_or(defaults::APPROVE_AFTER_MINUTES);
        if !(approve.is_finite() && (0.0..=max).contains(&approve)) {
            return Err(invalid("restitution.approve_after_minutes", approve, format!("0 to {max} simulated minutes")));
        }
        let ms = |minutes: f64| (minutes * 60_000.0).round().max(1.0) as u64;
        Ok(RestitutionSpec { notice_ms: ms(notice), approve_after_ms: (approve * 60_000.0).round() as u64 })
    }
}
