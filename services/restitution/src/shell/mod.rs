//! The restitution shell: opens the state from its store ([`store`]: the books' rows, the
//! allocations' details, then the log), consumes freezing's events, and runs the engine
//! ([`engine`]) that steps the core and records each step in one redb transaction, carries
//! out its orders ([`orders`]: statement reads, returns) and wakes the core at its next
//! deadline. The commands ([`commands`]) read the state the engine shares and go through the
//! engine to change it.

pub mod commands;
mod engine;
mod orders;
mod report;
pub mod store;
mod views;

use std::sync::{Arc, RwLock};

use bus::consumer::HandleError;
use domain::{City, Service};
use protocol::subjects;
use runtime::{Context, ServiceError};
use tokio::sync::oneshot;

use crate::core::process::{self, State};
use crate::{Config, RestitutionError};
use engine::{Engine, EngineMsg};
use orders::Orders;

/// The durable consumer of freezing's events.
pub const FREEZING_CONSUMER: &str = "restitution-freezing";

/// What restitution reads of freezing's events: all of them (it keeps the traces, claims and
/// freezes, and acknowledges the rest).
pub fn freezing_filter(city: &City) -> String {
    subjects::service_events(city, Service::Freezing)
}

/// The state, shared: the engine writes it (the only writer), the commands read it.
pub(crate) type Shared = Arc<RwLock<State>>;

/// Runs restitution for one city until shutdown or its first failure.
pub async fn run(config: Config, mut context: Context, store: ::store::Store) -> Result<(), ServiceError> {
    let started = store::open(&store).await?;
    let city = context.city().clone();
    let pending = process::pending_orders(&started.state);
    tracing::info!(
        %city,
        allocations = started.state.allocations.len(),
        accounts = started.state.books.len(),
        seq = started.seq,
        resent = pending.len(),
        start_ms = started.start_ms,
        "restitution started"
    );
    let state: Shared = Arc::new(RwLock::new(started.state));
    let (engine_tx, engine_rx) = engine::queue();
    let clock = context.clock().clone();
    let (client, adapters) = (context.client().clone(), context.adapters());
    let orders = Arc::new(Orders::new(city.clone(), client, adapters, state.clone(), clock.clone(), engine_tx.clone()));
    for order in pending {
        orders.clone().send(order);
    }
    context.start_producer(&store).await?;
    context.prune_inbox(&store);
    let engine = Engine {
        config: config.process.clone(),
        state: state.clone(),
        store: store.clone(),
        clock,
        orders: orders.clone(),
    };
    let shutdown = context.shutdown();
    context.spawn("engine", engine.run(engine_rx, shutdown));
    let engine = engine_tx.clone();
    context.consume(FREEZING_CONSUMER, freezing_filter(&city), move |envelope| {
        let engine = engine.clone();
        async move {
            let stopped = || HandleError::transient(RestitutionError::EngineStopped);
            let (done, committed) = oneshot::channel();
            engine.send(EngineMsg::Consumed(Box::new(envelope), done)).await.map_err(|_| stopped())?;
            committed.await.map_err(|_| stopped())?
        }
    });
    let router = commands::router(commands::Parts {
        city,
        state,
        store: store.clone(),
        clock: context.clock().clone(),
        roster: config.approvers.clone(),
        engine: engine_tx,
        orders,
    });
    context.serve(router).await?;
    context.run().await
}
