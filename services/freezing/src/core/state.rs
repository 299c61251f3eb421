//! What freezing knows, rebuilt from its log at start, and how each event changes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::report::Destination;
use domain::{AccountRef, CaseId, Fen, TimeMs};
use events::FreezingEvent;
use events::freezing::{HopId, OnwardLeg};
use events::province::CrossCityClaim;

use serde::{Deserialize, Serialize};

use super::cold::{Cold, Cooling};
use super::joint::Share;
use crate::limits::MAX_FREEZE_PARTS;
use crate::rule;

/// Everything freezing knows, rebuilt from its event log at start.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    // B-trees, not hash maps: these grow with every case and every stop, and a hash map
    // rehashes all of itself when it doubles (over 100,000 holds, the engine stopped for tens
    // of ms each time); a B-tree grows one node at a time.
    pub cases: BTreeMap<CaseId, CaseTrace>,
    /// Accounts this center holds under a stop-payment, with the claims on them.
    pub holds: BTreeMap<AccountRef, Hold>,
    /// Claims still to be converted into a freeze: the shell's conversion timers are
    /// derived from this (nothing else records them), so a restart has them again.
    pub conversions: BTreeMap<(CaseId, AccountRef), Conversion>,
    /// Hops waiting to be asked again, with when: the shell's retry timers are derived from
    /// this, as the conversion timers are from `conversions`.
    pub retries: BTreeMap<(CaseId, HopId), TimeMs>,
    /// Cases closed: traced, and every claim converted. Their traces are released; only the
    /// id is kept, so that a case is traced once, and until the next snapshot moves it out.
    pub closed: BTreeSet<CaseId>,
    /// Where holds no open case needs, and closed cases' ids, are kept out of memory (cold.rs).
    #[serde(skip)]
    pub cold: Cold,
    /// Holds to look at when the cold part is next moved out.
    #[serde(skip)]
    pub cooling: Cooling,
    /// Claims in `conversions` at risk (`at_risk`), kept on apply for the node's metrics;
    /// not saved: [`State::recount_at_risk`] after a snapshot is read.
    #[serde(skip)]
    claims_at_risk: usize,
}

impl State {
    /// Claims awaiting their freeze whose stop may lapse first: each raised
    /// `freeze_at_risk` under the stop in force.
    pub fn claims_at_risk(&self) -> usize {
        self.claims_at_risk
    }

    /// Counts the claims at risk again from `conversions` (a state read from a snapshot).
    pub fn recount_at_risk(&mut self) {
        self.claims_at_risk = self.conversions.values().filter(|c| c.at_risk).count();
    }
}

/// One case's trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseTrace {
    pub reported_at_ms: TimeMs,
    pub reported_loss: Fen,
    pub hops: BTreeMap<HopId, Hop>,
    /// The hop that followed each account of this case.
    pub accounts: HashMap<AccountRef, HopId>,
    pub open_hops: usize,
    pub completed: bool,
    pub accounts_stopped: u32,
    pub claimed: Fen,
    pub cashed_out: Fen,
    pub untraced: Fen,
    /// When the last stop that held victim money was answered.
    pub last_hold_ms: Option<TimeMs>,
    /// Claims of the case awaiting their conversion into a freeze.
    pub claims_pending: usize,
}

/// One place the money went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub parent: Option<HopId>,
    pub depth: u8,
    pub target: Destination,
    /// The bank account, once known (at once, or after the order was resolved).
    pub account: Option<AccountRef>,
    /// Victim money traced into the account: this hop's own, plus that of hops merged into it.
    pub traced: Fen,
    pub since_ms: TimeMs,
    /// Each arrival of victim money this hop follows.
    pub arrivals: Vec<rule::Arrival>,
    pub open: bool,
    /// Set while the hop's bank or platform could not answer for now and it waits to be
    /// asked again.
    pub retry: Option<HopRetry>,
}

impl Hop {
    /// From when its account's statement is asked for: [`rule::ARRIVAL_WINDOW_MS`] before
    /// the earliest arrival it follows, so an arrival booked earlier than it was said to
    /// arrive is in it.
    pub fn statement_since(&self) -> TimeMs {
        let earliest = self.arrivals.iter().map(|a| a.at_ms).min().unwrap_or(self.since_ms);
        earliest.saturating_sub(rule::ARRIVAL_WINDOW_MS)
    }
}

