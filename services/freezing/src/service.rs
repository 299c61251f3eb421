//! The freezing shell: consumes reported cases, runs the pure core, commits its events with
//! their inbox rows in one redb transaction, and sends the adapter requests the
//! new state calls for as soon as that transaction is queued (the requests are idempotent by
//! id; the consumed message is acknowledged only after the commit). Answers come back to the
//! same engine, so each hop starts the moment its parent's answer is decided (pipelined
//! levels). The engine also fires the conversions of claims into freezes, at times derived
//! from the state (`State::conversions`), not stored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_nats::jetstream;
use bus::Shutdown;
use bus::consumer::{ConsumerSpec, HandleError, run_consumer};
use domain::{AccountRef, CaseId, City, SharedClock, TimeMs};
use events::{Envelope, IntakeEvent, Payload, Service};
use protocol::adapter::{FlowsRequest, FreezeRequest, ResolveOrderRequest, StopPaymentRequest};
use store::{Store, WriteError};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::adapters::Adapters;
use crate::core::{self, Action, CoreConfig, Input, State, Statement};
use crate::limits::{ENGINE_QUEUE_DEPTH, MAX_ADAPTER_IN_FLIGHT, TIMER_BATCH, TIMER_MAX_SLEEP};

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub city: City,
    pub core: CoreConfig,
}

/// Why the service stopped.
#[derive(Debug, thiserror::Error)]
pub enum FreezingError {
    #[error(transparent)]
    Bus(#[from] bus::BusError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("a commit failed; in-memory state may be ahead of the log, restart to rebuild it: {0}")]
    CommitFailed(String),
    #[error("the freezing engine stopped; restart to rebuild it from the log: {0}")]
    EngineStopped(String),
}

/// A claim whose conversion into a freeze is due.
#[derive(Debug, Clone)]
struct FreezeTimer {
    case_id: CaseId,
    account: AccountRef,
}

enum EngineMsg {
    /// A consumed intake event, with where to report that it is committed.
    Intake(Envelope, oneshot::Sender<Result<(), HandleError>>),
    /// An adapter answered.
    Answer(Input),
}

type ClaimKey = (CaseId, AccountRef);

/// The conversion timers, derived from `State::conversions` (nothing else records them: a
/// restart derives them again). A conversion handed to the shell waits in `in_flight` until
/// an event settles it (frozen, queued, failed, or renewed with a new due time).
#[derive(Default)]
struct Conversions {
    by_due: BTreeSet<(TimeMs, ClaimKey)>,
    due_of: BTreeMap<ClaimKey, TimeMs>,
    in_flight: BTreeSet<ClaimKey>,
}

impl Conversions {
    fn from_state(state: &State, config: &CoreConfig) -> Conversions {
        let mut conversions = Conversions::default();
        for key in state.conversions.keys() {
            conversions.sync(state, config, key);
        }
        conversions
    }

    /// Brings `key` in line with the state after an event touched it.
    fn sync(&mut self, state: &State, config: &CoreConfig, key: &ClaimKey) {
        self.in_flight.remove(key);
        if let Some(due) = self.due_of.remove(key) {
            self.by_due.remove(&(due, key.clone()));
        }
        if let Some(conversion) = state.conversions.get(key) {
            let due = core::conversion_due(config, conversion);
            self.due_of.insert(key.clone(), due);
            self.by_due.insert((due, key.clone()));
        }
    }

    fn next_due(&self) -> Option<TimeMs> {
        self.by_due.first().map(|(due, _)| *due)
    }

