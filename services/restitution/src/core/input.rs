//! What an allocation is given — one frozen account, the claims of the victims whose traced
//! money went into it and, when it was read, the account's statement — and the checks that
//! refuse an input no allocation can rest on, each naming the field, the value and what is
//! accepted.
//!
//! The input is what freezing's events (`events::freezing`) and the statements it read can
//! produce: `account_frozen` gives the account and the money frozen on it; each `hop_opened`
//! whose target is the account (or an `order_resolved` that settled into it) gives a
//! [`Deposit`] — `traced_fen`, `since_ms` (`settled_at_ms`), `arrival_transfer_id`
//! (`transfer_id`); `trace_started` gives the victim's loss; a `stop_payment` or `flows`
//! reply's statement gives the [`Entry`]s ([`Entry::from`] a `StatementEntry`).

use std::collections::HashMap;

use domain::{AccountRef, CaseId, Fen, TimeMs};
use protocol::adapter::{Direction, StatementEntry};
use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_CLOCK_SKEW_MS, MAX_DEPOSITS_PER_CLAIM, MAX_ECHO_CHARS, MAX_STATEMENT_ENTRIES, MAX_TRANSFER_ID_BYTES,
    MAX_VICTIMS_PER_ACCOUNT,
};

/// One frozen account and everything an allocation of its money reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenAccount {
    pub account: AccountRef,
    /// The money frozen on the account for the center's cases: what is allocated.
    pub frozen_fen: Fen,
    /// The account's statement in the bank's booking order, when it was read: from before
    /// the earliest deposit (freezing asks from `ARRIVAL_WINDOW_MS` before it) to the stop.
    /// Without it only the deposits' amounts and times are known.
    pub statement: Option<Vec<Entry>>,
    /// One per victim (case) whose traced money went into the account.
    pub claims: Vec<Claim>,
}

/// A victim's claim on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub case_id: CaseId,
    /// The victim's money traced into the account, one per arrival.
    pub deposits: Vec<Deposit>,
    /// The victim's traced loss across every account: all allocations together never give
    /// the victim more.
    pub traced_loss_fen: Fen,
    /// What allocations of other accounts already gave the victim.
    pub allocated_elsewhere_fen: Fen,
}

/// One arrival of a victim's money in the account (freezing's `rule::Arrival`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub amount_fen: Fen,
    /// When it arrived: the time the victim gave (typed by staff) or the bank booked.
    pub at_ms: TimeMs,
    /// The transfer that brought it, when known: it marks the deposit in the statement.
    pub transfer_id: Option<String>,
}

/// One entry of the account's statement: what the allocation reads of a bank's
/// `StatementEntry` (where the money went does not change whose money is left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub transfer_id: String,
    pub at_ms: TimeMs,
    pub direction: Direction,
    pub amount_fen: Fen,
    /// The account's balance right after the entry.
    pub balance_after_fen: Fen,
}

impl From<&StatementEntry> for Entry {
    fn from(entry: &StatementEntry) -> Entry {
        Entry {
            transfer_id: entry.transfer_id.clone(),
            at_ms: entry.at_ms,
            direction: entry.direction,
            amount_fen: entry.amount_fen,
            balance_after_fen: entry.balance_after_fen,
        }
    }
}

/// Why an input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoVictims,
    TooManyVictims,
    NothingFrozen,
    DuplicateCase,
    NoDeposits,
    TooManyDeposits,
    ZeroAmount,
    InTheFuture,
    BadTransferId,
    /// Two deposits of one victim name the same transfer: one arrival claimed twice.
    DuplicateTransfer,
    NoLoss,
    ElsewhereExceedsLoss,
    /// A sum the allocation needs does not fit in a `u64` of fen.
    Overflow,
    EmptyStatement,
    StatementTooLong,
    StatementOutOfOrder,
    /// An entry's balance is not the balance before it plus or minus its amount.
    BalanceMismatch,
    /// The rule reads the statement's balances and none was given.
    StatementRequired,
}

/// An input refused: the field, the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{field} = {value}: expected {expected}")]
pub struct Refusal {
    pub reason: Reason,
    /// Path of the field, e.g. `claims[2].deposits[0].at_ms`.
    pub field: String,
    pub value: String,
    pub expected: String,
}

pub(crate) fn refuse(
    reason: Reason,
    field: impl Into<String>,
    value: impl ToString,
    expected: impl Into<String>,
) -> Refusal {
    let value = value.to_string().chars().take(MAX_ECHO_CHARS).collect();
    Refusal { reason, field: field.into(), value, expected: expected.into() }
}

