//! The authorities' holds on accounts: stop-payments (止付), which hold a whole account for
//! a while, and freezes (冻结), which hold an amount. A freeze holds what it claims of the
//! balance no other freeze holds yet (all of it, or part: what is free); a claim made when
//! nothing is free is queued (轮候冻结) and holds money once a freeze lapses and leaves some
//! free. The stop-payment and freeze requests are answered here as a bank answers them,
//! idempotent by request id.

use std::sync::Arc;

use domain::{AccountRef, CaseId, City, Fen, TimeMs};
use protocol::adapter::{
    AdapterError, AdapterErrorKind, FreezeReply, FreezeRequest, FreezeStatus, StopPaymentReply, StopPaymentRequest,
};

use super::adapter::{adapter_error, check_request_id};
use super::{Account, Ledger};
use crate::limits;

/// One center's stop-payments on one account.
#[derive(Debug, Clone)]
pub(super) struct Stop {
    /// Stop-payments applied so far (at most [`limits::MAX_STOPS_PER_CENTER`]).
    pub(super) count: u8,
    /// When the latest one lapses.
    pub(super) expires_at_ms: TimeMs,
}

/// One center's freeze claim on an account: the active freeze or a queued one.
#[derive(Debug, Clone)]
pub(super) struct FreezeClaim {
    pub(super) center: City,
    pub(super) case_id: CaseId,
    /// The amount the center asked to freeze.
    pub(super) claimed: Fen,
    /// The amount actually held (only meaningful for the active freeze).
    pub(super) frozen: Fen,
    pub(super) expires_at_ms: TimeMs,
}

impl Account {
    /// The stop-payment in force at `now` that lapses last, if any.
    pub(super) fn active_stop(&self, now: TimeMs) -> Option<(&City, &Stop)> {
        self.stops.iter().filter(|(_, stop)| stop.expires_at_ms > now).max_by_key(|(_, stop)| stop.expires_at_ms)
    }

    /// The balance the freezes in force hold together.
    pub(super) fn frozen(&self) -> Fen {
        self.freezes.iter().fold(Fen::ZERO, |total, freeze| total.checked_add(freeze.frozen).unwrap_or(self.balance))
    }

    /// What the freezes hold and what accepted returns are about to pay: no transfer may take it.
    pub(super) fn held(&self) -> Fen {
        self.frozen().saturating_add(self.returning)
    }

    /// What no freeze holds and no return is about to pay.
    pub(super) fn free(&self) -> Fen {
        self.balance.saturating_sub(self.held())
    }

    /// Lets lapsed freezes and claims go, and gives what they left free to the oldest queued
    /// claims still in force, each up to what it claims.
    pub(super) fn promote_freeze(&mut self, now: TimeMs) {
        self.freezes.retain(|freeze| freeze.expires_at_ms > now);
        self.queued.retain(|claim| claim.expires_at_ms > now);
        while !self.queued.is_empty() && !self.free().is_zero() {
            let mut next = self.queued.remove(0);
            next.frozen = next.claimed.min(self.free());
            self.freezes.push(next);
        }
    }
}

/// One claim on an account as reported by [`Ledger::freeze_claims`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeClaimInfo {
    /// The claiming center.
    pub center: City,
    /// The case the claim is for.
    pub case_id: CaseId,
    /// Held amount for the active freeze; the claimed amount for a queued claim.
    pub amount: Fen,
    /// Whether the claim waits behind another freeze.
    pub queued: bool,
}

impl Ledger {
    /// Applies a center's stop-payment (止付) at `now`, as a bank does.
    ///
    /// Idempotent by `request_id`: a repeated id gets the first reply (or error) again and
    /// changes nothing. The third stop by the same center on the same account is refused with
    /// `stop_limit_reached`. The reply holds the whole balance and lists the statement since
    /// `since_ms`.
    pub fn stop_payment(&mut self, req: &StopPaymentRequest, now: TimeMs) -> Result<StopPaymentReply, AdapterError> {
        check_request_id(&req.request_id)?;
        if let Some(first) = self.stop_replies.get(req.request_id.as_str()) {
            self.duplicates += 1;
            return first.clone();
        }
        // One copy of the id, for the record of replies and the audit's.
        let request_id: Arc<str> = Arc::from(req.request_id.as_str());
        let result = self.apply_stop(req, &request_id, now);
        self.stop_replies.insert(request_id, result.clone());
        result
    }

