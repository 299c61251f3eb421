//! The signals of the retention window, each held once and found three ways: by key (a key
//! held is a duplicate), by the identifier it is filed under, in (time, key) order
//! (back-matching), and by time (forgetting as the window moves).
//!
//! Laid out for ten million signals (issue 15): a signal is one slot of a slab ([`Kept`] and
//! where it is filed); the key table and the identifier table hold slot numbers with 32 bits
//! of their hash, so a table grows without reading a key, and each is split in [`SHARDS`]
//! tables, so growing moves a 256th of it at a time; an identifier's signals are slot numbers
//! (4 bytes each); the time index is a set of (time, slot). Equality is of what is held, not
//! of where: a start keeping the rows again gives an equal window with other slots.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use domain::TimeMs;
use hashbrown::HashTable;
use identifiers::Identifier;

use super::signal::SignalKey;
use super::state::Kept;
use crate::limits::MAX_SIGNALS_PER_IDENTIFIER;

/// Tables each index is split into, by the top bits of a key's hash. A hash table grows by
/// doubling and moves every entry when it does: one table of ten million entries would stall
/// the core tens of ms (the p99 budget of a signal is 50 ms); split in 256, the largest move
/// is ~40,000 entries, well under a millisecond.
const SHARDS: usize = 256;
/// Bits of a hash that pick the shard.
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// Marks a slot filed under no identifier (a transfer instruction).
const NO_IDENTIFIER: u32 = u32::MAX;

/// The signals of the window. See the module's documentation.
#[derive(Default)]
pub struct Window {
    /// Every signal held.
    slots: Slab<Slot>,
    /// Slots by key.
    by_key: Index,
    /// Identifiers signals are filed under.
    filed: Slab<Filed>,
    /// `filed` by identifier.
    by_identifier: Index,
    /// Slots by time: the oldest are forgotten first.
    by_time: BTreeSet<(TimeMs, u32)>,
    /// Keys the indexes are hashed with (SipHash-1-3, drawn for each window: a source cannot
    /// choose keys that collide).
    hasher: RandomState,
    held: usize,
}

struct Slot {
    kept: Kept,
    /// The identifier it is filed under (its number in `filed`), or [`NO_IDENTIFIER`].
    identifier: u32,
    /// In its identifier's list: false once dropped past [`MAX_SIGNALS_PER_IDENTIFIER`] (it is
    /// still held, as a duplicate, until the window forgets it).
    listed: bool,
}

/// An identifier and its signals.
struct Filed {
    identifier: Identifier,
    /// Its listed slots, in (time, key) order.
    list: VecDeque<u32>,
    /// Slots filed under it, listed or dropped: it is let go at none.
    slots: u32,
}

impl Window {
    /// Signals held.
    pub fn len(&self) -> usize {
        self.held
    }

    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Whether a signal with `key` is held: a signal with it is a duplicate.
    pub fn contains_key(&self, key: &SignalKey) -> bool {
        self.slot_of(key).is_some()
    }

    /// The keys held, in no order.
    pub fn keys(&self) -> impl Iterator<Item = &SignalKey> {
        self.slots.iter().map(|slot| &slot.kept.key)
    }

    /// The signals filed under `identifier`, in (time, key) order (at most
    /// [`MAX_SIGNALS_PER_IDENTIFIER`], the latest).
    pub fn filed_under(&self, identifier: &Identifier) -> impl Iterator<Item = &Kept> {
        let list = self.filed_number(identifier).map(|n| &self.filed.get(n).list);
        list.into_iter().flatten().map(|slot| &self.slot(*slot).kept)
    }

    /// The signals filed under `identifier` with their slots, in (time, key) order: a slot
    /// names the signal to [`Window::mark_slot_matched`] until the window next changes.
    pub(super) fn filed_slots(&self, identifier: &Identifier) -> impl Iterator<Item = (u32, &Kept)> {
        let list = self.filed_number(identifier).map(|n| &self.filed.get(n).list);
        list.into_iter().flatten().map(|slot| (*slot, &self.slot(*slot).kept))
    }

    /// How many signals are filed under `identifier`.
    pub fn filed_len(&self, identifier: &Identifier) -> usize {
        self.filed_number(identifier).map_or(0, |n| self.filed.get(n).list.len())
    }

