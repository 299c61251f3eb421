//! The engine: one task steps dissuasion's core. It takes each input (a consumed event, a
//! batch of signals, a carrier's answer to an SMS, staff's command, the deadline the core
//! asked for), steps the core on the shared state, and records what the step caused in one
//! redb transaction: the events (log and outbox), the kept signals and the numbers (rows of
//! [`super::store`]), the consumed message's inbox row. Nothing leaves before its commit: the
//! SMS orders, the answers to staff, the acknowledgements of consumed messages.
//!
//! Commits are pipelined: a step's write is queued (in step order, so the log's order is the
//! order the state was changed in) and the engine goes on to the next input while a task
//! waits for the commit and then sends what it caused; the store's group commit shares one
//! fsync among the queued writes. A case is one step, and at 150 cases/s one fsync each left
//! no time for the signals; a signal batch is stepped while the one before it commits.
//!
//! What left the retention window (signal rows; numbers of people with no signal since and
//! no open task) is forgotten by a write of its own every [`FORGET_EVERY`] while signals come
//! in. It reads the people's open tasks from memory as it runs, so the engine waits for it
//! before stepping on: memory is then exactly the state of the writes queued before it, and a
//! task closed by a step not yet committed cannot lose its person's number.
//!
//! Two queues: urgent (cases, blocks, carriers' answers, staff) is taken first, but after
//! `URGENT_BEFORE_ROUTINE` urgent inputs in a row a waiting signal batch goes next; routine
//! carries the signal batches, which may be many. A signal batch is one write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bus::Shutdown;
use bus::consumer::HandleError;
use domain::SharedClock;
use events::blocking::BlockingEvent;
use events::dissuasion::{DissuasionEvent, SignalRecord};
use events::{Envelope, IntakeEvent, Payload};
use store::{Committed, Store, StoreError, WriteError};
use tokio::sync::{mpsc, oneshot};

use super::orders::Orders;
use super::signals::{Batch, BatchOutcome};
use super::{Shared, store as tables};
use crate::DissuasionError;
use crate::core::{self, CoreConfig, Input, Order, Rejection, Step};
use crate::events::{TaskId, TaskKind};
use crate::limits::{ENGINE_QUEUE_DEPTH, FORGET_EVERY, TIMER_MAX_SLEEP, URGENT_BEFORE_ROUTINE};

/// What staff's command came to: the events recorded (after their commit), or why not.
pub(super) type StaffAnswer = Result<Vec<DissuasionEvent>, StaffRefusal>;

#[derive(Debug)]
pub(super) enum StaffRefusal {
    Rejected(Rejection),
    Unavailable(String),
}

pub(super) enum EngineMsg {
    /// A consumed event (intake's case, blocking's block), answered once committed.
    Consumed(Box<Envelope>, oneshot::Sender<Result<(), HandleError>>),
    /// Signals from the signal stream, answered once committed.
    Signals(Batch, oneshot::Sender<BatchOutcome>),
    /// A carrier answered an SMS order.
    Answer(Input),
    /// Staff's claim, completion or reassignment.
    Staff(Input, oneshot::Sender<StaffAnswer>),
    /// `next`: the head of a queue claimed for the operator in one step.
    Next(TaskKind, String, oneshot::Sender<Result<Option<TaskId>, StaffRefusal>>),
}

#[derive(Clone)]
pub(super) struct EngineTx {
    pub urgent: mpsc::Sender<EngineMsg>,
    pub routine: mpsc::Sender<EngineMsg>,
}

pub(super) struct EngineRx {
    urgent: mpsc::Receiver<EngineMsg>,
    routine: mpsc::Receiver<EngineMsg>,
}

pub(super) fn queues() -> (EngineTx, EngineRx) {
    let (urgent_tx, urgent) = mpsc::channel(ENGINE_QUEUE_DEPTH);
    let (routine_tx, routine) = mpsc::channel(ENGINE_QUEUE_DEPTH);
    (EngineTx { urgent: urgent_tx, routine: routine_tx }, EngineRx { urgent, routine })
}

/// A message that can never be processed: dead-lettered with this reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unusable(String);

/// Whether the engine must take this consumed event: not one of blocking's events that
/// change nothing here (its orders, confirmations and pool: ~50 a case, against the four
/// kinds that start and end a scam identifier). Those are acknowledged by the consumer
/// itself, so that they never queue before the signals.
pub(super) fn engine_takes(envelope: &Envelope) -> bool {
    !matches!(input_of(envelope), Ok(None))
}

