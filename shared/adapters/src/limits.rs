//! Bounds of the adapter clients, in one place.

use std::time::Duration;

/// How long one adapter request may take before it is retried.
pub const ADAPTER_TIMEOUT: Duration = Duration::from_secs(5);

/// Retries of one adapter request after a timeout, no responders or an `unavailable` answer.
pub const ADAPTER_RETRIES: u32 = 3;

/// Pause before the first retry; doubles with each retry.
pub const ADAPTER_RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Distinct series of failed calls a service counts (`errors::AdapterErrors`): a city's
/// dozen banks and platforms and three carriers, each failing in a few ways at a few verbs,
/// stay far under it; bank codes come from reports, so a flood of made-up ones must not grow
/// the node's metrics without bound. Past it, failures count in one `other` series.
pub const MAX_ADAPTER_ERROR_SERIES: usize = 200;
