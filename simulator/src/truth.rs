//! Ground truth: where every fen of every case is, at every moment.
//!
//! [`Attribution`] follows the transfers that really happened (fed one by one, in the
//! order the ledger booked them) and attributes the money in every account to cases:
//!
//! - A payment out of a victim's own account is new money of that victim's case (the
//!   victim's savings are not tracked; only what leaves the account is).
//! - A payment out of any other account carries the cases' money **pro rata** to what the
//!   account holds of each case at that moment (the proportional rule of restitution). Shares
//!   are whole fen: each case gets `floor(amount × held / total)`, and the fen left over go
//!   one each to the cases with the largest remainders (ties to the lower case number), so
//!   the shares add up to the amount and no case gives more than it holds.
//! - A cash-out takes the shares out of the system: they count as cashed out.
//! - A payment order counts as its receiving account.
//!
//! So for every case, at any moment: money held in accounts + cashed out = paid by the
//! victim so far, and paid + not yet paid = loss ([`Attribution::check`] verifies it with
//! checked arithmetic). Each case also keeps every account its money ever reached, with the
//! first time and the depth (1 = paid by the victim, one more per hop after that; the first
//! arrival counts).
//!
//! The card sellers of a plan (holders whose accounts carry money of two or more cases) are
//! [`crate::holders::card_sellers`].
//!
//! [`Script::unimpeded_truth`] replays a script's whole plan with no intervention and
//! returns the per-case totals: the same scenario and seed always give the same figures.

use std::collections::BTreeMap;

use domain::{AccountRef, Fen, MoneyError, PaymentOrderRef, TimeMs};
use protocol::adapter::{Counterparty, Direction};

use crate::crime::Script;
use crate::ledger::{Ledger, LedgerError};
use crate::schedule::Outcome;

/// Why a transfer could not be attributed, or the attribution does not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    /// The transfer paid into an order the attribution was not told about.
    #[error("unknown payment order {0}")]
    UnknownOrder(PaymentOrderRef),
    /// An account that is not a victim's paid more case money than it holds: a transfer into
    /// it was not recorded.
    #[error("account {account} pays {amount} but holds only {holds} of case money: a transfer was missed")]
    Untracked {
        /// The paying account.
        account: AccountRef,
        /// The case money it holds.
        holds: Fen,
        /// The amount it paid.
        amount: Fen,
    },
    /// A victim paid more than the case's loss.
    #[error("case {case} paid {paid}, more than its loss {loss}")]
    Overpaid {
        /// The case.
        case: usize,
        /// Paid so far.
        paid: Fen,
        /// The case's loss.
        loss: Fen,
    },
    /// A case's money does not add up: a bug in the attribution.
    #[error("case {case} does not add up: held {held} + cashed out {cashed_out} + unpaid {unpaid} != loss {loss}")]
    Unbalanced {
        /// The case.
        case: usize,
        /// Held in accounts.
        held: Fen,
        /// Cashed out.
        cashed_out: Fen,
        /// Not paid yet.
        unpaid: Fen,
        /// The loss.
        loss: Fen,
    },
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Where a case's money is, in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseMoney {
    /// What the victim pays in all (the report's loss).
    pub loss: Fen,
    /// What the victim has paid so far.
    pub paid: Fen,
    /// What sits in accounts (mules', or anyone's it reached).
    pub held: Fen,
    /// What was cashed out: gone.
    pub cashed_out: Fen,
    /// What the victim has not paid (yet, or ever when the payment was blocked).
    pub unpaid: Fen,
}

impl CaseMoney {
    fn add(self, other: CaseMoney) -> Result<CaseMoney, MoneyError> {
        Ok(CaseMoney {
            loss: self.loss.checked_add(other.loss)?,
            paid: self.paid.checked_add(other.paid)?,
            held: self.held.checked_add(other.held)?,
            cashed_out: self.cashed_out.checked_add(other.cashed_out)?,
            unpaid: self.unpaid.checked_add(other.unpaid)?,
        })
    }
}

/// When and how deep a case's money first reached an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// When the first of it arrived.
    pub first_at_ms: TimeMs,
    /// Hops from the victim: 1 = the victim paid this account.
    pub depth: u8,
}

/// One case's running figures.
#[derive(Debug, Clone, Default)]
struct CaseState {
    loss: Fen,
    paid: Fen,
    cashed_out: Fen,
    reached: BTreeMap<AccountRef, Reach>,
}

