//! The answer to a lookup (`check`): is this value blocked, since when, why, and is it in the
//! high-risk pool. The value is normalised the same way a report's contacts are.

use std::collections::BTreeSet;

use domain::{FraudType, TimeMs};

use super::state::State;
use crate::normalize::{ContactKind, Identifier, NormalizeError, normalize};

/// What a carrier or staff are told about one identifier. No personal data: counts and fraud
/// types, never a case's victim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub identifier: Identifier,
    /// The active block, if any.
    pub blocked: Option<BlockedSince>,
    /// A phone card restricted to local voice as a card seller's.
    pub in_pool: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedSince {
    pub since_ms: TimeMs,
    pub expires_at_ms: TimeMs,
    /// Cases that named it, in every generation.
    pub case_count: u32,
    pub fraud_types: BTreeSet<FraudType>,
}

/// Looks `value`, given as a contact of `kind`, up in `state`. The rule, not the index: the
/// shell answers `check` at millions a second from a compact index of the same facts.
pub fn lookup(state: &State, kind: ContactKind, value: &str) -> Result<Answer, NormalizeError> {
    let identifier = normalize(kind, value)?;
    let blocked = state.active_block(&identifier).map(|block| BlockedSince {
        since_ms: block.blocked_at_ms,
        expires_at_ms: block.expires_at_ms,
        case_count: block.case_count,
        fraud_types: block.fraud_types.clone(),
    });
    let in_pool = state.pool_cards.contains_key(&identifier);
    Ok(Answer { identifier, blocked, in_pool })
}
