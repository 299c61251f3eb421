//! Proleptic Gregorian dates as day counts since 1970-01-01, both ways.
//!
//! afc keeps time as [`TimeMs`](crate::TimeMs); dates only appear at the edges, where a
//! scenario file names its start and a report prints a simulated time. These are
//! H. Hinnant's `days_from_civil` and `civil_from_days`: exact integer arithmetic, before
//! and after 1970, with no table and no time-zone database. Both directions live here once
//! rather than in each crate that needs one.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
