//! The city's cases a page at a time, newest report first, filtered by fraud type, state and
//! the day they were reported from (intake's `list`); and search by case id, account, phone
//! number or domain (intake's `search`): one case found opens it, several are listed.

use axum::response::Response;
use domain::{CaseId, FraudType, Service};
use maud::{Markup, html};
use protocol::intake::{self as itk, CaseList, CaseStatus, IntakeError, ListRequest, SearchRequest, SearchResult};

use super::Console;
use super::auth::Staff;
use super::cases::CasesQuery;
use super::limits::PAGE_ROWS;
use super::view::{local, money};
use super::words;
use crate::cli::cases::{cursor_text, parse_cursor};

/// The newest cases, filtered as `query` says.
pub async fn recent(console: &Console, staff: &Staff, query: &CasesQuery) -> Result<Markup, Response> {
    let (lang, tz) = (staff.lang, console.tz());
    let bad = |text: String| console.failure(staff, axum::http::StatusCode::BAD_REQUEST, &text);
    let fraud_type = match query.fraud_type.as_deref().filter(|t| !t.is_empty()).map(FraudType::parse).transpose() {
        Ok(fraud_type) => fraud_type,
        Err(error) => return Err(bad(error.to_string())),
    };
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match CaseStatus::ALL.into_iter().find(|s| s.as_str() == text) {
            Some(status) => Some(status),
            None => {
                return Err(bad(format!(
                    "status {text:?}: expected one of tracing, traced, holding, frozen, at_risk, nothing_held"
                )));
            }
        },
    };
    let since_ms = match query.since.as_deref().filter(|s| !s.is_empty()).map(|s| tz.moment(s)).transpose() {
        Ok(since) => since,
        Err(expected) => return Err(bad(format!("since: {expected}"))),
    };
    let after = match query.after.as_deref().filter(|a| !a.is_empty()).map(parse_cursor).transpose() {
        Ok(after) => after,
        Err(text) => return Err(bad(format!("after: {text}"))),
    };
    let request = ListRequest { fraud_type, since_ms, until_ms: None, status, after, limit: Some(PAGE_ROWS) };
    let list: CaseList = console.ask::<_, _, IntakeError>(staff, Service::Intake, itk::VERB_LIST, &request).await?;
    let kept = |key: &str, value: &str| if value.is_empty() { String::new() } else { format!("&{key}={value}") };
    Ok(html! {
        form.filters method="get" action="/cases" {
            select name="fraud_type" aria-label=(lang.t("fraud_type")) {
                option value="" { "—" }
                @for t in FraudType::ALL { option value=(t.as_str()) selected[fraud_type == Some(t)] { (words::fraud_type(lang, t)) } }
            }
            " " select name="status" aria-label=(lang.t("state")) {
                option value="" { "—" }
                @for s in CaseStatus::ALL { option value=(s.as_str()) selected[status == Some(s)] { (words::case_status(lang, s)) } }
            }
            " " input name="since" type="date" value=(query.since.clone().unwrap_or_default()) aria-label=(lang.t("since"));
            " " button type="submit" { (lang.t("search")) }
        }
        table.cases {
            thead { tr {
                th { (lang.t("case")) } th { (lang.t("reported_at")) } th { (lang.t("fraud_type")) } th { (lang.t("loss")) }
                th { (lang.t("held")) } th { (lang.t("frozen")) } th { (lang.t("time_to_freeze")) }
            } }
            tbody {
                @for case in &list.cases {
                    tr class=(if case.summary.freeze_at_risk_alerts > 0 { "alarm" } else { "" }) {
                        td { a href={"/case/" (case.case_id)} { (case.case_id) } }
                        td { (local(tz, case.reported_at_ms)) }
                        td { (words::fraud_type(lang, case.fraud_type)) }
                        td.num { (money(case.reported_loss_fen)) }
                        td.num { (money(case.summary.held_fen)) }
                        td.num { (case.summary.accounts_frozen) }
                        td { (case.summary.time_to_freeze_ms.map_or("—".to_owned(), domain::calendar::span)) }
                    }
                }
            }
        }
        @if list.cases.is_empty() { p.dim { (lang.t("no_match")) } }
        @if let Some(next) = &list.next {
            a.more href={"/cases?after=" (cursor_text(next))
                (kept("fraud_type", query.fraud_type.as_deref().unwrap_or_default()))
                (kept("status", query.status.as_deref().unwrap_or_default()))
                (kept("since", query.since.as_deref().unwrap_or_default()))} { (lang.t("more")) }
        }
    })
}

/// The case `q` finds if it finds one, else the list of what it found.
pub async fn search(console: &Console, staff: &Staff, q: &str) -> Result<Result<CaseId, Markup>, Response> {
    let (lang, tz) = (staff.lang, console.tz());
    let request = SearchRequest { query: q.to_owned(), kind: None };
    let found: SearchResult =
        console.ask::<_, _, IntakeError>(staff, Service::Intake, itk::VERB_SEARCH, &request).await?;
    let mut cases: Vec<&CaseId> = found.matches.iter().map(|m| &m.case_id).collect();
    cases.dedup();
    if let [only] = cases.as_slice()
        && !found.truncated
    {
        return Ok(Ok((*only).clone()));
    }
    Ok(Err(html! {
        p.dim { (found.read_as.join(" · ")) }
        @if found.matches.is_empty() { p { (lang.t("no_match")) } }
        table.matches {
            @for m in &found.matches {
                tr {
                    td { a href={"/case/" (m.case_id)} { (m.case_id) } }
                    td { (local(tz, m.reported_at_ms)) }
                    td { (words::search_kind(lang, m.kind)) " · " (words::match_source(lang, m.source)) }
                    td { (m.matched) }
                }
            }
        }
        @if found.truncated { p.dim { (lang.t("more")) } }
    }))
}
