//! What blocking knows, rebuilt from its log at start: the blocks, the pool, the holders
//! seen, the orders in flight and the deadlines the shell's timer waits for.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, FraudType, TimeMs};
use serde::{Deserialize, Serialize};

use super::Order;
use crate::events::{Card, Carrier, HolderKey, PoolSubject};
use crate::normalize::Identifier;

/// Everything blocking knows. The log is the truth; the shell saves a snapshot of it now and
/// then (`shell::snapshot`) so a start replays only what came after.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Cases screened: a case is read once.
    pub cases: BTreeSet<CaseId>,
    /// One block per identifier ever blocked, active or not (its history and generation).
    pub blocks: BTreeMap<Identifier, Block>,
    /// Subjects ever in the high-risk pool.
    pub pool: BTreeMap<PoolSubject, PoolEntry>,
    /// Holders named by banks and carriers, with the cases that named them.
    pub holders: BTreeMap<HolderKey, Holder>,
    /// Orders sent and not yet confirmed or failed, by request id.
    pub orders: BTreeMap<String, InFlight>,
    /// When the core must be woken, and why: the shell sleeps until the first.
    pub deadlines: BTreeSet<(TimeMs, Deadline)>,
}

impl State {
    /// The earliest time the core needs an [`super::Input::TimerFired`], if any.
    pub fn next_deadline(&self) -> Option<TimeMs> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The active block of `identifier`, if it is blocked now.
    pub fn active_block(&self, identifier: &Identifier) -> Option<&Block> {
        self.blocks.get(identifier).filter(|block| block.active)
    }

    /// Whether `subject` is in the pool now.
    pub fn in_pool(&self, subject: &PoolSubject) -> bool {
        self.pool.get(subject).is_some_and(|entry| entry.in_pool)
    }
}

/// Something the core must do at a time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Deadline {
    Expiry(Identifier),
    Release(PoolSubject),
    Retry(String),
}

/// The block of one identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// 1 for the first block; +1 each time it is blocked again after an expiry or a lift.
    pub generation: u32,
    pub active: bool,
    /// The first cases that named it (at most `MAX_CASES_LISTED`).
    pub cases: Vec<CaseId>,
    /// Every case that named it, in every generation: its risk count.
    pub case_count: u32,
    pub fraud_types: BTreeSet<FraudType>,
    pub first_reported_ms: TimeMs,
    pub last_reported_ms: TimeMs,
    /// When this generation was blocked.
    pub blocked_at_ms: TimeMs,
    pub expires_at_ms: TimeMs,
    /// This generation's block order at each carrier.
    pub carriers: BTreeMap<Carrier, OrderStatus>,
    pub looks_like: Option<String>,
}

/// Where an order stands at its counterparty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Sent (or waiting to be sent again), not confirmed: shown as pending.
    Pending,
    Confirmed {
        at_ms: TimeMs,
    },
    Failed,
}

/// An order sent and not settled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub order: Order,
    /// Attempts made, the first included.
    pub attempt: u32,
    /// When it is sent again, while it waits after a failure.
    pub retry_at_ms: Option<TimeMs>,
    /// The block generation it serves, for a block order (its status is kept on the block).
    pub block: Option<(Identifier, u32)>,
}

/// A subject's place in the high-risk pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolEntry {
    pub generation: u32,
    pub in_pool: bool,
    pub entered_at_ms: TimeMs,
    pub release_at_ms: TimeMs,
    /// The cases it was involved in, this generation (at most `MAX_CASES_LISTED`).
    pub cases: BTreeSet<CaseId>,
    /// A card seller's phone cards restricted.
    pub cards: Vec<Card>,
}

/// A holder named by banks and carriers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub cases: BTreeSet<CaseId>,
    pub phones: BTreeSet<Identifier>,
    pub accounts: BTreeSet<AccountRef>,
}
