//! The conversion timers: when each claim awaiting its conversion into a freeze is due,
//! derived from `State::conversions` (nothing else records them: a restart derives them
//! again), and which of them are being converted right now.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, TimeMs};

use crate::core::{self, CoreConfig, State};

pub(super) type ClaimKey = (CaseId, AccountRef);

/// The conversion timers, derived from `State::conversions` (nothing else records them: a
/// restart derives them again). A conversion handed to the shell waits in `in_flight` until
/// an event settles it (frozen, queued, failed, or renewed with a new due time).
#[derive(Default)]
pub(super) struct Conversions {
    by_due: BTreeSet<(TimeMs, ClaimKey)>,
    due_of: BTreeMap<ClaimKey, TimeMs>,
    in_flight: BTreeSet<ClaimKey>,
}

impl Conversions {
    pub(super) fn from_state(state: &State, config: &CoreConfig) -> Conversions {
        let mut conversions = Conversions::default();
        for key in state.conversions.keys() {
            conversions.sync(state, config, key);
        }
        conversions
    }

    /// Brings `key` in line with the state after an event touched it.
    pub(super) fn sync(&mut self, state: &State, config: &CoreConfig, key: &ClaimKey) {
        self.in_flight.remove(key);
        if let Some(due) = self.due_of.remove(key) {
            self.by_due.remove(&(due, key.clone()));
        }
        if let Some(conversion) = state.conversions.get(key) {
            let due = core::conversion_due(config, conversion);
            self.due_of.insert(key.clone(), due);
            self.by_due.insert((due, key.clone()));
        }
    }

    pub(super) fn next_due(&self) -> Option<TimeMs> {
        self.by_due.first().map(|(due, _)| *due)
    }

    /// Takes up to `limit` conversions due at `now` and marks them in flight.
    pub(super) fn take_due(&mut self, now: TimeMs, limit: usize) -> Vec<ClaimKey> {
        let mut due = Vec::new();
        // Called before every input the engine takes: look without cloning, take by popping.
        while due.len() < limit && self.by_due.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.by_due.pop_first() else { break };
            self.due_of.remove(&key);
            self.in_flight.insert(key.clone());
            due.push(key);
        }
        due
    }
}
