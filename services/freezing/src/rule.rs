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

/// How money leaving a mixed account is attributed to the victims whose money is in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TracingRule {
    /// Every outgoing entry carries each part of the balance in proportion to it: the
    /// victims' money and the rest alike. A claim never takes money from a depositor the
    /// center has not traced there (another victim not reported yet, or reached by a trail
    /// not followed): the rule the regulations name for mixed money.
    #[default]
    ProRata,
    /// Lowest intermediate balance: other money leaves first; an outgoing entry carries
    /// victims' money only when the balance drops below it. Follows fewer transfers, and
    /// claims more for the traced victims than pro rata wherever untraced victims' money is
    /// mixed in.
    LowestIntermediateBalance,
}

impl TracingRule {
    /// Its name on the command line and in docs.
    pub fn name(self) -> &'static str {
        match self {
            TracingRule::ProRata => "pro-rata",
            TracingRule::LowestIntermediateBalance => "lowest-intermediate-balance",
        }
    }
}

impl std::str::FromStr for TracingRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [TracingRule::ProRata, TracingRule::LowestIntermediateBalance]
            .into_iter()
            .find(|rule| rule.name() == s)
            .ok_or_else(|| format!("tracing rule {s:?}: accepted are pro-rata and lowest-intermediate-balance"))
    }
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
/// the balance `held` now: [`split_joint`] with one victim.
pub fn split(rule: TracingRule, arrivals: &[Arrival], statement: &[StatementEntry], held: Fen) -> Split {
    let owned: Vec<(usize, Arrival)> = arrivals.iter().map(|a| (0, a.clone())).collect();
    split_joint(rule, 1, &owned, statement, held).pop().expect("one victim, one split")
}

