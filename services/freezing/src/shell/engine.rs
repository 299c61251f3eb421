//! The engine: one task owns freezing's state. It takes each input (a consumed report, an
//! adapter's answer, a conversion that fell due), steps the core, queues the events for the
//! commit, and sends the requests the core asked for — each in a task of its own, whose
//! answer comes back as the next input. Levels of a trail are pipelined: a hop starts the
//! moment its parent's answer is decided.
//!
//! Architecture invariant: no request leaves before the events that call for it are applied
//! in memory and queued, in order, for the commit; nothing else leaves before the commit
//! (acks, events, replies). Requests carry ids derived from what they act on, so one re-sent
//! after a crash is applied once (docs/ARCHITECTURE.md, "Requests leave with the commit").

use std::sync::Arc;

use adapters::Adapters;
use bus::Shutdown;
use bus::consumer::HandleError;
use domain::{City, SharedClock};
use events::{Envelope, IntakeEvent, Payload};
use protocol::adapter::{FlowsRequest, FreezeRequest, ResolveOrderRequest, StopPaymentRequest};
use store::{Store, StoreError, WriteError};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::conversions::Conversions;
use crate::FreezingError;
use crate::core::{self, Action, CoreConfig, Input, State, Statement, Step};
use crate::limits::{MAX_ADAPTER_IN_FLIGHT, TIMER_BATCH, TIMER_MAX_SLEEP};

/// What reaches the engine.
pub(super) enum EngineMsg {
    /// A consumed intake event, with where to report that its effects are committed.
    Intake(Envelope, oneshot::Sender<Result<(), HandleError>>),
    /// An adapter answered.
    Answer(Input),
}

/// What the engine's request tasks share.
pub(super) struct Requests {
    pub(super) city: City,
    pub(super) clock: SharedClock,
    pub(super) adapters: Adapters,
    pub(super) engine: mpsc::Sender<EngineMsg>,
    pub(super) in_flight: Semaphore,
}

impl Requests {
    pub(super) fn new(city: City, clock: SharedClock, adapters: Adapters, engine: mpsc::Sender<EngineMsg>) -> Self {
        Requests { city, clock, adapters, engine, in_flight: Semaphore::new(MAX_ADAPTER_IN_FLIGHT) }
    }
}

/// The engine and what it owns.
pub(super) struct Engine {
    pub(super) config: CoreConfig,
    pub(super) state: State,
    pub(super) store: Store,
    pub(super) clock: SharedClock,
    pub(super) requests: Arc<Requests>,
}

impl Engine {
    /// Runs until shutdown, or until a commit fails: then memory is ahead of the log, and
    /// only a restart (replaying the log) makes them agree again.
    pub(super) async fn run(
        mut self,
        mut inbox: mpsc::Receiver<EngineMsg>,
        mut shutdown: Shutdown,
    ) -> Result<(), FreezingError> {
        let (fatal_tx, mut fatal) = mpsc::channel::<StoreError>(1);
        let mut conversions = Conversions::from_state(&self.state, &self.config);
        loop {
            let now = self.clock.now_ms();
            let sleep = match conversions.next_due() {
                Some(due) if due > now => self.clock.real_duration(due - now).min(TIMER_MAX_SLEEP),
                Some(_) => std::time::Duration::ZERO,
                None => TIMER_MAX_SLEEP,
            };
            let message = tokio::select! {
                biased;
                Some(error) = fatal.recv() => return Err(FreezingError::CommitFailed(error)),
                () = bus::stopped(&mut shutdown) => return Ok(()),
                message = inbox.recv() => match message {
                    Some(message) => message,
                    None => return Ok(()),
                },
                () = tokio::time::sleep(sleep) => {
                    for (case_id, account) in conversions.take_due(self.clock.now_ms(), TIMER_BATCH) {
                        let due = Input::ConversionDue { case_id, account };
                        self.handle(Some(due), None, None, &mut conversions, &fatal_tx).await?;
                    }
                    continue;
                }
            };
            match message {
                EngineMsg::Intake(envelope, done) => {
                    let input = match envelope.payload {
                        Payload::Intake(IntakeEvent::CaseReported {
                            case_id,
                            received_at_ms,
                            transfers,
                            reported_loss_fen,
                            ..
                        }) => Some(Input::CaseReported {
                            case_id,
                            reported_at_ms: received_at_ms,
                            transfers,
                            reported_loss: reported_loss_fen,
                        }),
                        _ => None,
                    };
                    self.handle(input, Some(envelope.id), Some(done), &mut conversions, &fatal_tx).await?;
                }
                EngineMsg::Answer(input) => self.handle(Some(input), None, None, &mut conversions, &fatal_tx).await?,
            }
        }
    }

