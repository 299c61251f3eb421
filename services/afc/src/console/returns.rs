//! Returns of frozen money: the allocations (awaiting notice, objections, the two approvals,
//! executing, done), one allocation with its shares, objections and approvals, an approval
//! signed with the approver's own key (restitution checks it against the center's roster, so
//! one approver cannot approve twice, and only approvers can approve), an objection, and the
//! fund-flow report.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Service;
use maud::html;
use protocol::restitution::{
    self as rst, AllocationView, ApproveRequest, ListReply, ListRequest, ObjectRequest, ReportRequest,
    RestitutionError, ShowRequest, Signed, statement,
};
use serde::Deserialize;

use super::Console;
use super::limits::{MAX_TEXT_CHARS, PAGE_ROWS};
use super::live::{Live, Topic};
use super::view::{self, local, money, respond};

const PHASES: [&str; 7] = ["open", "notice", "awaiting_approval", "executing", "completed", "superseded", "all"];

#[derive(Debug, Default, Deserialize)]
pub struct ReturnsQuery {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

pub async fn list(State(console): State<Console>, headers: HeaderMap, Query(query): Query<ReturnsQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let mark = console.live().mark();
    if let Err(response) = console.permit(&staff, Service::Restitution, rst::VERB_LIST, "returns") {
        return response;
    }
    let phase = query.phase.clone().filter(|p| !p.is_empty());
    let request = ListRequest {
        phase: phase.clone(),
        case_id: None,
        account: None,
        after: query.after.clone().filter(|a| !a.is_empty()),
        limit: Some(PAGE_ROWS),
    };
    let reply: ListReply =
        match console.ask::<_, _, RestitutionError>(&staff, Service::Restitution, rst::VERB_LIST, &request).await {
            Ok(reply) => reply,
            Err(response) => return response,
        };
    let (lang, tz) = (staff.lang, console.tz());
    let body = html! {
        form.filters method="get" action="/returns" {
            select name="phase" aria-label=(lang.t("phase")) {
                @for p in PHASES { option value=(p) selected[phase.as_deref() == Some(p)] { (p) } }
            }
            " " button type="submit" { (lang.t("search")) }
        }
        table.allocations {
            thead { tr {
                th { (lang.t("allocation")) } th { (lang.t("account")) } th { (lang.t("phase")) } th { (lang.t("frozen")) }
                th { (lang.t("notice_ends")) } th { (lang.t("approvals")) } th { (lang.t("objections")) }
            } }
            tbody {
                @for a in &reply.allocations {
                    tr {
                        td { a href={"/returns/" (a.allocation)} { (a.allocation) } }
                        td { (a.account.to_string()) }
                        td { (a.phase) }
                        td.num { (money(a.frozen_fen)) }
                        td { (local(tz, a.notice_ends_at_ms)) }
                        td.num { (a.approvals.len()) " / 2" }
                        td.num { (a.objections.iter().filter(|o| o.dismissed_by.is_none()).count()) }
                    }
                }
            }
        }
        @if let Some(next) = &reply.next {
            a.more href={"/returns?after=" (next) "&phase=" (phase.clone().unwrap_or_default())} { (lang.t("more")) }
        }
    };
    let viewer = console.viewer(&staff);
    respond(
        StatusCode::OK,
        view::page(Some(&viewer), lang, lang.t("returns"), Some(Live { topic: Topic::Returns, after: mark }), body),
    )
}

pub async fn show(State(console): State<Console>, headers: HeaderMap, Path(allocation): Path<String>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let mark = console.live().mark();
    if let Err(response) = console.permit(&staff, Service::Restitution, rst::VERB_SHOW, "allocation") {
        return response;
    }
    let request = ShowRequest { allocation: allocation.clone() };
    let view: AllocationView =
        match console.ask::<_, _, RestitutionError>(&staff, Service::Restitution, rst::VERB_SHOW, &request).await {
            Ok(view) => view,
            Err(response) => return response,
        };
    let (lang, tz) = (staff.lang, console.tz());
    let token = console.form(&staff);
    let approved_by_me = view.approvals.iter().any(|a| a.by == staff.who);
    let may_approve = staff.role.may(Service::Restitution, rst::VERB_APPROVE);
    let may_object = staff.role.may(Service::Restitution, rst::VERB_OBJECT);
    let body = html! {
        div.figures {
            div { (lang.t("account")) b { (view.account.to_string()) } }
            div { (lang.t("phase")) b { (view.phase) } }
            div { (lang.t("frozen")) b { (money(view.frozen_fen)) } }
            div { (lang.t("rule")) b { (view.rule) } }
            div { (lang.t("notice_ends")) b { (local(tz, view.notice_ends_at_ms)) } }
        }
        h2 { (lang.t("shares")) }
        table.shares {
            thead { tr { th { (lang.t("case")) } th { (lang.t("amount")) } th { (lang.t("traced_in")) } th { (lang.t("state")) } } }
            tbody {
                @for share in &view.shares {
                    tr {
                        td { a href={"/case/" (share.case_id)} { (share.case_id) } }
                        td.num { (money(share.fen)) }
                        td.num { (money(share.traced_in_fen)) }
                        td { (share.r#return.as_ref().map(|r| r.state.clone()).unwrap_or_default()) }
                    }
                }
            }
        }
        p { a href={"/report?allocation=" (view.allocation)} { (lang.t("fund_flow")) } }
        h2 { (lang.t("approvals")) }
        ul.approvals { @for a in &view.approvals { li { (a.by) " · " (local(tz, a.at_ms)) } } }
        @if may_approve && view.phase == "awaiting_approval" && !approved_by_me {
            form.approve method="post" action={"/returns/" (view.allocation) "/approve"} {
                input type="hidden" name="form" value=(token);
                button type="submit" { (lang.t("approve")) }
            }
        }
        h2 { (lang.t("objections")) }
        @if view.objections.is_empty() { p.dim { (lang.t("none")) } }
        ul.objections {
            @for o in &view.objections {
                li { (o.by) " · " (local(tz, o.at_ms)) " · " (o.reason) @if let Some(by) = &o.dismissed_by { " — " (by) } }
            }
        }
        @if may_object && view.phase == "notice" {
            form.object method="post" action={"/returns/" (view.allocation) "/object"} {
                input type="hidden" name="form" value=(token);
                input name="reason" required maxlength=(MAX_TEXT_CHARS) placeholder=(lang.t("reason"));
                " " button type="submit" { (lang.t("object")) }
            }
        }
    };
    let viewer = console.viewer(&staff);
    let title = format!("{} {}", lang.t("allocation"), view.allocation);
    respond(
        StatusCode::OK,
        view::page(Some(&viewer), lang, &title, Some(Live { topic: Topic::Returns, after: mark }), body),
    )
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    form: String,
    #[serde(default)]
    reason: String,
}

pub async fn approve(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(allocation): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let staff = match console.poster(&headers, &form.form, (Service::Restitution, rst::VERB_APPROVE), "approve") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let Some(city) = console.city() else { return console.refusal(&staff, StatusCode::NOT_FOUND, "not_allowed") };
    let said = statement(city, rst::VERB_APPROVE, &allocation, None);
    let signature = match console.sign(&staff, &said) {
        Ok(signature) => signature,
        Err(error) => return console.failure(&staff, StatusCode::UNAUTHORIZED, &error.to_string()),
    };
    let request =
        ApproveRequest { allocation: allocation.clone(), signed: Signed { approver: staff.who.clone(), signature } };
    match console
        .ask::<_, AllocationView, RestitutionError>(&staff, Service::Restitution, rst::VERB_APPROVE, &request)
        .await
    {
        Ok(view) => {
            tracing::info!(target: "afc::console::audit", who = %staff.who, allocation = %view.allocation, phase = %view.phase, "approved");
            Redirect::to(&format!("/returns/{}", view.allocation)).into_response()
        }
        Err(response) => {
            tracing::warn!(target: "afc::console::audit", who = %staff.who, %allocation, "approval refused");
            response
        }
    }
}

pub async fn object(
    State(console): State<Console>,
    headers: HeaderMap,
    Path(allocation): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let staff = match console.poster(&headers, &form.form, (Service::Restitution, rst::VERB_OBJECT), "object") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if form.reason.trim().is_empty() || form.reason.chars().count() > MAX_TEXT_CHARS {
        let text = format!("reason: 1 to {MAX_TEXT_CHARS} characters");
        return console.failure(&staff, StatusCode::BAD_REQUEST, &text);
    }
    let request = ObjectRequest {
        allocation: allocation.clone(),
        case_id: None,
        by: staff.who.clone(),
        reason: form.reason.trim().to_owned(),
    };
    match console
        .ask::<_, AllocationView, RestitutionError>(&staff, Service::Restitution, rst::VERB_OBJECT, &request)
        .await
    {
        Ok(view) => {
            tracing::info!(target: "afc::console::audit", who = %staff.who, allocation = %view.allocation, "objected");
            Redirect::to(&format!("/returns/{}", view.allocation)).into_response()
        }
        Err(response) => response,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    allocation: Option<String>,
    #[serde(default)]
    case_id: Option<String>,
}

/// The fund-flow report (资金流向分析报告) of an allocation or a case, as restitution renders
/// it: a page of its own (its inline styles allowed, nothing else).
pub async fn report(State(console): State<Console>, headers: HeaderMap, Query(query): Query<ReportQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if let Err(response) = console.permit(&staff, Service::Restitution, rst::VERB_REPORT, "fund-flow report") {
        return response;
    }
    let case_id = match query.case_id.as_deref().map(domain::CaseId::parse).transpose() {
        Ok(case_id) => case_id,
        Err(error) => return console.failure(&staff, StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let request = ReportRequest { case_id, allocation: query.allocation };
    let report: restitution::report::FundFlow =
        match console.ask::<_, _, RestitutionError>(&staff, Service::Restitution, rst::VERB_REPORT, &request).await {
            Ok(report) => report,
            Err(response) => return response,
        };
    tracing::info!(target: "afc::console::audit", who = %staff.who, "read a fund-flow report");
    let mut response = restitution::report::render_html(&report).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ),
    );
    response
}
