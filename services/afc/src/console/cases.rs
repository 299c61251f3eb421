//! The case pages: the home page (search), the city's cases (list and search, intake's `list`
//! and `search`), and the case page: its figures, the money trail as a graph and hop by hop,
//! the timeline in local time with offsets from the report, and, as the role may read them,
//! its blocks, the warnings of the people its blocked numbers and sites reached, and its
//! returns.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{CaseId, Service};
use maud::{Markup, html};
use protocol::blocking::{self as blk, CaseBlocking, CaseEntryKind, CaseRequest};
use protocol::dissuasion::{self as dis, DissuasionError};
use protocol::intake::{self as itk, CaseTimeline, IntakeError, ShowRequest};
use protocol::restitution::{self as rst, ListReply, ListRequest, RestitutionError};
use serde::Deserialize;

use super::auth::Staff;
use super::labels::Lang;
use super::limits::MAX_QUERY_CHARS;
use super::live::{Live, Topic};
use super::view::{self, Viewer, local, local_since, money, respond};
use super::words;
use super::{Console, graph};
use crate::cli::trail;

/// The search box.
pub fn search_box(lang: Lang, value: &str) -> Markup {
    html! {
        form.search method="get" action="/cases" {
            input name="q" type="search" value=(value) placeholder=(lang.t("search_hint")) maxlength=(MAX_QUERY_CHARS) size="48";
            " " button type="submit" { (lang.t("search")) }
        }
    }
}

pub async fn home(State(console): State<Console>, headers: HeaderMap) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if staff.role == security::staff::StaffRole::Province {
        return Redirect::to("/province").into_response();
    }
    list_page(&console, &staff, &CasesQuery::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct CasesQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub fraud_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// A local date or date and time.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

pub async fn list(State(console): State<Console>, headers: HeaderMap, Query(query): Query<CasesQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    list_page(&console, &staff, &query).await
}

async fn list_page(console: &Console, staff: &Staff, query: &CasesQuery) -> Response {
    let mark = console.live().mark();
    let lang = staff.lang;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return console.failure(staff, StatusCode::BAD_REQUEST, &format!("q: at most {MAX_QUERY_CHARS} characters"));
    }
    let body = if q.is_empty() {
        if let Err(response) = console.permit(staff, Service::Intake, itk::VERB_LIST, "case list") {
            return response;
        }
        match super::cases_list::recent(console, staff, query).await {
            Ok(markup) => markup,
            Err(response) => return response,
        }
    } else {
        if let Err(response) = console.permit(staff, Service::Intake, itk::VERB_SEARCH, "case search") {
            return response;
        }
        match super::cases_list::search(console, staff, q).await {
            Ok(Ok(case_id)) => return Redirect::to(&format!("/case/{case_id}")).into_response(),
            Ok(Err(found)) => found,
            Err(response) => return response,
        }
    };
    let viewer = console.viewer(staff);
    let page = html! { (search_box(lang, q)) (body) };
    respond(
        StatusCode::OK,
        view::page(Some(&viewer), lang, lang.t("cases"), Some(Live { topic: Topic::Cases, after: mark }), page),
    )
}

