//! The drill report's `province` section: the province coordinator's figures for each month
//! the drill touched, next to the same figures made from each city's own stream (the
//! per-city table must equal what each city recorded: nothing lost or counted twice on the
//! way to the province) and next to the script (reports filed by the drill's victims).
//!
//! "What each city recorded" is the coordinator's own projection run over the events read
//! back from the cities' streams, so the two differ only by what the province stream and
//! the coordinator did to them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use coordinator::core::{Figures, FlagMargin, Period, State, absorb, report};
use domain::{City, TimeMs};
use events::Envelope;
use serde::{Deserialize, Serialize};

use crate::deployment::Embedded;

/// One city's figures over one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvinceRow {
    pub period: String,
    pub city: String,
    /// From the coordinator (the province stream).
    pub coordinator: Figures,
    pub coordinator_ttf_samples: u64,
    /// From the city's own stream.
    pub city_recorded: Figures,
    pub city_ttf_samples: u64,
    /// Reports the drill's victims filed with the city in the month (accepted by intake).
    pub filed_by_victims: u64,
}

/// The section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvinceSection {
    /// Whether the coordinator ran (the lab's embedded deployment runs it).
    pub measured: bool,
    pub rows: Vec<ProvinceRow>,
    /// Every row's coordinator figures equal the city's own.
    pub matches_cities: bool,
    /// Rows that differ, as text.
    pub differences: Vec<String>,
    /// What the cities heard from the coordinator, and what it spared (`super::notices`).
    #[serde(default)]
    pub notices: super::notices::NoticesSection,
}

/// The months from `from_ms` to `to_ms`, Beijing time.
fn months(from_ms: TimeMs, to_ms: TimeMs) -> Vec<Period> {
    let mut months = vec![Period::month_of(from_ms)];
    let mut at = from_ms;
    while at < to_ms {
        at = at.saturating_add(24 * 3_600_000);
        let month = Period::month_of(at.min(to_ms));
        if months.last() != Some(&month) {
            months.push(month);
        }
    }
    months
}

/// The section for a drill whose cities recorded `recorded` (every event of every service,
/// by city, in stream order) between `origin_ms` and `ended_at_ms`; `filed` is the month and
/// city of each report the drill's victims filed.
pub async fn section(
    embedded: &Embedded,
    cities: &[City],
    recorded: &BTreeMap<City, Vec<Envelope>>,
    filed: &[(TimeMs, City)],
    origin_ms: TimeMs,
    ended_at_ms: TimeMs,
) -> anyhow::Result<ProvinceSection> {
    let margin =
        FlagMargin::percent(protocol::coordinator::DEFAULT_MARGIN_PERCENT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut own = State::new(cities.iter().cloned())?;
    for envelope in recorded.values().flatten() {
        absorb(&mut own, envelope)
            .map_err(|refusal| anyhow::anyhow!("a city's own event {}: {refusal}", envelope.id))?;
    }
    let expected: u64 = recorded.values().map(|events| events.len() as u64).sum();
    embedded.wait_province_holds(expected).await?;
    let mut section = ProvinceSection { measured: true, matches_cities: true, ..ProvinceSection::default() };
    for period in months(origin_ms, ended_at_ms) {
        let text = period.to_string();
        let theirs = match embedded.province_report(&text).await {
            Ok(report) => Some(report),
            Err(error) if error.to_string().contains("no data") => None,
            Err(error) => return Err(error),
        };
        let ours = report(&own, period, margin).ok();
        for city in cities {
            let row_of = |r: &Option<coordinator::core::Report>| {
                r.as_ref()
                    .and_then(|r| r.rows.iter().find(|row| row.city.as_ref() == Some(city)).cloned())
                    .map_or((Figures::default(), 0), |row| (row.figures, row.time_to_freeze_samples))
            };
            let (coordinator, coordinator_ttf_samples) = row_of(&theirs);
            let (city_recorded, city_ttf_samples) = row_of(&ours);
            let filed_by_victims =
                filed.iter().filter(|(at, c)| c == city && Period::month_of(*at) == period).count() as u64;
            if (coordinator, coordinator_ttf_samples) != (city_recorded, city_ttf_samples) {
                section.matches_cities = false;
                section.differences.push(format!(
                    "{text} {city}: the coordinator has {coordinator:?} ({coordinator_ttf_samples} ttf samples), the city recorded {city_recorded:?} ({city_ttf_samples})"
                ));
            }
            section.rows.push(ProvinceRow {
                period: text.clone(),
                city: city.as_str().to_owned(),
                coordinator,
                coordinator_ttf_samples,
                city_recorded,
                city_ttf_samples,
                filed_by_victims,
            });
        }
    }
    Ok(section)
}

/// The section's lines for the text report.
pub fn rows(out: &mut String, section: &ProvinceSection) {
    if !section.measured {
        return;
    }
    let _ = writeln!(out, "province (the coordinator on the hub, against each city's own stream)");
    let h = ["month", "city", "filed", "reports", "stopped ¥", "frozen ¥", "returned ¥", "= city's own"];
    let _ = writeln!(
        out,
        "  {:<8} {:<12} {:>8} {:>8} {:>14} {:>14} {:>14}  {}",
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    );
    for row in &section.rows {
        let f = &row.coordinator;
        let _ = writeln!(
            out,
            "  {:<8} {:<12} {:>8} {:>8} {:>14} {:>14} {:>14}  {}",
            row.period,
            row.city,
            row.filed_by_victims,
            f.reports,
            f.money_stopped.to_string(),
            f.money_frozen.to_string(),
            f.money_returned.to_string(),
            if (row.coordinator, row.coordinator_ttf_samples) == (row.city_recorded, row.city_ttf_samples) {
                "yes"
            } else {
                "NO"
            }
        );
    }
    for difference in &section.differences {
        let _ = writeln!(out, "  differs: {difference}");
    }
    super::notices::rows(out, &section.notices);
}
