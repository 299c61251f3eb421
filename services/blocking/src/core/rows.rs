//! Where the state's rows are: in memory, or in blocking's store with what is not committed
//! yet in memory.
//!
//! A center blocks hundreds of thousands of identifiers a day, and a block lives 180 days or
//! more: the state is tens of millions of rows. Kept whole in memory it took gigabytes, a
//! snapshot of it hundreds of megabytes a write, and a start tens of seconds to decode. So
//! each part of the state is a [`Rows`]: a map whose rows live in a table of blocking's
//! store (a [`RowSource`]) and are read when the core needs them, one at a time.
//!
//! **What the store holds is the fold of the committed log.** The core changes rows in
//! memory (`changed`); after each step the shell takes them ([`Rows::take`]) and writes them
//! in the same redb transaction as the events that changed them, so the tables are always
//! the fold of the log up to its last committed event: no snapshot, no replay at start.
//! Between the step and its commit the rows are served from memory (`staged`, tagged with
//! the write that carries them); once the write is committed ([`Rows::committed`]) they are
//! read from the store again.
//!
//! Without a source (the core's tests, a replay into memory) `changed` is the whole map and
//! nothing is ever taken from it.
//!
//! Keys are kept as the bytes the store orders them by ([`RowKey`]), so memory and store
//! agree on the order a scan sees (the deadlines in time order, the blocks listed by time).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use domain::{AccountRef, CaseId, TimeMs};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::state::Deadline;
use crate::events::{HolderKey, PoolSubject};
use crate::normalize::Identifier;

/// The tables of the state (one redb table each in the shell's store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowTable {
    Cases,
    Blocks,
    ActiveByTime,
    Pool,
    PoolCards,
    Holders,
    AccountHolders,
    Orders,
    Deadlines,
}

impl RowTable {
    pub const ALL: [RowTable; 9] = [
        RowTable::Cases,
        RowTable::Blocks,
        RowTable::ActiveByTime,
        RowTable::Pool,
        RowTable::PoolCards,
        RowTable::Holders,
        RowTable::AccountHolders,
        RowTable::Orders,
        RowTable::Deadlines,
    ];

    /// The table's name in the store.
    pub fn name(self) -> &'static str {
        match self {
            RowTable::Cases => "blocking.rows.cases",
            RowTable::Blocks => "blocking.rows.blocks",
            RowTable::ActiveByTime => "blocking.rows.active_by_time",
            RowTable::Pool => "blocking.rows.pool",
            RowTable::PoolCards => "blocking.rows.pool_cards",
            RowTable::Holders => "blocking.rows.holders",
            RowTable::AccountHolders => "blocking.rows.account_holders",
            RowTable::Orders => "blocking.rows.orders",
            RowTable::Deadlines => "blocking.rows.deadlines",
        }
    }
}

/// Committed rows, as the store holds them. A read that fails is a failure of the storage
/// itself: the source panics (the engine stops, the runtime stops the service, and a
/// restart reads the store again), rather than let the core decide on a state it cannot read.
pub trait RowSource: Send + Sync {
    /// The row of `table` under `key`.
    fn get(&self, table: RowTable, key: &[u8]) -> Option<Vec<u8>>;
    /// Rows of `table` from `from` on, in key order, while `each` returns true.
    fn scan(&self, table: RowTable, from: Bound<&[u8]>, each: &mut dyn FnMut(&[u8], &[u8]) -> bool);
}

/// A key's bytes in its table: their order is the order scans see.
pub trait RowKey: Clone + Serialize + DeserializeOwned {
    fn row_key(&self) -> Vec<u8>;
}

