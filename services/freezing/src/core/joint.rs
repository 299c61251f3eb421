//! An account several cases' money reached: the tracing rule runs over all of them at once
//! ([`rule::split_joint`]), so that money leaving a mixed account is followed for the
//! victims whose money it carried, and each case's claim is its share of what is held — not
//! all of it, as when each case took the other victims' money as leaving first.
//!
//! When a case reads the account, every other case with money recorded in it (up to
//! [`MAX_CASES_IN_RULE`]) is split again with it: a claim that changes is recorded as
//! `claim_revised`, and money of another case found to have left the account is followed by
//! hops of that case while its trace is not complete.

use std::collections::HashMap;

use domain::report::Destination;
use domain::{AccountRef, CaseId, Fen, TimeMs};
use events::FreezingEvent;
use events::freezing::{HopId, OnwardLeg};
use protocol::adapter::{Counterparty, StatementEntry};

use super::decide::{Opened, open_hop};
use super::state::NewHop;
use super::{CaseTrace, CoreConfig, Hold, Hop, State, Statement};
use crate::limits::MAX_CASES_IN_RULE;
use crate::rule::{self, Arrival, Split};

/// Money of one case recorded in a held account: the arrivals its readings followed there,
/// and what the rule found cashed out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Share {
    pub arrivals: Vec<Arrival>,
    pub cashed_out: Fen,
    /// The part of the case's claim whose conversion ended (frozen, queued, or failed for
    /// good): a later part is frozen from here, under the request id `…/after<settled>`.
    pub settled: Fen,
}

impl Share {
    /// From when a statement must start to hold every arrival of this share.
    fn since_ms(&self) -> Option<TimeMs> {
        self.arrivals.iter().map(|a| a.at_ms.saturating_sub(rule::ARRIVAL_WINDOW_MS)).min()
    }
}

/// The other cases a reading of `hold` by `case_id` splits together with its own money:
/// those with money recorded in the account (the first [`MAX_CASES_IN_RULE`] − 1, by case
/// id) whose arrivals a statement from `since_ms` holds (any, when `None`).
fn others<'a>(hold: &'a Hold, case_id: &CaseId, since_ms: Option<TimeMs>) -> Vec<(&'a CaseId, &'a Share)> {
    hold.shares
        .iter()
        .filter(|(other, _)| *other != case_id)
        .take(MAX_CASES_IN_RULE - 1)
        .filter(|(_, share)| since_ms.is_none_or(|since| share.since_ms().is_none_or(|s| s >= since)))
        .collect()
}

/// From when a reading of `account` for `hop` of `case_id` asks for the statement: the
/// hop's own start, or earlier to hold the arrivals of the other cases split with it.
pub fn statement_since(state: &State, case_id: &CaseId, hop: &Hop, account: &AccountRef) -> TimeMs {
    let own = hop.statement_since();
    let Some(hold) = state.hold(account) else { return own };
    let own_before = hold.shares.get(case_id).and_then(Share::since_ms);
    others(hold, case_id, None)
        .iter()
        .filter_map(|(_, share)| share.since_ms())
        .chain(own_before)
        .fold(own, TimeMs::min)
}

/// What a reading of an account decides for each case in it.
pub(super) struct Reading {
    /// The reading case's money in the account, all of it (earlier readings' too).
    pub(super) own: Split,
    /// The reading case's claim and cash-out recorded before, which `own` replaces (zero
    /// when the statement does not hold its earlier money: that claim stands as it is).
    pub(super) own_claim_before: Fen,
    pub(super) own_cashed_before: Fen,
    /// Whether `own` holds the case's earlier money in the account too: then the legs the
    /// case already follows from it are not opened again.
    pub(super) own_whole: bool,
    /// Every other case split with it: its claim before, and its split now.
    pub(super) others: Vec<(CaseId, Fen, Split)>,
}