/// A hop waiting to be asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopRetry {
    /// Failed attempts so far.
    pub attempt: u32,
    /// When the hop failed first: its retries are bounded from then.
    pub first_failed_at_ms: TimeMs,
    pub retry_at_ms: TimeMs,
}

/// A claim waiting for its conversion into a freeze. A claim on an account this center
/// already froze for another case gets its own freeze request too: the bank queues it
/// behind the first (轮候冻结), so it takes over when that freeze ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// When the stop, or its renewal, that holds the money was made. `None` for a renewal
    /// recorded before this was kept.
    pub since_ms: Option<TimeMs>,
    /// When that stop lapses.
    pub expires_at_ms: TimeMs,
    /// The center's stop the claim's freeze is asked for under: part of the freeze's request
    /// id, which changes only with this service's own renewal of the stop.
    pub stop_no: u8,
    /// The part of the claim frozen already (or settled otherwise — queued, or failed for
    /// good — before more of the case's money was traced to the account): a bank that froze
    /// less than was asked for (the rest of the balance held by other freezes) is asked to
    /// freeze the rest, and money traced to the account later gets a freeze of its own.
    pub frozen: Fen,
    /// Partial freezes so far (bounded by [`crate::limits::MAX_FREEZE_PARTS`]).
    pub parts: u8,
    /// Set while the freeze, or the renewal, failed for now and waits to be asked again.
    pub retry: Option<FreezeRetry>,
    /// Whether `freeze_at_risk` was raised under the stop now in force.
    pub at_risk: bool,
}

impl Conversion {
    /// A claim held by the center's `stop_no`-th stop, made at `since_ms` (when known) and
    /// lapsing at `expires_at_ms`.
    pub fn held(since_ms: Option<TimeMs>, expires_at_ms: TimeMs, stop_no: u8) -> Conversion {
        Conversion { since_ms, expires_at_ms, stop_no, frozen: Fen::ZERO, parts: 0, retry: None, at_risk: false }
    }
}

/// A freeze waiting to be asked for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeRetry {
    /// Failed attempts under the stop in force.
    pub attempt: u32,
    pub retry_at_ms: TimeMs,
}

/// An account this center holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// The case whose stop-payment holds it.
    pub case_id: CaseId,
    pub stop_no: u8,
    pub held: Fen,
    pub expires_at_ms: TimeMs,
    /// Victim claims on the held money, per case.
    pub claims: BTreeMap<CaseId, Fen>,
    /// Until when this center's latest freeze on the account holds (six months from it). It
    /// spares no stop: a freeze holds the amount it froze, not the account, so a case reaching
    /// the account once the stop lapsed stops it again while a stop is left (actions.rs).
    pub frozen_until_ms: Option<TimeMs>,
    /// Each case's money recorded in the account, which the tracing rule splits together
    /// when a case reads it (joint.rs).
    pub shares: BTreeMap<CaseId, Share>,
    /// Every city's claim on the account when cases of other cities stopped it too, as the
    /// province coordinator last told (`cross_city_claims`), earliest first stop first;
    /// empty while only this city claims it. Last, and defaulted: snapshots and cold rows
    /// written before it was kept read as holds no other city claims.
    #[serde(default)]
    pub cross_city_claims: Vec<CrossCityClaim>,
}

/// A place money went to, about to become a hop.
pub(super) struct NewHop {
    pub(super) parent: Option<HopId>,
    pub(super) depth: u8,
    pub(super) target: Destination,
    pub(super) traced: Fen,
    pub(super) since_ms: TimeMs,
    pub(super) arrival: Option<String>,
}

impl NewHop {
    /// The hop following an onward leg of `parent`'s account, one level deeper.
    pub(super) fn onward(parent: HopId, parent_depth: u8, leg: &OnwardLeg) -> NewHop {
        NewHop {
            parent: Some(parent),
            depth: parent_depth.saturating_add(1),
            target: leg.to.clone(),
            traced: leg.amount_fen,
            since_ms: leg.at_ms,
            arrival: Some(leg.transfer_id.clone()),
        }
    }
}

/// Records an opened hop in its case's trace.
fn record_hop(trace: &mut CaseTrace, hop: HopId, new: NewHop) {
    let account = match &new.target {
        Destination::Account(account) => {
            trace.accounts.entry(account.clone()).or_insert(hop);
            Some(account.clone())
        }
        Destination::Order(_) => None,
    };
    let hop_state = Hop {
        parent: new.parent,
        depth: new.depth,
        target: new.target,
        account,
        traced: new.traced,
        since_ms: new.since_ms,
        arrivals: vec![rule::Arrival { transfer_id: new.arrival, amount: new.traced, at_ms: new.since_ms }],
        open: true,
        retry: None,
    };
    trace.hops.insert(hop, hop_state);
    trace.open_hops += 1;
}

