//! The city's cases a page at a time (intake's `list`), and search (intake's `search`).

use axum::response::Response;
use domain::CaseId;
use maud::{Markup, html};

use super::Console;
use super::auth::Staff;
use super::cases::CasesQuery;

/// The newest cases, filtered as `query` says.
pub async fn recent(console: &Console, staff: &Staff, query: &CasesQuery) -> Result<Markup, Response> {
    let _ = (console, staff, query);
    Ok(html! {})
}

/// The case `q` finds, if exactly one.
pub async fn search(console: &Console, staff: &Staff, q: &str) -> Result<Option<CaseId>, Response> {
    let _ = staff;
    Ok(CaseId::parse(q).ok().filter(|case| console.city() == Some(&case.city())))
}
