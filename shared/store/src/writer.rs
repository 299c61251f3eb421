//! The single writer thread and its group commit.
//!
//! Callers submit operations through a bounded queue. The thread takes the first waiting
//! operation and every other one already queued (up to [`MAX_BATCH_OPS`]), runs them all in
//! one write transaction, commits it with `Immediate` durability and two-phase commit, and
//! only then tells each caller its result. While one batch commits, the next one queues up,
//! so the fsync cost is shared by everything that arrived meanwhile.
//!
//! An operation whose loss in a crash is harmless (removing confirmed outbox rows: a lost
//! removal only re-sends an event, which JetStream drops as a duplicate and consumers skip)
//! may be queued as [`Durability::Lazy`]. A batch made only of such operations commits
//! without an fsync; it becomes durable with the next `Immediate` commit. That keeps the
//! relay's bookkeeping from adding fsyncs in front of the operations that need them.
//!
//! An operation off the latency path whose caller still needs it on disk before going on
//! (a projection that acknowledges its message afterwards) may be queued as
//! [`Durability::Deferred`]. Its batch commits without an fsync unless something else in it
//! needs one, and its caller is told only when a later `Immediate` commit has made it
//! durable; if none comes within [`DEFERRED_LINGER`], the writer commits an empty
//! `Immediate` transaction itself. A stream of projection writes then costs one fsync per
//! linger period instead of one per batch, and stops competing for the disk with the
//! writes on the time-to-freeze path.
//!
//! Deferred operations wait in a queue of their own, and a batch takes at most
//! [`MAX_DEFERRED_PER_BATCH`] of them, after every other operation already waiting. A
//! report's write then never waits behind a burst of projection writes (before, up to a
//! whole queue of them ran ahead of it). So deferred operations may run after other
//! operations queued later: they must not depend on them (a projection of consumed events
//! does not), while the other operations keep their order among themselves.

use std::sync::Arc;

use domain::{CaseId, SharedClock, TimeMs};
use events::{Envelope, Payload};
use redb::{Database, ReadableTable, WriteTransaction};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::limits::{
    BACKGROUND_COMMIT_INTERVAL, BACKGROUND_WRITER_NICE, DEFERRED_LINGER, MAX_BATCH_OPS, MAX_DEFERRED_PER_BATCH,
    WRITE_QUEUE_DEPTH,
};
use crate::tables::{EVENTS, INBOX, INBOX_BY_TIME, OUTBOX, SNAPSHOTS, TIMER_KEYS, TIMERS};
use crate::{Producer, StoreError, WriteError};

/// Tells a caller how its batch ended: `Ok` once committed, or why it was not.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation, run on the writer thread. Returns its completion, and the storage error
/// that must abort the batch, if any. Given `Err(reason)` instead of a context (the store
/// failed earlier), it runs nothing and its completion tells the caller why.
type Operation = Box<dyn FnOnce(Result<&mut WriteCtx<'_>, &str>) -> (Completion, Option<StoreError>) + Send>;

/// How durable an operation's commit must be when its caller is told it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsync) before the caller hears of it.
    Immediate,
    /// Visible to readers at once; on disk with the next `Immediate` commit. Only for
    /// writes whose loss in a crash is harmless.
    Lazy,
    /// On disk before the caller hears of it, but the fsync may wait up to
    /// [`DEFERRED_LINGER`] to be shared with later writes.
    Deferred,
}

/// How the writer thread is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterPriority {
    /// Like the caller's threads: for a store whose commits are on a latency path (a
    /// report is answered after its commit).
    Normal,
    /// Niced to [`BACKGROUND_WRITER_NICE`], and at most one durable commit per
    /// [`BACKGROUND_COMMIT_INTERVAL`]: for a store whose commits nobody waits on for latency
    /// (freezing sends its requests before the commit). Under CPU contention the threads on
    /// the latency path run first, and fewer, bigger commits leave the disk to the stores
    /// whose callers wait for their fsync.
    Background,
}

