//! The open-addressing table under the index: each 32-byte slot holds a 96-bit fingerprint
//! and the facts of its identifier ([`Packed`]), two slots to a cache line, so a lookup reads
//! no record elsewhere: its home cache line and the next, together, answer it almost always
//! (one memory wait). Linear probing from the first slot of the line the fingerprint's low
//! bits pick; removal shifts the following slots back (no tombstones), so a table that saw
//! millions of lifts probes as short as a fresh one.
//!
//! The table never fills: it doubles before its load passes [`MAX_LOAD_NUM`] /
//! [`MAX_LOAD_DEN`], so every probe ends at an empty slot. A slot is empty when its facts are
//! (their tag is zero: empty facts are never stored), so an empty table is all zeros.

use super::facts::Packed;
use crate::limits::{INDEX_MIN_SLOTS, LOOKUP_BATCH, MAX_INDEXED_IDENTIFIERS};

/// Load factor bound of the table (3/4): at 3/4 a miss reads about 8.5 slots on average
/// (three adjacent cache lines), a hit 2.5; past it linear probing's clusters grow fast.
pub(super) const MAX_LOAD_NUM: usize = 3;
pub(super) const MAX_LOAD_DEN: usize = 4;

/// Slots of the largest table: the one [`MAX_INDEXED_IDENTIFIERS`] need (a loaded file's
/// header may not name more).
pub(super) const MAX_SLOTS: usize = (MAX_INDEXED_IDENTIFIERS * MAX_LOAD_DEN).div_ceil(MAX_LOAD_NUM).next_power_of_two();

/// Slots [`Table::get`] compares before it decides to probe further: two cache lines.
const FIRST_READ: usize = 4;

/// A 96-bit fingerprint of an identifier (see [`super::Key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Fingerprint {
    pub hi: u64,
    pub lo: u32,
}

/// A fingerprint and its facts. Aligned to 32 bytes so that a slot never straddles two cache
/// lines: a hit in its home slot is one memory read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(super) struct Slot {
    hi: u64,
    lo: u32,
    /// [`Packed`]'s fields, flat: nested, its alignment would pad the slot past 32 bytes.
    tag: u32,
    since: u64,
    expires: u64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == Slot::BYTES);

const VACANT: Slot = Slot { hi: 0, lo: 0, tag: 0, since: 0, expires: 0 };

impl Slot {
    /// Bytes of a slot, in memory and in a saved file.
    pub const BYTES: usize = 32;

    fn new(fingerprint: Fingerprint, facts: Packed) -> Slot {
        Slot { hi: fingerprint.hi, lo: fingerprint.lo, tag: facts.tag, since: facts.since, expires: facts.expires }
    }

    #[inline]
    fn facts(&self) -> Packed {
        Packed { tag: self.tag, since: self.since, expires: self.expires }
    }

    fn set_facts(&mut self, facts: Packed) {
        (self.tag, self.since, self.expires) = (facts.tag, facts.since, facts.expires);
    }

    #[inline]
    fn is_vacant(&self) -> bool {
        self.tag == 0
    }

    /// The slot as a file holds it: fingerprint (8 + 4 bytes), then the facts (20), little-endian.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hi.to_le_bytes());
        out.extend_from_slice(&self.lo.to_le_bytes());
        self.facts().encode(out);
    }

    /// A slot from [`Slot::encode`]'s bytes; `None` when its facts are not ones
    /// [`Packed::pack`] makes.
    pub fn decode(bytes: &[u8; Slot::BYTES]) -> Option<Slot> {
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let lo = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let slot =
            Slot::new(Fingerprint { hi: word(0), lo }, Packed::decode(bytes[12..].try_into().expect("20 bytes"))?);
        // A vacant slot is all zeros, so that an empty table is; a full one's fingerprint
        // never starts with 64 zero bits.
        if slot.is_vacant() { slot == VACANT } else { slot.hi != 0 }.then_some(slot)
    }
}

