//! The pure core of the province coordinator: no NATS, no store, no clock. The shell feeds it
//! the province stream's envelopes one by one and asks it for reports, gaps and notices.
//!
//! - [`state`]: the [`State`] and [`absorb`] — an envelope is checked (known city, consistent
//!   id), placed in its producer's seq track ([`producers`]: new, gap filled, duplicate,
//!   conflict), then counted ([`figures`]) and linked across cities ([`links`]) once;
//!   [`gaps`] says what a `resend` should ask for;
//! - [`figures`]: which event feeds which figure (its module doc has the table), kept per
//!   city and per [`Period`] — day, ISO week, month in Beijing time ([`period`]) — as a
//!   projection, with a time-to-freeze histogram per city and period;
//! - [`report`]: a period's rows, the province's totals (checked against a projection kept
//!   apart) and the cities to be called in;
//! - [`links`]: cross-city accounts and province-wide blocks, the [`Notice`]s the cities
//!   hear (`events::province`);
//! - [`outbox`]: the notices each city is still to hear, kept until it answers.
//!
//! Personal data: the state holds cities, case ids, the mule accounts freezing stopped, the
//! scammers' identifiers blocking blocked, counts, amounts and histograms — never a field of
//! an event that may carry a person (a payer reference, a dissuasion person key, an
//! operator's name or note, an appeal, a rejected contact's text, a report's contacts).

pub mod chart;
pub mod figures;
pub mod links;
pub mod outbox;
pub mod period;
pub mod producers;
pub mod report;
pub mod state;

pub use chart::ranking_svg;
pub use figures::{Figures, FiguresError};
pub use links::CrossCity;
pub use outbox::{Delivery, Outbox, Settled};
pub use period::{PERIOD_EXPECTED, Period, PeriodError};
pub use producers::{Producer, SeqTrack};
pub use report::{Flag, FlagFigure, FlagMargin, Report, ReportError, Row, report};
pub use state::{Absorbed, ConfigError, Notice, Refusal, State, absorb, content_hash, forget_before, gaps, producers};

#[cfg(test)]
mod tests;