pub fn apply(state: &mut State, event: &FreezingEvent) {
    state.warm_for_event(event);
    match event {
        FreezingEvent::TraceStarted { case_id, reported_at_ms, reported_loss_fen } => {
            state.cases.entry(case_id.clone()).or_insert_with(|| CaseTrace {
                reported_at_ms: *reported_at_ms,
                reported_loss: *reported_loss_fen,
                hops: BTreeMap::new(),
                accounts: HashMap::new(),
                open_hops: 0,
                completed: false,
                accounts_stopped: 0,
                claimed: Fen::ZERO,
                cashed_out: Fen::ZERO,
                untraced: Fen::ZERO,
                last_hold_ms: None,
                claims_pending: 0,
            });
        }
        FreezingEvent::HopOpened { case_id, hop, parent, depth, target, traced_fen, since_ms, arrival_transfer_id } => {
            let new = NewHop {
                parent: *parent,
                depth: *depth,
                target: target.clone(),
                traced: *traced_fen,
                since_ms: *since_ms,
                arrival: arrival_transfer_id.clone(),
            };
            record_hop(case_mut(state, case_id), *hop, new);
        }
        FreezingEvent::OrderResolved { case_id, hop, account, settled_at_ms, transfer_id, .. } => {
            state.retries.remove(&(case_id.clone(), *hop));
            let trace = case_mut(state, case_id);
            trace.accounts.entry(account.clone()).or_insert(*hop);
            let hop = trace.hops.get_mut(hop).expect("resolved hop was opened");
            hop.account = Some(account.clone());
            hop.since_ms = *settled_at_ms;
            hop.arrivals = vec![rule::Arrival {
                transfer_id: Some(transfer_id.clone()),
                amount: hop.traced,
                at_ms: *settled_at_ms,
            }];
            hop.retry = None;
        }
        FreezingEvent::HopRetrying { case_id, hop, attempt, first_failed_at_ms, retry_at_ms, .. } => {
            let retry =
                HopRetry { attempt: *attempt, first_failed_at_ms: *first_failed_at_ms, retry_at_ms: *retry_at_ms };
            case_mut(state, case_id).hops.get_mut(hop).expect("a retried hop was opened").retry = Some(retry);
            state.retries.insert((case_id.clone(), *hop), *retry_at_ms);
        }
        FreezingEvent::AccountStopped {
            case_id,
            hop,
            account,
            stop_no,
            held_fen,
            claim_fen,
            cashed_out_fen,
            stopped_at_ms,
            expires_at_ms,
            ..
        } => {
            state.retries.remove(&(case_id.clone(), *hop));
            let trace = case_mut(state, case_id);
            close_hop(trace, *hop);
            let stopped = trace.hops.get(hop).expect("stopped hop was opened");
            let (depth, arrivals) = (stopped.depth, stopped.arrivals.clone());
            for (next, leg) in event.onward_hops() {
                record_hop(trace, next, NewHop::onward(*hop, depth, leg));
            }
            trace.accounts_stopped += 1;
            trace.claimed = trace.claimed.checked_add(*claim_fen).expect("claims are bounded by the loss");
            trace.cashed_out = trace.cashed_out.checked_add(*cashed_out_fen).expect("bounded by the loss");
            if !claim_fen.is_zero() {
                trace.last_hold_ms = Some(trace.last_hold_ms.map_or(*stopped_at_ms, |t| t.max(*stopped_at_ms)));
            }
            let hold = state.holds.entry(account.clone()).or_insert_with(|| Hold {
                case_id: case_id.clone(),
                stop_no: *stop_no,
                held: *held_fen,
                expires_at_ms: *expires_at_ms,
                claims: BTreeMap::new(),
                frozen_until_ms: None,
                shares: BTreeMap::new(),
                cross_city_claims: Vec::new(),
            });
            let share = hold.shares.entry(case_id.clone()).or_default();
            share.arrivals.extend(arrivals);
            share.cashed_out = share.cashed_out.saturating_add(*cashed_out_fen);
            // The balance last read, by a stop or by a read for another case. Each claim is
            // capped by the balance when it is made; the balance may fall below the claims
            // later (a stop that lapsed before its freeze), which the claims still record.
            hold.held = *held_fen;
            if *stop_no > 0 {
                hold.stop_no = *stop_no;
                hold.expires_at_ms = *expires_at_ms;
            }
            if !claim_fen.is_zero() {
                // A case claims an account again for money that arrived after its first read.
                let claim = hold.claims.entry(case_id.clone()).or_insert(Fen::ZERO);
                let before = *claim;
                *claim = claim.saturating_add(*claim_fen);
                let since = if *stop_no > 0 { Some(*stopped_at_ms) } else { None };
                match state.conversions.get_mut(&(case_id.clone(), account.clone())) {
                    // Awaiting its freeze: the freeze asks for the whole claim not frozen yet.
                    Some(conversion) => {
                        if *stop_no > 0 {
                            (conversion.since_ms, conversion.expires_at_ms) = (since, *expires_at_ms);
                        }
                    }
                    // The earlier claim was settled: the new part gets a freeze of its own.
                    None => {
                        let settled = hold.shares.get(case_id).map_or(before, |share| share.settled);
                        if *claim > settled {
                            let mut conversion =
                                Conversion::held(Some(*stopped_at_ms), hold.expires_at_ms, hold.stop_no);
                            conversion.frozen = settled;
                            put_conversion(state, (case_id.clone(), account.clone()), conversion);
                        }
                    }
                }
            }
        }
        FreezingEvent::HopEnded { case_id, hop, merged_into, .. } => {
            state.retries.remove(&(case_id.clone(), *hop));
            let trace = case_mut(state, case_id);
            let ended = trace.hops.get(hop).expect("ended hop was opened");
            let (traced, arrivals) = (ended.traced, ended.arrivals.clone());
            match merged_into.and_then(|into| trace.hops.get_mut(&into)).filter(|h| h.open) {
                Some(into) => {
                    into.traced = into.traced.checked_add(traced).expect("bounded by the loss");
                    into.arrivals.extend(arrivals);
                }
                None => trace.untraced = trace.untraced.checked_add(traced).expect("bounded by the loss"),
            }
            close_hop(trace, *hop);
        }
        FreezingEvent::TraceCompleted { case_id, .. } => {
            case_mut(state, case_id).completed = true;
            release_if_closed(state, case_id);
        }
        FreezingEvent::AccountFrozen { case_id, account, frozen_fen, expires_at_ms, .. } => {
            let key = (case_id.clone(), account.clone());
            let claim = state.holds.get(account).and_then(|hold| hold.claims.get(case_id)).copied();
            if let Some(hold) = state.holds.get_mut(account) {
                hold.frozen_until_ms = Some(hold.frozen_until_ms.map_or(*expires_at_ms, |t| t.max(*expires_at_ms)));
            }
            // The rest of a claim frozen in part is asked for again, unless the bank froze
            // nothing (nothing is free, and no freeze holds it for a claim to queue behind)
            // or the parts reached their bound: the claim is recorded as far as it holds.
            let rest = state.conversions.get_mut(&key).filter(|_| !frozen_fen.is_zero()).and_then(|conversion| {
                conversion.frozen = conversion.frozen.saturating_add(*frozen_fen);
                conversion.parts = conversion.parts.saturating_add(1);
                conversion.retry = None;
                let short = claim.is_some_and(|claim| conversion.frozen < claim);
                (short && conversion.parts < MAX_FREEZE_PARTS).then_some(())
            });
            if rest.is_none() {
                take_conversion(state, &key);
            }
        }
        FreezingEvent::StopRenewed { case_id, account, stop_no, expires_at_ms, renewed_at_ms } => {
            if let Some(hold) = state.holds.get_mut(account) {
                hold.stop_no = *stop_no;
                hold.expires_at_ms = *expires_at_ms;
            }
            let key = (case_id.clone(), account.clone());
            let frozen = state.conversions.get(&key).map(|c| (c.frozen, c.parts));
            let mut conversion = Conversion::held(*renewed_at_ms, *expires_at_ms, *stop_no);
            if let Some((frozen, parts)) = frozen {
                (conversion.frozen, conversion.parts) = (frozen, parts);
            }
            put_conversion(state, key, conversion);
        }
        FreezingEvent::FreezeRetrying { case_id, account, attempt, retry_at_ms, .. } => {
            if let Some(conversion) = state.conversions.get_mut(&(case_id.clone(), account.clone())) {
                conversion.retry = Some(FreezeRetry { attempt: *attempt, retry_at_ms: *retry_at_ms });
            }
        }
        FreezingEvent::FreezeAtRisk { case_id, account, .. } => {
            if let Some(conversion) = state.conversions.get_mut(&(case_id.clone(), account.clone()))
                && !conversion.at_risk
            {
                conversion.at_risk = true;
                state.claims_at_risk += 1;
            }
        }
        FreezingEvent::ClaimRevised { case_id, account, previous_fen, claim_fen, revised_at_ms, .. } => {
            if let Some(trace) = state.cases.get_mut(case_id) {
                trace.claimed = trace.claimed.saturating_sub(*previous_fen).saturating_add(*claim_fen);
            }
            let Some(hold) = state.holds.get_mut(account) else { return };
            hold.claims.insert(case_id.clone(), *claim_fen);
            let settled = hold.shares.get(case_id).map_or(*previous_fen, |share| share.settled);
            let (stop_no, expires_at_ms) = (hold.stop_no, hold.expires_at_ms);
            let key = (case_id.clone(), account.clone());
            match state.conversions.get(&key) {
                // Frozen already as far as the claim now goes: nothing is left to freeze.
                Some(conversion) if conversion.frozen >= *claim_fen => take_conversion(state, &key),
                Some(_) => {}
                // The claim was settled and grew past it: the new part gets a freeze of its own.
                None if *claim_fen > settled => {
                    let mut conversion = Conversion::held(Some(*revised_at_ms), expires_at_ms, stop_no);
                    conversion.frozen = settled;
                    put_conversion(state, key, conversion);
                }
                None => {}
            }
        }
        FreezingEvent::FreezeQueued { case_id, account, .. } | FreezingEvent::FreezeFailed { case_id, account, .. } => {
            take_conversion(state, &(case_id.clone(), account.clone()));
        }
        FreezingEvent::CrossCityClaims { account, claims, .. } => {
            if let Some(hold) = state.holds.get_mut(account) {
                hold.cross_city_claims = claims.clone();
            }
        }
    }
}

