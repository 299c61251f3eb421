//! The open-addressing table under the index: 96-bit fingerprints with the number of the
//! record they name, 16 bytes a slot, four to a cache line. Linear probing from the slot the
//! fingerprint's low bits pick; removal shifts the following slots back (no tombstones), so a
//! table that saw millions of lifts probes as short as a fresh one.
//!
//! The table never fills: it doubles before its load passes [`MAX_LOAD_NUM`] /
//! [`MAX_LOAD_DEN`], so every probe ends at an empty slot.

use crate::limits::{INDEX_MIN_SLOTS, LOOKUP_BATCH, MAX_INDEXED_IDENTIFIERS};

/// Load factor bound of the table (3/4): at 3/4 a miss reads about 8.5 slots on average
/// (two adjacent cache lines), a hit 2.5; past it linear probing's clusters grow fast.
pub(super) const MAX_LOAD_NUM: usize = 3;
pub(super) const MAX_LOAD_DEN: usize = 4;

/// The marker of an empty slot's record number.
const EMPTY: u32 = u32::MAX;

/// A 96-bit fingerprint of an identifier (see [`super::Key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Fingerprint {
    pub hi: u64,
    pub lo: u32,
}

#[derive(Clone, Copy)]
struct Slot {
    hi: u64,
    lo: u32,
    /// The record's number in the index's record array, or [`EMPTY`].
    record: u32,
}

const VACANT: Slot = Slot { hi: 0, lo: 0, record: EMPTY };

pub(super) struct Table {
    slots: Box<[Slot]>,
    /// `slots.len() - 1`: the length is a power of two.
    mask: usize,
    len: usize,
}

