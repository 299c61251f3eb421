//! A worked fund-flow report, generated: victims who paid one mule account, their money
//! spread over a tree of accounts level by level, and the allocation of the first account's
//! frozen money computed by [`crate::core::allocate`] from a statement that adds up. What
//! the tests, the browser check and `afc-lab bench restitution` render, and what the docs
//! show; deterministic (the same shape gives the same report, byte for byte).
//!
//! The tree: level 1 is the one account the victims paid, each account of level `l + 1` receives from
//! the account of level `l` at the same relative place. Victim 0's money reaches every
//! account; victim `v`'s only the accounts whose index in their level is a multiple of
//! `v + 1` (and whose sender it reached), so the trails overlap without coinciding. Each
//! account keeps a tenth of what it received and passes the rest on in equal parts; the
//! last level's accounts are frozen, queued behind another center, cashed out or ended in
//! turn, the middle levels' frozen or stopped.

use domain::{AccountRef, CaseId, City, Fen, TimeMs};
use protocol::adapter::Direction;

use super::model::{AllocationSection, Answer, Approval, FundFlow, HopState, Objection, ReturnLine, Subject, TrailHop};
use crate::core::{Claim, Deposit, Entry, FrozenAccount, Rule, allocate};

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;
/// Banks the generated accounts are at, in turn.
const BANKS: [&str; 5] = ["icbc", "ccb", "abc", "boc", "cmb"];
/// Money in the first account before any victim paid, fen.
const OPENING_FEN: u64 = 1_000;

/// When the example's victims paid: 09:00 on Monday 24 November 2025, Beijing time.
pub const T0: TimeMs = 1_763_946_000_000;

/// The example for `widths` (accounts per level) and `victims`, with its trails, and the
/// allocation of the first level's first account by the default rule.
///
/// Panics on a shape it cannot build: no level, a first level of more than the one account
/// the victims paid, an empty level, more than 200 levels, no victim or more than 1,000.
pub fn fund_flow(widths: &[u32], victims: u32) -> FundFlow {
    assert!(widths.first() == Some(&1) && widths.len() <= 200 && widths.iter().all(|w| *w >= 1), "levels {widths:?}");
    assert!((1..=1_000).contains(&victims), "victims {victims}");
    let city = City::parse("wuhan").expect("a valid city");
    let mut trail = Vec::new();
    let mut statement = Statement::new(OPENING_FEN);
    let mut claims = Vec::new();
    for v in 0..victims {
        let case = CaseId::derive(&city, 0x5eed_0000 + u64::from(v));
        let paid = 5_000_000 + u64::from(v) * 1_234_567;
        let paid_at = T0 + u64::from(v) * 7 * MINUTE_MS;
        let hops = case_trail(&case, v, widths, paid, paid_at, &mut statement);
        let first = &hops[0];
        claims.push(Claim {
            case_id: case.clone(),
            deposits: vec![Deposit {
                amount_fen: first.amount_fen,
                at_ms: first.at_ms,
                transfer_id: first.transfer_id.clone(),
            }],
            traced_loss_fen: Fen::new(paid),
            allocated_elsewhere_fen: Fen::ZERO,
        });
        trail.extend(hops);
    }
    // Someone else's money passes through the first account between the victims'.
    statement.push(T0 + 5 * MINUTE_MS, Direction::In, 300_000, "other-in");
    statement.push(T0 + 6 * MINUTE_MS, Direction::Out, 250_000, "other-out");
    let account = account(1, 0);
    let held = trail.iter().filter(|h| h.to == account.as_str()).fold(Fen::ZERO, |s, h| s.saturating_add(h.held_fen));
    let generated_at = T0 + 33 * DAY_MS;
    let input =
        FrozenAccount { account: account.clone(), frozen_fen: held, statement: Some(statement.entries()), claims };
    let allocation = allocate(&input, Rule::TimestampTrace, generated_at).expect("the example allocates");
    let id = "wuhan-r-000001".to_owned();
    let returns = allocation
        .shares
        .iter()
        .enumerate()
        .filter(|(_, share)| !share.fen.is_zero())
        .map(|(i, share)| ReturnLine {
            case_id: share.case_id.clone(),
            amount_fen: share.fen,
            to_account_masked: format!("{}:6217****{:04}", BANKS[(i + 2) % BANKS.len()], 1000 + i * 137 % 9000),
            state: if i == 0 { "confirmed" } else { "instructed" }.to_owned(),
            transfer_id: (i == 0).then(|| format!("rt-{}", share.case_id)),
            executed_at_ms: (i == 0).then_some(T0 + 32 * DAY_MS + 3 * 60 * MINUTE_MS),
        })
        .collect();
    let section = AllocationSection {
        id: id.clone(),
        version: 1,
        state: "returning".to_owned(),
        proposed_at_ms: T0 + DAY_MS,
        notice_ends_at_ms: T0 + 31 * DAY_MS,
        allocation,
        approvals: vec![
            Approval {
                by: "staff-0417".to_owned(),
                key: "ed25519:7f3a…c901".to_owned(),
                at_ms: T0 + 31 * DAY_MS + 90 * MINUTE_MS,
            },
            Approval { by: "staff-0022".to_owned(), key: "ed25519:19be…44d0".to_owned(), at_ms: T0 + 32 * DAY_MS },
        ],
        objections: vec![Objection {
            by: "account holder".to_owned(),
            reason: "part of the balance is salary".to_owned(),
            at_ms: T0 + 12 * DAY_MS,
            answer: Some(Answer {
                by: "staff-0417".to_owned(),
                reason: "the salary is in the opening balance and other money, which stays unallocated".to_owned(),
                at_ms: T0 + 14 * DAY_MS,
            }),
        }],
        returns,
    };
    FundFlow {
        city,
        generated_at_ms: generated_at,
        subject: Subject::Allocation(id),
        trail,
        allocations: vec![section],
    }
}

