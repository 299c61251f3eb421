//! The blocking shell: opens the core's state in its store ([`start`], [`rows`]), re-sends
//! the orders awaiting an answer, consumes intake's `case_reported` and freezing's
//! `account_stopped`, and runs the engine ([`engine`]) that steps the core, commits its
//! events with their inbox rows and case rows in one redb transaction, sends the carrier and
//! bank orders the core asks for ([`orders`]) and wakes the core at its next deadline. It
//! keeps the blocked-identifier index ([`crate::index`]) in step with the state. The commands
//! ([`commands`]) read the state and the index the engine shares, and `lift` goes through the
//! engine, as the province's notices ([`province`]) do.

mod commands;
mod engine;
mod holders;
mod orders;
mod province;
pub mod rows;
pub mod start;

use std::sync::{Arc, RwLock};

use bus::consumer::HandleError;
use domain::{City, Service};
use events::{FreezingEvent, IntakeEvent};
use protocol::subjects;
use runtime::{Context, ServiceError};
use store::Store;
use tokio::sync::oneshot;

use crate::index::Index;
use crate::{BlockingError, Config, core};
use engine::{Engine, EngineMsg};
use orders::Orders;

pub use commands::CASE_ROWS;

/// The durable consumer of intake's `case_reported`.
pub const INTAKE_CONSUMER: &str = "blocking-intake";
/// The durable consumer of freezing's `account_stopped`.
pub const FREEZING_CONSUMER: &str = "blocking-freezing";

/// What blocking reads of intake's events: the reported cases (their scammers' contacts).
pub fn intake_filter(city: &City) -> String {
    subjects::event(city, Service::Intake, IntakeEvent::CASE_REPORTED)
}

/// What blocking reads of freezing's events: the accounts stopped, which say how much of a
/// case's money each held (a claim above zero is victim money: the account enters the pool).
pub fn freezing_filter(city: &City) -> String {
    subjects::event(city, Service::Freezing, FreezingEvent::ACCOUNT_STOPPED)
}

/// The state, shared: the engine writes it (the only writer), the commands read it.
pub(crate) type Shared = Arc<RwLock<core::State>>;
/// The blocked-identifier index of the state ([`crate::index`]), kept by the engine beside
/// it: what `check` reads.
pub(crate) type SharedIndex = Arc<RwLock<Index>>;

/// Runs blocking for one city until shutdown or its first failure.
pub async fn run(config: Config, mut context: Context, store: Store) -> Result<(), ServiceError> {
    let started = std::time::Instant::now();
    let start::Started { state, rows, index, seq, refolded, indexed } = start::open(&store).await?;
    let city = context.city().clone();
    let clock = context.clock().clone();
    let (engine_tx, engine_rx) = engine::queues();
    let orders = Arc::new(Orders::new(city.clone(), context.carriers(), context.adapters(), engine_tx.clone()));

    // Orders sent before the last stop and not answered are sent again, under their ids: the
    // counterparty applies each once.
    let pending = core::pending_orders(&state);
    tracing::info!(
        %city,
        indexed = index.len(),
        seq,
        refolded,
        ?indexed,
        resent_orders = pending.len(),
        start_ms = started.elapsed().as_millis() as u64,
        "blocking started"
    );
    for order in pending {
        orders.clone().send(order);
    }
    let index: SharedIndex = Arc::new(RwLock::new(index));
    let shared: Shared = Arc::new(RwLock::new(state));
    context.start_producer(&store).await?;
    context.prune_inbox(&store);
    let index_file = start::index_path(&store);
    let engine =
        Engine::new(&config, (shared.clone(), index.clone(), index_file), (store.clone(), rows), clock.clone(), orders);
    let shutdown = context.shutdown();
    context.spawn("engine", engine.run(engine_rx, shutdown));
    let consumers = [
        (INTAKE_CONSUMER, intake_filter(&city), engine_tx.urgent.clone()),
        (FREEZING_CONSUMER, freezing_filter(&city), engine_tx.routine.clone()),
    ];
    for (durable, filter, engine) in consumers {
        context.consume(durable, filter, move |envelope| {
            let engine = engine.clone();
            async move {
                let stopped = || HandleError::transient(BlockingError::EngineStopped);
                let (done, committed) = oneshot::channel();
                engine.send(EngineMsg::Consumed(Box::new(envelope), done)).await.map_err(|_| stopped())?;
                committed.await.map_err(|_| stopped())?
            }
        });
    }
    context.serve_province(province::router(engine_tx.urgent.clone())).await?;
    let router = commands::router(shared, index, store, engine_tx.urgent);
    context.serve(router).await?;
    context.run().await
}
