//! How a claim ended, by the simulator's attribution and the bank's freezes: the part the
//! case's money does not back (over-claim), and the money found and then let go.

use domain::Fen;

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
}
