//! The dissuasion service: finds the people scam identifiers reached, grades their risk and
//! warns them by SMS, call and visit before they pay (issue 15; the rules in
//! docs/dissuasion.md).
//!
//! - [`core`] (pure): carriers' signals validated and matched against the known scam
//!   identifiers both ways (a signal against the identifiers, a new case against the signals
//!   of the retention window), a risk grade per person, and graded tasks with deadlines that
//!   escalate through a call and four visit levels, within each queue's daily capacity.
//! - [`events`]: what dissuasion records, `shared/events`' `dissuasion` module (golden bytes
//!   there), re-exported.
//! - [`limits`]: every bound, with its reason.
//!
//! Not built yet: the shell (store, NATS, the signal stream, commands), see the doc.

pub mod core;
pub mod limits;

pub use ::events::dissuasion as events;
