//! The index tables `list` and `search` read, each written in the transaction of the rows it
//! indexes, so a crash leaves an index whole or not written at all:
//!
//! - records store, with the report: [`CASES_BY_TIME`] (the reported-at order, with the
//!   fraud type and loss a list shows) and [`REPORT_KEYS`] (the report's accounts, phone
//!   numbers and sites → its case);
//! - timeline store, with the freezing event: [`TRAIL_KEYS`] (the trail's accounts → the
//!   case) and [`SUMMARIES`] (the case's totals, folded in as each event is first stored:
//!   a redelivery finds its row and adds nothing).
//!
//! [`INDEX_META`] in each store says which encoding its indexes are in ([`INDEX_FORMAT`]).
//! A start that finds another (or none: a store from before the indexes) builds them again
//! from the reports and the timeline rows, in one write each, before intake serves.

use domain::report::Report;
use domain::{CaseId, Fen, FraudType, TimeMs};
use events::FreezingEvent;
use protocol::intake::CaseSummary;
use store::redb::{ReadableTable, TableDefinition, TableError, WriteTransaction};
use store::{Store, StoreError, WriteError};

use crate::core::index::{IndexKey, report_keys, trail_keys};
use crate::core::timeline;
use crate::shell::{CASE_EVENTS, RECEIVED_AT, REPORTS};

/// The encoding of the indexes. Bump it whenever an index row's shape or meaning changes: a
/// start then builds the indexes again instead of misreading them.
pub const INDEX_FORMAT: u64 = 1;
/// `format` → [`INDEX_FORMAT`] of the indexes of the store it is in.
pub const INDEX_META: TableDefinition<&str, u64> = TableDefinition::new("index_meta");
/// (received at ms, case id) → (fraud type, reported loss in fen). Records store.
pub const CASES_BY_TIME: TableDefinition<(u64, &str), (&str, u64)> = TableDefinition::new("cases_by_time");
/// (lookup key, case id) → the case's value it stands for (`core::index`). Records store.
pub const REPORT_KEYS: TableDefinition<(&str, &str), &str> = TableDefinition::new("report_keys");
/// (lookup key, case id) → the account of the trail. Timeline store.
pub const TRAIL_KEYS: TableDefinition<(&str, &str), &str> = TableDefinition::new("trail_keys");
/// case id → its totals (`CaseSummary`, MessagePack, the protocol's own encoding). Timeline
/// store.
pub const SUMMARIES: TableDefinition<&str, &[u8]> = TableDefinition::new("case_summaries");

/// Writes a new case's index rows, in the transaction that records its report.
pub fn index_report(
    tx: &WriteTransaction,
    case_id: &CaseId,
    (fraud_type, loss): (FraudType, Fen),
    keys: &[IndexKey],
    received_at_ms: TimeMs,
) -> Result<(), StoreError> {
    let row = (fraud_type.as_str(), loss.get());
    tx.open_table(CASES_BY_TIME)?.insert((received_at_ms, case_id.as_str()), row)?;
    let mut table = tx.open_table(REPORT_KEYS)?;
    for key in keys {
        table.insert((key.key.as_str(), case_id.as_str()), key.matched.as_str())?;
    }
    Ok(())
}

/// A case's totals as stored, or none yet.
pub fn summary_from(bytes: Option<&[u8]>, case_id: &str) -> Result<CaseSummary, StoreError> {
    match bytes {
        None => Ok(CaseSummary::default()),
        Some(bytes) => rmp_serde::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("stored totals of case {case_id}: {e}"))),
    }
}

