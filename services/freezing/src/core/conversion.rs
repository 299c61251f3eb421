//! When a claim is converted into a freeze: its conversion timer, derived from the state.

use domain::{AccountRef, CaseId, TimeMs};
use events::FreezingEvent;

use super::{Conversion, CoreConfig};
use crate::limits::LAPSE_MARGIN_MS;

/// When `conversion` is due: when its failed freeze is to be asked for again; else
/// [`freeze_due`] from when the money was stopped, or the latest safe moment before the
/// lapse when that is not known.
pub fn conversion_due(config: &CoreConfig, conversion: &Conversion) -> TimeMs {
    if let Some(retry) = conversion.retry {
        return retry.retry_at_ms;
    }
    match conversion.since_ms {
        Some(since) => freeze_due(config, since, conversion.expires_at_ms),
        None => conversion.expires_at_ms.saturating_sub(LAPSE_MARGIN_MS),
    }
}

/// The claims whose conversion `event` starts, changes or ends.
pub fn conversion_touched(event: &FreezingEvent) -> Option<(CaseId, AccountRef)> {
    match event {
        FreezingEvent::AccountStopped { case_id, account, claim_fen, .. } if !claim_fen.is_zero() => {
            Some((case_id.clone(), account.clone()))
        }
        FreezingEvent::StopRenewed { case_id, account, .. }
        | FreezingEvent::AccountFrozen { case_id, account, .. }
        | FreezingEvent::FreezeQueued { case_id, account, .. }
        | FreezingEvent::FreezeFailed { case_id, account, .. }
        | FreezingEvent::FreezeRetrying { case_id, account, .. }
        | FreezingEvent::FreezeAtRisk { case_id, account, .. }
        | FreezingEvent::ClaimRevised { case_id, account, .. } => Some((case_id.clone(), account.clone())),
        _ => None,
    }
}

/// When to convert a stop-payment made at `now` and lapsing at `expires_at_ms` into a freeze:
/// after the configured delay, but never later than [`LAPSE_MARGIN_MS`] before the lapse
/// (and never before `now`).
pub fn freeze_due(config: &CoreConfig, now: TimeMs, expires_at_ms: TimeMs) -> TimeMs {
    now.saturating_add(config.freeze_after_ms).min(expires_at_ms.saturating_sub(LAPSE_MARGIN_MS)).max(now)
}