/// A victim, checked: the claim's deposits in canonical order, what they add up to, and the
/// most this allocation may give the victim.
#[derive(Debug)]
pub(crate) struct Victim<'a> {
    pub case_id: &'a CaseId,
    /// Sorted by (time, amount, transfer id), whatever order they were given in.
    pub deposits: Vec<&'a Deposit>,
    /// The deposits' sum: the victim's traced money into the account.
    pub traced: Fen,
    /// Traced loss less what was allocated elsewhere.
    pub cap: Fen,
    /// The earliest deposit: the tie-break's second key.
    pub first_at_ms: TimeMs,
}

/// A statement, checked: its entries and the balance before the first and after each.
#[derive(Debug)]
pub(crate) struct Statement<'a> {
    pub entries: &'a [Entry],
    /// `balances[0]` is the balance before the first entry, `balances[i + 1]` after entry `i`.
    pub balances: Vec<Fen>,
}

/// An input that passed every check, in an order that does not depend on the order given.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub frozen: Fen,
    /// Sorted by case id.
    pub victims: Vec<Victim<'a>>,
    pub statement: Option<Statement<'a>>,
}

/// Checks `account` at `now`, or names the first problem (in the order the input gives).
pub(crate) fn check(account: &FrozenAccount, now: TimeMs) -> Result<Checked<'_>, Refusal> {
    if account.frozen_fen.is_zero() {
        return Err(refuse(Reason::NothingFrozen, "frozen_fen", 0, "money frozen on the account (at least 1 fen)"));
    }
    let claims = &account.claims;
    if claims.is_empty() {
        return Err(refuse(Reason::NoVictims, "claims", "[]", "at least one victim's claim on the account"));
    }
    if claims.len() > MAX_VICTIMS_PER_ACCOUNT {
        let expected = format!("at most {MAX_VICTIMS_PER_ACCOUNT} claims");
        return Err(refuse(Reason::TooManyVictims, "claims", claims.len(), expected));
    }
    let latest = now.saturating_add(MAX_CLOCK_SKEW_MS);
    let mut victims = Vec::with_capacity(claims.len());
    let mut transfers: HashMap<(&str, usize), (usize, usize)> = HashMap::new();
    let mut all_traced = Fen::ZERO;
    for (c, claim) in claims.iter().enumerate() {
        let field = |name: &str| format!("claims[{c}].{name}");
        if claim.deposits.is_empty() {
            return Err(refuse(
                Reason::NoDeposits,
                field("deposits"),
                "[]",
                "the victim's money traced into the account",
            ));
        }
        if claim.deposits.len() > MAX_DEPOSITS_PER_CLAIM {
            let expected = format!("at most {MAX_DEPOSITS_PER_CLAIM} deposits");
            return Err(refuse(Reason::TooManyDeposits, field("deposits"), claim.deposits.len(), expected));
        }
        let mut traced = Fen::ZERO;
        for (d, deposit) in claim.deposits.iter().enumerate() {
            let field = |name: &str| format!("claims[{c}].deposits[{d}].{name}");
            if deposit.amount_fen.is_zero() {
                return Err(refuse(Reason::ZeroAmount, field("amount_fen"), 0, "at least 1 fen"));
            }
            if deposit.at_ms > latest {
                return Err(future(field("at_ms"), deposit.at_ms, now));
            }
            if let Some(id) = &deposit.transfer_id {
                check_transfer_id(id, || field("transfer_id"))?;
                // One transfer may carry several victims' money (a mule forwarding mixed
                // money): each victim claims their part of it. A victim claiming one
                // transfer twice is one arrival counted twice.
                if let Some((c0, d0)) = transfers.insert((id, c), (c, d)) {
                    let expected =
                        format!("each transfer claimed once by a victim (claims[{c0}].deposits[{d0}] claims it too)");
                    return Err(refuse(Reason::DuplicateTransfer, field("transfer_id"), id, expected));
                }
            }
            traced = traced
                .checked_add(deposit.amount_fen)
                .map_err(|_| overflow(field("amount_fen"), deposit.amount_fen))?;
        }
        all_traced = all_traced.checked_add(traced).map_err(|_| overflow(field("deposits"), traced))?;
        if claim.traced_loss_fen.is_zero() {
            return Err(refuse(
                Reason::NoLoss,
                field("traced_loss_fen"),
                0,
                "the victim's traced loss (at least 1 fen)",
            ));
        }
        let cap = claim.traced_loss_fen.checked_sub(claim.allocated_elsewhere_fen).map_err(|_| {
            let expected = format!("at most the traced loss, {} fen", claim.traced_loss_fen.get());
            refuse(
                Reason::ElsewhereExceedsLoss,
                field("allocated_elsewhere_fen"),
                claim.allocated_elsewhere_fen.get(),
                expected,
            )
        })?;
        let mut deposits: Vec<&Deposit> = claim.deposits.iter().collect();
        deposits.sort_by(|a, b| (a.at_ms, a.amount_fen, &a.transfer_id).cmp(&(b.at_ms, b.amount_fen, &b.transfer_id)));
        let first_at_ms = deposits[0].at_ms;
        victims.push((c, Victim { case_id: &claim.case_id, deposits, traced, cap, first_at_ms }));
    }
    // Each case once: the later of two is named, the earlier in what is expected.
    victims.sort_by(|a, b| a.1.case_id.cmp(b.1.case_id).then(a.0.cmp(&b.0)));
    if let Some(pair) = victims.windows(2).filter(|p| p[0].1.case_id == p[1].1.case_id).min_by_key(|p| p[1].0) {
        let (first, again) = (pair[0].0, pair[1].0);
        let expected = format!("each case once (claims[{first}] is the same case)");
        return Err(refuse(Reason::DuplicateCase, format!("claims[{again}].case_id"), pair[1].1.case_id, expected));
    }
    let victims = victims.into_iter().map(|(_, victim)| victim).collect();
    let statement = match &account.statement {
        None => None,
        Some(entries) => Some(check_statement(entries, latest, now)?),
    };
    Ok(Checked { frozen: account.frozen_fen, victims, statement })
}

