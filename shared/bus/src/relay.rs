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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use events::{FreezingEvent, Payload};
use store::{Seconds, Store};

use crate::changes::Touched;
use crate::limits::{RELAY_BACKOFF_MAX, RELAY_BACKOFF_MIN, RELAY_BATCH, RELAY_KINDS, TIME_TO_FREEZE_BUCKETS};
use crate::{BusError, Shutdown, error_chain, stopped};

/// What a relay shows of itself to its node's health and metrics, kept with atomics: the
/// events JetStream confirmed per kind, and whether it is getting them out.
#[derive(Debug)]
pub struct RelayStats {
    /// Events stored per kind, a copy sent again not counted twice: a kind takes the first
    /// free slot the first time it is published, and keeps it (a service has a few dozen
    /// kinds at most).
    published: [OnceLock<(&'static str, AtomicU64)>; RELAY_KINDS],
    /// Confirmed events of kinds beyond the slots.
    published_other: AtomicU64,
    failures: AtomicU64,
    /// Report to the last stop that held money, of each trace freezing completed
    /// (`trace_completed`'s `time_to_freeze_ms`): the centers' headline figure.
    time_to_freeze: Seconds,
    /// Since `epoch`, in ms plus one: the last pass that failed (0: none since the last
    /// success), and the last that succeeded (0: none yet).
    failing_since: AtomicU64,
    last_success: AtomicU64,
    epoch: Instant,
    /// Where the cases of the events published are noted, to be told ([`crate::changes`]).
    touched: Option<Arc<Touched>>,
}

impl Default for RelayStats {
    fn default() -> Self {
        RelayStats {
            published: std::array::from_fn(|_| OnceLock::new()),
            published_other: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            time_to_freeze: Seconds::new(&TIME_TO_FREEZE_BUCKETS),
            failing_since: AtomicU64::new(0),
            last_success: AtomicU64::new(0),
            epoch: Instant::now(),
            touched: None,
        }
    }
}

impl RelayStats {
    /// Stats that also note each published event's case in `touched`.
    pub fn noting(touched: Arc<Touched>) -> RelayStats {
        RelayStats { touched: Some(touched), ..RelayStats::default() }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn confirmed(&self, kind: &'static str, count: u64) {
        for slot in &self.published {
            let (name, counter) = slot.get_or_init(|| (kind, AtomicU64::new(0)));
            if *name == kind {
                counter.fetch_add(count, Ordering::Relaxed);
                return;
            }
        }
        self.published_other.fetch_add(count, Ordering::Relaxed);
    }

    fn succeeded(&self) {
        self.failing_since.store(0, Ordering::Relaxed);
        self.last_success.store(self.now(), Ordering::Relaxed);
    }

    fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let _ = self.failing_since.compare_exchange(0, self.now(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Events JetStream stored, per kind, each once however often it was sent (`other`:
    /// kinds beyond the slots).
    pub fn published(&self) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<(&'static str, u64)> = self
            .published
            .iter()
            .map_while(OnceLock::get)
            .map(|(kind, counter)| (*kind, counter.load(Ordering::Relaxed)))
            .collect();
        let other = self.published_other.load(Ordering::Relaxed);
        if other > 0 {
            counts.push(("other", other));
        }
        counts
    }

    /// The time-to-freeze of the traces this relay's events completed (freezing's).
    pub fn time_to_freeze(&self) -> &Seconds {
        &self.time_to_freeze
    }

    /// Passes that failed to publish (each is retried).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// How long the relay has been failing, `None` when its last pass succeeded.
    pub fn failing_for(&self) -> Option<Duration> {
        let since = self.failing_since.load(Ordering::Relaxed);
        (since > 0).then(|| Duration::from_millis(self.now().saturating_sub(since)))
    }

    /// How long ago the last pass succeeded (published, or found nothing to publish); `None`
    /// before the first.
    pub fn since_success(&self) -> Option<Duration> {
        let last = self.last_success.load(Ordering::Relaxed);
        (last > 0).then(|| Duration::from_millis(self.now().saturating_sub(last)))
    }
}

/// Publishes one batch of the outbox rows after `cursor` and moves the cursor past the
/// events JetStream confirmed. Returns how many it confirmed. On an error the cursor goes
/// back to 0, so everything still in the outbox is sent again.
pub async fn relay_once(js: &jetstream::Context, store: &Store, cursor: &mut u64) -> Result<usize, BusError> {
    relay_counted(js, store, cursor, None).await
}

async fn relay_counted(
    js: &jetstream::Context,
    store: &Store,
    cursor: &mut u64,
    stats: Option<&RelayStats>,
) -> Result<usize, BusError> {
    let result = publish_after(js, store, cursor, stats).await;
    if let Some(stats) = stats {
        if result.is_ok() { stats.succeeded() } else { stats.failed() }
    }
    if result.is_err() {
        *cursor = 0;
    }
    result
}

async fn publish_after(
    js: &jetstream::Context,
    store: &Store,
    cursor: &mut u64,
    stats: Option<&RelayStats>,
) -> Result<usize, BusError> {
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
        if let Some(touched) = stats.and_then(|stats| stats.touched.as_deref()) {
            touched.note(envelope.correlation.as_ref());
        }
        let time_to_freeze = match &envelope.payload {
            Payload::Freezing(FreezingEvent::TraceCompleted { time_to_freeze_ms: Some(ms), .. }) => Some(*ms),
            _ => None,
        };
        pending.push((seq, envelope.payload.name(), time_to_freeze, subject, ack));
    }
    let mut confirmed = Vec::with_capacity(pending.len());
    for (seq, kind, time_to_freeze, subject, ack) in pending {
        let ack = ack.await.map_err(|e| BusError::Publish { subject, source: e.into() })?;
        // Sent again (a pass after a failure, the drain at shutdown, before the outbox rows
        // were removed): JetStream kept the first copy, and the first was counted.
        if let Some(stats) = stats.filter(|_| !ack.duplicate) {
            stats.confirmed(kind, 1);
            if let Some(ms) = time_to_freeze {
                stats.time_to_freeze.record(Duration::from_millis(ms));
            }
        }
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
pub async fn run_relay(js: jetstream::Context, store: Store, shutdown: Shutdown) -> Result<(), BusError> {
    run_relay_counted(js, store, &RelayStats::default(), shutdown).await
}

/// [`run_relay`], showing what it does in `stats`.
pub async fn run_relay_counted(
    js: jetstream::Context,
    store: Store,
    stats: &RelayStats,
    mut shutdown: Shutdown,
) -> Result<(), BusError> {
    let ready = store.outbox_ready();
    let mut backoff = RELAY_BACKOFF_MIN;
    let mut cursor = 0;
    loop {
        match relay_counted(&js, &store, &mut cursor, Some(stats)).await {
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
    match drain_counted(&js, &store, Some(stats)).await {
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
    drain_counted(js, store, None).await
}

async fn drain_counted(js: &jetstream::Context, store: &Store, stats: Option<&RelayStats>) -> Result<(), BusError> {
    let work = async {
        let mut cursor = 0;
        while relay_counted(js, store, &mut cursor, stats).await? > 0 {}
        // The last removals were queued, not awaited: a write behind them (the writer runs
        // them in order) returns once they are committed.
        store.outbox_confirm(Vec::new()).await?;
        Ok(())
    };
    tokio::time::timeout(DRAIN_TIMEOUT, work).await.unwrap_or(Err(BusError::DrainTimedOut(DRAIN_TIMEOUT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_each_kind_apart_up_to_the_slots_and_the_rest_together() {
        let stats = RelayStats::default();
        assert_eq!((stats.published(), stats.failing_for(), stats.since_success()), (vec![], None, None));
        stats.confirmed("case_reported", 2);
        stats.confirmed("account_frozen", 1);
        stats.confirmed("case_reported", 1);
        assert_eq!(stats.published(), [("case_reported", 3), ("account_frozen", 1)]);
        let names: Vec<&'static str> =
            (0..RELAY_KINDS).map(|i| &*Box::leak(format!("kind_{i}").into_boxed_str())).collect();
        for name in &names {
            stats.confirmed(name, 1);
        }
        let published = stats.published();
        assert_eq!(published.len(), RELAY_KINDS + 1);
        assert_eq!(published.last(), Some(&("other", 2)), "the kinds beyond the slots, together");

        stats.failed();
        stats.failed();
        assert_eq!(stats.failures(), 2);
        assert!(stats.failing_for().is_some());
        stats.succeeded();
        assert!(stats.failing_for().is_none() && stats.since_success().is_some());
    }
}
