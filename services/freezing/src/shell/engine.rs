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
use std::sync::atomic::{AtomicUsize, Ordering};

use adapters::Adapters;
use bus::Shutdown;
use bus::consumer::HandleError;
use domain::{City, SharedClock};
use events::{Envelope, IntakeEvent, Payload};
use protocol::adapter::{FlowsRequest, FreezeRequest, ResolveOrderRequest, StopPaymentRequest};
use runtime::GaugeHandle;
use store::{Store, StoreError, WriteError};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::cold::{Chores, Upkeep};
use super::snapshot::Rebuilt;
use super::timers::Timers;
use crate::FreezingError;
use crate::core::{self, Action, CoreConfig, Input, State, Statement, Step};
use crate::limits::{MAX_ADAPTER_IN_FLIGHT, TIMER_BATCH, TIMER_MAX_SLEEP};

/// What reaches the engine.
pub(super) enum EngineMsg {
    /// A consumed intake event, with where to report that its effects are committed.
    Intake(Envelope, oneshot::Sender<Result<(), HandleError>>),
    /// An adapter answered.
    Answer(Input),
    /// The province coordinator's notice, answered once its event is committed.
    Notice(Input, oneshot::Sender<NoticeAnswer>),
}

/// What a province notice came to: whether it recorded an event (after its commit), or why
/// it recorded none.
pub(super) type NoticeAnswer = Result<bool, NoticeRefusal>;

/// Why a province notice recorded nothing.
#[derive(Debug)]
pub(super) enum NoticeRefusal {
    Rejected(core::Rejection),
    Unavailable(String),
}

/// Who waits for what an input comes to.
enum Waiter {
    Nobody,
    /// The consumer of intake's events: the event is acked once its effects are committed.
    Consumer(oneshot::Sender<Result<(), HandleError>>),
    /// A province notice's request.
    Notice(oneshot::Sender<NoticeAnswer>),
}

impl Waiter {
    /// What was recorded is committed (`recorded`: some event was).
    fn committed(self, recorded: bool) {
        match self {
            Waiter::Nobody => {}
            Waiter::Consumer(done) => _ = done.send(Ok(())),
            Waiter::Notice(reply) => _ = reply.send(Ok(recorded)),
        }
    }

    /// The commit failed.
    fn failed(self, error: &StoreError) {
        match self {
            Waiter::Nobody => {}
            Waiter::Consumer(done) => _ = done.send(Err(HandleError::transient(error.to_string()))),
            Waiter::Notice(reply) => _ = reply.send(Err(NoticeRefusal::Unavailable(error.to_string()))),
        }
    }
}

/// What the engine's request tasks share.
pub(super) struct Requests {
    pub(super) city: City,
    pub(super) clock: SharedClock,
    pub(super) adapters: Adapters,
    pub(super) engine: mpsc::Sender<EngineMsg>,
    pub(super) in_flight: Semaphore,
    /// Requests sent and not answered yet, waiting for a permit or in flight.
    outstanding: AtomicUsize,
}

impl Requests {
    pub(super) fn new(city: City, clock: SharedClock, adapters: Adapters, engine: mpsc::Sender<EngineMsg>) -> Self {
        let in_flight = Semaphore::new(MAX_ADAPTER_IN_FLIGHT);
        Requests { city, clock, adapters, engine, in_flight, outstanding: AtomicUsize::new(0) }
    }

    /// How many more requests the timers may start now: what the in-flight bound leaves,
    /// so that due timers never pile up requests waiting for a permit.
    fn room(&self) -> usize {
        MAX_ADAPTER_IN_FLIGHT.saturating_sub(self.outstanding.load(Ordering::Acquire))
    }
}

/// The engine and what it owns.
pub(super) struct Engine {
    pub(super) config: CoreConfig,
    pub(super) state: State,
    pub(super) store: Store,
    pub(super) clock: SharedClock,
    pub(super) requests: Arc<Requests>,
    /// When the state's cold part moves out of memory, and when the state is saved.
    upkeep: Upkeep,
    /// The state's claims at risk, for the node's metrics (`afc_claims_at_risk`).
    at_risk: GaugeHandle,
}

