//! Allocations as staff see them (`protocol::restitution::AllocationView`).

use events::restitution::{Cause, ReturnProblem, allocation_name};
use protocol::restitution::{AllocationView, ApprovalView, ObjectionView, ReturnView, ShareView};

use crate::core::process::{AllocationState, ReturnOutcome};

pub fn allocation(a: &AllocationState) -> AllocationView {
    AllocationView {
        allocation: allocation_name(a.no),
        account: a.account.clone(),
        rule: a.rule.name().into(),
        cause: cause(&a.cause).into(),
        phase: a.phase.name().into(),
        frozen_fen: a.frozen_fen,
        unallocated_fen: a.unallocated_fen,
        proposed_at_ms: a.proposed_at_ms,
        notice_ends_at_ms: a.notice_ends_at_ms,
        replaced_by: a.superseded_by.map(allocation_name),
        shares: a
            .shares
            .iter()
            .map(|s| ShareView {
                case_id: s.case_id.clone(),
                fen: s.fen,
                traced_in_fen: s.traced_in_fen,
                r#return: a.returns.get(&s.case_id).map(|r| {
                    let (state, confirmed) = r.state();
                    let problem = match &r.outcome {
                        Some(ReturnOutcome::Failed { problem: p }) => Some(problem(p)),
                        _ => None,
                    };
                    ReturnView {
                        state: state.into(),
                        amount_fen: r.amount_fen,
                        request_id: r.request_id.clone(),
                        instructed_at_ms: r.instructed_at_ms,
                        due_ms: r.due_ms,
                        transfer_id: confirmed.map(|(id, _)| id.to_owned()),
                        executed_at_ms: confirmed.map(|(_, at)| at),
                        problem,
                    }
                }),
            })
            .collect(),
        objections: a
            .objections
            .iter()
            .map(|o| ObjectionView {
                objection: o.no,
                case_id: o.case_id.clone(),
                by: o.by.clone(),
                reason: o.reason.clone(),
                at_ms: o.at_ms,
                dismissed_by: o.dismissed.as_ref().map(|d| d.0.clone()),
                dismissal: o.dismissed.as_ref().map(|d| d.1.clone()),
            })
            .collect(),
        approvals: a.approvals.iter().map(|p| ApprovalView { by: p.by.clone(), at_ms: p.at_ms }).collect(),
        late_claims: a.late_claims.iter().cloned().collect(),
        returned_fen: a.returned_fen(),
    }
}

fn cause(cause: &Cause) -> &'static str {
    match cause {
        Cause::Frozen => "frozen",
        Cause::Reopened => "reopened",
        Cause::Reproposed { .. } => "reproposed",
        Cause::Remainder => "remainder",
    }
}

fn problem(problem: &ReturnProblem) -> String {
    match problem {
        ReturnProblem::NoPayingAccount => "no paying account named".into(),
        ReturnProblem::Refused { kind } => format!("refused by the bank: {kind}"),
        ReturnProblem::AmountMismatch { confirmed_fen } => format!("the bank confirmed {confirmed_fen}"),
    }
}
