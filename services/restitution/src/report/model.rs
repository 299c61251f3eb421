//! The fund-flow report's data (资金流向分析报告): the money trail of every case whose money
//! reached the accounts reported on, and each allocation of those accounts' frozen money
//! with its approvals, objections and returns. These plain structs are the report's JSON
//! form too ([`super::to_json`]), and what [`super::render_html`] draws.
//!
//! Every field is fillable from what restitution reads: the trail from freezing's events
//! (`hop_opened`, `order_resolved`, `account_stopped` with its onward legs and
//! `first_onward_hop`, `account_frozen`, `freeze_queued`, `hop_ended`), the allocation from
//! [`crate::core::allocate`], the process (approvals, objections, returns) from
//! restitution's own records.

use domain::{CaseId, City, Fen, TimeMs};
use serde::{Deserialize, Serialize};

use crate::core::Allocation;

/// A fund-flow report: what one case's money did, or one allocation and the trails behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundFlow {
    /// The center that wrote the report.
    pub city: City,
    /// When it was written (the caller's clock: the report reads none).
    pub generated_at_ms: TimeMs,
    /// What the report is about.
    pub subject: Subject,
    /// Every hop of every case whose money reached the accounts reported on, by case then
    /// hop number: the money trail as freezing traced it, victim → accounts level by level.
    pub trail: Vec<TrailHop>,
    /// The allocations of the accounts reported on, each with its process so far.
    pub allocations: Vec<AllocationSection>,
}

/// What a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Subject {
    /// One case: its trail, and the allocations of every account its money was frozen on.
    Case(CaseId),
    /// One allocation (its id): the account's allocation and the trails of its victims.
    Allocation(String),
}

/// One hop of a case's money trail: money of the case that went to one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailHop {
    /// The case (victim) whose money this is.
    pub case_id: CaseId,
    /// The hop's number within its case (freezing's `HopId`, from 1; cash-outs, which
    /// freezing does not number, are numbered after the case's last hop).
    pub hop: u32,
    /// The hop whose account sent the money here (`hop_opened.parent`, or the stop whose
    /// onward leg this is); none for the victim's own payment.
    pub parent: Option<u32>,
    /// 1 for the victim's payments, one more per onward transfer.
    pub depth: u8,
    /// Where the money went: an account (`<bank>:<number>`), a payment order not resolved
    /// (`<platform>:<order>`), or `cash` (taken out in cash: the trail ends).
    pub to: String,
    /// The payment order the money was paid through, when `order_resolved` named the
    /// account it settled into (then `to` is that account).
    pub via_order: Option<String>,
    /// The case's money traced into `to` (`hop_opened.traced_fen`, the onward leg's amount,
    /// or `account_stopped.cashed_out_fen`).
    pub amount_fen: Fen,
    /// When it arrived (`since_ms`, `settled_at_ms`, the leg's `at_ms`; the stop's time for
    /// a cash-out, which the statement does not date here).
    pub at_ms: TimeMs,
    /// The transfer that brought it, when known (`arrival_transfer_id`, the order's
    /// settling transfer, the leg's transfer).
    pub transfer_id: Option<String>,
    /// Where the hop stands.
    pub state: HopState,
    /// The case's money held on `to`: the claim by the tracing rule (`account_stopped.claim_fen`,
    /// `account_frozen.frozen_fen`, `freeze_queued.claim_fen`); zero when nothing is held.
    pub held_fen: Fen,
    /// Why the hop ended or queued, for the reader: `hop_ended`'s reason and detail, or the
    /// center the freeze queues behind; none otherwise.
    pub note: Option<String>,
}

/// Where a hop stands, from freezing's events about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopState {
    /// Opened, not answered yet (`hop_opened` only).
    Open,
    /// Ended without a stop (`hop_ended`: merged, depth bound, too little, failed).
    Ended,
    /// The money was taken out in cash (`account_stopped.cashed_out_fen`).
    CashedOut,
    /// Payments out of the account stopped, the case's claim held (`account_stopped`).
    Stopped,
    /// Another center froze the account first; the claim queues behind it (`freeze_queued`).
    Queued,
    /// The stop was converted into a freeze (`account_frozen`).
    Frozen,
}

impl HopState {
    /// Every state, in the order of precedence a node shows (the last wins).
    pub const ALL: [HopState; 6] =
        [HopState::Open, HopState::Ended, HopState::CashedOut, HopState::Stopped, HopState::Queued, HopState::Frozen];

