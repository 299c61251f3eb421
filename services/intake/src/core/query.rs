//! `list` and `search` as pure functions: a request checked into a query, a page cut from
//! the cases in reported-at order (newest first) as the shell reads them from its index,
//! and a search's matches put in order and bounded.
//!
//! Every walk is bounded: a page reads at most [`MAX_LIST_SCAN`] cases of the index, so a
//! filter few cases pass cannot make one request read the whole store; when it stops short,
//! `next` says where to go on from.

use std::cmp::Reverse;

use domain::{CaseId, Fen, FraudType, TimeMs};
use protocol::intake::{
    CaseCursor, CaseList, CaseListItem, CaseStatus, CaseSummary, IntakeError, IntakeErrorKind, ListRequest,
    MAX_LIST_PAGE, MAX_SEARCH_MATCHES, Problem, SearchMatch, SearchResult,
};

use crate::limits::MAX_LIST_SCAN;

/// A checked `list` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub fraud_type: Option<FraudType>,
    pub since_ms: TimeMs,
    pub status: Option<CaseStatus>,
    /// The index is read from just below this key ((reported at, case id), exclusive)
    /// downwards: the cursor, or `until_ms`, whichever is lower; `None` from the newest.
    pub below: Option<(TimeMs, String)>,
    pub limit: usize,
}

/// A `list` request as a query, or an `invalid_query` naming each field out of range.
pub fn list_query(request: ListRequest) -> Result<ListQuery, IntakeError> {
    let mut problems = Vec::new();
    let limit = request.limit.unwrap_or(MAX_LIST_PAGE);
    if !(1..=MAX_LIST_PAGE).contains(&limit) {
        problems.push(Problem {
            field: "limit".into(),
            value: limit.to_string(),
            expected: format!("1 to {MAX_LIST_PAGE}"),
        });
    }
    let since_ms = request.since_ms.unwrap_or(0);
    if let Some(until_ms) = request.until_ms
        && until_ms <= since_ms
    {
        problems.push(Problem {
            field: "until_ms".into(),
            value: until_ms.to_string(),
            expected: format!("a time after since_ms ({since_ms})"),
        });
    }
    if !problems.is_empty() {
        return Err(IntakeError {
            kind: IntakeErrorKind::InvalidQuery,
            message: format!("{} problem(s) in the list request", problems.len()),
            problems,
        });
    }
    let until = request.until_ms.map(|ms| (ms, String::new()));
    let cursor = request.after.map(|c| (c.reported_at_ms, c.case_id.to_string()));
    let below = match (until, cursor) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(ListQuery {
        fraud_type: request.fraud_type,
        since_ms,
        status: request.status,
        below,
        limit: usize::try_from(limit).expect("a page fits in memory"),
    })
}

/// One case of the reported-at index: what the index row holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    pub reported_at_ms: TimeMs,
    pub case_id: CaseId,
    pub fraud_type: FraudType,
    pub reported_loss_fen: Fen,
}

impl IndexRow {
    fn cursor(&self) -> CaseCursor {
        CaseCursor { reported_at_ms: self.reported_at_ms, case_id: self.case_id.clone() }
    }
}

/// A page of `query` from `rows` — the index's rows below `query.below`, newest first —
/// each case with its totals from `summary_of`. Reads at most [`MAX_LIST_SCAN`] rows (and
/// one more, to tell whether a full page is the last).
pub fn page<E>(
    query: &ListQuery,
    rows: impl Iterator<Item = Result<IndexRow, E>>,
    mut summary_of: impl FnMut(&CaseId) -> Result<CaseSummary, E>,
) -> Result<CaseList, E> {
    let mut cases = Vec::new();
    let mut last_read: Option<IndexRow> = None;
    for (read, row) in rows.enumerate() {
        let row = row?;
        if row.reported_at_ms < query.since_ms {
            return Ok(CaseList { cases, next: None });
        }
        if cases.len() == query.limit {
            // A case follows in the range: the page is not the last.
            let shown: &CaseListItem = cases.last().expect("a full page has a last case");
            let next = CaseCursor { reported_at_ms: shown.reported_at_ms, case_id: shown.case_id.clone() };
            return Ok(CaseList { cases, next: Some(next) });
        }
        if read == MAX_LIST_SCAN {
            // Read as much as a page may: go on from the last case read.
            return Ok(CaseList { cases, next: last_read.map(|r| r.cursor()) });
        }
        if query.fraud_type.is_none_or(|t| t == row.fraud_type) {
            let summary = summary_of(&row.case_id)?;
            if query.status.is_none_or(|s| s.holds_for(&summary)) {
                cases.push(CaseListItem {
                    case_id: row.case_id.clone(),
                    reported_at_ms: row.reported_at_ms,
                    fraud_type: row.fraud_type,
                    reported_loss_fen: row.reported_loss_fen,
                    summary,
                });
            }
        }
        last_read = Some(row);
    }
    Ok(CaseList { cases, next: None })
}

/// A search's answer from every match the lookups found (`walks_cut`: a walk of the index
/// stopped at its bound): newest report first, one match per case, kind and value (the
/// report's before the trail's), at most [`MAX_SEARCH_MATCHES`].
pub fn found(read_as: Vec<String>, mut matches: Vec<SearchMatch>, walks_cut: bool) -> SearchResult {
    matches.sort_by(|a, b| {
        (Reverse(a.reported_at_ms), &a.case_id, a.kind, &a.matched, a.source).cmp(&(
            Reverse(b.reported_at_ms),
            &b.case_id,
            b.kind,
            &b.matched,
            b.source,
        ))
    });
    matches.dedup_by(|later, earlier| {
        (&later.case_id, later.kind, &later.matched) == (&earlier.case_id, earlier.kind, &earlier.matched)
    });
    let max = usize::try_from(MAX_SEARCH_MATCHES).expect("a bound fits in memory");
    let truncated = walks_cut || matches.len() > max;
    matches.truncate(max);
    SearchResult { read_as, matches, truncated }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