/// Who the writer wakes after a commit.
pub(crate) struct Signals {
    /// Events were appended (the relay has work).
    pub outbox_ready: Arc<Notify>,
    /// Timers were scheduled (the timer loop may have an earlier one).
    pub timers_changed: Arc<Notify>,
    /// Set once a batch failed: why (see [`crate::Store::failed`]).
    pub failure: tokio::sync::watch::Sender<Option<String>>,
    /// How long the durable commits take.
    pub commits: Arc<crate::stats::CommitStats>,
}

struct Job {
    durability: Durability,
    operation: Operation,
}

#[derive(Debug)]
pub(crate) struct WriterHandle {
    /// `None` once the handle is being dropped.
    queue: Option<mpsc::Sender<Job>>,
    /// Deferred operations; `None` once the handle is being dropped.
    deferred: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WriterHandle {
    /// Closes the queue and waits for the writer to finish its batch and release the file,
    /// so the store can be reopened as soon as the last handle is gone.
    fn drop(&mut self) {
        self.queue.take();
        self.deferred.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What an operation can do inside a batch's write transaction.
pub struct WriteCtx<'a> {
    tx: &'a WriteTransaction,
    producer: &'a Producer,
    next_seq: &'a mut u64,
    now_ms: TimeMs,
    appended: bool,
    scheduled: bool,
}

impl std::fmt::Debug for WriteCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteCtx").field("next_seq", self.next_seq).field("now_ms", &self.now_ms).finish()
    }
}

impl WriteCtx<'_> {
    /// The batch's time: the same for every operation in it.
    pub fn now_ms(&self) -> TimeMs {
        self.now_ms
    }

    /// The write transaction, for the service's own projection tables.
    pub fn tx(&self) -> &WriteTransaction {
        self.tx
    }

    /// Appends an event to the log and the outbox, giving it the next sequence number.
    pub fn append(
        &mut self,
        correlation: Option<CaseId>,
        causation: Option<String>,
        payload: Payload,
    ) -> Result<Envelope, StoreError> {
        assert_eq!(payload.service(), self.producer.service, "a service appends only its own events");
        let seq = *self.next_seq;
        let envelope =
            Envelope { correlation, causation, ..Envelope::new(self.producer.city.clone(), seq, self.now_ms, payload) };
        let bytes = events::encode(&envelope)?;
        self.tx.open_table(EVENTS)?.insert(seq, bytes.as_slice())?;
        self.tx.open_table(OUTBOX)?.insert(seq, ())?;
        *self.next_seq += 1;
        self.appended = true;
        Ok(envelope)
    }

    /// The sequence number of the last event appended so far (in earlier operations of the
    /// batch, and in this one before the call); 0 before the first event of the log.
    pub fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Saves `bytes` as the snapshot `name` of the state after every event appended so far
    /// (in earlier operations, and in this one before the call); returns the sequence number
    /// of the last of them. Queued in order with the events, the snapshot matches the log.
    pub fn save_snapshot(&mut self, name: &str, bytes: &[u8]) -> Result<u64, StoreError> {
        let seq = self.last_seq();
        let mut value = Vec::with_capacity(8 + bytes.len());
        value.extend_from_slice(&seq.to_le_bytes());
        value.extend_from_slice(bytes);
        self.tx.open_table(SNAPSHOTS)?.insert(name, value.as_slice())?;
        Ok(seq)
    }

    /// Records a consumed message id. Returns false when it had been consumed before.
    pub fn mark_consumed(&mut self, message_id: &str) -> Result<bool, StoreError> {
        let mut inbox = self.tx.open_table(INBOX)?;
        if inbox.get(message_id)?.is_some() {
            return Ok(false);
        }
        inbox.insert(message_id, self.now_ms)?;
        self.tx.open_table(INBOX_BY_TIME)?.insert((self.now_ms, message_id), ())?;
        Ok(true)
    }

    /// Whether a message id was consumed before.
    pub fn was_consumed(&self, message_id: &str) -> Result<bool, StoreError> {
        Ok(self.tx.open_table(INBOX)?.get(message_id)?.is_some())
    }

    /// Schedules (or reschedules) the timer `key` at `due_ms` with a service-defined action.
    pub fn schedule(&mut self, key: &str, due_ms: TimeMs, action: &[u8]) -> Result<(), StoreError> {
        self.cancel(key)?;
        self.tx.open_table(TIMERS)?.insert((due_ms, key), action)?;
        self.tx.open_table(TIMER_KEYS)?.insert(key, due_ms)?;
        self.scheduled = true;
        Ok(())
    }

    /// Cancels the timer `key`. Returns whether it existed.
    pub fn cancel(&mut self, key: &str) -> Result<bool, StoreError> {
        let due = self.tx.open_table(TIMER_KEYS)?.remove(key)?.map(|d| d.value());
        if let Some(due_ms) = due {
            self.tx.open_table(TIMERS)?.remove((due_ms, key))?;
        }
        Ok(due.is_some())
    }
}

