//! How each of restitution's events changes its state: the only place the processes change,
//! so that replaying the log rebuilds them.

use std::collections::BTreeMap;

use events::restitution::RestitutionEvent;

use super::state::{AllocationState, Approval, Basis, Objection, Phase, Return, ReturnOutcome, State};

/// Applies one recorded event.
pub fn apply(state: &mut State, event: &RestitutionEvent) {
    match event {
        RestitutionEvent::AllocationProposed {
            allocation,
            account,
            rule,
            cause,
            replaces,
            frozen_fen,
            shares,
            unallocated_fen,
            proposed_at_ms,
            notice_ends_at_ms,
            ..
        } => {
            if let Some(old) = replaces.and_then(|old| state.allocations.get_mut(&old)) {
                old.phase = Phase::Superseded;
                old.superseded_by = Some(*allocation);
            }
            state.refused.remove(account);
            state.next_allocation = state.next_allocation.max(allocation.saturating_add(1));
            state.allocations.insert(
                *allocation,
                AllocationState {
                    no: *allocation,
                    account: account.clone(),
                    rule: *rule,
                    cause: cause.clone(),
                    frozen_fen: *frozen_fen,
                    shares: shares.clone(),
                    unallocated_fen: *unallocated_fen,
                    proposed_at_ms: *proposed_at_ms,
                    notice_ends_at_ms: *notice_ends_at_ms,
                    phase: Phase::Notice,
                    superseded_by: None,
                    objections: Vec::new(),
                    approvals: Vec::new(),
                    returns: BTreeMap::new(),
                    late_claims: Default::default(),
                },
            );
        }
        RestitutionEvent::AllocationRefused { account, traced, frozen_fen, .. } => {
            state.refused.insert(account.clone(), Basis::of(traced, *frozen_fen));
        }
        RestitutionEvent::ObjectionRaised { allocation, objection, case_id, by, reason, at_ms } => {
            if let Some(a) = state.allocations.get_mut(allocation) {
                a.objections.push(Objection {
                    no: *objection,
                    case_id: case_id.clone(),
                    by: by.clone(),
                    reason: reason.clone(),
                    at_ms: *at_ms,
                    dismissed: None,
                });
            }
        }
        RestitutionEvent::ObjectionDismissed { allocation, objection, by, reason, at_ms } => {
            let found = state
                .allocations
                .get_mut(allocation)
                .and_then(|a| a.objections.iter_mut().find(|o| o.no == *objection));
            if let Some(o) = found {
                o.dismissed = Some((by.clone(), reason.clone(), *at_ms));
            }
        }
        RestitutionEvent::NoticeEnded { allocation, .. } => {
            if let Some(a) = state.allocations.get_mut(allocation) {
                a.phase = Phase::AwaitingApproval;
            }
        }
        RestitutionEvent::AllocationApproved { allocation, by, key, at_ms } => {
            if let Some(a) = state.allocations.get_mut(allocation) {
                a.approvals.push(Approval { by: by.clone(), key: key.clone(), at_ms: *at_ms });
            }
        }
        RestitutionEvent::ReturnInstructed { allocation, case_id, request_id, amount_fen, due_ms, at_ms } => {
            if let Some(a) = state.allocations.get_mut(allocation) {
                a.phase = Phase::Executing;
                a.returns.insert(
                    case_id.clone(),
                    Return {
                        request_id: request_id.clone(),
                        amount_fen: *amount_fen,
                        instructed_at_ms: *at_ms,
                        due_ms: *due_ms,
                        overdue: false,
                        outcome: None,
                    },
                );
            }
        }
        RestitutionEvent::ReturnConfirmed { allocation, case_id, transfer_id, executed_at_ms, .. } => {
            settle(
                state,
                *allocation,
                case_id,
                ReturnOutcome::Confirmed { transfer_id: transfer_id.clone(), executed_at_ms: *executed_at_ms },
            );
        }
        RestitutionEvent::ReturnFailed { allocation, case_id, problem, .. } => {
            settle(state, *allocation, case_id, ReturnOutcome::Failed { problem: problem.clone() });
        }
        RestitutionEvent::ReturnOverdue { allocation, case_id, .. } => {
            if let Some(r) = state.allocations.get_mut(allocation).and_then(|a| a.returns.get_mut(case_id)) {
                r.overdue = true;
            }
        }
        RestitutionEvent::AllocationCompleted { allocation, .. } => {
            if let Some(a) = state.allocations.get_mut(allocation) {
                a.phase = Phase::Completed;
            }
        }
        RestitutionEvent::ClaimAfterExecution { allocation, case_id, .. } => {
            if let Some(a) = state.allocations.get_mut(allocation) {
                a.late_claims.insert(case_id.clone());
            }
        }
    }
}

fn settle(state: &mut State, allocation: u64, case_id: &domain::CaseId, outcome: ReturnOutcome) {
    if let Some(r) = state.allocations.get_mut(&allocation).and_then(|a| a.returns.get_mut(case_id)) {
        r.outcome = Some(outcome);
    }
}
