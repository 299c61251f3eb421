//! The system of record of one afc service: a redb file holding the append-only event log,
//! the outbox (events committed but not yet acknowledged by JetStream), the inbox (ids of
//! consumed messages, for idempotence), timers, and the service's own projection tables.
//!
//! redb allows one writer at a time and every `Immediate` commit costs an fsync, so all
//! writes go through one writer thread ([`writer`]) that runs many callers' operations in one
//! transaction (group commit). An operation sees and writes the same transaction as the
//! others in its batch; the event, projection change, outbox row and inbox row it writes
//! commit together or not at all.
//!
//! Architecture invariant: an operation decides (reads, validates) before it writes. If it
//! returns [`WriteError::Rejected`] it must not have written anything, because the rest of
//! its batch still commits.

#[cfg(feature = "crash-gates")]
pub mod crash_gate;
pub mod limits;
mod stats;
mod tables;
mod writer;

use std::path::Path;
use std::sync::Arc;

use domain::{City, SharedClock, TimeMs};
use events::{Envelope, Service};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use tokio::sync::Notify;

pub use redb;
pub use stats::{COMMIT_SECONDS_BUCKETS, CommitStats, Seconds};
pub use tables::{EVENTS, INBOX, INBOX_BY_TIME, OUTBOX, SNAPSHOTS, TIMER_KEYS, TIMERS};
pub use writer::{Committed, Durability, WriteCtx, WriterPriority};