/// The input a consumed event is for dissuasion: `Ok(None)` when it changes nothing here (a
/// blocking event about orders or the pool), `Err` when it is no event dissuasion reads.
fn input_of(envelope: &Envelope) -> Result<Option<Input>, Unusable> {
    match &envelope.payload {
        Payload::Intake(IntakeEvent::CaseReported { case_id, received_at_ms, fraud_type, contacts, .. }) => {
            let identifiers = scam_identifiers(contacts);
            Ok(Some(Input::CaseReported {
                case_id: case_id.clone(),
                fraud_type: *fraud_type,
                reported_at_ms: *received_at_ms,
                identifiers,
            }))
        }
        Payload::Blocking(BlockingEvent::IdentifierBlocked { identifier, blocked_at_ms, fraud_type, .. }) => {
            Ok(Some(Input::ScamIdentifierKnown {
                identifier: identifier.clone(),
                since_ms: *blocked_at_ms,
                fraud_types: vec![*fraud_type],
            }))
        }
        Payload::Blocking(BlockingEvent::BlockExtended { identifier, extended_at_ms, fraud_type, .. }) => {
            Ok(Some(Input::ScamIdentifierKnown {
                identifier: identifier.clone(),
                since_ms: *extended_at_ms,
                fraud_types: vec![*fraud_type],
            }))
        }
        Payload::Blocking(
            BlockingEvent::BlockExpired { identifier, expired_at_ms: until_ms, .. }
            | BlockingEvent::BlockLifted { identifier, lifted_at_ms: until_ms, .. },
        ) => Ok(Some(Input::ScamIdentifierEnded { identifier: identifier.clone(), until_ms: *until_ms })),
        Payload::Blocking(_) => Ok(None),
        other => Err(Unusable(format!(
            "{} {} is not an event dissuasion reads (case_reported, blocking's blocks)",
            other.service(),
            other.name()
        ))),
    }
}

/// A report's contacts as the identifiers blocking knows them by: those that do not normalise
/// are blocking's to reject (it records why); here they match nothing.
fn scam_identifiers(contacts: &domain::report::Contacts) -> Vec<identifiers::Identifier> {
    use identifiers::{ContactKind, normalize};
    let lists = [
        (ContactKind::Phone, &contacts.phones),
        (ContactKind::Url, &contacts.urls),
        (ContactKind::App, &contacts.apps),
        (ContactKind::Social, &contacts.social),
    ];
    lists
        .into_iter()
        .flat_map(|(kind, values)| values.iter().filter_map(move |value| normalize(kind, value).ok()))
        .collect()
}

/// What one step (or a batch of signal steps) records.
#[derive(Default)]
struct Recorded {
    records: Vec<SignalRecord>,
    events: Vec<DissuasionEvent>,
    orders: Vec<Order>,
}

impl Recorded {
    fn add(&mut self, step: Step) {
        self.records.extend(step.signal);
        self.events.extend(step.events);
        self.orders.extend(step.orders);
    }
}

/// Who hears of a commit once it is durable.
enum Waiter {
    Nobody,
    /// The consumer, which then acknowledges the message.
    Consumer(oneshot::Sender<Result<(), HandleError>>),
    /// Staff, with the events their command recorded.
    Staff(oneshot::Sender<StaffAnswer>, Vec<DissuasionEvent>),
    /// The signal consumer, which then dead-letters the refused and acknowledges the batch.
    Signals(oneshot::Sender<BatchOutcome>, BatchOutcome),
}

impl Waiter {
    fn answer(self, outcome: &Result<(), StoreError>) {
        match (self, outcome) {
            (Waiter::Nobody, _) => {}
            (Waiter::Consumer(done), Ok(())) => {
                let _ = done.send(Ok(()));
            }
            (Waiter::Consumer(done), Err(error)) => {
                let _ = done.send(Err(HandleError::transient(error.to_string())));
            }
            (Waiter::Staff(reply, events), Ok(())) => {
                let _ = reply.send(Ok(events));
            }
            (Waiter::Staff(reply, _), Err(error)) => {
                let _ = reply.send(Err(StaffRefusal::Unavailable(error.to_string())));
            }
            (Waiter::Signals(done, mut outcome), outcome_of_commit) => {
                outcome.committed = outcome_of_commit.as_ref().map_err(ToString::to_string).copied();
                let _ = done.send(outcome);
            }
        }
    }
}

/// A failed commit, from the task that waited for it: the engine stops.
type Fatal = mpsc::Sender<StoreError>;

pub(super) struct Engine {
    pub config: CoreConfig,
    pub state: Shared,
    pub store: Store,
    pub clock: SharedClock,
    pub orders: Arc<Orders>,
    /// The retention window's edge the latest kept signal set: what is older is forgotten.
    pub forget_edge: AtomicU64,
}