/// Records a claim awaiting its conversion, counting it in its case.
fn put_conversion(state: &mut State, key: (CaseId, AccountRef), conversion: Conversion) {
    let case_id = key.0.clone();
    let at_risk = conversion.at_risk;
    let replaced = state.conversions.insert(key, conversion);
    state.claims_at_risk =
        state.claims_at_risk + usize::from(at_risk) - usize::from(replaced.as_ref().is_some_and(|old| old.at_risk));
    if replaced.is_none()
        && let Some(trace) = state.cases.get_mut(&case_id)
    {
        trace.claims_pending += 1;
    }
}

/// A claim awaits its conversion no more; its case is released if that was its last.
fn take_conversion(state: &mut State, key: &(CaseId, AccountRef)) {
    let Some(conversion) = state.conversions.remove(key) else { return };
    state.claims_at_risk -= usize::from(conversion.at_risk);
    // Settled as far as it was frozen, or as the claim went (queued, failed, or its parts
    // spent): a later part of the claim is frozen from there, under a request id never used.
    if let Some(hold) = state.holds.get_mut(&key.1) {
        let claim = hold.claims.get(&key.0).copied().unwrap_or(Fen::ZERO);
        let share = hold.shares.entry(key.0.clone()).or_default();
        share.settled = share.settled.max(conversion.frozen).max(claim);
    }
    if let Some(trace) = state.cases.get_mut(&key.0) {
        trace.claims_pending = trace.claims_pending.saturating_sub(1);
        release_if_closed(state, &key.0);
    }
}

/// A case whose trace is complete and whose every claim was converted is closed: nothing
/// can change it any more, and all that is kept of it is its id (so that it is not traced
/// twice).
fn release_if_closed(state: &mut State, case_id: &CaseId) {
    if state.cases.get(case_id).is_some_and(|trace| trace.completed && trace.claims_pending == 0)
        && let Some(trace) = state.cases.remove(case_id)
    {
        // Its holds may be needed by no open case now.
        for account in trace.accounts.into_keys() {
            state.cooling.add(account);
        }
        state.closed.insert(case_id.clone());
    }
}

fn case_mut<'a>(state: &'a mut State, case_id: &CaseId) -> &'a mut CaseTrace {
    state.cases.get_mut(case_id).expect("events of a case follow its TraceStarted")
}

fn close_hop(trace: &mut CaseTrace, hop: HopId) {
    let hop = trace.hops.get_mut(&hop).expect("closed hop was opened");
    assert!(hop.open, "a hop ends once");
    hop.open = false;
    hop.retry = None;
    trace.open_hops -= 1;
}
