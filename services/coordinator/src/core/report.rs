//! The joint-meeting report (通报) of one period: a row per city, the province's totals —
//! the sum of the rows, checked against the province-wide projection kept apart — and the
//! cities "to be called in".
//!
//! Flagged cities: a city is called in on a figure when it is worse than the province's
//! median of that figure by more than the margin, relative to the median:
//! - [`FlagFigure::FrozenShare`], the share of the reported loss frozen (basis points): below
//!   `median × (100 − margin) / 100`. Only cities with reported loss in the period have one.
//! - [`FlagFigure::TimeToFreezeP90`], seconds: above `median × (100 + margin) / 100`. Only
//!   cities with a time-to-freeze sample in the period have one.
//!
//! The median is taken over the cities that have the figure (the mean of the two middle
//! values when their number is even, rounded down); with fewer than two such cities nobody
//! is called in on it. A city with no activity has neither figure and is not called in: its
//! row shows its zeros.

use std::fmt;

use domain::City;
use hdrhistogram::Histogram;
use serde::{Serialize, Serializer};

use super::figures::{Figures, Tally, new_histogram};
use super::period::Period;
use super::state::State;

/// One city's figures over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Row {
    /// The city; `None` for the province's totals.
    pub city: Option<City>,
    pub figures: Figures,
    pub time_to_freeze_samples: u64,
    pub time_to_freeze_s_p50: Option<u64>,
    pub time_to_freeze_s_p90: Option<u64>,
    /// Money frozen over reported loss, in basis points; none without reported loss.
    pub frozen_share_bp: Option<u64>,
}

/// A figure cities are ranked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagFigure {
    FrozenShare,
    TimeToFreezeP90,
}

/// A city to be called in: its value of `figure` and the province's median.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Flag {
    pub city: City,
    pub figure: FlagFigure,
    pub value: u64,
    pub median: u64,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Report {
    pub period: Period,
    /// One per configured city, in the cities' order; zeros for a city with nothing counted.
    pub rows: Vec<Row>,
    pub totals: Row,
    pub flagged: Vec<Flag>,
}

/// How far below the median (relative, in percent) a city may be before it is called in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagMargin(u8);

impl FlagMargin {
    /// A margin of `percent`, 0 to 100.
    pub fn percent(percent: u8) -> Result<FlagMargin, ReportError> {
        if percent > 100 {
            return Err(ReportError::Margin { value: percent });
        }
        Ok(FlagMargin(percent))
    }
}

/// Why there is no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("no data for period {period}: nothing counted in it yet")]
    NoData { period: Period },
    #[error("flag margin {value}%: expected 0 to 100 percent")]
    Margin { value: u8 },
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The report of `period`, calling in cities by `margin`.
pub fn report(state: &State, period: Period, margin: FlagMargin) -> Result<Report, ReportError> {
    let Some(province) = state.province.get(&period) else {
        return Err(ReportError::NoData { period });
    };
    let empty = Tally::default();
    let tallies = state.tallies.get(&period);
    let mut rows = Vec::new();
    let mut total = Figures::default();
    let mut merged: Option<Histogram<u32>> = None;
    for city in state.cities() {
        let tally = tallies.and_then(|cities| cities.get(city)).unwrap_or(&empty);
        total = total.plus(&tally.figures).expect("the rows sum to the province's figures, which fit");
        if let Some(histogram) = &tally.time_to_freeze_s {
            merged.get_or_insert_with(new_histogram).add(histogram).expect("histograms of the same bounds add");
        }
        rows.push(row(Some(city.clone()), tally));
    }
    assert_eq!(&total, province, "the cities' rows of {period} sum to the province-wide projection");
    let totals = row(None, &Tally { figures: total, time_to_freeze_s: merged });
    assert_eq!(
        totals.time_to_freeze_samples,
        rows.iter().map(|r| r.time_to_freeze_samples).sum::<u64>(),
        "the province's samples are the cities'"
    );
    let flagged = flags(&rows, margin);
    Ok(Report { period, rows, totals, flagged })
}

fn row(city: Option<City>, tally: &Tally) -> Row {
    let figures = tally.figures;
    let frozen_share_bp = (!figures.reported_loss.is_zero()).then(|| {
        let share = u128::from(figures.money_frozen.get()) * 10_000 / u128::from(figures.reported_loss.get());
        u64::try_from(share).unwrap_or(u64::MAX)
    });
    Row {
        city,
        figures,
        time_to_freeze_samples: tally.samples(),
        time_to_freeze_s_p50: tally.time_to_freeze_at(0.5),
        time_to_freeze_s_p90: tally.time_to_freeze_at(0.9),
        frozen_share_bp,
    }
}

/// The cities worse than the median by more than `margin` (see the module's doc).
fn flags(rows: &[Row], FlagMargin(margin): FlagMargin) -> Vec<Flag> {
    let margin = u128::from(margin);
    let mut flagged = Vec::new();
    for figure in [FlagFigure::FrozenShare, FlagFigure::TimeToFreezeP90] {
        let value_of = |r: &Row| match figure {
            FlagFigure::FrozenShare => r.frozen_share_bp,
            FlagFigure::TimeToFreezeP90 => r.time_to_freeze_s_p90,
        };
        let values: Vec<(City, u64)> = rows.iter().filter_map(|r| Some((r.city.clone()?, value_of(r)?))).collect();
        let Some(median) = median(values.iter().map(|(_, v)| *v).collect()) else { continue };
        for (city, value) in values {
            let (value_x100, median_x100) = (u128::from(value) * 100, u128::from(median));
            let worse = match figure {
                FlagFigure::FrozenShare => value_x100 < median_x100 * (100 - margin),
                FlagFigure::TimeToFreezeP90 => value_x100 > median_x100 * (100 + margin),
            };
            if worse {
                flagged.push(Flag { city, figure, value, median });
            }
        }
    }
    flagged
}

/// The median of two or more values (the mean of the middle two, rounded down, for an even
/// count); none for fewer.
pub fn median(mut values: Vec<u64>) -> Option<u64> {
    if values.len() < 2 {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        // The mean without overflow: both halves, then the carry of their odd bits.
        values[mid - 1] / 2 + values[mid] / 2 + (values[mid - 1] % 2 + values[mid] % 2) / 2
    })
}

impl fmt::Display for FlagFigure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlagFigure::FrozenShare => "share of reported loss frozen",
            FlagFigure::TimeToFreezeP90 => "time to freeze p90",
        })
    }
}
