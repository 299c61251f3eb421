//! Intake: a report comes in once, is validated field by field, deduplicated (the case id is
//! derived from the report's content) and recorded as a `case_reported` event that every
//! other service consumes. Intake also serves each case's timeline, projected from the
//! events of the services that act on it.
//!
//! - [`core`]: the pure rules: a report body becomes a case, a duplicate or a typed refusal;
//!   a freezing event becomes a timeline row; a case's timeline is folded from them.
//! - [`shell`]: the commands and the projection on the service runtime and redb.
//! - [`limits`]: every bound.

pub mod core;
pub mod limits;
pub mod shell;

use domain::Service;
use futures::future::BoxFuture;
use runtime::{Context, Hosted, ServiceError, StoreSpec, Stores};
use store::WriterPriority;

pub use shell::{IntakeStores, list, payers, search, show, submit_report};

/// What intake may do on its city's server, the server enforcing it: publish its own events
/// and dead letters, answer its commands, consume freezing's events for the timeline, and
/// read replies under its own inbox only.
pub fn grant(city: &domain::City) -> security::Grant {
    use protocol::subjects;
    let stream = city.stream_name();
    security::Grant::new()
        .publish(subjects::service_events(city, Service::Intake))
        .publish(subjects::dead_letter(city, Service::Intake))
        .publish(subjects::changes(city, Service::Intake))
        .produces_into(&stream)
        .answers(subjects::service_commands(city, Service::Intake))
        .answers(subjects::province_notices(city, Service::Intake))
        .discoverable()
        .consumes(&stream, shell::TIMELINE_CONSUMER, &subjects::service_events(city, Service::Freezing))
        .inbox(&subjects::city_inbox(city, Service::Intake.as_str()))
}

/// The records store (`intake.redb`): reports, receipt times and the event log. A report is
/// answered after its commit, so its writer runs at normal priority.
pub const RECORDS: StoreSpec = StoreSpec { name: "intake", priority: WriterPriority::Normal };
/// The timeline store (`intake-timeline.redb`): nobody on the time-to-freeze path waits for
/// it, so its writer runs in the background.
pub const TIMELINE: StoreSpec = StoreSpec { name: "intake-timeline", priority: WriterPriority::Background };

/// Intake, as a node hosts it. (It has no settings of its own yet: its bounds are in
/// [`limits`].)
#[derive(Debug, Clone, Default)]
pub struct Intake;

impl Hosted for Intake {
    fn service(&self) -> Service {
        Service::Intake
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[RECORDS, TIMELINE]
    }

    fn run(self: Box<Self>, context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        let stores = IntakeStores::from_opened(&stores);
        Box::pin(shell::run(context, stores))
    }
}
