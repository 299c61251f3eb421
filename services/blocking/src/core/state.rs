//! What blocking knows: the blocks, the pool, the holders seen, the orders in flight and the
//! deadlines the shell's timer waits for.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use domain::{AccountRef, CaseId, FraudType, TimeMs};
use serde::{Deserialize, Serialize};

use super::Order;
use super::rows::{RowSource, RowTable, RowWrite, Rows};
use crate::events::{Card, Carrier, HolderKey, PoolSubject, ProvinceOrigin};
use crate::normalize::Identifier;

/// Everything blocking knows, as rows ([`Rows`]): in memory in the core's tests, in
/// blocking's store in the service (written with the events that change them, so the store
/// holds the fold of the committed log and a start reads it as it is).
#[derive(Debug, PartialEq)]
pub struct State {
    /// Cases screened: a case is read once.
    pub cases: Rows<CaseId, ()>,
    /// One block per identifier ever blocked, active or not (its history and generation).
    pub blocks: Rows<Identifier, Block>,
    /// The active blocks by the time they were blocked: what `list` pages through.
    pub active_by_time: Rows<(TimeMs, Identifier), ()>,
    /// Subjects ever in the high-risk pool.
    pub pool: Rows<PoolSubject, PoolEntry>,
    /// Phone cards of card sellers in the pool, with the number of pool entries listing each.
    pub pool_cards: Rows<Identifier, u32>,
    /// Holders named by banks and carriers, with the cases that named them.
    pub holders: Rows<HolderKey, Holder>,
    /// The holders named for each account (one in practice), so a case reaching an account
    /// names its holder without a scan of every holder.
    pub account_holders: Rows<AccountRef, BTreeSet<HolderKey>>,
    /// Orders sent and not yet confirmed or failed, by request id.
    pub orders: Rows<String, InFlight>,
    /// When the core must be woken, and why: the shell sleeps until the first.
    pub deadlines: Rows<(TimeMs, Deadline), ()>,
}

impl Default for State {
    fn default() -> State {
        State {
            cases: Rows::new(RowTable::Cases),
            blocks: Rows::new(RowTable::Blocks),
            active_by_time: Rows::new(RowTable::ActiveByTime),
            pool: Rows::new(RowTable::Pool),
            pool_cards: Rows::new(RowTable::PoolCards),
            holders: Rows::new(RowTable::Holders),
            account_holders: Rows::new(RowTable::AccountHolders),
            orders: Rows::new(RowTable::Orders),
            deadlines: Rows::new(RowTable::Deadlines),
        }
    }
}

impl State {
    /// The state whose rows `source` holds.
    pub fn in_store(source: Arc<dyn RowSource>) -> State {
        let s = || source.clone();
        State {
            cases: Rows::in_store(RowTable::Cases, s()),
            blocks: Rows::in_store(RowTable::Blocks, s()),
            active_by_time: Rows::in_store(RowTable::ActiveByTime, s()),
            pool: Rows::in_store(RowTable::Pool, s()),
            pool_cards: Rows::in_store(RowTable::PoolCards, s()),
            holders: Rows::in_store(RowTable::Holders, s()),
            account_holders: Rows::in_store(RowTable::AccountHolders, s()),
            orders: Rows::in_store(RowTable::Orders, s()),
            deadlines: Rows::in_store(RowTable::Deadlines, s()),
        }
    }

    /// The earliest time the core needs an [`super::Input::TimerFired`], if any.
    pub fn next_deadline(&self) -> Option<TimeMs> {
        self.deadlines.first(1).first().map(|((at, _), ())| *at)
    }

    /// The active block of `identifier`, if it is blocked now.
    pub fn active_block(&self, identifier: &Identifier) -> Option<Cow<'_, Block>> {
        self.blocks.get(identifier).filter(|block| block.active)
    }

    /// Whether `subject` is in the pool now.
    pub fn in_pool(&self, subject: &PoolSubject) -> bool {
        self.pool.get(subject).is_some_and(|entry| entry.in_pool)
    }

    /// The rows changed since the last take, for the write numbered `write` (see [`Rows::take`]).
    pub fn take_rows(&mut self, write: u64) -> Vec<RowWrite> {
        let mut rows = Vec::new();
        self.cases.take(write, &mut rows);
        self.blocks.take(write, &mut rows);
        self.active_by_time.take(write, &mut rows);
        self.pool.take(write, &mut rows);
        self.pool_cards.take(write, &mut rows);
        self.holders.take(write, &mut rows);
        self.account_holders.take(write, &mut rows);
        self.orders.take(write, &mut rows);
        self.deadlines.take(write, &mut rows);
        rows
    }

    /// Writes up to `write` are committed (see [`Rows::committed`]).
    pub fn committed(&mut self, write: u64) {
        self.cases.committed(write);
        self.blocks.committed(write);
        self.active_by_time.committed(write);
        self.pool.committed(write);
        self.pool_cards.committed(write);
        self.holders.committed(write);
        self.account_holders.committed(write);
        self.orders.committed(write);
        self.deadlines.committed(write);
    }

    /// Rows held in memory, all parts together (changed or not known committed).
    pub fn rows_in_memory(&self) -> usize {
        self.cases.in_memory_len()
            + self.blocks.in_memory_len()
            + self.active_by_time.in_memory_len()
            + self.pool.in_memory_len()
            + self.pool_cards.in_memory_len()
            + self.holders.in_memory_len()
            + self.account_holders.in_memory_len()
            + self.orders.in_memory_len()
            + self.deadlines.in_memory_len()
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
    /// Where this generation came from when the province asked for it (a city's own block:
    /// `None`); its first case is then the first blocking city's.
    #[serde(default)]
    pub province: Option<ProvinceOrigin>,
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
