//! The province coordinator's commands, on `afc.province.cmd.coordinator.<verb>` (JSON): the
//! provincial view for the joint meeting and the coordinator's own state. Answers are
//! `{"ok": …}` or `{"error": …}` ([`crate::Reply`]); an error names its kind, and a bad field
//! its value and what is accepted.

use serde::{Deserialize, Serialize};

/// The verbs.
pub mod verb {
    /// Every city's figures over a period, the province's totals, the cities to call in.
    pub const REPORT: &str = "report";
    /// One city's figures over a period.
    pub const CITY: &str = "city";
    /// What the coordinator holds: the province stream's last sequence absorbed, each
    /// producer's highest sequence and gaps, refusals and the latest cross-city notices.
    pub const STATUS: &str = "status";
    /// The accounts a case shares with cases of other cities, with every city's claim.
    pub const CASE: &str = "case";
    pub const ALL: [&str; 4] = [REPORT, CITY, STATUS, CASE];
}

/// `report` and `city`: the period (`2025-03`, `2025-W10`, `2025-03-14`, Beijing time), the
/// margin below the province's median that calls a city in (percent, 0 to 100; 20 when
/// absent), and for `city` the city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    pub period: String,
    #[serde(default)]
    pub margin_percent: Option<u8>,
    #[serde(default)]
    pub city: Option<String>,
}

/// `case`: a case id (`<city>-<16 hex>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRequest {
    pub case_id: String,
}

/// The margin when a request names none.
pub const DEFAULT_MARGIN_PERCENT: u8 = 20;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CoordinatorError {
    #[error("{field} {value:?}: expected {expected}")]
    BadRequest { field: String, value: String, expected: String },
    #[error("no data for {period}: the province stream holds no event that counts in it")]
    NoData { period: String },
    #[error("unknown city {city:?}: the province's cities are {known}")]
    UnknownCity { city: String, known: String },
    #[error("unknown verb {verb:?}: the coordinator answers {known}")]
    UnknownVerb { verb: String, known: String },
}

/// One producer as the coordinator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStatus {
    /// `<city>.<service>`.
    pub producer: String,
    pub highest_seq: u64,
    /// Missing ranges below it, as `first..=last`.
    pub gaps: Vec<(u64, u64)>,
    pub duplicates: u64,
    pub conflicts: u64,
}

/// `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub cities: Vec<String>,
    /// The province stream's sequence of the last message absorbed (0: none yet).
    pub absorbed_stream_seq: u64,
    pub producers: Vec<ProducerStatus>,
    /// Messages refused (dead-lettered), by reason kind.
    pub refused: Vec<(String, u64)>,
    /// The latest notices (cross-city accounts, province-wide blocks), newest last, as JSON.
    pub notices: Vec<serde_json::Value>,
    /// Notices each city is still to hear (a city cut off gathers them), by city.
    #[serde(default)]
    pub notices_pending: Vec<(String, u64)>,
    /// Notices the cities took, refused, and those dropped because too many were pending.
    #[serde(default)]
    pub notices_taken: u64,
    #[serde(default)]
    pub notices_refused: u64,
    #[serde(default)]
    pub notices_dropped: u64,
    /// Events producers re-sent from their logs (gaps, a stalled tail), put back into
    /// `AFC_PROVINCE`.
    #[serde(default)]
    pub events_resent: u64,
}