#[derive(Clone)]
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

    /// The table of `slots` as [`Table::slots`] gave them, said to hold `len` entries; checked
    /// whole (a file may be damaged): the slot count, the load, the entries counted, and that
    /// every entry is reached by a probe from its home slot.
    pub fn from_slots(slots: Vec<Slot>, len: usize) -> Result<Table, String> {
        let count = slots.len();
        if !count.is_power_of_two() || !(INDEX_MIN_SLOTS..=MAX_SLOTS).contains(&count) {
            return Err(format!("{count} slots, not a power of two from {INDEX_MIN_SLOTS} to {MAX_SLOTS}"));
        }
        if len * MAX_LOAD_DEN > count * MAX_LOAD_NUM {
            return Err(format!("{len} entries in {count} slots, over the load bound"));
        }
        let table = Table { slots: slots.into_boxed_slice(), mask: count - 1, len };
        // Walk the slots once from an empty one, keeping the length of the run of full slots
        // ending at each: an entry is reached by its probe when its home is within that run.
        let start = table.slots.iter().position(Slot::is_vacant).ok_or("no empty slot")?;
        let (mut run, mut held) = (0usize, 0usize);
        for step in 1..=count {
            let at = (start + step) & table.mask;
            let slot = &table.slots[at];
            if slot.is_vacant() {
                run = 0;
                continue;
            }
            run += 1;
            held += 1;
            if table.distance(at, slot) >= run {
                return Err(format!("the entry in slot {at} is not on its probe path"));
            }
        }
        if held != len {
            return Err(format!("{held} entries in the slots, {len} in the header"));
        }
        Ok(table)
    }

    /// All the slots, in order (what [`Table::from_slots`] takes back).
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes the slots take.
    pub fn bytes(&self) -> usize {
        self.slots.len() * Slot::BYTES
    }

    /// The slot a fingerprint's probe starts from: the first of a cache line's two, picked by
    /// the fingerprint's low bits (a keyed PRF's output: its low bits are as good as any).
    #[inline]
    fn home_of(&self, hi: u64) -> usize {
        (hi as usize) & self.mask & !1
    }

    #[inline]
    fn home(&self, fingerprint: Fingerprint) -> usize {
        self.home_of(fingerprint.hi)
    }

    /// Slots from `slot`'s home to `at`, where it is.
    fn distance(&self, at: usize, slot: &Slot) -> usize {
        at.wrapping_sub(self.home_of(slot.hi)) & self.mask
    }

    /// Where `fingerprint` is (`Ok`), or the empty slot ending its probe (`Err`).
    #[inline]
    fn probe(&self, fingerprint: Fingerprint, mut at: usize) -> Result<usize, usize> {
        loop {
            let slot = &self.slots[at];
            if slot.is_vacant() {
                return Err(at);
            }
            if slot.hi == fingerprint.hi && slot.lo == fingerprint.lo {
                return Ok(at);
            }
            at = (at + 1) & self.mask;
        }
    }

    /// The facts of `fingerprint` (a test's view of [`Table::find`]).
    #[cfg(test)]
    pub fn get(&self, fingerprint: Fingerprint) -> Option<Packed> {
        Some(self.find(fingerprint)).filter(|facts| !facts.is_empty())
    }

    /// The facts of `fingerprint`, empty when it is not in the table.
    ///
    /// Made for one lookup after another: the [`FIRST_READ`] slots from the home (its cache
    /// line and the next, read together, so about one memory wait) are compared without a
    /// branch, on the first 64 bits (an empty slot's are zero, a fingerprint's never), and the
    /// facts chosen without one; the one branch, whether to probe on, is seldom taken (a hit
    /// further on, or a miss whose four slots are all full). A processor that guesses it right
    /// runs on into the next lookup while this one's read is outstanding; a branch on the
    /// outcome, guessed wrong half the time, would throw that work away, and the fewer
    /// instructions wait on the read, the further ahead it gets.
    #[inline]
    pub fn find(&self, fingerprint: Fingerprint) -> Packed {
        let home = self.home(fingerprint);
        let (mut found, mut vacant) = (0u32, 0u32);
        for i in 0..FIRST_READ {
            let hi = self.slots[(home + i) & self.mask].hi;
            found |= u32::from(hi == fingerprint.hi) << i;
            vacant |= u32::from(hi == 0) << i;
        }
        // A match comes before any empty slot (the probe would have ended there), so the
        // lowest bit of `found` is it, if its other 32 bits match too. With none, the slot
        // read is the home again, and unused.
        let slot = &self.slots[(home + (found.trailing_zeros() as usize % FIRST_READ)) & self.mask];
        let hit = (found != 0) & (slot.lo == fingerprint.lo);
        if (found | vacant == 0) | ((found != 0) & !hit) {
            // Further on, or two fingerprints alike in 64 bits (one lookup in 2^64).
            let at = self.probe(fingerprint, home);
            return at.map_or(Packed::EMPTY, |at| self.slots[at].facts());
        }
        std::hint::select_unpredictable(hit, slot.facts(), Packed::EMPTY)
    }

    /// The facts of `fingerprints`, into `facts` (same length). The home slots are read first,
    /// all of them, then each probe goes on from its own: the reads of the first pass do not
    /// wait for one another, so their cache misses overlap instead of following each other.
    #[inline]
    pub fn get_many(&self, fingerprints: &[Fingerprint], facts: &mut [Option<Packed>]) {
        assert!(fingerprints.len() <= LOOKUP_BATCH && facts.len() == fingerprints.len());
        let mut homes = [(0, VACANT); LOOKUP_BATCH];
        for (home, fingerprint) in homes.iter_mut().zip(fingerprints) {
            let at = self.home(*fingerprint);
            *home = (at, self.slots[at]);
        }
        for ((facts, fingerprint), (at, slot)) in facts.iter_mut().zip(fingerprints).zip(homes) {
            *facts = if slot.is_vacant() {
                None
            } else if slot.hi == fingerprint.hi && slot.lo == fingerprint.lo {
                Some(slot.facts())
            } else {
                self.probe(*fingerprint, (at + 1) & self.mask).ok().map(|at| self.slots[at].facts())
            };
        }
    }

    /// Replaces the facts of `fingerprint` if it is in the table; false if it is not.
    pub fn update(&mut self, fingerprint: Fingerprint, facts: Packed) -> bool {
        assert!(!facts.is_empty(), "empty facts are taken out, not stored");
        match self.probe(fingerprint, self.home(fingerprint)) {
            Ok(at) => {
                self.slots[at].set_facts(facts);
                true
            }
            Err(_) => false,
        }
    }

    /// Adds `fingerprint` with `facts`; it must not be in the table.
    pub fn insert_new(&mut self, fingerprint: Fingerprint, facts: Packed) {
        assert!(!facts.is_empty(), "empty facts are taken out, not stored");
        assert!(fingerprint.hi != 0, "a fingerprint's first 64 bits are never zero (an empty slot's are)");
        if (self.len + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
        }
        let at = self.probe(fingerprint, self.home(fingerprint)).expect_err("insert_new of a fingerprint in the table");
        self.slots[at] = Slot::new(fingerprint, facts);
        self.len += 1;
    }

    /// Takes `fingerprint` out; returns its facts.
    pub fn remove(&mut self, fingerprint: Fingerprint) -> Option<Packed> {
        let mut hole = self.probe(fingerprint, self.home(fingerprint)).ok()?;
        let facts = self.slots[hole].facts();
        // Backward shift: move each following slot of the cluster into the hole when the hole
        // lies on its probe path (between its home and where it is), until an empty slot.
        let mut next = hole;
        loop {
            next = (next + 1) & self.mask;
            let slot = self.slots[next];
            if slot.is_vacant() {
                break;
            }
            let from_hole = next.wrapping_sub(hole) & self.mask;
            if self.distance(next, &slot) >= from_hole {
                self.slots[hole] = slot;
                hole = next;
            }
        }
        self.slots[hole] = VACANT;
        self.len -= 1;
        Some(facts)
    }

    fn grow(&mut self) {
        let doubled = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![VACANT; doubled].into_boxed_slice());
        self.mask = doubled - 1;
        for slot in old.iter().filter(|slot| !slot.is_vacant()) {
            let mut at = self.home_of(slot.hi);
            while !self.slots[at].is_vacant() {
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
            .filter(|(_, slot)| !slot.is_vacant())
            .map(|(at, slot)| self.distance(at, slot) + 1)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::index::facts::{Blocked, Facts, FraudTypes};

    /// Fingerprints crowded onto a few homes (low bits from 0..8, most near the table's end),
    /// so clusters form, wrap around the end and are shifted back on removal.
    fn crowded() -> impl Strategy<Value = Fingerprint> {
        (1u64..7, prop_oneof![Just(0u64), Just(1), Just(1021), Just(1022), Just(1023)])
            .prop_map(|(high, low)| Fingerprint { hi: (high << 32) | low, lo: high as u32 })
    }

    /// Distinct non-empty facts for each `n`.
    fn facts(n: u32) -> Packed {
        let blocked = Blocked { since_ms: 1, expires_at_ms: 2, case_count: n, fraud_types: FraudTypes::default() };
        Packed::pack(Facts { blocked: Some(blocked), pool_cards: 0 })
    }

    proptest! {
        /// Inserts, updates and removals on crowded fingerprints do what a `HashMap` does, and
        /// the table's slots make the same table again.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((crowded(), any::<bool>()), 1..400)) {
            let mut table = Table::with_capacity(0);
            let mut model = HashMap::new();
            for (n, (fingerprint, insert)) in ops.into_iter().enumerate() {
                let facts = facts(n as u32);
                if insert {
                    if !table.update(fingerprint, facts) {
                        table.insert_new(fingerprint, facts);
                    }
                    model.insert(fingerprint, facts);
                } else {
                    prop_assert_eq!(table.remove(fingerprint), model.remove(&fingerprint));
                }
                prop_assert_eq!(table.len(), model.len());
                for (fingerprint, facts) in &model {
                    prop_assert_eq!(table.get(*fingerprint), Some(*facts));
                }
            }
            let again = Table::from_slots(table.slots().to_vec(), table.len()).unwrap();
            prop_assert_eq!(again.slots(), table.slots());
        }
    }

    #[test]
    fn grows_before_three_quarters_and_keeps_everything() {
        let mut table = Table::with_capacity(0);
        let fingerprint = |n: u64| Fingerprint { hi: (n + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15), lo: n as u32 };
        for n in 0..10_000 {
            table.insert_new(fingerprint(n), facts(n as u32));
            assert!(table.len() * MAX_LOAD_DEN <= table.slots.len() * MAX_LOAD_NUM);
        }
        assert!((0..10_000).all(|n| table.get(fingerprint(n)) == Some(facts(n as u32))));
        assert_eq!(table.get(fingerprint(10_000)), None);
        assert_eq!(table.slots.len(), 16_384);
    }

    #[test]
    fn an_empty_slot_is_never_found() {
        let zero = Fingerprint { hi: 0, lo: 0 };
        let mut table = Table::with_capacity(0);
        assert_eq!(table.get(zero), None);
        table.insert_new(Fingerprint { hi: 2, lo: 0 }, facts(7));
        assert_eq!(table.get(zero), None);
        assert_eq!(table.get(Fingerprint { hi: 2, lo: 0 }), Some(facts(7)));
    }

    #[test]
    fn fingerprints_alike_in_64_bits_are_told_apart() {
        let mut table = Table::with_capacity(0);
        for lo in 0..6 {
            table.insert_new(Fingerprint { hi: 8, lo }, facts(lo));
        }
        assert!((0..6).all(|lo| table.get(Fingerprint { hi: 8, lo }) == Some(facts(lo))));
        assert_eq!(table.get(Fingerprint { hi: 8, lo: 6 }), None);
        table.remove(Fingerprint { hi: 8, lo: 0 });
        assert!((1..6).all(|lo| table.get(Fingerprint { hi: 8, lo }) == Some(facts(lo))));
    }

    #[test]
    fn slots_out_of_their_probe_path_or_miscounted_are_refused() {
        let mut table = Table::with_capacity(0);
        table.insert_new(Fingerprint { hi: 5, lo: 1 }, facts(1));
        let mut moved = table.slots().to_vec();
        moved.swap(4, 9);
        assert!(Table::from_slots(moved, 1).err().unwrap().contains("probe path"));
        assert!(Table::from_slots(table.slots().to_vec(), 2).err().unwrap().contains("header"));
        assert!(Table::from_slots(table.slots()[..1000].to_vec(), 1).err().unwrap().contains("power of two"));
    }
}
