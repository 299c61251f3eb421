//! The allocation: the money frozen on one account shared among the victims whose money it
//! is, in whole fen, by a rule chosen per allocation, with the reason for every fen. The
//! rules and their worked examples are in docs/restitution.md.
//!
//! Every rule runs in **steps**: each step offers what is left of the frozen money to some
//! victims, each within a **limit** (the most of their money the rule finds there) and what is
//! left of their **cap** (traced loss less what was allocated elsewhere), by weight
//! ([`super::apportion`]). Premise common to every rule: the frozen money is the victims'
//! money wherever the statement allows it (freezing froze their claims, not the rest of the
//! balance); what no victim's limit reaches, and what caps keep back, stays unallocated.
//!
//! Invariants (asserted on every call, and property-tested): the shares add up to the amount
//! allocated, which is at most the amount frozen; no share passes its victim's cap or the
//! rule's bound; the result depends on the input's content, not on the order of its claims
//! or deposits.

use domain::{AccountRef, CaseId, Fen, TimeMs};
use serde::{Deserialize, Serialize};

use super::apportion::{Item, Limit, Portion, apportion};
use super::input::{Checked, FrozenAccount, Reason, Refusal, check, refuse};
use super::statement::{Found, Lot, fifo_lots, find, lowest_balance_bounds};

pub use events::restitution::Rule;

/// An account's frozen money, allocated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub account: AccountRef,
    pub rule: Rule,
    pub frozen_fen: Fen,
    /// The shares' sum.
    pub allocated_fen: Fen,
    /// `frozen_fen − allocated_fen`, by why.
    pub unallocated: Unallocated,
    /// The statement read, if one was.
    pub statement: Option<StatementRead>,
    /// Under timestamp trace, where the timestamps did not decide and pro rata did.
    pub fallback: Option<Fallback>,
    /// One per victim, by case id.
    pub shares: Vec<Share>,
}

/// Frozen money no victim was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unallocated {
    /// More was frozen than the rule finds victims' money in the account: the rest is not
    /// any victim's by this rule (the holder's, or a victim not known yet: a new claim
    /// reopens the allocation).
    pub beyond_victims_fen: Fen,
    /// The rule found it victims' money, but the victims it could be were already given their
    /// whole loss (here or elsewhere).
    pub held_back_by_caps_fen: Fen,
}

/// The statement the allocation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRead {
    pub entries: u32,
    pub first_at_ms: TimeMs,
    pub last_at_ms: TimeMs,
    pub opening_balance_fen: Fen,
    pub closing_balance_fen: Fen,
}

/// Where timestamp trace fell back to pro rata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub reason: FallbackReason,
    /// Victims whose money can be in the account (their bound is not zero).
    pub contenders: u32,
    /// The money shared pro rata among those not given their whole bound.
    pub shared_fen: Fen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// No statement was read: only the deposits are known.
    NoStatement,
    /// The statement leaves more than one victim's money possibly in the account, and the
    /// frozen money does not cover all of it.
    Undecided,
}

/// One victim's share and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub case_id: CaseId,
    pub fen: Fen,
    /// The victim's money traced into the account (the deposits' sum).
    pub traced_in_fen: Fen,
    /// What the rule weighs the victim by: the traced money (pro rata, timestamp trace), the
    /// bound (lowest intermediate balance), the lots left (FIFO); 0 when the victim took part
    /// in no step (by timestamp trace, none of their money can be left).
    pub basis_fen: Fen,
    /// The most of the account's money the rule finds can be the victim's.
    pub bound_fen: Fen,
    /// Traced loss less what was allocated elsewhere: the most this allocation may give.
    pub cap_fen: Fen,
    /// The earliest deposit: the tie-break's second key.
    pub first_deposit_at_ms: TimeMs,
    /// Each deposit and where the statement shows it, in time order.
    pub deposits: Vec<DepositFound>,
    /// How each part of the share was given, step by step.
    pub parts: Vec<Part>,
}

/// A deposit, and where it is in the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositFound {
    pub amount_fen: Fen,
    pub at_ms: TimeMs,
    pub transfer_id: Option<String>,
    pub found: Found,
}

