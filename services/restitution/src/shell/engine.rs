//! The engine: one task steps restitution's core. It takes each input (one of freezing's
//! events, a bank's answer, a statement read, staff's command, the deadline the core asked
//! for), steps the core on the shared state, and records what the step caused in one redb
//! transaction: the events (log and outbox), the rows it touched, the consumed message's
//! inbox row. Nothing leaves before its commit: the orders to banks, the answers to staff,
//! the acknowledgements of consumed messages.

use std::sync::Arc;

use bus::Shutdown;
use bus::consumer::HandleError;
use domain::SharedClock;
use events::restitution::RestitutionEvent;
use events::{Envelope, Payload};
use store::{Store, StoreError, WriteError};
use tokio::sync::{mpsc, oneshot};

use super::orders::Orders;
use super::{Shared, store as tables};
use crate::RestitutionError;
use crate::core::process::{self, Input, ProcessConfig, Rejection, Step};
use crate::limits::{ENGINE_QUEUE_DEPTH, TIMER_MAX_SLEEP};

/// What staff's command came to: the events recorded (after their commit), or why not.
pub(super) type StaffAnswer = Result<Vec<RestitutionEvent>, StaffRefusal>;

#[derive(Debug)]
pub(super) enum StaffRefusal {
    Rejected(Rejection),
    Unavailable(String),
}

pub(super) enum EngineMsg {
    /// One of freezing's events, answered once committed.
    Consumed(Box<Envelope>, oneshot::Sender<Result<(), HandleError>>),
    /// A bank's answer or a statement read.
    Answer(Input),
    /// Staff's command.
    Staff(Input, oneshot::Sender<StaffAnswer>),
}

pub(super) fn queue() -> (mpsc::Sender<EngineMsg>, mpsc::Receiver<EngineMsg>) {
    mpsc::channel(ENGINE_QUEUE_DEPTH)
}

pub(super) struct Engine {
    pub config: ProcessConfig,
    pub state: Shared,
    pub store: Store,
    pub clock: SharedClock,
    pub orders: Arc<Orders>,
}

impl Engine {
    fn step(&self, input: Input) -> Result<Step, Rejection> {
        let now = self.clock.now_ms();
        let mut state = self.state.write().expect("the engine never panics holding the state");
        process::step(&mut state, &self.config, input, now)
    }

    fn next_deadline(&self) -> Option<u64> {
        process::next_deadline(&self.state.read().expect("the engine never panics holding the state"))
    }

    /// Runs until shutdown, or until a commit fails (memory is then ahead of the log, and only
    /// a restart makes them agree again).
    pub(super) async fn run(
        self,
        mut inbox: mpsc::Receiver<EngineMsg>,
        mut shutdown: Shutdown,
    ) -> Result<(), RestitutionError> {
        loop {
            let now = self.clock.now_ms();
            if self.next_deadline().is_some_and(|due| due <= now)
                && let Ok(step) = self.step(Input::TimerFired)
            {
                self.commit(None, step).await?;
                continue;
            }
            let now = self.clock.now_ms();
            let sleep = match self.next_deadline() {
                Some(due) if due > now => self.clock.real_duration(due - now).min(TIMER_MAX_SLEEP),
                _ => TIMER_MAX_SLEEP,
            };
            let message = tokio::select! {
                biased;
                () = bus::stopped(&mut shutdown) => return Ok(()),
                Some(message) = inbox.recv() => message,
                () = tokio::time::sleep(sleep) => continue,
            };
            self.take(message).await?;
        }
    }

    async fn take(&self, message: EngineMsg) -> Result<(), RestitutionError> {
        match message {
            EngineMsg::Consumed(envelope, done) => {
                let Payload::Freezing(event) = &envelope.payload else {
                    let why = format!(
                        "{} {} is not an event restitution reads (freezing's)",
                        envelope.service,
                        envelope.payload.name()
                    );
                    tracing::warn!(id = %envelope.id, reason = %why, "event refused");
                    let _ = done.send(Err(HandleError::poison(why)));
                    return Ok(());
                };
                // An event that changes nothing here is recorded consumed all the same.
                let step = self.step(Input::Freezing(Box::new(event.clone()))).unwrap_or_default();
                let trail = event.case_id().map(|case_id| (case_id.clone(), envelope.seq, event.clone()));
                let outcome = self.commit_with(Some(envelope.id.clone()), step, trail).await;
                let _ = done.send(outcome.as_ref().map(|_| ()).map_err(|e| HandleError::transient(e.to_string())));
                outcome
            }
            EngineMsg::Answer(input) => match self.step(input) {
                Ok(step) => self.commit(None, step).await,
                Err(rejection) => {
                    tracing::debug!(%rejection, "answer changes nothing");
                    Ok(())
                }
            },
            EngineMsg::Staff(input, reply) => match self.step(input) {
                Ok(step) => {
                    let events = step.events.clone();
                    let committed = self.commit(None, step).await;
                    let _ = reply.send(match &committed {
                        Ok(()) => Ok(events),
                        Err(error) => Err(StaffRefusal::Unavailable(error.to_string())),
                    });
                    committed
                }
                Err(rejection) => {
                    let _ = reply.send(Err(StaffRefusal::Rejected(rejection)));
                    Ok(())
                }
            },
        }
    }

    /// Records what was stepped in one transaction and, once committed, sends its orders.
    async fn commit(&self, consumed: Option<String>, step: Step) -> Result<(), RestitutionError> {
        self.commit_with(consumed, step, None).await
    }

    /// [`Self::commit`], keeping a consumed freezing event in its case's trail.
    async fn commit_with(
        &self,
        consumed: Option<String>,
        step: Step,
        trail: Option<(domain::CaseId, u64, events::FreezingEvent)>,
    ) -> Result<(), RestitutionError> {
        let Step { events, details, touched, orders } = step;
        let (cases, books, details) = {
            let state = self.state.read().expect("the engine never panics holding the state");
            tables::encode_rows(&state, &touched, &details)
        };
        if events.is_empty() && cases.is_empty() && books.is_empty() && details.is_empty() && consumed.is_none() {
            for order in orders {
                self.orders.clone().send(order);
            }
            return Ok(());
        }
        let write = self.store.write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            if let Some(id) = &consumed {
                ctx.mark_consumed(id)?;
            }
            tables::write_rows(ctx.tx(), &cases, &books, &details)?;
            if let Some((case_id, seq, event)) = &trail {
                tables::write_trail(ctx.tx(), case_id, *seq, event)?;
            }
            for event in events {
                let case_id = event.case_id().cloned();
                ctx.append(case_id, consumed.clone(), Payload::Restitution(event))?;
            }
            Ok(())
        });
        write.await.map_err(|e| RestitutionError::CommitFailed(StoreError::from(e)))?;
        for order in orders {
            self.orders.clone().send(order);
        }
        Ok(())
    }
}
