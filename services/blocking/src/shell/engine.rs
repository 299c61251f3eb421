//! The engine: one task steps blocking's core. It takes each input (a consumed event, an
//! order's answer, staff's lift, the deadline the core asked for), steps the core on the
//! shared state, queues the events for the commit — with the consumed message's inbox row,
//! each case's rows for `afc case show`, and the state's rows the step changed — and sends
//! the orders the core asked for.
//!
//! As in freezing: no order leaves before the events that call for it are applied in memory
//! and queued, in order, for the commit; nothing else leaves before the commit (acks, events,
//! staff's answers). Orders carry ids derived from what they act on, so one re-sent after a
//! crash is applied once (docs/ARCHITECTURE.md, "Requests leave with the commit").

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bus::Shutdown;
use bus::consumer::HandleError;
use domain::{Fen, SharedClock};
use events::{Envelope, FreezingEvent, IntakeEvent, Payload};
use store::{Store, StoreError, WriteError};
use tokio::sync::{mpsc, oneshot};

use super::commands::CASE_ROWS;
use super::orders::Orders;
use super::rows::{self, StoreRows};
use super::{Shared, SharedIndex};
use crate::core::{self, CoreConfig, Input, Order, Rejection, Step};
use crate::events::BlockingEvent;
use crate::limits::{ENGINE_QUEUE_DEPTH, INDEX_SAVE_EVERY_EVENTS, TIMER_MAX_SLEEP, URGENT_STREAK};
use crate::{BlockingError, Config};

/// What staff's input came to: the events recorded (after their commit), or why not.
pub(super) type StaffAnswer = Result<Vec<BlockingEvent>, StaffRefusal>;

/// Why staff's input recorded nothing.
#[derive(Debug)]
pub(super) enum StaffRefusal {
    Rejected(Rejection),
    Unavailable(String),
}

/// What reaches the engine.
pub(super) enum EngineMsg {
    /// A consumed event, with where to report that its effects are committed.
    Consumed(Box<Envelope>, oneshot::Sender<Result<(), HandleError>>),
    /// A carrier or bank answered an order.
    Answer(Input),
    /// Staff's lift, or the province's notice (`shell::province`), answered once committed.
    Staff(Input, oneshot::Sender<StaffAnswer>),
    /// A bank named the holder of an account it restricted ([`super::holders`]).
    Holder(super::holders::Named),
}

/// The engine's two queues. **Urgent:** reports (a scammer's number to block), the carriers'
/// answers, staff. **Routine:** freezing's stops (an account entering the high-risk pool,
/// already stopped at its bank by freezing) and the banks' answers to restrictions. A case's
/// 25 stops must not hold its numbers' blocks back: the engine takes the urgent queue first,
/// and one routine input after every [`URGENT_STREAK`] urgent ones so neither starves.
#[derive(Clone)]
pub(super) struct EngineTx {
    pub urgent: mpsc::Sender<EngineMsg>,
    pub routine: mpsc::Sender<EngineMsg>,
}

pub(super) struct EngineRx {
    urgent: mpsc::Receiver<EngineMsg>,
    routine: mpsc::Receiver<EngineMsg>,
    /// Urgent inputs taken since the last routine one.
    streak: usize,
}

/// The engine's queues, each of [`ENGINE_QUEUE_DEPTH`].
pub(super) fn queues() -> (EngineTx, EngineRx) {
    let (urgent_tx, urgent) = mpsc::channel(ENGINE_QUEUE_DEPTH);
    let (routine_tx, routine) = mpsc::channel(ENGINE_QUEUE_DEPTH);
    (EngineTx { urgent: urgent_tx, routine: routine_tx }, EngineRx { urgent, routine, streak: 0 })
}

impl EngineRx {
    /// The next input, urgent first (see [`EngineTx`]); `None` once every sender is gone.
    /// Cancel-safe: it awaits only the queues' own (cancel-safe) `recv`.
    async fn recv(&mut self) -> Option<EngineMsg> {
        if self.streak >= URGENT_STREAK
            && let Ok(message) = self.routine.try_recv()
        {
            self.streak = 0;
            return Some(message);
        }
        if let Ok(message) = self.urgent.try_recv() {
            self.streak += 1;
            return Some(message);
        }
        tokio::select! {
            biased;
            Some(message) = self.urgent.recv() => {
                self.streak += 1;
                Some(message)
            }
            Some(message) = self.routine.recv() => {
                self.streak = 0;
                Some(message)
            }
            else => None,
        }
    }
}

