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
//! the money they held per center, case and account. Returns keep their own record, one
//! entry per request id (`returns`); the audit counts them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use domain::{AccountRef, CaseId, City, Fen};
use protocol::adapter::{FreezeRequest, StopPaymentRequest};

use super::Ledger;
use crate::limits;

/// Stop-payment and freeze requests as the banks saw them (first occurrences of each id).
///
/// The stop-payment ids an account received are kept on the account itself
/// ([`AccountStops`]), found by the lookup the stop-payment makes anyway, and the id is
/// shared with the record of replies. A map of their own keyed by center and account (one
/// entry per account stopped) cost every stop a second descent of a tree as large as the
/// ledger and four allocations, under the world lock that every bank's answer takes: a
/// first stop went from about 0.7 µs to 1.1 µs, and under `afc-lab load` at 400 cases/s
/// (10,000 stops a second) the banks' runtime used 28% of a core instead of 24%.
#[derive(Debug, Clone, Default)]
pub(super) struct HoldRecord {
    /// The distinct stop-payment request ids each center sent for an account the bank does
    /// not hold (refused); those for the accounts it holds are on the accounts.
    unknown_account_stops: BTreeMap<(City, AccountRef), Vec<Arc<str>>>,
    /// Stop-payments applied.
    stops_applied: u64,
    /// Freezes applied (frozen or queued) per center, case and account, and the money
    /// they held when applied.
    freezes: BTreeMap<(City, CaseId, AccountRef), (u32, Fen)>,
}

/// The distinct stop-payment request ids that came to one account, applied or refused, with
/// the center that sent each (repeats of an id are answered from the record before they get
/// here, so each comes once).
#[derive(Debug, Clone, Default)]
pub(super) struct AccountStops(Vec<(City, Arc<str>)>);

impl AccountStops {
    /// A stop-payment request `request_id` from `center` seen for the first time.
    pub(super) fn record(&mut self, center: &City, request_id: Arc<str>) {
        if self.0.capacity() == 0 {
            // A center stops an account at most this many times; most accounts see one center.
            self.0.reserve_exact(usize::from(limits::MAX_STOPS_PER_CENTER));
        }
        self.0.push((center.clone(), request_id));
    }
}

impl HoldRecord {
    /// A stop-payment request to an account the bank does not hold, seen for the first time.
    pub(super) fn stop_to_unknown_account(&mut self, req: &StopPaymentRequest, request_id: Arc<str>) {
        self.unknown_account_stops.entry((req.center.clone(), req.account.clone())).or_default().push(request_id);
    }

    /// A stop-payment applied (its id is recorded on the account).
    pub(super) fn stop_applied(&mut self) {
        self.stops_applied += 1;
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
    /// Returns of frozen money to victims, accepted and executed (each listed by
    /// [`Ledger::returns_executed`]), and the requests that repeated one's id.
    pub returns: super::ReturnCounts,
}

impl Ledger {
    /// What the banks did, by request (see the module `audit`).
    pub fn hold_audit(&self) -> HoldAudit {
        let record = &self.audit;
        // The distinct ids each center sent for each account, the accounts' and the others'.
        let mut stop_requests: BTreeMap<(&City, &AccountRef), BTreeSet<&str>> = BTreeMap::new();
        let on_accounts = self
            .accounts
            .iter()
            .flat_map(|(account, state)| state.stop_requests.0.iter().map(move |(center, id)| ((center, account), id)));
        let elsewhere = record
            .unknown_account_stops
            .iter()
            .flat_map(|((center, account), ids)| ids.iter().map(move |id| ((center, account), id)));
        for (key, id) in on_accounts.chain(elsewhere) {
            stop_requests.entry(key).or_default().insert(id);
        }
        let stops_beyond_limit = stop_requests
            .iter()
            .filter(|(_, ids)| ids.len() > usize::from(limits::MAX_STOPS_PER_CENTER))
            .map(|((center, account), ids)| {
                ((*center).clone(), (*account).clone(), ids.iter().map(|id| (*id).to_owned()).collect())
            })
            .collect();
        HoldAudit {
            repeated_requests: self.duplicates,
            stops_applied: record.stops_applied,
            freezes_applied: record.freezes.values().map(|(n, _)| u64::from(*n)).sum(),
            stops_beyond_limit,
            freezes: record.freezes.clone(),
            returns: self.return_counts(),
        }
    }
}
