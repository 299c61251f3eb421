//! Sharing an amount in whole fen by weight, none beyond its limit: largest remainder with a
//! deterministic tie-break.
//!
//! Each item gets `amount × weight / total weight`; an item whose exact share would pass
//! its limit gets its limit, and the rest is shared again among the others (items are taken
//! in order of limit per weight, so one pass finds them). Among those left, each gets the
//! floor of its exact share, and the fen left over go one each to the largest remainders;
//! ties go to the victim whose first deposit into the account is earlier, then to the lower
//! case id (the victims are in case-id order, so the lower index). The shares add up to the
//! amount shared, which is the amount or, if less, the sum of the limits.

use std::cmp::Ordering;

use domain::{Fen, TimeMs};
use serde::{Deserialize, Serialize};

/// One victim's stake in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item {
    pub victim: usize,
    /// The most this step may give: the victim's bound by the rule (their cap is applied on
    /// top).
    pub limit: Fen,
    pub weight: Fen,
}

/// How a victim's part of one step was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Portion {
    /// The whole of the victim's limit: what was shared covered it.
    Whole { limit: Limit },
    /// A fraction of what was shared: `floor(of × weight / total_weight)` fen, and one fen
    /// more when its remainder (`of × weight mod total_weight`) ranked among the largest.
    Fraction {
        /// What was shared among the victims not given their whole limit.
        of_fen: Fen,
        weight_fen: Fen,
        total_weight_fen: Fen,
        floor_fen: Fen,
        /// The numerator of the fraction of a fen the floor left out (over `total_weight`).
        remainder: u64,
        /// 1 fen when the tie-break gave the victim a fen left over, else 0.
        leftover_fen: Fen,
    },
}

/// What limited a victim's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The rule's bound: all of the victim's money the rule finds in the account (or in the
    /// lot).
    Bound,
    /// The victim's cap: traced loss less what allocations elsewhere (and earlier steps)
    /// already gave.
    Cap,
}

/// One victim's part of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Given {
    pub victim: usize,
    pub fen: Fen,
    pub portion: Portion,
}

/// Shares up to `pool` among `items` (one per victim, weights not all zero, their total
/// within a `u64`): each within its limit and what is left of its victim's cap
/// (`caps_left`, reduced by what is given), ties broken by `first_at` then victim index. An
/// item with no weight or nothing left of its limit gets nothing; one stopped at zero by its
/// cap is reported with a zero part, so the report says why.
pub(crate) fn apportion(pool: Fen, items: &[Item], caps_left: &mut [Fen], first_at: &[TimeMs]) -> Vec<Given> {
    let mut given = Vec::with_capacity(items.len());
    // (victim, effective limit, weight, limited by the cap)
    let mut active: Vec<(usize, u128, u128, bool)> = Vec::with_capacity(items.len());
    for item in items.iter().filter(|i| !i.weight.is_zero() && !i.limit.is_zero()) {
        let cap = caps_left[item.victim];
        let by_cap = cap < item.limit;
        if cap.is_zero() {
            given.push(Given { victim: item.victim, fen: Fen::ZERO, portion: Portion::Whole { limit: Limit::Cap } });
            continue;
        }
        active.push((item.victim, u128::from(item.limit.min(cap).get()), u128::from(item.weight.get()), by_cap));
    }
    let limits: u128 = active.iter().map(|a| a.1).sum();
    let mut left = u128::from(pool.get()).min(limits);
    let mut weights: u128 = active.iter().map(|a| a.2).sum();
    // Smallest limit per weight first: those are the ones a proportional share passes.
    active.sort_by(|a, b| (a.1 * b.2).cmp(&(b.1 * a.2)).then(a.0.cmp(&b.0)));
    let mut whole = 0;
    for &(victim, limit, weight, by_cap) in &active {
        // The exact share `left × weight / weights` reaches the limit.
        if left * weight < limit * weights {
            break;
        }
        let limit_kind = if by_cap { Limit::Cap } else { Limit::Bound };
        given.push(Given { victim, fen: fen(limit), portion: Portion::Whole { limit: limit_kind } });
        left -= limit;
        weights -= weight;
        whole += 1;
    }
    let rest = &active[whole..];
    if !rest.is_empty() {
        let of = left;
        let mut parts: Vec<(usize, u128, u128, u128)> = rest
            .iter()
            .map(|&(victim, _, weight, _)| (victim, weight, of * weight / weights, of * weight % weights))
            .collect();
        let mut over = of - parts.iter().map(|p| p.2).sum::<u128>();
        // Largest remainder first, then the earlier first deposit, then the lower case id.
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by(|&a, &b| {
            tie_break((parts[a].3, first_at[parts[a].0], parts[a].0), (parts[b].3, first_at[parts[b].0], parts[b].0))
        });
        let mut leftover = vec![0u128; parts.len()];
        for &p in &order {
            if over == 0 {
                break;
            }
            leftover[p] = 1;
            over -= 1;
        }
        for (p, (victim, weight, floor, remainder)) in parts.drain(..).enumerate() {
            let portion = Portion::Fraction {
                of_fen: fen(of),
                weight_fen: fen(weight),
                total_weight_fen: fen(weights),
                floor_fen: fen(floor),
                remainder: u64::try_from(remainder).expect("below the total weight, which fits"),
                leftover_fen: fen(leftover[p]),
            };
            given.push(Given { victim, fen: fen(floor + leftover[p]), portion });
        }
    }
    for g in &given {
        caps_left[g.victim] = caps_left[g.victim].checked_sub(g.fen).expect("a part is within the cap left");
    }
    given.sort_by_key(|g| g.victim);
    given
}

/// The order leftover fen are handed out in: (remainder, first deposit, victim index).
fn tie_break(a: (u128, TimeMs, usize), b: (u128, TimeMs, usize)) -> Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
}

fn fen(amount: u128) -> Fen {
    Fen::new(u64::try_from(amount).expect("a part is at most the amount shared, which fits"))
}