    /// Holds a signal: by key, by time and, when `identifier` is given, filed under it in
    /// its (time, key) place. The oldest filed under it goes past
    /// [`MAX_SIGNALS_PER_IDENTIFIER`] (it stays held as a duplicate).
    pub fn hold(&mut self, kept: Kept, identifier: Option<&Identifier>) {
        if let Some(slot) = self.slot_of(&kept.key) {
            // A key is held once (`decide` refuses a duplicate): the later signal replaces it.
            self.release(slot);
        }
        let (at_ms, hash) = (kept.at_ms, self.hash(&kept.key));
        let number = identifier.map_or(NO_IDENTIFIER, |identifier| self.file(identifier));
        let slot = self.slots.insert(Slot { kept, identifier: number, listed: number != NO_IDENTIFIER });
        self.held += 1;
        self.by_key.insert(hash, slot);
        self.by_time.insert((at_ms, slot));
        if number != NO_IDENTIFIER {
            self.list(number, slot);
        }
    }

    /// Forgets every signal older than `before_ms`.
    pub fn forget(&mut self, before_ms: TimeMs) {
        while let Some(&(at_ms, slot)) = self.by_time.first() {
            if at_ms >= before_ms {
                break;
            }
            // Its identifier's list first: every entry older than `before_ms` goes (they are
            // all being forgotten, and none is released yet: a slot leaves its list before it
            // is released).
            let number = self.slot(slot).identifier;
            if number != NO_IDENTIFIER {
                let filed = self.filed.get_mut(number);
                while let Some(&front) = filed.list.front() {
                    let front_slot = self.slots.get_mut(front);
                    if front_slot.kept.at_ms >= before_ms {
                        break;
                    }
                    front_slot.listed = false;
                    filed.list.pop_front();
                }
            }
            self.release(slot);
        }
    }

    /// Marks the signal `key`, filed under `identifier` at `at_ms`, as evidence (if it is
    /// still listed there).
    pub fn mark_matched(&mut self, identifier: &Identifier, key: &SignalKey, at_ms: TimeMs) {
        let Some(slot) = self.slot_of(key) else { return };
        let held = self.slots.get(slot);
        let filed_there = held.listed && self.filed.get(held.identifier).identifier == *identifier;
        if filed_there && held.kept.at_ms == at_ms {
            self.slots.get_mut(slot).kept.matched = true;
        }
    }

    /// Marks the signal in `slot` as evidence: what [`Window::mark_matched`] does for a signal
    /// [`Window::filed_slots`] gave, without finding it by key again.
    pub(super) fn mark_slot_matched(&mut self, slot: u32) {
        let held = self.slots.get_mut(slot);
        assert!(held.listed, "a slot filed_slots gave is listed");
        held.kept.matched = true;
    }

    fn slot(&self, slot: u32) -> &Slot {
        self.slots.get(slot)
    }

    fn hash<T: std::hash::Hash + ?Sized>(&self, value: &T) -> u64 {
        self.hasher.hash_one(value)
    }

    fn slot_of(&self, key: &SignalKey) -> Option<u32> {
        self.by_key.find(self.hash(key), |slot| self.slot(slot).kept.key == *key)
    }

    fn filed_number(&self, identifier: &Identifier) -> Option<u32> {
        let filed = &self.filed;
        self.by_identifier.find(self.hash(identifier), |n| filed.get(n).identifier == *identifier)
    }

    /// The number `identifier` is filed under, filing it if it is new; counts one more slot.
    fn file(&mut self, identifier: &Identifier) -> u32 {
        let number = match self.filed_number(identifier) {
            Some(number) => number,
            None => {
                let number =
                    self.filed.insert(Filed { identifier: identifier.clone(), list: VecDeque::new(), slots: 0 });
                self.by_identifier.insert(self.hash(identifier), number);
                number
            }
        };
        self.filed.get_mut(number).slots += 1;
        number
    }

    /// Lists `slot` under identifier `number` in its (time, key) place.
    fn list(&mut self, number: u32, slot: u32) {
        let slots = &mut self.slots;
        let filed = self.filed.get_mut(number);
        let key_of = |s: u32| {
            let kept = &slots.get(s).kept;
            (kept.at_ms, &kept.key)
        };
        let new = key_of(slot);
        // Signals mostly come in time order: after the last, without a search.
        let at = if filed.list.back().is_none_or(|last| key_of(*last) <= new) {
            filed.list.len()
        } else {
            filed.list.partition_point(|s| key_of(*s) <= new)
        };
        filed.list.insert(at, slot);
        if filed.list.len() > MAX_SIGNALS_PER_IDENTIFIER
            && let Some(oldest) = filed.list.pop_front()
        {
            let dropped = slots.get_mut(oldest);
            dropped.listed = false;
            dropped.kept.matched = false;
        }
    }

