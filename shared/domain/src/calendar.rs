//! Proleptic Gregorian dates as day counts since 1970-01-01, both ways, and times of day
//! at a fixed offset from UTC.
//!
//! afc keeps time as [`TimeMs`]; dates only appear at the edges, where a
//! scenario file names its start and a report or a screen prints a time. These are
//! H. Hinnant's `days_from_civil` and `civil_from_days`: exact integer arithmetic, before
//! and after 1970, with no table and no time-zone database. Both directions live here once
//! rather than in each crate that needs one.
//!
//! Local time is a fixed [`UtcOffset`]: China Standard Time (Asia/Shanghai) is UTC+8 all
//! year, with no daylight saving time since 1991, so the centers' clock is an addition and
//! the same millisecond prints the same on every machine. [`since`] prints how long after
//! a moment (a case's report) something happened.

use std::fmt;

use crate::TimeMs;

/// A day, ms.
const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`, negative before
/// it. `month` is 1 to 12 and `day` 1 to 31, unchecked: a day past the month's end counts on
/// into the next month (`2025-02-30` is `2025-03-02`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    // Years start in March, so the leap day is the last day of the year before.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since 1970-01-01
/// (negative before it); `month` is 1 to 12 and `day` 1 to 31.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // In range by construction (month 1 to 12, day 1 to 31): the casts cannot truncate.
    (year, month as u32, day as u32)
}

/// A fixed offset from UTC, in minutes east of it (`+08:00` is 480).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UtcOffset {
    minutes: i32,
}

/// Why an offset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time zone {given:?}: expected UTC, Asia/Shanghai or an offset such as +08:00 (-14:00 to +14:00)")]
pub struct UtcOffsetError {
    pub given: String,
}

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset { minutes: 0 };
    /// China Standard Time (Asia/Shanghai), the centers' clock: UTC+8 all year.
    pub const CHINA: UtcOffset = UtcOffset { minutes: 8 * 60 };

    /// An offset of `minutes` east of UTC, within ±14 h (the widest offset in use).
    pub fn from_minutes(minutes: i32) -> Option<UtcOffset> {
        (-14 * 60..=14 * 60).contains(&minutes).then_some(UtcOffset { minutes })
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i32 {
        self.minutes
    }

    /// Parses `UTC` (or `Z`), `Asia/Shanghai` (the one named zone: China's clock has a
    /// single fixed offset), or `+08:00`, `+0800`, `+08`, `-05:30`.
    pub fn parse(text: &str) -> Result<UtcOffset, UtcOffsetError> {
        let refused = || UtcOffsetError { given: text.to_owned() };
        let trimmed = text.trim();
        if ["utc", "z", "gmt"].iter().any(|name| trimmed.eq_ignore_ascii_case(name)) {
            return Ok(UtcOffset::UTC);
        }
        if ["asia/shanghai", "prc", "cst"].iter().any(|name| trimmed.eq_ignore_ascii_case(name)) {
            return Ok(UtcOffset::CHINA);
        }
        let trimmed = trimmed.strip_prefix("UTC").or_else(|| trimmed.strip_prefix("utc")).unwrap_or(trimmed);
        let (sign, rest) = match trimmed.as_bytes().first() {
            Some(b'+') => (1, &trimmed[1..]),
            Some(b'-') => (-1, &trimmed[1..]),
            _ => return Err(refused()),
        };
        let (hours, minutes) = match (rest.len(), rest.split_once(':')) {
            (_, Some((h, m))) if h.len() == 2 && m.len() == 2 => (h, m),
            (4, None) => rest.split_at(2),
            (2, None) => (rest, "00"),
            _ => return Err(refused()),
        };
        let digits = |part: &str| -> Option<i32> {
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
        };
        let (Some(hours), Some(minutes)) = (digits(hours), digits(minutes)) else {
            return Err(refused());
        };
        if minutes >= 60 {
            return Err(refused());
        }
        UtcOffset::from_minutes(sign * (hours * 60 + minutes)).ok_or_else(refused)
    }

    /// The date and time on this offset's clock at `at_ms`.
    pub fn local(self, at_ms: TimeMs) -> LocalTime {
        let utc = i64::try_from(at_ms).unwrap_or(i64::MAX / 2);
        let local = utc + i64::from(self.minutes) * 60_000;
        let (days, ms_of_day) = (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS));
        let (year, month, day) = civil_from_days(days);
        let seconds = ms_of_day / 1000;
        // Each is below 60 (or 24) by construction: the casts cannot truncate.
        LocalTime {
            year,
            month,
            day,
            hour: (seconds / 3600) as u32,
            minute: (seconds / 60 % 60) as u32,
            second: (seconds % 60) as u32,
        }
    }
}

impl UtcOffset {
    /// The moment a date, or a date and time, on this offset's clock names:
    /// `2025-03-14`, `2025-03-14 09:00` or `2025-03-14 09:00:12` (also with `T` between). An
    /// error names what is accepted; a moment before 1970 is refused.
    pub fn moment(self, text: &str) -> Result<TimeMs, String> {
        let expected =
            || format!("{text:?} is not a date on the clock: give 2025-03-14, 2025-03-14 09:00 or 2025-03-14 09:00:12");
        let text = text.trim();
        let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00"));
        let number = |part: &str, width: usize| -> Option<i64> {
            (part.len() == width && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse().ok()).flatten()
        };
        let mut date_parts = date.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (date_parts.next(), date_parts.next(), date_parts.next(), date_parts.next())
        else {
            return Err(expected());
        };
        let mut time_parts = time.split(':');
        let (Some(hour), Some(minute), second, None) =
            (time_parts.next(), time_parts.next(), time_parts.next(), time_parts.next())
        else {
            return Err(expected());
        };
        let fields = (
            number(year, 4),
            number(month, 2),
            number(day, 2),
            number(hour, 2),
            number(minute, 2),
            second.map_or(Some(0), |s| number(s, 2)),
        );
        let (
            Some(year),
            Some(month @ 1..=12),
            Some(day @ 1..=31),
            Some(hour @ 0..=23),
            Some(minute @ 0..=59),
            Some(second @ 0..=59),
        ) = fields
        else {
            return Err(expected());
        };
        // The day must exist in its month: 2025-02-30 comes back as another date.
        let days = days_from_civil(year, month as u32, day as u32);
        if civil_from_days(days) != (year, month as u32, day as u32) {
            return Err(expected());
        }
        let local = days * DAY_MS + (hour * 3600 + minute * 60 + second) * 1000;
        let utc = local - i64::from(self.minutes) * 60_000;
        TimeMs::try_from(utc).map_err(|_| format!("{text:?} is before 1970-01-01 00:00 UTC"))
    }
}

impl Default for UtcOffset {
    /// The centers' clock, [`UtcOffset::CHINA`].
    fn default() -> Self {
        UtcOffset::CHINA
    }
}

impl std::str::FromStr for UtcOffset {
    type Err = UtcOffsetError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        UtcOffset::parse(text)
    }
}

/// `UTC+08:00`, `UTC-05:30`, `UTC`.
impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minutes == 0 {
            return f.write_str("UTC");
        }
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let minutes = self.minutes.unsigned_abs();
        write!(f, "UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

/// A date and a time of day on some offset's clock, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl LocalTime {
    /// `2025-03-14 09:00`: to the minute.
    pub fn to_minute(&self) -> String {
        format!("{:04}-{:02}-{:02} {:02}:{:02}", self.year, self.month, self.day, self.hour, self.minute)
    }
}

/// `2025-03-14 09:00:12`.
impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// How long after `from_ms` the moment `at_ms` is, signed, in its two largest units:
/// `+0s`, `+850ms`, `+45s`, `+2m13s`, `+1h05m`, `+2d03h`; `-5s` before it.
pub fn since(from_ms: TimeMs, at_ms: TimeMs) -> String {
    let sign = if at_ms < from_ms { '-' } else { '+' };
    format!("{sign}{}", span(at_ms.abs_diff(from_ms)))
}

/// A length of time in its two largest units, as [`since`] prints it without the sign:
/// `0s`, `850ms` (below a second), `45s`, `2m13s`, `1h05m`, `2d03h`.
pub fn span(ms: u64) -> String {
    if (1..1000).contains(&ms) {
        return format!("{ms}ms");
    }
    let seconds = ms / 1000;
    let (days, hours, minutes, secs) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m{secs:02}s"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h:02}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-03-14 01:00:12 UTC: 09:00:12 in China.
    const MORNING_MS: TimeMs = 1_741_914_012_000;

    #[test]
    fn a_time_prints_on_the_chinese_clock_by_default() {
        assert_eq!(UtcOffset::default().local(MORNING_MS).to_string(), "2025-03-14 09:00:12");
        assert_eq!(UtcOffset::CHINA.local(MORNING_MS + 999).to_string(), "2025-03-14 09:00:12");
        assert_eq!(UtcOffset::UTC.local(MORNING_MS).to_string(), "2025-03-14 01:00:12");
        assert_eq!(UtcOffset::CHINA.local(MORNING_MS).to_minute(), "2025-03-14 09:00");
        // 17:00 UTC is the next day in China.
        assert_eq!(UtcOffset::CHINA.local(MORNING_MS + 16 * 3_600_000).to_string(), "2025-03-15 01:00:12");
        assert_eq!(UtcOffset::parse("-05:30").unwrap().local(MORNING_MS).to_string(), "2025-03-13 19:30:12");
        assert_eq!(UtcOffset::CHINA.local(0).to_string(), "1970-01-01 08:00:00");
        assert_eq!(UtcOffset::parse("-01:00").unwrap().local(0).to_string(), "1969-12-31 23:00:00");
    }

    #[test]
    fn offsets_parse_and_print() {
        for (text, minutes) in [
            ("UTC", 0),
            ("z", 0),
            ("Asia/Shanghai", 480),
            ("+08:00", 480),
            ("+0800", 480),
            ("+08", 480),
            ("UTC+08:00", 480),
            ("-05:30", -330),
            ("+14:00", 840),
        ] {
            assert_eq!(UtcOffset::parse(text).map(UtcOffset::minutes), Ok(minutes), "{text}");
        }
        for bad in ["", "8", "+8", "+08:60", "+15:00", "Europe/Paris", "+08:00:00", "+0a:00", "++08"] {
            assert!(UtcOffset::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(UtcOffset::CHINA.to_string(), "UTC+08:00");
        assert_eq!(UtcOffset::parse("-05:30").unwrap().to_string(), "UTC-05:30");
        assert_eq!(UtcOffset::UTC.to_string(), "UTC");
    }

    #[test]
    fn offsets_from_a_moment_print_in_two_units() {
        assert_eq!(since(MORNING_MS, MORNING_MS), "+0s");
        assert_eq!(since(MORNING_MS, MORNING_MS + 850), "+850ms");
        assert_eq!(since(MORNING_MS, MORNING_MS + 1_999), "+1s");
        assert_eq!(since(MORNING_MS, MORNING_MS + 45_000), "+45s");
        assert_eq!(since(MORNING_MS, MORNING_MS + 133_000), "+2m13s");
        assert_eq!(since(MORNING_MS, MORNING_MS + 3_905_000), "+1h05m");
        assert_eq!(since(MORNING_MS, MORNING_MS + 2 * 86_400_000 + 3 * 3_600_000 + 59_000), "+2d03h");
        assert_eq!(since(MORNING_MS, MORNING_MS - 5_000), "-5s");
        assert_eq!(span(60_000), "1m00s");
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(20_148), (2025, 3, 1));
        assert_eq!(days_from_civil(2025, 3, 1), 20_148);
    }

    #[test]
    fn century_leap_rules_hold() {
        // 2000 is a leap year (divisible by 400), 1900 and 2100 are not.
        assert_eq!(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
        assert_eq!(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1);
        assert_eq!(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28), 1);
    }

    #[test]
    fn both_directions_round_trip_day_by_day() {
        // From 1600-01-01 to 2400-12-31: several 400-year eras, on both sides of 1970.
        let first = days_from_civil(1600, 1, 1);
        let last = days_from_civil(2400, 12, 31);
        let mut expected = civil_from_days(first);
        assert_eq!(expected, (1600, 1, 1));
        for days in first..=last {
            let date = civil_from_days(days);
            assert_eq!(date, expected, "day {days}");
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
            expected = next_day(date);
        }
    }

    /// The calendar date after `date`, by month lengths (test only).
    fn next_day((year, month, day): (i64, u32, u32)) -> (i64, u32, u32) {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let length = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        match (month, day) {
            (12, 31) => (year + 1, 1, 1),
            (_, d) if d == length => (year, month + 1, 1),
            _ => (year, month, day + 1),
        }
    }

    #[test]
    fn a_date_or_a_time_on_the_clock_names_one_moment_and_anything_else_is_refused_with_the_forms_accepted() {
        let china = UtcOffset::CHINA;
        // 09:00 on 14 March 2025 in Beijing is 01:00 UTC.
        assert_eq!(china.moment("2025-03-14 09:00"), Ok(1_741_914_000_000));
        assert_eq!(china.moment("2025-03-14T09:00:00"), Ok(1_741_914_000_000));
        assert_eq!(china.moment("2025-03-14"), Ok(1_741_914_000_000 - 9 * 3_600_000));
        assert_eq!(UtcOffset::parse("UTC").unwrap().moment("2025-03-14 01:00:12"), Ok(1_741_914_012_000));
        assert_eq!(china.local(china.moment("2024-02-29 23:59:59").unwrap()).to_string(), "2024-02-29 23:59:59");
        for bad in ["2025-02-30", "2025-13-01", "2025-03-14 24:00", "14/03/2025", "2025-3-14", "yesterday", ""] {
            let refused = china.moment(bad).unwrap_err();
            assert!(refused.contains("2025-03-14 09:00"), "{bad}: {refused}");
        }
        assert!(china.moment("1970-01-01 07:59").unwrap_err().contains("before 1970"));
    }
}
