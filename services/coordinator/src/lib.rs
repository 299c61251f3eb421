//! The province coordinator (issue 17): one view of every city, built from the province
//! stream `AFC_PROVINCE`, on the hub.
//!
//! - [`core`] (pure): absorbs the stream's envelopes — seq tracking per producer with gaps,
//!   duplicates and conflicts; the figures per city and period as projections; cross-city
//!   accounts and province-wide blocks as notices — and makes the joint-meeting report.
//! - [`shell`]: reads the province stream in order from its last snapshot, keeps the state
//!   in memory and a snapshot in its own redb store, dead-letters what the core refuses, and
//!   answers `afc.province.cmd.coordinator.{report,city,status}`.
//! - [`limits`]: every bound, with its reason.

pub mod core;
pub mod limits;
pub mod shell;
