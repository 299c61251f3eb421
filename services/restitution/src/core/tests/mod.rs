//! Given this frozen account, when it is allocated by this rule, then these shares: the
//! rules' worked examples (the ones in docs/restitution.md) in [`rules`], bad input in
//! [`refusals`], what must hold for any account in [`properties`]. Every allocation goes
//! through one helper, [`check`], which also allocates the input again with its claims and
//! deposits reversed and requires the same result.

mod properties;
mod refusals;
mod rules;

use domain::{AccountRef, CaseId, City, Fen, TimeMs};
use protocol::adapter::Direction;

use super::*;

pub(super) const MINUTE_MS: u64 = 60 * 1000;
/// 09:00 on a Monday in November 2025, Beijing time.
pub(super) const T0: TimeMs = 1_763_946_000_000;
/// When the tests allocate: ten days later.
pub(super) const NOW: TimeMs = T0 + 10 * 24 * 60 * MINUTE_MS;

/// `09:00 + minutes`.
pub(super) fn at(minutes: u64) -> TimeMs {
    T0 + minutes * MINUTE_MS
}

pub(super) fn case(n: u64) -> CaseId {
    CaseId::derive(&City::parse("wuhan").unwrap(), n)
}

pub(super) fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020000001234").unwrap()
}

/// A deposit of `amount` at `09:00 + minutes`, with a transfer id if given.
pub(super) fn deposit(amount: u64, minutes: u64, transfer_id: Option<&str>) -> Deposit {
    Deposit { amount_fen: Fen::new(amount), at_ms: at(minutes), transfer_id: transfer_id.map(str::to_owned) }
}

/// Victim `n`'s claim: its deposits, a loss that caps nothing (the deposits' sum), nothing
/// allocated elsewhere.
pub(super) fn claim(n: u64, deposits: Vec<Deposit>) -> Claim {
    let loss = deposits.iter().fold(0u64, |sum, d| sum.saturating_add(d.amount_fen.get()));
    Claim { case_id: case(n), deposits, traced_loss_fen: Fen::new(loss), allocated_elsewhere_fen: Fen::ZERO }
}

/// A statement that opens with `opening` fen: each line (minutes, in or out, amount,
/// transfer id), the balances computed.
pub(super) fn statement(opening: u64, lines: &[(u64, Direction, u64, &str)]) -> Vec<Entry> {
    let mut balance = opening;
    lines
        .iter()
        .map(|&(minutes, direction, amount, id)| {
            balance = match direction {
                Direction::In => balance + amount,
                Direction::Out => balance - amount,
            };
            Entry {
                transfer_id: id.to_owned(),
                at_ms: at(minutes),
                direction,
                amount_fen: Fen::new(amount),
                balance_after_fen: Fen::new(balance),
            }
        })
        .collect()
}

pub(super) const IN: Direction = Direction::In;
pub(super) const OUT: Direction = Direction::Out;

pub(super) fn frozen(frozen: u64, statement: Option<Vec<Entry>>, claims: Vec<Claim>) -> FrozenAccount {
    FrozenAccount { account: mule(), frozen_fen: Fen::new(frozen), statement, claims }
}

/// Allocates `account` by `rule` at [`NOW`]; requires the same result with the claims and
/// each claim's deposits in reverse order.
pub(super) fn check(account: &FrozenAccount, rule: Rule) -> Allocation {
    let allocation = allocate(account, rule, NOW).unwrap_or_else(|refusal| panic!("refused: {refusal}"));
    let mut reversed = account.clone();
    reversed.claims.reverse();
    reversed.claims.iter_mut().for_each(|c| c.deposits.reverse());
    assert_eq!(allocate(&reversed, rule, NOW).unwrap(), allocation, "the order of the input changed the result");
    allocation
}

/// The shares, in fen, by case id.
pub(super) fn shares(allocation: &Allocation) -> Vec<u64> {
    allocation.shares.iter().map(|s| s.fen.get()).collect()
}

/// The steps of each victim's parts.
pub(super) fn steps(allocation: &Allocation) -> Vec<Vec<Step>> {
    allocation.shares.iter().map(|s| s.parts.iter().map(|p| p.step).collect()).collect()
}
