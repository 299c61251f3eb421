//! The blocked-identifier index: what the `check` command and carriers' lookups read, at
//! millions of lookups a second with ten million identifiers, in about half a gigabyte.
//!
//! An identifier is kept as a 96-bit fingerprint of its text form `<kind>:<value>`, not as
//! text: two keyed SipHash-1-3 outputs (std's `RandomState`, keys drawn at random per
//! process, the two separated by a domain byte), 64 bits of the first and 32 of the second.
//! The fingerprint sits in an open-addressing table ([`table`]: 16-byte slots, linear
//! probing, at most 3/4 full) beside the number of its record ([`Facts`], 24 bytes: the
//! block's start, expiry, case count, fraud types, and whether it is a pool card).
//!
//! **False positives.** A lookup compares the fingerprints on its probe path, and a value
//! not in the index is reported blocked only if one of them equals its own: with `n`
//! identifiers indexed the chance is at most `n / 2^96` per lookup (1.3·10⁻²² at ten
//! million; 2·10⁻⁸ over a year of lookups at 5 million a second). The keys are secret and
//! new at each start, so no one can craft a value that collides with a blocked one, and two
//! indexed identifiers colliding (n²/2⁹⁷, 6·10⁻¹⁶ at ten million) would last one start only.
//! A hit is taken as found on the fingerprint alone: carriers block on it, and staff who open
//! the block read its record, keyed by the identifier's full text, from the state.
//!
//! The index follows the core's events ([`Index::follow`], after [`crate::core::apply`]) and
//! is built at start from the state ([`Index::build`]) or from the store's rows
//! ([`Index::stored_key`]).

mod facts;
mod table;

use std::hash::{BuildHasher, Hasher, RandomState};

use crate::core::State;
use crate::events::BlockingEvent;
use crate::limits::{LOOKUP_BATCH, MAX_INDEXED_IDENTIFIERS};
use crate::normalize::{Identifier, IdentifierKind};

use facts::Record;
pub use facts::{Blocked, Facts, FraudTypes};
use table::{Fingerprint, Table};

/// An identifier's fingerprint in one index: compute it once, look it up or change it.
/// Meaningful only in the index that made it (each has its own keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(Fingerprint);

/// The index is at [`MAX_INDEXED_IDENTIFIERS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the blocked-identifier index holds {MAX_INDEXED_IDENTIFIERS} identifiers, its bound")]
pub struct IndexFull;

/// What the index keeps of `identifier` for `state`: its active block, and the pool entries
/// listing it as a card seller's phone card.
pub fn facts_of(state: &State, identifier: &Identifier) -> Facts {
    Facts {
        blocked: state.active_block(identifier).map(|block| Blocked::of(&block)),
        pool_cards: state.pool_cards.get(identifier).map_or(0, |n| u16::try_from(*n).unwrap_or(u16::MAX)),
    }
}

/// Blocked identifiers and pool cards by fingerprint, with what a lookup answers.
pub struct Index {
    /// The fingerprint's keys, drawn at random when the index is made.
    keys: RandomState,
    table: Table,
    /// Facts by record number; a removed identifier's number is reused ([`Index::free`]).
    records: Vec<Record>,
    free: Vec<u32>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("len", &self.len()).field("bytes", &self.bytes()).finish()
    }
}

impl Default for Index {
    fn default() -> Index {
        Index::with_capacity(0)
    }
}

impl Index {
    /// An empty index that holds `identifiers` without growing (what a start knows from its
    /// store's count).
    pub fn with_capacity(identifiers: usize) -> Index {
        Index {
            keys: RandomState::new(),
            table: Table::with_capacity(identifiers),
            records: Vec::with_capacity(identifiers.min(MAX_INDEXED_IDENTIFIERS)),
            free: Vec::new(),
        }
    }

    /// The index of `state`: its active blocks and the phone cards of the pool's card sellers.
    /// Reads every block the state holds (a start without an index file: see `shell::start`).
    pub fn build(state: &State) -> Result<Index, IndexFull> {
        let mut index = Index::with_capacity(0);
        let mut outcome = Ok(());
        state.blocks.scan(None, |identifier, block| {
            if block.active {
                outcome =
                    index.insert(index.key(identifier), Facts { blocked: Some(Blocked::of(block)), pool_cards: 0 });
            }
            outcome.is_ok()
        });
        outcome.clone()?;
        state.pool_cards.scan(None, |phone, _| {
            outcome = index.insert(index.key(phone), facts_of(state, phone));
            outcome.is_ok()
        });
        outcome?;
        Ok(index)
    }

    pub fn key(&self, identifier: &Identifier) -> Key {
        self.stored_key(identifier.kind(), identifier.value())
    }

    /// The key of an identifier as the store holds it, kind and canonical value, without
    /// normalising it again (a start reads millions): `value` must be an [`Identifier`]'s.
    pub fn stored_key(&self, kind: IdentifierKind, value: &str) -> Key {
        let half = |domain: u8| {
            let mut hasher = self.keys.build_hasher();
            hasher.write_u8(domain);
            hasher.write(kind.as_str().as_bytes());
            hasher.write_u8(b':');
            hasher.write(value.as_bytes());
            hasher.finish()
        };
        Key(Fingerprint { hi: half(1), lo: half(2) as u32 })
    }

