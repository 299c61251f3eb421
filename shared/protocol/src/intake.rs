//! Intake commands: `afc.<city>.cmd.intake.report`, `afc.<city>.cmd.intake.show` and
//! `afc.<city>.cmd.intake.payers`.
//!
//! The report body is documented field by field in docs/protocols.md; intake parses it
//! itself (from a JSON value) so that it can list every problem at once.

use domain::{AccountRef, CaseId, City, Fen, FraudType, PayerRef, PaymentOrderRef, Sensitive, TimeMs};
use serde::{Deserialize, Serialize};

pub const VERB_REPORT: &str = "report";
pub const VERB_SHOW: &str = "show";
pub const VERB_PAYERS: &str = "payers";
pub const VERB_LIST: &str = "list";
pub const VERB_SEARCH: &str = "search";

/// A report was recorded (or had been recorded before: `duplicate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAccepted {
    pub case_id: CaseId,
    /// True when the same report had already been submitted; nothing new was recorded.
    pub duplicate: bool,
}

/// Why intake refused a command. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct IntakeError {
    pub kind: IntakeErrorKind,
    pub message: String,
    /// For `invalid_report`: every problem found, each naming its field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeErrorKind {
    NotJson,
    BodyTooLarge,
    InvalidReport,
    UnknownCase,
    /// A different report hashed to an existing case id; it was not recorded.
    Conflict,
    /// The service could not record the report now; it may be retried.
    Unavailable,
}

/// One problem with one field of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// JSON path of the field, e.g. `transfers[1].amount_fen`.
    pub field: String,
    /// The offending value as given (truncated), or `missing`.
    pub value: String,
    /// What would be accepted.
    pub expected: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: got {}, expected {}", self.field, self.value, self.expected)
    }
}

pub type ReportResponse = crate::Reply<ReportAccepted, IntakeError>;

/// Ask for a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowRequest {
    pub case_id: CaseId,
}

/// Everything known about a case, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTimeline {
    pub case_id: CaseId,
    pub city: City,
    pub fraud_type: FraudType,
    pub reported_at_ms: TimeMs,
    pub reported_loss_fen: Fen,
    pub entries: Vec<TimelineEntry>,
    pub summary: CaseSummary,
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at_ms: TimeMs,
    pub kind: TimelineKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_fen: Option<Fen>,
    /// Trail depth of the account (1 = the victim paid into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u8>,
    /// The hop of the trail the entry is about (its number within the case, from 1), for
    /// the entries of one hop: traced, order resolved, stopped, cashed out, ended, retrying.
    /// Absent in replies of older builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<u32>,
    /// For a `traced` entry that opens a hop: the hop whose account sent the money there;
    /// absent for the victim's own payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    /// For a `traced` entry into a payment order: the order (its account comes with the
    /// hop's `order_resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<PaymentOrderRef>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Reported,
    OrderResolved,
    Stopped,
    Traced,
    CashedOut,
    Frozen,
    FreezeQueued,
    StopRenewed,
    HopFailed,
    /// A hop's bank or platform could not answer for now; it is asked again.
    Retrying,
    TraceCompleted,
    /// A freeze (or the renewal of its stop) failed for now; it is asked for again.
    FreezeRetrying,
    /// Alert: a claim not frozen yet whose stop lapses soon, with no renewal left.
    FreezeAtRisk,
    /// The case's claim on an account was revised when another case's money in it came to
    /// light.
    ClaimRevised,
    /// Cases of other cities stopped an account of the case too (the province coordinator's
    /// notice): every city's claim, earliest first stop first.
    CrossCityClaims,
}

/// Totals of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub accounts_stopped: u32,
    pub accounts_frozen: u32,
    pub held_fen: Fen,
    pub frozen_fen: Fen,
    pub cashed_out_fen: Fen,
    /// From the report to the last stop-payment that held money; absent while none held.
    pub time_to_freeze_ms: Option<u64>,
    pub trace_complete: bool,
    /// `freeze_at_risk` alerts raised for the case's claims (absent in replies of older
    /// builds).
    #[serde(default)]
    pub freeze_at_risk_alerts: u32,
}

pub type ShowResponse = crate::Reply<CaseTimeline, IntakeError>;

/// Ask for the victim's paying accounts of a case: what restitution returns the money to
/// (原路返还). The answer is personal data; see [`CasePayers`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayersRequest {
    pub case_id: CaseId,
}

/// The paying accounts a case's report named, each with the reference events carry for it.
/// Transfers whose report named none are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasePayers {
    pub case_id: CaseId,
    pub transfers: Vec<TransferPayer>,
}

/// One transfer's paying account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferPayer {
    /// The transfer's position in the report (and in `case_reported`), from 0.
    pub index: u32,
    /// The victim's account the money left from, in clear on the wire; masked when
    /// formatted, so a log of this answer shows no number.
    pub from_account: Sensitive<AccountRef>,
    /// The reference `case_reported` names it by (`transfers[index].from_account`).
    pub payer: PayerRef,
}

pub type PayersResponse = crate::Reply<CasePayers, IntakeError>;