pub(crate) fn spawn(
    db: Arc<Database>,
    producer: Producer,
    clock: SharedClock,
    mut next_seq: u64,
    signals: Signals,
    priority: WriterPriority,
) -> Result<WriterHandle, StoreError> {
    let Signals { outbox_ready, timers_changed, failure, commits } = signals;
    let (queue, mut jobs_rx) = mpsc::channel::<Job>(WRITE_QUEUE_DEPTH);
    let (deferred, mut deferred_rx) = mpsc::channel::<Job>(WRITE_QUEUE_DEPTH);
    let name = format!("store-{}-{}", producer.city, producer.service);
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            if priority == WriterPriority::Background {
                // On Linux the nice value is per thread: this lowers only the writer.
                let tid = rustix::thread::gettid();
                if let Err(error) = rustix::process::setpriority_process(Some(tid), BACKGROUND_WRITER_NICE) {
                    tracing::warn!(%error, "could not lower the store writer's priority; it runs at normal priority");
                }
            }
            // Only for waiting on both queues, with a deadline while deferred callers wait.
            let timer = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a current-thread runtime with a timer starts");
            // Callers of deferred operations already committed, waiting for an fsync.
            let mut awaiting_fsync: Vec<Completion> = Vec::new();
            let mut linger_until: Option<tokio::time::Instant> = None;
            // When the last durable commit started.
            let mut last_fsync = tokio::time::Instant::now();
            // Why a batch failed, once one has: every later operation is refused unrun. Its
            // callers decided it on a state that includes the lost batch (freezing answers a
            // hop opened in it), so committing it would make a log that no replay accepts.
            let mut failed: Option<String> = None;
            loop {
                // `None`: the linger ran out, or both queues closed.
                let first = timer.block_on(async {
                    let deadline = linger_until.unwrap_or_else(tokio::time::Instant::now);
                    tokio::select! {
                        biased;
                        Some(job) = jobs_rx.recv() => Some(job),
                        Some(job) = deferred_rx.recv() => Some(job),
                        () = tokio::time::sleep_until(deadline), if linger_until.is_some() => None,
                        else => None,
                    }
                });
                let Some(first) = first else {
                    // The linger ran out, or the queue closed: make the deferred writes durable.
                    if !awaiting_fsync.is_empty() {
                        let result = match &failed {
                            Some(reason) => Err(reason.clone()),
                            None => {
                                let outcome =
                                    run_batch(&db, &producer, &commits, clock.now_ms(), &mut next_seq, Vec::new(), true);
                                outcome.map(|_| ()).map_err(|(_, error)| error)
                            }
                        };
                        if let (Err(error), None) = (&result, &failed) {
                            tracing::error!(%error, "store flush of deferred writes failed; the store takes no more writes");
                            failed = Some(error.clone());
                            failure.send_replace(Some(error.clone()));
                        }
                        for done in awaiting_fsync.drain(..) {
                            done(result.clone());
                        }
                    }
                    linger_until = None;
                    let drained = |rx: &mpsc::Receiver<Job>| rx.is_closed() && rx.is_empty();
                    if drained(&jobs_rx) && drained(&deferred_rx) {
                        break;
                    }
                    continue;
                };
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH_OPS {
                    match jobs_rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                // A background writer spaces its fsyncs: what arrives meanwhile joins the batch.
                let needs_fsync = jobs.iter().any(|job| job.durability == Durability::Immediate);
                if priority == WriterPriority::Background && needs_fsync {
                    let due = last_fsync + BACKGROUND_COMMIT_INTERVAL;
                    while jobs.len() < MAX_BATCH_OPS {
                        let next = timer.block_on(async { tokio::time::timeout_at(due, jobs_rx.recv()).await });
                        match next {
                            Ok(Some(job)) => jobs.push(job),
                            Ok(None) | Err(_) => break,
                        }
                    }
                }
                let mut deferred_taken = jobs.iter().filter(|job| job.durability == Durability::Deferred).count();
                while deferred_taken < MAX_DEFERRED_PER_BATCH && jobs.len() < MAX_BATCH_OPS {
                    match deferred_rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                    deferred_taken += 1;
                }
                if let Some(reason) = &failed {
                    for job in jobs {
                        let (done, _) = (job.operation)(Err(reason));
                        done(Err(reason.clone()));
                    }
                    continue;
                }
                let start_seq = next_seq;
                // Deferred callers waiting are bounded too: past a batch's worth, commit durably.
                let durable = jobs.iter().any(|job| job.durability == Durability::Immediate)
                    || awaiting_fsync.len() + jobs.len() >= MAX_BATCH_OPS;
                if durable {
                    last_fsync = tokio::time::Instant::now();
                }
                let outcome = run_batch(&db, &producer, &commits, clock.now_ms(), &mut next_seq, jobs, durable);
                match outcome {
                    Ok((completions, appended, scheduled)) => {
                        for (durability, done) in completions {
                            if durability == Durability::Deferred && !durable {
                                awaiting_fsync.push(done);
                            } else {
                                done(Ok(()));
                            }
                        }
                        if durable {
                            for done in awaiting_fsync.drain(..) {
                                done(Ok(()));
                            }
                            linger_until = None;
                        } else if !awaiting_fsync.is_empty() && linger_until.is_none() {
                            linger_until = Some(tokio::time::Instant::now() + DEFERRED_LINGER);
                        }
                        if appended {
                            outbox_ready.notify_one();
                        }
                        if scheduled {
                            timers_changed.notify_one();
                        }
                    }
                    Err((completions, error)) => {
                        next_seq = start_seq;
                        tracing::error!(%error, "store batch aborted; the store takes no more writes");
                        for (_, done) in completions {
                            done(Err(error.clone()));
                        }
                        for done in awaiting_fsync.drain(..) {
                            done(Err(error.clone()));
                        }
                        linger_until = None;
                        failure.send_replace(Some(error.clone()));
                        failed = Some(error);
                    }
                }
            }
        })
        .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
    Ok(WriterHandle { queue: Some(queue), deferred: Some(deferred), thread: Some(thread) })
}