/// Folds a freezing event stored for the first time into its case's totals and trail
/// index, in the transaction that stores it. An event whose amounts overflow the totals
/// leaves them as they were (`show` reports the case as unreadable).
pub fn index_event(
    tx: &WriteTransaction,
    case_id: &str,
    event: &FreezingEvent,
    at_ms: TimeMs,
) -> Result<(), StoreError> {
    let mut summaries = tx.open_table(SUMMARIES)?;
    let mut summary = summary_from(summaries.get(case_id)?.as_ref().map(|v| v.value()), case_id)?;
    let Ok(entries) = timeline::apply(&mut summary, event, at_ms) else {
        tracing::warn!(case_id, "a freezing event overflows the case's totals; they are left as they were");
        return Ok(());
    };
    let bytes = rmp_serde::to_vec_named(&summary).expect("summaries encode");
    summaries.insert(case_id, bytes.as_slice())?;
    let mut table = tx.open_table(TRAIL_KEYS)?;
    for key in trail_keys(&entries) {
        table.insert((key.key.as_str(), case_id), key.matched.as_str())?;
    }
    Ok(())
}

fn format_of(store: &Store) -> Result<Option<u64>, StoreError> {
    store.read_blocking(|tx| match tx.open_table(INDEX_META) {
        Ok(meta) => Ok(meta.get("format")?.map(|v| v.value())),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    })
}

/// Whether `store`'s indexes are of another format than this build's, saying so.
fn stale(store: &Store, which: &str) -> Result<bool, StoreError> {
    match format_of(store)? {
        Some(INDEX_FORMAT) => Ok(false),
        None => {
            tracing::info!(store = which, expected = INDEX_FORMAT, "no indexes yet; building them");
            Ok(true)
        }
        Some(found) => {
            tracing::warn!(
                store = which,
                found,
                expected = INDEX_FORMAT,
                "indexes of another format; building them again"
            );
            Ok(true)
        }
    }
}

fn mark(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(INDEX_META)?.insert("format", INDEX_FORMAT)?;
    Ok(())
}

/// Builds the records store's indexes again from its reports, when they are not of this
/// format; how many cases were indexed, or `None` when they were.
pub async fn rebuild_records(store: &Store) -> Result<Option<u64>, StoreError> {
    if !stale(store, "records")? {
        return Ok(None);
    }
    let built = store
        .write(|ctx| -> Result<u64, WriteError<std::convert::Infallible>> {
            let tx = ctx.tx();
            tx.delete_table(CASES_BY_TIME)?;
            tx.delete_table(REPORT_KEYS)?;
            let reports = tx.open_table(REPORTS)?;
            let received = tx.open_table(RECEIVED_AT)?;
            let mut indexed = 0u64;
            for row in reports.iter()? {
                let (case, bytes) = row?;
                let case = case.value();
                let corrupt =
                    |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what} of case {case}: {e}"));
                let case_id = CaseId::parse(case).map_err(|e| corrupt("id", &e))?;
                let report: Report = rmp_serde::from_slice(bytes.value()).map_err(|e| corrupt("report", &e))?;
                let at = received.get(case)?.ok_or_else(|| corrupt("receipt time", &"missing"))?.value();
                index_report(tx, &case_id, (report.fraud_type, report.reported_loss()), &report_keys(&report), at)?;
                indexed += 1;
            }
            mark(tx)?;
            Ok(indexed)
        })
        .await
        .map_err(StoreError::from)?;
    Ok(Some(built))
}

/// Builds the timeline store's indexes again from its rows, when they are not of this
/// format; how many events were folded, or `None` when they were.
pub async fn rebuild_timeline(store: &Store) -> Result<Option<u64>, StoreError> {
    if !stale(store, "timeline")? {
        return Ok(None);
    }
    let built = store
        .write(|ctx| -> Result<u64, WriteError<std::convert::Infallible>> {
            let tx = ctx.tx();
            tx.delete_table(TRAIL_KEYS)?;
            tx.delete_table(SUMMARIES)?;
            let rows = tx.open_table(CASE_EVENTS)?;
            let mut folded = 0u64;
            for row in rows.iter()? {
                let (key, bytes) = row?;
                let (case, at_ms, _) = key.value();
                let event: FreezingEvent = rmp_serde::from_slice(bytes.value())
                    .map_err(|e| StoreError::Corrupt(format!("stored timeline of {case}: {e}")))?;
                index_event(tx, case, &event, at_ms)?;
                folded += 1;
            }
            mark(tx)?;
            Ok(folded)
        })
        .await
        .map_err(StoreError::from)?;
    Ok(Some(built))
}
