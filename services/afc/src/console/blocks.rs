//! Blocks: look up a number, site, app or account handle (is it blocked, since when, on how
//! many cases, in the high-risk pool), the active blocks a page at a time, and, for a carrier
//! liaison, lift one after an appeal (the reason is recorded with who lifted it).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Service;
use maud::html;
use protocol::blocking::{
    self as blk, BlockingError, CheckReply, CheckRequest, LiftReply, LiftRequest, ListReply, ListRequest,
};
use serde::Deserialize;

use super::Console;
use super::limits::{MAX_QUERY_CHARS, MAX_TEXT_CHARS, PAGE_ROWS};
use super::live::{Live, Topic};
use super::view::{self, local, respond};
use super::words;
use crate::cli::block::{cursor_text, guess_kind, parse_cursor, parse_kind};

const KINDS: [&str; 5] = ["phone", "url", "domain", "app", "social"];

#[derive(Debug, Default, Deserialize)]
pub struct BlocksQuery {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    after: Option<String>,
    /// The list's filter by kind.
    #[serde(default)]
    list_kind: Option<String>,
}

pub async fn page(State(console): State<Console>, headers: HeaderMap, Query(query): Query<BlocksQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let mark = console.live().mark();
    if let Err(response) = console.permit(&staff, Service::Blocking, blk::VERB_CHECK, "block lookup") {
        return response;
    }
    let (lang, tz) = (staff.lang, console.tz());
    let value = query.value.as_deref().map(str::trim).unwrap_or_default();
    if value.chars().count() > MAX_QUERY_CHARS {
        return console.failure(
            &staff,
            StatusCode::BAD_REQUEST,
            &format!("value: at most {MAX_QUERY_CHARS} characters"),
        );
    }
    let kind = query.kind.as_deref().filter(|k| !k.is_empty()).unwrap_or_else(|| guess_kind(value)).to_owned();
    let checked: Option<CheckReply> = if value.is_empty() {
        None
    } else {
        let request = CheckRequest { kind: kind.clone(), value: value.to_owned() };
        match console.ask::<_, _, BlockingError>(&staff, Service::Blocking, blk::VERB_CHECK, &request).await {
            Ok(reply) => Some(reply),
            Err(response) => return response,
        }
    };
    let listed: Option<ListReply> = if staff.role.may(Service::Blocking, blk::VERB_LIST) {
        let after = match query.after.as_deref().filter(|a| !a.is_empty()).map(parse_cursor).transpose() {
            Ok(after) => after,
            Err(error) => return console.failure(&staff, StatusCode::BAD_REQUEST, &format!("after: {error}")),
        };
        let kind = match query.list_kind.as_deref().filter(|k| !k.is_empty()).map(parse_kind).transpose() {
            Ok(kind) => kind,
            Err(error) => return console.failure(&staff, StatusCode::BAD_REQUEST, &format!("list_kind: {error}")),
        };
        let request = ListRequest { since_ms: 0, after, limit: Some(PAGE_ROWS), kind };
        match console.ask::<_, _, BlockingError>(&staff, Service::Blocking, blk::VERB_LIST, &request).await {
            Ok(reply) => Some(reply),
            Err(response) => return response,
        }
    } else {
        None
    };
    let may_lift = staff.role.may(Service::Blocking, blk::VERB_LIFT);
    let token = console.form(&staff);
    let body = html! {
        h2 { (lang.t("block_check")) }
        form.check method="get" action="/blocks" {
            input name="value" value=(value) required maxlength=(MAX_QUERY_CHARS) placeholder=(lang.t("identifier"));
            " " select name="kind" aria-label=(lang.t("kind")) {
                option value="" { "—" }
                @for k in KINDS { option value=(k) selected[query.kind.as_deref() == Some(k)] { (k) } }
            }
            " " button type="submit" { (lang.t("search")) }
        }
        @if let Some(reply) = &checked {
            table.checked {
                tr { th { (lang.t("identifier")) } td { (reply.identifier) } }
                tr { th { (lang.t("state")) } td class=(if reply.blocked { "alarm" } else { "" }) {
                    (lang.t(if reply.blocked { "blocked" } else { "not_blocked" }))
                } }
                @if let Some(since) = reply.since_ms { tr { th { (lang.t("since")) } td { (local(tz, since)) } } }
                @if let Some(expires) = reply.expires_at_ms { tr { th { (lang.t("expires")) } td { (local(tz, expires)) } } }
                tr { th { (lang.t("cases")) } td { (reply.case_count) } }
                tr { th { (lang.t("fraud_type")) } td { @for t in &reply.fraud_types { (words::fraud_type(lang, *t)) " " } } }
                @if !reply.province_cities.is_empty() {
                    tr { th { (lang.t("province_board")) } td { @for c in &reply.province_cities { (c.as_str()) " " } } }
                }
            }
            @if may_lift && reply.blocked {
                form.lift method="post" action="/blocks/lift" {
                    input type="hidden" name="form" value=(token);
                    input type="hidden" name="value" value=(value);
                    input type="hidden" name="kind" value=(kind);
                    input name="reason" required maxlength=(MAX_TEXT_CHARS) placeholder=(lang.t("reason"));
                    " " button.danger type="submit" { (lang.t("lift")) }
                }
            }
        }
        @if let Some(listed) = &listed {
            h2 { (lang.t("blocks")) }
            form.filters method="get" action="/blocks" {
                select name="list_kind" aria-label=(lang.t("kind")) {
                    option value="" { "—" }
                    @for k in domain::IdentifierKind::ALL.map(|k| k.as_str()) {
                        option value=(k) selected[query.list_kind.as_deref() == Some(k)] { (k) }
                    }
                }
                " " button type="submit" { (lang.t("search")) }
            }
            table.blocks {
                thead { tr { th { (lang.t("identifier")) } th { (lang.t("since")) } th { (lang.t("expires")) } th { (lang.t("cases")) } th { (lang.t("carriers")) } } }
                tbody {
                    @for block in &listed.blocks {
                        tr {
                            td { (block.identifier) @if let Some(like) = &block.looks_like { br; span.alarm { (like) } } }
                            td { (local(tz, block.blocked_at_ms)) }
                            td { (local(tz, block.expires_at_ms)) }
                            td.num { (block.case_count) }
                            td { @for c in &block.carriers { (c.carrier.as_str()) ":" (words::order_state(lang, c.status)) " " } }
                        }
                    }
                }
            }
            @if let Some(next) = &listed.next {
                a.more href={"/blocks?after=" (cursor_text(next)) "&list_kind=" (query.list_kind.clone().unwrap_or_default())} { (lang.t("more")) }
            }
        }
    };
    let viewer = console.viewer(&staff);
    respond(
        StatusCode::OK,
        view::page(Some(&viewer), lang, lang.t("blocks"), Some(Live { topic: Topic::Blocks, after: mark }), body),
    )
}

#[derive(Debug, Deserialize)]
pub struct LiftForm {
    #[serde(default)]
    form: String,
    value: String,
    kind: String,
    reason: String,
}

pub async fn lift(State(console): State<Console>, headers: HeaderMap, Form(form): Form<LiftForm>) -> Response {
    let staff = match console.poster(&headers, &form.form, (Service::Blocking, blk::VERB_LIFT), "block lift") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if form.reason.trim().is_empty() || form.reason.chars().count() > MAX_TEXT_CHARS {
        return console.failure(&staff, StatusCode::BAD_REQUEST, &format!("reason: 1 to {MAX_TEXT_CHARS} characters"));
    }
    let request = LiftRequest {
        kind: form.kind.clone(),
        value: form.value.clone(),
        reason: form.reason.trim().to_owned(),
        operator: staff.who.clone(),
    };
    match console.ask::<_, LiftReply, BlockingError>(&staff, Service::Blocking, blk::VERB_LIFT, &request).await {
        Ok(reply) => {
            tracing::info!(target: "afc::console::audit", who = %staff.who, identifier = %reply.identifier, "lifted a block");
            Redirect::to("/blocks").into_response()
        }
        Err(response) => response,
    }
}