type Completions = Vec<(Durability, Completion)>;
type BatchResult = Result<(Completions, bool, bool), (Completions, String)>;

/// Runs `jobs` in one write transaction and commits it, with an fsync when `durable`.
fn run_batch(
    db: &Database,
    producer: &Producer,
    commits: &crate::stats::CommitStats,
    now_ms: TimeMs,
    next_seq: &mut u64,
    jobs: Vec<Job>,
    durable: bool,
) -> BatchResult {
    let begin = || -> Result<WriteTransaction, StoreError> {
        let mut tx = db.begin_write()?;
        if durable {
            tx.set_durability(redb::Durability::Immediate)?;
            tx.set_two_phase_commit(true);
            tx.set_quick_repair(true);
        } else {
            tx.set_durability(redb::Durability::None)?;
        }
        Ok(tx)
    };
    let tx = match begin() {
        Ok(tx) => tx,
        // The jobs are dropped unrun: their callers see the writer as stopped for this batch.
        Err(e) => return Err((Vec::new(), e.to_string())),
    };
    let mut ctx = WriteCtx { tx: &tx, producer, next_seq, now_ms, appended: false, scheduled: false };
    let mut completions = Vec::with_capacity(jobs.len());
    let mut failure = None;
    for job in jobs {
        let (done, error) = (job.operation)(Ok(&mut ctx));
        completions.push((job.durability, done));
        if let Some(error) = error {
            failure = Some(error.to_string());
            break;
        }
    }
    let (appended, scheduled) = (ctx.appended, ctx.scheduled);
    if let Some(error) = failure {
        // Dropping the transaction aborts it.
        drop(tx);
        return Err((completions, error));
    }
    #[cfg(feature = "crash-gates")]
    if appended && durable {
        crate::crash_gate::hold_thread(crate::crash_gate::Gate::BeforeCommit, producer.service);
    }
    let started = std::time::Instant::now();
    match tx.commit() {
        Ok(()) => {
            if durable {
                commits.record(started.elapsed());
            }
            Ok((completions, appended, scheduled))
        }
        Err(e) => Err((completions, e.to_string())),
    }
}