/// Account `index` of `level` (from 1): a bank in turn and a 16-digit number.
pub fn account(level: usize, index: u32) -> AccountRef {
    let bank = BANKS[(level + index as usize) % BANKS.len()];
    AccountRef::parse(&format!("{bank}:6222{level:02}{:010}", u64::from(index) * 7_919 + 1_000_003))
        .expect("a valid account")
}

/// Whether victim `v`'s money reaches account `index` of its level (its sender's reached).
fn reaches(v: u32, index: u32) -> bool {
    index.is_multiple_of(v + 1)
}

/// The account of the level before that sends to account `index` of a level `width` wide.
fn sender(index: u32, width: u32, previous_width: u32) -> u32 {
    (u64::from(index) * u64::from(previous_width) / u64::from(width)) as u32
}

/// Victim `v`'s hops, numbered as freezing opens them (each stop's onward legs in a row),
/// and the first account's statement lines for them.
fn case_trail(
    case: &CaseId,
    v: u32,
    widths: &[u32],
    paid: u64,
    paid_at: TimeMs,
    statement: &mut Statement,
) -> Vec<TrailHop> {
    let mut hops: Vec<TrailHop> = Vec::new();
    let mut cash = Vec::new();
    // (level, index, hop number, amount, at) of the accounts reached, level by level.
    let mut level: Vec<(usize, u32, u32, u64, TimeMs)> = vec![(1, 0, 1, paid, paid_at)];
    let last = widths.len();
    hops.push(hop(case, 1, None, 1, &account(1, 0), paid, paid_at, Some(format!("t-{case}-1"))));
    statement.push(paid_at, Direction::In, paid, &format!("t-{case}-1"));
    while !level.is_empty() {
        let mut next = Vec::new();
        for &(l, index, number, amount, at) in &level {
            let children: Vec<u32> = if l < last {
                (0..widths[l]).filter(|&c| sender(c, widths[l], widths[l - 1]) == index && reaches(v, c)).collect()
            } else {
                Vec::new()
            };
            let h = hops.iter_mut().find(|h| h.hop == number).expect("opened");
            if children.is_empty() {
                // The end of the trail: the state in turn.
                match index % 4 {
                    0 => (h.state, h.held_fen) = (HopState::Frozen, Fen::new(amount)),
                    1 => {
                        (h.state, h.held_fen) = (HopState::Queued, Fen::new(amount));
                        h.note = Some("queued behind hangzhou".to_owned());
                    }
                    2 => {
                        (h.state, h.held_fen) = (HopState::Stopped, Fen::new(amount - amount / 2));
                        cash.push((number, l, amount / 2, at + 20 * MINUTE_MS));
                    }
                    _ => {
                        h.state = HopState::Ended;
                        h.note = Some("failed: the bank did not answer within the retry window".to_owned());
                    }
                }
                continue;
            }
            let kept = amount / 10;
            h.held_fen = Fen::new(kept);
            h.state = if l == 1 || index % 3 == 0 { HopState::Frozen } else { HopState::Stopped };
            let onward = amount - kept;
            let part = onward / children.len() as u64;
            for (k, &child) in children.iter().enumerate() {
                let leg = if k == 0 { onward - part * (children.len() as u64 - 1) } else { part };
                let leg_at = at + 3 * MINUTE_MS + k as u64 * 1_000;
                let number = hops.len() as u32 + 1;
                let transfer = format!("t-{case}-{number}");
                if l == 1 {
                    statement.push(leg_at, Direction::Out, leg, &transfer);
                }
                let to = account(l + 1, child);
                hops.push(hop(
                    case,
                    number,
                    Some(hop_of(&level, index)),
                    l as u8 + 1,
                    &to,
                    leg,
                    leg_at,
                    Some(transfer),
                ));
                next.push((l + 1, child, number, leg, leg_at));
            }
        }
        level = next;
    }
    for (parent, l, amount, at) in cash {
        let number = hops.len() as u32 + 1;
        let mut cashed = hop(case, number, Some(parent), l as u8 + 1, &"cash", amount, at, None);
        cashed.state = HopState::CashedOut;
        hops.push(cashed);
    }
    hops
}

