//! The tracing rule: which of an account's onward transfers carry the victim's money, and
//! how much of the money still in it is the victim's.
//!
//! Rule: **lowest intermediate balance** (LIBR), the rule courts apply to mixed accounts.
//! The victim's money in the account starts as the traced amount (at most the balance right
//! after it arrived). Money paid in later by others does not replenish it. Every outgoing
//! entry that takes the balance below the victim's money carries the difference onward:
//! the other money in the account is taken to leave first. What is left at the end is the
//! victim's claim on the held balance. Written down in docs/tracing-rule.md.
//!
//! Invariant (asserted, and property-tested): claim + onward + cashed out + unexplained ==
//! traced, so the money held plus the money traced onward never exceeds what entered.

use domain::{Fen, TimeMs};
use protocol::adapter::{Counterparty, Direction, StatementEntry};

/// How the traced amount splits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// The victim's part of the balance now held.
    pub claim: Fen,
    /// (statement index, amount) of outgoing entries to accounts or orders that carried
    /// victim money, oldest first.
    pub onward: Vec<(usize, Fen)>,
    /// Victim money that left as cash.
    pub cashed_out: Fen,
    /// Traced money the statement does not account for: it arrived in an account whose
    /// balance was already lower, or the held balance is lower than the statement says.
    pub unexplained: Fen,
}

/// One arrival of victim money in the account: the transfer that brought it (when known),
/// the amount traced into it and when it was said to arrive (by the victim, typed by staff,
/// or by the bank that sent it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Arrival {
    pub transfer_id: Option<String>,
    pub amount: Fen,
    pub at_ms: TimeMs,
}

/// How far from the time it was said to arrive an arrival without a transfer id is looked
/// for in a statement (staff type the victim's times by hand; banks book a leg earlier or
/// later than the payer's app shows it). Statements are asked for from this long before the
/// earliest arrival.
pub const ARRIVAL_WINDOW_MS: u64 = 60 * 60 * 1000;

