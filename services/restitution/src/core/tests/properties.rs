//! What must hold for any account, over 100,000 generated multi-victim accounts, each
//! allocated by every rule: the shares add up to the money allocated, which never passes
//! the money frozen; no share passes its victim's cap or the rule's bound; the result is
//! the same when computed again and whatever order the claims and deposits come in; the
//! lowest-intermediate-balance bound is the statement walked by hand; and by timestamp trace,
//! a victim whose money is provably all that is left gets all of it. Across accounts, a
//! victim is never given more than their loss.

use proptest::prelude::*;

use super::*;

/// Accounts generated for the main property (each allocated by all four rules).
const ACCOUNTS: u32 = 100_000;

/// One step of a generated account's history: (kind, amount, victim, minutes since the last
/// step, whether the deposit carries its transfer id).
type Line = (u8, u64, usize, u64, bool);

/// A frozen account: up to 8 victims paying in among other money, partial and total
/// outflows, deposits before, after and missing from the statement, and claims whose caps
/// sometimes bind (losses below the traced money, money allocated elsewhere). The statement
/// is left out a quarter of the time.
fn arb_account() -> impl Strategy<Value = FrozenAccount> {
    let line = (0u8..9, 1u64..200_000, 0usize..8, 0u64..30, any::<bool>());
    let claim = (0u8..4, 0u64..=100, 0u64..=100);
    (
        1usize..=8,
        prop_oneof![Just(0u64), 1u64..50_000],
        prop::collection::vec(line, 1..32),
        0u8..4,
        0u64..=120,
        prop::collection::vec(claim, 8),
    )
        .prop_map(|(victims, opening, lines, statement, frozen_pick, claims)| {
            build(victims, opening, &lines, statement != 0, frozen_pick, &claims)
        })
}

fn build(
    victims: usize,
    opening: u64,
    lines: &[Line],
    with_statement: bool,
    frozen_pick: u64,
    claim_picks: &[(u8, u64, u64)],
) -> FrozenAccount {
    let mut deposits: Vec<Vec<Deposit>> = vec![Vec::new(); victims];
    let mut entries = Vec::new();
    let mut balance = opening;
    let mut minutes = 120;
    for (i, &(kind, amount, victim, gap, with_id)) in lines.iter().enumerate() {
        minutes += gap;
        let id = format!("t{i}");
        let (direction, amount) = match kind {
            // A victim's deposit.
            0..=2 => {
                let transfer_id = with_id.then(|| id.clone());
                deposits[victim % victims].push(Deposit {
                    amount_fen: Fen::new(amount),
                    at_ms: at(minutes),
                    transfer_id,
                });
                (IN, amount)
            }
            // Someone else's money.
            3 => (IN, amount),
            4 => (OUT, amount.min(balance)),
            // Drained.
            5 => (OUT, balance),
            6 => (OUT, (amount % 1_000).min(balance)),
            // A deposit the statement does not show.
            7 => {
                deposits[victim % victims].push(Deposit {
                    amount_fen: Fen::new(amount),
                    at_ms: at(minutes),
                    transfer_id: None,
                });
                continue;
            }
            // A deposit after the statement.
            _ => {
                let at_ms = at(minutes + 24 * 60);
                deposits[victim % victims].push(Deposit { amount_fen: Fen::new(amount), at_ms, transfer_id: None });
                continue;
            }
        };
        if amount == 0 {
            continue;
        }
        balance = if direction == IN { balance + amount } else { balance - amount };
        let (amount_fen, balance_after_fen) = (Fen::new(amount), Fen::new(balance));
        entries.push(Entry { transfer_id: id, at_ms: at(minutes), direction, amount_fen, balance_after_fen });
    }
    // A victim with no deposit yet paid before the statement (09:00, the statement opens at 11:00).
    for (victim, deposits) in deposits.iter_mut().enumerate() {
        if deposits.is_empty() {
            let amount = Fen::new(1 + (victim as u64 * 7_919) % 60_000);
            deposits.push(Deposit { amount_fen: amount, at_ms: at(0), transfer_id: None });
        }
    }
    let frozen = match frozen_pick {
        0..=100 => (balance * frozen_pick / 100).max(1),
        beyond => balance + (beyond - 100) * 1_000 + 1,
    };
    let claims = deposits
        .into_iter()
        .enumerate()
        .map(|(victim, deposits)| {
            let traced: u64 = deposits.iter().map(|d| d.amount_fen.get()).sum();
            let (kind, a, b) = claim_picks[victim];
            let loss = match kind {
                0 => traced,
                1 => traced + a * 100,
                2 => (traced * a / 100).max(1),
                _ => traced * 2,
            };
            let elsewhere = if b < 50 { 0 } else { loss * (b - 50) / 50 };
            Claim {
                case_id: case(victim as u64),
                deposits,
                traced_loss_fen: Fen::new(loss),
                allocated_elsewhere_fen: Fen::new(elsewhere),
            }
        })
        .collect();
    let statement = (with_statement && !entries.is_empty()).then_some(entries);
    super::frozen(frozen, statement, claims)
}