impl WriterHandle {
    /// Queues `op` for the next batch (waiting for room in the queue) and returns a receiver
    /// of its result, so a caller can enqueue in order and await the commit elsewhere.
    pub(crate) async fn enqueue<R, E, F>(&self, durability: Durability, op: F) -> Result<Committed<R, E>, StoreError>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, WriteError<E>> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        let (reply, result) = oneshot::channel::<Result<R, WriteError<E>>>();
        let operation: Operation = Box::new(move |ctx| {
            let aborted = |reason: String| WriteError::Store(StoreError::Corrupt(format!("batch aborted: {reason}")));
            let ctx = match ctx {
                Ok(ctx) => ctx,
                Err(reason) => {
                    let failed = StoreError::Failed(reason.to_owned());
                    return (
                        Box::new(move |_| {
                            let _ = reply.send(Err(WriteError::Store(failed)));
                        }),
                        None,
                    );
                }
            };
            match op(ctx) {
                Ok(value) => (
                    Box::new(move |outcome: Result<(), String>| {
                        let _ = reply.send(outcome.map(|()| value).map_err(aborted));
                    }),
                    None,
                ),
                Err(WriteError::Rejected(rejection)) => (
                    Box::new(move |_| {
                        let _ = reply.send(Err(WriteError::Rejected(rejection)));
                    }),
                    None,
                ),
                Err(WriteError::Store(error)) => (
                    Box::new(move |outcome: Result<(), String>| {
                        let _ = reply.send(Err(aborted(outcome.err().unwrap_or_default())));
                    }),
                    Some(error),
                ),
            }
        });
        let queue = match durability {
            Durability::Deferred => self.deferred.as_ref(),
            Durability::Immediate | Durability::Lazy => self.queue.as_ref(),
        };
        let queue = queue.ok_or(StoreError::WriterStopped)?;
        queue.send(Job { durability, operation }).await.map_err(|_| StoreError::WriterStopped)?;
        Ok(Committed { result })
    }
}

/// The result of a queued operation, available once its batch committed.
#[derive(Debug)]
pub struct Committed<R, E> {
    result: oneshot::Receiver<Result<R, WriteError<E>>>,
}

impl<R, E> Committed<R, E> {
    /// Waits for the batch to commit (or fail).
    pub async fn wait(self) -> Result<R, WriteError<E>> {
        self.result.await.map_err(|_| WriteError::Store(StoreError::WriterStopped))?
    }
}