    /// Its name in the JSON form and in CSS classes.
    pub fn name(self) -> &'static str {
        match self {
            HopState::Open => "open",
            HopState::Ended => "ended",
            HopState::CashedOut => "cashed_out",
            HopState::Stopped => "stopped",
            HopState::Queued => "queued",
            HopState::Frozen => "frozen",
        }
    }

    /// Its label in the report: Chinese, then English.
    pub fn label(self) -> &'static str {
        match self {
            HopState::Open => "追查中 open",
            HopState::Ended => "终止 ended",
            HopState::CashedOut => "取现 cashed out",
            HopState::Stopped => "止付 stopped",
            HopState::Queued => "轮候冻结 queued",
            HopState::Frozen => "冻结 frozen",
        }
    }
}

/// One allocation of an account's frozen money, and its process so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationSection {
    /// The allocation's id in restitution's records.
    pub id: String,
    /// Its version: a new victim's claim reopens an allocation as a new version.
    pub version: u32,
    /// Where its process stands (e.g. `proposed`, `in_notice`, `approved`, `returning`,
    /// `returned`, `reopened`), as restitution's records name it.
    pub state: String,
    /// When it was proposed.
    pub proposed_at_ms: TimeMs,
    /// When the notice period (objections are heard) ends.
    pub notice_ends_at_ms: TimeMs,
    /// The computed allocation: the rule, each victim's share, its deposits as found in the
    /// statement and its `parts` (why each fen), what is left unallocated and why.
    pub allocation: Allocation,
    /// The approvals given (two people, one after the other).
    pub approvals: Vec<Approval>,
    /// The objections raised during the notice period, and their answers.
    pub objections: Vec<Objection>,
    /// The returns instructed to the banks, one per victim paid.
    pub returns: Vec<ReturnLine>,
}

/// An approval of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved (staff id).
    pub by: String,
    /// The fingerprint of the key that signed the approval.
    pub key: String,
    pub at_ms: TimeMs,
}

/// An objection to an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    /// Who objected: a victim's case, the holder, a lawyer, as recorded.
    pub by: String,
    pub reason: String,
    pub at_ms: TimeMs,
    /// The center's answer, once given.
    pub answer: Option<Answer>,
}

/// The center's answer to an objection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Who answered (staff id).
    pub by: String,
    pub reason: String,
    pub at_ms: TimeMs,
}

/// A return of a victim's share to the account their money came from (原路返还).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub case_id: CaseId,
    pub amount_fen: Fen,
    /// The victim's paying account, masked (e.g. `icbc:6222****1234`): the report never
    /// holds the number.
    pub to_account_masked: String,
    /// Where the return stands (e.g. `instructed`, `confirmed`, `failed`).
    pub state: String,
    /// The bank's transfer, once it executed the return.
    pub transfer_id: Option<String>,
    pub executed_at_ms: Option<TimeMs>,
}

/// An allocation's totals, which must add up: the frozen money is the allocated money plus
/// what is left unallocated, and the allocated money is the shares' sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub frozen_fen: Fen,
    pub allocated_fen: Fen,
    /// Unallocated: beyond the victims' money plus held back by the caps.
    pub unallocated_fen: Fen,
    /// The shares' sum, as the report lists them.
    pub shares_fen: Fen,
    /// The returns' sum.
    pub returns_fen: Fen,
    /// Whether `frozen = allocated + unallocated` and `allocated = shares` (a report whose
    /// data says otherwise shows it, in red, rather than hide it).
    pub adds_up: bool,
}

impl AllocationSection {
    /// The section's totals, computed from its lines (saturating: a report read back from
    /// JSON may hold anything, and shows what does not add up).
    pub fn totals(&self) -> Totals {
        let allocation = &self.allocation;
        let unallocated =
            allocation.unallocated.beyond_victims_fen.saturating_add(allocation.unallocated.held_back_by_caps_fen);
        let shares = allocation.shares.iter().fold(Fen::ZERO, |sum, share| sum.saturating_add(share.fen));
        let returns = self.returns.iter().fold(Fen::ZERO, |sum, line| sum.saturating_add(line.amount_fen));
        let adds_up = allocation.allocated_fen.checked_add(unallocated).ok() == Some(allocation.frozen_fen)
            && shares == allocation.allocated_fen;
        Totals {
            frozen_fen: allocation.frozen_fen,
            allocated_fen: allocation.allocated_fen,
            unallocated_fen: unallocated,
            shares_fen: shares,
            returns_fen: returns,
            adds_up,
        }
    }
}