/// `account` with its claims and each claim's deposits in an order drawn from `seed`.
fn shuffled(account: &FrozenAccount, mut seed: u64) -> FrozenAccount {
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut account = account.clone();
    let claims = &mut account.claims;
    for i in (1..claims.len()).rev() {
        claims.swap(i, next(i + 1));
    }
    for claim in claims.iter_mut() {
        for i in (1..claim.deposits.len()).rev() {
            claim.deposits.swap(i, next(i + 1));
        }
    }
    account
}

/// Each victim's lowest-intermediate-balance bound, by walking the statement: the victim's
/// money becomes `min(money + deposit, balance)` at its deposits and `min(money, balance)`
/// at every other entry; what was before the statement starts at most the opening balance,
/// what came after it is added at the end.
fn walked_bound(share: &Share, statement: &[Entry]) -> u64 {
    let opening = statement[0].balance_after_fen.get() as i128
        - match statement[0].direction {
            IN => statement[0].amount_fen.get() as i128,
            OUT => -(statement[0].amount_fen.get() as i128),
        };
    let amount =
        |found: Found| -> u64 { share.deposits.iter().filter(|d| d.found == found).map(|d| d.amount_fen.get()).sum() };
    let mut money = amount(Found::BeforeStatement).min(opening as u64);
    for (index, entry) in statement.iter().enumerate() {
        let arrived = amount(Found::Entry { index: index as u32 });
        money = (money + arrived).min(entry.balance_after_fen.get());
    }
    money + amount(Found::AfterStatement)
}