fn check_statement(entries: &[Entry], latest: TimeMs, now: TimeMs) -> Result<Statement<'_>, Refusal> {
    if entries.is_empty() {
        let expected = "at least one entry, or no statement at all (null)";
        return Err(refuse(Reason::EmptyStatement, "statement", "[]", expected));
    }
    if entries.len() > MAX_STATEMENT_ENTRIES {
        let expected = format!("at most {MAX_STATEMENT_ENTRIES} entries");
        return Err(refuse(Reason::StatementTooLong, "statement", entries.len(), expected));
    }
    let first = &entries[0];
    let opening = match first.direction {
        Direction::In => first.balance_after_fen.checked_sub(first.amount_fen),
        Direction::Out => first.balance_after_fen.checked_add(first.amount_fen),
    }
    .map_err(|_| {
        let expected = format!(
            "a balance after the first entry that leaves a balance before it ({} fen in)",
            first.amount_fen.get()
        );
        refuse(Reason::BalanceMismatch, "statement[0].balance_after_fen", first.balance_after_fen.get(), expected)
    })?;
    let mut balances = Vec::with_capacity(entries.len() + 1);
    balances.push(opening);
    let mut previous_at = first.at_ms;
    for (i, entry) in entries.iter().enumerate() {
        let field = |name: &str| format!("statement[{i}].{name}");
        if entry.at_ms > latest {
            return Err(future(field("at_ms"), entry.at_ms, now));
        }
        if entry.at_ms < previous_at {
            let expected = format!("booking order: at or after the entry before it ({previous_at})");
            return Err(refuse(Reason::StatementOutOfOrder, field("at_ms"), entry.at_ms, expected));
        }
        previous_at = entry.at_ms;
        check_transfer_id(&entry.transfer_id, || field("transfer_id"))?;
        let before = balances[i];
        let after = match entry.direction {
            Direction::In => before.checked_add(entry.amount_fen).ok(),
            Direction::Out => before.checked_sub(entry.amount_fen).ok(),
        };
        if after != Some(entry.balance_after_fen) {
            let expected = match after {
                Some(after) => format!(
                    "{} fen: the balance before it, {} fen, {:?} {} fen",
                    after.get(),
                    before.get(),
                    entry.direction,
                    entry.amount_fen.get()
                ),
                None => format!("a balance the {} fen before it allows", before.get()),
            };
            return Err(refuse(
                Reason::BalanceMismatch,
                field("balance_after_fen"),
                entry.balance_after_fen.get(),
                expected,
            ));
        }
        balances.push(entry.balance_after_fen);
    }
    Ok(Statement { entries, balances })
}

fn check_transfer_id(id: &str, field: impl Fn() -> String) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_TRANSFER_ID_BYTES || id.chars().any(char::is_control) {
        let expected = format!("1-{MAX_TRANSFER_ID_BYTES} bytes without control characters");
        return Err(refuse(Reason::BadTransferId, field(), format!("{id:?}"), expected));
    }
    Ok(())
}

fn future(field: String, at_ms: TimeMs, now: TimeMs) -> Refusal {
    let expected = format!("a time at most {MAX_CLOCK_SKEW_MS} ms after now ({now})");
    refuse(Reason::InTheFuture, field, at_ms, expected)
}

fn overflow(field: String, value: Fen) -> Refusal {
    refuse(Reason::Overflow, field, value.get(), format!("amounts whose sums fit in {} fen", u64::MAX))
}
