//! The dissuasion queue: the backlog per queue, the tasks in queue order (escalations due
//! first, as dissuasion orders them), take the next of a queue, claim one, complete one with
//! its outcome. The operator of every action is the person logged in, never a form field.
//! Dissuasion tells a task's number only in its answer to the claim (or `next`): the session
//! keeps it, and the queue shows it beside the task to that person while they hold it.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Service;
use maud::html;
use protocol::dissuasion::{
    self as dis, ClaimRequest, CompleteReply, CompleteRequest, DissuasionError, ListReply, ListRequest, NextRequest,
    TaskView,
};
use serde::Deserialize;

use super::Console;
use super::limits::{MAX_TEXT_CHARS, PAGE_ROWS};
use super::live::{Live, Topic};
use super::view::{self, local, respond};
use super::words;

/// The outcomes a call or visit ends with (`already_paid` is filed as a report through the
/// CLI, which takes the victim's details).
const OUTCOMES: [&str; 4] = ["persuaded", "refused", "unreachable", "false_positive"];
/// The queues `next` takes from.
const QUEUES: [&str; 5] =
    ["call", "visit.city_bureau", "visit.district_bureau", "visit.police_station", "visit.community"];

#[derive(Debug, Default, Deserialize)]
pub struct TasksQuery {
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

pub async fn page(State(console): State<Console>, headers: HeaderMap, Query(query): Query<TasksQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let mark = console.live().mark();
    if let Err(response) = console.permit(&staff, Service::Dissuasion, dis::VERB_LIST, "dissuasion queue") {
        return response;
    }
    let request = ListRequest {
        queue: query.queue.clone().filter(|q| !q.is_empty()),
        status: query.status.clone().filter(|s| !s.is_empty()),
        operator: None,
        identifiers: Vec::new(),
        after: query.after.clone().filter(|a| !a.is_empty()),
        limit: Some(PAGE_ROWS),
    };
    let reply: ListReply =
        match console.ask::<_, _, DissuasionError>(&staff, Service::Dissuasion, dis::VERB_LIST, &request).await {
            Ok(reply) => reply,
            Err(response) => return response,
        };
    let (lang, tz) = (staff.lang, console.tz());
    let now = console.now_ms();
    // The numbers of the tasks the viewer holds, as dissuasion told them on the claim.
    let held = reply.tasks.iter().filter(|t| !closed(t) && t.claimed_by.as_deref() == Some(staff.who.as_str()));
    let numbers = console.numbers(&staff, held.map(|t| t.task.as_str()));
    // One token for every form of the page: the post of any spends it, and the page after
    // the post (or a live refresh) carries a new one.
    let token = console.form(&staff);
    let body = html! {
        table.backlog {
            thead { tr { th { (lang.t("queue")) } th { (lang.t("ready")) } th { (lang.t("waiting")) } th { (lang.t("overdue")) } th {} } }
            tbody {
                @for queue in &reply.backlog {
                    tr {
                        td { (words::queue(lang, &queue.queue)) }
                        td.num { (queue.ready) }
                        td.num { (queue.waiting) }
                        td.num class=(if queue.overdue > 0 { "alarm" } else { "" }) { (queue.overdue) }
                        td {
                            form.inline method="post" action="/tasks/next" {
                                input type="hidden" name="form" value=(token);
                                input type="hidden" name="queue" value=(queue.queue);
                                button type="submit" { (lang.t("next_task")) }
                            }
                        }
                    }
                }
            }
        }
        form.filters method="get" action="/tasks" {
            select name="queue" {
                option value="" { "—" }
                @for queue in QUEUES { option value=(queue) selected[query.queue.as_deref() == Some(queue)] { (words::queue(lang, queue)) } }
            }
            select name="status" {
                @for status in ["open", "ready", "waiting", "overdue", "closed", "all"] {
                    option value=(status) selected[query.status.as_deref() == Some(status)] { (words::task_filter(lang, status)) }
                }
            }
            " " button type="submit" { (lang.t("search")) }
        }
        table.tasks {
            thead { tr {
                th { (lang.t("task")) } th { (lang.t("person")) } th { (lang.t("queue")) } th { (lang.t("status")) }
                th { (lang.t("due")) } th { (lang.t("claimed_by")) } th {}
            } }
            tbody {
                @for task in &reply.tasks {
                    tr id={"task-" (task.task)} class=(if task.overdue || task.alarm { "alarm" } else { "" }) {
                        td { (task.task) @if let Some(case) = &task.case_id { br; a href={"/case/" (case)} { (case) } } }
                        td { (task.person) @if let Some(phone) = task.phone.as_ref().or(numbers.get(&task.task)) { br; span.phone { (phone) } } }
                        td { (words::queue(lang, &task.queue)) br; span.dim { (words::grade(lang, &task.grade)) } }
                        td { (words::task_status(lang, &task.status)) }
                        td { (task.due_at_ms.map(|due| view::local_since(tz, now, due)).unwrap_or_default()) }
                        td { (task.claimed_by.clone().unwrap_or_default()) }
                        td { (actions(&token, &staff.who, task, lang)) }
                    }
                }
            }
        }
        @if let Some(next) = &reply.next {
            a.more href={"/tasks?after=" (next) "&status=" (query.status.clone().unwrap_or_default()) "&queue=" (query.queue.clone().unwrap_or_default())} { (lang.t("more")) }
        }
        p.dim { (local(tz, now)) }
    };
    let viewer = console.viewer(&staff);
    respond(
        StatusCode::OK,
        view::page(Some(&viewer), lang, lang.t("tasks"), Some(Live { topic: Topic::Tasks, after: mark }), body),
    )
}

/// Whether a task is closed: dissuasion says `closed:<closure>` (`closed:persuaded`).
fn closed(task: &TaskView) -> bool {
    task.status == "closed" || task.status.starts_with("closed:")
}

/// The buttons of a task: claim an unclaimed one, complete one the viewer holds.
fn actions(token: &str, who: &str, task: &TaskView, lang: super::labels::Lang) -> maud::Markup {
    let closed = closed(task);
    html! {
        @if !closed && task.claimed_by.is_none() {
            form.inline method="post" action="/tasks/claim" {
                input type="hidden" name="form" value=(token);
                input type="hidden" name="task" value=(task.task);
                button type="submit" { (lang.t("claim")) }
            }
        }
        @if !closed && task.claimed_by.as_deref() == Some(who) {
            form.complete method="post" action="/tasks/complete" {
                input type="hidden" name="form" value=(token);
                input type="hidden" name="task" value=(task.task);
                select name="outcome" aria-label=(lang.t("outcome")) { @for outcome in OUTCOMES { option value=(outcome) { (words::outcome(lang, outcome)) } } }
                " " input name="note" placeholder=(lang.t("note")) maxlength=(MAX_TEXT_CHARS);
                " " button type="submit" { (lang.t("complete")) }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NextForm {
    #[serde(default)]
    form: String,
    queue: String,
}

pub async fn next(State(console): State<Console>, headers: HeaderMap, Form(form): Form<NextForm>) -> Response {
    let staff = match console.poster(&headers, &form.form, (Service::Dissuasion, dis::VERB_NEXT), "task next") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let request = NextRequest { queue: form.queue.clone(), operator: staff.who.clone() };
    match console
        .ask::<_, Option<TaskView>, DissuasionError>(&staff, Service::Dissuasion, dis::VERB_NEXT, &request)
        .await
    {
        Ok(Some(task)) => {
            if let Some(phone) = &task.phone {
                console.keep_number(&staff, &task.task, phone);
            }
            tracing::info!(target: "afc::console::audit", who = %staff.who, task = %task.task, "took the next task");
            Redirect::to(&format!("/tasks#task-{}", task.task)).into_response()
        }
        Ok(None) => Redirect::to("/tasks").into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
pub struct ClaimForm {
    #[serde(default)]
    form: String,
    task: String,
}

pub async fn claim(State(console): State<Console>, headers: HeaderMap, Form(form): Form<ClaimForm>) -> Response {
    let staff = match console.poster(&headers, &form.form, (Service::Dissuasion, dis::VERB_CLAIM), "task claim") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let request = ClaimRequest { task: form.task.clone(), operator: staff.who.clone() };
    match console.ask::<_, TaskView, DissuasionError>(&staff, Service::Dissuasion, dis::VERB_CLAIM, &request).await {
        Ok(task) => {
            if let Some(phone) = &task.phone {
                console.keep_number(&staff, &task.task, phone);
            }
            tracing::info!(target: "afc::console::audit", who = %staff.who, task = %task.task, "claimed a task");
            Redirect::to(&format!("/tasks#task-{}", task.task)).into_response()
        }
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    form: String,
    task: String,
    outcome: String,
    #[serde(default)]
    note: String,
}

pub async fn complete(State(console): State<Console>, headers: HeaderMap, Form(form): Form<CompleteForm>) -> Response {
    let staff = match console.poster(&headers, &form.form, (Service::Dissuasion, dis::VERB_COMPLETE), "task complete") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if form.note.chars().count() > MAX_TEXT_CHARS {
        let text = format!("note: {} characters; at most {MAX_TEXT_CHARS}", form.note.chars().count());
        return console.failure(&staff, StatusCode::BAD_REQUEST, &text);
    }
    let request = CompleteRequest {
        task: form.task.clone(),
        operator: staff.who.clone(),
        outcome: form.outcome.clone(),
        note: form.note.clone(),
        report: None,
    };
    match console
        .ask::<_, CompleteReply, DissuasionError>(&staff, Service::Dissuasion, dis::VERB_COMPLETE, &request)
        .await
    {
        Ok(reply) => {
            tracing::info!(target: "afc::console::audit", who = %staff.who, task = %reply.task.task, outcome = %form.outcome, "completed a task");
            Redirect::to("/tasks").into_response()
        }
        Err(response) => response,
    }
}
