//! The restitution service: returns frozen money to the victims it belongs to (资金返还),
//! the way it came (原路返还), exactly to the fen (issue 16; the rules in
//! docs/restitution.md).
//!
//! - [`core`] (pure): [`core::allocate`] shares the money frozen on one account among the
//!   victims whose traced money went into it — by timestamp trace (the default), pro rata,
//!   FIFO or lowest intermediate balance — in whole fen that add up exactly, with the reason
//!   for every fen as data; [`core::process`] takes each allocation from its proposal through
//!   the notice period, objections and two approvals to the bank's returns.
//! - [`events`]: what restitution records, `shared/events`' `restitution` module (golden
//!   bytes there), re-exported. No event holds a victim's account.
//! - [`shell`]: the engine on the service runtime — its redb store (the log, the books kept
//!   from freezing's events, each allocation's details), the consumer of freezing's events,
//!   the timers, the banks' `flows` and `return`, and the commands.
//! - [`report`] (pure): the fund-flow report (资金流向分析报告) of a case or an allocation —
//!   the money trail as a graph, every hop, each allocation's rule, shares and why, approvals,
//!   objections and returns — as one self-contained HTML page and as JSON.
//! - [`limits`]: every bound, with its reason.

pub mod core;
pub mod limits;
pub mod report;
pub mod shell;

pub use ::events::restitution as events;

use std::collections::BTreeMap;

use domain::{City, Service};
use futures::future::BoxFuture;
use runtime::{Context, Hosted, ServiceError, StoreSpec, Stores};
use store::WriterPriority;

use crate::core::process::ProcessConfig;

/// Restitution's store (`restitution.redb`): its log, outbox and inbox, the books kept from
/// freezing's events and each allocation's details. Nothing on the time-to-freeze path
/// waits for it: its writer runs in the background.
pub const STORE: StoreSpec = StoreSpec { name: "restitution", priority: WriterPriority::Background };

/// What restitution may do on its city's server: publish its own events and dead letters,
/// consume freezing's events with a durable of its own, answer its commands, ask the banks'
/// `flows` and `return`, the platforms' `resolve` (an order's payer) and intake's `payers`,
/// and read replies under its own inbox only.
pub fn grant(city: &City) -> security::Grant {
    use protocol::subjects::{self, bank_verb, platform_verb};
    let stream = city.stream_name();
    security::Grant::new()
        .publish(subjects::service_events(city, Service::Restitution))
        .publish(subjects::dead_letter(city, Service::Restitution))
        .publish(subjects::changes(city, Service::Restitution))
        .produces_into(&stream)
        .answers(subjects::service_commands(city, Service::Restitution))
        .answers(subjects::province_notices(city, Service::Restitution))
        .discoverable()
        .publish(subjects::any_bank(bank_verb::FLOWS))
        .publish(subjects::any_bank(bank_verb::RETURN))
        .publish(subjects::any_platform(platform_verb::RESOLVE))
        .publish(subjects::command(city, Service::Intake, protocol::intake::VERB_PAYERS))
        .consumes(&stream, shell::FREEZING_CONSUMER, &shell::freezing_filter(city))
        .inbox(&subjects::city_inbox(city, Service::Restitution.as_str()))
}

/// How restitution runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub process: ProcessConfig,
    /// The center's approvers: name → public key (`U…`), from the node's config file.
    pub approvers: BTreeMap<String, String>,
}

impl Config {
    pub fn new(city: City) -> Config {
        Config { process: ProcessConfig::new(city), approvers: BTreeMap::new() }
    }

    /// With a center's own settings (the node's config file, `[restitution]`).
    pub fn tuned(city: City, tuning: Tuning) -> Config {
        let mut config = Config::new(city);
        config.process.notice_ms = tuning.notice_ms;
        config.approvers = tuning.approvers;
        config
    }
}

/// What a center sets of restitution in its config file (`[restitution]`): the notice period
/// and the roster of approvers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    pub notice_ms: u64,
    pub approvers: BTreeMap<String, String>,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning { notice_ms: limits::DEFAULT_NOTICE_DAYS * limits::DAY_MS, approvers: BTreeMap::new() }
    }
}

/// Why restitution's engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum RestitutionError {
    #[error("a commit failed; in-memory state may be ahead of the log, restart to rebuild it from the log")]
    CommitFailed(#[source] store::StoreError),
    #[error("the restitution engine stopped")]
    EngineStopped,
}

/// Restitution, as a node hosts it.
#[derive(Debug, Clone)]
pub struct Restitution {
    pub config: Config,
}

impl Restitution {
    pub fn new(config: Config) -> Self {
        Restitution { config }
    }
}

impl Hosted for Restitution {
    fn service(&self) -> Service {
        Service::Restitution
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[STORE]
    }

    fn run(self: Box<Self>, context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        Box::pin(shell::run(self.config, context, stores.get(&STORE)))
    }
}
