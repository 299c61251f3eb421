//! Restitution's commands (`protocol::restitution`): `object`, `dismiss`, `approve` and
//! `propose` go through the engine and are answered once committed; `list` and `show` read
//! the state the engine shares.
//!
//! `approve` and `dismiss` carry an approver's signature of `protocol::restitution::statement`
//! (their name, the verb, the city, the allocation): it is verified here against the key the
//! center's roster holds for that name, so the two approvals of an allocation are two people's
//! whoever relays them, and a signature cannot be replayed onto another allocation or verb.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use domain::City;
use events::restitution::{AllocationNo, Rule, parse_allocation};
use protocol::restitution::{
    AllocationView, ApproveRequest, DismissRequest, ListReply, ListRequest, MAX_LIST_PAGE, ObjectRequest, Problem,
    ProposeRequest, RestitutionError, RestitutionErrorKind, ShowRequest, Signed, VERB_APPROVE, VERB_DISMISS, VERB_LIST,
    VERB_OBJECT, VERB_PROPOSE, VERB_SHOW, statement,
};
use protocol::restitution::{MAX_REPORT_BYTES, ReportRequest, VERB_REPORT};
use runtime::Router;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use super::engine::{EngineMsg, StaffRefusal};
use super::orders::Orders;
use super::{Shared, views};
use crate::core::process::{Approver, Input, Phase, Rejection};

fn error(kind: RestitutionErrorKind, message: impl Into<String>) -> RestitutionError {
    RestitutionError { kind, message: message.into(), problems: Vec::new() }
}

fn invalid(field: &str, value: &str, expected: impl Into<String>) -> RestitutionError {
    let value: String = value.chars().take(80).collect();
    let message = format!("invalid {field} {value:?}");
    let problem = Problem { field: field.into(), value, expected: expected.into() };
    RestitutionError { problems: vec![problem], ..error(RestitutionErrorKind::Invalid, message) }
}

fn parse<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, RestitutionError> {
    serde_json::from_slice(body).map_err(|e| error(RestitutionErrorKind::NotJson, format!("expected {shape}: {e}")))
}

fn allocation_no(text: &str) -> Result<AllocationNo, RestitutionError> {
    parse_allocation(text).ok_or_else(|| invalid("allocation", text, "a<n>, e.g. a42"))
}

/// A core's refusal as the command's typed error.
fn refusal(refusal: StaffRefusal) -> RestitutionError {
    let rejection = match refusal {
        StaffRefusal::Unavailable(why) => return error(RestitutionErrorKind::Unavailable, why),
        StaffRefusal::Rejected(rejection) => rejection,
    };
    let kind = match &rejection {
        Rejection::UnknownAllocation(_) => RestitutionErrorKind::UnknownAllocation,
        Rejection::WrongPhase { .. } | Rejection::AlreadyDismissed { .. } => RestitutionErrorKind::WrongPhase,
        Rejection::AlreadyApproved { .. } => RestitutionErrorKind::AlreadyApproved,
        Rejection::Refused(_) | Rejection::NothingFrozen(_) => RestitutionErrorKind::Refused,
        Rejection::Invalid { field, value, expected } => return invalid(field, value, *expected),
        _ => RestitutionErrorKind::Invalid,
    };
    error(kind, rejection.to_string())
}

/// The center's approvers: name → public key (an nkey, `U…`).
pub type Roster = BTreeMap<String, String>;

/// Checks `signed` is the signature of `statement` by the roster's key for its approver.
pub fn verify(roster: &Roster, signed: &Signed, statement: &str) -> Result<Approver, RestitutionError> {
    let key = roster.get(&signed.approver).ok_or_else(|| {
        error(
            RestitutionErrorKind::NotAnApprover,
            format!("{:?} is not in the center's roster of approvers", signed.approver),
        )
    })?;
    let signature = hex(&signed.signature)
        .ok_or_else(|| invalid("signed.signature", &signed.signature, "the signature in lower-case hexadecimal"))?;
    let bad = || {
        error(
            RestitutionErrorKind::BadSignature,
            format!("the signature is not {}'s of {statement:?}", signed.approver),
        )
    };
    let pair = nkeys::KeyPair::from_public_key(key).map_err(|_| bad())?;
    pair.verify(statement.as_bytes(), &signature).map_err(|_| bad())?;
    Ok(Approver { name: signed.approver.clone(), key: key.clone() })
}

/// A signature's bytes: hex, at most 128 bytes.
fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() > 256 {
        return None;
    }
    domain::hex::decode(text)
}

