//! How a claim ended, by the simulator's attribution and the bank's freezes: the part the
//! case's money does not back (over-claim), and the money found and then let go.

use domain::{AccountRef, Fen};
use serde::Serialize;

/// Claims listed in a report's `claims_not_backed`.
pub const MAX_CLAIM_LINES: usize = 100;

/// One claim that over-claims or let money go, with what its figures are made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimLine {
    pub case_id: String,
    pub account: AccountRef,
    /// The case's claim on the account at the end.
    pub claim_fen: u64,
    /// The case's money in the account when it was claimed, and at the end, by attribution.
    pub then_fen: u64,
    pub now_fen: u64,
    /// What the bank holds frozen for the case at the end.
    pub frozen_fen: u64,
    pub over_fen: u64,
    pub released_fen: u64,
}

impl ClaimLine {
    pub(super) fn new(
        case_id: String,
        account: &AccountRef,
        claim: Fen,
        then: Fen,
        now: Fen,
        frozen: Fen,
        outcome: ClaimOutcome,
    ) -> ClaimLine {
        ClaimLine {
            case_id,
            account: account.clone(),
            claim_fen: claim.get(),
            then_fen: then.get(),
            now_fen: now.get(),
            frozen_fen: frozen.get(),
            over_fen: outcome.over.get(),
            released_fen: outcome.released.get(),
        }
    }

    /// The `limit` lines of most money, released first, then over-claimed.
    pub(super) fn largest(mut lines: Vec<ClaimLine>, limit: usize) -> Vec<ClaimLine> {
        lines.sort_by_key(|line| std::cmp::Reverse((line.released_fen, line.over_fen)));
        lines.truncate(limit);
        lines
    }
}

/// How a claim of `claim` on an account ended, given the case's money in the account when
/// it was made (`then`) and at the end (`now`), by attribution, and what the bank holds
/// frozen for the case at the end (`frozen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClaimOutcome {
    /// The part of the claim the case's money at the end does not back.
    pub(super) over: Fen,
    /// Money found (up to the claim) and gone by the end that no freeze of the case holds:
    /// let go.
    pub(super) released: Fen,
    /// Money found and gone by the end by attribution alone, which takes every outflow
    /// from each case's money in the account pro rata — also from money a freeze of the
    /// case holds, which cannot leave.
    pub(super) released_pro_rata: Fen,
}

pub(super) fn claim_outcome(claim: Fen, then: Fen, now: Fen, frozen: Fen) -> ClaimOutcome {
    let found = then.min(claim);
    ClaimOutcome {
        over: claim.saturating_sub(now),
        released: found.saturating_sub(now.max(frozen)),
        released_pro_rata: found.saturating_sub(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_over_by_what_the_end_does_not_back_and_released_by_what_left_after_it() {
        let fen = Fen::new;
        let outcome = |claim, then, now, frozen| {
            let o = claim_outcome(fen(claim), fen(then), fen(now), fen(frozen));
            (o.over.get(), o.released.get(), o.released_pro_rata.get())
        };
        // Claimed 1,000 of the 1,000 there; all still there at the end.
        assert_eq!(outcome(1_000, 1_000, 1_000, 1_000), (0, 0, 0));
        // The stop lapsed unfrozen and 600 left: over-claimed and released alike.
        assert_eq!(outcome(1_000, 1_000, 400, 0), (600, 600, 600));
        // Claimed 1,000 where only 700 of the case's money ever was: over, not released.
        assert_eq!(outcome(1_000, 700, 700, 700), (300, 0, 0));
        // More of the case's money there than claimed: only the claim counts as found.
        assert_eq!(outcome(500, 900, 200, 0), (300, 300, 300));
        // Frozen for the case, but attribution takes 600 of the account's outflows from the
        // case: not released (the bank holds it), over-claimed by attribution's count.
        assert_eq!(outcome(1_000, 1_000, 400, 1_000), (600, 0, 600));
        // Frozen in part: what no freeze of the case holds left.
        assert_eq!(outcome(1_000, 1_000, 400, 700), (600, 300, 600));
    }

    #[test]
    fn the_report_lists_the_claims_that_released_most_first_then_those_over_claimed_most() {
        let account = AccountRef::parse("icbc:62220202").unwrap();
        let line = |case: &str, claim, now, frozen| {
            let outcome = claim_outcome(Fen::new(claim), Fen::new(claim), Fen::new(now), Fen::new(frozen));
            ClaimLine::new(
                case.into(),
                &account,
                Fen::new(claim),
                Fen::new(claim),
                Fen::new(now),
                Fen::new(frozen),
                outcome,
            )
        };
        let lines = vec![line("over", 1_000, 100, 1_000), line("released", 1_000, 800, 0), line("small", 10, 0, 10)];
        let largest = ClaimLine::largest(lines, 2);
        assert_eq!(largest.iter().map(|l| l.case_id.as_str()).collect::<Vec<_>>(), vec!["released", "over"]);
        assert_eq!((largest[0].released_fen, largest[0].over_fen), (200, 200));
    }
}
