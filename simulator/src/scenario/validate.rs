//! From the raw file to the validated [`Scenario`], table by table: every value checked
//! against its bounds and against the values it depends on (a gang's cities against the
//! `[[cities]]`, its widths against its typology, the total of accounts against
//! [`limits::MAX_WAVE_ACCOUNTS`]), with the defaults filled in.

use std::collections::BTreeSet;

use domain::{City, FraudType};

use super::error::invalid;
use super::raw::{RawBanks, RawFile, RawGang, RawLogNormal, RawMules, RawVictims, default_amount_yuan, defaults};
use super::values::{
    count_span, expected_city, hours_span, minutes_span, optional_count_span, parse_start, parse_time_scale,
    positive_ms, share, show_widths,
};
use super::{
    BankSpec, CitySpec, DAY_MS, GangSpec, HOUR_MS, LogNormal, MINUTE_MS, MuleSpec, Scenario, ScenarioError, Span,
    Typology, VictimSpec,
};
use crate::limits;

impl RawFile {
    pub(super) fn validate(self) -> Result<Scenario, ScenarioError> {
        let header = &self.scenario;
        if header.name.trim().is_empty() {
            return Err(invalid("scenario.name", "empty", "a name"));
        }
        let seed = u64::try_from(header.seed)
            .map_err(|_| invalid("scenario.seed", header.seed, "an integer from 0 to 9223372036854775807"))?;
        let start_ms = parse_start(&header.start)?;
        let duration_ms = match (header.duration_hours, header.duration_days) {
            (Some(hours), None) => positive_ms("scenario.duration_hours", hours, HOUR_MS)?,
            (None, Some(days)) => positive_ms("scenario.duration_days", days, DAY_MS)?,
            (Some(_), Some(_)) => {
                return Err(invalid("scenario.duration_days", "given with duration_hours", "one of the two"));
            }
            (None, None) => {
                return Err(invalid("scenario.duration_hours", "missing", "duration_hours or duration_days"));
            }
        };
        if duration_ms > limits::MAX_SCENARIO_DURATION_MS {
            let field =
                if header.duration_days.is_some() { "scenario.duration_days" } else { "scenario.duration_hours" };
            return Err(invalid(
                field,
                format!("{duration_ms} ms"),
                format!("at most {} days", limits::MAX_SCENARIO_DURATION_MS / DAY_MS as u64),
            ));
        }
        let time_scale = parse_time_scale(header.time_scale.as_ref())?;

        let cities = self.validate_cities()?;
        let known: Vec<City> = cities.iter().map(|c| c.city.clone()).collect();
        if self.gangs.is_empty() || self.gangs.len() > limits::MAX_SCENARIO_GANGS {
            return Err(invalid(
                "gangs",
                format!("{} gangs", self.gangs.len()),
                format!("1 to {} [[gangs]]", limits::MAX_SCENARIO_GANGS),
            ));
        }
        let gangs = self
            .gangs
            .iter()
            .enumerate()
            .map(|(i, gang)| gang.validate(i, &known, duration_ms))
            .collect::<Result<Vec<_>, _>>()?;
        let victims: u64 = gangs.iter().map(|g| u64::from(g.victims)).sum();
        if victims > limits::MAX_SCENARIO_VICTIMS {
            return Err(invalid(
                "gangs",
                format!("{victims} victims in all"),
                format!("at most {}", limits::MAX_SCENARIO_VICTIMS),
            ));
        }
        let accounts: u64 =
            gangs.iter().map(|g| g.networks().saturating_mul(g.max_network_accounts())).sum::<u64>() + victims;
        if accounts > limits::MAX_WAVE_ACCOUNTS {
            return Err(invalid(
                "gangs",
                format!("up to {accounts} accounts"),
                format!("at most {} accounts (victims and mules)", limits::MAX_WAVE_ACCOUNTS),
            ));
        }

        Ok(Scenario {
            name: header.name.trim().to_owned(),
            description: header.description.trim().to_owned(),
            seed,
            start_ms,
            duration_ms,
            time_scale,
            cities,
            gangs,
            mules: self.mules.validate()?,
            victims: self.victims.validate()?,
            banks: self.banks.validate()?,
            population: self.population.as_ref().map(|raw| raw.validate(victims)).transpose()?,
            staff: self.staff.validate()?,
            restitution: self.restitution.validate()?,
            hash: 0,
        })
    }

