//! Every bound of the load harness, in one place.

use std::time::Duration;

/// Highest offered rate, in requests per second: above it the interval (10 µs) is far below
/// the tokio timer's 1 ms granularity and the schedule is only a burst per millisecond.
pub const MAX_RATE_PER_S: f64 = 100_000.0;

/// Most requests one schedule drives: bounds the memory of the per-request results.
pub const MAX_REQUESTS: u64 = 10_000_000;

/// Most requests in flight at once in [`crate::harness::drive`]; beyond it a request waits for a
/// slot, is sent late, and its lateness counts in its latency.
pub const MAX_IN_FLIGHT: usize = 100_000;

/// Significant decimal digits every histogram keeps (0.1% value resolution).
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// Largest latency a histogram tracks; larger values are recorded as this value.
pub const HISTOGRAM_MAX: Duration = Duration::from_secs(3_600);

/// Most series in one chart panel.
pub const MAX_CHART_SERIES: usize = 32;

/// Most points in one chart series.
pub const MAX_CHART_POINTS: usize = 1_000;

/// Most panels in one chart.
pub const MAX_CHART_PANELS: usize = 8;
