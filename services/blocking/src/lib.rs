//! The blocking service: cuts scammers' numbers, sites, apps and accounts off.
//!
//! - [`normalize`]: a victim's contacts (phones, URLs, apps, social accounts) into one
//!   canonical [`Identifier`](normalize::Identifier) each, or a typed problem (the
//!   `identifiers` crate: blocking's events in `shared/events` hold identifiers too).
//! - [`core`] (pure): one block per identifier with every case that named it, its expiry and
//!   lift, the carrier orders it calls for (idempotent request ids, retried with bounded
//!   backoff), the number-range → carrier table, and the high-risk pool (accounts that held
//!   victim money, card sellers).
//! - [`events`]: what blocking records (`events::blocking` in `shared/events`).
//! - [`shell`]: the engine on the service runtime — its redb store, the consumers of intake's
//!   `case_reported` and freezing's `account_stopped`, the deadline timer, the carrier and
//!   bank orders, and the `check`, `list`, `lift` and `case` commands.
//! - [`limits`]: every bound, with its reason.

pub mod core;
pub mod index;
pub mod limits;
pub mod shell;

pub use ::events::blocking as events;
pub use identifiers as normalize;

use domain::{City, Service};
use futures::future::BoxFuture;
use runtime::{Context, Hosted, ServiceError, StoreSpec, Stores};
use store::WriterPriority;

use crate::core::CoreConfig;

/// Blocking's store (`blocking.redb`): its log, outbox and inbox, the state's rows
/// (`shell::rows`), and each case's rows for `afc case show`. Nothing on the time-to-freeze path waits for its commits, and
/// its orders leave with them (not after): its writer runs in the background.
pub const STORE: StoreSpec = StoreSpec { name: "blocking", priority: WriterPriority::Background };

/// What blocking may do on its city's server, the server enforcing it: publish its own events
/// and dead letters, consume intake's `case_reported` and freezing's `account_stopped` with
/// durables of its own, answer its commands (the runtime's router), request the carriers'
/// block, lift, restrict and unrestrict and the banks' restrict and unrestrict (their gateways
/// answer through accounts of their own), and read replies under its own inbox only.
pub fn grant(city: &City) -> security::Grant {
    use protocol::subjects::{self, bank_verb, carrier_verb};
    let stream = city.stream_name();
    let mut grant = security::Grant::new()
        .publish(subjects::service_events(city, Service::Blocking))
        .publish(subjects::dead_letter(city, Service::Blocking))
        .publish(subjects::changes(city, Service::Blocking))
        .produces_into(&stream)
        .answers(subjects::province_notices(city, Service::Blocking))
        .discoverable()
        .answers(subjects::service_commands(city, Service::Blocking))
        .publish(subjects::any_bank(bank_verb::RESTRICT))
        .publish(subjects::any_bank(bank_verb::UNRESTRICT))
        .consumes(&stream, shell::INTAKE_CONSUMER, &shell::intake_filter(city))
        .consumes(&stream, shell::FREEZING_CONSUMER, &shell::freezing_filter(city))
        .inbox(&subjects::city_inbox(city, Service::Blocking.as_str()));
    // Not `sms`: warning subscribers is dissuasion's.
    for verb in [carrier_verb::BLOCK, carrier_verb::LIFT, carrier_verb::RESTRICT, carrier_verb::UNRESTRICT] {
        grant = grant.publish(subjects::any_carrier(verb));
    }
    grant
}

/// How blocking runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub core: CoreConfig,
}

impl Config {
    pub fn new(core: CoreConfig) -> Config {
        Config { core }
    }
}

/// Why blocking's engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    #[error("a commit failed; in-memory state may be ahead of the log, restart to rebuild it from the log")]
    CommitFailed(#[source] store::StoreError),
    #[error("the blocking engine stopped")]
    EngineStopped,
    #[error("a block could not be indexed: {0}")]
    IndexFull(#[source] index::IndexFull),
}

/// Blocking, as a node hosts it.
#[derive(Debug, Clone)]
pub struct Blocking {
    pub config: Config,
}

impl Blocking {
    pub fn new(config: Config) -> Self {
        Blocking { config }
    }
}

impl Hosted for Blocking {
    fn service(&self) -> Service {
        Service::Blocking
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[STORE]
    }

    fn run(self: Box<Self>, context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        Box::pin(shell::run(self.config, context, stores.get(&STORE)))
    }
}
