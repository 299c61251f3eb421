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
//! A batch of only deferred operations is not committed: its transaction stays open and the
//! next batches run in it, until something needs a commit (an `Immediate` or `Lazy`
//! operation, a batch's worth of waiting callers, or the linger). A page that a stream of
//! projection writes touches again and again (a case's head) is then written once per
//! commit, not once per batch. Their writes become visible to readers with that commit.
//!
//! Deferred operations wait in a queue of their own, and a batch takes at most
//! [`MAX_DEFERRED_PER_BATCH`] of them, after every other operation already waiting. A
//! report's write then never waits behind a burst of projection writes (before, up to a
//! whole queue of them ran ahead of it). So deferred operations may run after other
//! operations queued later: they must not depend on them (a projection of consumed events
//! does not), while the other operations keep their order among themselves.

use std::sync::Arc;

use domain::{CaseId, SharedClock, TimeMs};
use events::{Envelope, Payload, SCHEMA_VERSION, event_id};
use redb::{Database, ReadableTable, WriteTransaction};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::limits::{
    BACKGROUND_COMMIT_INTERVAL, BACKGROUND_WRITER_NICE, DEFERRED_LINGER, MAX_BATCH_OPS, MAX_DEFERRED_PER_BATCH,
    WRITE_QUEUE_DEPTH,
};
use crate::tables::{EVENTS, INBOX, OUTBOX, TIMER_KEYS, TIMERS};
use crate::{Producer, StoreError, WriteError};

/// Tells a caller how its batch ended: `Ok` once committed, or why it was not.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation, run on the writer thread. Returns its completion, and the storage error
/// that must abort the batch, if any.
type Operation = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (Completion, Option<StoreError>) + Send>;

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
        let envelope = Envelope {
            id: event_id(&self.producer.city, self.producer.service, seq),
            city: self.producer.city.clone(),
            service: self.producer.service,
            seq,
            time_ms: self.now_ms,
            correlation,
            causation,
            schema: SCHEMA_VERSION,
            payload,
        };
        let bytes = events::encode(&envelope)?;
        self.tx.open_table(EVENTS)?.insert(seq, bytes.as_slice())?;
        self.tx.open_table(OUTBOX)?.insert(seq, ())?;
        *self.next_seq += 1;
        self.appended = true;
        Ok(envelope)
    }

    /// Records a consumed message id. Returns false when it had been consumed before.
    pub fn mark_consumed(&mut self, message_id: &str) -> Result<bool, StoreError> {
        let mut inbox = self.tx.open_table(INBOX)?;
        if inbox.get(message_id)?.is_some() {
            return Ok(false);
        }
        inbox.insert(message_id, self.now_ms)?;
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
    let Signals { outbox_ready, timers_changed } = signals;
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
            let mut state = Pending::default();
            // When the last durable commit started.
            let mut last_fsync = tokio::time::Instant::now();
            loop {
                // `None`: the linger ran out, or both queues closed.
                let linger_until = state.linger_until;
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
                    // The linger ran out, or the queues closed: make the deferred writes durable.
                    if state.waiting() {
                        last_fsync = tokio::time::Instant::now();
                        let ctx = Ctx { db: &db, producer: &producer, now_ms: clock.now_ms() };
                        state.commit(&ctx, &mut next_seq, true, &outbox_ready, &timers_changed);
                    }
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
                let has = |d: Durability| jobs.iter().any(|job| job.durability == d);
                let (immediate, lazy) = (has(Durability::Immediate), has(Durability::Lazy));
                let ctx = Ctx { db: &db, producer: &producer, now_ms: clock.now_ms() };
                if !state.run(&ctx, &mut next_seq, jobs) {
                    continue;
                }
                // Deferred callers waiting are bounded too: past a batch's worth, commit durably.
                if immediate || state.callers() >= MAX_BATCH_OPS {
                    last_fsync = tokio::time::Instant::now();
                    state.commit(&ctx, &mut next_seq, true, &outbox_ready, &timers_changed);
                } else if lazy {
                    state.commit(&ctx, &mut next_seq, false, &outbox_ready, &timers_changed);
                }
                // Otherwise only deferred operations ran: their transaction stays open, so a
                // page they touch is written once per durable commit, not once per batch.
            }
        })
        .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
    Ok(WriterHandle { queue: Some(queue), deferred: Some(deferred), thread: Some(thread) })
}

type Completions = Vec<(Durability, Completion)>;

/// What a batch needs besides its operations.
struct Ctx<'a> {
    db: &'a Database,
    producer: &'a Producer,
    now_ms: TimeMs,
}

/// Operations run but not yet committed, and deferred callers committed without an fsync.
#[derive(Default)]
struct Pending {
    /// The open transaction, with the operations run in it and the first sequence number it
    /// appended. Only deferred operations leave it open between batches.
    open: Option<(WriteTransaction, Completions, u64)>,
    appended: bool,
    scheduled: bool,
    /// Callers of deferred operations already committed, waiting for an fsync.
    awaiting_fsync: Vec<Completion>,
    /// When the oldest waiting deferred caller must be made durable.
    linger_until: Option<tokio::time::Instant>,
}