    /// Applies a stop-payment seen for the first time, and records its id for the audit.
    fn apply_stop(
        &mut self,
        req: &StopPaymentRequest,
        request_id: &Arc<str>,
        now: TimeMs,
    ) -> Result<StopPaymentReply, AdapterError> {
        let Some(account) = self.accounts.get_mut(&req.account) else {
            self.audit.stop_to_unknown_account(req, Arc::clone(request_id));
            return Err(adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)));
        };
        account.stop_requests.record(&req.center, Arc::clone(request_id));
        let count = account.stops.get(&req.center).map_or(0, |stop| stop.count);
        if count >= limits::MAX_STOPS_PER_CENTER {
            return Err(adapter_error(
                AdapterErrorKind::StopLimitReached,
                format!(
                    "{} already applied {} stop-payments to {}; only a freeze can hold it longer",
                    req.center,
                    limits::MAX_STOPS_PER_CENTER,
                    req.account
                ),
            ));
        }
        let expires_at_ms = now.saturating_add(limits::STOP_DURATION_MS);
        let stop_no = count + 1;
        account.stops.insert(req.center.clone(), Stop { count: stop_no, expires_at_ms });
        self.audit.stop_applied();
        Ok(StopPaymentReply {
            stop_no,
            held_fen: account.balance,
            expires_at_ms,
            stopped_at_ms: now,
            statement_since_ms: req.since_ms,
            statement: account.statement_since(req.since_ms),
        })
    }

    /// Applies a center's freeze (冻结) at `now`, as a bank does.
    ///
    /// Idempotent by `request_id`. A freeze holds the claimed amount, up to what no other
    /// freeze holds, for [`limits::FREEZE_DURATION_MS`] (a reply of `frozen` with less than
    /// claimed when less is free). A claim made when the freezes in force hold the whole
    /// balance is queued behind the first of them (轮候冻结), holds nothing yet, and holds money
    /// once a freeze lapses and leaves some free.
    pub fn freeze(&mut self, req: &FreezeRequest, now: TimeMs) -> Result<FreezeReply, AdapterError> {
        check_request_id(&req.request_id)?;
        if let Some(first) = self.freeze_replies.get(&req.request_id) {
            self.duplicates += 1;
            return first.clone();
        }
        let result = self.apply_freeze(req, now);
        if let Ok(reply) = &result {
            self.audit.freeze_applied(req, reply.frozen_fen);
        }
        self.freeze_replies.insert(req.request_id.clone(), result.clone());
        result
    }

    fn apply_freeze(&mut self, req: &FreezeRequest, now: TimeMs) -> Result<FreezeReply, AdapterError> {
        let account = self
            .accounts
            .get_mut(&req.account)
            .ok_or_else(|| adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)))?;
        account.promote_freeze(now);
        let expires_at_ms = now.saturating_add(limits::FREEZE_DURATION_MS);
        let mut claim = FreezeClaim {
            center: req.center.clone(),
            case_id: req.case_id.clone(),
            claimed: req.amount_fen,
            frozen: Fen::ZERO,
            expires_at_ms,
        };
        let free = account.free();
        if free.is_zero()
            && let Some(first) = account.freezes.first()
        {
            let queued_behind = Some(first.center.clone());
            account.queued.push(claim);
            return Ok(FreezeReply {
                status: FreezeStatus::Queued,
                frozen_fen: Fen::ZERO,
                expires_at_ms,
                frozen_at_ms: now,
                queued_behind,
            });
        }
        // What is free: all of the claim, or the part still there.
        claim.frozen = req.amount_fen.min(free);
        let frozen_fen = claim.frozen;
        account.freezes.push(claim);
        Ok(FreezeReply {
            status: FreezeStatus::Frozen,
            frozen_fen,
            expires_at_ms,
            frozen_at_ms: now,
            queued_behind: None,
        })
    }

    /// Stop-payments `center` has applied to `account` (0 to [`limits::MAX_STOPS_PER_CENTER`]).
    pub fn stops_applied(&self, center: &City, account: &AccountRef) -> u8 {
        self.accounts.get(account).and_then(|a| a.stops.get(center)).map_or(0, |stop| stop.count)
    }

    /// Stop-payment and freeze requests that repeated an earlier `request_id`.
    pub fn duplicate_requests(&self) -> u64 {
        self.duplicates
    }

    /// Whether any center's stop-payment holds `account` at `now`.
    pub fn is_stopped(&self, account: &AccountRef, now: TimeMs) -> bool {
        self.accounts.get(account).is_some_and(|a| a.active_stop(now).is_some())
    }

    /// Whether a freeze holds money on `account` at `now` (the active freeze, or a queued
    /// claim that takes over when the active one lapses).
    pub fn is_frozen(&self, account: &AccountRef, now: TimeMs) -> bool {
        self.accounts
            .get(account)
            .is_some_and(|a| a.freezes.iter().chain(a.queued.iter()).any(|claim| claim.expires_at_ms > now))
    }

    /// Every freeze claim on `account`: the freezes in force first (with the amount each
    /// holds), then the queued claims in arrival order (with the amount they claim).
    pub fn freeze_claims(&self, account: &AccountRef) -> Vec<FreezeClaimInfo> {
        let Some(account) = self.accounts.get(account) else {
            return Vec::new();
        };
        let active = account.freezes.iter().map(|c| FreezeClaimInfo {
            center: c.center.clone(),
            case_id: c.case_id.clone(),
            amount: c.frozen,
            queued: false,
        });
        let queued = account.queued.iter().map(|c| FreezeClaimInfo {
            center: c.center.clone(),
            case_id: c.case_id.clone(),
            amount: c.claimed,
            queued: true,
        });
        active.chain(queued).collect()
    }
}
