//! Intake: a report comes in once, is validated field by field, deduplicated (the case id is
//! derived from the report's content) and recorded as a `CaseReported` event that every
//! other service consumes. Intake also serves each case's timeline, projected from the
//! events of the services that act on it.

pub mod limits;
pub mod service;
pub mod timeline;
pub mod validate;

pub use service::{Config, IntakeServiceError, Stores, run, submit_report};