impl Engine {
    pub(super) fn new(
        config: crate::Config,
        state: State,
        store: Store,
        clock: SharedClock,
        requests: Arc<Requests>,
        rebuilt: &Rebuilt,
    ) -> Engine {
        Engine {
            config: config.core,
            state,
            store,
            clock,
            requests,
            // The events replayed at start are not in the snapshot yet either.
            upkeep: Upkeep::new(
                rebuilt.cold.clone(),
                config.snapshot_every_events,
                config.evict_every_events,
                rebuilt.replayed,
            ),
            at_risk: GaugeHandle::default(),
        }
    }

    /// The same engine keeping `at_risk` at the state's claims at risk.
    pub(super) fn showing_at_risk(self, at_risk: GaugeHandle) -> Engine {
        Engine { at_risk, ..self }
    }

    /// Runs until shutdown, or until a commit fails: then memory is ahead of the log, and
    /// only a restart (replaying the log) makes them agree again.
    pub(super) async fn run(
        mut self,
        mut inbox: mpsc::Receiver<EngineMsg>,
        mut shutdown: Shutdown,
    ) -> Result<(), FreezingError> {
        let (fatal_tx, mut fatal) = mpsc::channel::<StoreError>(1);
        let mut timers = Timers::from_state(&self.state, &self.config);
        loop {
            self.at_risk.set(self.state.claims_at_risk() as u64);
            // Due conversions first, every turn: a backlog of inputs (the channel is never
            // empty under load) must not keep a stop from becoming a freeze. As many as the
            // in-flight bound has room for: the rest stay due for the next turn.
            let room = self.requests.room().min(TIMER_BATCH);
            for (case_id, account) in timers.conversions.take_due(self.clock.now_ms(), room) {
                let due = Input::ConversionDue { case_id, account };
                self.handle(Some(due), None, Waiter::Nobody, &mut timers, &fatal_tx).await?;
            }
            let room = self.requests.room().min(TIMER_BATCH);
            for (case_id, hop) in timers.retries.take_due(self.clock.now_ms(), room) {
                let due = Input::RetryDue { case_id, hop };
                self.handle(Some(due), None, Waiter::Nobody, &mut timers, &fatal_tx).await?;
            }
            let now = self.clock.now_ms();
            let sleep = match timers.next_due() {
                Some(due) if due > now => self.clock.real_duration(due - now).min(TIMER_MAX_SLEEP),
                // Due, but no room: an answer (which makes room) wakes the engine.
                Some(_) if self.requests.room() == 0 => TIMER_MAX_SLEEP,
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
                // A conversion fell due: the top of the loop fires it.
                () = tokio::time::sleep(sleep) => continue,
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
                    let waiter = Waiter::Consumer(done);
                    self.handle(input, Some(envelope.id), waiter, &mut timers, &fatal_tx).await?;
                }
                EngineMsg::Answer(input) => {
                    self.handle(Some(input), None, Waiter::Nobody, &mut timers, &fatal_tx).await?;
                }
                EngineMsg::Notice(input, reply) => {
                    self.handle(Some(input), None, Waiter::Notice(reply), &mut timers, &fatal_tx).await?;
                }
            }
        }
    }

    /// Steps the core with `input`, queues its events (and the consumed message's inbox
    /// row) for the commit, then sends the requests.
    async fn handle(
        &mut self,
        input: Option<Input>,
        consumed: Option<String>,
        waiter: Waiter,
        timers: &mut Timers,
        fatal: &mpsc::Sender<StoreError>,
    ) -> Result<(), FreezingError> {
        let now = self.clock.now_ms();
        let Step { events, actions } = match input {
            None => Step::default(),
            Some(input) => {
                let due_claim = match &input {
                    Input::ConversionDue { case_id, account } => Some((case_id.clone(), account.clone())),
                    _ => None,
                };
                let due_hop = match &input {
                    Input::RetryDue { case_id, hop } => Some((case_id.clone(), *hop)),
                    _ => None,
                };
                match core::step(&mut self.state, &self.config, input, now) {
                    Ok(step) => step,
                    Err(rejection) if rejection.is_poison() => {
                        // Nothing recorded, not even the inbox row: the message goes to the
                        // dead-letter subject with the reason.
                        tracing::warn!(%rejection, "input refused for good");
                        if let Waiter::Consumer(done) = waiter {
                            let _ = done.send(Err(HandleError::poison(rejection)));
                        }
                        return Ok(());
                    }
                    Err(rejection) if matches!(waiter, Waiter::Notice(_)) => {
                        // Answered to the coordinator; not logged (it names the account).
                        tracing::debug!("a province notice refused");
                        if let Waiter::Notice(reply) = waiter {
                            let _ = reply.send(Err(NoticeRefusal::Rejected(rejection)));
                        }
                        return Ok(());
                    }
                    Err(rejection) => {
                        tracing::debug!(%rejection, "input refused");
                        if let Some(key) = due_claim {
                            timers.sync_conversion(&self.state, &self.config, &key);
                        }
                        if let Some(key) = due_hop {
                            timers.sync_retry(&self.state, &key);
                        }
                        Step::default()
                    }
                }
            }
        };
        for key in events.iter().filter_map(core::conversion_touched) {
            timers.sync_conversion(&self.state, &self.config, &key);
        }
        for key in events.iter().filter_map(core::retry_touched) {
            timers.sync_retry(&self.state, &key);
        }
        // A notice heard again records nothing, but is answered only once the writes queued
        // before it are committed (an empty write, after them in order): answered at once, a
        // repeat could say "known" while the first notice's event was still uncommitted, and
        // a failed commit would then lose it with the coordinator no longer sending it.
        if events.is_empty() && consumed.is_none() && !matches!(waiter, Waiter::Notice(_)) {
            // Nothing to record: a freeze or renewal the state already called for.
            self.send(actions);
            waiter.committed(false);
            return Ok(());
        }
        let causation = consumed.clone();
        let city = self.requests.city.clone();
        let recorded = !events.is_empty();
        // Now and then the cold part of the state moves out of memory, and the state goes
        // with the events that brought it there: a snapshot that is the fold of the log up to
        // them (see `cold` and `snapshot`).
        let chores = self.upkeep.after(&mut self.state, events.len() as u64);
        let receipt = chores.as_ref().map(Chores::receipt);
        let write = self.store.enqueue(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            if let Some(id) = &consumed {
                ctx.mark_consumed(id)?;
            }
            for event in events {
                let case_id = event.case_in(&city).cloned();
                ctx.append(case_id, causation.clone(), Payload::Freezing(event))?;
            }
            if let Some(chores) = &chores {
                chores.write(ctx)?;
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
                    if let Some(receipt) = receipt {
                        receipt.committed();
                    }
                    waiter.committed(recorded);
                }
                Err(error) => {
                    waiter.failed(&error);
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
        self.outstanding.fetch_add(1, Ordering::AcqRel);
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
                        since_ms: reply.statement_since_ms,
                        entries: reply.statement,
                    });
                    Input::AccountAnswered { case_id, hop, asked_at_ms, result }
                }
                Action::Read { case_id, hop, account, since_ms } => {
                    let result =
                        self.adapters.flows(&FlowsRequest { account, since_ms }).await.map(|reply| Statement {
                            stop_no: 0,
                            held: reply.balance_fen,
                            expires_at_ms: 0,
                            since_ms,
                            entries: reply.statement,
                        });
                    Input::AccountAnswered { case_id, hop, asked_at_ms, result }
                }
                Action::Freeze { case_id, account, amount, request_id } => {
                    let request = FreezeRequest {
                        request_id: request_id.clone(),
                        center: self.city.clone(),
                        case_id: case_id.clone(),
                        account: account.clone(),
                        amount_fen: amount,
                    };
                    let result = self.adapters.freeze(&request).await;
                    Input::FreezeAnswered { case_id, account, request_id, result }
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
            drop(_permit);
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
            let _ = self.engine.send(EngineMsg::Answer(input)).await;
        });
    }
}

