//! The drill report's `restitution` section: what restitution did with the frozen money
//! (allocations proposed, reopened, objected to, approved; returns instructed, confirmed,
//! failed, overdue), how much of it went back and how fast, and whether each victim got what
//! was truly theirs.
//!
//! - **Returned** is counted twice: from restitution's `return_confirmed` events, and from
//!   the simulated banks' ledger (`Ledger::returns_executed`). The two must agree, return by
//!   return (`returns_unmatched` counts those that do not), and every return must land in the
//!   victim's own account (`returns_to_other_accounts`).
//! - **Truly owed**, per victim and account: what the ground truth (attribution of the
//!   ledger with the returns left out) says the victim had in the account at the center's last
//!   freeze of it, shared down pro rata when the victims' money there was more than the center
//!   froze. Only the center's filed cases are owed: a victim who never reported has no claim.
//!   The **error** is returned minus owed, for every victim of every account on which returns
//!   were instructed (an allocation still in its notice at the end is not scored).
//!
//! [`section`] is pure; [`holdings_at_freezes`] replays the ledger for it. `approvers` runs
//! the lab's approvers during the drill, `watch` follows restitution until it settles.

pub mod approvers;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, City, Fen, MoneyError, TimeMs};
use events::restitution::{AllocationNo, Cause, RestitutionEvent, ReturnProblem, allocation_name};
use events::{Envelope, FreezingEvent, Payload};
use serde::{Deserialize, Serialize};
use simulator::crime::Script;
use simulator::ledger::{ExecutedReturn, Ledger};
use simulator::truth::AttributionError;

use super::score::{ObservedCase, Spread};
pub use approvers::{ApproverStats, Approvers, LabApprovers};

/// Victims listed in the section's `errors`, largest error first.
pub const MAX_ERROR_LINES: usize = 20;

/// One victim's return from one account against what was truly theirs there.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VictimError {
    pub case_id: String,
    pub account: String,
    pub owed_fen: u64,
    pub returned_fen: u64,
    /// Returned minus owed: above 0, given someone else's money; below, short.
    pub error_fen: i64,
}

/// The `restitution` section of `report.json`. Every field defaults: a report written before
/// restitution existed reads with an empty section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RestitutionSection {
    /// `allocation_proposed`, every city; of them, those replacing a live allocation of the
    /// same account (`replaces`: a new claim or new money before execution) and those of
    /// what remained after an executed one.
    pub allocations_proposed: u64,
    pub reopened: u64,
    pub remainders: u64,
    /// `allocation_refused`: accounts whose input the allocation refused; by the field its
    /// reason names, indices left out (`claims[].deposits[].at_ms`).
    pub allocations_refused: u64,
    pub refused_by_field: BTreeMap<String, u64>,
    /// `objection_raised` and `objection_dismissed`.
    pub objections: u64,
    pub objections_dismissed: u64,
    /// Allocations with their notice ended, and those approved twice (executed).
    pub notices_ended: u64,
    pub approvals: u64,
    pub allocations_executed: u64,
    pub allocations_completed: u64,
    /// Proposed, not replaced and not completed at the end.
    pub allocations_open: u64,
    pub claims_after_execution: u64,
    pub returns_instructed: u64,
    pub returns_confirmed: u64,
    pub returns_failed: u64,
    /// Failed returns by problem (`no_paying_account`, `refused`, `amount_mismatch`).
    pub returns_failed_by_problem: BTreeMap<String, u64>,
    pub returns_overdue: u64,
    /// The money the centers froze (`account_frozen`, every filed case).
    pub frozen_fen: u64,
    /// Returned by restitution's `return_confirmed`, and by the banks' ledger.
    pub returned_fen: u64,
    pub returned_ledger_fen: u64,
    /// `returned_fen / frozen_fen`.
    pub returned_share: f64,
    /// Returns the banks executed.
    pub returns_executed: u64,
    /// Confirmed returns without the same executed return in the ledger (center, allocation,
    /// case, amount, transfer), and executed returns without their confirmation.
    pub returns_unmatched: u64,
    /// Executed returns paid into an account other than the victim's own.
    pub returns_to_other_accounts: u64,
    /// From the case's first freeze of the account to the return's confirmation, simulated ms.
    pub freeze_to_return_ms: Spread,
    /// Victims (per account) scored against the ground truth; those returned exactly their
    /// due.
    pub victims_scored: u64,
    pub victims_exact: u64,
    /// What the scored victims were truly owed, and the errors: the sum of their absolute
    /// values, what was given beyond the due (someone else's money) and what fell short.
    pub owed_fen: u64,
    pub error_abs_fen: u64,
    pub over_returned_fen: u64,
    pub under_returned_fen: u64,
    /// The largest errors, largest first (at most [`MAX_ERROR_LINES`]); the first is the worst.
    pub errors: Vec<VictimError>,
    /// Approvals the simulated approvers sent, and those refused or not answered.
    pub approvals_sent: u64,
    pub approver_errors: u64,
}