/// Attribution of all money to cases. See the module documentation for the rule.
#[derive(Debug, Clone, Default)]
pub struct Attribution {
    /// Victims' own accounts and their case.
    sources: BTreeMap<AccountRef, usize>,
    /// Payment orders and the account each settles into.
    orders: BTreeMap<PaymentOrderRef, AccountRef>,
    /// Every account that ever held case money, and what it holds of each case now (cases
    /// holding nothing are left out).
    holdings: BTreeMap<AccountRef, BTreeMap<usize, Fen>>,
    cases: Vec<CaseState>,
    transfers: u64,
}

impl Attribution {
    /// An attribution for cases `0..losses.len()` with these losses, the victims' accounts
    /// (`sources`: account → case) and the payment orders (order → receiving account).
    pub fn new(
        losses: Vec<Fen>,
        sources: BTreeMap<AccountRef, usize>,
        orders: BTreeMap<PaymentOrderRef, AccountRef>,
    ) -> Self {
        let cases = losses.into_iter().map(|loss| CaseState { loss, ..CaseState::default() }).collect();
        Attribution { sources, orders, holdings: BTreeMap::new(), cases, transfers: 0 }
    }

    /// Records an executed schedule outcome; blocked and failed ones moved nothing and are
    /// ignored.
    pub fn record_outcome(&mut self, outcome: &Outcome) -> Result<(), AttributionError> {
        match outcome {
            Outcome::Executed { transfer, at_ms, .. } => {
                self.record(&transfer.from, &transfer.to, transfer.amount, *at_ms)
            }
            Outcome::Blocked { .. } | Outcome::Failed { .. } => Ok(()),
        }
    }

    /// Records a transfer that happened. Transfers must be recorded in the order they were
    /// booked. Nothing changes when it returns an error.
    pub fn record(
        &mut self,
        from: &AccountRef,
        to: &Counterparty,
        amount: Fen,
        at_ms: TimeMs,
    ) -> Result<(), AttributionError> {
        if amount.is_zero() {
            return Ok(());
        }
        let receiving = match to {
            Counterparty::Account(account) => Some(account.clone()),
            Counterparty::Order(order) => {
                Some(self.orders.get(order).cloned().ok_or_else(|| AttributionError::UnknownOrder(order.clone()))?)
            }
            Counterparty::CashOut(_) => None,
        };
        // Decide the shares before changing anything.
        let source = self.sources.get(from).copied();
        let shares: Vec<(usize, Fen)> = match source {
            Some(case) => {
                let state = &self.cases[case];
                let paid = state.paid.checked_add(amount)?;
                if paid > state.loss {
                    return Err(AttributionError::Overpaid { case, paid, loss: state.loss });
                }
                vec![(case, amount)]
            }
            None => {
                let held = self.holdings.get(from).map(|h| Fen::sum(h.values().copied())).transpose()?;
                let held = held.unwrap_or(Fen::ZERO);
                if held < amount {
                    return Err(AttributionError::Untracked { account: from.clone(), holds: held, amount });
                }
                pro_rata(self.holdings.get(from).unwrap_or(&BTreeMap::new()), amount)
            }
        };

        // Apply them. Every addition below is bounded by money that exists (at most the sum
        // of all losses, checked when paid), so none can overflow a u64.
        self.transfers += 1;
        if let Some(case) = source {
            let state = &mut self.cases[case];
            state.paid = state.paid.checked_add(amount)?;
        } else if let Some(payer) = self.holdings.get_mut(from) {
            for (case, share) in &shares {
                if let Some(held) = payer.get_mut(case) {
                    *held = held.checked_sub(*share)?;
                    if held.is_zero() {
                        payer.remove(case);
                    }
                }
            }
        }
        for (case, share) in shares {
            if share.is_zero() {
                continue;
            }
            match &receiving {
                Some(account) => {
                    let held = self.holdings.entry(account.clone()).or_default().entry(case).or_insert(Fen::ZERO);
                    *held = held.checked_add(share)?;
                    let state = &mut self.cases[case];
                    let depth = match source {
                        Some(_) => 1,
                        None => state.reached.get(from).map_or(1, |r| r.depth.saturating_add(1)),
                    };
                    state.reached.entry(account.clone()).or_insert(Reach { first_at_ms: at_ms, depth });
                }
                None => {
                    let state = &mut self.cases[case];
                    state.cashed_out = state.cashed_out.checked_add(share)?;
                }
            }
        }
        Ok(())
    }

    /// Number of cases.
    pub fn case_count(&self) -> usize {
        self.cases.len()
    }

    /// Transfers recorded so far (zero amounts aside).
    pub fn transfers(&self) -> u64 {
        self.transfers
    }

