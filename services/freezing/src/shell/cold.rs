//! The cold part of freezing's state in its store (see `core::cold`): holds no open case
//! needs, and closed cases' ids, moved out of memory every [`EVICT_EVERY_EVENTS`] events and
//! read back when a case reaches the account again; and the snapshots of what stays in memory
//! ([`Upkeep`] decides both, in the write of the events that brought the state there).
//!
//! **Why a row keeps two versions.** A start loads the last snapshot (the state at its event
//! S) and replays the events after S. A hold that was not in memory at S must then be read as
//! it was at S, but it may have been brought back, changed and moved out again since. So each
//! row holds the hold as it was moved out (`hold`, after event `as_of`) and, when `as_of` is
//! past the last snapshot, the hold as it was at that snapshot (`at_snapshot`, `None` if the
//! center did not hold the account then). A running service reads `hold`; a start, replaying
//! after S, reads `at_snapshot` of rows moved out after S. Rows are never rewritten at a
//! snapshot: once S passes `as_of`, `hold` is the state at S.
//!
//! Between its queueing and its commit, a write's rows are not visible to a read transaction:
//! until then they are served from memory (`staged`), tagged with the write that holds them.
//! Since the rows change only with such writes, the tables are read through one read
//! transaction opened after the last commit that changed them (a lookup is a B-tree search:
//! most accounts a trail reaches were never held, and each is looked up once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use domain::{AccountRef, CaseId};
use serde::{Deserialize, Serialize};
use store::redb::{ReadOnlyTable, ReadableTable as _, TableDefinition, TableError};
use store::{Store, StoreError, WriteCtx};

use super::snapshot;
use crate::core::{ColdStore, Evicted, Hold, State};
#[cfg(doc)]
use crate::limits::EVICT_EVERY_EVENTS;

/// Holds moved out of memory, by account: MessagePack of [`ColdRow`].
pub const COLD_HOLDS: TableDefinition<&str, &[u8]> = TableDefinition::new("freezing.cold_holds");
/// Closed cases moved out of memory.
pub const COLD_CLOSED: TableDefinition<&str, ()> = TableDefinition::new("freezing.cold_closed");

/// A hold moved out of memory.
#[derive(Debug, Serialize, Deserialize)]
struct ColdRow {
    /// The last event of the log when it was moved out.
    as_of: u64,
    hold: Hold,
    /// The hold at the last snapshot before `as_of` (`None`: not held then).
    at_snapshot: Option<Hold>,
}

/// Freezing's cold rows, and those staged for a write not committed yet.
pub struct ColdTables {
    store: Store,
    staged: Mutex<Staged>,
    /// The tables as the last committed write left them (opened at the first lookup after it).
    tables: Mutex<Option<Arc<Tables>>>,
    /// The last event of the last snapshot (queued, in the writer's order).
    snapshot_seq: AtomicU64,
    /// Set while a start replays the events after the snapshot: rows moved out after it are
    /// read as they were at it.
    replaying: AtomicBool,
    /// Set when the state was rebuilt from the whole log because its snapshot was not
    /// usable: the rows may be of another format. Nothing is moved out until the next
    /// snapshot, whose write clears them (every hold is in memory until then).
    stale: AtomicBool,
}

/// The cold tables in one read transaction (`None`: not created yet).
struct Tables {
    holds: Option<ReadOnlyTable<&'static str, &'static [u8]>>,
    closed: Option<ReadOnlyTable<&'static str, ()>>,
}

#[derive(Default)]
struct Staged {
    holds: HashMap<AccountRef, (u64, Hold)>,
    closed: HashMap<CaseId, u64>,
}

impl ColdTables {
    pub fn new(store: Store) -> ColdTables {
        ColdTables {
            store,
            staged: Mutex::default(),
            tables: Mutex::default(),
            snapshot_seq: AtomicU64::new(0),
            replaying: AtomicBool::new(false),
            stale: AtomicBool::new(false),
        }
    }

    /// A start is about to replay the events after the snapshot at `snapshot_seq` (0: the
    /// whole log; `usable`: false when a snapshot was there but could not be read).
    pub(super) fn replay_from(&self, snapshot_seq: u64, usable: bool) {
        self.snapshot_seq.store(snapshot_seq, Ordering::SeqCst);
        self.stale.store(!usable, Ordering::SeqCst);
        self.replaying.store(true, Ordering::SeqCst);
    }