    /// Lets go of `slot`: out of every index (its list was left before) and its identifier's
    /// count; the identifier goes with its last slot.
    fn release(&mut self, slot: u32) {
        let hash = self.hash(&self.slot(slot).kept.key);
        self.by_key.remove(hash, slot);
        let held = self.slots.remove(slot);
        self.by_time.remove(&(held.kept.at_ms, slot));
        self.held -= 1;
        if held.identifier == NO_IDENTIFIER {
            return;
        }
        let number = held.identifier;
        let filed = self.filed.get_mut(number);
        if held.listed {
            // Replaced by a signal with its key (never through `decide`): out of its list.
            filed.list.retain(|s| *s != slot);
        }
        filed.slots -= 1;
        if filed.slots == 0 {
            let hash = self.hasher.hash_one(&filed.identifier);
            self.by_identifier.remove(hash, number);
            self.filed.remove(number);
        }
    }

    /// What is held, slot numbers aside: by key, the signal and where it is filed.
    fn listed_under(&self, slot: &Slot) -> Option<&Identifier> {
        (slot.identifier != NO_IDENTIFIER).then(|| &self.filed.get(slot.identifier).identifier)
    }
}

/// Equal when the same signals are held, filed under the same identifiers, listed in the same
/// order, whatever slots hold them.
impl PartialEq for Window {
    fn eq(&self, other: &Window) -> bool {
        if self.held != other.held {
            return false;
        }
        let same_slots = self.slots.iter().all(|mine| {
            let Some(theirs) = other.slot_of(&mine.kept.key).map(|s| other.slot(s)) else { return false };
            let kept = |slot: &Slot| {
                let k = &slot.kept;
                (k.person, k.at_ms, k.duration_s, k.install, slot.listed, slot.listed && k.matched)
            };
            kept(mine) == kept(theirs) && self.listed_under(mine) == other.listed_under(theirs)
        });
        let lists = |window: &Window| window.filed.iter().filter(|f| !f.list.is_empty()).count();
        same_slots
            && lists(self) == lists(other)
            && self.filed.iter().filter(|f| !f.list.is_empty()).all(|filed| {
                let theirs = other.filed_under(&filed.identifier).map(|k| &k.key);
                filed.list.iter().map(|s| &self.slot(*s).kept.key).eq(theirs)
            })
    }
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lists = f.debug_map();
        for filed in self.filed.iter() {
            let kept: Vec<&Kept> = filed.list.iter().map(|s| &self.slot(*s).kept).collect();
            lists.entry(&filed.identifier, &kept);
        }
        lists.finish()?;
        write!(f, " ({} signals held)", self.held)
    }
}

/// Values by number, in chunks of [`SLAB_CHUNK`]: growing adds a chunk and never moves what
/// is held (one vector of ten million signals would copy a gigabyte when it doubles).
struct Slab<T> {
    chunks: Vec<Vec<Option<T>>>,
    free: Vec<u32>,
}

/// Values a slab's chunk holds: 16,384 signals are ~2 MiB, allocated as they come.
const SLAB_CHUNK: usize = 1 << 14;

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab { chunks: Vec::new(), free: Vec::new() }
    }
}

impl<T> Slab<T> {
    fn insert(&mut self, value: T) -> u32 {
        if let Some(free) = self.free.pop() {
            self.chunks[free as usize / SLAB_CHUNK][free as usize % SLAB_CHUNK] = Some(value);
            return free;
        }
        if self.chunks.last().is_none_or(|chunk| chunk.len() == SLAB_CHUNK) {
            self.chunks.push(Vec::with_capacity(SLAB_CHUNK));
        }
        let number = (self.chunks.len() - 1) * SLAB_CHUNK + self.chunks.last().map_or(0, Vec::len);
        self.chunks.last_mut().expect("a chunk with room").push(Some(value));
        u32::try_from(number).expect("fewer than 2^32 values in a slab")
    }

    fn get(&self, number: u32) -> &T {
        let n = number as usize;
        self.chunks[n / SLAB_CHUNK][n % SLAB_CHUNK].as_ref().expect("a value held")
    }

    fn get_mut(&mut self, number: u32) -> &mut T {
        let n = number as usize;
        self.chunks[n / SLAB_CHUNK][n % SLAB_CHUNK].as_mut().expect("a value held")
    }

    fn remove(&mut self, number: u32) -> T {
        let n = number as usize;
        let value = self.chunks[n / SLAB_CHUNK][n % SLAB_CHUNK].take().expect("a value held");
        self.free.push(number);
        value
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten().flatten()
    }
}