#[cfg(test)]
mod tests {
    //! The engine against a real nats-server (a hand-made bank) and a real redb file.

    use std::time::Duration;

    use domain::report::{Destination, Transfer};
    use domain::{AccountRef, CaseId, City, Fen, Service, system_clock};
    use events::Envelope;
    use futures::StreamExt;
    use protocol::adapter::{Counterparty, Direction, StatementEntry};
    use protocol::subjects::{self, bank_verb};
    use store::Producer;

    use super::*;
    use crate::core::Statement;
    use crate::limits::ENGINE_QUEUE_DEPTH;

    /// Reports waiting in front of the engine: most of its queue.
    const BACKLOG: u64 = 4_000;
    const BOUND: Duration = Duration::from_secs(30);

    fn city() -> City {
        City::parse("huzhou").unwrap()
    }

    fn account() -> AccountRef {
        AccountRef::parse("icbc:6222020200001234").unwrap()
    }

    /// A state holding a claim of case 0 on [`account`], due for its freeze at once.
    fn holding(config: &CoreConfig) -> State {
        let mut state = State::default();
        let case_id = CaseId::derive(&city(), 0);
        let transfers = vec![Transfer {
            from_account: None,
            to: Destination::Account(account()),
            amount: Fen::new(10_000),
            at_ms: 1,
        }];
        let reported = Input::CaseReported {
            case_id: case_id.clone(),
            reported_at_ms: 2,
            transfers,
            reported_loss: Fen::new(10_000),
        };
        core::step(&mut state, config, reported, 3).unwrap();
        let entry = StatementEntry {
            transfer_id: "v".into(),
            at_ms: 1,
            direction: Direction::In,
            amount_fen: Fen::new(10_000),
            counterparty: Counterparty::Account(AccountRef::parse("abc:99999999").unwrap()),
            balance_after_fen: Fen::new(10_000),
        };
        let statement = Statement {
            stop_no: 1,
            held: Fen::new(10_000),
            expires_at_ms: u64::MAX / 2,
            since_ms: 0,
            entries: vec![entry],
        };
        let answered = Input::AccountAnswered { case_id, hop: 1, asked_at_ms: 3, result: Ok(statement) };
        core::step(&mut state, config, answered, 4).unwrap();
        assert_eq!(state.conversions.len(), 1);
        state
    }