    /// Steps the core with `input`, queues its events (and the consumed message's inbox
    /// row) for the commit, then sends the requests.
    async fn handle(
        &mut self,
        input: Option<Input>,
        consumed: Option<String>,
        done: Option<oneshot::Sender<Result<(), HandleError>>>,
        conversions: &mut Conversions,
        fatal: &mpsc::Sender<StoreError>,
    ) -> Result<(), FreezingError> {
        let now = self.clock.now_ms();
        let Step { events, actions } = match input {
            None => Step::default(),
            Some(input) => {
                let due = match &input {
                    Input::ConversionDue { case_id, account } => Some((case_id.clone(), account.clone())),
                    _ => None,
                };
                match core::step(&mut self.state, &self.config, input, now) {
                    Ok(step) => step,
                    Err(rejection) => {
                        tracing::debug!(%rejection, "input refused");
                        if let Some(key) = due {
                            conversions.sync(&self.state, &self.config, &key);
                        }
                        Step::default()
                    }
                }
            }
        };
        for key in events.iter().filter_map(core::conversion_touched) {
            conversions.sync(&self.state, &self.config, &key);
        }
        if events.is_empty() && consumed.is_none() {
            // Nothing to record: a freeze or renewal the state already called for.
            self.send(actions);
            return Ok(());
        }
        let causation = consumed.clone();
        let write = self.store.enqueue(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            if let Some(id) = &consumed {
                ctx.mark_consumed(id)?;
            }
            for event in events {
                let case_id = event.case_id().clone();
                ctx.append(Some(case_id), causation.clone(), Payload::Freezing(event))?;
            }
            Ok(())
        });
        let write = write.await.map_err(FreezingError::CommitFailed)?;
        // The requests go out as soon as their events are queued, ahead of the commit (see
        // the module documentation).
        self.send(actions);
        let fatal = fatal.clone();
        tokio::spawn(async move {
            match write.wait().await.map_err(StoreError::from) {
                Ok(()) => {
                    if let Some(done) = done {
                        let _ = done.send(Ok(()));
                    }
                }
                Err(error) => {
                    if let Some(done) = done {
                        let _ = done.send(Err(HandleError::transient(error.to_string())));
                    }
                    let _ = fatal.try_send(error);
                }
            }
        });
        Ok(())
    }

    fn send(&self, actions: Vec<Action>) {
        for action in actions {
            self.requests.clone().execute(action);
        }
    }
}

impl Requests {
    /// Sends one adapter request in its own task (at most [`MAX_ADAPTER_IN_FLIGHT`] at
    /// once); the answer goes back to the engine.
    pub(super) fn execute(self: Arc<Self>, action: Action) {
        tokio::spawn(async move {
            let _permit = self.in_flight.acquire().await.expect("semaphore never closes");
            let asked_at_ms = self.clock.now_ms();
            let input = match action {
                Action::Resolve { case_id, hop, order, request_id } => {
                    let result = self.adapters.resolve(&ResolveOrderRequest { request_id, order }).await;
                    Input::OrderResolved { case_id, hop, asked_at_ms, result }
                }
                Action::Stop { case_id, hop, account, since_ms, request_id } => {
                    let request = StopPaymentRequest {
                        request_id,
                        center: self.city.clone(),
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
                    let result = self.adapters.flows(&FlowsRequest { account, since_ms }).await.map(|reply| {
                        Statement { stop_no: 0, held: reply.balance_fen, expires_at_ms: 0, entries: reply.statement }
                    });
                    Input::AccountAnswered { case_id, hop, asked_at_ms, result }
                }
                Action::Freeze { case_id, account, amount, request_id } => {
                    let request = FreezeRequest {
                        request_id,
                        center: self.city.clone(),
                        case_id: case_id.clone(),
                        account: account.clone(),
                        amount_fen: amount,
                    };
                    let result = self.adapters.freeze(&request).await;
                    Input::FreezeAnswered { case_id, account, result }
                }
                Action::RenewStop { case_id, account, since_ms, request_id, after } => {
                    tracing::warn!(%case_id, %account, reason = %after, "freeze failed; renewing the stop-payment");
                    let request = StopPaymentRequest {
                        request_id,
                        center: self.city.clone(),
                        case_id: case_id.clone(),
                        account: account.clone(),
                        since_ms,
                    };
                    let result = self.adapters.stop_payment(&request).await.map(|r| (r.stop_no, r.expires_at_ms));
                    Input::StopRenewed { case_id, account, result }
                }
            };
            let _ = self.engine.send(EngineMsg::Answer(input)).await;
        });
    }
}
