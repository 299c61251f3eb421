//! What the index keeps of a blocked identifier: the facts a lookup answers with, 24 bytes.

use std::collections::BTreeSet;

use domain::{FraudType, TimeMs};

use crate::core::{Answer, Block, BlockedSince};
use crate::normalize::Identifier;

/// What a lookup of one identifier finds: its active block, and how many pool entries list it
/// as a card seller's phone card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    pub blocked: Option<Blocked>,
    /// In-pool entries listing it among a card seller's phone cards (one in practice: a card is
    /// one holder's; counted so that two holders named with one card release it only when both
    /// have left). Saturates at `u16::MAX`: such a card stays in the pool, the safe side.
    pub pool_cards: u16,
}

impl Facts {
    /// Nothing to keep: not blocked and in no pool entry.
    pub fn is_empty(&self) -> bool {
        self.blocked.is_none() && self.pool_cards == 0
    }

    pub fn in_pool(&self) -> bool {
        self.pool_cards > 0
    }

    /// The answer to a lookup of `identifier` (the `check` command's), as [`crate::core::lookup`]
    /// gives it from the state.
    pub fn answer(&self, identifier: Identifier) -> Answer {
        Answer {
            identifier,
            blocked: self.blocked.map(|b| BlockedSince {
                since_ms: b.since_ms,
                expires_at_ms: b.expires_at_ms,
                case_count: b.case_count,
                fraud_types: b.fraud_types.to_set(),
            }),
            in_pool: self.in_pool(),
        }
    }
}

/// An active block as a lookup states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// When this generation was blocked.
    pub since_ms: TimeMs,
    pub expires_at_ms: TimeMs,
    /// Cases that named it, in every generation.
    pub case_count: u32,
    pub fraud_types: FraudTypes,
}

impl Blocked {
    /// The facts of the state's `block`.
    pub fn of(block: &Block) -> Blocked {
        Blocked {
            since_ms: block.blocked_at_ms,
            expires_at_ms: block.expires_at_ms,
            case_count: block.case_count,
            fraud_types: FraudTypes::from_iter(block.fraud_types.iter().copied()),
        }
    }
}

/// A set of fraud types as bits, in the order of [`FraudType::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FraudTypes(u16);

const _: () = assert!(FraudType::ALL.len() <= 15, "fraud types fit the record's 15 bits");

impl FraudTypes {
    fn bit(fraud_type: FraudType) -> u16 {
        let position = FraudType::ALL.iter().position(|t| *t == fraud_type).expect("ALL lists every fraud type");
        1 << position
    }

    pub fn contains(self, fraud_type: FraudType) -> bool {
        self.0 & Self::bit(fraud_type) != 0
    }

    pub fn to_set(self) -> BTreeSet<FraudType> {
        FraudType::ALL.into_iter().filter(|t| self.contains(*t)).collect()
    }
}

impl FromIterator<FraudType> for FraudTypes {
    fn from_iter<I: IntoIterator<Item = FraudType>>(types: I) -> FraudTypes {
        FraudTypes(types.into_iter().fold(0, |bits, t| bits | Self::bit(t)))
    }
}

/// [`Facts`] as stored: 24 bytes, the block's presence in the top bit of the fraud types.
#[derive(Clone, Copy)]
pub(super) struct Record {
    since_ms: TimeMs,
    expires_at_ms: TimeMs,
    case_count: u32,
    /// Bit 15: blocked; bits 0-14: [`FraudTypes`].
    flags: u16,
    pool_cards: u16,
}

const BLOCKED: u16 = 1 << 15;

impl Record {
    pub fn pack(facts: Facts) -> Record {
        let pool_cards = facts.pool_cards;
        match facts.blocked {
            Some(b) => Record {
                since_ms: b.since_ms,
                expires_at_ms: b.expires_at_ms,
                case_count: b.case_count,
                flags: BLOCKED | b.fraud_types.0,
                pool_cards,
            },
            None => Record { since_ms: 0, expires_at_ms: 0, case_count: 0, flags: 0, pool_cards },
        }
    }

    #[inline]
    pub fn unpack(self) -> Facts {
        let blocked = (self.flags & BLOCKED != 0).then_some(Blocked {
            since_ms: self.since_ms,
            expires_at_ms: self.expires_at_ms,
            case_count: self.case_count,
            fraud_types: FraudTypes(self.flags & !BLOCKED),
        });
        Facts { blocked, pool_cards: self.pool_cards }
    }
}

const _: () = assert!(std::mem::size_of::<Record>() == 24);
