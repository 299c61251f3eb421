//! The service runtime: what every afc service is made of besides its own rules, written
//! once.
//!
//! A service is a library with a pure core and a thin shell. The shell gets a [`Context`]
//! and declares its parts — the outbox relay of each store that logs events
//! ([`Context::start_producer`]), the inbox pruner ([`Context::prune_inbox`]), its durable
//! consumers ([`Context::consume`]), its command router ([`Context::serve`], a [`Router`]
//! from verb to handler) and any task of its own ([`Context::spawn`]) — then hands control
//! to [`Context::run`], which supervises them:
//!
//! - shutdown stops every part, waits for them (bounded), and stops the relays last, so
//!   that they publish what the other parts committed;
//! - **the first part that fails, panics or ends on its own stops the service**: the others
//!   are told to stop, and `run` returns that part's error. Nothing is left half-alive.
//!
//! A node ([`run_node`]) hosts a city's services ([`Hosted`]): for each it opens the stores
//! it declares ([`StoreSpec`]) in the node's data directory, connects it to NATS with a
//! connection of its own, and runs it. The first service to fail stops the node, and the
//! node returns its error, so the process exits non-zero and its supervisor restarts it.
//! Given an address ([`NodeOptions::http`]), the node also serves `/healthz` and `/readyz`
//! and `/metrics` there (`http`, `metrics`).

mod context;
mod discovery;
pub mod http;
pub mod limits;
mod metrics;
mod node;
mod resend;
mod router;
mod vitals;

pub use context::{Context, Part, ServiceError, StoreFailed};
pub use node::{Hosted, NodeError, NodeOptions, StoreSpec, Stores, run_node};
pub use router::Router;
pub use vitals::{Gauge, GaugeHandle};

pub use bus::{BoxError, Shutdown, error_chain, stopped};
