//! The outbox relay: the bridge from a service's redb log to its city stream.
//!
//! Events are committed to redb first (the system of record) with an outbox row. The relay
//! publishes outbox events in sequence order with `Nats-Msg-Id` = event id, awaits every
//! acknowledgement, and only then removes the rows. The removal is queued, not awaited: the
//! relay remembers the last sequence JetStream confirmed (its cursor) and goes on with the
//! rows after it, so publishing never waits for a redb commit. After a crash or a failed
//! publish it starts again from the first row left in the outbox: a re-sent event inside the
//! duplicate window is dropped by JetStream, and consumers are idempotent beyond it.
//!
//! A publish that fails is retried with backoff for as long as the service runs (the outbox
//! holds the events meanwhile). A failure of the store itself ends the relay with an error:
//! the service stops and its restart reads the outbox again.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use store::Store;

use crate::limits::{RELAY_BACKOFF_MAX, RELAY_BACKOFF_MIN, RELAY_BATCH};
use crate::{BusError, Shutdown, error_chain, stopped};

/// Publishes one batch of the outbox rows after `cursor` and moves the cursor past the
/// events JetStream confirmed. Returns how many it confirmed. On an error the cursor goes
/// back to 0, so everything still in the outbox is sent again.
pub async fn relay_once(js: &jetstream::Context, store: &Store, cursor: &mut u64) -> Result<usize, BusError> {
    let result = publish_after(js, store, cursor).await;
    if result.is_err() {
        *cursor = 0;
    }
    result
}

async fn publish_after(js: &jetstream::Context, store: &Store, cursor: &mut u64) -> Result<usize, BusError> {
    let batch = store.outbox_after(*cursor, RELAY_BATCH).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut pending = Vec::with_capacity(batch.len());
    for (seq, envelope, bytes) in batch {
        let subject = envelope.subject();
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
        let ack = js
            .publish_with_headers(subject.clone(), headers, bytes.into())
            .await
            .map_err(|e| BusError::Publish { subject: subject.clone(), source: e.into() })?;
        pending.push((seq, subject, ack));
    }
    let mut confirmed = Vec::with_capacity(pending.len());
    for (seq, subject, ack) in pending {
        ack.await.map_err(|e| BusError::Publish { subject, source: e.into() })?;
        confirmed.push(seq);
    }
    let count = confirmed.len();
    *cursor = confirmed.last().copied().unwrap_or(*cursor);
    // Not awaited: the next batch is read past the cursor, whether or not this commit is done.
    drop(store.outbox_confirm_queued(confirmed).await?);
    Ok(count)
}

/// Runs the relay until shutdown, waking whenever the store commits new events. On
/// shutdown it publishes what is left in the outbox (bounded by [`DRAIN_TIMEOUT`]; what it
/// could not publish is sent by the next start). Returns an error only when the store
/// fails.
pub async fn run_relay(js: jetstream::Context, store: Store, mut shutdown: Shutdown) -> Result<(), BusError> {
    let ready = store.outbox_ready();
    let mut backoff = RELAY_BACKOFF_MIN;
    let mut cursor = 0;
    loop {
        match relay_once(&js, &store, &mut cursor).await {
            Ok(0) => {
                backoff = RELAY_BACKOFF_MIN;
                tokio::select! {
                    () = ready.notified() => {}
                    () = stopped(&mut shutdown) => break,
                }
            }
            Ok(_) => backoff = RELAY_BACKOFF_MIN,
            Err(BusError::Store(error)) => return Err(BusError::Store(error)),
            Err(error) => {
                let retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(error = error_chain(&error), retry_in_ms, "outbox relay failed");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(&mut shutdown) => break,
                }
                backoff = (backoff * 2).min(RELAY_BACKOFF_MAX);
            }
        }
    }
    match drain(&js, &store).await {
        Ok(()) => Ok(()),
        Err(BusError::Store(error)) => Err(BusError::Store(error)),
        Err(error) => {
            tracing::warn!(error = error_chain(&error), "outbox not drained at shutdown; the next start sends it");
            Ok(())
        }
    }
}

/// How long [`drain`] waits at most.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes everything left in the outbox (on shutdown), giving up after [`DRAIN_TIMEOUT`].
pub async fn drain(js: &jetstream::Context, store: &Store) -> Result<(), BusError> {
    let work = async {
        let mut cursor = 0;
        while relay_once(js, store, &mut cursor).await? > 0 {}
        // The last removals were queued, not awaited: a write behind them (the writer runs
        // them in order) returns once they are committed.
        store.outbox_confirm(Vec::new()).await?;
        Ok(())
    };
    tokio::time::timeout(DRAIN_TIMEOUT, work).await.unwrap_or(Err(BusError::DrainTimedOut(DRAIN_TIMEOUT)))
}