    /// A case's totals now, or `None` for an unknown case.
    pub fn case_money(&self, case: usize) -> Option<CaseMoney> {
        let state = self.cases.get(case)?;
        let held = self.held_by(case).values().fold(Fen::ZERO, |sum, fen| sum.checked_add(*fen).unwrap_or(sum));
        Some(CaseMoney {
            loss: state.loss,
            paid: state.paid,
            held,
            cashed_out: state.cashed_out,
            unpaid: state.loss.saturating_sub(state.paid),
        })
    }

    /// All cases' totals together.
    pub fn total(&self) -> Result<CaseMoney, AttributionError> {
        let mut total = CaseMoney::default();
        for case in 0..self.cases.len() {
            total = total.add(self.case_money(case).unwrap_or_default())?;
        }
        Ok(total)
    }

    /// The accounts holding a case's money now, with the amount.
    pub fn held_by(&self, case: usize) -> BTreeMap<AccountRef, Fen> {
        let Some(state) = self.cases.get(case) else {
            return BTreeMap::new();
        };
        state
            .reached
            .keys()
            .filter_map(|account| {
                let held = self.holdings.get(account)?.get(&case)?;
                Some((account.clone(), *held))
            })
            .collect()
    }

    /// Every account a case's money ever reached, with when and how deep it first arrived.
    pub fn reached(&self, case: usize) -> Option<&BTreeMap<AccountRef, Reach>> {
        self.cases.get(case).map(|state| &state.reached)
    }

    /// What an account holds of each case now (cases holding nothing left out), or `None`
    /// when it never held case money.
    pub fn holdings(&self, account: &AccountRef) -> Option<&BTreeMap<usize, Fen>> {
        self.holdings.get(account)
    }

    /// Whether an account ever held any case's money (the test of a freeze's precision).
    pub fn ever_held(&self, account: &AccountRef) -> bool {
        self.holdings.contains_key(account)
    }

    /// Accounts that ever held case money.
    pub fn accounts_reached(&self) -> usize {
        self.holdings.len()
    }

    /// Checks, for every case, that the money held in accounts plus the money cashed out
    /// plus the money not paid yet is the loss, in fen. An error is a bug.
    pub fn check(&self) -> Result<(), AttributionError> {
        let mut held = vec![Fen::ZERO; self.cases.len()];
        for by_case in self.holdings.values() {
            for (case, fen) in by_case {
                if let Some(total) = held.get_mut(*case) {
                    *total = total.checked_add(*fen)?;
                }
            }
        }
        for (case, (state, held)) in self.cases.iter().zip(held).enumerate() {
            let unpaid = state.loss.checked_sub(state.paid)?;
            if held.checked_add(state.cashed_out)?.checked_add(unpaid)? != state.loss {
                return Err(AttributionError::Unbalanced {
                    case,
                    held,
                    cashed_out: state.cashed_out,
                    unpaid,
                    loss: state.loss,
                });
            }
        }
        Ok(())
    }
}

/// Splits `amount` among the cases of `holdings` in proportion to what each holds, in whole
/// fen, by largest remainder (ties to the lower case). `amount` must not exceed the total.
fn pro_rata(holdings: &BTreeMap<usize, Fen>, amount: Fen) -> Vec<(usize, Fen)> {
    let total: u128 = holdings.values().map(|fen| u128::from(fen.get())).sum();
    if total == 0 {
        return Vec::new();
    }
    let amount = u128::from(amount.get());
    let mut shares: Vec<(usize, u128, u128)> = holdings
        .iter()
        .map(|(case, held)| {
            let exact = amount * u128::from(held.get());
            (*case, exact / total, exact % total)
        })
        .collect();
    let assigned: u128 = shares.iter().map(|s| s.1).sum();
    let mut left = amount - assigned;
    let mut by_remainder: Vec<usize> = (0..shares.len()).collect();
    by_remainder.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(shares[*a].0.cmp(&shares[*b].0)));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        shares[i].1 += 1;
        left -= 1;
    }
    // Each share is at most the amount, which came from a u64.
    shares.into_iter().map(|(case, share, _)| (case, Fen::new(u64::try_from(share).unwrap_or(u64::MAX)))).collect()
}

/// A transfer a ledger booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedTransfer {
    /// The paying account.
    pub from: AccountRef,
    /// Where the money went.
    pub to: Counterparty,
    /// How much.
    pub amount: Fen,
    /// When it was booked.
    pub at_ms: TimeMs,
}

/// Every transfer `ledger` booked, in booking order, read from the accounts' statements.
pub fn booked_transfers(ledger: &Ledger) -> Vec<BookedTransfer> {
    booked(ledger, &std::collections::BTreeSet::new())
}

