//! Restitution's own tables beside its log, and what a start reads.
//!
//! - [`CASES`] and [`BOOKS`]: what freezing traced and froze, as restitution keeps it from
//!   freezing's events (a [`CaseBook`] by case, a [`Book`] by account): rows, not events —
//!   they are freezing's facts, already in the city's stream, and the province would receive
//!   them twice. Each step writes the rows it touched in the transaction of its events and of
//!   the consumed message's inbox row, so a row is never ahead of or behind the log.
//! - [`DETAILS`]: each proposal's [`Allocation`] (the reason for every fen: the fund-flow
//!   report's content), by allocation, written with its `allocation_proposed` event.
//!
//! - [`TRAILS`]: each case's freezing events as consumed, the fund-flow report's trail; not
//!   read at start.
//!
//! A start reads every row but the trails, then replays the log (`core::process::tests` proves this gives
//! the live state after every step).

use std::time::Instant;

use domain::Service;
use events::Payload;
use runtime::ServiceError;
use store::redb::{ReadableTable, TableDefinition, WriteTransaction};
use store::{Store, StoreError};

use crate::core::Allocation;
use crate::core::process::{self, Book, CaseBook, State};

/// Case id → [`CaseBook`], MessagePack.
pub const CASES: TableDefinition<&str, &[u8]> = TableDefinition::new("restitution_cases");
/// Account → [`Book`], MessagePack.
pub const BOOKS: TableDefinition<&str, &[u8]> = TableDefinition::new("restitution_books");
/// Allocation number → [`Allocation`], MessagePack.
pub const DETAILS: TableDefinition<u64, &[u8]> = TableDefinition::new("restitution_details");
/// (case id, freezing's sequence number) → the freezing event, MessagePack: each case's trail
/// as freezing recorded it, read only when a fund-flow report is written (never at start).
pub const TRAILS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("restitution_trails");

fn failed(step: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ServiceError {
    ServiceError::Start { service: Service::Restitution, step: step.into(), source: source.into() }
}

/// What a start found.
pub struct Started {
    pub state: State,
    /// The log's last event.
    pub seq: u64,
    pub start_ms: u64,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("a {what} row does not decode: {e}")))
}

fn rows<K: store::redb::Key + 'static, V: serde::de::DeserializeOwned>(
    tx: &store::redb::ReadTransaction,
    table: TableDefinition<K, &[u8]>,
    what: &str,
    mut keep: impl FnMut(K::SelfType<'_>, V) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let table = match tx.open_table(table) {
        Ok(table) => table,
        Err(store::redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for row in table.iter()? {
        let (key, value) = row?;
        keep(key.value(), decode(what, value.value())?)?;
    }
    Ok(())
}

/// Reads every row, then replays the log.
pub async fn open(store: &Store) -> Result<Started, ServiceError> {
    let started = Instant::now();
    let store = store.clone();
    let (state, seq) = tokio::task::spawn_blocking(move || -> Result<(State, u64), StoreError> {
        let mut state = State::default();
        store.read_blocking(|tx| {
            rows(tx, CASES, "case", |key: &str, case: CaseBook| {
                let case_id = domain::CaseId::parse(key).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                state.cases.insert(case_id, case);
                Ok(())
            })?;
            rows(tx, BOOKS, "book", |key: &str, book: Book| {
                let account = domain::AccountRef::parse(key).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                state.books.insert(account, book);
                Ok(())
            })?;
            rows(tx, DETAILS, "allocation", |key: u64, allocation: Allocation| {
                state.details.insert(key, allocation);
                Ok(())
            })
        })?;
        let seq = store.replay(|envelope| {
            if let Payload::Restitution(event) = &envelope.payload {
                process::apply(&mut state, event);
            }
        })?;
        Ok((state, seq))
    })
    .await
    .map_err(|e| failed("read its store", e))?
    .map_err(|e| failed("read its store", e))?;
    Ok(Started { state, seq, start_ms: started.elapsed().as_millis() as u64 })
}

/// Writes the rows a step touched, as the state holds them now.
pub fn write_rows(
    tx: &WriteTransaction,
    cases: &[(String, Vec<u8>)],
    books: &[(String, Vec<u8>)],
    details: &[(u64, Vec<u8>)],
) -> Result<(), StoreError> {
    if !cases.is_empty() {
        let mut table = tx.open_table(CASES)?;
        for (key, bytes) in cases {
            table.insert(key.as_str(), bytes.as_slice())?;
        }
    }
    if !books.is_empty() {
        let mut table = tx.open_table(BOOKS)?;
        for (key, bytes) in books {
            table.insert(key.as_str(), bytes.as_slice())?;
        }
    }
    if !details.is_empty() {
        let mut table = tx.open_table(DETAILS)?;
        for (key, bytes) in details {
            table.insert(*key, bytes.as_slice())?;
        }
    }
    Ok(())
}

/// Encoded rows: cases, books and details.
pub type Rows = (Vec<(String, Vec<u8>)>, Vec<(String, Vec<u8>)>, Vec<(u64, Vec<u8>)>);

/// The rows of what `touched` names, encoded from `state`.
pub fn encode_rows(state: &State, touched: &process::Touched, details: &[(u64, Allocation)]) -> Rows {
    let cases =
        touched.cases.iter().filter_map(|c| state.cases.get(c).map(|row| (c.to_string(), encode(row)))).collect();
    let books =
        touched.books.iter().filter_map(|a| state.books.get(a).map(|row| (a.to_string(), encode(row)))).collect();
    let details = details.iter().map(|(no, allocation)| (*no, encode(allocation))).collect();
    (cases, books, details)
}

/// A row's MessagePack, named fields.
fn encode<T: serde::Serialize>(row: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(row).expect("rows encode")
}

/// Keeps one of freezing's events in its case's trail (in the transaction that consumes it).
pub fn write_trail(
    tx: &WriteTransaction,
    case_id: &domain::CaseId,
    seq: u64,
    event: &events::FreezingEvent,
) -> Result<(), StoreError> {
    tx.open_table(TRAILS)?.insert((case_id.as_str(), seq), encode(event).as_slice())?;
    Ok(())
}

/// `case_id`'s freezing events, in the order freezing recorded them.
pub fn trail(
    tx: &store::redb::ReadTransaction,
    case_id: &domain::CaseId,
) -> Result<Vec<events::FreezingEvent>, StoreError> {
    let table = match tx.open_table(TRAILS) {
        Ok(table) => table,
        Err(store::redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut events = Vec::new();
    for row in table.range((case_id.as_str(), 0)..=(case_id.as_str(), u64::MAX))? {
        let (_, bytes) = row?;
        events.push(decode("trail", bytes.value())?);
    }
    Ok(events)
}