impl Table {
    /// A table holding `entries` without growing.
    pub fn with_capacity(entries: usize) -> Table {
        let entries = entries.min(MAX_INDEXED_IDENTIFIERS);
        let slots = (entries * MAX_LOAD_DEN).div_ceil(MAX_LOAD_NUM).max(INDEX_MIN_SLOTS).next_power_of_two();
        Table { slots: vec![VACANT; slots].into_boxed_slice(), mask: slots - 1, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes the slots take.
    pub fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    fn home(&self, fingerprint: Fingerprint) -> usize {
        // The fingerprint is a keyed PRF's output: its low bits are as good as any.
        (fingerprint.hi as usize) & self.mask
    }

    /// Where `fingerprint` is, or the empty slot ending its probe.
    fn probe(&self, fingerprint: Fingerprint) -> (usize, Option<u32>) {
        let at = self.home(fingerprint);
        self.probe_from(fingerprint, at, self.slots[at])
    }

    /// [`Table::probe`] from slot `at`, whose content `slot` was read already.
    #[inline]
    fn probe_from(&self, fingerprint: Fingerprint, mut at: usize, mut slot: Slot) -> (usize, Option<u32>) {
        loop {
            if slot.record == EMPTY {
                return (at, None);
            }
            if slot.hi == fingerprint.hi && slot.lo == fingerprint.lo {
                return (at, Some(slot.record));
            }
            at = (at + 1) & self.mask;
            slot = self.slots[at];
        }
    }

    /// The record `fingerprint` names.
    #[inline]
    pub fn get(&self, fingerprint: Fingerprint) -> Option<u32> {
        self.probe(fingerprint).1
    }

    /// The records `fingerprints` name, into `records` (same length). The home slots are read
    /// first, all of them, then each probe goes on from its own: the reads of the first pass do
    /// not wait for one another, so their cache misses overlap instead of following each other.
    #[inline]
    pub fn get_many(&self, fingerprints: &[Fingerprint], records: &mut [Option<u32>]) {
        assert!(fingerprints.len() <= LOOKUP_BATCH && records.len() == fingerprints.len());
        let mut homes = [(0, VACANT); LOOKUP_BATCH];
        for (home, fingerprint) in homes.iter_mut().zip(fingerprints) {
            let at = self.home(*fingerprint);
            *home = (at, self.slots[at]);
        }
        for ((record, fingerprint), (at, slot)) in records.iter_mut().zip(fingerprints).zip(homes) {
            *record = self.probe_from(*fingerprint, at, slot).1;
        }
    }

    /// Names `record` by `fingerprint`, which must not be in the table.
    pub fn insert_new(&mut self, fingerprint: Fingerprint, record: u32) {
        assert!(record != EMPTY, "record numbers stay below the empty marker");
        if (self.len + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
        }
        let (at, found) = self.probe(fingerprint);
        assert!(found.is_none(), "insert_new of a fingerprint already in the table");
        self.slots[at] = Slot { hi: fingerprint.hi, lo: fingerprint.lo, record };
        self.len += 1;
    }

    /// Takes `fingerprint` out; returns the record it named.
    pub fn remove(&mut self, fingerprint: Fingerprint) -> Option<u32> {
        let (mut hole, found) = self.probe(fingerprint);
        let record = found?;
        // Backward shift: move each following slot of the cluster into the hole when the hole
        // lies on its probe path (between its home and where it is), until an empty slot.
        let mut next = hole;
        loop {
            next = (next + 1) & self.mask;
            let slot = self.slots[next];
            if slot.record == EMPTY {
                break;
            }
            let home = (slot.hi as usize) & self.mask;
            let from_home = next.wrapping_sub(home) & self.mask;
            let from_hole = next.wrapping_sub(hole) & self.mask;
            if from_home >= from_hole {
                self.slots[hole] = slot;
                hole = next;
            }
        }
        self.slots[hole] = VACANT;
        self.len -= 1;
        Some(record)
    }

    fn grow(&mut self) {
        let doubled = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![VACANT; doubled].into_boxed_slice());
        self.mask = doubled - 1;
        for slot in old.iter().filter(|slot| slot.record != EMPTY) {
            let mut at = (slot.hi as usize) & self.mask;
            while self.slots[at].record != EMPTY {
                at = (at + 1) & self.mask;
            }
            self.slots[at] = *slot;
        }
    }

    /// The longest probe any fingerprint in the table needs, in slots: the table's health.
    pub fn longest_probe(&self) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.record != EMPTY)
            .map(|(at, slot)| (at.wrapping_sub((slot.hi as usize) & self.mask) & self.mask) + 1)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Fingerprints crowded onto a few homes (low bits from 0..8, most near the table's end),
    /// so clusters form, wrap around the end and are shifted back on removal.
    fn crowded() -> impl Strategy<Value = Fingerprint> {
        (0u64..6, prop_oneof![Just(0u64), Just(1), Just(1021), Just(1022), Just(1023)])
            .prop_map(|(high, low)| Fingerprint { hi: (high << 32) | low, lo: high as u32 })
    }

    proptest! {
        /// Inserts and removals on crowded fingerprints do what a `HashMap` does.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((crowded(), any::<bool>()), 1..400)) {
            let mut table = Table::with_capacity(0);
            let mut model = HashMap::new();
            for (n, (fingerprint, insert)) in ops.into_iter().enumerate() {
                let record = n as u32;
                if insert {
                    if model.contains_key(&fingerprint) {
                        continue;
                    }
                    table.insert_new(fingerprint, record);
                    model.insert(fingerprint, record);
                } else {
                    prop_assert_eq!(table.remove(fingerprint), model.remove(&fingerprint));
                }
                prop_assert_eq!(table.len(), model.len());
                for (fingerprint, record) in &model {
                    prop_assert_eq!(table.get(*fingerprint), Some(*record));
                }
            }
        }
    }

    #[test]
    fn grows_before_three_quarters_and_keeps_everything() {
        let mut table = Table::with_capacity(0);
        let fingerprint = |n: u64| Fingerprint { hi: n.wrapping_mul(0x9e37_79b9_7f4a_7c15), lo: n as u32 };
        for n in 0..10_000 {
            table.insert_new(fingerprint(n), n as u32);
            assert!(table.len() * MAX_LOAD_DEN <= table.slots.len() * MAX_LOAD_NUM);
        }
        assert!((0..10_000).all(|n| table.get(fingerprint(n)) == Some(n as u32)));
        assert_eq!(table.get(fingerprint(10_000)), None);
        assert_eq!(table.slots.len(), 16_384);
    }
}