/// What the router's handlers share.
#[derive(Clone)]
struct Commands {
    city: City,
    state: Shared,
    store: store::Store,
    clock: domain::SharedClock,
    roster: Arc<Roster>,
    engine: mpsc::Sender<EngineMsg>,
    orders: Arc<Orders>,
}

/// What the commands are given.
pub(super) struct Parts {
    pub city: City,
    pub state: Shared,
    pub store: store::Store,
    pub clock: domain::SharedClock,
    pub roster: Roster,
    pub engine: mpsc::Sender<EngineMsg>,
    pub orders: Arc<Orders>,
}

pub(super) fn router(parts: Parts) -> Router {
    let Parts { city, state, store, clock, roster, engine, orders } = parts;
    let commands = Commands { city, state, store, clock, roster: Arc::new(roster), engine, orders };
    let report = commands.clone();
    let (list, show, object, dismiss, approve, propose) =
        (commands.clone(), commands.clone(), commands.clone(), commands.clone(), commands.clone(), commands);
    Router::new()
        .verb(VERB_REPORT, move |body: Bytes| {
            let commands = report.clone();
            async move { commands.report(&body).await }
        })
        .verb(VERB_LIST, move |body: Bytes| {
            let commands = list.clone();
            async move { commands.list(&body) }
        })
        .verb(VERB_SHOW, move |body: Bytes| {
            let commands = show.clone();
            async move {
                let request: ShowRequest = parse(&body, r#"{"allocation": "a1"}"#)?;
                commands.view(allocation_no(&request.allocation)?)
            }
        })
        .verb(VERB_OBJECT, move |body: Bytes| {
            let commands = object.clone();
            async move { commands.object(&body).await }
        })
        .verb(VERB_DISMISS, move |body: Bytes| {
            let commands = dismiss.clone();
            async move { commands.dismiss(&body).await }
        })
        .verb(VERB_APPROVE, move |body: Bytes| {
            let commands = approve.clone();
            async move { commands.approve(&body).await }
        })
        .verb(VERB_PROPOSE, move |body: Bytes| {
            let commands = propose.clone();
            async move { commands.propose(&body).await }
        })
}

impl Commands {
    /// The fund-flow report's data of a case or an allocation.
    async fn report(&self, body: &[u8]) -> Result<crate::report::FundFlow, RestitutionError> {
        use super::report::{About, ReportError, build};
        let request: ReportRequest = parse(body, r#"{"case_id": "…"} or {"allocation": "a1"}"#)?;
        let about = match (request.case_id, request.allocation.as_deref()) {
            (Some(case_id), None) => About::Case(case_id),
            (None, Some(allocation)) => About::Allocation(allocation_no(allocation)?),
            _ => return Err(invalid("case_id", "", "a case_id or an allocation, one of them")),
        };
        let now = self.clock.now_ms();
        let report = build(&self.city, &self.state, &self.store, about, now).await.map_err(|e| match e {
            ReportError::Unknown(what) => {
                error(RestitutionErrorKind::UnknownAllocation, format!("nothing is known of {what}"))
            }
            ReportError::Store(e) => error(RestitutionErrorKind::Unavailable, e.to_string()),
        })?;
        let size = crate::report::to_json(&report).len();
        if size > MAX_REPORT_BYTES {
            let message = format!("the report is {size} bytes of JSON; one answer holds {MAX_REPORT_BYTES} at most");
            return Err(error(RestitutionErrorKind::TooLarge, message));
        }
        Ok(report)
    }

    async fn staff(&self, input: Input) -> Result<Vec<events::restitution::RestitutionEvent>, RestitutionError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || error(RestitutionErrorKind::Unavailable, "the restitution engine stopped");
        self.engine.send(EngineMsg::Staff(input, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(refusal)
    }

    fn view(&self, allocation: AllocationNo) -> Result<AllocationView, RestitutionError> {
        let state = self.state.read().expect("the engine never panics holding the state");
        let a = state.allocations.get(&allocation).ok_or_else(|| {
            error(RestitutionErrorKind::UnknownAllocation, format!("allocation a{allocation} does not exist"))
        })?;
        Ok(views::allocation(a))
    }

    async fn object(&self, body: &[u8]) -> Result<AllocationView, RestitutionError> {
        let request: ObjectRequest = parse(body, r#"{"allocation": "a1", "by": "…", "reason": "…"}"#)?;
        let allocation = allocation_no(&request.allocation)?;
        let input = Input::Object { allocation, case_id: request.case_id, by: request.by, reason: request.reason };
        self.staff(input).await?;
        tracing::info!(allocation, "objection recorded");
        self.view(allocation)
    }

    async fn dismiss(&self, body: &[u8]) -> Result<AllocationView, RestitutionError> {
        let request: DismissRequest =
            parse(body, r#"{"allocation": "a1", "objection": 1, "reason": "…", "signed": {…}}"#)?;
        let allocation = allocation_no(&request.allocation)?;
        let said = statement(&self.city, VERB_DISMISS, &request.allocation, Some(request.objection));
        let by = verify(&self.roster, &request.signed, &said)?;
        let approver = by.name.clone();
        let input = Input::Dismiss { allocation, objection: request.objection, by, reason: request.reason };
        self.staff(input).await?;
        tracing::info!(allocation, objection = request.objection, %approver, "objection dismissed");
        self.view(allocation)
    }

    async fn approve(&self, body: &[u8]) -> Result<AllocationView, RestitutionError> {
        let request: ApproveRequest =
            parse(body, r#"{"allocation": "a1", "signed": {"approver": "…", "signature": "…"}}"#)?;
        let allocation = allocation_no(&request.allocation)?;
        let said = statement(&self.city, VERB_APPROVE, &request.allocation, None);
        let by = verify(&self.roster, &request.signed, &said)?;
        let approver = by.name.clone();
        self.staff(Input::Approve { allocation, by }).await?;
        tracing::info!(allocation, %approver, "allocation approved");
        self.view(allocation)
    }

    /// Reads the account's statement, then proposes by the rule asked for.
    async fn propose(&self, body: &[u8]) -> Result<AllocationView, RestitutionError> {
        let request: ProposeRequest = parse(body, r#"{"account": "bank:number", "rule": "pro-rata", "by": "…"}"#)?;
        let rule: Rule = request.rule.parse().map_err(|e: String| invalid("rule", &request.rule, e))?;
        let since_ms = {
            let state = self.state.read().expect("the engine never panics holding the state");
            let book = state.books.get(&request.account).ok_or_else(|| {
                error(RestitutionErrorKind::Refused, format!("account {} holds no traced money", request.account))
            })?;
            let first = book.deposits.values().flat_map(|d| d.values()).map(|d| d.at_ms).min().unwrap_or(0);
            first.saturating_sub(crate::limits::ARRIVAL_WINDOW_MS)
        };
        let statement = self.orders.statement(&request.account, since_ms).await;
        let input = Input::StatementRead {
            account: request.account.clone(),
            statement,
            rule: Some(rule),
            by: Some(request.by),
        };
        let events = self.staff(input).await?;
        let proposed = events.iter().find_map(|e| match e {
            events::restitution::RestitutionEvent::AllocationProposed { allocation, .. } => Some(*allocation),
            _ => None,
        });
        match proposed {
            Some(allocation) => self.view(allocation),
            None => Err(error(RestitutionErrorKind::Refused, "the allocation refused the account's input")),
        }
    }

    fn list(&self, body: &[u8]) -> Result<ListReply, RestitutionError> {
        let request: ListRequest = if body.is_empty() { ListRequest::default() } else { parse(body, "{}")? };
        const PHASES: &str = "open, notice, awaiting_approval, executing, completed, superseded or all";
        let phase = request.phase.as_deref().unwrap_or("open");
        let wanted = |p: Phase| match phase {
            "all" => true,
            "open" => matches!(p, Phase::Notice | Phase::AwaitingApproval | Phase::Executing),
            name => p.name() == name,
        };
        if !["all", "open", "notice", "awaiting_approval", "executing", "completed", "superseded"].contains(&phase) {
            return Err(invalid("phase", phase, PHASES));
        }
        let before = request.after.as_deref().map(allocation_no).transpose()?;
        let limit = request.limit.map_or(MAX_LIST_PAGE, |l| (l as usize).clamp(1, MAX_LIST_PAGE));
        let state = self.state.read().expect("the engine never panics holding the state");
        let mut allocations = Vec::new();
        let mut next = None;
        for a in state.allocations.range(..before.unwrap_or(AllocationNo::MAX)).rev().map(|(_, a)| a) {
            if !wanted(a.phase)
                || request.account.as_ref().is_some_and(|acc| acc != &a.account)
                || request.case_id.as_ref().is_some_and(|c| !a.shares.iter().any(|s| &s.case_id == c))
            {
                continue;
            }
            if allocations.len() == limit {
                next = allocations.last().map(|v: &AllocationView| v.allocation.clone());
                break;
            }
            allocations.push(views::allocation(a));
        }
        Ok(ListReply { allocations, next })
    }
}
