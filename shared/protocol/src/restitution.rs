//! Restitution commands: `afc.<city>.cmd.restitution.{list,show,object,dismiss,approve,propose}`
//! (docs/protocols.md), what the center's accountant and approvers work with (`afc
//! restitution …`).
//!
//! An allocation is named `a<n>`. Approvals and dismissals are **signed**: the approver signs
//! [`statement`] with their own key (an nkey; `afc restitution approve --key FILE` does it)
//! and the service checks the signature against the center's roster of approvers, so two
//! approvals are two people's, whoever sends the request. A victim's account never appears
//! in an answer: a return names the case.

use domain::{AccountRef, CaseId, City, Fen, TimeMs};
use serde::{Deserialize, Serialize};

pub use crate::intake::Problem;

pub const VERB_LIST: &str = "list";
pub const VERB_SHOW: &str = "show";
pub const VERB_OBJECT: &str = "object";
pub const VERB_DISMISS: &str = "dismiss";
pub const VERB_APPROVE: &str = "approve";
pub const VERB_PROPOSE: &str = "propose";
pub const VERB_REPORT: &str = "report";

/// Largest fund-flow report `report` answers, in bytes of JSON: under nats-server's default
/// 1 MiB payload with room for the envelope. A report of a 25-account trail is tens of KB;
/// one of an allocation among thousands of victims may not fit, and is refused as
/// `too_large` rather than cut.
pub const MAX_REPORT_BYTES: usize = 900 * 1024;

/// Allocations one `list` answer holds at most.
pub const MAX_LIST_PAGE: usize = 100;

/// What an approver signs to approve allocation `allocation` (`a<n>`) of `city`, or to
/// dismiss its objection `objection`: the verb, the city and the allocation, so that a
/// signature approves nothing else.
pub fn statement(city: &City, verb: &str, allocation: &str, objection: Option<u32>) -> String {
    match objection {
        Some(objection) => format!("afc restitution {verb} {city} {allocation} objection {objection}"),
        None => format!("afc restitution {verb} {city} {allocation}"),
    }
}

/// `list`: allocations, newest first, filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// `notice`, `awaiting_approval`, `executing`, `completed`, `superseded`, or `open` (the
    /// first three, the default) or `all`.
    #[serde(default)]
    pub phase: Option<String>,
    /// Only allocations giving this victim a share.
    #[serde(default)]
    pub case_id: Option<CaseId>,
    #[serde(default)]
    pub account: Option<AccountRef>,
    /// The page after this allocation (the previous answer's `next`).
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub allocations: Vec<AllocationView>,
    /// The `after` of the next page, if there is one.
    pub next: Option<String>,
}

/// `show`: one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowRequest {
    pub allocation: String,
}

/// `object`: an objection within the notice period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRequest {
    pub allocation: String,
    /// The victim objecting, if a victim does.
    #[serde(default)]
    pub case_id: Option<CaseId>,
    pub by: String,
    pub reason: String,
}

/// `dismiss`: an approver dismisses an objection, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DismissRequest {
    pub allocation: String,
    pub objection: u32,
    pub reason: String,
    pub signed: Signed,
}

/// `approve`: an approver approves, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub allocation: String,
    pub signed: Signed,
}

/// An approver's signature of [`statement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// The approver's name in the center's roster.
    pub approver: String,
    /// The ed25519 signature of the statement by the approver's key, in lower-case hex.
    pub signature: String,
}

/// `propose`: allocate the account again, by `rule` (`timestamp-trace`, `pro-rata`, `fifo`,
/// `lowest-intermediate-balance`); the notice period starts again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeRequest {
    pub account: AccountRef,
    pub rule: String,
    pub by: String,
}

/// `report`: the fund-flow report (资金流向分析报告) of a case or of an allocation, as its data
/// (`restitution::report::FundFlow`, JSON); `afc restitution report` renders it as HTML.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    #[serde(default)]
    pub case_id: Option<CaseId>,
    #[serde(default)]
    pub allocation: Option<String>,
}

/// An allocation as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationView {
    pub allocation: String,
    pub account: AccountRef,
    pub rule: String,
    /// `frozen`, `reopened`, `reproposed` or `remainder`.
    pub cause: String,
    /// `notice`, `awaiting_approval`, `executing`, `completed` or `superseded`.
    pub phase: String,
    pub frozen_fen: Fen,
    pub unallocated_fen: Fen,
    pub proposed_at_ms: TimeMs,
    pub notice_ends_at_ms: TimeMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    pub shares: Vec<ShareView>,
    pub objections: Vec<ObjectionView>,
    pub approvals: Vec<ApprovalView>,
    /// Victims whose claim came after the allocation was executed.
    pub late_claims: Vec<CaseId>,
    pub returned_fen: Fen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    pub case_id: CaseId,
    pub fen: Fen,
    pub traced_in_fen: Fen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#return: Option<ReturnView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnView {
    /// `instructed`, `overdue`, `confirmed` or `failed`.
    pub state: String,
    pub amount_fen: Fen,
    pub request_id: String,
    pub instructed_at_ms: TimeMs,
    pub due_ms: TimeMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed_at_ms: Option<TimeMs>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionView {
    pub objection: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    pub by: String,
    pub reason: String,
    pub at_ms: TimeMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dismissal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub by: String,
    pub at_ms: TimeMs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct RestitutionError {
    pub kind: RestitutionErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestitutionErrorKind {
    /// The body is not the request's JSON.
    NotJson,
    /// A field's value is not accepted (`problems` names each).
    Invalid,
    UnknownAllocation,
    /// The allocation is not in the phase the command needs (e.g. approving in the notice
    /// period, objecting after it).
    WrongPhase,
    /// This approver already approved: the second approval must be another's.
    AlreadyApproved,
    /// The signer is not in the center's roster of approvers.
    NotAnApprover,
    /// The signature does not verify with the approver's key.
    BadSignature,
    /// The allocation refused the account's input by this rule.
    Refused,
    /// The report does not fit in one answer ([`MAX_REPORT_BYTES`]).
    TooLarge,
    /// The service cannot answer now; asking again later may succeed.
    Unavailable,
}

pub type AllocationResponse = crate::Reply<AllocationView, RestitutionError>;
pub type ListResponse = crate::Reply<ListReply, RestitutionError>;