/// Slot numbers by a 64-bit hash of what they hold: [`SHARDS`] tables, each entry the slot
/// and 32 bits of its hash (so a table grows without rehashing what it indexes).
#[derive(Default)]
struct Index {
    shards: Vec<HashTable<u64>>,
}

/// The shard of `hash` and the 32 bits of it an entry keeps.
fn split(hash: u64) -> (usize, u32) {
    ((hash >> (64 - SHARD_BITS)) as usize, hash as u32)
}

/// The hash a shard's table places an entry by, from the 32 bits it keeps: its low bits pick
/// the bucket, its top 7 (bits 25-31 of the kept ones) are the table's tag, apart from the
/// bucket bits below 2^25 buckets a shard.
fn placed(kept: u32) -> u64 {
    u64::from(kept) | (u64::from(kept) << 32)
}

fn entry(slot: u32, kept: u32) -> u64 {
    u64::from(slot) | (u64::from(kept) << 32)
}

fn entry_slot(entry: u64) -> u32 {
    entry as u32
}

fn entry_placed(entry: &u64) -> u64 {
    placed((entry >> 32) as u32)
}

impl Index {
    fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let (shard, kept) = split(hash);
        let table = self.shards.get(shard)?;
        table.find(placed(kept), |e| (e >> 32) as u32 == kept && is(entry_slot(*e))).map(|e| entry_slot(*e))
    }

    fn insert(&mut self, hash: u64, slot: u32) {
        if self.shards.is_empty() {
            self.shards.resize_with(SHARDS, HashTable::new);
        }
        let (shard, kept) = split(hash);
        self.shards[shard].insert_unique(placed(kept), entry(slot, kept), entry_placed);
    }

    fn remove(&mut self, hash: u64, slot: u32) {
        let (shard, kept) = split(hash);
        if let Some(table) = self.shards.get_mut(shard)
            && let Ok(found) = table.find_entry(placed(kept), |e| *e == entry(slot, kept))
        {
            found.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::Carrier;

    use super::*;
    use crate::events::{PersonId, PersonKey, Source};

    fn kept(id: &str, at_ms: TimeMs) -> Kept {
        Kept {
            key: SignalKey { source: Source::Carrier(Carrier::Cmcc), id: id.into() },
            person: PersonId { key: PersonKey(7), carrier: Some(Carrier::Cmcc) },
            at_ms,
            duration_s: 0,
            matched: false,
            install: false,
        }
    }

    fn number(text: &str) -> Identifier {
        Identifier::parse(text).unwrap()
    }

    #[test]
    fn equal_when_the_same_signals_are_held_whatever_their_slots() {
        let (x, y) = (number("phone:+8617000000000"), number("phone:+8617000000001"));
        let mut one = Window::default();
        one.hold(kept("a", 1), Some(&x));
        one.hold(kept("gone", 0), Some(&y));
        one.forget(1);
        one.hold(kept("b", 2), Some(&x));
        one.hold(kept("c", 3), None);
        let mut other = Window::default();
        other.hold(kept("c", 3), None);
        other.hold(kept("b", 2), Some(&x));
        other.hold(kept("a", 1), Some(&x));
        assert_eq!(one, other);
        assert_eq!(one.filed_under(&x).map(|k| k.key.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(one.filed_under(&y).count(), 0, "an identifier goes with its last signal");

        other.mark_matched(&x, &kept("a", 1).key, 1);
        assert_ne!(one, other, "a signal matched in one only");
        one.mark_matched(&x, &kept("a", 1).key, 1);
        assert_eq!(one, other);
        one.hold(kept("d", 4), Some(&y));
        other.hold(kept("d", 4), Some(&x));
        assert_ne!(one, other, "filed under another identifier");
    }

    #[test]
    fn the_oldest_past_the_bound_leaves_its_list_but_stays_a_duplicate_until_forgotten() {
        let x = number("phone:+8617000000000");
        let mut window = Window::default();
        for n in 0..=MAX_SIGNALS_PER_IDENTIFIER as u64 {
            window.hold(kept(&format!("s{n}"), n), Some(&x));
        }
        assert_eq!(window.filed_under(&x).count(), MAX_SIGNALS_PER_IDENTIFIER);
        assert_eq!(window.filed_under(&x).next().unwrap().key.id, "s1");
        assert!(window.contains_key(&kept("s0", 0).key));
        window.forget(1);
        assert!(!window.contains_key(&kept("s0", 0).key));
        assert_eq!(window.len(), MAX_SIGNALS_PER_IDENTIFIER);
        window.forget(u64::MAX);
        assert!(window.is_empty() && window.filed_under(&x).next().is_none());
    }
}