/// Splits the money in `account`, as `statement` shows it, among `case_id` (its arrivals
/// recorded there and those of `hop`) and the other cases with money in it.
pub(super) fn read(
    state: &State,
    config: &CoreConfig,
    case_id: &CaseId,
    hop: &Hop,
    account: &AccountRef,
    statement: &Statement,
) -> Reading {
    let hold = state.hold(account);
    let claim_of = |case: &CaseId| hold.and_then(|h| h.claims.get(case)).copied().unwrap_or(Fen::ZERO);
    let covered = |share: &&Share| share.since_ms().is_none_or(|since| since >= statement.since_ms);
    // The case's own earlier money there, when the statement holds it: else its earlier
    // claim is taken as it stands, like another case's outside the statement.
    let own_share = hold.and_then(|h| h.shares.get(case_id)).filter(covered);
    let others: Vec<(&CaseId, &Share)> = hold.map(|h| others(h, case_id, Some(statement.since_ms))).unwrap_or_default();
    let split_here = |case: &CaseId| (case == case_id && own_share.is_some()) || others.iter().any(|(o, _)| *o == case);
    // Claims of cases not split here (their money not in this statement, beyond the bound,
    // or recorded before arrivals were) are held first.
    let fixed =
        hold.map_or(Ok(Fen::ZERO), |h| Fen::sum(h.claims.iter().filter(|(c, _)| !split_here(c)).map(|(_, f)| *f)));
    // Summed past 64 bits they leave nothing either way.
    let available = statement.held.saturating_sub(fixed.unwrap_or(Fen::new(u64::MAX)));
    let mut arrivals: Vec<(usize, Arrival)> =
        own_share.iter().flat_map(|s| &s.arrivals).map(|a| (0, a.clone())).collect();
    arrivals.extend(hop.arrivals.iter().map(|a| (0, a.clone())));
    for (index, (_, share)) in others.iter().enumerate() {
        arrivals.extend(share.arrivals.iter().map(|a| (index + 1, a.clone())));
    }
    let mut splits =
        rule::split_joint(config.rule, others.len() + 1, &arrivals, &statement.entries, available).into_iter();
    let own = splits.next().expect("one split per case");
    Reading {
        own,
        own_claim_before: own_share.map_or(Fen::ZERO, |_| claim_of(case_id)),
        own_cashed_before: own_share.map_or(Fen::ZERO, |s| s.cashed_out),
        own_whole: own_share.is_some(),
        others: others
            .into_iter()
            .zip(splits)
            .map(|((other, _), split)| (other.clone(), claim_of(other), split))
            .collect(),
    }
}

/// The onward legs of `onward` (statement index, amount), less what `trace` already follows
/// from `account` to the same place; cash-outs are no legs.
pub(super) fn legs(
    entries: &[StatementEntry],
    onward: &[(usize, Fen)],
    trace: Option<&CaseTrace>,
    account: &AccountRef,
) -> Vec<OnwardLeg> {
    let mut followed = trace.map(|t| followed_from(t, account)).unwrap_or_default();
    onward
        .iter()
        .filter_map(|(index, amount)| {
            let entry = &entries[*index];
            let to = match &entry.counterparty {
                Counterparty::Account(a) => Destination::Account(a.clone()),
                Counterparty::Order(o) => Destination::Order(o.clone()),
                Counterparty::CashOut(_) => return None,
            };
            let already = followed.entry(to.clone()).or_insert(Fen::ZERO);
            let covered = (*already).min(*amount);
            *already = already.saturating_sub(covered);
            let amount_fen = amount.saturating_sub(covered);
            (!amount_fen.is_zero()).then(|| OnwardLeg {
                to,
                amount_fen,
                at_ms: entry.at_ms,
                transfer_id: entry.transfer_id.clone(),
            })
        })
        .collect()
}

/// Money `trace` follows from `account` onward, per place.
fn followed_from(trace: &CaseTrace, account: &AccountRef) -> HashMap<Destination, Fen> {
    let mut followed: HashMap<Destination, Fen> = HashMap::new();
    let from_account =
        |hop: &Hop| hop.parent.and_then(|p| trace.hops.get(&p)).and_then(|p| p.account.as_ref()) == Some(account);
    for hop in trace.hops.values().filter(|h| from_account(h)) {
        let sum = followed.entry(hop.target.clone()).or_insert(Fen::ZERO);
        *sum = sum.saturating_add(hop.traced);
    }
    followed
}

/// The `claim_revised` of each other case whose claim the reading changed, and the hops
/// following its money that left the account (while its trace is not complete).
#[allow(clippy::too_many_arguments, reason = "the pieces of one decision, named at the call sites")]
pub(super) fn revisions(
    events: &mut Vec<FreezingEvent>,
    state: &State,
    config: &CoreConfig,
    reading: &Reading,
    entries: &[StatementEntry],
    account: &AccountRef,
    by_case: &CaseId,
    by_hop: HopId,
    now: TimeMs,
) {
    for (case_id, before, split) in &reading.others {
        if split.claim != *before {
            events.push(FreezingEvent::ClaimRevised {
                case_id: case_id.clone(),
                account: account.clone(),
                previous_fen: *before,
                claim_fen: split.claim,
                by_case: by_case.clone(),
                by_hop,
                revised_at_ms: now,
            });
        }
        let Some(trace) = state.cases.get(case_id).filter(|t| !t.completed) else { continue };
        let Some(parent) = trace.accounts.get(account).copied() else { continue };
        let Some(parent_hop) = trace.hops.get(&parent).filter(|h| !h.open) else { continue };
        let mut accounts = trace.accounts.clone();
        let is_open = |first: HopId| trace.hops.get(&first).is_none_or(|h| h.open);
        let first_new = trace.hops.keys().next_back().copied().unwrap_or(0) + 1;
        for (next, leg) in (first_new..).zip(legs(entries, &split.onward, Some(trace), account)) {
            let to = NewHop::onward(parent, parent_hop.depth, &leg);
            open_hop(events, &mut accounts, &is_open, config, case_id, next, to, Opened::ByEvent);
        }
    }
}
