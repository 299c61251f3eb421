//! What the simulated banks did, by request: for the crash drill (`afc-lab drill crash`),
//! which kills the city node many times and then asks whether any bank acted twice on one
//! thing.
//!
//! A bank answers a repeated request id from its record and changes nothing (that is
//! [`Ledger::stop_payment`]'s and [`Ledger::freeze`]'s idempotency), so a re-sent request
//! cannot act twice. What a crash could still do is send the same action under another id:
//! freeze more of an account for a case than the case claims there (a freeze sent twice),
//! or a third stop-payment by one center on one account. This record keeps what a drill
//! needs to see either: the stop-payment ids per center and account, and the freezes and
//! the money they held per center, case and account.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, City, Fen};
use protocol::adapter::{FreezeRequest, StopPaymentRequest};

use super::Ledger;
use crate::limits;

/// Stop-payment and freeze requests as the banks saw them (first occurrences of each id).
#[derive(Debug, Clone, Default)]
pub(super) struct HoldRecord {
    /// The distinct stop-payment request ids each center sent for each account, applied or
    /// refused.
    stop_requests: BTreeMap<(City, AccountRef), BTreeSet<String>>,
    /// Stop-payments applied.
    stops_applied: u64,
    /// Freezes applied (frozen or queued) per center, case and account, and the money
    /// they held when applied.
    freezes: BTreeMap<(City, CaseId, AccountRef), (u32, Fen)>,
}

impl HoldRecord {
    /// A stop-payment request seen for the first time, and whether the bank applied it.
    pub(super) fn stop_requested(&mut self, req: &StopPaymentRequest, applied: bool) {
        self.stop_requests.entry((req.center.clone(), req.account.clone())).or_default().insert(req.request_id.clone());
        if applied {
            self.stops_applied += 1;
        }
    }

    /// A freeze request seen for the first time that the bank applied, holding `frozen`.
    pub(super) fn freeze_applied(&mut self, req: &FreezeRequest, frozen: Fen) {
        let entry = self.freezes.entry((req.center.clone(), req.case_id.clone(), req.account.clone())).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(frozen);
    }
}

/// What the banks did, summed up for a drill's verdict ([`Ledger::hold_audit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldAudit {
    /// Stop-payment and freeze requests that repeated an earlier id (answered from the
    /// record, nothing applied): re-sends after timeouts and restarts.
    pub repeated_requests: u64,
    /// Stop-payments applied.
    pub stops_applied: u64,
    /// Freezes applied (frozen or queued).
    pub freezes_applied: u64,
    /// Center and account to which more than [`limits::MAX_STOPS_PER_CENTER`] distinct
    /// stop-payment requests came, with their ids.
    pub stops_beyond_limit: Vec<(City, AccountRef, Vec<String>)>,
    /// Per center, case and account: the freezes applied (a case may freeze an account
    /// again: for the rest of a claim frozen in part, or under a renewed stop) and the money
    /// they held together when applied.
    pub freezes: BTreeMap<(City, CaseId, AccountRef), (u32, Fen)>,
}

impl Ledger {
    /// What the banks did, by request (see the module `audit`).
    pub fn hold_audit(&self) -> HoldAudit {
        let record = &self.audit;
        let stops_beyond_limit = record
            .stop_requests
            .iter()
            .filter(|(_, ids)| ids.len() > usize::from(limits::MAX_STOPS_PER_CENTER))
            .map(|((center, account), ids)| (center.clone(), account.clone(), ids.iter().cloned().collect()))
            .collect();
        HoldAudit {
            repeated_requests: self.duplicates,
            stops_applied: record.stops_applied,
            freezes_applied: record.freezes.values().map(|(n, _)| u64::from(*n)).sum(),
            stops_beyond_limit,
            freezes: record.freezes.clone(),
        }
    }
}
