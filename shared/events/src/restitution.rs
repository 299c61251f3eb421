//! What restitution records: each allocation of an account's frozen money from its proposal,
//! through the notice period (objections), the two approvals and the bank's returns, to the
//! money returned. Past tense, one enum, serde only here, golden bytes in
//! `tests/golden_restitution.rs`.
//!
//! Personal data: no event holds a victim's account. A return names the case (the victim)
//! and the amount; the account the bank pays into is read from intake (`payers`) when the
//! return is sent, and goes only to the bank. The frozen account is a suspect's (a mule's).

use domain::{AccountRef, CaseId, Fen, TimeMs};
use serde::{Deserialize, Serialize};

/// An allocation's number in its city, from 1; `a<n>` in text (commands, request ids).
pub type AllocationNo = u64;

/// An objection's number within its allocation, from 1.
pub type ObjectionNo = u32;

/// How the frozen money of a mixed account is shared among its victims (docs/restitution.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// What the statement's times and balances prove goes where it belongs — a victim whose
    /// money the statement shows is all that can be left gets it; no victim gets more than
    /// the lowest balance since their deposits allows — and where they do not decide, pro
    /// rata by the money each victim traced into the account (the regulations' rule).
    #[default]
    TimestampTrace,
    /// Pro rata by the money each victim traced into the account; the statement is not read.
    ProRata,
    /// First in, first out: the earliest money left first, so what is frozen is the latest
    /// victims' money, newest lot first.
    Fifo,
    /// Each victim's lowest-intermediate-balance bound (other money leaves first) is the most
    /// of theirs that can be there; the frozen money is shared pro rata by these bounds.
    /// Needs the statement.
    LowestIntermediateBalance,
}

impl Rule {
    pub const ALL: [Rule; 4] = [Rule::TimestampTrace, Rule::ProRata, Rule::Fifo, Rule::LowestIntermediateBalance];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Rule::TimestampTrace => "timestamp-trace",
            Rule::ProRata => "pro-rata",
            Rule::Fifo => "fifo",
            Rule::LowestIntermediateBalance => "lowest-intermediate-balance",
        }
    }
}

impl std::str::FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Rule::ALL.into_iter().find(|rule| rule.name() == s).ok_or_else(|| {
            format!(
                "allocation rule {s:?}: accepted are timestamp-trace, pro-rata, fifo and lowest-intermediate-balance"
            )
        })
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an allocation was proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Cause {
    /// Money was frozen on the account and no allocation of it was live.
    Frozen,
    /// A victim's claim on the account, or money frozen on it, came after the allocation it
    /// replaces was proposed and before it was executed: the notice period starts again.
    Reopened,
    /// Staff asked for the account to be allocated again, by another rule.
    Reproposed { by: String },
    /// What remained frozen after an executed allocation, for the claims that came after it.
    Remainder,
}

/// One victim's share in a proposal: every victim with a claim on the account is listed,
/// those the rule gives nothing with 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLine {
    pub case_id: CaseId,
    pub fen: Fen,
    /// The victim's money traced into the account: with the frozen money, what the proposal
    /// was made on (a change to either reopens it).
    pub traced_in_fen: Fen,
}

/// Why a return could not be completed: it waits for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum ReturnProblem {
    /// Neither the report nor the platform names the victim's paying account.
    NoPayingAccount,
    /// The bank refused the instruction for good (its error kind: `not_frozen`,
    /// `unknown_account`, `invalid_request`).
    Refused { kind: String },
    /// The bank confirmed an amount other than the one instructed: nothing is taken as
    /// returned until the accountant settles it with the bank.
    AmountMismatch { confirmed_fen: Fen },
}