impl RowKey for Identifier {
    fn row_key(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl RowKey for CaseId {
    fn row_key(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl RowKey for PoolSubject {
    fn row_key(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl RowKey for AccountRef {
    fn row_key(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl RowKey for HolderKey {
    fn row_key(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl RowKey for String {
    fn row_key(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

/// A time first (big-endian, so bytes sort as times), then what is due.
impl RowKey for (TimeMs, Deadline) {
    fn row_key(&self) -> Vec<u8> {
        let (tag, text) = match &self.1 {
            Deadline::Expiry(identifier) => (0u8, identifier.to_string()),
            Deadline::Release(subject) => (1, subject.to_string()),
            Deadline::Retry(request_id) => (2, request_id.clone()),
        };
        let mut key = self.0.to_be_bytes().to_vec();
        key.push(tag);
        key.extend_from_slice(text.as_bytes());
        key
    }
}

impl RowKey for (TimeMs, Identifier) {
    fn row_key(&self) -> Vec<u8> {
        let mut key = self.0.to_be_bytes().to_vec();
        key.extend_from_slice(self.1.to_string().as_bytes());
        key
    }
}

/// A row to write: its table, its key, and its bytes (`None`: delete it).
pub type RowWrite = (RowTable, Vec<u8>, Option<Vec<u8>>);

/// A row as memory holds it, with its key; `None`: removed.
type Row<K, V> = Option<(K, V)>;

/// One part of the state (see the module documentation).
pub struct Rows<K, V> {
    table: RowTable,
    /// Changed since the last [`Rows::take`]; `None`: removed. Without a source: every row.
    changed: BTreeMap<Vec<u8>, Row<K, V>>,
    /// Taken for the write numbered `.0`, not known committed yet.
    staged: BTreeMap<Vec<u8>, (u64, Row<K, V>)>,
    source: Option<Arc<dyn RowSource>>,
}

impl<K, V> Rows<K, V>
where
    K: RowKey,
    V: Clone + Serialize + DeserializeOwned,
{
    pub fn new(table: RowTable) -> Rows<K, V> {
        Rows { table, changed: BTreeMap::new(), staged: BTreeMap::new(), source: None }
    }

    /// Rows kept in `source`, with nothing changed in memory.
    pub fn in_store(table: RowTable, source: Arc<dyn RowSource>) -> Rows<K, V> {
        Rows { source: Some(source), ..Rows::new(table) }
    }

    fn decode(&self, bytes: &[u8]) -> (K, V) {
        identifiers::read_stored(|| rmp_serde::from_slice(bytes))
            .unwrap_or_else(|e| panic!("a row of {} does not decode: {e}", self.table.name()))
    }

    /// What memory knows of `key`: `Some(None)` when it was removed and not committed yet.
    fn in_memory(&self, key: &[u8]) -> Option<Option<&(K, V)>> {
        if let Some(row) = self.changed.get(key) {
            return Some(row.as_ref());
        }
        self.staged.get(key).map(|(_, row)| row.as_ref())
    }

    /// The row of `key`.
    pub fn get(&self, key: &K) -> Option<Cow<'_, V>> {
        let key = key.row_key();
        if let Some(row) = self.in_memory(&key) {
            return row.map(|(_, v)| Cow::Borrowed(v));
        }
        let bytes = self.source.as_ref()?.get(self.table, &key)?;
        Some(Cow::Owned(self.decode(&bytes).1))
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The row of `key`, to change: brought into memory, written with the next [`Rows::take`].
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let bytes = key.row_key();
        if !self.changed.contains_key(&bytes) {
            let row = self.get(key).map(|v| (key.clone(), v.into_owned()));
            self.changed.insert(bytes.clone(), row);
        }
        self.changed.get_mut(&bytes).and_then(|row| row.as_mut()).map(|(_, v)| v)
    }

    /// The row of `key`, made by `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V {
        if self.get_mut(key).is_none() {
            self.insert(key.clone(), make());
        }
        self.get_mut(key).expect("a row just inserted is there")
    }

    pub fn insert(&mut self, key: K, value: V) {
        self.changed.insert(key.row_key(), Some((key, value)));
    }

    /// Removes the row of `key`; returns it.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let removed = self.get(key).map(Cow::into_owned);
        if removed.is_some() || self.source.is_none() {
            if self.source.is_none() {
                self.changed.remove(&key.row_key());
            } else {
                self.changed.insert(key.row_key(), None);
            }
        }
        removed
    }

    /// Rows after `after` (from the first without it), in key order, while `each` says go on.
    pub fn scan(&self, after: Option<&K>, each: impl FnMut(&K, &V) -> bool) {
        match after {
            Some(key) => self.scan_from(Bound::Excluded(key.row_key()), each),
            None => self.scan_from(Bound::Unbounded, each),
        }
    }

    /// Rows from the key bytes `from` on, in key order, while `each` says go on: the store's
    /// rows with memory's changes over them.
    pub fn scan_from(&self, from: Bound<Vec<u8>>, mut each: impl FnMut(&K, &V) -> bool) {
        // Memory's view, changed over staged, merged lazily: a scan that stops at its first
        // row (the next deadline) reads one row of each, not every row staged.
        let bound = (from.clone(), Bound::Unbounded);
        let mut staged =
            self.staged.range(bound.clone()).map(|(key, (_, row))| (key.as_slice(), row.as_ref())).peekable();
        let mut changed = self.changed.range(bound).map(|(key, row)| (key.as_slice(), row.as_ref())).peekable();
        let mut memory = std::iter::from_fn(move || match (staged.peek(), changed.peek()) {
            (Some((s, _)), Some((c, _))) if c <= s => {
                if c == s {
                    staged.next();
                }
                changed.next()
            }
            (Some(_), _) => staged.next(),
            (None, _) => changed.next(),
        })
        .peekable();
        let mut going = true;
        if let Some(source) = &self.source {
            source.scan(self.table, from.as_ref().map(Vec::as_slice), &mut |key, bytes| {
                while let Some((mine, row)) = memory.next_if(|(mine, _)| *mine < key) {
                    let _ = mine;
                    if let Some((k, v)) = row
                        && !each(k, v)
                    {
                        going = false;
                        return false;
                    }
                }
                match memory.next_if(|(mine, _)| *mine == key) {
                    Some((_, Some((k, v)))) => going = each(k, v),
                    Some((_, None)) => {}
                    None => {
                        let (k, v) = self.decode(bytes);
                        going = each(&k, &v);
                    }
                }
                going
            });
        }
        if going {
            for (k, v) in memory.filter_map(|(_, row)| row) {
                if !each(k, v) {
                    break;
                }
            }
        }
    }

    /// The first rows, at most `limit`, in key order.
    pub fn first(&self, limit: usize) -> Vec<(K, V)> {
        let mut rows = Vec::new();
        if limit > 0 {
            self.scan(None, |k, v| {
                rows.push((k.clone(), v.clone()));
                rows.len() < limit
            });
        }
        rows
    }

    /// Every row (a test's or a small table's view: it reads the whole table).
    pub fn rows(&self) -> Vec<(K, V)> {
        self.first(usize::MAX)
    }

    pub fn keys(&self) -> Vec<K> {
        self.rows().into_iter().map(|(k, _)| k).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.first(1).is_empty()
    }

    /// The rows changed since the last take, encoded for the write numbered `write`; they are
    /// served from memory until [`Rows::committed`] says it is. Nothing without a source.
    pub fn take(&mut self, write: u64, into: &mut Vec<RowWrite>) {
        if self.source.is_none() {
            return;
        }
        for (key, row) in std::mem::take(&mut self.changed) {
            let bytes = row.as_ref().map(|row| rmp_serde::to_vec(row).expect("a row always encodes"));
            into.push((self.table, key.clone(), bytes));
            self.staged.insert(key, (write, row));
        }
    }

    /// Writes up to `write` are committed: their rows are read from the store from now on
    /// (the source must read as of that commit already).
    pub fn committed(&mut self, write: u64) {
        self.staged.retain(|_, (staged, _)| *staged > write);
    }

    /// Rows held in memory (changed or not known committed).
    pub fn in_memory_len(&self) -> usize {
        self.changed.len() + self.staged.len()
    }
}

impl<K: RowKey + PartialEq, V: Clone + Serialize + DeserializeOwned + PartialEq> PartialEq for Rows<K, V> {
    fn eq(&self, other: &Rows<K, V>) -> bool {
        self.rows() == other.rows()
    }
}

impl<K: RowKey + std::fmt::Debug, V: Clone + Serialize + DeserializeOwned + std::fmt::Debug> std::fmt::Debug
    for Rows<K, V>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("table", &self.table)
            .field("in_memory", &self.in_memory_len())
            .field("source", &self.source.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use proptest::prelude::*;

    use super::*;

    /// A store in a map: writes land when the test commits them, in order.
    #[derive(Default)]
    struct MapSource(Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

    impl RowSource for MapSource {
        fn get(&self, _: RowTable, key: &[u8]) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }

        fn scan(&self, _: RowTable, from: Bound<&[u8]>, each: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
            let rows = self.0.lock().unwrap().clone();
            for (key, value) in rows.range::<[u8], _>((from, Bound::Unbounded)) {
                if !each(key, value) {
                    break;
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Bump(u8),
        Take,
        Commit,
        ScanAfter(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..12).prop_map(Op::Remove),
            (0u8..12).prop_map(Op::Bump),
            Just(Op::Take),
            Just(Op::Commit),
            (0u8..12).prop_map(Op::ScanAfter),
        ]
    }

    fn key(k: u8) -> String {
        format!("k{k:02}")
    }

    proptest! {
        /// Rows in a store, with writes taken and committed at any point, read as a map does:
        /// every get, every scan, whatever is staged, changed or committed.
        #[test]
        fn rows_in_a_store_behave_as_a_map(ops in prop::collection::vec(op(), 1..120)) {
            let source = Arc::new(MapSource::default());
            let mut rows: Rows<String, u32> = Rows::in_store(RowTable::Blocks, source.clone());
            let mut memory: Rows<String, u32> = Rows::new(RowTable::Blocks);
            let mut model: BTreeMap<String, u32> = BTreeMap::new();
            let mut writes: VecDeque<(u64, Vec<RowWrite>)> = VecDeque::new();
            let mut taken = 0;
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        rows.insert(key(k), v);
                        memory.insert(key(k), v);
                        model.insert(key(k), v);
                    }
                    Op::Remove(k) => {
                        let removed = rows.remove(&key(k));
                        prop_assert_eq!(removed, model.remove(&key(k)));
                        prop_assert_eq!(memory.remove(&key(k)), removed);
                    }
                    Op::Bump(k) => {
                        if let Some(v) = rows.get_mut(&key(k)) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = memory.get_mut(&key(k)) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = model.get_mut(&key(k)) {
                            *v = v.wrapping_add(1);
                        }
                    }
                    Op::Take => {
                        taken += 1;
                        let mut written = Vec::new();
                        rows.take(taken, &mut written);
                        let mut none = Vec::new();
                        memory.take(taken, &mut none);
                        prop_assert!(none.is_empty(), "rows without a store are never taken");
                        writes.push_back((taken, written));
                    }
                    Op::Commit => {
                        if let Some((write, written)) = writes.pop_front() {
                            let mut stored = source.0.lock().unwrap();
                            for (_, k, bytes) in written {
                                match bytes {
                                    Some(bytes) => stored.insert(k, bytes),
                                    None => stored.remove(&k),
                                };
                            }
                            drop(stored);
                            rows.committed(write);
                        }
                    }
                    Op::ScanAfter(k) => {
                        let mut seen = Vec::new();
                        rows.scan(Some(&key(k)), |k, v| { seen.push((k.clone(), *v)); true });
                        let expected: Vec<_> = model
                            .range::<String, _>((Bound::Excluded(key(k)), Bound::Unbounded))
                            .map(|(k, v)| (k.clone(), *v))
                            .collect();
                        prop_assert_eq!(seen, expected);
                    }
                }
                for k in 0..12 {
                    prop_assert_eq!(rows.get(&key(k)).map(|v| *v), model.get(&key(k)).copied());
                }
                let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                prop_assert_eq!(rows.rows(), all.clone());
                prop_assert_eq!(memory.rows(), all);
            }
        }
    }
}