/// Who waits for an input's outcome.
enum Waiter {
    Nobody,
    Consumer(oneshot::Sender<Result<(), HandleError>>),
    Staff(oneshot::Sender<StaffAnswer>),
}

/// A message that can never be processed: dead-lettered with this reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unusable(String);

/// The input a consumed event is for blocking: `Ok(None)` when it concerns blocking not
/// (a stop that held none of the case's money), `Err` when it is no event blocking reads.
fn input_of(envelope: &Envelope) -> Result<Option<Input>, Unusable> {
    match &envelope.payload {
        Payload::Intake(IntakeEvent::CaseReported { case_id, received_at_ms, fraud_type, contacts, .. }) => {
            Ok(Some(Input::CaseReported {
                case_id: case_id.clone(),
                reported_at_ms: *received_at_ms,
                fraud_type: *fraud_type,
                contacts: contacts.clone(),
            }))
        }
        Payload::Freezing(FreezingEvent::AccountStopped { case_id, account, claim_fen, .. }) => Ok((*claim_fen
            > Fen::ZERO)
            .then(|| Input::MoneyHeld { case_id: case_id.clone(), account: account.clone() })),
        other => Err(Unusable(format!(
            "{} {} is not an event blocking reads (case_reported, account_stopped)",
            other.service(),
            other.name()
        ))),
    }
}

/// The engine and what it owns.
pub(super) struct Engine {
    config: CoreConfig,
    state: Shared,
    index: SharedIndex,
    store: Store,
    clock: SharedClock,
    orders: Arc<Orders>,
    /// The store's rows of the state: told when a write is committed.
    rows: Arc<StoreRows>,
    /// Writes queued so far: tags the rows each one carries (`core::rows`).
    writes: u64,
    /// Where the index is saved (`shell::start`), and events recorded since the last save.
    index_file: PathBuf,
    since_index_save: u64,
    /// Held while the index file is written: one save at a time.
    saving: Arc<Mutex<()>>,
}

impl Engine {
    pub(super) fn new(
        config: &Config,
        (state, index, index_file): (Shared, SharedIndex, PathBuf),
        (store, rows): (Store, Arc<StoreRows>),
        clock: SharedClock,
        orders: Arc<Orders>,
    ) -> Engine {
        Engine {
            config: config.core.clone(),
            state,
            index,
            store,
            clock,
            orders,
            rows,
            writes: 0,
            index_file,
            since_index_save: 0,
            saving: Arc::default(),
        }
    }