/// Splits the money of `victims` victims over the account's `statement`, given the balance
/// `held` now: `arrivals` are (victim, arrival), and the result has one [`Split`] per victim.
///
/// An arrival is found in the statement by its transfer id, else as the incoming entry of
/// its amount nearest to its time within [`ARRIVAL_WINDOW_MS`] (each entry matches one
/// arrival at most, in the order given). One that is not there is not assumed present: it is
/// unexplained, and no claim rests on it.
///
/// The victims' money is followed together. By [`TracingRule::ProRata`] an outgoing entry
/// carries each victim's money and the rest of the balance before it in proportion
/// ([`pro_rata`]); by [`TracingRule::LowestIntermediateBalance`] other money leaves first,
/// and an entry that takes the balance below the victims' money carries the difference,
/// shared among the victims pro rata. A held balance below their money at the end is shared
/// the same way (unexplained). Each victim's money is conserved: claim + onward + cashed
/// out + unexplained == what arrived for it (asserted).
pub fn split_joint(
    rule: TracingRule,
    victims: usize,
    arrivals: &[(usize, Arrival)],
    statement: &[StatementEntry],
    held: Fen,
) -> Vec<Split> {
    let mut traced = vec![Fen::ZERO; victims];
    for (victim, arrival) in arrivals {
        traced[*victim] =
            traced[*victim].checked_add(arrival.amount).expect("traced amounts are bounded by the losses");
    }
    // The statement entry of each arrival, if found.
    let mut taken = vec![false; statement.len()];
    let mut arrival_at = vec![None; arrivals.len()];
    for (slot, (_, arrival)) in arrival_at.iter_mut().zip(arrivals) {
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
    let add = |sum: &mut Fen, amount: Fen| *sum = sum.checked_add(amount).expect("bounded by what was traced");
    let mut result = vec![Split::default(); victims];
    // Arrivals not in the statement: no claim rests on them.
    for ((victim, arrival), at) in arrivals.iter().zip(&arrival_at) {
        if at.is_none() {
            add(&mut result[*victim].unexplained, arrival.amount);
        }
    }
    // Each victim's money in the account, as the statement goes.
    let mut money = vec![Fen::ZERO; victims];
    let mut total = Fen::ZERO;
    for (index, entry) in statement.iter().enumerate() {
        if entry.direction == Direction::In {
            for ((victim, arrival), _) in arrivals.iter().zip(&arrival_at).filter(|(_, at)| **at == Some(index)) {
                // Victims' money in the account cannot exceed its balance.
                let with_arrival = total.checked_add(arrival.amount).expect("bounded by traced");
                let kept = with_arrival.min(entry.balance_after_fen);
                let lost = with_arrival.saturating_sub(kept);
                add(&mut result[*victim].unexplained, lost);
                add(&mut money[*victim], arrival.amount.saturating_sub(lost));
                total = kept;
            }
            continue;
        }
        // The balance before the entry bounds the victims' money in it: a statement that
        // shows less leaves the rest unexplained.
        let before = entry.balance_after_fen.saturating_add(entry.amount_fen);
        if total > before {
            for (victim, cut) in pro_rata(&money, total.saturating_sub(before)).into_iter().enumerate() {
                money[victim] = money[victim].checked_sub(cut).expect("a share is at most the victim's money");
                add(&mut result[victim].unexplained, cut);
            }
            total = before;
        }
        // What the entry takes from each victim.
        let shares = match rule {
            TracingRule::LowestIntermediateBalance => {
                pro_rata(&money, total.saturating_sub(total.min(entry.balance_after_fen)))
            }
            TracingRule::ProRata => {
                let mut weights = money.clone();
                weights.push(before.saturating_sub(total));
                let mut shares = pro_rata(&weights, entry.amount_fen);
                shares.pop();
                shares
            }
        };
        for (victim, share) in shares.into_iter().enumerate().filter(|(_, s)| !s.is_zero()) {
            money[victim] = money[victim].checked_sub(share).expect("a share is at most the victim's money");
            total = total.checked_sub(share).expect("bounded by the victims' money");
            match entry.counterparty {
                Counterparty::CashOut(_) => add(&mut result[victim].cashed_out, share),
                Counterparty::Account(_) | Counterparty::Order(_) => result[victim].onward.push((index, share)),
            }
        }
    }
    // A held balance lower than the victims' money: the shortfall is unexplained, pro rata.
    let short = pro_rata(&money, total.saturating_sub(held));
    for (victim, split) in result.iter_mut().enumerate() {
        split.claim = money[victim].checked_sub(short[victim]).expect("a share is at most the victim's money");
        add(&mut split.unexplained, short[victim]);
        let onward = Fen::sum(split.onward.iter().map(|(_, amount)| *amount)).expect("bounded by traced");
        let sum = Fen::sum([split.claim, onward, split.cashed_out, split.unexplained]).expect("bounded by traced");
        assert_eq!(sum, traced[victim], "tracing rule must conserve each victim's traced amount");
    }
    result
}

/// `amount` shared among `weights` pro rata, in whole fen: each gets the floor of its exact
/// share, and the fen left over go one each to the largest remainders (ties to the lower
/// index). The shares add up to `amount`, and none exceeds its weight when `amount` is at
/// most their sum.
pub fn pro_rata(weights: &[Fen], amount: Fen) -> Vec<Fen> {
    let total: u128 = weights.iter().map(|w| u128::from(w.get())).sum();
    if total == 0 || amount.is_zero() {
        return vec![Fen::ZERO; weights.len()];
    }
    let amount = u128::from(amount.get()).min(total);
    let mut shares: Vec<u128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = amount * u128::from(weight.get());
        shares.push(exact / total);
        remainders.push((exact % total, index));
    }
    let left = amount - shares.iter().sum::<u128>();
    // Largest remainder first, then the lower index.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take(usize::try_from(left).expect("fewer than one per weight")) {
        shares[index] += 1;
    }
    shares.into_iter().map(|s| Fen::new(u64::try_from(s).expect("a share is at most the amount"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountRef, Fen};
    use proptest::prelude::*;

    const LIBR: TracingRule = TracingRule::LowestIntermediateBalance;

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
        let split = split(LIBR, &[arrival(1000, Some("A")), arrival(500, Some("B"))], &statement, Fen::new(200));
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
        let split = split(LIBR, &[arrival(1000, None)], &statement, Fen::new(100));
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
        let split = split(LIBR, &[arrival(1000, None)], &statement, Fen::new(300));
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
        let split = split(LIBR, &[arrival(1000, None)], &statement, Fen::new(800));
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
        let split = split(LIBR, &[arrival(500, Some("T42"))], &statement, Fen::new(50));
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
        let split = split(LIBR, std::slice::from_ref(&typed), &statement, Fen::new(500));
        // The nearest deposit is the victim's: the other money leaves first, 500 stays.
        assert_eq!((split.claim, split.onward.clone()), (Fen::new(500), vec![(2, Fen::new(500))]));
        // Taking the first equal deposit would have made the victim's money leave first.
        let only_other = [statement[0].clone(), statement[2].clone()];
        let split = super::split(LIBR, &[typed], &only_other, Fen::new(500));
        assert_eq!(split.claim, Fen::ZERO, "a deposit 90 minutes off is not the victim's: {split:?}");
        assert_eq!(split.unexplained, Fen::new(1000));
    }

    #[test]
    fn an_arrival_that_is_not_in_the_statement_is_not_assumed_present() {
        // The statement holds 5000 of others' money and no deposit of the victim's 1000.
        let statement = [entry(Direction::In, 5000, 5000, account(7)), entry(Direction::Out, 100, 4900, account(2))];
        let split = split(LIBR, &[arrival(1000, None)], &statement, Fen::new(4900));
        assert_eq!(split.claim, Fen::ZERO);
        assert!(split.onward.is_empty());
        assert_eq!(split.unexplained, Fen::new(1000));
        let split = super::split(LIBR, &[arrival(1000, Some("T9"))], &statement, Fen::new(4900));
        assert_eq!((split.claim, split.unexplained), (Fen::ZERO, Fen::new(1000)), "nor one with an id");
    }

    #[test]
    fn given_two_victims_in_one_mule_when_part_leaves_then_it_carries_each_victims_money_pro_rata() {
        // A's 1000, then B's 3000 into an empty mule; 2000 leaves, 2000 stays.
        let mut a = entry(Direction::In, 1000, 1000, account(1));
        a.transfer_id = "A".into();
        let mut b = entry(Direction::In, 3000, 4000, account(2));
        b.transfer_id = "B".into();
        let statement = [a, b, entry(Direction::Out, 2000, 2000, account(3))];
        let arrivals = [(0, arrival(1000, Some("A"))), (1, arrival(3000, Some("B")))];
        let splits = split_joint(LIBR, 2, &arrivals, &statement, Fen::new(2000));
        assert_eq!((splits[0].claim, splits[0].onward.clone()), (Fen::new(500), vec![(2, Fen::new(500))]));
        assert_eq!((splits[1].claim, splits[1].onward.clone()), (Fen::new(1500), vec![(2, Fen::new(1500))]));
        // Each victim alone takes the other's money as leaving first: together they would
        // claim 4000 of the 2000 held, and follow none of the 2000 that left.
        let alone = split(LIBR, &[arrival(1000, Some("A"))], &statement, Fen::new(2000));
        assert_eq!((alone.claim, alone.onward), (Fen::new(1000), vec![]));
    }

    #[test]
    fn by_pro_rata_every_outflow_carries_the_victims_share_of_the_balance() {
        // 600 of someone else's, then A's 1000 and B's 1000; 1300 leaves to account 3.
        let mut a = entry(Direction::In, 1000, 1600, account(1));
        a.transfer_id = "A".into();
        let mut b = entry(Direction::In, 1000, 2600, account(2));
        b.transfer_id = "B".into();
        let statement =
            [entry(Direction::In, 600, 600, account(9)), a, b, entry(Direction::Out, 1300, 1300, account(3))];
        let arrivals = [(0, arrival(1000, Some("A"))), (1, arrival(1000, Some("B")))];
        let splits = split_joint(TracingRule::ProRata, 2, &arrivals, &statement, Fen::new(1300));
        // Half the balance left: half of each victim's money with it.
        for split in &splits {
            assert_eq!((split.claim, split.onward.clone()), (Fen::new(500), vec![(3, Fen::new(500))]));
        }
        // Lowest intermediate balance takes the other 600 as leaving first.
        let libr = split_joint(LIBR, 2, &arrivals, &statement, Fen::new(1300));
        assert_eq!(libr.iter().map(|s| s.claim).collect::<Vec<_>>(), vec![Fen::new(650), Fen::new(650)]);
    }

    #[test]
    fn other_money_still_leaves_before_the_victims_money() {
        // 600 of someone else's, then A's 1000 and B's 1000; 1000 leaves: 400 of it is theirs.
        let mut a = entry(Direction::In, 1000, 1600, account(1));
        a.transfer_id = "A".into();
        let mut b = entry(Direction::In, 1000, 2600, account(2));
        b.transfer_id = "B".into();
        let statement =
            [entry(Direction::In, 600, 600, account(9)), a, b, entry(Direction::Out, 1000, 1600, account(3))];
        let arrivals = [(0, arrival(1000, Some("A"))), (1, arrival(1000, Some("B")))];
        let splits = split_joint(LIBR, 2, &arrivals, &statement, Fen::new(1600));
        assert_eq!(splits.iter().map(|s| s.claim).collect::<Vec<_>>(), vec![Fen::new(800), Fen::new(800)]);
        assert_eq!(splits[0].onward, vec![(3, Fen::new(200))]);
    }

    #[test]
    fn pro_rata_shares_add_up_and_leftover_fen_go_to_the_largest_remainders() {
        let fen = |v: &[u64]| v.iter().copied().map(Fen::new).collect::<Vec<_>>();
        assert_eq!(pro_rata(&fen(&[1, 1, 1]), Fen::new(2)), fen(&[1, 1, 0]), "ties go to the lower index");
        assert_eq!(pro_rata(&fen(&[100, 200, 700]), Fen::new(10)), fen(&[1, 2, 7]));
        assert_eq!(pro_rata(&fen(&[3, 3]), Fen::new(5)), fen(&[3, 2]));
        assert_eq!(pro_rata(&fen(&[0, 0]), Fen::new(5)), fen(&[0, 0]), "nothing to share from");
        assert_eq!(pro_rata(&fen(&[u64::MAX, u64::MAX]), Fen::new(u64::MAX)), fen(&[u64::MAX / 2 + 1, u64::MAX / 2]));
    }

    /// An account's statement with money of several victims arriving at random points, and
    /// other money in and out between: (victims, arrivals, statement, held).
    fn arb_mixed_account(
        others: bool,
    ) -> impl Strategy<Value = (usize, Vec<(usize, Arrival)>, Vec<StatementEntry>, u64)> {
        // Each step: an arrival of victim `v` (kind 0), other money in (1), or out (2..).
        let step = (0u8..5, 1u64..10_000, 0usize..12);
        let before = if others { 0u64..5_000 } else { 0..1 };
        (1usize..12, before, proptest::collection::vec(step, 1..40)).prop_map(move |(victims, before, steps)| {
            let mut balance = before;
            let mut statement = Vec::new();
            let mut arrivals = Vec::new();
            for (i, (kind, amount, victim)) in steps.into_iter().enumerate() {
                let mut e = match kind {
                    0 | 1 => {
                        balance += amount;
                        entry(Direction::In, amount, balance, account(i as u32))
                    }
                    _ => {
                        let amount = amount.min(balance);
                        balance -= amount;
                        let to = if kind == 4 { Counterparty::CashOut("atm".into()) } else { account(i as u32) };
                        entry(Direction::Out, amount, balance, to)
                    }
                };
                e.transfer_id = format!("t{i}");
                if kind == 0 || (kind == 1 && !others) {
                    arrivals.push((victim % victims, arrival(amount, Some(&e.transfer_id))));
                }
                statement.push(e);
            }
            (victims, arrivals, statement, balance)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn many_victims_in_one_account_each_victims_money_is_conserved_and_no_fen_is_counted_twice(
            (victims, arrivals, statement, held) in arb_mixed_account(true),
            held_shortfall in 0u64..2_000,
            rule in arb_rule(),
        ) {
            let held = Fen::new(held.saturating_sub(held_shortfall));
            // Conservation per victim is asserted inside; here, across victims.
            let splits = split_joint(rule, victims, &arrivals, &statement, held);
            let claims = Fen::sum(splits.iter().map(|s| s.claim)).unwrap();
            prop_assert!(claims <= held, "claims {claims} exceed the {held} held");
            for (index, entry) in statement.iter().enumerate() {
                let carried = Fen::sum(splits.iter().flat_map(|s| &s.onward).filter(|(i, _)| *i == index).map(|(_, a)| *a)).unwrap();
                prop_assert!(carried <= entry.amount_fen, "entry {index} carries {carried} of its {}", entry.amount_fen);
            }
            // Every arrival is in the statement, so nothing is unexplained but a held
            // balance below the victims' money.
            let unexplained = Fen::sum(splits.iter().map(|s| s.unexplained)).unwrap();
            let traced = Fen::sum(arrivals.iter().map(|(_, a)| a.amount)).unwrap();
            let out = Fen::sum(splits.iter().flat_map(|s| s.onward.iter().map(|(_, a)| *a)).chain(splits.iter().map(|s| s.cashed_out))).unwrap();
            prop_assert_eq!(unexplained.get(), traced.get() - claims.get() - out.get());
            // The same input gives the same shares; listing the victims in another order
            // moves at most the odd fen of a tie per outgoing entry (a tie between a victim
            // and the other money in the account decides whose the fen is that leaves, so
            // the total claimed may move by that fen too).
            prop_assert_eq!(&splits, &split_joint(rule, victims, &arrivals, &statement, held));
            let reversed: Vec<(usize, Arrival)> = arrivals.iter().map(|(v, a)| (victims - 1 - v, a.clone())).collect();
            let again = split_joint(rule, victims, &reversed, &statement, held);
            let outflows = statement.iter().filter(|e| e.direction == Direction::Out).count() as u64;
            let again = Fen::sum(again.iter().map(|s| s.claim)).unwrap();
            prop_assert!(claims.get().abs_diff(again.get()) <= outflows, "{claims} against {again} in the other order");
        }

        #[test]
        fn a_mule_holding_only_victims_money_leaves_each_victim_a_share_of_what_is_held(
            (victims, arrivals, statement, held) in arb_mixed_account(false),
            rule in arb_rule(),
        ) {
            // With nothing but victims' money in (no other deposits, nothing before), every
            // fen held is some victim's.
            let splits = split_joint(rule, victims, &arrivals, &statement, Fen::new(held));
            let claims = Fen::sum(splits.iter().map(|s| s.claim)).unwrap();
            prop_assert_eq!(claims, Fen::new(held));
        }

        #[test]
        fn pro_rata_claims_are_the_proportional_attribution_to_a_fen_per_entry(
            (victims, arrivals, statement, held) in arb_mixed_account(true),
        ) {
            // Exact proportional attribution, in floating point: each outgoing entry takes
            // the same fraction of every part of the balance before it.
            let mut exact = vec![0f64; victims];
            for entry in &statement {
                let before = (entry.balance_after_fen.get() as f64) + if entry.direction == Direction::Out { entry.amount_fen.get() as f64 } else { 0.0 };
                match entry.direction {
                    Direction::In => {
                        for (victim, a) in arrivals.iter().filter(|(_, a)| a.transfer_id.as_deref() == Some(&entry.transfer_id)) {
                            exact[*victim] += a.amount.get() as f64;
                        }
                    }
                    Direction::Out if before > 0.0 => exact.iter_mut().for_each(|m| *m *= entry.balance_after_fen.get() as f64 / before),
                    Direction::Out => {}
                }
            }
            let splits = split_joint(TracingRule::ProRata, victims, &arrivals, &statement, Fen::new(held));
            let entries = statement.len() as f64 + 1.0;
            for (victim, split) in splits.iter().enumerate() {
                prop_assert!((split.claim.get() as f64 - exact[victim]).abs() <= entries, "victim {victim}: {} against {}", split.claim, exact[victim]);
            }
        }
    }

    fn arb_rule() -> impl Strategy<Value = TracingRule> {
        prop_oneof![Just(TracingRule::ProRata), Just(LIBR)]
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
            let split = split(LIBR, &[arrival(traced, None)], &statement, held);
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
            let split = split(LIBR, &[arrival(traced, None)], &statement, Fen::new(held));
            let onward = Fen::sum(split.onward.iter().map(|(_, a)| *a)).unwrap();
            prop_assert_eq!(split.unexplained, Fen::ZERO);
            prop_assert_eq!(split.claim.get() + onward.get() + split.cashed_out.get(), traced);
        }
    }
}