/// One part of a share: the step that gave it, how much, and how it was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub step: Step,
    pub fen: Fen,
    pub portion: Portion,
}

/// The rule step that gave a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Timestamp trace: no other victim's money can be in the account (the statement shows
    /// it left, or nobody else claims it): the frozen money is this victim's, up to the bound.
    TimestampSole,
    /// Timestamp trace: the victim's bound (the lowest balance since their deposits) is
    /// below their pro rata share, so they get all of theirs that can be there.
    TimestampBound,
    /// Timestamp trace, where the timestamps do not decide: pro rata by traced money.
    TimestampProRata,
    ProRata,
    LowestIntermediateBalance,
    /// FIFO: a lot of the victim's money still in the account (newest first).
    Fifo {
        entry: Option<u32>,
        at_ms: TimeMs,
    },
}

/// Allocates the money frozen on `account` by `rule`, at `now` (times past it are refused).
pub fn allocate(account: &FrozenAccount, rule: Rule, now: TimeMs) -> Result<Allocation, Refusal> {
    let checked = check(account, now)?;
    let statement = checked.statement.as_ref();
    if rule == Rule::LowestIntermediateBalance && statement.is_none() {
        let expected = "the account's statement: the lowest-intermediate-balance rule reads its balances";
        return Err(refuse(Reason::StatementRequired, "statement", "null", expected));
    }
    let victims = &checked.victims;
    let found = find(victims, statement);
    let first_at: Vec<TimeMs> = victims.iter().map(|v| v.first_at_ms).collect();
    let steps = steps(&checked, &found, rule);
    let mut caps_left: Vec<Fen> = victims.iter().map(|v| v.cap).collect();
    let mut parts: Vec<Vec<Part>> = vec![Vec::new(); victims.len()];
    let mut basis = vec![Fen::ZERO; victims.len()];
    let mut bound = vec![Fen::ZERO; victims.len()];
    let mut limits = Fen::ZERO;
    let mut left = checked.frozen;
    let mut fallback = None;
    for (kind, items) in &steps {
        for item in items {
            basis[item.victim] = add(basis[item.victim], item.weight);
            bound[item.victim] = add(bound[item.victim], item.limit);
            limits = add(limits, item.limit);
        }
        if left.is_zero() {
            continue;
        }
        for given in apportion(left, items, &mut caps_left, &first_at) {
            left = left.checked_sub(given.fen).expect("a step gives at most what is left");
            let step = match (kind, given.portion) {
                (StepKind::Timestamp, _) if items.len() == 1 => Step::TimestampSole,
                (StepKind::Timestamp, Portion::Whole { limit: Limit::Bound }) => Step::TimestampBound,
                (StepKind::Timestamp, portion) => {
                    if let Portion::Fraction { of_fen, .. } = portion {
                        let reason =
                            if statement.is_none() { FallbackReason::NoStatement } else { FallbackReason::Undecided };
                        let contenders = u32::try_from(items.len()).expect("victims are bounded");
                        fallback = Some(Fallback { reason, contenders, shared_fen: of_fen });
                    }
                    Step::TimestampProRata
                }
                (StepKind::ProRata, _) => Step::ProRata,
                (StepKind::Lowest, _) => Step::LowestIntermediateBalance,
                (StepKind::Fifo { entry, at_ms }, _) => Step::Fifo { entry: *entry, at_ms: *at_ms },
            };
            parts[given.victim].push(Part { step, fen: given.fen, portion: given.portion });
        }
    }
    let frozen = checked.frozen;
    let allocated = frozen.checked_sub(left).expect("left is part of the frozen money");
    let reachable = frozen.min(limits);
    let unallocated = Unallocated {
        beyond_victims_fen: frozen.checked_sub(reachable).expect("at most the frozen money"),
        held_back_by_caps_fen: reachable.checked_sub(allocated).expect("the caps only take away"),
    };
    let shares: Vec<Share> = victims
        .iter()
        .enumerate()
        .map(|(v, victim)| {
            let fen = Fen::sum(parts[v].iter().map(|p| p.fen)).expect("at most the frozen money");
            assert!(fen <= victim.cap && fen <= bound[v], "a share passes its cap or its bound");
            let deposits = victim
                .deposits
                .iter()
                .zip(&found[v])
                .map(|(d, found)| DepositFound {
                    amount_fen: d.amount_fen,
                    at_ms: d.at_ms,
                    transfer_id: d.transfer_id.clone(),
                    found: *found,
                })
                .collect();
            Share {
                case_id: victim.case_id.clone(),
                fen,
                traced_in_fen: victim.traced,
                basis_fen: basis[v],
                bound_fen: bound[v],
                cap_fen: victim.cap,
                first_deposit_at_ms: victim.first_at_ms,
                deposits,
                parts: std::mem::take(&mut parts[v]),
            }
        })
        .collect();
    let sum = Fen::sum(shares.iter().map(|s| s.fen)).expect("at most the frozen money");
    assert_eq!(sum, allocated, "the shares add up to the money allocated");
    let statement = statement.map(|s| StatementRead {
        entries: u32::try_from(s.entries.len()).expect("statements are bounded"),
        first_at_ms: s.entries[0].at_ms,
        last_at_ms: s.entries[s.entries.len() - 1].at_ms,
        opening_balance_fen: s.balances[0],
        closing_balance_fen: s.balances[s.balances.len() - 1],
    });
    let account = account.account.clone();
    Ok(Allocation {
        account,
        rule,
        frozen_fen: frozen,
        allocated_fen: allocated,
        unallocated,
        statement,
        fallback,
        shares,
    })
}

