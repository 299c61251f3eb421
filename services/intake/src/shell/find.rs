//! `list` and `search` on intake's two stores: the reported-at index and the report's keys
//! in the records store, the totals and the trail's keys in the timeline store, read in one
//! read transaction of each. The pure rules are `core::query` and `core::index`.

use domain::{CaseId, City, Fen, FraudType};
use protocol::intake::{
    CaseList, IntakeError, IntakeErrorKind, ListRequest, MatchSource, SearchMatch, SearchRequest, SearchResult,
};
use store::StoreError;
use store::redb::{ReadOnlyTable, ReadTransaction, TableDefinition};

use super::index::{CASES_BY_TIME, REPORT_KEYS, SUMMARIES, TRAIL_KEYS, summary_from};
use super::{IntakeStores, RECEIVED_AT, read_table, unavailable};
use crate::core::index::{Lookup, lookups};
use crate::core::query::{IndexRow, found, list_query, page};
use crate::limits::MAX_SEARCH_SCAN;

fn not_json(expected: &str, e: serde_json::Error) -> IntakeError {
    IntakeError { kind: IntakeErrorKind::NotJson, message: format!("expected {expected}: {e}"), problems: Vec::new() }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A page of the city's cases, as a `list` body asks.
pub async fn list(stores: &IntakeStores, body: &[u8]) -> Result<CaseList, IntakeError> {
    let request: ListRequest = serde_json::from_slice(body)
        .map_err(|e| not_json("an object of fraud_type, since_ms, until_ms, status, after, limit (all optional)", e))?;
    let query = list_query(request)?;
    let timeline = stores.timeline.clone();
    stores
        .records
        .read(move |records| {
            let Some(index) = read_table(records, CASES_BY_TIME)? else {
                return Ok(CaseList { cases: Vec::new(), next: None });
            };
            timeline.read_blocking(|tx| {
                let summaries = read_table(tx, SUMMARIES)?;
                let summary_of = |case_id: &CaseId| match &summaries {
                    None => Ok(Default::default()),
                    Some(table) => {
                        summary_from(table.get(case_id.as_str())?.as_ref().map(|v| v.value()), case_id.as_str())
                    }
                };
                let range = match &query.below {
                    Some((at, case)) => index.range(..(*at, case.as_str()))?,
                    None => index.range::<(u64, &str)>(..)?,
                };
                let rows = range.rev().map(|row| -> Result<IndexRow, StoreError> {
                    let (key, value) = row?;
                    let ((reported_at_ms, case), (fraud, loss)) = (key.value(), value.value());
                    Ok(IndexRow {
                        reported_at_ms,
                        case_id: CaseId::parse(case).map_err(|e| corrupt("an indexed case id", e))?,
                        fraud_type: FraudType::parse(fraud).map_err(|e| corrupt("an indexed fraud type", e))?,
                        reported_loss_fen: Fen::new(loss),
                    })
                });
                page(&query, rows, summary_of)
            })
        })
        .await
        .map_err(unavailable)
}

/// The rows of `key` in an index of (lookup key, case id) → matched value that `lookup`
/// accepts, at most [`MAX_SEARCH_SCAN`] read; and whether the walk stopped there.
fn walk(
    table: &ReadOnlyTable<(&'static str, &'static str), &'static str>,
    lookup: &Lookup,
) -> Result<(Vec<(String, String)>, bool), StoreError> {
    let mut found = Vec::new();
    for (read, row) in table.range((lookup.key.as_str(), "")..)?.enumerate() {
        let (key, matched) = row?;
        let (key, case) = key.value();
        if key != lookup.key {
            return Ok((found, false));
        }
        if read == MAX_SEARCH_SCAN {
            return Ok((found, true));
        }
        if lookup.accepts(matched.value()) {
            found.push((case.to_owned(), matched.value().to_owned()));
        }
    }
    Ok((found, false))
}

/// A row an index walk found: the lookup, the case, its value that matched, and where.
type Hit = (Lookup, String, String, MatchSource);

fn keyed(
    tx: &ReadTransaction,
    table: TableDefinition<(&str, &str), &str>,
    lookups: &[Lookup],
    source: MatchSource,
) -> Result<(Vec<Hit>, bool), StoreError> {
    let Some(table) = read_table(tx, table)? else {
        return Ok((Vec::new(), false));
    };
    let mut all = Vec::new();
    let mut cut = false;
    for lookup in lookups.iter().filter(|l| l.kind != protocol::intake::SearchKind::Case) {
        let (rows, stopped) = walk(&table, lookup)?;
        cut |= stopped;
        all.extend(rows.into_iter().map(|(case, matched)| (lookup.clone(), case, matched, source)));
    }
    Ok((all, cut))
}

/// The cases a `search` body's query finds, in city `city`.
pub async fn search(stores: &IntakeStores, city: &City, body: &[u8]) -> Result<SearchResult, IntakeError> {
    let request: SearchRequest = serde_json::from_slice(body).map_err(|e| {
        not_json(r#"{"query": "<case id, account, phone number, domain or URL>", "kind": optional}"#, e)
    })?;
    let lookups = lookups(city, &request.query, request.kind)?;
    let read_as = lookups.iter().map(Lookup::shown).collect();
    let timeline = stores.timeline.clone();
    let (matches, cut) = stores
        .records
        .read(move |records| {
            let (mut hits, mut cut) = keyed(records, REPORT_KEYS, &lookups, MatchSource::Report)?;
            let (trail, trail_cut) =
                timeline.read_blocking(|tx| keyed(tx, TRAIL_KEYS, &lookups, MatchSource::Trail))?;
            hits.extend(trail);
            cut |= trail_cut;
            for lookup in lookups.iter().filter(|l| l.kind == protocol::intake::SearchKind::Case) {
                hits.push((lookup.clone(), lookup.key.clone(), lookup.key.clone(), MatchSource::Report));
            }
            let Some(received) = read_table(records, RECEIVED_AT)? else {
                return Ok((Vec::new(), false));
            };
            let mut matches = Vec::with_capacity(hits.len());
            for (lookup, case, matched, source) in hits {
                // A case id nobody reported finds nothing; a key's case is always recorded.
                let Some(at) = received.get(case.as_str())? else { continue };
                let case_id = CaseId::parse(&case).map_err(|e| corrupt("an indexed case id", e))?;
                matches.push(SearchMatch { case_id, kind: lookup.kind, matched, source, reported_at_ms: at.value() });
            }
            Ok((matches, cut))
        })
        .await
        .map_err(unavailable)?;
    Ok(found(read_as, matches, cut))
}
