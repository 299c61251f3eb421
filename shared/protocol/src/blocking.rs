//! Blocking commands: `afc.<city>.cmd.blocking.{check,list,lift,case}` (docs/protocols.md).
//!
//! `check` answers a carrier's or staff's question about one value, normalised as a report's
//! contacts are; `list` pages through the active blocks; `lift` is staff's appeal decision;
//! `case` is what blocking did with one case's contacts and accounts (for `afc case show`).
//! A block the province asked for (`events::province::ProvinceBlockNotice`) is answered with
//! `province_cities`, absent for a city's own blocks (older readers ignore it).
//! No answer holds a victim's personal data: identifiers are the scammer's, counts and fraud
//! types say why.

use domain::{AccountRef, Carrier, CaseId, City, FraudType, IdentifierKind, TimeMs};
use serde::{Deserialize, Serialize};

pub use crate::intake::Problem;

pub const VERB_CHECK: &str = "check";
pub const VERB_LIST: &str = "list";
pub const VERB_LIFT: &str = "lift";
pub const VERB_CASE: &str = "case";

/// Blocks one `list` answer holds at most: a page a liaison reads, and a reply of at most
/// ~150 KB (a block is under 700 bytes of JSON with a 253-byte domain, its look-alike form and
/// three carriers), far under nats-server's 1 MiB payload bound.
pub const MAX_LIST_PAGE: usize = 200;

/// Active blocks one `list` filtered by kind reads at most: the engine waits while a page is
/// read, so a page of a rare kind among millions of blocks ends after this many, with the
/// cursor where it stopped.
pub const MAX_LIST_SCAN: usize = 10_000;

/// `check`: is `value`, read as a contact of `kind`, blocked?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// `phone`, `url`, `domain`, `app` or `social`.
    pub kind: String,
    pub value: String,
}

/// The answer to `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReply {
    /// The normalised identifier, `<kind>:<value>` (`phone:+8617000000000`).
    pub identifier: String,
    pub blocked: bool,
    /// When the active block started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<TimeMs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<TimeMs>,
    /// Cases that named it, every block of it counted (0 when never blocked).
    pub case_count: u32,
    pub fraud_types: Vec<FraudType>,
    /// A card seller's phone card, restricted to local voice in the high-risk pool.
    pub in_pool: bool,
    /// When the active block is the province's: the cities that blocked it first, earliest
    /// first (absent for a city's own block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub province_cities: Vec<City>,
}

/// `list`: active blocks started at or after `since_ms`, oldest first, a page at a time;
/// only those of `kind` when given. A page filtered by kind reads at most
/// [`MAX_LIST_SCAN`] blocks: it may hold fewer than `limit` (even none) and still name a
/// `next`, from where the following page reads on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    #[serde(default)]
    pub since_ms: TimeMs,
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ListCursor>,
    /// At most [`MAX_LIST_PAGE`] (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only blocks of identifiers of this kind (`phone`, `domain`, `ip`, `app`, `social`);
    /// every kind when absent (as older clients ask).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<IdentifierKind>,
}

/// Where a page ended: the last block's start and identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListCursor {
    pub blocked_at_ms: TimeMs,
    pub identifier: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub blocks: Vec<BlockSummary>,
    /// Present when more blocks follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ListCursor>,
}

/// One block, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSummary {
    pub identifier: String,
    pub generation: u32,
    pub active: bool,
    pub blocked_at_ms: TimeMs,
    pub expires_at_ms: TimeMs,
    pub case_count: u32,
    pub fraud_types: Vec<FraudType>,
    /// The block's order at each carrier asked.
    pub carriers: Vec<CarrierStatus>,
    /// The Unicode form of a look-alike domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looks_like: Option<String>,
    /// When the block is the province's: the cities that blocked it first, earliest first
    /// (absent for a city's own block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub province_cities: Vec<City>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierStatus {
    pub carrier: Carrier,
    pub status: OrderState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Sent, or waiting to be sent again: not confirmed.
    Pending,
    Confirmed,
    /// Refused, or never confirmed: for the liaison to take up by phone.
    Failed,
}

/// `lift` (staff): end the block of `value`, read as a contact of `kind`, with a reason and
/// the operator who decided; the carriers are asked to lift it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub operator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiftReply {
    pub identifier: String,
    pub generation: u32,
    pub lifted_at_ms: TimeMs,
    /// The carriers asked to lift it.
    pub carriers: Vec<Carrier>,
}

/// `case`: what blocking did with a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    pub case_id: CaseId,
}

/// Blocking's part of a case, in the order it was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseBlocking {
    pub entries: Vec<CaseEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEntry {
    pub at_ms: TimeMs,
    pub kind: CaseEntryKind,
    /// The identifier blocked or extended, or the value refused (truncated), or the pool's
    /// subject (`account:<bank>:<number>`, `holder:<key>`).
    pub subject: String,
    /// The reason of a refusal, the carriers of a block, the expiry or release.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseEntryKind {
    Screened,
    Refused,
    Blocked,
    Extended,
    PoolEntered,
    PoolInvolved,
    HolderReported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct BlockingError {
    pub kind: BlockingErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingErrorKind {
    /// The body is not the request's JSON.
    NotJson,
    /// A field's value is not accepted (`problems` names each).
    Invalid,
    /// `lift` of an identifier that is not blocked.
    NotBlocked,
    /// The service cannot answer now (its store or engine); asking again later may succeed.
    Unavailable,
}

pub type CheckResponse = crate::Reply<CheckReply, BlockingError>;
pub type ListResponse = crate::Reply<ListReply, BlockingError>;
pub type LiftResponse = crate::Reply<LiftReply, BlockingError>;
pub type CaseResponse = crate::Reply<CaseBlocking, BlockingError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_refuse_unknown_fields_and_list_takes_an_empty_object() {
        let refused = serde_json::from_str::<CheckRequest>(r#"{"kind":"phone","value":"1","case":"x"}"#).unwrap_err();
        assert!(refused.to_string().contains("case"), "{refused}");
        assert_eq!(serde_json::from_str::<ListRequest>("{}").unwrap(), ListRequest::default());
        // `kind` is sent only when given, so a server that knows no `kind` still answers.
        assert_eq!(serde_json::to_string(&ListRequest::default()).unwrap(), r#"{"since_ms":0}"#);
        let domains = serde_json::from_str::<ListRequest>(r#"{"kind":"domain"}"#).unwrap();
        assert_eq!(domains.kind, Some(IdentifierKind::Domain));
        assert!(serde_json::from_str::<ListRequest>(r#"{"kind":"email"}"#).is_err());
        let lift = r#"{"kind":"phone","value":"1","reason":"r"}"#;
        assert!(serde_json::from_str::<LiftRequest>(lift).is_err(), "the operator is required");
    }

    #[test]
    fn a_check_reply_leaves_out_the_times_of_what_is_not_blocked() {
        let reply = CheckReply {
            identifier: "phone:+8617000000000".into(),
            blocked: false,
            since_ms: None,
            expires_at_ms: None,
            case_count: 0,
            fraud_types: Vec::new(),
            in_pool: false,
            province_cities: Vec::new(),
        };
        let json = serde_json::to_string(&CheckResponse::Ok(reply)).unwrap();
        assert_eq!(
            json,
            r#"{"ok":{"identifier":"phone:+8617000000000","blocked":false,"case_count":0,"fraud_types":[],"in_pool":false}}"#
        );
    }
}
