//! When a hop whose bank or platform could not answer is asked again, and until when. The
//! adapter error's kind decides: a transient failure (no answer, nobody listening, a broken
//! connection, `unavailable`) is retried within the golden window after the report; an
//! order the platform does not know yet (`unknown_order`: not settled) within a while after
//! it was first asked; anything else ends the hop.

use adapters::AdapterError;
use domain::TimeMs;
use protocol::adapter::AdapterErrorKind as Refusal;

use super::{CaseTrace, CoreConfig, Hop, HopRetry};
use crate::limits::{HOP_RETRY_BACKOFF_MS, MAX_HOP_ATTEMPTS};

/// The retry `hop` gets after `failure` at `now`, or `None` when it is to end.
pub fn hop_retry(
    config: &CoreConfig,
    trace: &CaseTrace,
    hop: &Hop,
    failure: &AdapterError,
    now: TimeMs,
) -> Option<HopRetry> {
    let attempt = hop.retry.map_or(1, |r| r.attempt.saturating_add(1));
    let first_failed_at_ms = hop.retry.map_or(now, |r| r.first_failed_at_ms);
    let until = if failure.kind.refusal() == Some(Refusal::UnknownOrder) {
        first_failed_at_ms.saturating_add(config.unsettled_order_window_ms)
    } else if failure.kind.is_transient() {
        trace.reported_at_ms.saturating_add(config.retry_window_ms)
    } else {
        return None;
    };
    let pause =
        HOP_RETRY_BACKOFF_MS[usize::try_from(attempt - 1).unwrap_or(usize::MAX).min(HOP_RETRY_BACKOFF_MS.len() - 1)];
    let retry_at_ms = now.saturating_add(pause);
    (attempt <= MAX_HOP_ATTEMPTS && retry_at_ms <= until).then_some(HopRetry {
        attempt,
        first_failed_at_ms,
        retry_at_ms,
    })
}
