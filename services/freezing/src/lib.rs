//! Freezing: from a reported case, follow the victim's money hop by hop — resolve payment
//! orders to bank cards, stop payments out of each account, read where the money went next,
//! freeze where there is money and keep following where there is none — and convert every
//! stop-payment into a freeze before its 48 h lapse.
//!
//! - [`core`]: the pure state machine (decide / apply / actions) and every rule.
//! - [`rule`]: which onward transfers carry the victim's money (lowest intermediate balance).
//! - [`shell`]: the engine, the consumer and the conversion timers on the service runtime.
//! - [`limits`]: every bound.

pub mod core;
pub mod limits;
pub mod rule;
pub mod shell;

use domain::Service;
use futures::future::BoxFuture;
use runtime::{Context, Hosted, ServiceError, StoreSpec, Stores};
use store::WriterPriority;

use crate::core::CoreConfig;

/// What freezing may do on its city's server, the server enforcing it: publish its own events
/// and dead letters, request the banks' and payment platforms' verbs (their gateways answer
/// through accounts of their own), consume intake's events, and read replies under its own
/// inbox only.
pub fn grant(city: &domain::City) -> security::Grant {
    use protocol::subjects::{self, bank_verb, platform_verb};
    let stream = city.stream_name();
    security::Grant::new()
        .publish(subjects::service_events(city, Service::Freezing))
        .publish(subjects::dead_letter(city, Service::Freezing))
        .publish(subjects::changes(city, Service::Freezing))
        .produces_into(&stream)
        .answers(subjects::province_notices(city, Service::Freezing))
        .discoverable()
        .publish(subjects::any_bank(bank_verb::STOP_PAYMENT))
        .publish(subjects::any_bank(bank_verb::FREEZE))
        .publish(subjects::any_bank(bank_verb::FLOWS))
        .publish(subjects::any_platform(platform_verb::RESOLVE))
        .consumes(&stream, shell::CONSUMER, &subjects::service_events(city, Service::Intake))
        .inbox(&subjects::city_inbox(city, Service::Freezing.as_str()))
}

/// Freezing's store (`freezing.redb`). Requests leave before their commits, so nothing on
/// the time-to-freeze path waits for its writer: it runs in the background.
pub const STORE: StoreSpec = StoreSpec { name: "freezing", priority: WriterPriority::Background };

/// How freezing runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub core: CoreConfig,
    /// Events between two snapshots of the state ([`shell::snapshot`]).
    pub snapshot_every_events: u64,
    /// Events between two moves of the state's cold part out of memory (`core::cold`).
    pub evict_every_events: u64,
}

impl Config {
    /// `core`, with the default snapshot interval.
    pub fn new(core: CoreConfig) -> Config {
        Config {
            core,
            snapshot_every_events: limits::SNAPSHOT_EVERY_EVENTS,
            evict_every_events: limits::EVICT_EVERY_EVENTS,
        }
    }
}

/// Why freezing's engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum FreezingError {
    #[error("a commit failed; in-memory state may be ahead of the log, restart to rebuild it from the log")]
    CommitFailed(#[source] store::StoreError),
    #[error("the freezing engine stopped")]
    EngineStopped,
}

/// Freezing, as a node hosts it.
#[derive(Debug, Clone)]
pub struct Freezing {
    pub config: Config,
}

impl Freezing {
    pub fn new(config: Config) -> Self {
        Freezing { config }
    }
}

impl Hosted for Freezing {
    fn service(&self) -> Service {
        Service::Freezing
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[STORE]
    }

    fn run(self: Box<Self>, context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        Box::pin(shell::run(self.config, context, stores.get(&STORE)))
    }
}
