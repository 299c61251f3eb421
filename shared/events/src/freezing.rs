//! Events of the freezing service: the trace of a case's money trail, hop by hop, and the
//! stop-payments and freezes along it.

use domain::report::Destination;
use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef, TimeMs};
use serde::{Deserialize, Serialize};

use crate::province::CrossCityClaim;

/// A hop's number within its case, from 1.
pub type HopId = u32;

/// What freezing recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezingEvent {
    /// A reported case's trace began: one root hop per reported transfer follows.
    TraceStarted { case_id: CaseId, reported_at_ms: TimeMs, reported_loss_fen: Fen },
    /// A place the victim's money went to is to be followed.
    HopOpened {
        case_id: CaseId,
        hop: HopId,
        /// The hop whose account sent the money here; none for the victim's own payments.
        parent: Option<HopId>,
        /// 1 for the victim's payments, +1 per onward transfer.
        depth: u8,
        target: Destination,
        /// Victim money traced into the target.
        traced_fen: Fen,
        /// When the traced money arrived.
        since_ms: TimeMs,
        /// The transfer that brought the money, when known: it marks the arrival in the
        /// account's statement.
        arrival_transfer_id: Option<String>,
    },
    /// A payment order was resolved to the bank account it paid into.
    OrderResolved {
        case_id: CaseId,
        hop: HopId,
        order: PaymentOrderRef,
        account: AccountRef,
        settled_at_ms: TimeMs,
        /// The bank transfer that settled the order.
        transfer_id: String,
        /// How long the payment platform took to answer, ms: from the request leaving
        /// freezing to the answer being decided (retries included). Absent in events
        /// recorded before it was measured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answered_in_ms: Option<u64>,
    },
    /// The bank stopped payments out of the account (or it was already held by this center)
    /// and its statement was read.
    AccountStopped {
        case_id: CaseId,
        hop: HopId,
        account: AccountRef,
        /// 1 or 2: which stop-payment on this account; 0 when the account was already held
        /// by this center for another case and only its statement was read.
        stop_no: u8,
        /// The account's balance now held by the stop.
        held_fen: Fen,
        /// The part of the held money that is this victim's, by the tracing rule.
        claim_fen: Fen,
        /// Victim money that left the account for another account or order.
        onward: Vec<OnwardLeg>,
        /// Victim money that left the account as cash.
        cashed_out_fen: Fen,
        stopped_at_ms: TimeMs,
        expires_at_ms: TimeMs,
        /// How long the bank took to answer the stop-payment (or the read), ms: from the
        /// request leaving freezing to the answer being decided (retries included). Absent
        /// in events recorded before it was measured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answered_in_ms: Option<u64>,
        /// The hop number of `onward[0]`. This event opens a hop for every onward leg:
        /// `onward[i]` is followed as hop `first_onward_hop + i`, a child of this hop one
        /// level deeper, tracing the leg's amount from its time and transfer — no
        /// `hop_opened` is recorded for them. Absent when there are no onward legs, and in
        /// events recorded before hops were opened this way (a `hop_opened` follows for
        /// each of their children).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_onward_hop: Option<HopId>,
        /// The hop's trail depth (1 = the victim paid into it); its onward hops are one
        /// deeper. Absent in events recorded before it was added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<u8>,
    },
    /// A hop ended without a stop: the trail merged into an account already followed in this
    /// case, the depth bound was reached, or the adapters could not answer.
    HopEnded {
        case_id: CaseId,
        hop: HopId,
        reason: HopEnd,
        detail: String,
        /// For a merge into a hop of the same case whose account was not answered yet: that
        /// hop, which follows this hop's money too.
        merged_into: Option<HopId>,
    },
    /// Every hop of the case has ended: the trace is complete.
    TraceCompleted {
        case_id: CaseId,
        completed_at_ms: TimeMs,
        accounts_stopped: u32,
        claimed_fen: Fen,
        cashed_out_fen: Fen,
        /// Victim money that could not be followed (depth bound, failures, merges).
        untraced_fen: Fen,
        /// From the report to the last stop that held victim money.
        time_to_freeze_ms: Option<u64>,
    },
    /// A stop-payment was converted into a freeze.
    AccountFrozen { case_id: CaseId, account: AccountRef, frozen_fen: Fen, frozen_at_ms: TimeMs, expires_at_ms: TimeMs },
    /// Another center froze the account first; this case's claim queues behind it (轮候冻结).
    FreezeQueued {
        case_id: CaseId,
        account: AccountRef,
        claim_fen: Fen,
        queued_behind: City,
        queued_at_ms: TimeMs,
        expires_at_ms: TimeMs,
    },
    /// The freeze could not be placed in time and the stop-payment was renewed (the second
    /// and last one the rules allow).
    StopRenewed {
        case_id: CaseId,
        account: AccountRef,
        stop_no: u8,
        expires_at_ms: TimeMs,
        /// When the renewal was decided; the next conversion is due from it. Absent in
        /// events recorded before it was kept (their conversion is due at the latest safe
        /// moment before the lapse).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        renewed_at_ms: Option<TimeMs>,
    },
    /// A stop-payment lapsed or a freeze failed for good.
    FreezeFailed { case_id: CaseId, account: AccountRef, reason: String },
    /// A hop's bank or platform could not answer for now (no answer, nobody listening,
    /// `unavailable`, an order not settled yet): the hop stays open and is asked again at
    /// `retry_at_ms`.
    HopRetrying {
        case_id: CaseId,
        hop: HopId,
        /// Failed attempts so far, this one included (1 for the first failure).
        attempt: u32,
        /// When the hop failed first: its retries are bounded from then.
        first_failed_at_ms: TimeMs,
        retry_at_ms: TimeMs,
        reason: String,
    },
    /// A freeze (or the renewal of the stop that holds the money while the freeze is tried
    /// again) failed for now: the claim stays held and its freeze is asked for again at
    /// `retry_at_ms`.
    FreezeRetrying {
        case_id: CaseId,
        account: AccountRef,
        /// Failed attempts under the stop now in force, this one included.
        attempt: u32,
        retry_at_ms: TimeMs,
        reason: String,
    },
    /// An alert for the staff: the claim is not frozen yet, no renewal of its stop is left,
    /// and the stop lapses at `expires_at_ms`, within the configured margin. Raised once per
    /// claim and stop; the freeze is still tried (a `freeze_failed` follows if it never
    /// holds).
    FreezeAtRisk { case_id: CaseId, account: AccountRef, claim_fen: Fen, expires_at_ms: TimeMs, reason: String },
    /// The case's claim on an account changed when another case's reading of the account
    /// ran the tracing rule over every case whose money is in it (docs/tracing-rule.md): the
    /// other victims' money is no longer taken as leaving first. `claim_fen` replaces the
    /// case's claim on the account; money of the case found to have left the account is
    /// followed by hops of its own (`hop_opened`, while the case's trace is not complete).
    ClaimRevised {
        case_id: CaseId,
        account: AccountRef,
        /// The claim before and now.
        previous_fen: Fen,
        claim_fen: Fen,
        /// The case, and its hop, whose reading of the account revised the claim.
        by_case: CaseId,
        by_hop: HopId,
        revised_at_ms: TimeMs,
    },
    /// The province coordinator told this city that cases of two or more cities stopped
    /// `account`, which this center holds (`events::province::CrossCityNotice`): every
    /// city's claim, earliest first stop first (ties by city), one of them this city's.
    /// Replaces the claims recorded on the account before (the set of cities only grows).
    /// Its case is this city's claim's ([`FreezingEvent::case_in`]).
    CrossCityClaims { account: AccountRef, claims: Vec<CrossCityClaim>, noticed_at_ms: TimeMs },
}

