//! Bounds of the freezing service, in one place.

use std::time::Duration;

/// Deepest trail level followed. Published cases reach the 4th level; mule networks
/// rarely go past 6; beyond 8 the money is spread too thin to be worth a stop-payment.
pub const MAX_TRACE_DEPTH: u8 = 8;

/// Inputs waiting for the engine (consumed reports, adapter answers).
pub const ENGINE_QUEUE_DEPTH: usize = 4096;

/// Adapter requests in flight at once, across all cases.
pub const MAX_ADAPTER_IN_FLIGHT: usize = 1024;

/// How long one adapter request may take before it is retried.
pub const ADAPTER_TIMEOUT: Duration = Duration::from_secs(5);

/// Retries of one adapter request after a timeout or an `unavailable` answer.
pub const ADAPTER_RETRIES: u32 = 3;

/// Pause before the first retry; doubles with each retry.
pub const ADAPTER_RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Conversions into freezes started per wake-up of the engine.
pub const TIMER_BATCH: usize = 256;

/// Longest the engine sleeps before looking at its conversion timers again (the clock may be
/// scaled in drills).
pub const TIMER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// A stop-payment is converted into a freeze at least this long before it lapses, whatever
/// the configured delay: time for the freeze request and its retries, and for a renewal if
/// the freeze fails.
pub const LAPSE_MARGIN_MS: u64 = 2 * 60 * 60 * 1000;