    /// The replay is done: from now on rows are read as they were moved out.
    pub(super) fn replayed(&self) {
        self.replaying.store(false, Ordering::SeqCst);
    }

    /// Whether holds may be moved out now.
    fn can_evict(&self) -> bool {
        !self.stale.load(Ordering::SeqCst)
    }

    fn stage(&self, write: u64, evicted: &Evicted) {
        let mut staged = self.staged.lock().expect("cold rows lock");
        for (account, hold) in &evicted.holds {
            staged.holds.insert(account.clone(), (write, hold.clone()));
        }
        for case_id in &evicted.closed {
            staged.closed.insert(case_id.clone(), write);
        }
    }

    /// The write numbered `write` is committed: its rows are read from the store from now on.
    pub fn committed(&self, write: u64) {
        let mut staged = self.staged.lock().expect("cold rows lock");
        staged.holds.retain(|_, (written, _)| *written != write);
        staged.closed.retain(|_, written| *written != write);
        // The next lookup reads the rows as this write left them.
        *self.tables.lock().expect("cold tables lock") = None;
    }

    /// Writes `evicted` as of the last event appended to `ctx` (see the module documentation).
    fn write(&self, ctx: &WriteCtx<'_>, evicted: &Evicted) -> Result<(), StoreError> {
        let tx = ctx.tx();
        let (as_of, snapshot_seq) = (ctx.last_seq(), self.snapshot_seq.load(Ordering::SeqCst));
        let mut holds = tx.open_table(COLD_HOLDS)?;
        for (account, hold) in &evicted.holds {
            let key = account.to_string();
            let before: Option<ColdRow> = match holds.get(key.as_str())? {
                Some(row) => Some(decode_row(account, row.value())?),
                None => None,
            };
            let at_snapshot = match before {
                Some(row) if row.as_of <= snapshot_seq => Some(row.hold),
                Some(row) => row.at_snapshot,
                None => None,
            };
            let row = ColdRow { as_of, hold: hold.clone(), at_snapshot };
            holds.insert(key.as_str(), rmp_serde::to_vec(&row).expect("a cold row always encodes").as_slice())?;
        }
        let mut closed = tx.open_table(COLD_CLOSED)?;
        for case_id in &evicted.closed {
            closed.insert(case_id.to_string().as_str(), ())?;
        }
        Ok(())
    }

    /// A snapshot ending at `seq` is written: rows moved out before it are the state at it.
    /// After a start without a usable snapshot, the rows of before are cleared first.
    fn snapshot_saved(&self, ctx: &WriteCtx<'_>, seq: u64) -> Result<(), StoreError> {
        if self.stale.swap(false, Ordering::SeqCst) {
            ctx.tx().delete_table(COLD_HOLDS)?;
            ctx.tx().delete_table(COLD_CLOSED)?;
        }
        self.snapshot_seq.store(seq, Ordering::SeqCst);
        Ok(())
    }

    /// The tables as the last committed write left them.
    fn tables(&self) -> Result<Arc<Tables>, StoreError> {
        let mut tables = self.tables.lock().expect("cold tables lock");
        if let Some(tables) = &*tables {
            return Ok(tables.clone());
        }
        let opened = self.store.read_blocking(|tx| {
            let holds = match tx.open_table(COLD_HOLDS) {
                Ok(table) => Some(table),
                Err(TableError::TableDoesNotExist(_)) => None,
                Err(error) => return Err(redb_error(error)),
            };
            let closed = match tx.open_table(COLD_CLOSED) {
                Ok(table) => Some(table),
                Err(TableError::TableDoesNotExist(_)) => None,
                Err(error) => return Err(redb_error(error)),
            };
            Ok(Arc::new(Tables { holds, closed }))
        })?;
        *tables = Some(opened.clone());
        Ok(opened)
    }

    fn read_hold(&self, account: &AccountRef) -> Result<Option<Hold>, StoreError> {
        let tables = self.tables()?;
        let Some(table) = &tables.holds else { return Ok(None) };
        let Some(row) = table.get(account.to_string().as_str()).map_err(redb_error)? else { return Ok(None) };
        let row = decode_row(account, row.value())?;
        let at_snapshot = self.replaying.load(Ordering::SeqCst) && row.as_of > self.snapshot_seq.load(Ordering::SeqCst);
        Ok(if at_snapshot { row.at_snapshot } else { Some(row.hold) })
    }