/// Victim money that left a traced account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnwardLeg {
    pub to: Destination,
    pub amount_fen: Fen,
    pub at_ms: TimeMs,
    pub transfer_id: String,
}

/// Why a hop ended without a stop-payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopEnd {
    /// The account was already followed in this case.
    Merged,
    /// The trail reached the depth bound.
    DepthLimit,
    /// Too little money to follow.
    BelowMinimum,
    /// The bank or platform refused or could not be reached after the bounded retries.
    Failed,
}

impl FreezingEvent {
    pub const TRACE_STARTED: &'static str = "trace_started";
    pub const HOP_OPENED: &'static str = "hop_opened";
    pub const ORDER_RESOLVED: &'static str = "order_resolved";
    pub const ACCOUNT_STOPPED: &'static str = "account_stopped";
    pub const HOP_ENDED: &'static str = "hop_ended";
    pub const TRACE_COMPLETED: &'static str = "trace_completed";
    pub const ACCOUNT_FROZEN: &'static str = "account_frozen";
    pub const FREEZE_QUEUED: &'static str = "freeze_queued";
    pub const STOP_RENEWED: &'static str = "stop_renewed";
    pub const FREEZE_FAILED: &'static str = "freeze_failed";
    pub const HOP_RETRYING: &'static str = "hop_retrying";
    pub const FREEZE_RETRYING: &'static str = "freeze_retrying";
    pub const FREEZE_AT_RISK: &'static str = "freeze_at_risk";
    pub const CLAIM_REVISED: &'static str = "claim_revised";
    pub const CROSS_CITY_CLAIMS: &'static str = "cross_city_claims";
    /// Every kind, in declaration order.
    pub const KINDS: [&'static str; 15] = [
        FreezingEvent::TRACE_STARTED,
        FreezingEvent::HOP_OPENED,
        FreezingEvent::ORDER_RESOLVED,
        FreezingEvent::ACCOUNT_STOPPED,
        FreezingEvent::HOP_ENDED,
        FreezingEvent::TRACE_COMPLETED,
        FreezingEvent::ACCOUNT_FROZEN,
        FreezingEvent::FREEZE_QUEUED,
        FreezingEvent::STOP_RENEWED,
        FreezingEvent::FREEZE_FAILED,
        FreezingEvent::HOP_RETRYING,
        FreezingEvent::FREEZE_RETRYING,
        FreezingEvent::FREEZE_AT_RISK,
        FreezingEvent::CLAIM_REVISED,
        FreezingEvent::CROSS_CITY_CLAIMS,
    ];

