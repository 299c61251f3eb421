//! Dissuasion commands: `afc.<city>.cmd.dissuasion.{next,claim,complete,reassign,list}`
//! (docs/protocols.md), what call-back operators and community officers work their queues
//! with (`afc task …`).
//!
//! A queue is `call`, or a visit level: `visit.city_bureau`, `visit.district_bureau`,
//! `visit.police_station`, `visit.community`. `next` gives the operator the head of a queue
//! (higher risk first, then the person reached earliest) and claims it for them in the same
//! step, so two operators asking at once never get the same person. Only `next` and `claim`
//! answer the person's number (the operator calls or visits them): `list` and `complete`
//! name people by their pseudonym (`p-…`) only.

use domain::{CaseId, FraudType, TimeMs};
use serde::{Deserialize, Serialize};

pub use crate::intake::Problem;

pub const VERB_NEXT: &str = "next";
pub const VERB_CLAIM: &str = "claim";
pub const VERB_COMPLETE: &str = "complete";
pub const VERB_REASSIGN: &str = "reassign";
pub const VERB_LIST: &str = "list";

/// Tasks one `list` answer holds at most: a page an operator reads (a task is under 600
/// bytes of JSON).
pub const MAX_LIST_PAGE: usize = 200;

/// `next`: the head of `queue`, claimed for `operator`; `None` when the queue has no ready
/// task nobody claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextRequest {
    pub queue: String,
    pub operator: String,
}

/// `claim`: `task` for `operator` (claiming one's own task again changes nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub task: String,
    pub operator: String,
}

/// `complete`: the outcome of `operator`'s call or visit: `persuaded`, `refused`,
/// `unreachable`, `already_paid` or `false_positive`. `already_paid` needs `report`: the
/// operator takes the victim's report on the call, and dissuasion files it with intake with
/// what it knows (the number, the scam identifiers, the fraud type) before the task closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub task: String,
    pub operator: String,
    pub outcome: String,
    #[serde(default)]
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PaidReport>,
}

/// What the operator took on the call from a person who has paid: intake validates it as any
/// report (`victim.name`, `victim.id_number`, `transfers[i]…`: docs/protocols.md, `report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaidReport {
    pub name: String,
    pub id_number: String,
    /// Intake's transfers, as a report lists them.
    pub transfers: Vec<serde_json::Value>,
    /// The fraud type, when the call told it; else the one the scam identifiers are known for.
    #[serde(default)]
    pub fraud_type: Option<String>,
    /// What the victim said.
    #[serde(default)]
    pub narrative: String,
}

/// What `complete` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteReply {
    pub task: TaskView,
    /// The case filed for an already-paid person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
}

/// `reassign`: supervisor `by` gives `task` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReassignRequest {
    pub task: String,
    pub by: String,
    pub to: String,
}

/// `list`: tasks in queue order, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// `sms`, `call`, `visit.<level>`; every queue when absent.
    #[serde(default)]
    pub queue: Option<String>,
    /// `open` (default: ready and waiting), `ready`, `waiting`, `overdue`, `closed`, `all`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only tasks of people one of these scam identifiers reached (canonical `<kind>:<value>`,
    /// as tasks show them), at most [`MAX_LIST_IDENTIFIERS`](crate::limits::MAX_LIST_IDENTIFIERS):
    /// the warnings of one case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<String>,
    /// Only tasks `operator` holds.
    #[serde(default)]
    pub operator: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most [`MAX_LIST_PAGE`] (the default).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub tasks: Vec<TaskView>,
    /// Where the next page starts, if there is one.
    pub next: Option<String>,
    /// Open tasks per queue now (ready, waiting), whatever the filters.
    pub backlog: Vec<QueueBacklog>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueBacklog {
    pub queue: String,
    pub ready: u32,
    pub waiting: u32,
    pub overdue: u32,
}

/// One task as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// `t<n>`.
    pub task: String,
    /// `p-<hex>`: the person, by pseudonym.
    pub person: String,
    /// The person's number: only in the answers to `next` and `claim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `low`, `medium`, `high`.
    pub grade: String,
    /// The queue it is in: `sms`, `call`, `visit.<level>`.
    pub queue: String,
    /// `ready`, `waiting`, `closed:<closure>`.
    pub status: String,
    pub due_at_ms: Option<TimeMs>,
    pub overdue: bool,
    pub claimed_by: Option<String>,
    pub opened_at_ms: TimeMs,
    /// When the person was first reached.
    pub first_contact_ms: TimeMs,
    /// The scam identifiers that reached them (the scammers', not personal data).
    pub identifiers: Vec<String>,
    pub fraud_types: Vec<FraudType>,
    /// Whether transfer instructions or a scam app were seen.
    pub alarm: bool,
    /// The report filed for them when they had paid already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct DissuasionError {
    pub kind: DissuasionErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DissuasionErrorKind {
    /// The body is not the request's JSON.
    NotJson,
    /// A field's value is not accepted (`problems` names each; intake's problems for a
    /// report).
    Invalid,
    /// No such task.
    TaskUnknown,
    /// Claimed by another operator.
    ClaimedByOther,
    AlreadyClosed,
    /// An SMS task (nobody works it), or one waiting for its day's capacity.
    NotWorkable,
    /// The service cannot answer now (its store, its engine, intake); asking again later may
    /// succeed.
    Unavailable,
}

pub type NextResponse = crate::Reply<Option<TaskView>, DissuasionError>;
pub type TaskResponse = crate::Reply<TaskView, DissuasionError>;
pub type CompleteResponse = crate::Reply<CompleteReply, DissuasionError>;
pub type ListResponse = crate::Reply<ListReply, DissuasionError>;