/// What a step of a rule is, before it knows how each victim's part came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Timestamp,
    ProRata,
    Lowest,
    Fifo { entry: Option<u32>, at_ms: TimeMs },
}

/// The steps of `rule`, in order, each with its victims' limits and weights.
fn steps(checked: &Checked<'_>, found: &[Vec<Found>], rule: Rule) -> Vec<(StepKind, Vec<Item>)> {
    let victims = &checked.victims;
    let statement = checked.statement.as_ref();
    match rule {
        Rule::ProRata => {
            let items =
                victims.iter().enumerate().map(|(victim, v)| Item { victim, limit: v.traced, weight: v.traced });
            vec![(StepKind::ProRata, items.collect())]
        }
        Rule::LowestIntermediateBalance => {
            let bounds = lowest_balance_bounds(victims, found, statement);
            let items = bounds.into_iter().enumerate().map(|(victim, b)| Item { victim, limit: b, weight: b });
            vec![(StepKind::Lowest, items.collect())]
        }
        Rule::TimestampTrace => {
            let bounds = lowest_balance_bounds(victims, found, statement);
            let items = bounds
                .into_iter()
                .enumerate()
                .filter(|(_, bound)| !bound.is_zero())
                .map(|(victim, limit)| Item { victim, limit, weight: victims[victim].traced });
            vec![(StepKind::Timestamp, items.collect())]
        }
        Rule::Fifo => fifo_steps(fifo_lots(victims, found, statement)),
    }
}

/// FIFO's steps: the lots left, newest first; lots of one place (deposits of the same time
/// outside the statement) make one step, shared pro rata by amount.
fn fifo_steps(lots: Vec<Lot>) -> Vec<(StepKind, Vec<Item>)> {
    let mut steps: Vec<(StepKind, Vec<Item>)> = Vec::new();
    let mut place = None;
    for lot in lots.into_iter().rev() {
        if place != Some(lot.place) {
            place = Some(lot.place);
            steps.push((StepKind::Fifo { entry: lot.entry, at_ms: lot.at_ms }, Vec::new()));
        }
        let items = &mut steps.last_mut().expect("pushed above").1;
        match items.iter_mut().find(|i| i.victim == lot.victim) {
            Some(item) => {
                item.limit = add(item.limit, lot.amount);
                item.weight = item.limit;
            }
            None => items.push(Item { victim: lot.victim, limit: lot.amount, weight: lot.amount }),
        }
    }
    steps
}

fn add(a: Fen, b: Fen) -> Fen {
    a.checked_add(b).expect("bounded by the traced money, whose sum was checked")
}