    fn read_closed(&self, case_id: &CaseId) -> Result<bool, StoreError> {
        let tables = self.tables()?;
        let Some(table) = &tables.closed else { return Ok(false) };
        Ok(table.get(case_id.to_string().as_str()).map_err(redb_error)?.is_some())
    }
}

fn decode_row(account: &AccountRef, bytes: &[u8]) -> Result<ColdRow, StoreError> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("the cold hold on {account} does not decode: {e}")))
}

fn redb_error(error: impl Into<store::redb::Error>) -> StoreError {
    StoreError::Redb(error.into())
}

/// A read of the cold rows that fails is a failure of the storage itself: like a failed
/// commit (see the engine), the service stops rather than decide on a state it cannot read
/// (the panic ends the engine, the runtime stops the service), and its restart replays the log.
impl ColdStore for ColdTables {
    fn hold(&self, account: &AccountRef) -> Option<Hold> {
        if let Some((_, hold)) = self.staged.lock().expect("cold rows lock").holds.get(account) {
            return Some(hold.clone());
        }
        if self.stale.load(Ordering::SeqCst) {
            return None;
        }
        self.read_hold(account).unwrap_or_else(|e| panic!("freezing's store cannot be read: {e}"))
    }

    fn is_closed(&self, case_id: &CaseId) -> bool {
        if self.staged.lock().expect("cold rows lock").closed.contains_key(case_id) {
            return true;
        }
        !self.stale.load(Ordering::SeqCst)
            && self.read_closed(case_id).unwrap_or_else(|e| panic!("freezing's store cannot be read: {e}"))
    }
}

/// When the state's cold part is moved out and when the state is saved: every `evict_every`
/// ([`EVICT_EVERY_EVENTS`] by default) and every `snapshot_every` events recorded.
pub struct Upkeep {
    cold: Arc<ColdTables>,
    snapshot_every: u64,
    evict_every: u64,
    since_evict: u64,
    since_snapshot: u64,
    /// Writes with chores queued so far: tags the rows each one stages.
    writes: u64,
}

/// What one write does besides recording its events: rows moved out, and the snapshot.
pub struct Chores {
    cold: Arc<ColdTables>,
    write: u64,
    evicted: Evicted,
    snapshot: Option<Vec<u8>>,
}

impl Upkeep {
    /// `since_snapshot`: events recorded (replayed at start) since the last snapshot. What
    /// they left in memory moves out with the first write that has as many to count.
    pub fn new(cold: Arc<ColdTables>, snapshot_every: u64, evict_every: u64, since_snapshot: u64) -> Upkeep {
        Upkeep {
            cold,
            snapshot_every: snapshot_every.max(1),
            evict_every: evict_every.max(1),
            since_evict: since_snapshot,
            since_snapshot,
            writes: 0,
        }
    }

    /// The chores due once `events` more events are applied to `state` and about to be
    /// written, if any: the cold part moved out of `state` (and staged), the snapshot encoded.
    pub fn after(&mut self, state: &mut State, events: u64) -> Option<Chores> {
        self.since_evict += events;
        self.since_snapshot += events;
        let snapshot = self.since_snapshot >= self.snapshot_every;
        if !snapshot && self.since_evict < self.evict_every {
            return None;
        }
        self.since_evict = 0;
        self.writes += 1;
        let evicted = if self.cold.can_evict() { state.evict() } else { Evicted::default() };
        self.cold.stage(self.writes, &evicted);
        let snapshot = snapshot.then(|| {
            self.since_snapshot = 0;
            snapshot::encode(state)
        });
        Some(Chores { cold: self.cold.clone(), write: self.writes, evicted, snapshot })
    }
}

impl Chores {
    /// Writes the rows moved out, then the snapshot, after the events appended to `ctx`.
    pub fn write(&self, ctx: &mut WriteCtx<'_>) -> Result<(), StoreError> {
        self.cold.write(ctx, &self.evicted)?;
        if let Some(bytes) = &self.snapshot {
            let seq = ctx.save_snapshot(snapshot::SNAPSHOT, bytes)?;
            self.cold.snapshot_saved(ctx, seq)?;
        }
        Ok(())
    }

    /// What to call once the write is committed.
    pub fn receipt(&self) -> Receipt {
        Receipt { cold: self.cold.clone(), write: self.write }
    }
}

/// A write with chores, awaiting its commit.
pub struct Receipt {
    cold: Arc<ColdTables>,
    write: u64,
}

impl Receipt {
    /// The write is committed: its rows are read from the store from now on.
    pub fn committed(self) {
        self.cold.committed(self.write);
    }
}