    /// Saves the index to its file as of the log's last event, once every write queued before
    /// is committed (a write of its own after them says when, and which event that is): the
    /// index then holds exactly what the log holds, since only this task changes it. At a stop
    /// the save is awaited, under the index's read lock; otherwise a copy is saved in the
    /// background. A save that fails is logged: the next start builds the index from the rows.
    async fn save_index(&mut self, at_stop: bool) {
        self.since_index_save = 0;
        let barrier = self.store.write(|ctx| Ok::<u64, WriteError<std::convert::Infallible>>(ctx.last_seq()));
        let seq = match barrier.await {
            Ok(seq) => seq,
            Err(error) => {
                tracing::warn!(%error, "blocking's index not saved: the store did not commit");
                return;
            }
        };
        let (path, saving, index) = (self.index_file.clone(), self.saving.clone(), self.index.clone());
        let copy = (!at_stop).then(|| index.read().expect("the engine never panics holding the index").clone());
        let save = tokio::task::spawn_blocking(move || {
            let _one_at_a_time = saving.lock().expect("no save panics");
            let started = std::time::Instant::now();
            let saved = match &copy {
                Some(copy) => copy.save(&path, seq),
                None => index.read().expect("the engine never panics holding the index").save(&path, seq),
            };
            match saved {
                Ok(()) => tracing::info!(seq, ms = started.elapsed().as_millis() as u64, "blocking's index saved"),
                Err(error) => tracing::warn!(%error, path = %path.display(), "blocking's index not saved"),
            }
        });
        if at_stop {
            let _ = save.await;
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        self.state.read().expect("the engine never panics holding the state").next_deadline()
    }

    /// Runs until shutdown, or until a commit fails: then memory is ahead of the log, and only
    /// a restart (replaying the log) makes them agree again.
    pub(super) async fn run(mut self, mut inbox: EngineRx, mut shutdown: Shutdown) -> Result<(), BlockingError> {
        let (fatal_tx, mut fatal) = mpsc::channel::<StoreError>(1);
        loop {
            if self.since_index_save >= INDEX_SAVE_EVERY_EVENTS {
                self.save_index(false).await;
            }
            // The deadline first, every turn: a backlog of inputs must not hold an expiry or
            // a retry back. The core works off at most `TIMER_BATCH` per firing.
            let now = self.clock.now_ms();
            let mut idle_due = false;
            if self.next_deadline().is_some_and(|due| due <= now) {
                let recorded = self.handle(Input::TimerFired, None, Waiter::Nobody, &fatal_tx).await?;
                // A firing that recorded nothing leaves nothing due for now: sleep, do not spin.
                idle_due = !recorded;
                if recorded {
                    continue;
                }
            }
            let now = self.clock.now_ms();
            let sleep = match self.next_deadline() {
                Some(due) if due > now && !idle_due => self.clock.real_duration(due - now).min(TIMER_MAX_SLEEP),
                Some(_) if !idle_due => std::time::Duration::ZERO,
                _ => TIMER_MAX_SLEEP,
            };
            let message = tokio::select! {
                biased;
                Some(error) = fatal.recv() => return Err(BlockingError::CommitFailed(error)),
                () = bus::stopped(&mut shutdown) => {
                    self.save_index(true).await;
                    return Ok(());
                }
                message = inbox.recv() => match message {
                    Some(message) => message,
                    None => return Ok(()),
                },
                () = tokio::time::sleep(sleep) => continue,
            };
            match message {
                EngineMsg::Consumed(envelope, done) => match input_of(&envelope) {
                    Ok(Some(input)) => {
                        self.handle(input, Some(envelope.id.clone()), Waiter::Consumer(done), &fatal_tx).await?;
                    }
                    // Nothing to record, nothing to remember: a redelivery decides the same.
                    Ok(None) => {
                        let _ = done.send(Ok(()));
                    }
                    Err(unusable) => {
                        tracing::warn!(id = %envelope.id, reason = %unusable, "event refused");
                        let _ = done.send(Err(HandleError::poison(unusable)));
                    }
                },
                EngineMsg::Answer(input) => {
                    self.handle(input, None, Waiter::Nobody, &fatal_tx).await?;
                }
                EngineMsg::Staff(input, reply) => {
                    self.handle(input, None, Waiter::Staff(reply), &fatal_tx).await?;
                }
                EngineMsg::Holder(named) => {
                    let inputs = {
                        let state = self.state.read().expect("the engine never panics holding the state");
                        super::holders::inputs(&state, named)
                    };
                    for input in inputs {
                        self.handle(input, None, Waiter::Nobody, &fatal_tx).await?;
                    }
                }
            }
        }
    }

    /// Steps the core with `input`, queues its events (with the consumed message's inbox
    /// row) for the commit, then sends the orders. Returns whether it recorded events.
    async fn handle(
        &mut self,
        input: Input,
        consumed: Option<String>,
        waiter: Waiter,
        fatal: &mpsc::Sender<StoreError>,
    ) -> Result<bool, BlockingError> {
        let now = self.clock.now_ms();
        let write_no = self.writes + 1;
        let (stepped, changed) = {
            let mut state = self.state.write().expect("the engine never panics holding the state");
            let stepped = core::step(&mut state, &self.config, input, now);
            if let Ok(step) = &stepped {
                // The index follows the events applied, under the state's lock: a `check`
                // never sees the index ahead of the state or behind it by more than a step.
                let mut index = self.index.write().expect("the engine never panics holding the index");
                for event in &step.events {
                    index.follow(&state, event).map_err(BlockingError::IndexFull)?;
                }
            }
            // The rows the step changed go with its events, in their transaction.
            (stepped, state.take_rows(write_no))
        };
        self.writes = write_no;
        let Step { events, orders } = match stepped {
            Ok(step) => step,
            Err(rejection) => {
                match waiter {
                    Waiter::Staff(reply) => {
                        let _ = reply.send(Err(StaffRefusal::Rejected(rejection)));
                        return Ok(false);
                    }
                    // A case screened before, an involvement known, an answer to an order
                    // settled already: a repeat. The consumed message is recorded all the
                    // same, so a redelivery stops at the inbox.
                    Waiter::Consumer(_) | Waiter::Nobody => tracing::debug!(%rejection, "input refused"),
                }
                Step::default()
            }
        };
        assert!(!events.is_empty() || changed.is_empty(), "rows change only with events");
        // Staff's input (a lift, a province notice) that records nothing still waits for the
        // writes queued before it: what it found (a block, say) is then committed, not only
        // in memory, when it is answered.
        if events.is_empty() && consumed.is_none() && !matches!(waiter, Waiter::Staff(_)) {
            self.send(orders);
            return Ok(false);
        }
        let recorded = !events.is_empty();
        self.since_index_save += events.len() as u64;
        let staff_events = matches!(waiter, Waiter::Staff(_)).then(|| events.clone());
        let causation = consumed.clone();
        let write = self.store.enqueue(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            if let Some(id) = &consumed {
                ctx.mark_consumed(id)?;
            }
            for event in events {
                let case_id = event.case_id().cloned();
                let row = case_id.as_ref().map(|_| rmp_serde::to_vec_named(&event).expect("events encode"));
                let envelope = ctx.append(case_id.clone(), causation.clone(), Payload::Blocking(event))?;
                if let (Some(case_id), Some(row)) = (case_id, row) {
                    let value = (envelope.time_ms, row);
                    let bytes = rmp_serde::to_vec(&value).expect("rows encode");
                    ctx.tx().open_table(CASE_ROWS)?.insert((case_id.as_str(), envelope.seq), bytes.as_slice())?;
                }
            }
            if recorded {
                rows::write(ctx.tx(), &changed, ctx.last_seq())?;
            }
            Ok(())
        });
        let write = write.await.map_err(BlockingError::CommitFailed)?;
        // The orders go out as soon as their events are queued, ahead of the commit (see the
        // module documentation).
        self.send(orders);
        let (fatal, state, rows) = (fatal.clone(), self.state.clone(), self.rows.clone());
        tokio::spawn(async move {
            let outcome = write.wait().await.map_err(StoreError::from);
            if outcome.is_ok() {
                // Reads see the commit before memory lets its rows go.
                rows.refresh();
                state.write().expect("the engine never panics holding the state").committed(write_no);
            }
            match (waiter, &outcome) {
                (Waiter::Consumer(done), Ok(())) => {
                    let _ = done.send(Ok(()));
                }
                (Waiter::Consumer(done), Err(error)) => {
                    let _ = done.send(Err(HandleError::transient(error.to_string())));
                }
                (Waiter::Staff(reply), Ok(())) => {
                    let _ = reply.send(Ok(staff_events.unwrap_or_default()));
                }
                (Waiter::Staff(reply), Err(error)) => {
                    let _ = reply.send(Err(StaffRefusal::Unavailable(error.to_string())));
                }
                (Waiter::Nobody, _) => {}
            }
            if let Err(error) = outcome {
                let _ = fatal.try_send(error);
            }
        });
        Ok(recorded)
    }

