//! Dissuasion's commands (`protocol::dissuasion`): `next`, `claim`, `complete`, `reassign`
//! go through the engine and are answered once committed; `list` reads the state the engine
//! shares. Only `next` and `claim` answer the person's number (read from the store): the
//! operator calls or visits them.
//!
//! `complete` with `already_paid` files the report the operator took on the call with intake
//! first (its content decides the case id, so filing it again after a crash gives the same
//! case), then closes the task linked to that case. The task is checked before filing: a
//! task someone else holds, or closed, files nothing.

use std::time::Duration;

use bytes::Bytes;
use domain::{CaseId, City, FraudType, Service};
use protocol::dissuasion::{
    ClaimRequest, CompleteReply, CompleteRequest, DissuasionError, DissuasionErrorKind, ListReply, ListRequest,
    MAX_LIST_PAGE, NextRequest, PaidReport, Problem, QueueBacklog, ReassignRequest, TaskView, VERB_CLAIM,
    VERB_COMPLETE, VERB_LIST, VERB_NEXT, VERB_REASSIGN,
};
use protocol::intake::{ReportResponse, VERB_REPORT};
use protocol::{Reply, subjects};
use runtime::Router;
use serde::de::DeserializeOwned;
use store::Store;
use tokio::sync::{mpsc, oneshot};

use super::engine::{EngineMsg, StaffRefusal};
use super::{Shared, store as tables, views};
use crate::core::{self, Input, Rejection};
use crate::events::{Outcome, TaskId, TaskKind};

/// How long `complete` waits for intake to record an already-paid person's report.
const INTAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn error(kind: DissuasionErrorKind, message: impl Into<String>) -> DissuasionError {
    DissuasionError { kind, message: message.into(), problems: Vec::new() }
}

fn invalid(field: &str, value: &str, expected: impl Into<String>) -> DissuasionError {
    let value: String = value.chars().take(80).collect();
    let message = format!("invalid {field} {value:?}");
    let problem = Problem { field: field.into(), value, expected: expected.into() };
    DissuasionError { problems: vec![problem], ..error(DissuasionErrorKind::Invalid, message) }
}

/// The scam identifiers a `list` filters by, read back from their canonical text.
fn reached_by(identifiers: &[String]) -> Result<Vec<identifiers::Identifier>, DissuasionError> {
    let most = protocol::limits::MAX_LIST_IDENTIFIERS;
    if identifiers.len() > most {
        return Err(invalid("identifiers", &identifiers.len().to_string(), format!("at most {most} identifiers")));
    }
    identifiers
        .iter()
        .map(|text| {
            identifiers::Identifier::parse(text)
                .map_err(|_| invalid("identifiers", text, "a canonical <kind>:<value>, as a task shows it"))
        })
        .collect()
}

fn parse<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, DissuasionError> {
    serde_json::from_slice(body).map_err(|e| error(DissuasionErrorKind::NotJson, format!("expected {shape}: {e}")))
}

fn task_id(text: &str) -> Result<TaskId, DissuasionError> {
    text.strip_prefix('t')
        .and_then(|n| n.parse().ok())
        .map(TaskId)
        .ok_or_else(|| invalid("task", text, "t<n>, e.g. t42"))
}

fn outcome(text: &str) -> Result<Outcome, DissuasionError> {
    const EXPECTED: &str = "persuaded, refused, unreachable, already_paid or false_positive";
    serde_json::from_value(serde_json::Value::String(text.into())).map_err(|_| invalid("outcome", text, EXPECTED))
}

/// A core's refusal as the command's typed error.
fn refusal(refusal: StaffRefusal) -> DissuasionError {
    let rejection = match refusal {
        StaffRefusal::Unavailable(why) => return error(DissuasionErrorKind::Unavailable, why),
        StaffRefusal::Rejected(rejection) => rejection,
    };
    let kind = match &rejection {
        Rejection::TaskUnknown { .. } => DissuasionErrorKind::TaskUnknown,
        Rejection::ClaimedByOther { .. } => DissuasionErrorKind::ClaimedByOther,
        Rejection::AlreadyClosed { .. } => DissuasionErrorKind::AlreadyClosed,
        Rejection::NotForStaff { .. } | Rejection::NotReady { .. } => DissuasionErrorKind::NotWorkable,
        Rejection::InvalidText { field, value, expected } => return invalid(field, value, expected.clone()),
        _ => DissuasionErrorKind::Invalid,
    };
    error(kind, rejection.to_string())
}

/// What the router's handlers share.
#[derive(Clone)]
struct Commands {
    city: City,
    client: async_nats::Client,
    state: Shared,
    store: Store,
    engine: mpsc::Sender<EngineMsg>,
}