    /// The hops an `account_stopped` opened, with the leg each follows: `onward[i]` is hop
    /// `first_onward_hop + i`. Empty for every other event, and for stops recorded before
    /// stops opened their onward hops (those have a `hop_opened` per child).
    pub fn onward_hops(&self) -> impl Iterator<Item = (HopId, &OnwardLeg)> {
        let (first, onward) = match self {
            FreezingEvent::AccountStopped { first_onward_hop: Some(first), onward, .. } => (*first, onward.as_slice()),
            _ => (0, &[][..]),
        };
        (first..).zip(onward)
    }

    /// The event's kind: the last token of its subject and its MessagePack tag.
    pub fn name(&self) -> &'static str {
        match self {
            FreezingEvent::TraceStarted { .. } => FreezingEvent::TRACE_STARTED,
            FreezingEvent::HopOpened { .. } => FreezingEvent::HOP_OPENED,
            FreezingEvent::OrderResolved { .. } => FreezingEvent::ORDER_RESOLVED,
            FreezingEvent::AccountStopped { .. } => FreezingEvent::ACCOUNT_STOPPED,
            FreezingEvent::HopEnded { .. } => FreezingEvent::HOP_ENDED,
            FreezingEvent::TraceCompleted { .. } => FreezingEvent::TRACE_COMPLETED,
            FreezingEvent::AccountFrozen { .. } => FreezingEvent::ACCOUNT_FROZEN,
            FreezingEvent::FreezeQueued { .. } => FreezingEvent::FREEZE_QUEUED,
            FreezingEvent::StopRenewed { .. } => FreezingEvent::STOP_RENEWED,
            FreezingEvent::FreezeFailed { .. } => FreezingEvent::FREEZE_FAILED,
            FreezingEvent::HopRetrying { .. } => FreezingEvent::HOP_RETRYING,
            FreezingEvent::FreezeRetrying { .. } => FreezingEvent::FREEZE_RETRYING,
            FreezingEvent::FreezeAtRisk { .. } => FreezingEvent::FREEZE_AT_RISK,
            FreezingEvent::ClaimRevised { .. } => FreezingEvent::CLAIM_REVISED,
            FreezingEvent::CrossCityClaims { .. } => FreezingEvent::CROSS_CITY_CLAIMS,
        }
    }

    /// The case the event belongs to: every event of a case's trail names it. A
    /// `cross_city_claims` names the case of each claiming city, so it has none by itself:
    /// its case is its city's claim's ([`FreezingEvent::case_in`]).
    pub fn case_id(&self) -> Option<&CaseId> {
        Some(match self {
            FreezingEvent::TraceStarted { case_id, .. }
            | FreezingEvent::HopOpened { case_id, .. }
            | FreezingEvent::OrderResolved { case_id, .. }
            | FreezingEvent::AccountStopped { case_id, .. }
            | FreezingEvent::HopEnded { case_id, .. }
            | FreezingEvent::TraceCompleted { case_id, .. }
            | FreezingEvent::AccountFrozen { case_id, .. }
            | FreezingEvent::FreezeQueued { case_id, .. }
            | FreezingEvent::StopRenewed { case_id, .. }
            | FreezingEvent::FreezeFailed { case_id, .. }
            | FreezingEvent::HopRetrying { case_id, .. }
            | FreezingEvent::FreezeRetrying { case_id, .. }
            | FreezingEvent::FreezeAtRisk { case_id, .. }
            | FreezingEvent::ClaimRevised { case_id, .. } => case_id,
            FreezingEvent::CrossCityClaims { .. } => return None,
        })
    }

    /// The case the event belongs to when recorded by `city` (its envelope's correlation):
    /// [`FreezingEvent::case_id`], and for a `cross_city_claims` the case of `city`'s claim,
    /// if one of the claims is `city`'s.
    pub fn case_in(&self, city: &City) -> Option<&CaseId> {
        match self {
            FreezingEvent::CrossCityClaims { claims, .. } => {
                claims.iter().find(|claim| claim.city == *city).map(|claim| &claim.case_id)
            }
            _ => self.case_id(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Envelope, Payload};

    #[test]
    fn cross_city_claims_belong_to_the_recording_citys_claim() {
        let (hangzhou, wenzhou) = (City::parse("hangzhou").unwrap(), City::parse("wenzhou").unwrap());
        let claim = |city: &City, at| CrossCityClaim {
            city: city.clone(),
            case_id: CaseId::derive(city, at),
            first_stop_at_ms: at,
        };
        let event = FreezingEvent::CrossCityClaims {
            account: AccountRef::parse("icbc:6222020200001234").unwrap(),
            claims: vec![claim(&wenzhou, 1), claim(&hangzhou, 2)],
            noticed_at_ms: 3,
        };
        assert_eq!(event.case_id(), None);
        assert_eq!(event.case_in(&hangzhou), Some(&CaseId::derive(&hangzhou, 2)));
        assert_eq!(event.case_in(&City::parse("ningbo").unwrap()), None);
        let envelope = Envelope::new(hangzhou.clone(), 1, 3, Payload::Freezing(event));
        assert_eq!(envelope.correlation, Some(CaseId::derive(&hangzhou, 2)));
    }
}
