//! What the index keeps of a blocked identifier: the facts a lookup answers with, packed
//! into 20 bytes of its table slot.

use std::collections::BTreeSet;

use domain::{FraudType, TimeMs};

use crate::core::{Answer, Block, BlockedSince};
use crate::limits::INDEX_MAX_TIME_MS;
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

/// An active block as a lookup states it. Times past [`INDEX_MAX_TIME_MS`] (year 10889) are
/// held as it.
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

const _: () = assert!(FraudType::ALL.len() <= 15, "fraud types fit the slot's 15 bits");

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

/// [`Facts`] as a table slot holds them, in 20 bytes beside the fingerprint: the block's
/// times to the millisecond in 48 bits each (to [`INDEX_MAX_TIME_MS`], in the year 10889; a
/// later time is held as that one), the case count whole, split over the two times' top bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Packed {
    /// Bit 31: blocked; bits 16-30: [`FraudTypes`]; bits 0-15: pool cards. Zero exactly when
    /// the facts are empty, which are never stored: the mark of an empty slot.
    pub tag: u32,
    /// Bits 0-47: `since_ms`; bits 48-63: the case count's low 16 bits.
    pub since: u64,
    /// Bits 0-47: `expires_at_ms`; bits 48-63: the case count's high 16 bits.
    pub expires: u64,
}

const BLOCKED: u32 = 1 << 31;
const TYPES_SHIFT: u32 = 16;
const TIME_BITS: u32 = 48;
const _: () = assert!(INDEX_MAX_TIME_MS == (1 << TIME_BITS) - 1, "a time fills the low 48 bits of its word");
/// The bits [`FraudTypes`] may use: one for each fraud type.
const KNOWN_TYPES: u16 = ((1u32 << FraudType::ALL.len()) - 1) as u16;

impl Packed {
    /// Not blocked, in no pool entry: never stored, the facts of an empty slot.
    pub const EMPTY: Packed = Packed { tag: 0, since: 0, expires: 0 };

    pub fn pack(facts: Facts) -> Packed {
        let pool_cards = u32::from(facts.pool_cards);
        match facts.blocked {
            Some(b) => {
                let time = |ms: TimeMs, cases: u32| ms.min(INDEX_MAX_TIME_MS) | u64::from(cases & 0xffff) << TIME_BITS;
                Packed {
                    tag: BLOCKED | u32::from(b.fraud_types.0) << TYPES_SHIFT | pool_cards,
                    since: time(b.since_ms, b.case_count),
                    expires: time(b.expires_at_ms, b.case_count >> 16),
                }
            }
            None => Packed { tag: pool_cards, since: 0, expires: 0 },
        }
    }

    /// The facts packed, `None` for [`Packed::EMPTY`]. Chosen without branches: whether a
    /// lookup found a block is what its caller cannot guess, and a wrong guess throws away
    /// the work the processor did ahead on the next lookup meanwhile.
    #[inline]
    pub fn unpack(self) -> Option<Facts> {
        use std::hint::select_unpredictable;
        let blocked = Blocked {
            since_ms: self.since & INDEX_MAX_TIME_MS,
            expires_at_ms: self.expires & INDEX_MAX_TIME_MS,
            case_count: (self.since >> TIME_BITS) as u32 | ((self.expires >> TIME_BITS) as u32) << 16,
            fraud_types: FraudTypes(((self.tag & !BLOCKED) >> TYPES_SHIFT) as u16),
        };
        let blocked = select_unpredictable(self.tag & BLOCKED != 0, Some(blocked), None);
        select_unpredictable(self.is_empty(), None, Some(Facts { blocked, pool_cards: self.tag as u16 }))
    }

    /// Not blocked and in no pool entry: what an empty slot holds.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.tag == 0
    }

    /// The facts as a file holds them: tag, since, expires, little-endian (20 bytes).
    pub fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tag.to_le_bytes());
        out.extend_from_slice(&self.since.to_le_bytes());
        out.extend_from_slice(&self.expires.to_le_bytes());
    }

    /// Facts from [`Packed::encode`]'s bytes; `None` when [`Packed::pack`] makes no such
    /// facts (unknown fraud types, times or fraud types without a block).
    pub fn decode(bytes: &[u8; 20]) -> Option<Packed> {
        let tag = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let since = u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes"));
        let expires = u64::from_le_bytes(bytes[12..].try_into().expect("8 bytes"));
        let packed = Packed { tag, since, expires };
        Some(packed).filter(|packed| packed.is_canonical())
    }

    fn is_canonical(self) -> bool {
        let types = ((self.tag & !BLOCKED) >> TYPES_SHIFT) as u16;
        if self.tag & BLOCKED == 0 {
            types == 0 && self.since == 0 && self.expires == 0
        } else {
            types & !KNOWN_TYPES == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(since_ms: TimeMs, expires_at_ms: TimeMs, case_count: u32) -> Option<Blocked> {
        let fraud_types = FraudType::ALL.into_iter().step_by(2).collect();
        Some(Blocked { since_ms, expires_at_ms, case_count, fraud_types })
    }

    #[test]
    fn facts_come_back_as_packed_and_times_past_the_bound_as_the_bound() {
        let max = INDEX_MAX_TIME_MS;
        for facts in [
            Facts { blocked: None, pool_cards: 1 },
            Facts { blocked: None, pool_cards: u16::MAX },
            Facts { blocked: blocked(0, 0, 0), pool_cards: 0 },
            Facts { blocked: blocked(1_763_946_000_000, 1_779_498_000_000, 70_000), pool_cards: 2 },
            Facts { blocked: blocked(max, max, u32::MAX), pool_cards: u16::MAX },
        ] {
            let packed = Packed::pack(facts);
            assert_eq!(packed.unpack(), Some(facts));
            assert!(!packed.is_empty());
            let mut bytes = Vec::new();
            packed.encode(&mut bytes);
            assert_eq!(Packed::decode(bytes.as_slice().try_into().unwrap()), Some(packed));
        }
        let far = Packed::pack(Facts { blocked: blocked(max + 1, u64::MAX, 3), pool_cards: 0 }).unpack().unwrap();
        assert_eq!(far, Facts { blocked: blocked(max, max, 3), pool_cards: 0 });
        assert!(Packed::pack(Facts::default()).is_empty());
        assert_eq!(Packed::EMPTY.unpack(), None);
    }

    #[test]
    fn facts_no_pack_makes_are_refused_when_decoded() {
        let decode = |tag: u32, since: u64| {
            let mut bytes = Vec::new();
            Packed { tag, since, expires: 0 }.encode(&mut bytes);
            Packed::decode(bytes.as_slice().try_into().unwrap())
        };
        assert!(decode(BLOCKED | 1 << 30, 0).is_none(), "an unknown fraud type");
        assert!(decode(1, 5).is_none(), "a time without a block");
        assert!(decode(1 << TYPES_SHIFT, 0).is_none(), "fraud types without a block");
        assert!(decode(BLOCKED | 1 << TYPES_SHIFT, 5).is_some());
    }
}
