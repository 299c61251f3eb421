//! Returns (资金返还, 原路返还): a bank pays money frozen for a center back to a victim's
//! account, as restitution instructs it on `afc.bank.<bank>.return`.
//!
//! A return may take at most what the center's freezes hold on the account. When the bank
//! accepts it, the amount leaves the freezes at once and is earmarked on the account
//! (`returning`): nothing else can take it, no queued claim is promoted into it, and no freeze
//! lapsing can free it. The money moves when the bank executes the return, after the bank's
//! delay (0 by default: at once): the account's balance goes down, the victim's goes up (or,
//! for an account outside the simulated banks, the money leaves the ledger as
//! [`Ledger::paid_out`]).
//!
//! Idempotent by request id, like every bank verb, with one difference: a repeat is answered
//! with the return's state *now* (`accepted`, then `executed` with the same transfer), since
//! restitution polls an accepted return with the same request. The same id with another body
//! is refused. A refusal is not recorded: it moved nothing, and the same request later is
//! judged afresh (the freeze may hold the money by then).

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, BankId, CaseId, City, Fen, TimeMs};
use protocol::adapter::{
    AdapterError, AdapterErrorKind, Counterparty, Direction, ReturnReply, ReturnRequest, ReturnStatus, StatementEntry,
};

use super::adapter::{adapter_error, check_request_id};
use super::{Account, Ledger};
use crate::limits;

/// A return the bank accepted.
#[derive(Debug, Clone)]
struct Accepted {
    /// The request as first received: a repeat must be the same.
    request: ReturnRequest,
    accepted_at_ms: TimeMs,
    /// When the bank executes it (accepted plus the bank's delay).
    due_at_ms: TimeMs,
    /// The transfer and when it was booked, once executed.
    executed: Option<(String, TimeMs)>,
}

impl Accepted {
    fn reply(&self) -> ReturnReply {
        let (status, transfer_id, executed_at_ms) = match &self.executed {
            Some((transfer_id, at_ms)) => (ReturnStatus::Executed, Some(transfer_id.clone()), Some(*at_ms)),
            None => (ReturnStatus::Accepted, None, None),
        };
        ReturnReply { status, amount_fen: self.request.amount_fen, transfer_id, executed_at_ms }
    }
}

/// The banks' record of returns.
#[derive(Debug, Clone, Default)]
pub(super) struct Returns {
    /// Every accepted return, by request id.
    by_id: BTreeMap<String, Accepted>,
    /// Accepted returns not executed yet, by when they fall due.
    pending: BTreeSet<(TimeMs, String)>,
    /// Request ids of executed returns, in the order executed.
    executed: Vec<String>,
    /// Each bank's delay from accepting a return to executing it, in ms (absent: 0).
    delays: BTreeMap<BankId, u64>,
    /// Paid to accounts the ledger does not hold (at banks outside the simulation).
    paid_out: Fen,
    /// Requests that repeated an accepted return's id (restitution's polls and re-sends).
    repeats: u64,
}

/// A return a bank executed, as [`Ledger::returns_executed`] lists it: what a drill scores
/// against the ground truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutedReturn {
    /// The request's id.
    pub request_id: String,
    /// The center whose freezes held the money.
    pub center: City,
    /// The case the return was for.
    pub case_id: CaseId,
    /// The allocation the request named as its legal basis.
    pub allocation: String,
    /// The frozen account the money left.
    pub from: AccountRef,
    /// The victim's account it went to.
    pub to: AccountRef,
    /// The amount returned.
    pub amount: Fen,
    /// The transfer that returned it.
    pub transfer_id: String,
    /// When the bank accepted the return.
    pub accepted_at_ms: TimeMs,
    /// When the bank booked the transfer.
    pub executed_at_ms: TimeMs,
}

/// Counts of returns for a drill's verdict (part of [`super::HoldAudit`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnCounts {
    /// Returns accepted (executed or not yet).
    pub accepted: u64,
    /// Returns executed.
    pub executed: u64,
    /// Requests that repeated an accepted return's id.
    pub repeats: u64,
}

impl Account {
    /// What the freezes of `center` hold on the account.
    fn frozen_for(&self, center: &City) -> Fen {
        let of_center = self.freezes.iter().filter(|claim| &claim.center == center).map(|claim| claim.frozen);
        Fen::sum(of_center).expect("freezes hold at most the balance together")
    }

    /// [`Account::frozen_for`] after [`Account::promote_freeze`] at `now`, without changing
    /// the account.
    fn frozen_for_at(&self, center: &City, now: TimeMs) -> Fen {
        let in_force: Vec<_> = self.freezes.iter().filter(|claim| claim.expires_at_ms > now).collect();
        let held = Fen::sum(in_force.iter().map(|claim| claim.frozen)).expect("freezes hold at most the balance");
        let mut free = self.balance.saturating_sub(held.saturating_add(self.returning));
        let of_center = in_force.iter().filter(|claim| &claim.center == center).map(|claim| claim.frozen);
        let mut total = Fen::sum(of_center).expect("freezes hold at most the balance");
        for claim in self.queued.iter().filter(|claim| claim.expires_at_ms > now) {
            if free.is_zero() {
                break;
            }
            let promoted = claim.claimed.min(free);
            free = free.saturating_sub(promoted);
            if &claim.center == center {
                total = total.saturating_add(promoted);
            }
        }
        total
    }

