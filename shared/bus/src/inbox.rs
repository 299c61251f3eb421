//! Inbox pruning. A consumer records every message it committed in its store's inbox so a
//! redelivery is recognised. JetStream can only redeliver what its stream still holds, so a
//! row older than the stream's retention (plus a margin) protects nothing and is removed.

use std::time::Duration;

use domain::SharedClock;
use store::Store;

use crate::limits::{CITY_STREAM_MAX_AGE, INBOX_PRUNE_BATCH, INBOX_PRUNE_EVERY, INBOX_RETENTION_MARGIN};
use crate::{BusError, Shutdown, stopped};

/// How long an inbox row is kept: the source stream's retention plus a margin, in ms.
pub fn retention_ms() -> u64 {
    u64::try_from((CITY_STREAM_MAX_AGE + INBOX_RETENTION_MARGIN).as_millis()).unwrap_or(u64::MAX)
}

/// Removes expired inbox rows now and then every [`INBOX_PRUNE_EVERY`] of business time,
/// at most [`INBOX_PRUNE_BATCH`] rows per commit, until shutdown. A storage failure ends it
/// with the error.
pub async fn run_pruner(store: Store, clock: SharedClock, mut shutdown: Shutdown) -> Result<(), BusError> {
    loop {
        let cutoff = clock.now_ms().saturating_sub(retention_ms());
        let mut removed = 0;
        loop {
            let batch = store.prune_inbox(cutoff, INBOX_PRUNE_BATCH).await?;
            removed += batch;
            if batch < INBOX_PRUNE_BATCH {
                break;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "expired inbox rows pruned");
        }
        let every_ms = u64::try_from(INBOX_PRUNE_EVERY.as_millis()).unwrap_or(u64::MAX);
        let wait: Duration = clock.real_duration(every_ms);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(&mut shutdown) => return Ok(()),
        }
    }
}
