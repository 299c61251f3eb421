//! The people with evidence, by [`PersonId`]: a hash map keyed by the person key's own bits
//! and split in [`SHARDS`] maps.
//!
//! A case that finds 50,000 people reads and writes each of them among a million and more
//! (issue 15's back-matching): a `BTreeMap` walked ~20 levels of 128-bit keys for each read.
//! A [`PersonKey`](crate::events::PersonKey) is already a keyed hash (SipHash-1-3-128 under
//! the node's secret), so its bits place it without hashing again, and nobody outside the
//! node can choose keys that collide. Split by the key's top bits, a map doubling moves a
//! 256th of the people at a time (~5,000 at a million, well under a millisecond), where one
//! map would move them all in one step. Nothing walks people in an order that matters:
//! [`People::iter`] is in no order; `Debug` prints them in person order.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use super::state::Person;
use crate::events::PersonId;

/// Maps people are split into, by the top bits of their key.
const SHARDS: usize = 256;
/// Bits of a key that pick the shard (the top ones of its 128).
const SHARD_SHIFT: u32 = 128 - SHARDS.trailing_zeros();

/// People with evidence. See the module's documentation.
#[derive(Default)]
pub struct People {
    /// Empty until the first person (a state is made often, in tests and at each start).
    shards: Vec<HashMap<PersonId, Person, BuildHasherDefault<KeyBits>>>,
    len: usize,
}

impl People {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, who: &PersonId) -> Option<&Person> {
        self.shards.get(shard(who))?.get(who)
    }

    pub fn get_mut(&mut self, who: &PersonId) -> Option<&mut Person> {
        self.shards.get_mut(shard(who))?.get_mut(who)
    }

    /// `who`, added with no evidence if new.
    pub fn get_or_default(&mut self, who: PersonId) -> &mut Person {
        if self.shards.is_empty() {
            self.shards.resize_with(SHARDS, HashMap::default);
        }
        match self.shards[shard(&who)].entry(who) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(vacant) => {
                self.len += 1;
                vacant.insert(Person::default())
            }
        }
    }

    /// Keeps the people `keep` says to; returns how many left.
    pub fn retain(&mut self, mut keep: impl FnMut(&Person) -> bool) -> usize {
        let before = self.len;
        for shard in &mut self.shards {
            shard.retain(|_, person| keep(person));
        }
        self.len = self.shards.iter().map(HashMap::len).sum();
        before - self.len
    }

    /// Every person, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&PersonId, &Person)> {
        self.shards.iter().flatten()
    }

    /// Makes room for `more` people in the shards they fall in: a case's new people, so no
    /// map grows more than once in its step.
    pub fn reserve_for<'p>(&mut self, people: impl Iterator<Item = &'p PersonId>) {
        if self.shards.is_empty() {
            self.shards.resize_with(SHARDS, HashMap::default);
        }
        let mut more = [0usize; SHARDS];
        for who in people {
            more[shard(who)] += 1;
        }
        for (map, more) in self.shards.iter_mut().zip(more) {
            map.reserve(more);
        }
    }
}

fn shard(who: &PersonId) -> usize {
    (who.key.0 >> SHARD_SHIFT) as usize
}

impl PartialEq for People {
    fn eq(&self, other: &People) -> bool {
        self.len == other.len && self.iter().all(|(who, person)| other.get(who) == Some(person))
    }
}

impl fmt::Debug for People {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut people: Vec<(&PersonId, &Person)> = self.iter().collect();
        people.sort_unstable_by_key(|(who, _)| **who);
        f.debug_map().entries(people).finish()
    }
}

impl std::ops::Index<&PersonId> for People {
    type Output = Person;

    fn index(&self, who: &PersonId) -> &Person {
        self.get(who).unwrap_or_else(|| panic!("no person {who}"))
    }
}

/// Hashes a [`PersonId`] by its key's bits: the key is a keyed 128-bit hash already. Its
/// carrier (written after the key, as small numbers) is folded in.
#[derive(Default)]
pub struct KeyBits(u64);

impl Hasher for KeyBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 ^= (value as u64) ^ ((value >> 64) as u64);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(7) ^ value;
    }

    fn write_u8(&mut self, value: u8) {
        self.write_u64(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn write_isize(&mut self, value: isize) {
        self.write_u64(value as u64);
    }
}