    /// Takes `amount` out of the freezes of `center`, the case's own first, then the
    /// center's others in the order they were placed; a freeze emptied by it ends. The caller
    /// checked that they hold it.
    fn take_from_freezes(&mut self, center: &City, case_id: &CaseId, amount: Fen) {
        let mut left = amount;
        let order: Vec<usize> = {
            let of_center = |case_first: bool| {
                self.freezes
                    .iter()
                    .enumerate()
                    .filter(move |(_, claim)| &claim.center == center && (&claim.case_id == case_id) == case_first)
                    .map(|(index, _)| index)
            };
            of_center(true).chain(of_center(false)).collect()
        };
        let mut emptied = Vec::new();
        for index in order {
            let claim = &mut self.freezes[index];
            let taken = claim.frozen.min(left);
            if taken.is_zero() {
                continue;
            }
            claim.frozen = claim.frozen.saturating_sub(taken);
            left = left.saturating_sub(taken);
            if claim.frozen.is_zero() {
                emptied.push(index);
            }
            if left.is_zero() {
                break;
            }
        }
        assert!(left.is_zero(), "a return took {amount} from freezes that held {} less", left);
        // Highest index first, so that each removal leaves the others' indices as they were
        // (the case's own freezes were taken first, wherever they are in the list).
        emptied.sort_unstable_by(|a, b| b.cmp(a));
        for index in emptied {
            self.freezes.remove(index);
        }
    }
}