/// What restitution recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestitutionEvent {
    /// An allocation of `account`'s frozen money was proposed; the victims may object until
    /// `notice_ends_at_ms`. The reason for every fen (the fund-flow report's content) is kept
    /// in restitution's store, by allocation.
    AllocationProposed {
        allocation: AllocationNo,
        account: AccountRef,
        rule: Rule,
        cause: Cause,
        /// The live allocation of the account this one replaces (it will not be executed).
        replaces: Option<AllocationNo>,
        /// The money frozen on the account for the center's cases, less what was returned.
        frozen_fen: Fen,
        shares: Vec<ShareLine>,
        /// Frozen money no victim's claim reaches (stays frozen; the accountant decides).
        unallocated_fen: Fen,
        /// Entries of the statement the allocation read; none when it was not read.
        statement_entries: Option<u32>,
        proposed_at_ms: TimeMs,
        notice_ends_at_ms: TimeMs,
    },
    /// The account's claims could not be allocated (the allocation refused its input); no
    /// allocation is live until the input changes. `reason` names the field and value.
    AllocationRefused {
        account: AccountRef,
        rule: Rule,
        reason: String,
        /// What the refused input was made of (each victim's traced money, `fen` 0), and its
        /// frozen money: the account is proposed again once either changes.
        traced: Vec<ShareLine>,
        frozen_fen: Fen,
        at_ms: TimeMs,
    },
    /// Someone objected within the notice period: the allocation waits until the objection
    /// is dismissed or the account is allocated again.
    ObjectionRaised {
        allocation: AllocationNo,
        objection: ObjectionNo,
        /// The victim objecting, if the objection is a victim's.
        case_id: Option<CaseId>,
        by: String,
        reason: String,
        at_ms: TimeMs,
    },
    /// An approver dismissed an objection, with the reason.
    ObjectionDismissed { allocation: AllocationNo, objection: ObjectionNo, by: String, reason: String, at_ms: TimeMs },
    /// The notice period ended with no objection open: the allocation awaits two approvals.
    NoticeEnded { allocation: AllocationNo, at_ms: TimeMs },
    /// An approver approved the allocation (its signed statement verified against their key).
    AllocationApproved { allocation: AllocationNo, by: String, key: String, at_ms: TimeMs },
    /// The bank holding the account was instructed to return a victim's share, under
    /// `request_id` (derived from allocation and case: sent again, it moves no money twice).
    ReturnInstructed {
        allocation: AllocationNo,
        case_id: CaseId,
        request_id: String,
        amount_fen: Fen,
        /// Three working days from the instruction: not confirmed by then, it is overdue.
        due_ms: TimeMs,
        at_ms: TimeMs,
    },
    /// The bank confirmed it executed the return.
    ReturnConfirmed {
        allocation: AllocationNo,
        case_id: CaseId,
        amount_fen: Fen,
        transfer_id: String,
        executed_at_ms: TimeMs,
        at_ms: TimeMs,
    },
    /// The return is not confirmed three working days after it was instructed: escalated to
    /// staff (the bank is still asked).
    ReturnOverdue { allocation: AllocationNo, case_id: CaseId, due_ms: TimeMs, at_ms: TimeMs },
    /// The return cannot complete without staff: the share stays unreturned.
    ReturnFailed { allocation: AllocationNo, case_id: CaseId, problem: ReturnProblem, detail: String, at_ms: TimeMs },
    /// Every share of the allocation is returned or failed.
    AllocationCompleted { allocation: AllocationNo, returned_fen: Fen, at_ms: TimeMs },
    /// A victim's claim on an account whose allocation was already executed: recorded for the
    /// allocation of what remains.
    ClaimAfterExecution { account: AccountRef, case_id: CaseId, allocation: AllocationNo, at_ms: TimeMs },
}

impl RestitutionEvent {
    /// Every kind, in declaration order: the last token of its subject.
    pub const KINDS: [&'static str; 12] = [
        "allocation_proposed",
        "allocation_refused",
        "objection_raised",
        "objection_dismissed",
        "notice_ended",
        "allocation_approved",
        "return_instructed",
        "return_confirmed",
        "return_overdue",
        "return_failed",
        "allocation_completed",
        "claim_after_execution",
    ];

    /// The case the event belongs to: a victim's return, objection or late claim.
    pub fn case_id(&self) -> Option<&CaseId> {
        match self {
            RestitutionEvent::ReturnInstructed { case_id, .. }
            | RestitutionEvent::ReturnConfirmed { case_id, .. }
            | RestitutionEvent::ReturnOverdue { case_id, .. }
            | RestitutionEvent::ReturnFailed { case_id, .. }
            | RestitutionEvent::ClaimAfterExecution { case_id, .. } => Some(case_id),
            RestitutionEvent::ObjectionRaised { case_id, .. } => case_id.as_ref(),
            RestitutionEvent::AllocationProposed { .. }
            | RestitutionEvent::AllocationRefused { .. }
            | RestitutionEvent::ObjectionDismissed { .. }
            | RestitutionEvent::NoticeEnded { .. }
            | RestitutionEvent::AllocationApproved { .. }
            | RestitutionEvent::AllocationCompleted { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        let index = match self {
            RestitutionEvent::AllocationProposed { .. } => 0,
            RestitutionEvent::AllocationRefused { .. } => 1,
            RestitutionEvent::ObjectionRaised { .. } => 2,
            RestitutionEvent::ObjectionDismissed { .. } => 3,
            RestitutionEvent::NoticeEnded { .. } => 4,
            RestitutionEvent::AllocationApproved { .. } => 5,
            RestitutionEvent::ReturnInstructed { .. } => 6,
            RestitutionEvent::ReturnConfirmed { .. } => 7,
            RestitutionEvent::ReturnOverdue { .. } => 8,
            RestitutionEvent::ReturnFailed { .. } => 9,
            RestitutionEvent::AllocationCompleted { .. } => 10,
            RestitutionEvent::ClaimAfterExecution { .. } => 11,
        };
        RestitutionEvent::KINDS[index]
    }
}

/// `a<n>`: an allocation in text.
pub fn allocation_name(allocation: AllocationNo) -> String {
    format!("a{allocation}")
}

/// The allocation `a<n>` names, if it names one.
pub fn parse_allocation(text: &str) -> Option<AllocationNo> {
    let digits = text.strip_prefix('a')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_reads_back_from_its_name_and_nothing_else_does() {
        for n in [1, 42, u64::MAX] {
            assert_eq!(parse_allocation(&allocation_name(n)), Some(n));
        }
        for bad in ["", "a", "a0", "a01", "42", "b1", "a-1", "a1x", "a99999999999999999999"] {
            assert_eq!(parse_allocation(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_rule_reads_back_from_its_name() {
        for rule in Rule::ALL {
            assert_eq!(rule.name().parse::<Rule>(), Ok(rule));
        }
        assert!("largest".parse::<Rule>().unwrap_err().contains("pro-rata"));
    }
}
