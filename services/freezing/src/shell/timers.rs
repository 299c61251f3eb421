//! The engine's timers, derived from the state (nothing else records them: a restart
//! derives them again): when each claim awaiting its conversion into a freeze is due
//! (`State::conversions`), and when each hop waiting to be asked again is
//! (`State::retries`). A timer that fired is taken out until an event about its key sets it
//! again (frozen, renewed, answered, retried once more) or ends it.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, TimeMs};
use events::freezing::HopId;

use crate::core::{self, CoreConfig, State};

/// A claim: its case and the account it is on.
pub(super) type ClaimKey = (CaseId, AccountRef);
/// A hop: its case and its number.
pub(super) type HopKey = (CaseId, HopId);

/// Keys with a due time, soonest first.
#[derive(Debug)]
pub(super) struct DueSet<K: Ord + Clone> {
    by_due: BTreeSet<(TimeMs, K)>,
    due_of: BTreeMap<K, TimeMs>,
}

impl<K: Ord + Clone> Default for DueSet<K> {
    fn default() -> Self {
        DueSet { by_due: BTreeSet::new(), due_of: BTreeMap::new() }
    }
}

impl<K: Ord + Clone> DueSet<K> {
    /// Makes `key` due at `due`, or not due at all (`None`).
    pub(super) fn set(&mut self, key: &K, due: Option<TimeMs>) {
        if let Some(old) = self.due_of.remove(key) {
            self.by_due.remove(&(old, key.clone()));
        }
        if let Some(due) = due {
            self.due_of.insert(key.clone(), due);
            self.by_due.insert((due, key.clone()));
        }
    }

    pub(super) fn next_due(&self) -> Option<TimeMs> {
        self.by_due.first().map(|(due, _)| *due)
    }

    /// Takes up to `limit` keys due at `now`, soonest first.
    pub(super) fn take_due(&mut self, now: TimeMs, limit: usize) -> Vec<K> {
        let mut due = Vec::new();
        // Called before every input the engine takes: look without cloning, take by popping.
        while due.len() < limit && self.by_due.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.by_due.pop_first() else { break };
            self.due_of.remove(&key);
            due.push(key);
        }
        due
    }
}

/// Both kinds of timer.
#[derive(Debug, Default)]
pub(super) struct Timers {
    pub(super) conversions: DueSet<ClaimKey>,
    pub(super) retries: DueSet<HopKey>,
}

impl Timers {
    pub(super) fn from_state(state: &State, config: &CoreConfig) -> Timers {
        let mut timers = Timers::default();
        for key in state.conversions.keys() {
            timers.sync_conversion(state, config, key);
        }
        for key in state.retries.keys() {
            timers.sync_retry(state, key);
        }
        timers
    }

    /// Brings a claim's timer in line with the state after an event touched it.
    pub(super) fn sync_conversion(&mut self, state: &State, config: &CoreConfig, key: &ClaimKey) {
        let due = state.conversions.get(key).map(|conversion| core::conversion_due(config, conversion));
        self.conversions.set(key, due);
    }

    /// Brings a hop's retry timer in line with the state after an event touched it.
    pub(super) fn sync_retry(&mut self, state: &State, key: &HopKey) {
        self.retries.set(key, state.retries.get(key).copied());
    }

    /// When the next timer of either kind is due.
    pub(super) fn next_due(&self) -> Option<TimeMs> {
        match (self.conversions.next_due(), self.retries.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_soonest_first_once_due_and_a_key_set_again_moves() {
        let mut set: DueSet<&str> = DueSet::default();
        set.set(&"b", Some(20));
        set.set(&"a", Some(10));
        set.set(&"c", Some(30));
        assert_eq!(set.next_due(), Some(10));
        set.set(&"c", Some(5));
        assert_eq!(set.take_due(20, 8), vec!["c", "a", "b"]);
        assert_eq!(set.next_due(), None);
        set.set(&"d", Some(40));
        set.set(&"d", None);
        assert!(set.take_due(u64::MAX, 8).is_empty(), "a key set to nothing is gone");
        set.set(&"e", Some(1));
        set.set(&"f", Some(2));
        assert_eq!(set.take_due(10, 1), vec!["e"], "the limit bounds one take");
    }
}