/// When the engine last forgot, and up to which edge it has forgotten everything.
struct Forgetting {
    last: Instant,
    done_edge: u64,
}

impl Engine {
    fn next_deadline(&self) -> Option<u64> {
        self.state.read().expect("the engine never panics holding the state").next_deadline()
    }

    fn step(&self, input: Input) -> Result<Step, Rejection> {
        let now = self.clock.now_ms();
        let mut state = self.state.write().expect("the engine never panics holding the state");
        core::step(&mut state, &self.config, input, now)
    }

    /// Runs until shutdown, or until a commit fails (memory is then ahead of the log, and only
    /// a restart makes them agree again).
    pub(super) async fn run(self, mut inbox: EngineRx, mut shutdown: Shutdown) -> Result<(), DissuasionError> {
        let (fatal_tx, mut fatal) = mpsc::channel::<StoreError>(1);
        let mut urgent_streak: u32 = 0;
        let mut forgetting = Forgetting { last: Instant::now(), done_edge: 0 };
        loop {
            self.forget(&mut forgetting).await?;
            let now = self.clock.now_ms();
            if self.next_deadline().is_some_and(|due| due <= now) {
                match self.step(Input::TimerFired) {
                    Ok(step) if !step.events.is_empty() => {
                        let mut recorded = Recorded::default();
                        recorded.add(step);
                        self.commit(None, recorded, Waiter::Nobody, &fatal_tx).await?;
                        continue;
                    }
                    Ok(_) | Err(_) => {}
                }
            }
            let now = self.clock.now_ms();
            let sleep = match self.next_deadline() {
                Some(due) if due > now => self.clock.real_duration(due - now).min(TIMER_MAX_SLEEP),
                _ => TIMER_MAX_SLEEP,
            };
            // Urgent first, but after URGENT_BEFORE_ROUTINE of them in a row a waiting batch of
            // signals goes next.
            if urgent_streak >= URGENT_BEFORE_ROUTINE
                && let Ok(message) = inbox.routine.try_recv()
            {
                urgent_streak = 0;
                self.take(message, &fatal_tx).await?;
                continue;
            }
            let (message, urgent) = tokio::select! {
                biased;
                Some(error) = fatal.recv() => return Err(DissuasionError::CommitFailed(error)),
                () = bus::stopped(&mut shutdown) => return Ok(()),
                Some(message) = inbox.urgent.recv() => (message, true),
                Some(message) = inbox.routine.recv() => (message, false),
                () = tokio::time::sleep(sleep) => continue,
            };
            urgent_streak = if urgent { urgent_streak.saturating_add(1) } else { 0 };
            self.take(message, &fatal_tx).await?;
        }
    }

    async fn take(&self, message: EngineMsg, fatal: &Fatal) -> Result<(), DissuasionError> {
        match message {
            EngineMsg::Consumed(envelope, done) => match input_of(&envelope) {
                Ok(Some(input)) => {
                    let mut recorded = Recorded::default();
                    match self.step(input) {
                        Ok(step) => recorded.add(step),
                        // A case matched before, a block known already: a repeat. The message
                        // is recorded consumed all the same.
                        Err(rejection) => tracing::debug!(%rejection, id = %envelope.id, "event changes nothing"),
                    }
                    self.commit(Some(envelope.id.clone()), recorded, Waiter::Consumer(done), fatal).await
                }
                Ok(None) => {
                    let _ = done.send(Ok(()));
                    Ok(())
                }
                Err(unusable) => {
                    tracing::warn!(id = %envelope.id, reason = %unusable, "event refused");
                    let _ = done.send(Err(HandleError::poison(unusable)));
                    Ok(())
                }
            },
            EngineMsg::Signals(batch, done) => {
                let mut recorded = Recorded::default();
                let mut outcome = BatchOutcome::default();
                for (index, input) in batch.inputs {
                    match self.step(input) {
                        Ok(step) => recorded.add(step),
                        Err(Rejection::DuplicateSignal { .. }) => outcome.duplicates += 1,
                        Err(Rejection::Signal(problem)) => outcome.refused.push((index, problem.to_string())),
                        Err(rejection) => outcome.refused.push((index, rejection.to_string())),
                    }
                }
                outcome.kept = recorded.records.len();
                if let Some(edge) = recorded.records.iter().map(|r| r.forget_before_ms).max() {
                    self.forget_edge.fetch_max(edge, Ordering::Relaxed);
                }
                self.commit(None, recorded, Waiter::Signals(done, outcome), fatal).await
            }
            EngineMsg::Answer(input) => match self.step(input) {
                Ok(step) => {
                    let mut recorded = Recorded::default();
                    recorded.add(step);
                    self.commit(None, recorded, Waiter::Nobody, fatal).await
                }
                Err(rejection) => {
                    tracing::debug!(%rejection, "carrier's answer changes nothing");
                    Ok(())
                }
            },
            EngineMsg::Staff(input, reply) => self.staff(input, reply, fatal).await,
            EngineMsg::Next(kind, operator, reply) => {
                let head = {
                    let state = self.state.read().expect("the engine never panics holding the state");
                    core::next(&state, kind, &operator).map(|task| task.id)
                };
                let Some(task) = head else {
                    let _ = reply.send(Ok(None));
                    return Ok(());
                };
                let (answer, answered) = oneshot::channel();
                self.staff(Input::Claim { task, operator }, answer, fatal).await?;
                tokio::spawn(async move {
                    let outcome = answered.await.unwrap_or_else(|_| Err(StaffRefusal::Unavailable("engine".into())));
                    let _ = reply.send(outcome.map(|_| Some(task)));
                });
                Ok(())
            }
        }
    }