impl Pending {
    /// Whether deferred callers wait for an fsync.
    fn waiting(&self) -> bool {
        self.open.is_some() || !self.awaiting_fsync.is_empty()
    }

    /// Callers not told yet.
    fn callers(&self) -> usize {
        self.awaiting_fsync.len() + self.open.as_ref().map_or(0, |(_, done, _)| done.len())
    }

    /// Runs `jobs` in the open transaction (opening one if needed). On a storage error the
    /// whole transaction is aborted, every caller in it told, and false returned.
    fn run(&mut self, ctx: &Ctx<'_>, next_seq: &mut u64, jobs: Vec<Job>) -> bool {
        if jobs.iter().any(|job| job.durability == Durability::Deferred) && self.linger_until.is_none() {
            self.linger_until = Some(tokio::time::Instant::now() + DEFERRED_LINGER);
        }
        if self.open.is_none() {
            match ctx.db.begin_write() {
                Ok(tx) => self.open = Some((tx, Vec::new(), *next_seq)),
                Err(error) => {
                    // The jobs are dropped unrun: their callers see the writer as stopped.
                    tracing::error!(%error, "store batch could not begin");
                    return false;
                }
            }
        }
        let (tx, completions, _) = self.open.as_mut().expect("opened above");
        let mut write =
            WriteCtx { tx, producer: ctx.producer, next_seq, now_ms: ctx.now_ms, appended: false, scheduled: false };
        let mut failure = None;
        for job in jobs {
            let (done, error) = (job.operation)(&mut write);
            completions.push((job.durability, done));
            if let Some(error) = error {
                failure = Some(error.to_string());
                break;
            }
        }
        self.appended |= write.appended;
        self.scheduled |= write.scheduled;
        match failure {
            None => true,
            Some(error) => {
                self.abort(next_seq, &error);
                false
            }
        }
    }

    /// Drops the open transaction and tells its callers why.
    fn abort(&mut self, next_seq: &mut u64, error: &str) {
        tracing::error!(%error, "store batch aborted");
        if let Some((tx, completions, start_seq)) = self.open.take() {
            // Dropping the transaction aborts it.
            drop(tx);
            *next_seq = start_seq;
            for (_, done) in completions {
                done(Err(error.to_owned()));
            }
        }
        self.appended = false;
        self.scheduled = false;
    }

    /// Commits the open transaction (an empty one if none is open), with an fsync when
    /// `durable`, and tells the callers it made durable.
    fn commit(
        &mut self,
        ctx: &Ctx<'_>,
        next_seq: &mut u64,
        durable: bool,
        outbox_ready: &Notify,
        timers_changed: &Notify,
    ) {
        let (tx, completions, start_seq) = match self.open.take() {
            Some(open) => open,
            None => match ctx.db.begin_write() {
                Ok(tx) => (tx, Vec::new(), *next_seq),
                Err(error) => return self.fail_waiting(&error.to_string()),
            },
        };
        let set_durability = |tx: &mut WriteTransaction| -> Result<(), redb::SetDurabilityError> {
            if durable {
                tx.set_durability(redb::Durability::Immediate)?;
                tx.set_two_phase_commit(true);
                tx.set_quick_repair(true);
            } else {
                tx.set_durability(redb::Durability::None)?;
            }
            Ok(())
        };
        let mut tx = tx;
        let result =
            set_durability(&mut tx).map_err(|e| e.to_string()).and_then(|()| tx.commit().map_err(|e| e.to_string()));
        match result {
            Ok(()) => {
                for (durability, done) in completions {
                    if durability == Durability::Deferred && !durable {
                        self.awaiting_fsync.push(done);
                    } else {
                        done(Ok(()));
                    }
                }
                if durable {
                    for done in self.awaiting_fsync.drain(..) {
                        done(Ok(()));
                    }
                    self.linger_until = None;
                }
                if std::mem::take(&mut self.appended) {
                    outbox_ready.notify_one();
                }
                if std::mem::take(&mut self.scheduled) {
                    timers_changed.notify_one();
                }
            }
            Err(error) => {
                tracing::error!(%error, "store commit failed");
                *next_seq = start_seq;
                for (_, done) in completions {
                    done(Err(error.clone()));
                }
                self.fail_waiting(&error);
                self.appended = false;
                self.scheduled = false;
            }
        }
    }

    /// Tells deferred callers waiting for an fsync that it failed.
    fn fail_waiting(&mut self, error: &str) {
        tracing::error!(%error, "store flush of deferred writes failed");
        for done in self.awaiting_fsync.drain(..) {
            done(Err(error.to_owned()));
        }
        self.linger_until = None;
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