    /// A `case_reported` of case `n` with no transfers: work for the engine, nothing for banks.
    fn report(n: u64) -> Envelope {
        let case_id = CaseId::derive(&city(), n);
        Envelope::new(
            city(),
            n,
            1,
            Payload::Intake(IntakeEvent::CaseReported {
                case_id,
                received_at_ms: 1,
                fraud_type: domain::FraudType::OnlineLoan,
                transfers: Vec::new(),
                contacts: domain::report::Contacts::default(),
                reported_loss_fen: Fen::new(1),
            }),
        )
    }

    /// One thread, as in a loaded process: the freeze can leave only when the engine lets
    /// it, and the bank sees it only after; if the engine worked off the backlog first, the
    /// bank would see it with nothing left in the queue.
    #[test]
    fn a_due_conversion_is_sent_before_a_backlog_of_reports_is_worked_off() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let server = testkit::NatsServer::single().await.unwrap();
            let client = async_nats::connect(server.url()).await.unwrap();
            let mut freezes = client.subscribe(subjects::bank(&account().bank(), bank_verb::FREEZE)).await.unwrap();
            client.flush().await.unwrap();
            let config = CoreConfig { freeze_after_ms: 0, ..CoreConfig::default() };
            let dir = tempfile::tempdir().unwrap();
            let producer = Producer { city: city(), service: Service::Freezing };
            let store = Store::open(&dir.path().join("freezing.redb"), producer, system_clock()).unwrap();
            let (engine_tx, engine_rx) = mpsc::channel(ENGINE_QUEUE_DEPTH);
            let mut committed = Vec::new();
            for n in 1..=BACKLOG {
                let (done, receipt) = oneshot::channel();
                committed.push(receipt);
                engine_tx.try_send(EngineMsg::Intake(report(n), done)).unwrap();
            }
            let requests =
                Arc::new(Requests::new(city(), system_clock(), Adapters::new(client.clone()), engine_tx.clone()));
            let engine = Engine::new(
                crate::Config { snapshot_every_events: u64::MAX, ..crate::Config::new(config) },
                holding(&CoreConfig::default()),
                store.clone(),
                system_clock(),
                requests,
                &super::super::snapshot::rebuild(&store).unwrap().1,
            );
            let (stop, shutdown) = tokio::sync::watch::channel(false);
            let running = tokio::spawn(engine.run(engine_rx, shutdown));

            let freeze = tokio::time::timeout(BOUND, freezes.next()).await.expect("a freeze is asked for").unwrap();
            let waiting = ENGINE_QUEUE_DEPTH - engine_tx.capacity();
            assert!(freeze.subject.ends_with(bank_verb::FREEZE));
            assert!(waiting > 0, "the freeze left only after the whole backlog of {BACKLOG} reports");
            stop.send(true).unwrap();
            tokio::time::timeout(BOUND, running).await.unwrap().unwrap().unwrap();
        });
    }
}
