//! What freezing keeps out of memory: holds no open case has a share in, and the ids of
//! closed cases. Memory then grows with the cases in progress, not with every case the
//! center ever traced.
//!
//! The state's hot part ([`State::holds`], [`State::closed`]) is what the core reads. At
//! each snapshot the shell moves the cold part out ([`State::evict`]) into its store, in
//! the snapshot's own write: the store's cold rows and the snapshot are then the fold of the
//! same prefix of the log, and a start replays the events after it onto both. A hold is
//! brought back ([`State::warm`]) before any input or event that touches its account is
//! decided or applied; reading one that was not brought back is a bug, which debug builds
//! assert.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::report::Destination;
use domain::{AccountRef, CaseId};
use events::FreezingEvent;

use super::{Hold, Input, State};

/// Where the cold part of the state is kept (the shell's store; a map in tests).
pub trait ColdStore: Send + Sync {
    /// The hold on `account` as it was when it was moved out, if it was.
    fn hold(&self, account: &AccountRef) -> Option<Hold>;
    /// Whether `case_id` was closed and moved out.
    fn is_closed(&self, case_id: &CaseId) -> bool;
}

/// The state's cold store, if it has one (a state without one keeps everything in memory).
#[derive(Clone, Default)]
pub struct Cold(Option<Arc<dyn ColdStore>>);

impl Cold {
    pub fn new(store: Arc<dyn ColdStore>) -> Cold {
        Cold(Some(store))
    }

    fn hold(&self, account: &AccountRef) -> Option<Hold> {
        self.0.as_ref().and_then(|store| store.hold(account))
    }

    fn is_closed(&self, case_id: &CaseId) -> bool {
        self.0.as_ref().is_some_and(|store| store.is_closed(case_id))
    }
}

impl std::fmt::Debug for Cold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Cold(store)" } else { "Cold(none)" })
    }
}

/// Where the state is kept is not part of what it is.
impl PartialEq for Cold {
    fn eq(&self, _: &Cold) -> bool {
        true
    }
}

/// Holds that may be moved out at the next [`State::evict`]: those of cases closed, and those
/// brought back, since the last (the rest have an open case's share, or were kept for one). So
/// a move out looks at what changed, not at every hold in memory. Not part of what the state
/// is (a start lists every hold in memory: [`State::cool_all`]).
#[derive(Debug, Clone, Default)]
pub struct Cooling(BTreeSet<AccountRef>);

impl PartialEq for Cooling {
    fn eq(&self, _: &Cooling) -> bool {
        true
    }
}

impl Cooling {
    pub(super) fn add(&mut self, account: AccountRef) {
        self.0.insert(account);
    }
}

/// The part of the state [`State::evict`] moved out.
#[derive(Debug, Default, PartialEq)]
pub struct Evicted {
    pub holds: Vec<(AccountRef, Hold)>,
    pub closed: Vec<CaseId>,
}

impl State {
    /// The hold on `account`, which must have been brought back if it was moved out.
    pub fn hold(&self, account: &AccountRef) -> Option<&Hold> {
        let hold = self.holds.get(account);
        debug_assert!(
            hold.is_some() || self.cold.hold(account).is_none(),
            "the hold on {account} was read without being brought back"
        );
        hold
    }

    /// Whether `case_id` was closed (kept in memory, or moved out).
    pub fn is_closed(&self, case_id: &CaseId) -> bool {
        self.closed.contains(case_id) || self.cold.is_closed(case_id)
    }

    /// Brings the hold on `account` back into memory, if it was moved out.
    pub fn warm(&mut self, account: &AccountRef) {
        if !self.holds.contains_key(account)
            && let Some(hold) = self.cold.hold(account)
        {
            self.holds.insert(account.clone(), hold);
            self.cooling.add(account.clone());
        }
    }