    /// What the index holds of `identifier`: `None` when it is neither blocked nor a pool card.
    pub fn get(&self, identifier: &Identifier) -> Option<Facts> {
        self.get_key(self.key(identifier))
    }

    #[inline]
    pub fn get_key(&self, key: Key) -> Option<Facts> {
        self.table.get(key.0).map(|record| self.records[record as usize].unpack())
    }

    /// Looks `identifiers` up at once (a carrier's list, a batch of `check`s): `facts[i]` is
    /// what `get(&identifiers[i])` gives. Faster than one `get` after another: each batch of
    /// [`LOOKUP_BATCH`] is fingerprinted, then its table reads are made together, then its
    /// records read together, so the memory waits of a batch overlap.
    pub fn get_many(&self, identifiers: &[Identifier], facts: &mut Vec<Option<Facts>>) {
        facts.clear();
        let mut fingerprints = [Fingerprint { hi: 0, lo: 0 }; LOOKUP_BATCH];
        let mut records = [None; LOOKUP_BATCH];
        for batch in identifiers.chunks(LOOKUP_BATCH) {
            for (fingerprint, identifier) in fingerprints.iter_mut().zip(batch) {
                *fingerprint = self.key(identifier).0;
            }
            let records = &mut records[..batch.len()];
            self.table.get_many(&fingerprints[..batch.len()], records);
            facts.extend(records.iter().map(|record| record.map(|r| self.records[r as usize].unpack())));
        }
    }

    /// Sets the facts of `key`; empty facts take it out.
    pub fn insert(&mut self, key: Key, facts: Facts) -> Result<(), IndexFull> {
        if facts.is_empty() {
            self.remove(key);
            return Ok(());
        }
        if let Some(record) = self.table.get(key.0) {
            self.records[record as usize] = Record::pack(facts);
            return Ok(());
        }
        if self.table.len() >= MAX_INDEXED_IDENTIFIERS {
            return Err(IndexFull);
        }
        let record = match self.free.pop() {
            Some(record) => {
                self.records[record as usize] = Record::pack(facts);
                record
            }
            None => {
                self.records.push(Record::pack(facts));
                u32::try_from(self.records.len() - 1).expect("MAX_INDEXED_IDENTIFIERS fits a record number")
            }
        };
        self.table.insert_new(key.0, record);
        Ok(())
    }

    /// Takes `key` out; returns what it held.
    pub fn remove(&mut self, key: Key) -> Option<Facts> {
        let record = self.table.remove(key.0)?;
        self.free.push(record);
        Some(self.records[record as usize].unpack())
    }

    /// Updates the index after `event` was applied to `state` ([`crate::core::apply`]): a block
    /// started, extended or ended; a card seller's cards entering or leaving the pool. The
    /// facts of each identifier the event touches are read again from `state`, so following
    /// events onto a state that is already past them (a start catching an index file up with
    /// the store) ends where the state is.
    pub fn follow(&mut self, state: &State, event: &BlockingEvent) -> Result<(), IndexFull> {
        let refresh = |index: &mut Index, identifier: &Identifier| {
            let key = index.key(identifier);
            index.insert(key, facts_of(state, identifier))
        };
        match event {
            BlockingEvent::IdentifierBlocked { identifier, .. }
            | BlockingEvent::BlockExtended { identifier, .. }
            | BlockingEvent::BlockExpired { identifier, .. }
            | BlockingEvent::BlockLifted { identifier, .. } => refresh(self, identifier),
            BlockingEvent::PoolEntered { cards, .. } | BlockingEvent::PoolInvolved { cards, .. } => {
                cards.iter().try_for_each(|card| refresh(self, &card.phone))
            }
            BlockingEvent::PoolReleased { subject, .. } => {
                let entry = state.pool.get(subject).expect("a released subject has its entry");
                entry.cards.iter().try_for_each(|card| refresh(self, &card.phone))
            }
            BlockingEvent::CaseScreened { .. }
            | BlockingEvent::IdentifierRejected { .. }
            | BlockingEvent::OrderRetrying { .. }
            | BlockingEvent::OrderResent { .. }
            | BlockingEvent::OrderConfirmed { .. }
            | BlockingEvent::OrderFailed { .. }
            | BlockingEvent::HolderReported { .. } => Ok(()),
        }
    }

    /// Identifiers held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the index owns on the heap: its table, its records (allocated capacity) and its
    /// list of free record numbers.
    pub fn bytes(&self) -> usize {
        self.table.bytes()
            + self.records.capacity() * std::mem::size_of::<Record>()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }

    /// The longest probe in the table, in slots (for the benchmark's report).
    pub fn longest_probe(&self) -> usize {
        self.table.longest_probe()
    }
}
