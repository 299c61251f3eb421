//! The fund-flow report (资金流向分析报告): the legal basis of each return, written for the
//! victims, the holder, the accountant and the court. It shows the money trail of every
//! case whose money reached the accounts reported on, as freezing traced it, and each
//! allocation of those accounts' frozen money: the rule applied and why, each victim's share
//! and how every fen of it was computed, totals that add up, approvals, objections and
//! returns. Pure: the data is given (its time too), the report is returned as text.
//!
//! - [`model`]: the report's data, plain serde structs, which are its JSON form too;
//! - [`render_html`]: one self-contained HTML document (inline CSS and SVG, no script):
//!   [`graph`] lays the trail out, [`svg`] draws it, [`html`] and [`section`] write the rest,
//!   [`format`] escapes every text and prints money and Beijing time;
//! - [`to_json`]: the same data as pretty JSON;
//! - [`trail`]: the trail filled from freezing's events;
//! - [`example`]: a generated report (a 4-level, 25-account trail of 3 victims, say) for the
//!   tests, the benchmark and the docs.

pub mod example;
pub mod format;
pub mod graph;
pub mod html;
pub mod model;
pub mod section;
pub mod svg;
pub mod trail;

pub use html::render_html;
pub use model::{
    AllocationSection, Answer, Approval, FundFlow, HopState, Objection, ReturnLine, Subject, Totals, TrailHop,
};

/// The report as pretty JSON: [`model`]'s structs as they are.
pub fn to_json(report: &FundFlow) -> String {
    serde_json::to_string_pretty(report).expect("the report's types serialize: string keys, no fallible field")
}

#[cfg(test)]
mod tests;