    /// Takes up to `limit` conversions due at `now` and marks them in flight.
    fn take_due(&mut self, now: TimeMs, limit: usize) -> Vec<ClaimKey> {
        let mut due = Vec::new();
        while due.len() < limit {
            let Some((at, key)) = self.by_due.first().cloned() else { break };
            if at > now {
                break;
            }
            self.by_due.remove(&(at, key.clone()));
            self.due_of.remove(&key);
            self.in_flight.insert(key.clone());
            due.push(key);
        }
        due
    }
}

/// Shared by the engine's helper tasks.
struct Shell {
    config: Config,
    store: Store,
    clock: SharedClock,
    adapters: Adapters,
    engine: mpsc::Sender<EngineMsg>,
    in_flight: Semaphore,
    fatal: mpsc::Sender<String>,
}

/// Runs freezing for one city until shutdown.
pub async fn run(
    config: Config,
    client: async_nats::Client,
    store: Store,
    clock: SharedClock,
    shutdown: Shutdown,
) -> Result<(), FreezingError> {
    let mut state = State::default();
    store.replay(|envelope| {
        if let Payload::Freezing(event) = &envelope.payload {
            core::apply(&mut state, event);
        }
    })?;
    let js = jetstream::new(client.clone());

    let (engine_tx, engine_rx) = mpsc::channel(ENGINE_QUEUE_DEPTH);
    let (fatal_tx, mut fatal_rx) = mpsc::channel(1);
    let shell = Arc::new(Shell {
        config: config.clone(),
        store: store.clone(),
        clock,
        adapters: Adapters::new(client.clone()),
        engine: engine_tx.clone(),
        in_flight: Semaphore::new(MAX_ADAPTER_IN_FLIGHT),
        fatal: fatal_tx,
    });

    let pending = core::pending_actions(&state);
    tracing::info!(city = %config.city, cases = state.cases.len(), resumed_hops = pending.len(), "freezing started");
    for action in pending {
        shell.clone().execute(action);
    }

    forget_stored_timers(&store).await?;
    let relay = bus::start_producer(&js, &config.city, store.clone(), shutdown.clone()).await?;
    let pruner = bus::inbox::spawn_pruner(store.clone(), shell.clock.clone(), shutdown.clone());
    let mut engine = tokio::spawn(run_engine(shell.clone(), state, engine_rx));
    let spec = ConsumerSpec {
        city: config.city.clone(),
        durable: "freezing".into(),
        service: Service::Freezing.as_str().into(),
        filter: protocol::subjects::service_events(&config.city, Service::Intake.as_str()),
    };
    let consumer_engine = engine_tx.clone();
    let consumer = run_consumer(
        js,
        spec,
        move |envelope| {
            let engine = consumer_engine.clone();
            async move {
                let (done, committed) = oneshot::channel();
                engine
                    .send(EngineMsg::Intake(envelope, done))
                    .await
                    .map_err(|_| HandleError::Transient("freezing engine stopped".into()))?;
                committed.await.map_err(|_| HandleError::Transient("freezing engine stopped".into()))?
            }
        },
        shutdown.clone(),
    );
    let outcome = tokio::select! {
        result = consumer => result.map_err(FreezingError::from),
        Some(reason) = fatal_rx.recv() => Err(FreezingError::CommitFailed(reason)),
        // The engine only ends with the service; ending before means it panicked.
        ended = &mut engine => Err(FreezingError::EngineStopped(match ended {
            Err(error) if error.is_panic() => format!("panicked: {}", panic_message(error.into_panic())),
            _ => "ended unexpectedly".into(),
        })),
    };
    drop(engine_tx);
    engine.abort();
    pruner.abort();
    let _ = relay.await;
    outcome
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast::<&str>().map_or_else(|_| "unknown panic".into(), |m| (*m).to_owned()),
    }
}

/// Removes the conversion timers earlier versions kept in the store: they are derived from
/// the log now, and a stored one would never be read again.
async fn forget_stored_timers(store: &Store) -> Result<(), store::StoreError> {
    if store.next_timer_due().await?.is_none() {
        return Ok(());
    }
    let removed = store
        .write(|ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            ctx.tx().delete_table(store::TIMERS)?;
            ctx.tx().delete_table(store::TIMER_KEYS)?;
            ctx.tx().open_table(store::TIMERS)?;
            ctx.tx().open_table(store::TIMER_KEYS)?;
            Ok(())
        })
        .await;
    Ok(removed?)
}

async fn run_engine(shell: Arc<Shell>, mut state: State, mut inbox: mpsc::Receiver<EngineMsg>) {
    let mut conversions = Conversions::from_state(&state, &shell.config.core);
    loop {
        let now = shell.clock.now_ms();
        let sleep = match conversions.next_due() {
            Some(due) if due > now => shell.clock.real_duration(due - now).min(TIMER_MAX_SLEEP),
            Some(_) => std::time::Duration::ZERO,
            None => TIMER_MAX_SLEEP,
        };
        let message = tokio::select! {
            biased;
            message = inbox.recv() => match message {
                Some(message) => message,
                None => return,
            },
            () = tokio::time::sleep(sleep) => {
                for (case_id, account) in conversions.take_due(shell.clock.now_ms(), TIMER_BATCH) {
                    shell.clone().freeze(&state, FreezeTimer { case_id, account });
                }
                continue;
            }
        };
        let now = shell.clock.now_ms();
        let (input, consumed, done) = match message {
            EngineMsg::Intake(envelope, done) => match envelope.payload {
                Payload::Intake(IntakeEvent::CaseReported {
                    case_id,
                    received_at_ms,
                    transfers,
                    reported_loss_fen,
                    ..
                }) => {
                    let input = Input::CaseReported {
                        case_id,
                        reported_at_ms: received_at_ms,
                        transfers,
                        reported_loss: reported_loss_fen,
                    };
                    (Some(input), Some(envelope.id), Some(done))
                }
                _ => (None, Some(envelope.id), Some(done)),
            },
            EngineMsg::Answer(input) => (Some(input), None, None),
        };
        let causation = consumed.clone();
        let mut events = match input {
            Some(input) => core::decide(&state, &shell.config.core, input, now),
            None => Vec::new(),
        };
        for event in &events {
            core::apply(&mut state, event);
        }
        if let Some(case_id) = events.first().map(|e| e.case_id().clone())
            && let Some(completed) = core::completion(&state, &case_id, now)
        {
            core::apply(&mut state, &completed);
            events.push(completed);
        }
        let actions = core::actions(&state, &events);
        for key in events.iter().filter_map(core::conversion_touched) {
            conversions.sync(&state, &shell.config.core, &key);
        }
        let write = shell.store.enqueue(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            if let Some(id) = &consumed {
                ctx.mark_consumed(id)?;
            }
            for event in events {
                let case_id = event.case_id().clone();
                ctx.append(Some(case_id), causation.clone(), Payload::Freezing(event))?;
            }
            Ok(())
        });
        let write = match write.await {
            Ok(committed) => committed,
            Err(error) => {
                let _ = shell.fatal.try_send(error.to_string());
                return;
            }
        };
        // The requests go out as soon as their events are queued, ahead of the commit: each
        // carries an id derived from what it acts on, and a crash before the commit re-derives
        // and re-sends the same requests on restart, which the bank answers once (see
        // ARCHITECTURE.md, "Requests leave with the commit, not after it").
        for action in actions {
            shell.clone().execute(action);
        }
        let shell = shell.clone();
        tokio::spawn(async move {
            match write.wait().await {
                Ok(()) => {
                    if let Some(done) = done {
                        let _ = done.send(Ok(()));
                    }
                }
                Err(error) => {
                    if let Some(done) = done {
                        let _ = done.send(Err(HandleError::Transient(error.to_string())));
                    }
                    let _ = shell.fatal.try_send(error.to_string());
                }
            }
        });
    }
}

