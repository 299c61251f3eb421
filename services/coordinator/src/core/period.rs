//! Periods of the provincial view — a day, an ISO week, a month — in Beijing time (UTC+8, no
//! daylight saving), read from text ("2025-03-14", "2025-W10", "2025-03") with a typed error
//! naming the field, the value and what is accepted, and found from an event's time.

use std::fmt;
use std::str::FromStr;

use domain::TimeMs;
use domain::calendar::{civil_from_days, days_from_civil};

use crate::limits::{BEIJING_OFFSET_MS, DAY_MS};

/// A period the figures are kept and reported by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A Beijing calendar day, as days since 1970-01-01.
    Day(i64),
    /// An ISO 8601 week (Monday to Sunday) of an ISO week-numbering year.
    Week { year: i32, week: u8 },
    /// A calendar month.
    Month { year: i32, month: u8 },
}

/// Why a period's text was not accepted: the field, the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period {field} {value:?}: expected {expected}")]
pub struct PeriodError {
    pub field: &'static str,
    pub value: String,
    pub expected: String,
}

/// What a whole period's text may be.
pub const PERIOD_EXPECTED: &str = "a day YYYY-MM-DD, an ISO week YYYY-Www or a month YYYY-MM (Beijing time)";

/// Years a period may name: the center's records start well after 2000, and four digits
/// keep the text form unambiguous.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2999;

impl Period {
    /// The Beijing day `time_ms` falls in.
    pub fn day_of(time_ms: TimeMs) -> Period {
        Period::Day(beijing_days(time_ms))
    }

    /// The ISO week `time_ms` falls in, in Beijing time.
    pub fn week_of(time_ms: TimeMs) -> Period {
        let (year, week) = iso_week(beijing_days(time_ms));
        Period::Week { year, week }
    }

    /// The month `time_ms` falls in, in Beijing time.
    pub fn month_of(time_ms: TimeMs) -> Period {
        let (year, month, _) = civil_from_days(beijing_days(time_ms));
        Period::Month { year: year as i32, month: month as u8 }
    }

    /// The day, the week and the month `time_ms` falls in: where an event at that time counts.
    pub fn all_of(time_ms: TimeMs) -> [Period; 3] {
        [Period::day_of(time_ms), Period::week_of(time_ms), Period::month_of(time_ms)]
    }

    /// The first Beijing day of the period, as days since 1970-01-01.
    pub fn first_day(self) -> i64 {
        match self {
            Period::Day(days) => days,
            Period::Week { year, week } => iso_week_monday(year, week),
            Period::Month { year, month } => days_from_civil(i64::from(year), u32::from(month), 1),
        }
    }

    /// Reads a period's text; see [`PERIOD_EXPECTED`].
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let whole = || PeriodError { field: "period", value: text.to_owned(), expected: PERIOD_EXPECTED.to_owned() };
        let parts: Vec<&str> = text.split('-').collect();
        let year = |part: &str| -> Result<i32, PeriodError> {
            number(part, 4).and_then(|y| i32::try_from(y).ok()).filter(|y| YEARS.contains(y)).ok_or_else(|| {
                PeriodError {
                    field: "year",
                    value: part.to_owned(),
                    expected: format!("four digits, {} to {}", YEARS.start(), YEARS.end()),
                }
            })
        };
        let month = |part: &str| -> Result<u8, PeriodError> {
            number(part, 2).filter(|m| (1..=12).contains(m)).map(|m| m as u8).ok_or_else(|| PeriodError {
                field: "month",
                value: part.to_owned(),
                expected: "two digits, 01 to 12".to_owned(),
            })
        };
        match parts.as_slice() {
            [y, w] if w.starts_with('W') => {
                let year = year(y)?;
                let weeks = weeks_in(year);
                let week =
                    number(&w[1..], 2).filter(|n| (1..=u64::from(weeks)).contains(n)).ok_or_else(|| PeriodError {
                        field: "week",
                        value: (*w).to_owned(),
                        expected: format!("W and two digits, W01 to W{weeks} in {year}"),
                    })?;
                Ok(Period::Week { year, week: week as u8 })
            }
            [y, m] => Ok(Period::Month { year: year(y)?, month: month(m)? }),
            [y, m, d] => {
                let (year, month) = (year(y)?, month(m)?);
                let length = month_length(year, month);
                let day = number(d, 2).filter(|n| (1..=u64::from(length)).contains(n)).ok_or_else(|| PeriodError {
                    field: "day",
                    value: (*d).to_owned(),
                    expected: format!("two digits, 01 to {length} in {year}-{month:02}"),
                })?;
                Ok(Period::Day(days_from_civil(i64::from(year), u32::from(month), day as u32)))
            }
            _ => Err(whole()),
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Period, PeriodError> {
        Period::parse(s)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Day(days) => {
                let (year, month, day) = civil_from_days(days);
                write!(f, "{year:04}-{month:02}-{day:02}")
            }
            Period::Week { year, week } => write!(f, "{year:04}-W{week:02}"),
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

/// Exactly `digits` ASCII digits, as a number.
fn number(text: &str, digits: usize) -> Option<u64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

/// Days since 1970-01-01 of the Beijing date at `time_ms`.
pub fn beijing_days(time_ms: TimeMs) -> i64 {
    // u64 ms since 1970 plus 8 h fits in u64 for any time before the year 500 million.
    let local = time_ms.saturating_add(BEIJING_OFFSET_MS);
    (local / DAY_MS) as i64
}

/// Monday = 0 … Sunday = 6 of a day count (1970-01-01 was a Thursday).
fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

/// The ISO week-numbering year and week of a day: the week's Thursday decides the year.
pub fn iso_week(days: i64) -> (i32, u8) {
    let thursday = days - weekday(days) + 3;
    let (year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    (year as i32, week as u8)
}

/// The Monday of ISO week `week` of `year`: week 1 holds 4 January.
fn iso_week_monday(year: i32, week: u8) -> i64 {
    let january_4 = days_from_civil(i64::from(year), 1, 4);
    january_4 - weekday(january_4) + 7 * (i64::from(week) - 1)
}

/// Weeks in an ISO year, 52 or 53: the week of 28 December is the year's last.
fn weeks_in(year: i32) -> u8 {
    iso_week(days_from_civil(i64::from(year), 12, 28)).1
}

fn month_length(year: i32, month: u8) -> u8 {
    let next = if month == 12 { (i64::from(year) + 1, 1) } else { (i64::from(year), u32::from(month) + 1) };
    (days_from_civil(next.0, next.1, 1) - days_from_civil(i64::from(year), u32::from(month), 1)) as u8
}

/// A period reads as it prints (`2025-03`, `2025-W10`, `2025-03-14`; see [`Period::parse`]).
impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(from: D) -> Result<Period, D::Error> {
        let text = String::deserialize(from)?;
        Period::parse(&text).map_err(serde::de::Error::custom)
    }
}