impl Ledger {
    /// Pays money frozen for the request's center on its account back to the victim's
    /// account, as a bank answers `return` at `now` (see the module documentation).
    ///
    /// Refused, with nothing changed: `invalid_request` for a bad id, amount or allocation, a
    /// return to the account itself, or an id first used for another return;
    /// `unknown_account` when the bank holds no such account, or the victim's account is of
    /// the same bank and the bank does not hold it; `not_frozen` when the center's freezes
    /// hold less than the amount on the account.
    pub fn return_money(&mut self, req: &ReturnRequest, now: TimeMs) -> Result<ReturnReply, AdapterError> {
        check_request_id(&req.request_id)?;
        if let Some(first) = self.returns.by_id.get(&req.request_id) {
            if first.request != *req {
                return Err(adapter_error(
                    AdapterErrorKind::InvalidRequest,
                    format!("request_id {} was first used for another return", req.request_id),
                ));
            }
            self.returns.repeats += 1;
            let due = (first.executed.is_none() && first.due_at_ms <= now).then_some(first.due_at_ms);
            if let Some(due) = due {
                self.execute_return(due, &req.request_id, now);
            }
            return Ok(self.returns.by_id[&req.request_id].reply());
        }
        check_return(req)?;
        let to = req.to_account.expose();
        let victim_held = self.accounts.contains_key(to);
        let account = self
            .accounts
            .get_mut(&req.account)
            .ok_or_else(|| adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)))?;
        if !victim_held && to.bank() == req.account.bank() {
            // The message leaves the victim's account out: it is personal data.
            return Err(adapter_error(
                AdapterErrorKind::UnknownAccount,
                format!("the victim's account is not an account of {}", req.account.bank()),
            ));
        }
        account.promote_freeze(now);
        let frozen = account.frozen_for(&req.center);
        if frozen < req.amount_fen {
            return Err(adapter_error(
                AdapterErrorKind::NotFrozen,
                format!(
                    "{}'s freezes hold {frozen} on {}, the return asks {}",
                    req.center, req.account, req.amount_fen
                ),
            ));
        }
        account.take_from_freezes(&req.center, &req.case_id, req.amount_fen);
        account.returning = account.returning.checked_add(req.amount_fen).expect("earmarks are at most the balance");
        let due_at_ms = now.saturating_add(self.return_delay(&req.account.bank()));
        let accepted = Accepted { request: req.clone(), accepted_at_ms: now, due_at_ms, executed: None };
        self.returns.by_id.insert(req.request_id.clone(), accepted);
        self.returns.pending.insert((due_at_ms, req.request_id.clone()));
        if due_at_ms <= now {
            self.execute_return(due_at_ms, &req.request_id, now);
        }
        Ok(self.returns.by_id[&req.request_id].reply())
    }

    /// Executes, at `now`, every accepted return due by then, in the order they fall due.
    /// Returns how many.
    pub fn execute_due_returns(&mut self, now: TimeMs) -> usize {
        let due: Vec<(TimeMs, String)> =
            self.returns.pending.iter().take_while(|(at, _)| *at <= now).cloned().collect();
        for (at, request_id) in &due {
            self.execute_return(*at, request_id, now);
        }
        due.len()
    }

    /// Sets how long `bank` takes from accepting a return to executing it (0: at once, the
    /// default; a real bank takes up to 3 working days).
    pub fn set_return_delay(&mut self, bank: BankId, delay_ms: u64) {
        self.returns.delays.insert(bank, delay_ms);
    }

    /// How long `bank` takes from accepting a return to executing it, in ms.
    pub fn return_delay(&self, bank: &BankId) -> u64 {
        self.returns.delays.get(bank).copied().unwrap_or(0)
    }

    /// What the freezes of `center` hold on `account` at `now`, as a return at `now` finds
    /// them (lapsed freezes gone, queued claims given what they left free): the most a return
    /// may take. Zero for an unknown account.
    pub fn frozen_for(&self, center: &City, account: &AccountRef, now: TimeMs) -> Fen {
        self.accounts.get(account).map_or(Fen::ZERO, |account| account.frozen_for_at(center, now))
    }

    /// Every return executed, in the order executed.
    pub fn returns_executed(&self) -> Vec<ExecutedReturn> {
        let executed = self.returns.executed.iter().filter_map(|id| self.returns.by_id.get(id));
        executed
            .filter_map(|accepted| {
                let (transfer_id, executed_at_ms) = accepted.executed.clone()?;
                let request = &accepted.request;
                Some(ExecutedReturn {
                    request_id: request.request_id.clone(),
                    center: request.center.clone(),
                    case_id: request.case_id.clone(),
                    allocation: request.allocation.clone(),
                    from: request.account.clone(),
                    to: request.to_account.expose().clone(),
                    amount: request.amount_fen,
                    transfer_id,
                    accepted_at_ms: accepted.accepted_at_ms,
                    executed_at_ms,
                })
            })
            .collect()
    }

    /// Returns accepted and not executed yet.
    pub fn returns_pending(&self) -> usize {
        self.returns.pending.len()
    }

    /// Everything returns paid to accounts the ledger does not hold (at banks outside the
    /// simulation): money that left the ledger, as cash-outs do.
    pub fn paid_out(&self) -> Fen {
        self.returns.paid_out
    }

    /// Counts of returns, for the audit.
    pub(super) fn return_counts(&self) -> ReturnCounts {
        ReturnCounts {
            accepted: self.returns.by_id.len() as u64,
            executed: self.returns.executed.len() as u64,
            repeats: self.returns.repeats,
        }
    }

    /// Books the accepted return `request_id` (due at `due_at_ms`) at `now`: the money
    /// earmarked on the account leaves it for the victim's.
    fn execute_return(&mut self, due_at_ms: TimeMs, request_id: &str, now: TimeMs) {
        let removed = self.returns.pending.remove(&(due_at_ms, request_id.to_owned()));
        assert!(removed, "return {request_id} executed while not pending");
        let request = self.returns.by_id[request_id].request.clone();
        let (from, to, amount) = (&request.account, request.to_account.expose(), request.amount_fen);
        let transfer_id = self.next_transfer_id();
        let payer = self.accounts.get_mut(from).expect("an accepted return's account exists");
        // The earmark is part of the balance, so both cover the amount.
        payer.returning = payer.returning.checked_sub(amount).expect("the earmark covers an accepted return");
        payer.balance = payer.balance.checked_sub(amount).expect("the balance covers its earmark");
        payer.statement.push(StatementEntry {
            transfer_id: transfer_id.clone(),
            at_ms: now,
            direction: Direction::Out,
            amount_fen: amount,
            counterparty: Counterparty::Account(to.clone()),
            balance_after_fen: payer.balance,
        });
        match self.accounts.get_mut(to) {
            Some(victim) => {
                victim.balance = victim.balance.checked_add(amount).expect("a balance holds at most all money minted");
                victim.statement.push(StatementEntry {
                    transfer_id: transfer_id.clone(),
                    at_ms: now,
                    direction: Direction::In,
                    amount_fen: amount,
                    counterparty: Counterparty::Account(from.clone()),
                    balance_after_fen: victim.balance,
                });
            }
            None => {
                self.returns.paid_out =
                    self.returns.paid_out.checked_add(amount).expect("paid out is at most all money minted");
            }
        }
        self.transfers_booked += 1;
        if let Some(accepted) = self.returns.by_id.get_mut(request_id) {
            accepted.executed = Some((transfer_id, now));
        }
        self.returns.executed.push(request_id.to_owned());
    }
}

/// Checks what a return asks before anything is looked up: a positive amount, an allocation
/// id of bounded length, and another account to pay.
fn check_return(req: &ReturnRequest) -> Result<(), AdapterError> {
    let invalid = |message: String| Err(adapter_error(AdapterErrorKind::InvalidRequest, message));
    if req.amount_fen.is_zero() {
        return invalid("a return must move a positive amount_fen".to_owned());
    }
    if req.allocation.is_empty() || req.allocation.len() > limits::MAX_ALLOCATION_BYTES {
        return invalid(format!(
            "allocation must be 1-{} bytes, got {}",
            limits::MAX_ALLOCATION_BYTES,
            req.allocation.len()
        ));
    }
    if req.to_account.expose() == &req.account {
        return invalid(format!("a return from {} cannot pay the account itself", req.account));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