/// Every transfer `ledger` booked except restitution's returns to victims
/// ([`Ledger::returns_executed`]), in booking order: where the money would be had nothing been
/// returned. A drill scores what the freezes held against it, and the returns apart.
pub fn booked_transfers_before_returns(ledger: &Ledger) -> Vec<BookedTransfer> {
    let returns = ledger.returns_executed().into_iter().map(|r| r.transfer_id).collect();
    booked(ledger, &returns)
}

fn booked(ledger: &Ledger, leave_out: &std::collections::BTreeSet<String>) -> Vec<BookedTransfer> {
    let mut booked: Vec<(&str, BookedTransfer)> = Vec::new();
    for account in ledger.accounts() {
        for entry in ledger.statement(account).unwrap_or_default() {
            if entry.direction == Direction::Out && !leave_out.contains(&entry.transfer_id) {
                let transfer = BookedTransfer {
                    from: account.clone(),
                    to: entry.counterparty.clone(),
                    amount: entry.amount_fen,
                    at_ms: entry.at_ms,
                };
                booked.push((entry.transfer_id.as_str(), transfer));
            }
        }
    }
    // Transfer ids are the booking sequence, zero-padded: their order is booking order.
    booked.sort_unstable_by(|a, b| a.0.cmp(b.0));
    booked.into_iter().map(|(_, transfer)| transfer).collect()
}

/// A case's fate when nobody intervenes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// Where the money ended.
    pub money: CaseMoney,
    /// Accounts the money reached.
    pub accounts: usize,
    /// The deepest level it reached.
    pub max_depth: u8,
}

/// The ground truth of a script with no intervention: identical for one scenario and seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundTruth {
    /// Per case, in case order.
    pub cases: Vec<CaseOutcome>,
    /// All cases together.
    pub total: CaseMoney,
    /// Transfers executed.
    pub transfers: u64,
    /// Accounts that ever held case money.
    pub accounts_reached: usize,
}

impl GroundTruth {
    /// A stable digest of every figure.
    pub fn fingerprint(&self) -> u64 {
        domain::fnv1a64(format!("{self:?}").as_bytes())
    }
}