pub async fn show(State(console): State<Console>, headers: HeaderMap, Path(case_id): Path<String>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let mark = console.live().mark();
    if let Err(response) = console.permit(&staff, Service::Intake, itk::VERB_SHOW, "case page") {
        return response;
    }
    let Ok(case_id) = CaseId::parse(&case_id) else {
        let text = format!("case id {case_id:?}: expected <city>-<16 lower-case hex digits>");
        return console.failure(&staff, StatusCode::BAD_REQUEST, &text);
    };
    if console.city() != Some(&case_id.city()) {
        tracing::warn!(target: "afc::console::audit", who = %staff.who, case = %case_id, "refused: a case of another city");
        return console.refusal(&staff, StatusCode::NOT_FOUND, "other_city");
    }
    let request = ShowRequest { case_id: case_id.clone() };
    let timeline: CaseTimeline =
        match console.ask::<_, _, IntakeError>(&staff, Service::Intake, itk::VERB_SHOW, &request).await {
            Ok(timeline) => timeline,
            Err(response) => return response,
        };
    let blocks = if staff.role.may(Service::Blocking, blk::VERB_CASE) {
        let request = CaseRequest { case_id: case_id.clone() };
        console
            .ask::<_, CaseBlocking, blk::BlockingError>(&staff, Service::Blocking, blk::VERB_CASE, &request)
            .await
            .ok()
    } else {
        None
    };
    let returns = if staff.role.may(Service::Restitution, rst::VERB_LIST) {
        let request = ListRequest {
            phase: Some("all".into()),
            case_id: Some(case_id.clone()),
            account: None,
            after: None,
            limit: None,
        };
        console.ask::<_, ListReply, RestitutionError>(&staff, Service::Restitution, rst::VERB_LIST, &request).await.ok()
    } else {
        None
    };
    let warnings = match blocks.as_ref().map(reaching) {
        Some(identifiers) if !identifiers.is_empty() && staff.role.may(Service::Dissuasion, dis::VERB_LIST) => {
            let request = dis::ListRequest { status: Some("all".into()), identifiers, ..dis::ListRequest::default() };
            let asked = console.ask::<_, dis::ListReply, DissuasionError>(
                &staff,
                Service::Dissuasion,
                dis::VERB_LIST,
                &request,
            );
            asked.await.ok()
        }
        _ => None,
    };
    let viewer = console.viewer(&staff);
    let parts = CaseParts { blocks: blocks.as_ref(), warnings: warnings.as_ref(), returns: returns.as_ref() };
    let body = case_page(&viewer, &timeline, &parts);
    let title = format!("{} {}", staff.lang.t("case"), case_id);
    respond(
        StatusCode::OK,
        view::page(
            Some(&viewer),
            staff.lang,
            &title,
            Some(Live { topic: Topic::Case(case_id.clone()), after: mark }),
            body,
        ),
    )
}

/// The scam identifiers blocking blocked for a case (canonical `<kind>:<value>`), at most
/// as many as dissuasion's `list` takes: whom they reached are the case's warnings.
fn reaching(blocks: &CaseBlocking) -> Vec<String> {
    let mut identifiers: Vec<String> = blocks
        .entries
        .iter()
        .filter(|entry| matches!(entry.kind, CaseEntryKind::Blocked | CaseEntryKind::Extended))
        .map(|entry| entry.subject.clone())
        .collect();
    identifiers.sort();
    identifiers.dedup();
    identifiers.truncate(protocol::limits::MAX_LIST_IDENTIFIERS);
    identifiers
}

/// What the case page shows besides intake's timeline, each as the role may read it.
#[derive(Debug, Default)]
pub struct CaseParts<'a> {
    pub blocks: Option<&'a CaseBlocking>,
    /// The tasks of the people the case's blocked identifiers reached.
    pub warnings: Option<&'a dis::ListReply>,
    pub returns: Option<&'a ListReply>,
}

