//! What the simulated banks did, by request: for the crash drill (`afc-lab drill crash`),
//! which kills the city node many times and then asks whether any bank acted twice on one
//! thing.
//!
//! A bank answers a repeated request id from its record and changes nothing (that is
//! [`Ledger::stop_payment`]'s and [`Ledger::freeze`]'s idempotency), so a re-sent request
//! cannot act twice. What a crash could still do is send the same action under another id:
//! a second freeze of one case's claim on an account, or a third stop-payment by one center
//! on one account. Those are what this record counts.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, City};
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
    /// Freezes applied (frozen or queued) per center, case and account.
    freezes: BTreeMap<(City, CaseId, AccountRef), u32>,
}

impl HoldRecord {
    /// A stop-payment request seen for the first time, and whether the bank applied it.
    pub(super) fn stop_requested(&mut self, req: &StopPaymentRequest, applied: bool) {
        self.stop_requests.entry((req.center.clone(), req.account.clone())).or_default().insert(req.request_id.clone());
        if applied {
            self.stops_applied += 1;
        }
    }

    /// A freeze request seen for the first time that the bank applied.
    pub(super) fn freeze_applied(&mut self, req: &FreezeRequest) {
        *self.freezes.entry((req.center.clone(), req.case_id.clone(), req.account.clone())).or_default() += 1;
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
    /// Center, case and account frozen more than once, with how often.
    pub freezes_doubled: Vec<(City, CaseId, AccountRef, u32)>,
}

impl HoldAudit {
    /// Actions a bank took twice for one thing: freezes of one claim beyond the first.
    pub fn doubled(&self) -> u64 {
        self.freezes_doubled.iter().map(|(.., n)| u64::from(n.saturating_sub(1))).sum()
    }
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
        let freezes_doubled = record
            .freezes
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|((center, case, account), n)| (center.clone(), case.clone(), account.clone(), *n))
            .collect();
        HoldAudit {
            repeated_requests: self.duplicates,
            stops_applied: record.stops_applied,
            freezes_applied: record.freezes.values().map(|n| u64::from(*n)).sum(),
            stops_beyond_limit,
            freezes_doubled,
        }
    }
}