    /// Moves out every hold no open case has a share or a claim in (of those that may have
    /// become so since the last time: [`Cooling`]), and every closed case's id: what the shell
    /// writes to its store in the same write as the events that brought the state here.
    pub fn evict(&mut self) -> Evicted {
        let candidates = std::mem::take(&mut self.cooling.0);
        let mut holds = Vec::new();
        for account in candidates {
            let Some(hold) = self.holds.get(&account) else { continue };
            let cases = &self.cases;
            let needed = cases.contains_key(&hold.case_id)
                || hold.shares.keys().chain(hold.claims.keys()).any(|case| cases.contains_key(case));
            if !needed && let Some(hold) = self.holds.remove(&account) {
                holds.push((account, hold));
            }
        }
        Evicted { holds, closed: std::mem::take(&mut self.closed).into_iter().collect() }
    }

    /// Makes every hold in memory a candidate for the next [`State::evict`] (after a start).
    pub fn cool_all(&mut self) {
        self.cooling.0.extend(self.holds.keys().cloned());
    }

    /// Sets where the state's cold part is kept.
    pub fn set_cold(&mut self, cold: Cold) {
        self.cold = cold;
    }

    /// Brings back the holds of every open hop's account, which the requests owed after a
    /// start are decided on.
    pub fn warm_open_hops(&mut self) {
        let accounts: Vec<AccountRef> = self
            .cases
            .values()
            .flat_map(|trace| trace.hops.values().filter(|hop| hop.open).filter_map(|hop| hop.account.clone()))
            .collect();
        for account in &accounts {
            self.warm(account);
        }
    }

    /// Brings back the holds `input` may touch, before it is decided.
    pub(super) fn warm_for_input(&mut self, input: &Input) {
        let hop_account = |state: &State, case_id: &CaseId, hop| {
            state.cases.get(case_id).and_then(|trace| trace.hops.get(&hop)).and_then(|hop| hop.account.clone())
        };
        let account = match input {
            Input::AccountAnswered { case_id, hop, .. } | Input::RetryDue { case_id, hop } => {
                hop_account(self, case_id, *hop)
            }
            Input::OrderResolved { result: Ok(reply), .. } => Some(reply.account.clone()),
            Input::ConversionDue { account, .. }
            | Input::FreezeAnswered { account, .. }
            | Input::StopRenewed { account, .. }
            | Input::CrossCityNotice { account, .. } => Some(account.clone()),
            Input::OrderResolved { .. } | Input::CaseReported { .. } => None,
        };
        if let Some(account) = account {
            self.warm(&account);
        }
    }

    /// Brings back the holds `event` touches, before it is applied (live, or replayed after
    /// a snapshot).
    pub(super) fn warm_for_event(&mut self, event: &FreezingEvent) {
        let target = |to: &Destination| match to {
            Destination::Account(account) => Some(account.clone()),
            Destination::Order(_) => None,
        };
        let accounts: Vec<AccountRef> = match event {
            FreezingEvent::HopOpened { target: to, .. } => target(to).into_iter().collect(),
            FreezingEvent::AccountStopped { account, .. } => std::iter::once(account.clone())
                .chain(event.onward_hops().filter_map(|(_, leg)| target(&leg.to)))
                .collect(),
            FreezingEvent::OrderResolved { account, .. }
            | FreezingEvent::AccountFrozen { account, .. }
            | FreezingEvent::StopRenewed { account, .. }
            | FreezingEvent::FreezeRetrying { account, .. }
            | FreezingEvent::FreezeAtRisk { account, .. }
            | FreezingEvent::ClaimRevised { account, .. }
            | FreezingEvent::FreezeQueued { account, .. }
            | FreezingEvent::FreezeFailed { account, .. }
            | FreezingEvent::CrossCityClaims { account, .. } => vec![account.clone()],
            FreezingEvent::TraceStarted { .. }
            | FreezingEvent::HopRetrying { .. }
            | FreezingEvent::HopEnded { .. }
            | FreezingEvent::TraceCompleted { .. } => Vec::new(),
        };
        for account in &accounts {
            self.warm(account);
        }
    }
}
