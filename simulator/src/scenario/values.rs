//! Readers of single values: a count or `[min, max]` range, a range of minutes, a share, a
//! positive duration, the start date and the time scale; each refuses a bad value with an
//! error naming its field, and shows values as the file would write them.

use domain::calendar::days_from_civil;
use domain::{City, MAX_TIME_SCALE, TimeMs};
use toml::Value;

use super::error::invalid;
use super::{DEFAULT_TIME_SCALE, DEFAULT_UTC_OFFSET_MINUTES, MINUTE_MS, ScenarioError, Span};

/// A TOML value as it would be written.
pub(super) fn show(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(datetime) => datetime.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Table(table) => {
            let fields: Vec<String> = table.iter().map(|(k, v)| format!("{k} = {}", show(v))).collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

pub(super) fn expected_city(known: &[City]) -> String {
    let names: Vec<&str> = known.iter().map(City::as_str).collect();
    format!("one of the [[cities]]: {}", names.join(", "))
}

pub(super) fn show_widths(widths: &[Span<u32>]) -> String {
    let shown: Vec<String> = widths
        .iter()
        .map(|w| if w.min == w.max { w.min.to_string() } else { format!("[{}, {}]", w.min, w.max) })
        .collect();
    format!("[{}]", shown.join(", "))
}

/// A share from 0 to 1.
pub(super) fn share(field: &str, value: f64) -> Result<f64, ScenarioError> {
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(invalid(field, value, "a share from 0 to 1")) }
}

/// A positive amount of `unit_ms` units, in whole ms.
pub(super) fn positive_ms(field: &str, value: f64, unit_ms: f64) -> Result<u64, ScenarioError> {
    if value.is_finite() && value > 0.0 && value * unit_ms >= 1.0 && value * unit_ms < u64::MAX as f64 {
        Ok((value * unit_ms).round() as u64)
    } else {
        Err(invalid(field, value, "a positive number"))
    }
}

/// A `[min, max]` range of minutes, in ms, within `floor_ms..=ceiling_ms`.
pub(super) fn minutes_span(
    field: &str,
    pair: [f64; 2],
    floor_ms: u64,
    ceiling_ms: u64,
) -> Result<Span<u64>, ScenarioError> {
    unit_span(field, pair, (MINUTE_MS, "minutes"), floor_ms, ceiling_ms)
}

/// A `[min, max]` range of hours, in ms, within `floor_ms..=ceiling_ms`.
pub(super) fn hours_span(
    field: &str,
    pair: [f64; 2],
    floor_ms: u64,
    ceiling_ms: u64,
) -> Result<Span<u64>, ScenarioError> {
    unit_span(field, pair, (MINUTE_MS * 60.0, "hours"), floor_ms, ceiling_ms)
}

fn unit_span(
    field: &str,
    [lo, hi]: [f64; 2],
    (unit_ms, unit): (f64, &str),
    floor_ms: u64,
    ceiling_ms: u64,
) -> Result<Span<u64>, ScenarioError> {
    let (lo_ms, hi_ms) = (lo * unit_ms, hi * unit_ms);
    if lo.is_finite() && hi.is_finite() && floor_ms as f64 <= lo_ms && lo_ms <= hi_ms && hi_ms <= ceiling_ms as f64 {
        Ok(Span { min: lo_ms.round() as u64, max: hi_ms.round() as u64 })
    } else {
        Err(invalid(
            field,
            format!("[{lo}, {hi}]"),
            format!(
                "[min, max] {unit} with {} <= min <= max <= {}",
                floor_ms as f64 / unit_ms,
                ceiling_ms as f64 / unit_ms
            ),
        ))
    }
}

/// A count given as `n` or `[min, max]`, within `floor..=ceiling`.
pub(super) fn count_span(field: &str, value: &Value, floor: u32, ceiling: u32) -> Result<Span<u32>, ScenarioError> {
    let expected =
        || format!("a count from {floor} to {ceiling}, or [min, max] with {floor} <= min <= max <= {ceiling}");
    let count = |v: &Value| match v {
        Value::Integer(n) => u32::try_from(*n).ok().filter(|n| (floor..=ceiling).contains(n)),
        _ => None,
    };
    let span = match value {
        Value::Integer(_) => count(value).map(Span::exactly),
        Value::Array(pair) if pair.len() == 2 => match (count(&pair[0]), count(&pair[1])) {
            (Some(min), Some(max)) if min <= max => Some(Span { min, max }),
            _ => None,
        },
        _ => None,
    };
    span.ok_or_else(|| invalid(field, show(value), expected()))
}

pub(super) fn optional_count_span(
    field: &str,
    value: Option<&Value>,
    default: [u32; 2],
    floor: u32,
    ceiling: u32,
) -> Result<Span<u32>, ScenarioError> {
    match value {
        None => Ok(Span { min: default[0], max: default[1] }),
        Some(value) => count_span(field, value, floor, ceiling),
    }
}

/// `start`: a TOML date or date-time (local ones are China Standard Time), the same as a
/// string, or milliseconds since the epoch.
pub(super) fn parse_start(value: &Value) -> Result<TimeMs, ScenarioError> {
    const EXPECTED: &str = "a date (2025-03-01), a date-time (2025-03-01T08:00:00, +08:00 when no offset is given) \
                            or milliseconds since 1970";
    let datetime = match value {
        Value::Integer(ms) => return u64::try_from(*ms).map_err(|_| invalid("scenario.start", ms, EXPECTED)),
        Value::Datetime(datetime) => *datetime,
        Value::String(text) => text
            .parse::<toml::value::Datetime>()
            .map_err(|_| invalid("scenario.start", format!("{text:?}"), EXPECTED))?,
        other => return Err(invalid("scenario.start", show(other), EXPECTED)),
    };
    datetime_ms(&datetime).ok_or_else(|| invalid("scenario.start", datetime.to_string(), EXPECTED))
}

/// Milliseconds since the epoch of a TOML date or date-time, or `None` for a bare time or a
/// moment before 1970.
pub(super) fn datetime_ms(datetime: &toml::value::Datetime) -> Option<TimeMs> {
    let date = datetime.date?;
    let days = days_from_civil(i64::from(date.year), u32::from(date.month), u32::from(date.day));
    let (hour, minute, second, nanos) = match datetime.time {
        Some(time) => (time.hour, time.minute, time.second.unwrap_or(0), time.nanosecond.unwrap_or(0)),
        None => (0, 0, 0, 0),
    };
    let offset_minutes = match datetime.offset {
        None => DEFAULT_UTC_OFFSET_MINUTES,
        Some(toml::value::Offset::Z) => 0,
        Some(toml::value::Offset::Custom { minutes }) => i64::from(minutes),
    };
    let seconds =
        days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second) - offset_minutes * 60;
    let ms = seconds.checked_mul(1000)?.checked_add(i64::from(nanos / 1_000_000))?;
    u64::try_from(ms).ok()
}

/// `time_scale`: a number from 1 to [`MAX_TIME_SCALE`], or `"real"` for 1.
pub(super) fn parse_time_scale(value: Option<&Value>) -> Result<f64, ScenarioError> {
    let expected = format!("a number from 1 to {MAX_TIME_SCALE}, or \"real\" (1)");
    let scale = match value {
        None => DEFAULT_TIME_SCALE,
        Some(Value::String(word)) if word == "real" => 1.0,
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Float(x)) => *x,
        Some(other) => return Err(invalid("scenario.time_scale", show(other), expected)),
    };
    if (1.0..=MAX_TIME_SCALE).contains(&scale) {
        Ok(scale)
    } else {
        Err(invalid("scenario.time_scale", scale, expected))
    }
}
