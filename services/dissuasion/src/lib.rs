//! The dissuasion service: finds the people scam identifiers reached, grades their risk and
//! warns them by SMS, call and visit before they pay (issue 15; the rules in
//! docs/dissuasion.md).
//!
//! - [`core`] (pure): carriers' signals validated and matched against the known scam
//!   identifiers both ways (a signal against the identifiers, a new case against the signals
//!   of the retention window), a risk grade per person, and graded tasks with deadlines that
//!   escalate through a call and four visit levels, within each queue's daily capacity.
//! - [`events`]: what dissuasion records, `shared/events`' `dissuasion` module (golden bytes
//!   there), re-exported. No event holds a subscriber's number.
//! - [`shell`]: the engine on the service runtime — its redb store (the log, the kept
//!   signals, the numbers), the consumers of intake's cases, blocking's blocks and the city's
//!   signal stream, the deadline timer, the carriers' SMS, and the staff's commands.
//! - [`limits`]: every bound, with its reason.

pub mod core;
pub mod limits;
pub mod shell;

pub use ::events::dissuasion as events;

use domain::{City, Service};
use futures::future::BoxFuture;
use runtime::{Context, Hosted, ServiceError, StoreSpec, Stores};
use store::WriterPriority;

use crate::core::CoreConfig;

/// Dissuasion's store (`dissuasion.redb`): its log, outbox and inbox, the signals of the
/// window and the numbers of the people they name (personal data: this store only). Nothing
/// on the time-to-freeze path waits for it: its writer runs in the background.
pub const STORE: StoreSpec = StoreSpec { name: "dissuasion", priority: WriterPriority::Background };

/// What dissuasion may do on its city's server: publish its own events and dead letters,
/// consume intake's `case_reported` and blocking's events with durables of its own, consume
/// the city's signal stream, answer its commands, ask the carriers' `sms` and intake's
/// `report` (for a person who has paid), and read replies under its own inbox only.
pub fn grant(city: &City) -> security::Grant {
    use protocol::subjects::{self, carrier_verb};
    let stream = city.stream_name();
    security::Grant::new()
        .publish(subjects::service_events(city, Service::Dissuasion))
        .publish(subjects::dead_letter(city, Service::Dissuasion))
        .publish(subjects::changes(city, Service::Dissuasion))
        .produces_into(&stream)
        .answers(subjects::service_commands(city, Service::Dissuasion))
        .answers(subjects::province_notices(city, Service::Dissuasion))
        .discoverable()
        .publish(subjects::any_carrier(carrier_verb::SMS))
        .publish(subjects::command(city, Service::Intake, protocol::intake::VERB_REPORT))
        .consumes(&stream, shell::INTAKE_CONSUMER, &shell::intake_filter(city))
        .consumes(&stream, shell::BLOCKING_CONSUMER, &shell::blocking_filter(city))
        .consumes(&city.signal_stream_name(), shell::SIGNAL_CONSUMER, &protocol::subjects::city_signals(city))
        .inbox(&subjects::city_inbox(city, Service::Dissuasion.as_str()))
}

/// How dissuasion runs. `core.person_secret` is replaced at start by the one its store holds.
#[derive(Debug, Clone)]
pub struct Config {
    pub core: CoreConfig,
}

impl Config {
    pub fn new(city: City) -> Config {
        Config { core: CoreConfig::new(city, core::PersonSecret(0, 0)) }
    }

    /// With a center's own thresholds, capacities and retention (the node's config file).
    pub fn tuned(city: City, tuning: Tuning) -> Config {
        let mut config = Config::new(city);
        config.core.grading = tuning.grading;
        config.core.capacity = tuning.capacity;
        config.core.signal_retention_ms = tuning.retention_days * limits::DAY_MS;
        config
    }
}

/// What a center sets of dissuasion in its config file (`[dissuasion]`): the grading rule's
/// thresholds, each staffed queue's daily capacity, how long signals are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    pub grading: core::GradingConfig,
    pub capacity: core::CapacityConfig,
    pub retention_days: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            grading: core::GradingConfig::default(),
            capacity: core::CapacityConfig::default(),
            retention_days: limits::DEFAULT_SIGNAL_RETENTION_DAYS,
        }
    }
}

/// Why dissuasion's engine or signal consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum DissuasionError {
    #[error("a commit failed; in-memory state may be ahead of the log, restart to rebuild it from the log")]
    CommitFailed(#[source] store::StoreError),
    #[error("the dissuasion engine stopped")]
    EngineStopped,
    #[error("signals: {0}")]
    Signals(String),
}

/// Dissuasion, as a node hosts it.
#[derive(Debug, Clone)]
pub struct Dissuasion {
    pub config: Config,
}

impl Dissuasion {
    pub fn new(config: Config) -> Self {
        Dissuasion { config }
    }
}

impl Hosted for Dissuasion {
    fn service(&self) -> Service {
        Service::Dissuasion
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[STORE]
    }

    fn run(self: Box<Self>, context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        Box::pin(shell::run(self.config, context, stores.get(&STORE)))
    }
}
