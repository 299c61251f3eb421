//! The coordinator's own store: one redb file holding the latest snapshot of the state and
//! the province stream's sequence it covers. The province stream is the log; a start reads
//! the snapshot and consumes the stream from the next sequence, so a crash between
//! snapshots re-reads what came after the last one — absorbed again as duplicates (the
//! snapshot holds each producer's sequences), never counted twice.

use std::path::Path;

use redb::{Database, ReadableDatabase, TableDefinition};

use crate::core::State;

/// `state` → (province stream sequence covered, the state as named MessagePack).
const SNAPSHOT: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("coordinator_snapshot");
const KEY: &str = "state";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("coordinator store {path}: {source}")]
    Redb { path: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("coordinator store {path}: the snapshot does not decode: {source}")]
    Corrupt { path: String, source: rmp_serde::decode::Error },
}

pub struct SnapshotStore {
    db: Database,
    path: String,
}

impl SnapshotStore {
    pub fn open(path: &Path) -> Result<SnapshotStore, StoreError> {
        let shown = path.display().to_string();
        let db = Database::create(path).map_err(|e| StoreError::Redb { path: shown.clone(), source: e.into() })?;
        Ok(SnapshotStore { db, path: shown })
    }

    fn failed(&self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Redb { path: self.path.clone(), source: source.into() }
    }

    /// The latest snapshot and the stream sequence it covers, if one was written.
    pub fn load(&self) -> Result<Option<(State, u64)>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.failed(e))?;
        let table = match tx.open_table(SNAPSHOT) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.failed(e)),
        };
        let Some(row) = table.get(KEY).map_err(|e| self.failed(e))? else { return Ok(None) };
        let (seq, bytes) = row.value();
        let state =
            State::from_snapshot(bytes).map_err(|source| StoreError::Corrupt { path: self.path.clone(), source })?;
        Ok(Some((state, seq)))
    }

    /// Replaces the snapshot, durably.
    pub fn save(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.failed(e))?;
        {
            let mut table = tx.open_table(SNAPSHOT).map_err(|e| self.failed(e))?;
            table.insert(KEY, (seq, bytes)).map_err(|e| self.failed(e))?;
        }
        tx.commit().map_err(|e| self.failed(e))
    }
}