pub(super) fn router(
    city: City,
    client: async_nats::Client,
    state: Shared,
    store: Store,
    engine: mpsc::Sender<EngineMsg>,
) -> Router {
    let commands = Commands { city, client, state, store, engine };
    let (next, claim, complete, reassign, list) =
        (commands.clone(), commands.clone(), commands.clone(), commands.clone(), commands);
    Router::new()
        .verb(VERB_NEXT, move |body: Bytes| {
            let commands = next.clone();
            async move { commands.next(&body).await }
        })
        .verb(VERB_CLAIM, move |body: Bytes| {
            let commands = claim.clone();
            async move { commands.claim(&body).await }
        })
        .verb(VERB_COMPLETE, move |body: Bytes| {
            let commands = complete.clone();
            async move { commands.complete(&body).await }
        })
        .verb(VERB_REASSIGN, move |body: Bytes| {
            let commands = reassign.clone();
            async move { commands.reassign(&body).await }
        })
        .verb(VERB_LIST, move |body: Bytes| {
            let commands = list.clone();
            async move { commands.list(&body) }
        })
}

impl Commands {
    async fn staff(&self, input: Input) -> Result<(), DissuasionError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || error(DissuasionErrorKind::Unavailable, "the dissuasion engine stopped");
        self.engine.send(EngineMsg::Staff(input, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(refusal).map(|_| ())
    }

    /// The task as staff see it; with the number for the operator who holds it.
    async fn view(&self, task: TaskId, with_number: bool) -> Result<TaskView, DissuasionError> {
        let (mut view, person) = {
            let state = self.state.read().expect("the engine never panics holding the state");
            let task = state
                .tasks
                .get(&task)
                .ok_or_else(|| error(DissuasionErrorKind::TaskUnknown, format!("no task {task}")))?;
            (views::task(&state, task), task.person.key)
        };
        if with_number {
            let number = self.store.read(move |tx| tables::number(tx, person)).await;
            view.phone = number.map_err(|e| error(DissuasionErrorKind::Unavailable, e.to_string()))?;
        }
        Ok(view)
    }

    async fn next(&self, body: &[u8]) -> Result<Option<TaskView>, DissuasionError> {
        let request: NextRequest = parse(body, r#"{"queue": "call", "operator": "…"}"#)?;
        let kind = views::staffed_queue(&request.queue)?;
        let (reply, answer) = oneshot::channel();
        let stopped = || error(DissuasionErrorKind::Unavailable, "the dissuasion engine stopped");
        self.engine.send(EngineMsg::Next(kind, request.operator, reply)).await.map_err(|_| stopped())?;
        match answer.await.map_err(|_| stopped())?.map_err(refusal)? {
            Some(task) => self.view(task, true).await.map(Some),
            None => Ok(None),
        }
    }

    async fn claim(&self, body: &[u8]) -> Result<TaskView, DissuasionError> {
        let request: ClaimRequest = parse(body, r#"{"task": "t1", "operator": "…"}"#)?;
        let task = task_id(&request.task)?;
        self.staff(Input::Claim { task, operator: request.operator }).await?;
        self.view(task, true).await
    }

    async fn reassign(&self, body: &[u8]) -> Result<TaskView, DissuasionError> {
        let request: ReassignRequest = parse(body, r#"{"task": "t1", "by": "…", "to": "…"}"#)?;
        let task = task_id(&request.task)?;
        self.staff(Input::Reassign { task, by: request.by, to: request.to }).await?;
        self.view(task, false).await
    }

    async fn complete(&self, body: &[u8]) -> Result<CompleteReply, DissuasionError> {
        let request: CompleteRequest =
            parse(body, r#"{"task": "t1", "operator": "…", "outcome": "persuaded", "note": "…"}"#)?;
        let task = task_id(&request.task)?;
        let outcome = outcome(&request.outcome)?;
        let case_id = match (outcome, &request.report) {
            (Outcome::AlreadyPaid, Some(report)) => Some(self.file(task, &request.operator, report).await?),
            (Outcome::AlreadyPaid, None) => {
                return Err(invalid(
                    "report",
                    "missing",
                    "the victim's report taken on the call (name, id_number, transfers)",
                ));
            }
            (_, Some(_)) => return Err(invalid("report", "present", "a report only with outcome already_paid")),
            (_, None) => None,
        };
        let input =
            Input::Complete { task, operator: request.operator, outcome, note: request.note, case_id: case_id.clone() };
        self.staff(input).await?;
        Ok(CompleteReply { task: self.view(task, false).await?, case_id })
    }

    /// Files the report of an already-paid person with intake: the operator's details with
    /// what dissuasion knows. Returns the case.
    async fn file(&self, task: TaskId, operator: &str, paid: &PaidReport) -> Result<CaseId, DissuasionError> {
        let (person, identifiers, fraud_types) = {
            let state = self.state.read().expect("the engine never panics holding the state");
            let task = core::workable(&state, task, operator).map_err(|r| refusal(StaffRefusal::Rejected(r)))?;
            let evidence = state.people.get(&task.person).map(|p| p.evidence.clone()).unwrap_or_default();
            (task.person.key, evidence.exposures.keys().cloned().collect::<Vec<_>>(), evidence.fraud_types())
        };
        let fraud_type = match &paid.fraud_type {
            Some(text) => FraudType::parse(text).map_err(|e| invalid("report.fraud_type", text, e.to_string()))?,
            None => *fraud_types.iter().next().ok_or_else(|| {
                invalid("report.fraud_type", "missing", "the fraud type (the scam identifiers name none)")
            })?,
        };
        let number = self.store.read(move |tx| tables::number(tx, person)).await;
        let number = number.map_err(|e| error(DissuasionErrorKind::Unavailable, e.to_string()))?.ok_or_else(|| {
            error(DissuasionErrorKind::Unavailable, format!("task {task}: the person's number is no longer kept"))
        })?;
        let body = views::report_body(paid, &number, fraud_type, &identifiers, task);
        let subject = subjects::command(&self.city, Service::Intake, VERB_REPORT);
        let unavailable = |why: String| error(DissuasionErrorKind::Unavailable, format!("intake: {why}"));
        let asked = tokio::time::timeout(INTAKE_TIMEOUT, self.client.request(subject, body.into())).await;
        let answer = asked.map_err(|_| unavailable("no answer".into()))?.map_err(|e| unavailable(e.to_string()))?;
        let response: ReportResponse =
            serde_json::from_slice(&answer.payload).map_err(|e| unavailable(format!("unreadable answer: {e}")))?;
        match response {
            Reply::Ok(accepted) => {
                tracing::info!(%task, case_id = %accepted.case_id, duplicate = accepted.duplicate, "report filed for a person who had paid");
                Ok(accepted.case_id)
            }
            Reply::Error(refused) => {
                let problems =
                    refused.problems.into_iter().map(|p| Problem { field: format!("report.{}", p.field), ..p });
                Err(DissuasionError {
                    kind: DissuasionErrorKind::Invalid,
                    message: format!("intake refused the report: {}", refused.message),
                    problems: problems.collect(),
                })
            }
        }
    }

    fn list(&self, body: &[u8]) -> Result<ListReply, DissuasionError> {
        let request: ListRequest = if body.is_empty() { ListRequest::default() } else { parse(body, "{}")? };
        let queue: Option<TaskKind> = request.queue.as_deref().map(views::any_queue).transpose()?;
        let status = request.status.as_deref().unwrap_or("open");
        if !["open", "ready", "waiting", "overdue", "closed", "all"].contains(&status) {
            return Err(invalid("status", status, "open, ready, waiting, overdue, closed or all"));
        }
        let wanted = reached_by(&request.identifiers)?;
        let after = request.after.as_deref().map(task_id).transpose()?;
        let limit = request.limit.map_or(MAX_LIST_PAGE, |l| (l as usize).clamp(1, MAX_LIST_PAGE));
        let state = self.state.read().expect("the engine never panics holding the state");
        let from = after.map_or(0, |t| t.0 + 1);
        let mut tasks = Vec::new();
        let mut next = None;
        for (id, task) in state.tasks.range(TaskId(from)..) {
            if queue.is_some_and(|q| q != task.kind) || !views::has_status(task, status) {
                continue;
            }
            if request.operator.as_deref().is_some_and(|op| task.claimed_by.as_deref() != Some(op)) {
                continue;
            }
            if !wanted.is_empty()
                && !state
                    .people
                    .get(&task.person)
                    .is_some_and(|p| wanted.iter().any(|i| p.evidence.exposures.contains_key(i)))
            {
                continue;
            }
            if tasks.len() == limit {
                next =
                    Some(format!("t{}", tasks.last().map_or(id.0, |v: &TaskView| task_id(&v.task).map_or(0, |t| t.0))));
                break;
            }
            tasks.push(views::task(&state, task));
        }
        let backlog = views::backlog(&state);
        Ok(ListReply {
            tasks,
            next,
            backlog: backlog
                .into_iter()
                .map(|(queue, ready, waiting, overdue)| QueueBacklog { queue, ready, waiting, overdue })
                .collect(),
        })
    }
}