/// The hop number of account `index` in `level`.
fn hop_of(level: &[(usize, u32, u32, u64, TimeMs)], index: u32) -> u32 {
    level.iter().find(|(_, i, ..)| *i == index).map(|(_, _, number, ..)| *number).expect("in the level")
}

#[allow(clippy::too_many_arguments)]
fn hop(
    case: &CaseId,
    number: u32,
    parent: Option<u32>,
    depth: u8,
    to: &dyn std::fmt::Display,
    amount: u64,
    at: TimeMs,
    transfer_id: Option<String>,
) -> TrailHop {
    TrailHop {
        case_id: case.clone(),
        hop: number,
        parent,
        depth,
        to: to.to_string(),
        via_order: None,
        amount_fen: Fen::new(amount),
        at_ms: at,
        transfer_id,
        state: HopState::Open,
        held_fen: Fen::ZERO,
        note: None,
    }
}

/// The first account's statement as it is built: lines in any order, sorted by time when
/// taken, the balances computed from the opening balance.
struct Statement {
    opening: u64,
    lines: Vec<(TimeMs, Direction, u64, String)>,
}

impl Statement {
    fn new(opening: u64) -> Statement {
        Statement { opening, lines: Vec::new() }
    }

    fn push(&mut self, at: TimeMs, direction: Direction, amount: u64, transfer_id: &str) {
        self.lines.push((at, direction, amount, transfer_id.to_owned()));
    }

    fn entries(mut self) -> Vec<Entry> {
        self.lines.sort_by(|a, b| (a.0, &a.3).cmp(&(b.0, &b.3)));
        let mut balance = self.opening;
        self.lines
            .into_iter()
            .map(|(at_ms, direction, amount, transfer_id)| {
                balance = match direction {
                    Direction::In => balance + amount,
                    Direction::Out => balance.checked_sub(amount).expect("the example's account never overdraws"),
                };
                Entry {
                    transfer_id,
                    at_ms,
                    direction,
                    amount_fen: Fen::new(amount),
                    balance_after_fen: Fen::new(balance),
                }
            })
            .collect()
    }
}