    pub(super) fn validate_cities(&self) -> Result<Vec<CitySpec>, ScenarioError> {
        if self.cities.is_empty() || self.cities.len() > limits::MAX_SCENARIO_CITIES {
            return Err(invalid(
                "cities",
                format!("{} cities", self.cities.len()),
                format!("1 to {} [[cities]]", limits::MAX_SCENARIO_CITIES),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut cities = Vec::with_capacity(self.cities.len());
        for (i, raw) in self.cities.iter().enumerate() {
            let city =
                City::parse(&raw.name).map_err(|e| invalid(format!("cities[{i}].name"), &raw.name, e.to_string()))?;
            if !seen.insert(city.clone()) {
                return Err(invalid(format!("cities[{i}].name"), &raw.name, "a city not listed before"));
            }
            let population = u64::try_from(raw.population)
                .ok()
                .filter(|p| (1..=limits::MAX_CITY_POPULATION).contains(p))
                .ok_or_else(|| {
                    invalid(
                        format!("cities[{i}].population"),
                        raw.population,
                        format!("1 to {}", limits::MAX_CITY_POPULATION),
                    )
                })?;
            cities.push(CitySpec { city, population });
        }
        Ok(cities)
    }
}

impl RawGang {
    pub(super) fn validate(&self, i: usize, known: &[City], duration_ms: u64) -> Result<GangSpec, ScenarioError> {
        let at = |field: &str| format!("gangs[{i}].{field}");
        let fraud_type = FraudType::parse(&self.fraud_type)
            .map_err(|_| invalid(at("fraud_type"), format!("{:?}", self.fraud_type), FraudType::EXPECTED))?;
        let cities = match &self.cities {
            None => known.to_vec(),
            Some(names) => {
                if names.is_empty() {
                    return Err(invalid(at("cities"), "[]", "one or more of the [[cities]] names"));
                }
                let mut cities = Vec::new();
                for (j, name) in names.iter().enumerate() {
                    let city = City::parse(name).ok().filter(|c| known.contains(c)).ok_or_else(|| {
                        invalid(format!("{}[{j}]", at("cities")), format!("{name:?}"), expected_city(known))
                    })?;
                    if cities.contains(&city) {
                        return Err(invalid(
                            format!("{}[{j}]", at("cities")),
                            format!("{name:?}"),
                            "a city not listed before",
                        ));
                    }
                    cities.push(city);
                }
                cities
            }
        };
        let victims = u32::try_from(self.victims)
            .ok()
            .filter(|v| *v >= 1 && u64::from(*v) <= limits::MAX_SCENARIO_VICTIMS)
            .ok_or_else(|| invalid(at("victims"), self.victims, format!("1 to {}", limits::MAX_SCENARIO_VICTIMS)))?;
        let defaults = default_amount_yuan(fraud_type);
        let amount_yuan = match self.amount_yuan {
            None => defaults,
            Some(raw) => {
                raw.validate(&at("amount_yuan"), defaults.min, defaults.max, 1.0, f64::from(limits::MAX_LOSS_YUAN))?
            }
        };
        let typology = match &self.typology {
            None => Typology::FanOut,
            Some(name) => {
                Typology::parse(name).ok_or_else(|| invalid(at("typology"), format!("{name:?}"), Typology::EXPECTED))?
            }
        };
        let widths = match &self.widths {
            None => typology.default_widths(),
            Some(values) => {
                if values.is_empty() || values.len() > limits::MAX_TRAIL_LEVELS {
                    return Err(invalid(
                        at("widths"),
                        format!("{} levels", values.len()),
                        format!("1 to {} levels", limits::MAX_TRAIL_LEVELS),
                    ));
                }
                values
                    .iter()
                    .enumerate()
                    .map(|(k, v)| count_span(&format!("{}[{k}]", at("widths")), v, 1, limits::MAX_LAYER_WIDTH))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        typology
            .check_shape(&widths)
            .map_err(|expected| invalid(at("widths"), show_widths(&widths), format!("for {typology}: {expected}")))?;
        let victims_per_network = self.victims_per_network.unwrap_or(defaults::VICTIMS_PER_NETWORK);
        let victims_per_network = u32::try_from(victims_per_network)
            .ok()
            .filter(|v| (1..=limits::MAX_VICTIMS_PER_NETWORK).contains(v))
            .ok_or_else(|| {
                invalid(
                    at("victims_per_network"),
                    victims_per_network,
                    format!("1 to {}", limits::MAX_VICTIMS_PER_NETWORK),
                )
            })?;
        let gang = GangSpec {
            name: self.name.clone().unwrap_or_else(|| format!("{}-{i}", fraud_type.as_str())),
            fraud_type,
            cities,
            victims,
            amount_yuan,
            typology,
            widths,
            victims_per_network,
            phones: optional_count_span(
                &at("phones"),
                self.phones.as_ref(),
                defaults::PHONES,
                1,
                limits::MAX_GANG_CONTACTS,
            )?,
            sites: optional_count_span(
                &at("sites"),
                self.sites.as_ref(),
                defaults::SITES,
                0,
                limits::MAX_GANG_CONTACTS,
            )?,
            active_ms: match self.active_hours {
                None => Span { min: 0, max: duration_ms },
                Some([from, to]) => {
                    let hours = duration_ms as f64 / HOUR_MS;
                    if !(from.is_finite() && to.is_finite() && 0.0 <= from && from < to && to <= hours) {
                        return Err(invalid(
                            at("active_hours"),
                            format!("[{from}, {to}]"),
                            format!("[from, to] with 0 <= from < to <= {hours} (the duration in hours)"),
                        ));
                    }
                    Span { min: (from * HOUR_MS).round() as u64, max: (to * HOUR_MS).round() as u64 }
                }
            },
            adapt_ms: hours_span(
                &at("adapt_hours"),
                self.adapt_hours.unwrap_or(defaults::ADAPT_HOURS),
                limits::MIN_ADAPT_MS,
                limits::MAX_ADAPT_MS,
            )?,
        };
        if gang.networks() > limits::MAX_NETWORKS_PER_GANG {
            return Err(invalid(
                at("victims_per_network"),
                gang.victims_per_network,
                format!("enough for at most {} networks", limits::MAX_NETWORKS_PER_GANG),
            ));
        }
        Ok(gang)
    }
}

impl RawLogNormal {
    /// Checks `min <= median <= p90 <= max`, each within `floor..=ceiling`; `min` and `max`
    /// default to `default_min` and `default_max` (moved to the median or p90 when those
    /// lie outside them).
    pub(super) fn validate(
        self,
        field: &str,
        default_min: f64,
        default_max: f64,
        floor: f64,
        ceiling: f64,
    ) -> Result<LogNormal, ScenarioError> {
        let min = self.min.unwrap_or(default_min.min(self.median));
        let max = self.max.unwrap_or(default_max.max(self.p90));
        let shown = format!("{{ median = {}, p90 = {}, min = {min}, max = {max} }}", self.median, self.p90);
        let values = [min, self.median, self.p90, max];
        let ordered = values.windows(2).all(|w| w[0] <= w[1]);
        if !values.iter().all(|v| v.is_finite() && (floor..=ceiling).contains(v)) || !ordered {
            return Err(invalid(field, shown, format!("{floor} <= min <= median <= p90 <= max <= {ceiling}")));
        }
        Ok(LogNormal { median: self.median, p90: self.p90, min, max })
    }
}

impl RawMules {
    pub(super) fn validate(&self) -> Result<MuleSpec, ScenarioError> {
        let [lo, hi] = self.margin.unwrap_or(defaults::MARGIN);
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi < 1.0) {
            return Err(invalid("mules.margin", format!("[{lo}, {hi}]"), "[min, max] with 0 <= min <= max < 1"));
        }
        Ok(MuleSpec {
            margin: Span { min: lo, max: hi },
            forward_delay_ms: minutes_span(
                "mules.forward_delay_minutes",
                self.forward_delay_minutes.unwrap_or(defaults::FORWARD_DELAY_MINUTES),
                limits::MIN_SCENARIO_DELAY_MS,
                limits::MAX_FORWARD_DELAY_MS,
            )?,
            cash_out_share: share("mules.cash_out_share", self.cash_out_share.unwrap_or(defaults::CASH_OUT_SHARE))?,
            order_share: share("mules.order_share", self.order_share.unwrap_or(defaults::MULE_ORDER_SHARE))?,
            seller_share: share("mules.seller_share", self.seller_share.unwrap_or(defaults::SELLER_SHARE))?,
            seller_accounts: optional_count_span(
                "mules.seller_accounts",
                self.seller_accounts.as_ref(),
                defaults::SELLER_ACCOUNTS,
                2,
                limits::MAX_SELLER_ACCOUNTS,
            )?,
            holder_phones: optional_count_span(
                "mules.holder_phones",
                self.holder_phones.as_ref(),
                defaults::HOLDER_PHONES,
                0,
                limits::MAX_HOLDER_PHONES,
            )?,
        })
    }
}

impl RawVictims {
    pub(super) fn validate(&self) -> Result<VictimSpec, ScenarioError> {
        let (median, p90, min, max) = defaults::REPORT_DELAY_MINUTES;
        let raw = self.report_delay_minutes.unwrap_or(RawLogNormal { median, p90, min: Some(min), max: Some(max) });
        let floor = limits::MIN_SCENARIO_DELAY_MS as f64 / MINUTE_MS;
        let ceiling = limits::MAX_REPORT_DELAY_MS as f64 / MINUTE_MS;
        let minutes = raw.validate("victims.report_delay_minutes", min.max(floor), max.min(ceiling), floor, ceiling)?;
        Ok(VictimSpec {
            payments: optional_count_span(
                "victims.payments",
                self.payments.as_ref(),
                defaults::PAYMENTS,
                1,
                limits::MAX_PAYMENTS_PER_VICTIM,
            )?,
            payment_gap_ms: minutes_span(
                "victims.payment_gap_minutes",
                self.payment_gap_minutes.unwrap_or(defaults::PAYMENT_GAP_MINUTES),
                limits::MIN_SCENARIO_DELAY_MS,
                limits::MAX_PAYMENT_GAP_MS,
            )?,
            order_share: share("victims.order_share", self.order_share.unwrap_or(defaults::VICTIM_ORDER_SHARE))?,
            spared_by_blocks: self.spared_by_blocks.unwrap_or(true),
            report_delay_ms: LogNormal {
                median: minutes.median * MINUTE_MS,
                p90: minutes.p90 * MINUTE_MS,
                min: minutes.min * MINUTE_MS,
                max: minutes.max * MINUTE_MS,
            },
        })
    }
}

impl RawBanks {
    pub(super) fn validate(&self) -> Result<BankSpec, ScenarioError> {
        let [lo, hi] = self.answer_ms.unwrap_or(defaults::ANSWER_MS);
        let max = limits::MAX_BANK_ANSWER_MS as f64;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= max) {
            return Err(invalid(
                "banks.answer_ms",
                format!("[{lo}, {hi}]"),
                format!("[min, max] with 0 <= min <= max <= {max}"),
            ));
        }
        let return_ms = self.return_ms.unwrap_or(0.0);
        let max = limits::MAX_RETURN_DELAY_MS as f64;
        if !(return_ms.is_finite() && (0.0..=max).contains(&return_ms)) {
            return Err(invalid("banks.return_ms", format!("{return_ms}"), format!("0 to {max} simulated ms")));
        }
        Ok(BankSpec {
            answer_ms: Span { min: lo.round() as u64, max: hi.round() as u64 },
            return_ms: return_ms.round() as u64,
        })
    }
}
