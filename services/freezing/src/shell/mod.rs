//! The freezing shell: replays the log into the core's state, consumes reported cases, and
//! runs the engine ([`engine`]) that steps the core, commits its events with their inbox
//! rows in one redb transaction, sends the requests the core asks for, and fires the
//! conversions of claims into freezes and the retries of hops at times derived from the state
//! ([`timers`]). It hears the province coordinator's notices ([`notices`]) through the engine.

mod cold;
mod engine;
mod notices;
pub mod snapshot;

pub use cold::{COLD_CLOSED, COLD_HOLDS, Chores, ColdTables, Receipt, Upkeep};
mod timers;

use std::sync::Arc;

use bus::consumer::HandleError;
use domain::Service;
use protocol::subjects;
use runtime::{Context, Gauge, ServiceError};
use store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::core;
use crate::limits::ENGINE_QUEUE_DEPTH;
use crate::{Config, FreezingError};
use engine::{Engine, EngineMsg, Requests};

/// The durable consumer of intake's events.
pub const CONSUMER: &str = "freezing";

/// Runs freezing for one city until shutdown or its first failure.
pub async fn run(config: Config, mut context: Context, store: Store) -> Result<(), ServiceError> {
    let (state, rebuilt) = snapshot::rebuild(&store)?;
    let city = context.city().clone();
    let clock = context.clock().clone();
    let (engine_tx, engine_rx) = mpsc::channel(ENGINE_QUEUE_DEPTH);
    let requests = Arc::new(Requests::new(city.clone(), clock.clone(), context.adapters(), engine_tx.clone()));

    let pending = core::pending_actions(&state, clock.now_ms());
    tracing::info!(
        %city,
        cases = state.cases.len(),
        snapshot_seq = rebuilt.snapshot_seq,
        replayed = rebuilt.replayed,
        resumed_hops = pending.len(),
        "freezing started"
    );
    for action in pending {
        requests.clone().execute(action);
    }

    context.start_producer(&store).await?;
    context.prune_inbox(&store);
    let at_risk = context.gauge(Gauge::ClaimsAtRisk);
    let engine = Engine::new(config, state, store, clock, requests, &rebuilt).showing_at_risk(at_risk);
    let shutdown = context.shutdown();
    context.spawn("engine", engine.run(engine_rx, shutdown));
    // Before the consumer: on this connection the subscription precedes every event published.
    context.serve_province(notices::router(city.clone(), engine_tx.clone())).await?;
    context.consume(CONSUMER, subjects::service_events(&city, Service::Intake), move |envelope| {
        let engine = engine_tx.clone();
        async move {
            let stopped = || HandleError::transient(FreezingError::EngineStopped);
            let (done, committed) = oneshot::channel();
            engine.send(EngineMsg::Intake(envelope, done)).await.map_err(|_| stopped())?;
            committed.await.map_err(|_| stopped())?
        }
    });
    context.run().await
}