/// The case page's body.
pub fn case_page(viewer: &Viewer, timeline: &CaseTimeline, parts: &CaseParts<'_>) -> Markup {
    let CaseParts { blocks, warnings, returns } = *parts;
    let (lang, tz, reported) = (viewer.lang, viewer.tz, timeline.reported_at_ms);
    let summary = &timeline.summary;
    let nodes = trail::build(&timeline.entries);
    html! {
        div.figures {
            div { (lang.t("reported_at")) b { (local(tz, reported)) } }
            div { (lang.t("fraud_type")) b { (words::fraud_type(lang, timeline.fraud_type)) } }
            div { (lang.t("loss")) b { (money(timeline.reported_loss_fen)) } }
            div { (lang.t("held")) b { (money(summary.held_fen)) } }
            div { (lang.t("frozen")) b { (money(summary.frozen_fen)) } }
            div { (lang.t("cashed_out")) b { (money(summary.cashed_out_fen)) } }
            div { (lang.t("stopped_frozen_accounts")) b { (summary.accounts_stopped) " / " (summary.accounts_frozen) } }
            div { (lang.t("time_to_freeze")) b { (summary.time_to_freeze_ms.map_or("—".to_owned(), domain::calendar::span)) } }
            @if summary.freeze_at_risk_alerts > 0 {
                div.alarm { (lang.t("at_risk")) b { (summary.freeze_at_risk_alerts) } }
            }
        }
        h2 { (lang.t("trail")) }
        div.graph { (graph::draw(&nodes, reported, timeline.reported_loss_fen, lang)) }
        h2 { (lang.t("trail_tree")) }
        table.hops {
            thead { tr { th { "#" } th { (lang.t("account")) } th { (lang.t("amount")) } th { (lang.t("state")) } th { (lang.t("after_report")) } } }
            tbody {
                @for row in trail::ordered(&nodes) {
                    tr class=(if row.node.alarming() { "alarm" } else { "" }) {
                        td.num { (row.node.hop) }
                        td { span.dim { (row.prefix) } (row.node.label()) }
                        td.num { (row.node.traced_fen.map(money).unwrap_or_default()) }
                        td { (words::hop_state(lang, row.node)) }
                        td { (domain::calendar::since(reported, row.node.at_ms)) }
                    }
                }
            }
        }
        h2 { (lang.t("timeline")) }
        table.timeline {
            thead { tr { th { (lang.t("when")) } th { (lang.t("what")) } th { (lang.t("account")) } th { (lang.t("amount")) } th {} } }
            tbody {
                @for entry in &timeline.entries {
                    tr {
                        td { (local_since(tz, reported, entry.at_ms)) }
                        td { (words::timeline_kind(lang, entry.kind)) }
                        td { (entry.account.as_ref().map(ToString::to_string).unwrap_or_default()) }
                        td.num { (entry.amount_fen.map(money).unwrap_or_default()) }
                        td.dim { (entry.detail) }
                    }
                }
            }
        }
        @if let Some(blocks) = blocks {
            h2 { (lang.t("blocks")) }
            @if blocks.entries.is_empty() { p.dim { (lang.t("none")) } }
            table.blocks {
                @for entry in &blocks.entries {
                    tr { td { (local(tz, entry.at_ms)) } td { (words::block_entry(lang, entry.kind)) } td { (entry.subject) } td.dim { (entry.detail) } }
                }
            }
        }
        @if let Some(warnings) = warnings {
            h2 { (lang.t("warnings")) " " span.dim { (warnings.tasks.len()) @if warnings.next.is_some() { "+" } } }
            @if warnings.tasks.is_empty() { p.dim { (lang.t("none")) } }
            table.warnings {
                @for task in &warnings.tasks {
                    tr class=(if task.alarm { "alarm" } else { "" }) {
                        td { (task.task) } td { (task.person) } td { (words::grade(lang, &task.grade)) } td { (words::queue(lang, &task.queue)) } td { (words::task_status(lang, &task.status)) }
                        td { (local_since(tz, reported, task.first_contact_ms)) }
                        td.dim { (task.identifiers.join(", ")) }
                    }
                }
            }
        }
        @if let Some(returns) = returns {
            h2 { (lang.t("returns")) }
            @if returns.allocations.is_empty() { p.dim { (lang.t("none")) } }
            table.returns {
                @for allocation in &returns.allocations {
                    @let share = allocation.shares.iter().find(|s| s.case_id == timeline.case_id);
                    tr {
                        td { a href={"/returns/" (allocation.allocation)} { (allocation.allocation) } }
                        td { (allocation.account.to_string()) }
                        td { (allocation.phase) }
                        td.num { (share.map(|s| money(s.fen)).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}
