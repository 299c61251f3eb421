//! Every bound of the load harness, and of the drills' simulated carriers and staff, in one
//! place.

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

/// Most contact signals the drill's carriers publish at once (then wait for their streams'
/// acknowledgements before the next batch).
pub const MAX_SIGNALS_IN_FLIGHT: usize = 256;

/// Times one signal is published (the same message id: the stream drops a repeat) before it
/// is counted lost.
pub const SIGNAL_PUBLISH_ATTEMPTS: u32 = 5;

/// Pause before a signal not acknowledged is published again, or a `complete` not answered
/// is sent again.
pub const PEOPLE_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Longest the carriers' signal emitter and the simulated staff wait, in real time, before
/// looking at the clock again (a time scale's simulated minutes are real milliseconds).
pub const PEOPLE_MAX_IDLE: Duration = Duration::from_millis(250);

/// Simulated time an idle operator waits before asking their queue again: ten minutes, well
/// within every deadline (the shortest, a visit's dispatch, is two hours).
pub const STAFF_IDLE_POLL_MS: u64 = 10 * 60 * 1000;

/// Times a `complete` the service answered `unavailable` (or not at all) is sent again before
/// the operator gives the task up (it stays claimed; its deadline moves it on).
pub const STAFF_COMPLETE_ATTEMPTS: u32 = 5;
