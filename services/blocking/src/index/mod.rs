//! The blocked-identifier index: what the `check` command and carriers' lookups read, at
//! millions of lookups a second with ten million identifiers, in half a gigabyte.
//!
//! An identifier is kept as a 96-bit fingerprint of its kind and canonical value, not as
//! text: one keyed SipHash-1-3 pass with 128-bit output (`siphasher`, keys drawn at random
//! when an index is made), of the kind's name and `:` padded with zeros to 8 bytes, then the
//! value; 64 bits of the output and 32 of the other half are kept. The fingerprint sits in an
//! open-addressing table ([`table`]: 32-byte slots, two to a cache line, linear probing, at
//! most 3/4 full) with its [`Facts`] beside it (the block's start, expiry, case count, fraud
//! types, and how many pool entries list it as a card), so a lookup that finds it in its home
//! slot makes one memory read.
//!
//! **False positives.** A lookup compares the fingerprints on its probe path, and a value
//! not in the index is reported blocked only if one of them equals its own: SipHash is a
//! pseudo-random function of its 128-bit key, so with `n` identifiers indexed the chance is
//! at most `n / 2^96` per lookup (1.3·10⁻²² at ten million; 2·10⁻⁸ over a year of lookups at
//! 5 million a second). The keys are secret, so no one can craft a value that collides with
//! a blocked one; two indexed identifiers colliding (n²/2⁹⁷, 6·10⁻¹⁶ at ten million) would
//! merge their facts for as long as the keys live: an index made anew at a start draws new
//! ones, one loaded from a file ([`Index::load`]) keeps the saved ones, so the file is as
//! secret as the keys (mode 0600, refused otherwise). A hit is taken as found on the
//! fingerprint alone: carriers block on it, and staff who open the block read its record,
//! keyed by the identifier's full text, from the state.
//!
//! The index follows the core's events ([`Index::follow`], after [`crate::core::apply`]) and
//! is built at start from the state ([`Index::build`]) or from the store's rows
//! ([`Index::stored_key`]), or loaded from a file saved at a known log sequence
//! ([`Index::save`], [`Index::load`]).

mod facts;
mod file;
mod table;

use siphasher::sip128::SipHasher13;
use std::hash::Hasher as _;

use crate::core::State;
use crate::events::BlockingEvent;
use crate::limits::{LOOKUP_BATCH, MAX_INDEXED_IDENTIFIERS};
use crate::normalize::{Identifier, IdentifierKind};

use facts::Packed;
pub use facts::{Blocked, Facts, FraudTypes};
pub use file::IndexFileError;
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
#[derive(Clone)]
pub struct Index {
    /// The fingerprint's SipHash keys, drawn at random when the index is made (saved with it).
    keys: (u64, u64),
    /// For each kind (by its place in [`IdentifierKind::ALL`]), a hasher with `keys` that has
    /// taken the kind's 8-byte prefix: a fingerprint is then one pass over the value alone.
    kinds: [SipHasher13; IdentifierKind::ALL.len()],
    table: Table,
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

/// The 8 bytes a kind's values are fingerprinted after: its name, `:`, zeros. Fixed length,
/// so that kind and value never run into each other; the names (as the store spells them)
/// are what the saved files' fingerprints were made with, never the kinds' order.
fn kind_prefix(kind: IdentifierKind) -> [u8; 8] {
    let name = kind.as_str().as_bytes();
    assert!(name.len() < 8, "a kind's name and ':' fit 8 bytes");
    let mut prefix = [0; 8];
    prefix[..name.len()].copy_from_slice(name);
    prefix[name.len()] = b':';
    prefix
}

impl Index {
    /// An empty index that holds `identifiers` without growing (what a start knows from its
    /// store's count), with new keys.
    pub fn with_capacity(identifiers: usize) -> Index {
        Index::with_table((rand::random(), rand::random()), Table::with_capacity(identifiers))
    }

    fn with_table(keys: (u64, u64), table: Table) -> Index {
        let kinds = IdentifierKind::ALL.map(|kind| {
            let mut hasher = SipHasher13::new_with_keys(keys.0, keys.1);
            hasher.write(&kind_prefix(kind));
            hasher
        });
        assert!(IdentifierKind::ALL.iter().enumerate().all(|(at, kind)| *kind as usize == at));
        Index { keys, kinds, table }
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

    #[inline]
    pub fn key(&self, identifier: &Identifier) -> Key {
        self.stored_key(identifier.kind(), identifier.value())
    }

    /// The key of an identifier as the store holds it, kind and canonical value, without
    /// normalising it again (a start reads millions): `value` must be an [`Identifier`]'s.
    #[inline]
    pub fn stored_key(&self, kind: IdentifierKind, value: &str) -> Key {
        let hash = self.kinds[kind as usize].hash(value.as_bytes());
        // Zero marks an empty slot: the first 64 bits take one value of 2^64 less.
        Key(Fingerprint { hi: hash.h1.max(1), lo: hash.h2 as u32 })
    }

    /// What the index holds of `identifier`: `None` when it is neither blocked nor a pool card.
    #[inline]
    pub fn get(&self, identifier: &Identifier) -> Option<Facts> {
        self.get_key(self.key(identifier))
    }

    #[inline]
    pub fn get_key(&self, key: Key) -> Option<Facts> {
        self.table.find(key.0).unpack()
    }

    /// Looks `identifiers` up at once (a carrier's list, a batch of `check`s): `facts[i]` is
    /// what `get(&identifiers[i])` gives. Faster than one `get` after another: each batch of
    /// [`LOOKUP_BATCH`] is fingerprinted, then its home slots are read together, so the memory
    /// waits of a batch overlap.
    pub fn get_many(&self, identifiers: &[Identifier], facts: &mut Vec<Option<Facts>>) {
        facts.clear();
        let mut fingerprints = [Fingerprint { hi: 0, lo: 0 }; LOOKUP_BATCH];
        let mut found = [None; LOOKUP_BATCH];
        for batch in identifiers.chunks(LOOKUP_BATCH) {
            for (fingerprint, identifier) in fingerprints.iter_mut().zip(batch) {
                *fingerprint = self.key(identifier).0;
            }
            let found = &mut found[..batch.len()];
            self.table.get_many(&fingerprints[..batch.len()], found);
            facts.extend(found.iter().map(|packed| packed.and_then(Packed::unpack)));
        }
    }

    /// Sets the facts of `key`; empty facts take it out. Times past
    /// [`crate::limits::INDEX_MAX_TIME_MS`] are held as it.
    pub fn insert(&mut self, key: Key, facts: Facts) -> Result<(), IndexFull> {
        if facts.is_empty() {
            self.remove(key);
            return Ok(());
        }
        let packed = Packed::pack(facts);
        if self.table.update(key.0, packed) {
            return Ok(());
        }
        if self.table.len() >= MAX_INDEXED_IDENTIFIERS {
            return Err(IndexFull);
        }
        self.table.insert_new(key.0, packed);
        Ok(())
    }

    /// Takes `key` out; returns what it held.
    pub fn remove(&mut self, key: Key) -> Option<Facts> {
        self.table.remove(key.0).and_then(Packed::unpack)
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

    /// Bytes the index owns on the heap: its table.
    pub fn bytes(&self) -> usize {
        self.table.bytes()
    }

    /// The longest probe in the table, in slots (for the benchmark's report).
    pub fn longest_probe(&self) -> usize {
        self.table.longest_probe()
    }
}