/// Why the plan could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// A transfer of the plan did not execute with nobody intervening: a bug in the
    /// generator.
    #[error("the plan's transfer did not execute: {0:?}")]
    Refused(Box<Outcome>),
    /// The attribution does not add up.
    #[error(transparent)]
    Attribution(#[from] AttributionError),
    /// The ledger does not add up.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Script {
    /// A fresh attribution for this script's cases, victims' accounts and orders.
    pub fn attribution(&self) -> Attribution {
        let losses = self.reports.iter().map(|r| r.case.loss).collect();
        let sources = self.reports.iter().map(|r| (r.case.victim_account.clone(), r.case.case)).collect();
        Attribution::new(losses, sources, self.orders.clone())
    }

    /// The attribution of everything `ledger` (this script's world, played) has booked so
    /// far, rebuilt from the accounts' statements in booking order. It equals an attribution
    /// fed every executed outcome, and does not depend on receiving every outcome of the
    /// schedule driver (whose subscribers may lag and lose some).
    pub fn attribute_ledger(&self, ledger: &Ledger) -> Result<Attribution, AttributionError> {
        let mut attribution = self.attribution();
        for transfer in booked_transfers(ledger) {
            attribution.record(&transfer.from, &transfer.to, transfer.amount, transfer.at_ms)?;
        }
        Ok(attribution)
    }

    /// Replays the whole plan on a copy of the world with no intervention, and returns
    /// where every case's money ends. The script itself is not changed.
    pub fn unimpeded_truth(&self) -> Result<GroundTruth, ReplayError> {
        let mut world = self.world.clone();
        let mut attribution = self.attribution();
        while let Some(due) = world.schedule.next_due_ms() {
            for outcome in world.execute_due(due) {
                if !matches!(outcome, Outcome::Executed { .. }) {
                    return Err(ReplayError::Refused(Box::new(outcome)));
                }
                attribution.record_outcome(&outcome)?;
            }
        }
        world.ledger.check_conservation()?;
        attribution.check()?;
        let cases = (0..attribution.case_count())
            .map(|case| {
                let reached = attribution.reached(case);
                CaseOutcome {
                    money: attribution.case_money(case).unwrap_or_default(),
                    accounts: reached.map_or(0, BTreeMap::len),
                    max_depth: reached.and_then(|r| r.values().map(|reach| reach.depth).max()).unwrap_or(0),
                }
            })
            .collect();
        Ok(GroundTruth {
            cases,
            total: attribution.total()?,
            transfers: attribution.transfers(),
            accounts_reached: attribution.accounts_reached(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(n: u32) -> AccountRef {
        AccountRef::parse(&format!("icbc:62220202{n:08}")).unwrap()
    }

    fn to(n: u32) -> Counterparty {
        Counterparty::Account(acct(n))
    }

    /// Two victims (accounts 1 and 2, cases 0 and 1) and an order into account 5.
    fn attribution() -> Attribution {
        let order = PaymentOrderRef::parse("alipay:20250001").unwrap();
        Attribution::new(
            vec![Fen::new(1_000), Fen::new(3_000)],
            BTreeMap::from([(acct(1), 0), (acct(2), 1)]),
            BTreeMap::from([(order, acct(5))]),
        )
    }

    #[test]
    fn mixed_money_moves_pro_rata_and_adds_up() {
        let mut a = attribution();
        a.record(&acct(1), &to(3), Fen::new(1_000), 10).unwrap();
        a.record(&acct(2), &to(3), Fen::new(2_000), 20).unwrap();
        // Account 3 holds 1000 of case 0 and 2000 of case 1: 1501 goes 1/3 : 2/3.
        a.record(&acct(3), &to(4), Fen::new(1_501), 30).unwrap();
        assert_eq!(a.holdings(&acct(4)).unwrap(), &BTreeMap::from([(0, Fen::new(500)), (1, Fen::new(1_001))]));
        let order = Counterparty::Order(PaymentOrderRef::parse("alipay:20250001").unwrap());
        a.record(&acct(4), &order, Fen::new(900), 40).unwrap();
        a.record(&acct(5), &Counterparty::CashOut("ATM".into()), Fen::new(900), 50).unwrap();
        a.check().unwrap();

        let zero = a.case_money(0).unwrap();
        assert_eq!(zero.held.checked_add(zero.cashed_out).unwrap(), Fen::new(1_000));
        let one = a.case_money(1).unwrap();
        assert_eq!(one.unpaid, Fen::new(1_000));
        assert_eq!(one.held.checked_add(one.cashed_out).unwrap().checked_add(one.unpaid).unwrap(), Fen::new(3_000));
        let total = a.total().unwrap();
        assert_eq!(total.cashed_out, Fen::new(900));

        let reached = a.reached(0).unwrap();
        assert_eq!(reached[&acct(3)], Reach { first_at_ms: 10, depth: 1 });
        assert_eq!(reached[&acct(4)], Reach { first_at_ms: 30, depth: 2 });
        assert_eq!(reached[&acct(5)], Reach { first_at_ms: 40, depth: 3 });
        assert!(a.ever_held(&acct(5)) && !a.ever_held(&acct(9)));
        assert_eq!(a.holdings(&acct(5)), Some(&BTreeMap::new()));
    }

    #[test]
    fn missed_transfers_and_overpayment_are_errors_that_change_nothing() {
        let mut a = attribution();
        a.record(&acct(1), &to(3), Fen::new(600), 10).unwrap();
        let err = a.record(&acct(3), &to(4), Fen::new(601), 20).unwrap_err();
        assert!(matches!(err, AttributionError::Untracked { .. }), "{err}");
        let err = a.record(&acct(1), &to(3), Fen::new(401), 30).unwrap_err();
        assert!(matches!(err, AttributionError::Overpaid { case: 0, .. }), "{err}");
        let unknown = Counterparty::Order(PaymentOrderRef::parse("alipay:99999999").unwrap());
        let err = a.record(&acct(3), &unknown, Fen::new(1), 40).unwrap_err();
        assert!(matches!(err, AttributionError::UnknownOrder(_)), "{err}");
        assert_eq!(a.held_by(0), BTreeMap::from([(acct(3), Fen::new(600))]));
        a.check().unwrap();
    }

    #[test]
    fn pro_rata_shares_add_up_and_never_exceed_holdings() {
        let holdings = BTreeMap::from([(0, Fen::new(1)), (1, Fen::new(1)), (2, Fen::new(1)), (7, Fen::new(97))]);
        for amount in 0..=100 {
            let shares = pro_rata(&holdings, Fen::new(amount));
            assert_eq!(shares.iter().map(|s| s.1.get()).sum::<u64>(), amount);
            for (case, share) in shares {
                assert!(share <= holdings[&case]);
            }
        }
        // 2 fen over three equal holders: the lower cases get them.
        let even = BTreeMap::from([(3, Fen::new(5)), (1, Fen::new(5)), (2, Fen::new(5))]);
        assert_eq!(pro_rata(&even, Fen::new(2)), vec![(1, Fen::new(1)), (2, Fen::new(1)), (3, Fen::ZERO)]);
    }
}