/// What every allocation of `account` must satisfy, by each rule.
fn holds(account: &FrozenAccount, seed: u64) -> Result<(), TestCaseError> {
    for rule in Rule::ALL {
        let allocation = match allocate(account, rule, NOW) {
            Ok(allocation) => allocation,
            Err(refusal) => {
                prop_assert!(account.statement.is_none() && rule == Rule::LowestIntermediateBalance, "{refusal}");
                prop_assert_eq!(refusal.reason, Reason::StatementRequired);
                continue;
            }
        };
        // Sums exact, the frozen money never passed.
        let frozen = account.frozen_fen.get();
        let sum: u64 = allocation.shares.iter().map(|s| s.fen.get()).sum();
        prop_assert_eq!(sum, allocation.allocated_fen.get());
        let unallocated =
            allocation.unallocated.beyond_victims_fen.get() + allocation.unallocated.held_back_by_caps_fen.get();
        prop_assert_eq!(sum + unallocated, frozen);
        // Caps and bounds respected.
        prop_assert_eq!(allocation.shares.len(), account.claims.len());
        for share in &allocation.shares {
            let claim = account.claims.iter().find(|c| c.case_id == share.case_id).unwrap();
            let cap = claim.traced_loss_fen.get() - claim.allocated_elsewhere_fen.get();
            prop_assert_eq!(share.cap_fen.get(), cap);
            prop_assert!(
                share.fen <= share.cap_fen && share.fen <= share.bound_fen && share.bound_fen <= share.traced_in_fen
            );
            for part in &share.parts {
                if let Portion::Fraction { floor_fen, leftover_fen, .. } = part.portion {
                    prop_assert!(leftover_fen.get() <= 1 && part.fen.get() == floor_fen.get() + leftover_fen.get());
                }
            }
        }
        // Deterministic, and the order of the input does not matter.
        prop_assert_eq!(&allocate(account, rule, NOW).unwrap(), &allocation);
        prop_assert_eq!(&allocate(&shuffled(account, seed | 1), rule, NOW).unwrap(), &allocation, "shuffled");
        if let (Some(statement), Rule::TimestampTrace | Rule::LowestIntermediateBalance) = (&account.statement, rule) {
            for share in &allocation.shares {
                prop_assert_eq!(share.bound_fen.get(), walked_bound(share, statement), "{}", share.case_id);
            }
        }
        if rule == Rule::TimestampTrace {
            // A victim whose money is provably all that is left gets all of it (up to its cap).
            let mut possible = allocation.shares.iter().filter(|s| !s.bound_fen.is_zero());
            if let (Some(sole), None) = (possible.next(), possible.next()) {
                let all = frozen.min(sole.bound_fen.get()).min(sole.cap_fen.get());
                prop_assert_eq!(sole.fen.get(), all, "the sole victim gets all of it");
                prop_assert_eq!(allocation.allocated_fen.get(), all);
            }
        }
        if rule == Rule::ProRata {
            // Where no cap binds, each share is its exact proportion to within a fen.
            let traced: u128 = allocation.shares.iter().map(|s| u128::from(s.traced_in_fen.get())).sum();
            if allocation.shares.iter().all(|s| s.cap_fen >= s.traced_in_fen) && u128::from(frozen) <= traced {
                for share in &allocation.shares {
                    let exact = u128::from(frozen) * u128::from(share.traced_in_fen.get());
                    prop_assert!((u128::from(share.fen.get()) * traced).abs_diff(exact) < traced, "{}", share.case_id);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ACCOUNTS))]
    #[test]
    fn every_rule_shares_exactly_within_caps_and_bounds_deterministically_in_any_order(
        account in arb_account(),
        seed in any::<u64>(),
    ) {
        holds(&account, seed)?;
    }
}

/// A history whose every victim but one was drained out of the account: any history, then
/// the balance taken to zero, then only one victim's deposits among other money in and out.
fn arb_sole_victim() -> impl Strategy<Value = (FrozenAccount, u64)> {
    let line = (0u8..7, 1u64..200_000, 0usize..8, 0u64..30, Just(true));
    let after = (prop_oneof![Just(0u8), Just(3), Just(4), Just(6)], 1u64..200_000, 0u64..30);
    (
        2usize..=8,
        prop::collection::vec(line, 0..16),
        prop::collection::vec(after, 1..12),
        0usize..8,
        0u64..=120,
        prop::collection::vec((Just(0u8), Just(0u64), Just(0u64)), 8),
    )
        .prop_map(|(victims, before, after, sole, frozen_pick, claims)| {
            let sole = sole % victims;
            let mut lines: Vec<Line> = (0..victims).map(|v| (0, 1_000 + v as u64, v, 1, true)).collect();
            lines.extend(before);
            lines.push((5, 0, 0, 1, true));
            // The sole victim pays first after the drain, so its money is in the account.
            lines.push((0, 50_000, sole, 1, true));
            lines.extend(after.into_iter().map(|(kind, amount, gap)| (kind, amount, sole, gap, true)));
            (build(victims, 0, &lines, true, frozen_pick, &claims), sole as u64)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    #[test]
    fn by_timestamp_a_victim_whose_money_is_all_that_is_left_gets_all_the_frozen_money_up_to_its_bound(
        (account, sole) in arb_sole_victim(),
    ) {
        let allocation = allocate(&account, Rule::TimestampTrace, NOW).unwrap();
        for share in &allocation.shares {
            if share.case_id == case(sole) {
                // (A later outflow may have taken its money too: then nobody's is left.)
                let all = account.frozen_fen.min(share.bound_fen);
                prop_assert_eq!(share.fen, all);
                if !all.is_zero() {
                    prop_assert_eq!(&share.parts[0].step, &Step::TimestampSole);
                }
            } else {
                prop_assert_eq!(share.bound_fen, Fen::ZERO, "drained");
                prop_assert_eq!(share.fen, Fen::ZERO);
            }
        }
    }

    #[test]
    fn across_accounts_no_victim_is_given_more_than_their_loss(
        accounts in prop::collection::vec(arb_account(), 2..5),
        losses in prop::collection::vec(1u64..400_000, 8),
        rules in prop::collection::vec(0usize..4, 4),
    ) {
        // The same victims (case ids) in every account; each allocation is told what the
        // earlier ones gave.
        let mut given = [0u64; 8];
        for (account, rule) in accounts.into_iter().zip(rules) {
            let rule = if account.statement.is_none() { Rule::ProRata } else { Rule::ALL[rule] };
            let mut account = account;
            for (victim, claim) in account.claims.iter_mut().enumerate() {
                claim.traced_loss_fen = Fen::new(losses[victim]);
                claim.allocated_elsewhere_fen = Fen::new(given[victim]);
            }
            let allocation = allocate(&account, rule, NOW).unwrap();
            for (victim, share) in allocation.shares.iter().enumerate() {
                given[victim] += share.fen.get();
                prop_assert!(given[victim] <= losses[victim], "victim {victim}: {} of {}", given[victim], losses[victim]);
            }
        }
    }
}
