//! Intake commands: `afc.<city>.cmd.intake.report`, `afc.<city>.cmd.intake.show`,
//! `afc.<city>.cmd.intake.payers`, and the staff's finders `afc.<city>.cmd.intake.list` (the
//! city's cases, newest report first) and `afc.<city>.cmd.intake.search` (cases by case id,
//! account, phone number or domain).
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

/// Most cases one `list` page holds, and the page when `limit` is not given.
pub const MAX_LIST_PAGE: u32 = 100;
/// Most matches one `search` answers; `truncated` says when more cases matched.
pub const MAX_SEARCH_MATCHES: u32 = 100;
/// Longest `search` query, in bytes: a URL as a victim copied it (the contacts' 512
/// characters, `MAX_CONTACT_CHARS`, in 4-byte characters at most). A longer one is refused
/// unread.
pub const MAX_QUERY_BYTES: usize = 2048;

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
    /// For `invalid_report` and `invalid_query`: every problem found, each naming its field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeErrorKind {
    NotJson,
    BodyTooLarge,
    InvalidReport,
    /// A `list` or `search` request with a field out of range or a query that is none of
    /// the things a search accepts; `problems` names each field.
    InvalidQuery,
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

/// Ask for a page of the city's cases, newest report first. Every field is optional: `{}` is
/// the newest [`MAX_LIST_PAGE`] cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// Only cases of this fraud type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_type: Option<FraudType>,
    /// Only cases reported at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<TimeMs>,
    /// Only cases reported before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<TimeMs>,
    /// Only cases in this state, as freezing's events have told intake so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CaseStatus>,
    /// The `next` of the previous page: this page starts with the case reported just
    /// before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<CaseCursor>,
    /// Cases a page: 1 to [`MAX_LIST_PAGE`] (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A state a case can be in, for `list`'s `status` filter. A case may be in several
/// (`holding` and `frozen`, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Its trace is not complete yet (or has not started).
    Tracing,
    /// Its trace is complete.
    Traced,
    /// Stop-payments hold some of the victim's money (`summary.held_fen` > 0).
    Holding,
    /// At least one account holding its money is frozen.
    Frozen,
    /// A claim of it raised a `freeze_at_risk` alert.
    AtRisk,
    /// Its trace is complete and nothing of the victim's money is held.
    NothingHeld,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        CaseStatus::Tracing,
        CaseStatus::Traced,
        CaseStatus::Holding,
        CaseStatus::Frozen,
        CaseStatus::AtRisk,
        CaseStatus::NothingHeld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Tracing => "tracing",
            CaseStatus::Traced => "traced",
            CaseStatus::Holding => "holding",
            CaseStatus::Frozen => "frozen",
            CaseStatus::AtRisk => "at_risk",
            CaseStatus::NothingHeld => "nothing_held",
        }
    }

    /// Whether a case with these totals is in this state.
    pub fn holds_for(self, summary: &CaseSummary) -> bool {
        match self {
            CaseStatus::Tracing => !summary.trace_complete,
            CaseStatus::Traced => summary.trace_complete,
            CaseStatus::Holding => !summary.held_fen.is_zero(),
            CaseStatus::Frozen => summary.accounts_frozen > 0,
            CaseStatus::AtRisk => summary.freeze_at_risk_alerts > 0,
            CaseStatus::NothingHeld => summary.trace_complete && summary.held_fen.is_zero(),
        }
    }
}

impl std::fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a `list` page ended: the last case it showed (or, when the page was cut short by
/// how many cases one page may read, the last case it read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCursor {
    pub reported_at_ms: TimeMs,
    pub case_id: CaseId,
}

/// A page of cases, newest report first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseList {
    pub cases: Vec<CaseListItem>,
    /// Present when more cases may follow: pass it as the next request's `after`. A page
    /// may hold fewer than `limit` cases (even none) and still have a `next`, when a filter
    /// let few of the cases it read through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CaseCursor>,
}

/// One case in a list: no victim data (name, phone, ID number, paying accounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseListItem {
    pub case_id: CaseId,
    pub reported_at_ms: TimeMs,
    pub fraud_type: FraudType,
    pub reported_loss_fen: Fen,
    /// The case's totals as `show` gives them, from freezing's events intake has folded.
    pub summary: CaseSummary,
}

pub type ListResponse = crate::Reply<CaseList, IntakeError>;

/// What a search query is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    /// A case id of this city (`<city>-<16 hex>`).
    Case,
    /// A bank account: `<bank>:<digits>`, or the digits alone (any bank); spaces and `-`
    /// between digits are ignored.
    Account,
    /// A scammer's phone number a report named, in any spelling libphonenumber reads.
    Phone,
    /// A scammer's site a report named: a domain or a URL, matched by its registrable
    /// domain (or IP address), as blocking blocks it.
    Domain,
}

impl SearchKind {
    pub const ALL: [SearchKind; 4] = [SearchKind::Case, SearchKind::Account, SearchKind::Phone, SearchKind::Domain];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchKind::Case => "case",
            SearchKind::Account => "account",
            SearchKind::Phone => "phone",
            SearchKind::Domain => "domain",
        }
    }
}

impl std::fmt::Display for SearchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Find cases by what staff typed. Without `kind`, the query is read as every kind it can
/// be (an 11-digit number is both an account and a phone number) and each match says which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SearchKind>,
}

/// The cases a search found, newest report first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// How the query was read: each kind with its normalised value (`phone:+8617000000000`,
    /// `domain:invest-example.top`, `account:6222020200001234`, `case:<id>`).
    pub read_as: Vec<String>,
    pub matches: Vec<SearchMatch>,
    /// More cases matched than [`MAX_SEARCH_MATCHES`]; narrow the query.
    pub truncated: bool,
}

/// One case found, and what of it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchMatch {
    pub case_id: CaseId,
    pub kind: SearchKind,
    /// The value of the case that matched: the case id, the account (`icbc:6222…`), the
    /// identifier (`phone:+8617000000000`, `domain:invest-example.top`).
    pub matched: String,
    /// Where the case has it: `report` (the report named it) or `trail` (freezing traced
    /// money through it).
    pub source: MatchSource,
    pub reported_at_ms: TimeMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchSource {
    Report,
    Trail,
}

pub type SearchResponse = crate::Reply<SearchResult, IntakeError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_request_is_the_default_and_unknown_fields_are_refused() {
        assert_eq!(serde_json::from_str::<ListRequest>("{}").unwrap(), ListRequest::default());
        assert!(serde_json::from_str::<ListRequest>(r#"{"order":"asc"}"#).is_err());
        let request: ListRequest =
            serde_json::from_str(r#"{"status":"at_risk","fraud_type":"online_loan","limit":5}"#).unwrap();
        assert_eq!((request.status, request.limit), (Some(CaseStatus::AtRisk), Some(5)));
        for status in CaseStatus::ALL {
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{status}\""));
        }
        for kind in SearchKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert!(serde_json::from_str::<SearchRequest>(r#"{"query":"x","kind":"sql"}"#).is_err());
    }
}