/// Splits the victim money that arrived by `arrivals` over the account's `statement`, given
/// the balance `held` now. An arrival is found in the statement by its transfer id, else as
/// the incoming entry of its amount nearest to its time within [`ARRIVAL_WINDOW_MS`] (each
/// entry matches one arrival at most). One that is not there is not assumed present: it is
/// unexplained, and no claim rests on it.
pub fn split(arrivals: &[Arrival], statement: &[StatementEntry], held: Fen) -> Split {
    let traced = Fen::sum(arrivals.iter().map(|a| a.amount)).expect("traced amounts are bounded by the loss");
    // The statement entry of each arrival, if found.
    let mut taken = vec![false; statement.len()];
    let mut arrival_at = vec![None; arrivals.len()];
    for (slot, arrival) in arrival_at.iter_mut().zip(arrivals) {
        let candidates =
            statement.iter().enumerate().filter(|(index, entry)| !taken[*index] && entry.direction == Direction::In);
        let found = match &arrival.transfer_id {
            Some(id) => candidates.filter(|(_, entry)| &entry.transfer_id == id).map(|(index, _)| index).next(),
            None => candidates
                .filter(|(_, entry)| entry.amount_fen == arrival.amount)
                .map(|(index, entry)| (entry.at_ms.abs_diff(arrival.at_ms), index))
                .filter(|(distance, _)| *distance <= ARRIVAL_WINDOW_MS)
                .min()
                .map(|(_, index)| index),
        };
        if let Some(index) = found {
            taken[index] = true;
        }
        *slot = found;
    }
    // Arrivals not in the statement: no claim rests on them.
    let not_found = Fen::sum(arrivals.iter().zip(&arrival_at).filter(|(_, at)| at.is_none()).map(|(a, _)| a.amount))
        .expect("bounded by traced");
    let mut result = Split { unexplained: not_found, ..Split::default() };
    let mut victim = Fen::ZERO;
    for (index, entry) in statement.iter().enumerate() {
        if entry.direction == Direction::In {
            for (arrival, _) in arrivals.iter().zip(&arrival_at).filter(|(_, at)| **at == Some(index)) {
                // Victim money in the account cannot exceed its balance.
                let with_arrival = victim.checked_add(arrival.amount).expect("bounded by traced");
                victim = with_arrival.min(entry.balance_after_fen);
                let lost = with_arrival.saturating_sub(victim);
                result.unexplained = result.unexplained.checked_add(lost).expect("bounded by traced");
            }
            continue;
        }
        let remaining = victim.min(entry.balance_after_fen);
        let carried = victim.saturating_sub(remaining);
        victim = remaining;
        if carried.is_zero() {
            continue;
        }
        match entry.counterparty {
            Counterparty::CashOut(_) => {
                result.cashed_out = result.cashed_out.checked_add(carried).expect("bounded by traced");
            }
            Counterparty::Account(_) | Counterparty::Order(_) => result.onward.push((index, carried)),
        }
    }
    result.claim = victim.min(held);
    result.unexplained = result.unexplained.checked_add(victim.saturating_sub(held)).expect("bounded by traced");
    let onward = Fen::sum(result.onward.iter().map(|(_, amount)| *amount)).expect("bounded by traced");
    let total = Fen::sum([result.claim, onward, result.cashed_out, result.unexplained]).expect("bounded by traced");
    assert_eq!(total, traced, "tracing rule must conserve the traced amount");
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountRef, Fen};
    use proptest::prelude::*;

    fn entry(direction: Direction, amount: u64, balance_after: u64, to: Counterparty) -> StatementEntry {
        StatementEntry {
            transfer_id: format!("t{amount}-{balance_after}"),
            at_ms: 0,
            direction,
            amount_fen: Fen::new(amount),
            counterparty: to,
            balance_after_fen: Fen::new(balance_after),
        }
    }

    fn arrival(amount: u64, transfer_id: Option<&str>) -> Arrival {
        Arrival { transfer_id: transfer_id.map(str::to_owned), amount: Fen::new(amount), at_ms: 0 }
    }

    #[test]
    fn two_arrivals_into_one_account_are_followed_together() {
        // The victim paid 1000 and then 500 into the same mule, which sent 1300 on.
        let mut first = entry(Direction::In, 1000, 1000, account(1));
        first.transfer_id = "A".into();
        let mut second = entry(Direction::In, 500, 1500, account(1));
        second.transfer_id = "B".into();
        let statement = [first, second, entry(Direction::Out, 1300, 200, account(2))];
        let split = split(&[arrival(1000, Some("A")), arrival(500, Some("B"))], &statement, Fen::new(200));
        assert_eq!(split.onward, vec![(2, Fen::new(1300))]);
        assert_eq!(split.claim, Fen::new(200));
        assert_eq!(split.unexplained, Fen::ZERO);
    }

    fn account(n: u32) -> Counterparty {
        Counterparty::Account(AccountRef::parse(&format!("icbc:{n:08}")).unwrap())
    }

    #[test]
    fn given_an_empty_mule_when_it_forwards_part_then_the_rest_is_its_claim() {
        // Mule empty before; receives 1000, sends 600 and 300 on, keeps 100.
        let statement = [
            entry(Direction::In, 1000, 1000, account(1)),
            entry(Direction::Out, 600, 400, account(2)),
            entry(Direction::Out, 300, 100, account(3)),
        ];
        let split = split(&[arrival(1000, None)], &statement, Fen::new(100));
        assert_eq!(split.claim, Fen::new(100));
        assert_eq!(split.onward, vec![(1, Fen::new(600)), (2, Fen::new(300))]);
        assert_eq!(split.cashed_out, Fen::ZERO);
    }

    #[test]
    fn given_other_money_in_the_account_when_money_leaves_then_the_other_money_leaves_first() {
        // 5000 of someone else's, then the victim's 1000; 4500 leaves: the victim's 1000 stays.
        let statement = [
            entry(Direction::In, 1000, 6000, account(1)),
            entry(Direction::Out, 4500, 1500, account(2)),
            entry(Direction::Out, 1200, 300, Counterparty::CashOut("atm".into())),
        ];
        let split = split(&[arrival(1000, None)], &statement, Fen::new(300));
        assert_eq!(split.onward, vec![]);
        assert_eq!(split.cashed_out, Fen::new(700));
        assert_eq!(split.claim, Fen::new(300));
    }

    #[test]
    fn given_a_later_deposit_then_it_does_not_replenish_the_victims_money() {
        let statement = [
            entry(Direction::In, 1000, 1000, account(1)),
            entry(Direction::Out, 1000, 0, account(2)),
            entry(Direction::In, 800, 800, account(3)),
        ];
        let split = split(&[arrival(1000, None)], &statement, Fen::new(800));
        assert_eq!(split.claim, Fen::ZERO);
        assert_eq!(split.onward, vec![(1, Fen::new(1000))]);
    }

    #[test]
    fn the_arrival_is_found_by_its_transfer_id() {
        let mut arrived = entry(Direction::In, 500, 700, account(1));
        arrived.transfer_id = "T42".into();
        let statement = [
            entry(Direction::In, 200, 200, account(9)),
            entry(Direction::Out, 100, 100, account(8)),
            arrived,
            entry(Direction::Out, 650, 50, account(2)),
        ];
        let split = split(&[arrival(500, Some("T42"))], &statement, Fen::new(50));
        assert_eq!(split.onward, vec![(3, Fen::new(450))]);
        assert_eq!(split.claim, Fen::new(50));
    }

    #[test]
    fn an_arrival_without_a_transfer_id_is_the_deposit_of_its_amount_nearest_its_time_within_the_window() {
        const MINUTE: u64 = 60_000;
        let at = |mut e: StatementEntry, at_ms: u64| {
            e.at_ms = at_ms;
            e
        };
        // Someone else's 1000 an hour and a half before; the victim's 1000 booked 20 minutes
        // before the time staff typed; then 1500 leaves and 500 stays.
        let statement = [
            at(entry(Direction::In, 1000, 1000, account(7)), 100 * MINUTE - 90 * MINUTE),
            at(entry(Direction::In, 1000, 2000, account(1)), 100 * MINUTE - 20 * MINUTE),
            at(entry(Direction::Out, 1500, 500, account(2)), 100 * MINUTE + 5 * MINUTE),
        ];
        let typed = Arrival { transfer_id: None, amount: Fen::new(1000), at_ms: 100 * MINUTE };
        let split = split(std::slice::from_ref(&typed), &statement, Fen::new(500));
        // The nearest deposit is the victim's: the other money leaves first, 500 stays.
        assert_eq!((split.claim, split.onward.clone()), (Fen::new(500), vec![(2, Fen::new(500))]));
        // Taking the first equal deposit would have made the victim's money leave first.
        let only_other = [statement[0].clone(), statement[2].clone()];
        let split = super::split(&[typed], &only_other, Fen::new(500));
        assert_eq!(split.claim, Fen::ZERO, "a deposit 90 minutes off is not the victim's: {split:?}");
        assert_eq!(split.unexplained, Fen::new(1000));
    }

    #[test]
    fn an_arrival_that_is_not_in_the_statement_is_not_assumed_present() {
        // The statement holds 5000 of others' money and no deposit of the victim's 1000.
        let statement = [entry(Direction::In, 5000, 5000, account(7)), entry(Direction::Out, 100, 4900, account(2))];
        let split = split(&[arrival(1000, None)], &statement, Fen::new(4900));
        assert_eq!(split.claim, Fen::ZERO);
        assert!(split.onward.is_empty());
        assert_eq!(split.unexplained, Fen::new(1000));
        let split = super::split(&[arrival(1000, Some("T9"))], &statement, Fen::new(4900));
        assert_eq!((split.claim, split.unexplained), (Fen::ZERO, Fen::new(1000)), "nor one with an id");
    }

    fn arb_statement(prior: std::ops::Range<u64>) -> impl Strategy<Value = (u64, Vec<StatementEntry>, u64)> {
        let step = (any::<bool>(), 0u64..5_000, 0u8..3);
        (1u64..20_000, prior, proptest::collection::vec(step, 0..20)).prop_map(|(traced, before, steps)| {
            let mut balance = before + traced;
            let mut statement = vec![entry(Direction::In, traced, balance, account(0))];
            for (i, (incoming, amount, kind)) in steps.into_iter().enumerate() {
                let to = match kind {
                    0 => account(i as u32 + 1),
                    1 => Counterparty::CashOut("atm".into()),
                    _ => Counterparty::Order(domain::PaymentOrderRef::parse(&format!("alipay:ord{i:06}")).unwrap()),
                };
                if incoming {
                    balance += amount;
                    statement.push(entry(Direction::In, amount, balance, to));
                } else {
                    let amount = amount.min(balance);
                    balance -= amount;
                    statement.push(entry(Direction::Out, amount, balance, to));
                }
            }
            (traced, statement, balance)
        })
    }

    proptest! {
        #[test]
        fn money_held_plus_money_traced_onward_never_exceeds_what_entered(
            (traced, statement, held) in arb_statement(0..20_000),
            held_shortfall in 0u64..1000,
        ) {
            let held = Fen::new(held.saturating_sub(held_shortfall));
            let split = split(&[arrival(traced, None)], &statement, held);
            let onward = Fen::sum(split.onward.iter().map(|(_, a)| *a)).unwrap();
            prop_assert!(split.claim.get() + onward.get() + split.cashed_out.get() <= traced);
            prop_assert!(split.claim <= held);
            for (index, amount) in &split.onward {
                prop_assert!(*amount <= statement[*index].amount_fen, "a leg carries at most its transfer");
            }
        }

        #[test]
        fn an_empty_mule_accounts_for_every_fen(
            (traced, statement, held) in arb_statement(0..1),
        ) {
            let split = split(&[arrival(traced, None)], &statement, Fen::new(held));
            let onward = Fen::sum(split.onward.iter().map(|(_, a)| *a)).unwrap();
            prop_assert_eq!(split.unexplained, Fen::ZERO);
            prop_assert_eq!(split.claim.get() + onward.get() + split.cashed_out.get(), traced);
        }
    }
}
