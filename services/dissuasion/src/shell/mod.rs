//! The dissuasion shell: opens the state from its store ([`store`]: the kept signals' rows,
//! then the log), consumes intake's `case_reported` and blocking's blocks (the scam
//! identifiers' mirror) and the city's signals ([`signals`]), and runs the engine
//! ([`engine`]) that steps the core and records each step in one redb transaction, sends the
//! SMS warnings ([`orders`]) and wakes the core at its next deadline. The commands
//! ([`commands`]) read the state the engine shares and go through the engine to change it.

mod commands;
mod engine;
mod orders;
pub mod signals;
pub mod store;
mod views;

use std::sync::{Arc, RwLock};

use bus::consumer::HandleError;
use domain::{City, Service};
use events::IntakeEvent;
use protocol::subjects;
use runtime::{Context, ServiceError};
use tokio::sync::oneshot;

use crate::core::{self, State};
use crate::{Config, DissuasionError};
use engine::{Engine, EngineMsg};
use orders::Orders;

/// The durable consumer of intake's `case_reported`.
pub const INTAKE_CONSUMER: &str = "dissuasion-intake";
/// The durable consumer of blocking's events (its blocks start and end scam identifiers).
pub const BLOCKING_CONSUMER: &str = "dissuasion-blocking";
pub use signals::SIGNAL_CONSUMER;

/// What dissuasion reads of intake's events: the reported cases' scam identifiers.
pub fn intake_filter(city: &City) -> String {
    subjects::event(city, Service::Intake, IntakeEvent::CASE_REPORTED)
}

/// What dissuasion reads of blocking's events: all of them (it takes the blocks' start,
/// extension, expiry and lift, and acknowledges the rest).
pub fn blocking_filter(city: &City) -> String {
    subjects::service_events(city, Service::Blocking)
}

/// The state, shared: the engine writes it (the only writer), the commands read it.
pub(crate) type Shared = Arc<RwLock<State>>;

/// Runs dissuasion for one city until shutdown or its first failure.
pub async fn run(mut config: Config, mut context: Context, store: ::store::Store) -> Result<(), ServiceError> {
    let started = store::open(&store).await?;
    config.core.person_secret = started.secret;
    let city = context.city().clone();
    let pending = core::pending_orders(&started.state);
    tracing::info!(
        %city,
        kept_signals = started.kept,
        seq = started.seq,
        open_tasks = started.state.tasks.values().filter(|t| t.is_open()).count(),
        resent_sms = pending.len(),
        start_ms = started.start_ms,
        "dissuasion started"
    );
    bus::streams::signal_stream(context.jetstream(), &city).await.map_err(|e| ServiceError::Start {
        service: Service::Dissuasion,
        step: "open the signal stream".into(),
        source: e.into(),
    })?;
    let state: Shared = Arc::new(RwLock::new(started.state));
    let (engine_tx, engine_rx) = engine::queues();
    let orders = Arc::new(Orders::new(city.clone(), context.carriers(), store.clone(), engine_tx.clone()));
    for order in pending {
        orders.clone().send(order);
    }
    context.start_producer(&store).await?;
    context.prune_inbox(&store);
    let engine = Engine {
        config: config.core.clone(),
        state: state.clone(),
        store: store.clone(),
        clock: context.clock().clone(),
        orders,
        forget_edge: Default::default(),
    };
    let shutdown = context.shutdown();
    context.spawn("engine", engine.run(engine_rx, shutdown));
    for (durable, filter) in [(INTAKE_CONSUMER, intake_filter(&city)), (BLOCKING_CONSUMER, blocking_filter(&city))] {
        let engine = engine_tx.urgent.clone();
        context.consume(durable, filter, move |envelope| {
            let engine = engine.clone();
            async move {
                if !engine::engine_takes(&envelope) {
                    return Ok(());
                }
                let stopped = || HandleError::transient(DissuasionError::EngineStopped);
                let (done, committed) = oneshot::channel();
                engine.send(EngineMsg::Consumed(Box::new(envelope), done)).await.map_err(|_| stopped())?;
                committed.await.map_err(|_| stopped())?
            }
        });
    }
    let signals = signals::run(context.jetstream().clone(), city.clone(), engine_tx.clone(), context.shutdown());
    context.spawn("signals", signals);
    let router = commands::router(city, context.client().clone(), state, store, engine_tx.urgent);
    context.serve(router).await?;
    context.run().await
}