    fn send(&self, orders: Vec<Order>) {
        for order in orders {
            self.orders.clone().send(order);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: usize) -> EngineMsg {
        EngineMsg::Answer(Input::OrderAnswered { request_id: n.to_string(), result: Ok(()) })
    }

    fn number(message: EngineMsg) -> usize {
        match message {
            EngineMsg::Answer(Input::OrderAnswered { request_id, .. }) => request_id.parse().unwrap(),
            _ => unreachable!("the test sends answers only"),
        }
    }

    /// Urgent inputs first, one routine input after every `URGENT_STREAK` urgent ones, and
    /// everything taken once the queues are closed.
    #[tokio::test]
    async fn the_urgent_queue_goes_first_and_the_routine_one_is_not_starved() {
        let (tx, mut rx) = queues();
        for n in 0..3 {
            tx.routine.send(answer(1000 + n)).await.unwrap();
        }
        for n in 0..URGENT_STREAK + 8 {
            tx.urgent.send(answer(n)).await.unwrap();
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(message) = rx.recv().await {
            order.push(number(message));
        }
        let mut expected: Vec<usize> = (0..URGENT_STREAK).collect();
        expected.push(1000);
        expected.extend(URGENT_STREAK..URGENT_STREAK + 8);
        expected.extend([1001, 1002]);
        assert_eq!(order, expected);
    }
}