/// A failure of the storage itself (I/O, corruption, a closed writer). Not a business
/// rejection: the operation may succeed after a restart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    #[error("event codec: {0}")]
    Codec(#[from] events::CodecError),
    #[error("the store's writer has stopped")]
    WriterStopped,
    /// A batch failed earlier: the store takes no more writes, and its service must stop
    /// and replay its log on restart.
    #[error("the store failed earlier and takes no more writes; restart to replay its log: {0}")]
    Failed(String),
    #[error("event log broken: {0}")]
    Corrupt(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Redb(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// The outcome of a write operation: rejected by the operation itself, or failed in storage.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    #[error(transparent)]
    Rejected(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A write that cannot be rejected can only fail in the store: `?` turns its error into
/// that [`StoreError`].
impl From<WriteError<std::convert::Infallible>> for StoreError {
    fn from(e: WriteError<std::convert::Infallible>) -> Self {
        match e {
            WriteError::Store(e) => e,
            WriteError::Rejected(never) => match never {},
        }
    }
}

impl<E> From<redb::TableError> for WriteError<E> {
    fn from(e: redb::TableError) -> Self {
        WriteError::Store(e.into())
    }
}

impl<E> From<redb::StorageError> for WriteError<E> {
    fn from(e: redb::StorageError) -> Self {
        WriteError::Store(e.into())
    }
}

/// Who writes into a store: it names the events and their ids.
#[derive(Debug, Clone)]
pub struct Producer {
    pub city: City,
    pub service: Service,
}

/// Encoded events of the log, where to go on from when a byte budget cut them short, and the
/// log's highest sequence number ([`Store::events_between`]).
pub type LogSlice = (Vec<Vec<u8>>, Option<u64>, u64);

/// Handle to a service's store. Cheap to clone; all clones share one writer.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Arc<Database>,
    /// The store's file.
    path: std::path::PathBuf,
    producer: Producer,
    writer: writer::WriterHandle,
    /// Signalled after every commit that appended events: the outbox relay wakes on it.
    outbox_ready: Arc<Notify>,
    /// Signalled after every commit that scheduled a timer.
    timers_changed: Arc<Notify>,
    /// Why the writer failed, once it has.
    failed: tokio::sync::watch::Receiver<Option<String>>,
    /// How long the writer's durable commits take.
    commits: Arc<CommitStats>,
}

/// A timer due for firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub due_ms: TimeMs,
    pub key: String,
    pub action: Vec<u8>,
}

impl Store {
    /// Opens (or creates) the store at `path` and starts its writer thread.
    pub fn open(path: &Path, producer: Producer, clock: SharedClock) -> Result<Store, StoreError> {
        Store::open_with(path, producer, clock, WriterPriority::Normal)
    }

    /// [`Store::open`], with the writer thread scheduled at `priority`.
    pub fn open_with(
        path: &Path,
        producer: Producer,
        clock: SharedClock,
        priority: WriterPriority,
    ) -> Result<Store, StoreError> {
        let db = Arc::new(Database::builder().set_cache_size(limits::CACHE_BYTES).create(path)?);
        let next_seq = {
            let mut tx = db.begin_write()?;
            tx.set_durability(redb::Durability::Immediate)?;
            tables::create_all(&tx)?;
            let last = tx.open_table(EVENTS)?.last()?.map(|(k, _)| k.value());
            tx.commit()?;
            last.unwrap_or(0) + 1
        };
        let outbox_ready = Arc::new(Notify::new());
        let timers_changed = Arc::new(Notify::new());
        let (failure, failed) = tokio::sync::watch::channel(None);
        let commits = Arc::new(CommitStats::default());
        let signals = writer::Signals {
            outbox_ready: outbox_ready.clone(),
            timers_changed: timers_changed.clone(),
            failure,
            commits: commits.clone(),
        };
        let writer = writer::spawn(db.clone(), producer.clone(), clock, next_seq, signals, priority)?;
        let path = path.to_owned();
        let inner = Inner { db, path, producer, writer, outbox_ready, timers_changed, failed, commits };
        Ok(Store { inner: Arc::new(inner) })
    }

    /// How long the writer's durable commits took so far (counted with atomics by the
    /// writer thread).
    pub fn commit_stats(&self) -> &CommitStats {
        &self.inner.commits
    }

    /// Resolves once a batch has failed in storage, with why: the store takes no more writes
    /// from then on, and its service must stop (its restart replays the log).
    pub async fn failed(&self) -> String {
        let mut failed = self.inner.failed.clone();
        loop {
            if let Some(reason) = failed.borrow_and_update().clone() {
                return reason;
            }
            if failed.changed().await.is_err() {
                // The writer is gone without having failed: it never will now.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The store's file: a service keeps files of its own beside it (e.g. an index).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn producer(&self) -> &Producer {
        &self.inner.producer
    }

    /// Runs `op` in the next group-commit batch and returns its result once the batch is
    /// durably committed.
    pub async fn write<R, E, F>(&self, op: F) -> Result<R, WriteError<E>>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, WriteError<E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        self.inner.writer.enqueue(Durability::Immediate, op).await?.wait().await
    }

    /// Like [`Store::write`] for work off the latency path: the result comes once the write
    /// is on disk, but its fsync may wait up to [`limits::DEFERRED_LINGER`] to be shared
    /// with other writes ([`Durability::Deferred`]).
    pub async fn write_deferred<R, E, F>(&self, op: F) -> Result<R, WriteError<E>>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, WriteError<E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        self.inner.writer.enqueue(Durability::Deferred, op).await?.wait().await
    }

    /// Queues `op` now, in call order, and returns a handle to await its commit. Callers that
    /// apply state in memory use this so the log's order is the order they applied.
    /// [`Store::write_deferred`], queued now and awaited later (as [`Store::enqueue`]).
    pub async fn enqueue_deferred<R, E, F>(&self, op: F) -> Result<Committed<R, E>, StoreError>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, WriteError<E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        self.inner.writer.enqueue(Durability::Deferred, op).await
    }

    pub async fn enqueue<R, E, F>(&self, op: F) -> Result<Committed<R, E>, StoreError>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, WriteError<E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        self.inner.writer.enqueue(Durability::Immediate, op).await
    }

    /// Runs a read-only closure on a consistent snapshot, off the async executor.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&ReadTransaction) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let db = self.inner.db.clone();
        match tokio::task::spawn_blocking(move || f(&db.begin_read()?)).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(StoreError::WriterStopped),
        }
    }

    /// Like [`Store::read`], on the calling thread (start-up, tests, tools).
    pub fn read_blocking<R>(&self, f: impl FnOnce(&ReadTransaction) -> Result<R, StoreError>) -> Result<R, StoreError> {
        f(&self.inner.db.begin_read()?)
    }

    /// Calls `apply` on every event of the log, in sequence order, checking the sequence is
    /// contiguous from 1. Used at start-up to rebuild in-memory state and by `afc replay`.
    pub fn replay(&self, mut apply: impl FnMut(&Envelope)) -> Result<u64, StoreError> {
        self.read_blocking(|tx| {
            let table = tx.open_table(EVENTS)?;
            let mut expected = 1;
            for row in table.iter()? {
                let (seq, bytes) = row?;
                if seq.value() != expected {
                    return Err(StoreError::Corrupt(format!(
                        "sequence gap: expected {expected}, found {}",
                        seq.value()
                    )));
                }
                let envelope = events::decode(bytes.value())?;
                apply(&envelope);
                expected += 1;
            }
            Ok(expected - 1)
        })
    }

    /// Like [`Store::replay`], for the events after `after` only (those a snapshot taken at
    /// `after` does not hold); returns the last sequence number.
    pub fn replay_after(&self, after: u64, mut apply: impl FnMut(&Envelope)) -> Result<u64, StoreError> {
        self.read_blocking(|tx| {
            let table = tx.open_table(EVENTS)?;
            let mut expected = after.saturating_add(1);
            for row in table.range(expected..)? {
                let (seq, bytes) = row?;
                if seq.value() != expected {
                    return Err(StoreError::Corrupt(format!(
                        "sequence gap: expected {expected}, found {}",
                        seq.value()
                    )));
                }
                apply(&events::decode(bytes.value())?);
                expected += 1;
            }
            Ok(expected - 1)
        })
    }

    /// The encoded events `from..=to` of the log, in order, as many as fit in `max_bytes`
    /// (at least the first found); where to go on from when `max_bytes` cut them short; and
    /// the log's highest sequence number. For a `resend` (`events::province`).
    pub fn events_between(&self, from: u64, to: u64, max_bytes: usize) -> Result<LogSlice, StoreError> {
        self.read_blocking(|tx| {
            let table = tx.open_table(EVENTS)?;
            let highest = table.last()?.map_or(0, |(k, _)| k.value());
            let (mut found, mut size, mut next) = (Vec::new(), 0usize, None);
            if from <= to {
                for row in table.range(from..=to)? {
                    let (seq, bytes) = row?;
                    let bytes = bytes.value();
                    if !found.is_empty() && size + bytes.len() > max_bytes {
                        next = Some(seq.value());
                        break;
                    }
                    size += bytes.len();
                    found.push(bytes.to_vec());
                }
            }
            Ok((found, next, highest))
        })
    }

    /// The snapshot saved under `name` ([`WriteCtx::save_snapshot`]): the sequence number of
    /// the last event it holds, and its bytes.
    pub fn snapshot(&self, name: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.read_blocking(|tx| {
            let Some(row) = tx.open_table(SNAPSHOTS)?.get(name)? else { return Ok(None) };
            let value = row.value();
            let (seq, bytes) = value
                .split_first_chunk::<8>()
                .ok_or_else(|| StoreError::Corrupt(format!("snapshot {name} is {} bytes", value.len())))?;
            Ok(Some((u64::from_le_bytes(*seq), bytes.to_vec())))
        })
    }

    /// Up to `limit` events committed but not yet confirmed by JetStream, oldest first.
    pub async fn outbox(&self, limit: usize) -> Result<Vec<(u64, Envelope, Vec<u8>)>, StoreError> {
        self.outbox_after(0, limit).await
    }

    /// Like [`Store::outbox`], only events with a sequence number above `after`.
    pub async fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Envelope, Vec<u8>)>, StoreError> {
        self.read(move |tx| {
            let outbox = tx.open_table(OUTBOX)?;
            let log = tx.open_table(EVENTS)?;
            let mut rows = Vec::new();
            let Some(first) = after.checked_add(1) else {
                return Ok(rows);
            };
            for row in outbox.range(first..)?.take(limit) {
                let seq = row?.0.value();
                let bytes = log
                    .get(seq)?
                    .ok_or_else(|| StoreError::Corrupt(format!("outbox row {seq} has no event")))?
                    .value()
                    .to_vec();
                rows.push((seq, events::decode(&bytes)?, bytes));
            }
            Ok(rows)
        })
        .await
    }

    /// Number of events waiting in the outbox.
    pub async fn outbox_len(&self) -> Result<u64, StoreError> {
        self.read(|tx| Ok(tx.open_table(OUTBOX)?.len()?)).await
    }

    /// Removes outbox rows JetStream has confirmed. The removal is [`Durability::Lazy`]: a
    /// crash may bring rows back, and their events are sent again (JetStream drops them as
    /// duplicates by `Nats-Msg-Id`; consumers skip them by their inbox).
    pub async fn outbox_confirm(&self, seqs: Vec<u64>) -> Result<(), StoreError> {
        Ok(self.outbox_confirm_queued(seqs).await?.wait().await?)
    }

    /// Queues the removal of confirmed outbox rows and returns without waiting for its
    /// commit, so a relay can go on publishing (it must then skip these rows itself, e.g.
    /// with [`Store::outbox_after`]). A failed removal only means the events are sent again.
    pub async fn outbox_confirm_queued(
        &self,
        seqs: Vec<u64>,
    ) -> Result<Committed<(), std::convert::Infallible>, StoreError> {
        #[cfg(feature = "crash-gates")]
        if !seqs.is_empty() {
            crash_gate::hold_task(crash_gate::Gate::BeforeOutboxConfirm, self.inner.producer.service).await;
        }
        self.inner
            .writer
            .enqueue(Durability::Lazy, move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                let mut table = ctx.tx().open_table(OUTBOX)?;
                for seq in seqs {
                    table.remove(seq)?;
                }
                Ok(())
            })
            .await
    }

    /// Removes up to `limit` inbox rows of messages consumed before `consumed_before_ms`;
    /// returns how many. Only rows of messages that can no longer be redelivered may go:
    /// callers pass a time older than the source stream's retention. The removal is
    /// [`Durability::Lazy`]: rows a crash brings back are removed by the next pass.
    pub async fn prune_inbox(&self, consumed_before_ms: TimeMs, limit: usize) -> Result<usize, StoreError> {
        let committed = self
            .inner
            .writer
            .enqueue(Durability::Lazy, move |ctx| -> Result<usize, WriteError<std::convert::Infallible>> {
                // The oldest rows first, from the time index: no scan of the whole inbox.
                let mut by_time = ctx.tx().open_table(INBOX_BY_TIME)?;
                let old: Vec<(u64, String)> = by_time
                    .range((0, "")..(consumed_before_ms, ""))?
                    .take(limit)
                    .map(|row| row.map(|(key, _)| (key.value().0, key.value().1.to_owned())))
                    .collect::<Result<_, _>>()?;
                let mut inbox = ctx.tx().open_table(INBOX)?;
                for (at, id) in &old {
                    by_time.remove((*at, id.as_str()))?;
                    inbox.remove(id.as_str())?;
                }
                Ok(old.len())
            })
            .await?;
        Ok(committed.wait().await?)
    }

    /// Wakes when new events were committed.
    pub fn outbox_ready(&self) -> Arc<Notify> {
        self.inner.outbox_ready.clone()
    }

    /// Wakes when a timer was scheduled.
    pub fn timers_changed(&self) -> Arc<Notify> {
        self.inner.timers_changed.clone()
    }

    /// When the earliest timer is due.
    pub async fn next_timer_due(&self) -> Result<Option<TimeMs>, StoreError> {
        self.read(|tx| Ok(tx.open_table(TIMERS)?.first()?.map(|(k, _)| k.value().0))).await
    }

    /// Up to `limit` timers due at or before `now_ms`, earliest first. Firing a timer does not
    /// remove it: the operation that handles it cancels it in the same transaction as its
    /// events, so a crash in between fires it again.
    pub async fn due_timers(&self, now_ms: TimeMs, limit: usize) -> Result<Vec<DueTimer>, StoreError> {
        self.read(move |tx| {
            let table = tx.open_table(TIMERS)?;
            let mut due = Vec::new();
            for row in table.iter()?.take(limit) {
                let (key, action) = row?;
                let (due_ms, name) = key.value();
                if due_ms > now_ms {
                    break;
                }
                due.push(DueTimer { due_ms, key: name.to_owned(), action: action.value().to_vec() });
            }
            Ok(due)
        })
        .await
    }
}