impl Shell {
    /// Sends one adapter request in its own task; the answer goes back to the engine.
    fn execute(self: Arc<Self>, action: Action) {
        tokio::spawn(async move {
            let _permit = self.in_flight.acquire().await.expect("semaphore never closes");
            let asked_at_ms = self.clock.now_ms();
            let input = match action {
                Action::Resolve { case_id, hop, order } => {
                    let request = ResolveOrderRequest { request_id: format!("{case_id}/{hop}/resolve"), order };
                    let result = self.adapters.resolve(&request).await;
                    Input::OrderResolved { case_id, hop, asked_at_ms, result }
                }
                Action::Stop { case_id, hop, account, since_ms, request_id } => {
                    let request = StopPaymentRequest {
                        request_id,
                        center: self.config.city.clone(),
                        case_id: case_id.clone(),
                        account,
                        since_ms,
                    };
                    let result = self.adapters.stop_payment(&request).await.map(|reply| Statement {
                        stop_no: reply.stop_no,
                        held: reply.held_fen,
                        expires_at_ms: reply.expires_at_ms,
                        entries: reply.statement,
                    });
                    Input::AccountAnswered { case_id, hop, asked_at_ms, result }
                }
                Action::Read { case_id, hop, account, since_ms } => {
                    let request = FlowsRequest { account, since_ms };
                    let result = self.adapters.flows(&request).await.map(|reply| Statement {
                        stop_no: 0,
                        held: reply.balance_fen,
                        expires_at_ms: 0,
                        entries: reply.statement,
                    });
                    Input::AccountAnswered { case_id, hop, asked_at_ms, result }
                }
            };
            let _ = self.engine.send(EngineMsg::Answer(input)).await;
        });
    }

    /// Converts a stop-payment into a freeze; if the bank cannot freeze, renews the stop
    /// (the second and last one) so the money stays held while the freeze is retried.
    fn freeze(self: Arc<Self>, state: &State, timer: FreezeTimer) {
        let Some(hold) = state.holds.get(&timer.account) else {
            return;
        };
        let Some(claim) = hold.claims.get(&timer.case_id).copied() else {
            return;
        };
        let stop_no = hold.stop_no;
        tokio::spawn(async move {
            let FreezeTimer { case_id, account } = timer;
            let request = FreezeRequest {
                request_id: core::freeze_request_id(&case_id, &account),
                center: self.config.city.clone(),
                case_id: case_id.clone(),
                account: account.clone(),
                amount_fen: claim,
            };
            let input = match self.adapters.freeze(&request).await {
                Ok(reply) => Input::FreezeAnswered { case_id, account, result: Ok(reply) },
                Err(failure) if stop_no < 2 => {
                    tracing::warn!(%case_id, %account, reason = %failure.0, "freeze failed; renewing the stop-payment");
                    let request = StopPaymentRequest {
                        request_id: core::stop_request_id(&case_id, &account, 2),
                        center: self.config.city.clone(),
                        case_id: case_id.clone(),
                        account: account.clone(),
                        since_ms: self.clock.now_ms(),
                    };
                    let result = self.adapters.stop_payment(&request).await.map(|r| (r.stop_no, r.expires_at_ms));
                    Input::StopRenewed { case_id, account, result }
                }
                Err(failure) => Input::FreezeAnswered { case_id, account, result: Err(failure) },
            };
            let _ = self.engine.send(EngineMsg::Answer(input)).await;
        });
    }
}
