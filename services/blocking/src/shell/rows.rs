//! The state's rows in blocking's store (`core::rows`): one redb table per part of the state,
//! written with the events that change them, and read through one read transaction per
//! committed write.
//!
//! Beside them, `blocking.rows_meta` says which encoding the rows are in
//! ([`ROWS_FORMAT`]) and the last event they hold (`seq`): the last event of the log, since
//! the rows are written in the events' transaction. A start that finds another format (or
//! none: a store from before the rows) builds them again from the log (`shell::start`).

use std::ops::Bound;
use std::sync::{Arc, Mutex};

use store::redb::{ReadOnlyTable, TableDefinition, TableError, WriteTransaction};
use store::{Store, StoreError};

use crate::core::{RowSource, RowTable, RowWrite};

/// The encoding of the rows. Bump it whenever a row's shape or meaning changes: a start then
/// builds the rows again from the log instead of misreading them.
pub const ROWS_FORMAT: u64 = 4;

/// `format` and `seq` of the rows (see the module documentation).
pub const ROWS_META: TableDefinition<&str, u64> = TableDefinition::new("blocking.rows_meta");

fn definition(table: RowTable) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

fn redb_error(error: impl Into<store::redb::Error>) -> StoreError {
    StoreError::Redb(error.into())
}

/// Writes `rows` and the meta row saying they hold the log up to `seq`, in `tx`.
pub fn write(tx: &WriteTransaction, rows: &[RowWrite], seq: u64) -> Result<(), StoreError> {
    for table in RowTable::ALL {
        let mut changes = rows.iter().filter(|(t, _, _)| *t == table).peekable();
        if changes.peek().is_none() {
            continue;
        }
        let mut opened = tx.open_table(definition(table)).map_err(redb_error)?;
        for (_, key, bytes) in changes {
            match bytes {
                Some(bytes) => opened.insert(key.as_slice(), bytes.as_slice()).map(drop),
                None => opened.remove(key.as_slice()).map(drop),
            }
            .map_err(redb_error)?;
        }
    }
    let mut meta = tx.open_table(ROWS_META).map_err(redb_error)?;
    meta.insert("format", ROWS_FORMAT).map_err(redb_error)?;
    meta.insert("seq", seq).map_err(redb_error)?;
    Ok(())
}

/// Deletes every row table and marks the rows empty (as of no event), in `tx`.
pub fn clear(tx: &WriteTransaction) -> Result<(), StoreError> {
    for table in RowTable::ALL {
        tx.delete_table(definition(table)).map_err(redb_error)?;
    }
    write(tx, &[], 0)
}

/// The rows' format and last event, if the store has rows.
pub fn meta(store: &Store) -> Result<Option<(u64, u64)>, StoreError> {
    store.read_blocking(|tx| {
        let meta = match tx.open_table(ROWS_META) {
            Ok(meta) => meta,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(redb_error(error)),
        };
        let format = meta.get("format").map_err(redb_error)?.map(|v| v.value());
        let seq = meta.get("seq").map_err(redb_error)?.map(|v| v.value());
        Ok(format.zip(seq))
    })
}

type Table = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The rows of blocking's store, as the last committed write left them.
pub struct StoreRows {
    store: Store,
    /// The tables of one read transaction, opened at the first read after a commit.
    tables: Mutex<Option<Arc<Vec<Option<Table>>>>>,
}

impl StoreRows {
    pub fn new(store: Store) -> StoreRows {
        StoreRows { store, tables: Mutex::new(None) }
    }

    /// A write was committed: the next read sees it.
    pub fn refresh(&self) {
        *self.tables.lock().expect("row tables lock") = None;
    }

    fn tables(&self) -> Result<Arc<Vec<Option<Table>>>, StoreError> {
        let mut tables = self.tables.lock().expect("row tables lock");
        if let Some(tables) = &*tables {
            return Ok(tables.clone());
        }
        let opened = self.store.read_blocking(|tx| {
            RowTable::ALL
                .iter()
                .map(|table| match tx.open_table(definition(*table)) {
                    Ok(opened) => Ok(Some(opened)),
                    Err(TableError::TableDoesNotExist(_)) => Ok(None),
                    Err(error) => Err(redb_error(error)),
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        let opened = Arc::new(opened);
        *tables = Some(opened.clone());
        Ok(opened)
    }

    fn table(&self, table: RowTable) -> (Arc<Vec<Option<Table>>>, usize) {
        let tables = self.tables().unwrap_or_else(|e| panic!("blocking's store cannot be read: {e}"));
        let at = RowTable::ALL.iter().position(|t| *t == table).expect("ALL lists every table");
        (tables, at)
    }
}

/// A read that fails is a failure of the storage: the engine stops (see `core::rows`).
impl RowSource for StoreRows {
    fn get(&self, table: RowTable, key: &[u8]) -> Option<Vec<u8>> {
        let (tables, at) = self.table(table);
        let opened = tables[at].as_ref()?;
        let row = opened.get(key).unwrap_or_else(|e| panic!("blocking's store cannot be read: {e}"));
        row.map(|row| row.value().to_vec())
    }

    fn scan(&self, table: RowTable, from: Bound<&[u8]>, each: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        let (tables, at) = self.table(table);
        let Some(opened) = tables[at].as_ref() else { return };
        let range = opened
            .range::<&[u8]>((from, Bound::Unbounded))
            .unwrap_or_else(|e| panic!("blocking's store cannot be read: {e}"));
        for row in range {
            let (key, value) = row.unwrap_or_else(|e| panic!("blocking's store cannot be read: {e}"));
            if !each(key.value(), value.value()) {
                break;
            }
        }
    }
}
