//! The fund-flow report of a case or an allocation (`report`), built from restitution's
//! records: the trails of the cases concerned (their freezing events, kept in the store), each
//! allocation's details (the reason for every fen), its approvals, objections and returns.
//! The victims' accounts are never in it: a return names the case and a masked account.

use std::collections::BTreeSet;

use domain::{CaseId, City, TimeMs};
use events::restitution::{AllocationNo, allocation_name};
use store::{Store, StoreError};

use super::Shared;
use super::store as tables;
use crate::core::process::{AllocationState, Phase};
use crate::report::{AllocationSection, Answer, Approval, FundFlow, Objection, ReturnLine, Subject, trail};

/// What a report is about.
#[derive(Debug, Clone)]
pub enum About {
    Case(CaseId),
    Allocation(AllocationNo),
}

/// Why no report: nothing is known of what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("nothing is known of {0}")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The report of `about` as the records stand at `now`.
pub async fn build(
    city: &City,
    state: &Shared,
    store: &Store,
    about: About,
    now: TimeMs,
) -> Result<FundFlow, ReportError> {
    let (subject, sections, cases) = {
        let state = state.read().expect("the engine never panics holding the state");
        let chosen: Vec<&AllocationState> = match &about {
            About::Allocation(no) => {
                let a = state.allocations.get(no).ok_or_else(|| ReportError::Unknown(allocation_name(*no)))?;
                vec![a]
            }
            About::Case(case_id) => state
                .allocations
                .values()
                .filter(|a| a.phase != Phase::Superseded && a.shares.iter().any(|s| &s.case_id == case_id))
                .collect(),
        };
        let mut cases: BTreeSet<CaseId> =
            chosen.iter().flat_map(|a| a.shares.iter().map(|s| s.case_id.clone())).collect();
        let subject = match &about {
            About::Case(case_id) => {
                if chosen.is_empty() && !state.cases.contains_key(case_id) {
                    return Err(ReportError::Unknown(format!("case {case_id}")));
                }
                cases.insert(case_id.clone());
                Subject::Case(case_id.clone())
            }
            About::Allocation(no) => Subject::Allocation(allocation_name(*no)),
        };
        let sections: Vec<AllocationSection> = chosen
            .iter()
            .filter_map(|a| state.details.get(&a.no).map(|details| section(&state, a, details.clone())))
            .collect();
        (subject, sections, cases)
    };
    let trails = {
        let cases = cases.clone();
        store
            .read(move |tx| {
                let mut events = Vec::new();
                for case_id in &cases {
                    events.extend(tables::trail(tx, case_id)?);
                }
                Ok(events)
            })
            .await?
    };
    Ok(FundFlow {
        city: city.clone(),
        generated_at_ms: now,
        subject,
        trail: trail::from_events(trails.iter()),
        allocations: sections,
    })
}

fn section(
    state: &crate::core::process::State,
    a: &AllocationState,
    allocation: crate::core::Allocation,
) -> AllocationSection {
    let version = state.allocations.values().filter(|o| o.account == a.account && o.no <= a.no).count();
    AllocationSection {
        id: allocation_name(a.no),
        version: u32::try_from(version).unwrap_or(u32::MAX),
        state: a.phase.name().into(),
        proposed_at_ms: a.proposed_at_ms,
        notice_ends_at_ms: a.notice_ends_at_ms,
        allocation,
        approvals: a
            .approvals
            .iter()
            .map(|p| Approval { by: p.by.clone(), key: p.key.clone(), at_ms: p.at_ms })
            .collect(),
        objections: a
            .objections
            .iter()
            .map(|o| Objection {
                by: match &o.case_id {
                    Some(case_id) => format!("{} (case {case_id})", o.by),
                    None => o.by.clone(),
                },
                reason: o.reason.clone(),
                at_ms: o.at_ms,
                answer: o.dismissed.as_ref().map(|(by, reason, at_ms)| Answer {
                    by: by.clone(),
                    reason: format!("dismissed: {reason}"),
                    at_ms: *at_ms,
                }),
            })
            .collect(),
        returns: a
            .returns
            .iter()
            .map(|(case_id, r)| {
                let (state, confirmed) = r.state();
                ReturnLine {
                    case_id: case_id.clone(),
                    amount_fen: r.amount_fen,
                    // The account is read from intake when the return is sent and never kept:
                    // the report names the victim's own account, not its number.
                    to_account_masked: "the victim's paying account (原路返还)".into(),
                    state: state.into(),
                    transfer_id: confirmed.map(|(id, _)| id.to_owned()),
                    executed_at_ms: confirmed.map(|(_, at)| at),
                }
            })
            .collect(),
    }
}