/// A filed case, as the section reads it.
#[derive(Debug, Clone)]
pub struct FiledCase {
    /// Its index in the script (the ground truth's case number).
    pub index: usize,
    pub city: City,
    pub case_id: CaseId,
    /// The account the victim paid from: where returns must go.
    pub victim_account: AccountRef,
    /// Its freezes: account, money frozen, when.
    pub freezes: Vec<(AccountRef, Fen, TimeMs)>,
}

impl FiledCase {
    /// The filed cases of a drill, from what the runner observed.
    pub fn of_drill(script: &Script, observed: &[Option<ObservedCase>]) -> Vec<FiledCase> {
        let filed = observed.iter().enumerate().filter_map(|(index, o)| Some((index, o.as_ref()?)));
        filed
            .map(|(index, observed)| FiledCase {
                index,
                city: script.reports[index].city.clone(),
                case_id: observed.case_id.clone(),
                victim_account: script.reports[index].case.victim_account.clone(),
                freezes: observed
                    .events
                    .iter()
                    .filter_map(|event| match event {
                        FreezingEvent::AccountFrozen { account, frozen_fen, frozen_at_ms, .. }
                            if !frozen_fen.is_zero() =>
                        {
                            Some((account.clone(), *frozen_fen, *frozen_at_ms))
                        }
                        _ => None,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Per center and frozen account: the center's last freeze of it and the money it froze there.
pub type FreezePoints = BTreeMap<(City, AccountRef), (TimeMs, Fen)>;

/// Per center and frozen account: what each case (by script index) held there.
pub type Holdings = BTreeMap<(City, AccountRef), BTreeMap<usize, Fen>>;

/// Each center's frozen accounts: the last freeze's time and the money frozen in all.
pub fn freeze_points(cases: &[FiledCase]) -> Result<FreezePoints, MoneyError> {
    let mut points = FreezePoints::new();
    for case in cases {
        for (account, fen, at_ms) in &case.freezes {
            let point = points.entry((case.city.clone(), account.clone())).or_insert((*at_ms, Fen::ZERO));
            point.0 = point.0.max(*at_ms);
            point.1 = point.1.checked_add(*fen)?;
        }
    }
    Ok(points)
}

/// What each case held, by the ground truth, in each frozen account at the center's last
/// freeze of it: the ledger attributed in booking order with the returns left out.
pub fn holdings_at_freezes(
    script: &Script,
    ledger: &Ledger,
    points: &FreezePoints,
) -> Result<Holdings, AttributionError> {
    let mut by_time: Vec<(TimeMs, &(City, AccountRef))> = points.iter().map(|(key, (at, _))| (*at, key)).collect();
    by_time.sort();
    let mut attribution = script.attribution();
    let mut out = BTreeMap::new();
    let mut next = 0;
    for transfer in simulator::truth::booked_transfers_before_returns(ledger) {
        // A freeze holds what was there when it was applied, transfers of its millisecond
        // included.
        while next < by_time.len() && by_time[next].0 < transfer.at_ms {
            let key = by_time[next].1;
            out.insert(key.clone(), attribution.holdings(&key.1).cloned().unwrap_or_default());
            next += 1;
        }
        attribution.record(&transfer.from, &transfer.to, transfer.amount, transfer.at_ms)?;
    }
    for (_, key) in &by_time[next..] {
        out.insert((*key).clone(), attribution.holdings(&key.1).cloned().unwrap_or_default());
    }
    Ok(out)
}

/// Shares `amount` among `held` pro rata (largest remainder, ties to the lower case), or
/// gives each what it holds when that is all within `amount`.
fn owed(held: &BTreeMap<usize, Fen>, amount: Fen) -> BTreeMap<usize, u64> {
    let total: u128 = held.values().map(|fen| u128::from(fen.get())).sum();
    if total <= u128::from(amount.get()) {
        return held.iter().map(|(case, fen)| (*case, fen.get())).collect();
    }
    let amount = u128::from(amount.get());
    let mut shares: Vec<(usize, u128, u128)> = held
        .iter()
        .map(|(case, fen)| {
            let exact = amount * u128::from(fen.get());
            (*case, exact / total, exact % total)
        })
        .collect();
    let mut left = amount - shares.iter().map(|s| s.1).sum::<u128>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(shares[*a].0.cmp(&shares[*b].0)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].1 += 1;
        left -= 1;
    }
    // Every share is at most `amount`, which came from a u64.
    shares.into_iter().map(|(case, share, _)| (case, u64::try_from(share).unwrap_or(u64::MAX))).collect()
}

/// The field a refusal's reason (`claims[2].deposits[0].at_ms = …: expected …`) names, its
/// indices left out.
fn refused_field(reason: &str) -> String {
    let field = reason.split(" = ").next().unwrap_or(reason);
    let mut out = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if in_index => continue,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A return: its center, allocation (`a<n>`) and case.
type ReturnKey = (City, String, CaseId);

/// Computes the section from each city's restitution events (stream order), the filed cases,
/// the banks' executed returns, the ground truth's holdings at the freezes
/// ([`holdings_at_freezes`]) and what the approvers did.
pub fn section(
    events: &BTreeMap<City, Vec<Envelope>>,
    cases: &[FiledCase],
    executed: &[ExecutedReturn],
    holdings: &Holdings,
    approvers: &ApproverStats,
) -> Result<RestitutionSection, MoneyError> {
    let mut out = RestitutionSection {
        approvals_sent: approvers.approvals,
        approver_errors: approvers.refused + approvers.unanswered,
        ..RestitutionSection::default()
    };
    let points = freeze_points(cases)?;
    out.frozen_fen = Fen::sum(points.values().map(|(_, fen)| *fen))?.get();
    let by_id: BTreeMap<&CaseId, &FiledCase> = cases.iter().map(|case| (&case.case_id, case)).collect();

    let mut accounts: BTreeMap<(City, AllocationNo), AccountRef> = BTreeMap::new();
    let mut open: BTreeSet<(City, AllocationNo)> = BTreeSet::new();
    let mut executed_on: BTreeSet<(City, AccountRef)> = BTreeSet::new();
    let mut confirmed: BTreeMap<ReturnKey, (Fen, String)> = BTreeMap::new();
    let mut returned: BTreeMap<(City, AccountRef, usize), u64> = BTreeMap::new();
    let mut waits = Vec::new();
    for (city, envelopes) in events {
        let mut approved: BTreeMap<AllocationNo, u64> = BTreeMap::new();
        for envelope in envelopes {
            let Payload::Restitution(event) = &envelope.payload else { continue };
            let key = |allocation: &AllocationNo| (city.clone(), *allocation);
            match event {
                RestitutionEvent::AllocationProposed { allocation, account, cause, replaces, .. } => {
                    out.allocations_proposed += 1;
                    out.reopened += u64::from(replaces.is_some());
                    out.remainders += u64::from(*cause == Cause::Remainder);
                    accounts.insert(key(allocation), account.clone());
                    open.insert(key(allocation));
                    if let Some(replaced) = replaces {
                        open.remove(&key(replaced));
                    }
                }
                RestitutionEvent::AllocationRefused { reason, .. } => {
                    out.allocations_refused += 1;
                    *out.refused_by_field.entry(refused_field(reason)).or_default() += 1;
                }
                RestitutionEvent::ObjectionRaised { .. } => out.objections += 1,
                RestitutionEvent::ObjectionDismissed { .. } => out.objections_dismissed += 1,
                RestitutionEvent::NoticeEnded { .. } => out.notices_ended += 1,
                RestitutionEvent::AllocationApproved { allocation, .. } => {
                    out.approvals += 1;
                    let n = approved.entry(*allocation).or_default();
                    *n += 1;
                    out.allocations_executed += u64::from(*n == 2);
                }
                RestitutionEvent::ReturnInstructed { allocation, .. } => {
                    out.returns_instructed += 1;
                    if let Some(account) = accounts.get(&key(allocation)) {
                        executed_on.insert((city.clone(), account.clone()));
                    }
                }
                RestitutionEvent::ReturnConfirmed { allocation, case_id, amount_fen, transfer_id, at_ms, .. } => {
                    out.returns_confirmed += 1;
                    out.returned_fen = out.returned_fen.saturating_add(amount_fen.get());
                    let name = allocation_name(*allocation);
                    confirmed.insert((city.clone(), name, case_id.clone()), (*amount_fen, transfer_id.clone()));
                    let (Some(account), Some(case)) = (accounts.get(&key(allocation)), by_id.get(case_id)) else {
                        continue;
                    };
                    *returned.entry((city.clone(), account.clone(), case.index)).or_default() += amount_fen.get();
                    let own = case.freezes.iter().filter(|(a, ..)| a == account).map(|(.., at)| *at).min();
                    let center = || cases.iter().filter(|c| &c.city == city).flat_map(|c| c.freezes.iter());
                    let any = center().filter(|(a, ..)| a == account).map(|(.., at)| *at).min();
                    if let Some(frozen_at) = own.or(any) {
                        waits.push(at_ms.saturating_sub(frozen_at));
                    }
                }
                RestitutionEvent::ReturnFailed { problem, .. } => {
                    out.returns_failed += 1;
                    let name = match problem {
                        ReturnProblem::NoPayingAccount => "no_paying_account".to_owned(),
                        ReturnProblem::Refused { kind } => format!("refused: {kind}"),
                        ReturnProblem::AmountMismatch { .. } => "amount_mismatch".to_owned(),
                    };
                    *out.returns_failed_by_problem.entry(name).or_default() += 1;
                }
                RestitutionEvent::ReturnOverdue { .. } => out.returns_overdue += 1,
                RestitutionEvent::AllocationCompleted { allocation, .. } => {
                    out.allocations_completed += 1;
                    open.remove(&key(allocation));
                }
                RestitutionEvent::ClaimAfterExecution { .. } => out.claims_after_execution += 1,
            }
        }
    }
    out.allocations_open = open.len() as u64;
    out.freeze_to_return_ms = Spread::of(&waits);

    // The banks' side: every executed return, against its confirmation and the victim.
    let mut matched = 0u64;
    for r in executed {
        out.returns_executed += 1;
        out.returned_ledger_fen = out.returned_ledger_fen.saturating_add(r.amount.get());
        let key = (r.center.clone(), r.allocation.clone(), r.case_id.clone());
        if confirmed.get(&key) == Some(&(r.amount, r.transfer_id.clone())) {
            matched += 1;
        }
        if by_id.get(&r.case_id).is_none_or(|case| case.victim_account != r.to) {
            out.returns_to_other_accounts += 1;
        }
    }
    out.returns_unmatched = (out.returns_executed - matched) + (confirmed.len() as u64).saturating_sub(matched);
    out.returned_share = if out.frozen_fen == 0 { 0.0 } else { out.returned_fen as f64 / out.frozen_fen as f64 };

    // Each victim of each account with returns instructed, against the ground truth.
    let case_ids: BTreeMap<usize, &CaseId> = cases.iter().map(|case| (case.index, &case.case_id)).collect();
    let mut errors = Vec::new();
    for key @ (city, account) in &executed_on {
        let frozen = points.get(key).map_or(Fen::ZERO, |(_, fen)| *fen);
        let filed = |case: &usize| cases.iter().any(|c| c.index == *case && &c.city == city);
        let held: BTreeMap<usize, Fen> = holdings
            .get(key)
            .map(|h| h.iter().filter(|(case, _)| filed(case)).map(|(c, f)| (*c, *f)).collect())
            .unwrap_or_default();
        let mut due = owed(&held, frozen);
        for ((c, a, case), _) in returned.range((city.clone(), account.clone(), 0)..) {
            if (c, a) != (city, account) {
                break;
            }
            due.entry(*case).or_insert(0);
        }
        for (case, owed_fen) in due {
            let returned_fen = returned.get(&(city.clone(), account.clone(), case)).copied().unwrap_or(0);
            let error_fen =
                i64::try_from(returned_fen).unwrap_or(i64::MAX) - i64::try_from(owed_fen).unwrap_or(i64::MAX);
            out.victims_scored += 1;
            out.victims_exact += u64::from(error_fen == 0);
            out.owed_fen = out.owed_fen.saturating_add(owed_fen);
            out.error_abs_fen = out.error_abs_fen.saturating_add(error_fen.unsigned_abs());
            out.over_returned_fen = out.over_returned_fen.saturating_add(returned_fen.saturating_sub(owed_fen));
            out.under_returned_fen = out.under_returned_fen.saturating_add(owed_fen.saturating_sub(returned_fen));
            if error_fen != 0 {
                let case_id = case_ids.get(&case).map(ToString::to_string).unwrap_or_default();
                errors.push(VictimError { case_id, account: account.to_string(), owed_fen, returned_fen, error_fen });
            }
        }
    }
    errors.sort_by_key(|e| std::cmp::Reverse(e.error_fen.unsigned_abs()));
    errors.truncate(MAX_ERROR_LINES);
    out.errors = errors;
    Ok(out)
}

#[cfg(test)]
mod tests;