    async fn staff(
        &self,
        input: Input,
        reply: oneshot::Sender<StaffAnswer>,
        fatal: &Fatal,
    ) -> Result<(), DissuasionError> {
        match self.step(input) {
            Ok(step) => {
                let events = step.events.clone();
                let mut recorded = Recorded::default();
                recorded.add(step);
                self.commit(None, recorded, Waiter::Staff(reply, events), fatal).await
            }
            Err(rejection) => {
                let _ = reply.send(Err(StaffRefusal::Rejected(rejection)));
                Ok(())
            }
        }
    }

    /// Queues what was stepped for the next commit; once it is durable a task sends its orders
    /// and tells `waiter`. A failed commit reaches the engine through `fatal`.
    async fn commit(
        &self,
        consumed: Option<String>,
        mut recorded: Recorded,
        waiter: Waiter,
        fatal: &Fatal,
    ) -> Result<(), DissuasionError> {
        let Some(write) = self.enqueue(consumed, &mut recorded).await.map_err(DissuasionError::CommitFailed)? else {
            waiter.answer(&Ok(()));
            return Ok(());
        };
        let (orders, fatal) = (self.orders.clone(), fatal.clone());
        tokio::spawn(async move {
            let outcome = write.wait().await.map_err(StoreError::from);
            if outcome.is_ok() {
                for order in recorded.orders {
                    orders.clone().send(order);
                }
            }
            waiter.answer(&outcome);
            if let Err(error) = outcome {
                let _ = fatal.try_send(error);
            }
        });
        Ok(())
    }

    /// Queues the write of what was stepped (its signals and events; the orders stay in
    /// `recorded`), or nothing if there is nothing to write.
    async fn enqueue(
        &self,
        consumed: Option<String>,
        recorded: &mut Recorded,
    ) -> Result<Option<Committed<(), std::convert::Infallible>>, StoreError> {
        let records = std::mem::take(&mut recorded.records);
        let events = std::mem::take(&mut recorded.events);
        if records.is_empty() && events.is_empty() && consumed.is_none() {
            return Ok(None);
        }
        let write = self.store.enqueue(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            if let Some(id) = &consumed {
                ctx.mark_consumed(id)?;
            }
            tables::write_signals(ctx.tx(), &records)?;
            for event in events {
                let case_id = event.case_id().cloned();
                ctx.append(case_id, consumed.clone(), Payload::Dissuasion(event))?;
            }
            Ok(())
        });
        write.await.map(Some)
    }

    /// Every [`FORGET_EVERY`], while something is left to forget, forgets what left the
    /// window in a write of its own, and waits for it (see the module's documentation).
    async fn forget(&self, forgetting: &mut Forgetting) -> Result<(), DissuasionError> {
        let edge = self.forget_edge.load(Ordering::Relaxed);
        if edge <= forgetting.done_edge || forgetting.last.elapsed() < FORGET_EVERY {
            return Ok(());
        }
        forgetting.last = Instant::now();
        let state = self.state.clone();
        let forgotten = self
            .store
            .write(move |ctx| -> Result<_, WriteError<std::convert::Infallible>> {
                let now = ctx.now_ms();
                let state = state.read().expect("the engine never panics holding the state");
                let open = |person| state.people.get(&person).is_some_and(|p| p.open_task.is_some());
                Ok(tables::forget(ctx.tx(), edge, now, open)?)
            })
            .await
            .map_err(|e| DissuasionError::CommitFailed(StoreError::from(e)))?;
        if forgotten.complete {
            forgetting.done_edge = edge;
        }
        tracing::debug!(?forgotten, "forgot what left the window");
        Ok(())
    }
}
