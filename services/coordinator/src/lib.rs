//! The province coordinator (issue 17): one view of every city, built from the province
//! stream `AFC_PROVINCE`.
//!
//! - [`core`] (pure): absorbs the stream's envelopes — seq tracking per producer with gaps,
//!   duplicates and conflicts; the figures per city and period as projections; cross-city
//!   accounts and province-wide blocks as notices — and makes the joint-meeting report.
//! - [`limits`]: every bound, with its reason.
//!
//! The shell (the stream's consumer, the store, the commands) wraps this core; it is not
//! here yet.

pub mod core;
pub mod limits;
