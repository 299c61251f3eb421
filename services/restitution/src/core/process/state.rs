//! Restitution's state: what freezing traced and froze (the books: rows of restitution's
//! store, kept from freezing's events as they are consumed) and each allocation's process
//! (from restitution's own log), and how each of freezing's events changes the books.

use std::collections::{BTreeMap, BTreeSet};

use domain::report::Destination;
use domain::{AccountRef, CaseId, Fen, TimeMs};
use events::FreezingEvent;
use events::freezing::HopId;
use events::restitution::{AllocationNo, Cause, ObjectionNo, ReturnProblem, Rule, ShareLine};
use serde::{Deserialize, Serialize};

use crate::core::{Allocation, Claim, Deposit, FrozenAccount};

/// Everything restitution knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Per case: the victim's loss and where the trace followed their money.
    pub cases: BTreeMap<CaseId, CaseBook>,
    /// Per account that holds traced money: the deposits and the center's freezes.
    pub books: BTreeMap<AccountRef, Book>,
    pub allocations: BTreeMap<AllocationNo, AllocationState>,
    /// The reason for every fen of each allocation (the fund-flow report's content), rows of
    /// the store written with the proposal.
    pub details: BTreeMap<AllocationNo, Allocation>,
    /// The number the next proposal takes.
    pub next_allocation: AllocationNo,
    /// Accounts whose input the allocation refused, with what it was made of: proposed
    /// again once it changes.
    pub refused: BTreeMap<AccountRef, Basis>,
}

/// What a proposal (or a refusal) was made on: each victim's traced money and the frozen
/// money. A book whose basis differs from its live proposal's reopens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    pub traced: Vec<(CaseId, Fen)>,
    pub frozen: Fen,
}

impl Basis {
    pub fn of(lines: &[ShareLine], frozen: Fen) -> Basis {
        let mut traced: Vec<_> = lines.iter().map(|l| (l.case_id.clone(), l.traced_in_fen)).collect();
        traced.sort();
        Basis { traced, frozen }
    }
}

/// A case as freezing traced it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseBook {
    /// What the victim reported lost: no allocation gives them more, all accounts together.
    pub loss_fen: Fen,
    pub reported_at_ms: TimeMs,
    pub hops: BTreeMap<HopId, Hop>,
    /// Orders resolved before the hop that follows them was taken in: freezing's events are
    /// consumed several at a time, so one may arrive before the event it follows.
    #[serde(default)]
    pub resolutions: BTreeMap<HopId, Resolution>,
}

/// Where an order's money settled (`order_resolved`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub account: AccountRef,
    pub settled_at_ms: TimeMs,
    pub transfer_id: String,
}

/// A place the case's money was followed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub parent: Option<HopId>,
    pub depth: u8,
    pub target: Destination,
    /// The victim's money traced into it.
    pub fen: Fen,
    pub at_ms: TimeMs,
    pub transfer_id: Option<String>,
    /// The account an order settled into (`order_resolved`).
    pub settled_into: Option<AccountRef>,
}

/// An account that holds traced money.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    /// Each arrival of a victim's money, by case and hop.
    pub deposits: BTreeMap<CaseId, BTreeMap<HopId, Deposit>>,
    /// The center's freezes on the account, by case and the time the bank froze each part
    /// (`account_frozen`: a claim frozen in parts has one event per part).
    pub frozen: BTreeMap<CaseId, BTreeMap<TimeMs, Fen>>,
    /// Cases whose freeze queues behind another center's (轮候冻结): victims with money
    /// here whose claim this center did not freeze.
    pub queued: BTreeSet<CaseId>,
}

impl Book {
    /// Money frozen on the account for the center's cases.
    pub fn frozen_fen(&self) -> Fen {
        Fen::sum(self.frozen.values().flat_map(|parts| parts.values().copied())).unwrap_or(Fen::new(u64::MAX))
    }

    /// What each victim traced into the account (what a proposal's basis is compared with).
    pub fn traced(&self) -> BTreeMap<CaseId, Fen> {
        let sum = |hops: &BTreeMap<HopId, Deposit>| {
            Fen::sum(hops.values().map(|d| d.amount_fen)).unwrap_or(Fen::new(u64::MAX))
        };
        self.deposits.iter().map(|(case, hops)| (case.clone(), sum(hops))).collect()
    }
}

/// Where an allocation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The victims may object until the notice period ends.
    Notice,
    /// The notice ended with no objection open: two approvers must approve.
    AwaitingApproval,
    /// Approved: the returns are instructed and await the bank's confirmation.
    Executing,
    /// Every return is confirmed or failed.
    Completed,
    /// Replaced by a later proposal before it was executed: never executed.
    Superseded,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Notice => "notice",
            Phase::AwaitingApproval => "awaiting_approval",
            Phase::Executing => "executing",
            Phase::Completed => "completed",
            Phase::Superseded => "superseded",
        }
    }

    /// Before execution: a new claim reopens it.
    pub fn is_open(self) -> bool {
        matches!(self, Phase::Notice | Phase::AwaitingApproval)
    }
}

/// One allocation's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationState {
    pub no: AllocationNo,
    pub account: AccountRef,
    pub rule: Rule,
    pub cause: Cause,
    pub frozen_fen: Fen,
    pub shares: Vec<ShareLine>,
    pub unallocated_fen: Fen,
    pub proposed_at_ms: TimeMs,
    pub notice_ends_at_ms: TimeMs,
    pub phase: Phase,
    /// The proposal that replaced it, once superseded.
    pub superseded_by: Option<AllocationNo>,
    pub objections: Vec<Objection>,
    pub approvals: Vec<Approval>,
    pub returns: BTreeMap<CaseId, Return>,
    /// Victims whose claim came after it was executed.
    pub late_claims: BTreeSet<CaseId>,
}

impl AllocationState {
    pub fn open_objections(&self) -> impl Iterator<Item = &Objection> {
        self.objections.iter().filter(|o| o.dismissed.is_none())
    }

    /// What the bank confirmed returned.
    pub fn returned_fen(&self) -> Fen {
        let confirmed = self.returns.values().filter_map(|r| match r.outcome {
            Some(ReturnOutcome::Confirmed { .. }) => Some(r.amount_fen),
            _ => None,
        });
        Fen::sum(confirmed).unwrap_or(Fen::new(u64::MAX))
    }

    /// The victim's share, 0 when they have none.
    pub fn share_of(&self, case_id: &CaseId) -> Fen {
        self.shares.iter().find(|s| &s.case_id == case_id).map_or(Fen::ZERO, |s| s.fen)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    pub no: ObjectionNo,
    pub case_id: Option<CaseId>,
    pub by: String,
    pub reason: String,
    pub at_ms: TimeMs,
    /// Who dismissed it, why and when.
    pub dismissed: Option<(String, String, TimeMs)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub key: String,
    pub at_ms: TimeMs,
}

/// A victim's return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub request_id: String,
    pub amount_fen: Fen,
    pub instructed_at_ms: TimeMs,
    pub due_ms: TimeMs,
    pub overdue: bool,
    pub outcome: Option<ReturnOutcome>,
}

impl Return {
    /// Where it stands, as staff and the report name it (`instructed`, `overdue`, `confirmed`,
    /// `failed`), and the bank's transfer and its time once confirmed.
    pub fn state(&self) -> (&'static str, Option<(&str, TimeMs)>) {
        match &self.outcome {
            None if self.overdue => ("overdue", None),
            None => ("instructed", None),
            Some(ReturnOutcome::Confirmed { transfer_id, executed_at_ms }) => {
                ("confirmed", Some((transfer_id.as_str(), *executed_at_ms)))
            }
            Some(ReturnOutcome::Failed { .. }) => ("failed", None),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum ReturnOutcome {
    Confirmed { transfer_id: String, executed_at_ms: TimeMs },
    Failed { problem: ReturnProblem },
}

/// The rows one input changed: the shell writes them with the step's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub cases: BTreeSet<CaseId>,
    pub books: BTreeSet<AccountRef>,
}

impl State {
    /// The live allocation of `account`: the latest not superseded.
    pub fn live(&self, account: &AccountRef) -> Option<&AllocationState> {
        self.allocations.values().rev().find(|a| &a.account == account && a.phase != Phase::Superseded)
    }

    /// Money the bank confirmed returned out of `account`.
    pub fn returned_from(&self, account: &AccountRef) -> Fen {
        let returned = self.allocations.values().filter(|a| &a.account == account).map(|a| a.returned_fen());
        Fen::sum(returned).unwrap_or(Fen::new(u64::MAX))
    }

    /// What allocations of other accounts (and executed ones of this account) give the
    /// victim: their cap here is their loss less this.
    pub fn allocated_elsewhere(&self, case_id: &CaseId, account: &AccountRef) -> Fen {
        let counted = self.allocations.values().filter(|a| match a.phase {
            Phase::Superseded => false,
            Phase::Notice | Phase::AwaitingApproval => &a.account != account,
            Phase::Executing | Phase::Completed => true,
        });
        let shares = counted.map(|a| match a.returns.get(case_id) {
            Some(Return { outcome: Some(ReturnOutcome::Failed { .. }), .. }) => Fen::ZERO,
            _ => a.share_of(case_id),
        });
        Fen::sum(shares).unwrap_or(Fen::new(u64::MAX))
    }

    /// The allocation's input for `account` as the books stand: its frozen money less what was
    /// returned, every victim with money traced into it.
    pub fn input(&self, account: &AccountRef, statement: Option<Vec<crate::core::Entry>>) -> Option<FrozenAccount> {
        let book = self.books.get(account)?;
        let frozen_fen = book.frozen_fen().saturating_sub(self.returned_from(account));
        let claims = book
            .deposits
            .iter()
            .map(|(case_id, hops)| {
                let mut seen = BTreeSet::new();
                let deposits = hops
                    .values()
                    .filter(|d| !d.amount_fen.is_zero())
                    .filter(|d| d.transfer_id.as_ref().is_none_or(|id| seen.insert(id.clone())))
                    .cloned()
                    .collect();
                let case = self.cases.get(case_id);
                let traced = Fen::sum(hops.values().map(|d| d.amount_fen)).unwrap_or(Fen::ZERO);
                let loss = case.map_or(traced, |c| c.loss_fen.max(traced));
                Claim {
                    case_id: case_id.clone(),
                    deposits,
                    traced_loss_fen: loss,
                    allocated_elsewhere_fen: self.allocated_elsewhere(case_id, account).min(loss),
                }
            })
            .collect();
        Some(FrozenAccount { account: account.clone(), frozen_fen, statement, claims })
    }

    /// Takes in one of freezing's events: the books it changes. Returns the rows touched and
    /// the accounts whose allocation input changed.
    pub fn absorb(&mut self, event: &FreezingEvent, touched: &mut Touched) -> BTreeSet<AccountRef> {
        let mut changed = BTreeSet::new();
        match event {
            FreezingEvent::TraceStarted { case_id, reported_at_ms, reported_loss_fen } => {
                let case = self.cases.entry(case_id.clone()).or_default();
                case.loss_fen = *reported_loss_fen;
                case.reported_at_ms = *reported_at_ms;
                touched.cases.insert(case_id.clone());
            }
            FreezingEvent::HopOpened {
                case_id,
                hop,
                parent,
                depth,
                target,
                traced_fen,
                since_ms,
                arrival_transfer_id,
                ..
            } => {
                let hop_row = Hop {
                    parent: *parent,
                    depth: *depth,
                    target: target.clone(),
                    fen: *traced_fen,
                    at_ms: *since_ms,
                    transfer_id: arrival_transfer_id.clone(),
                    settled_into: None,
                };
                self.open_hop(case_id, *hop, hop_row, touched, &mut changed);
            }
            FreezingEvent::AccountStopped { case_id, hop, onward, first_onward_hop: Some(first), depth, .. } => {
                let parent_depth = depth.unwrap_or(1);
                for (i, leg) in onward.iter().enumerate() {
                    let Some(number) = u32::try_from(i).ok().and_then(|i| first.checked_add(i)) else { break };
                    let hop_row = Hop {
                        parent: Some(*hop),
                        depth: parent_depth.saturating_add(1),
                        target: leg.to.clone(),
                        fen: leg.amount_fen,
                        at_ms: leg.at_ms,
                        transfer_id: Some(leg.transfer_id.clone()),
                        settled_into: None,
                    };
                    self.open_hop(case_id, number, hop_row, touched, &mut changed);
                }
            }
            FreezingEvent::OrderResolved { case_id, hop, account, settled_at_ms, transfer_id, .. } => {
                let resolution = Resolution {
                    account: account.clone(),
                    settled_at_ms: *settled_at_ms,
                    transfer_id: transfer_id.clone(),
                };
                touched.cases.insert(case_id.clone());
                let case = self.cases.entry(case_id.clone()).or_default();
                if !case.hops.contains_key(hop) {
                    case.resolutions.insert(*hop, resolution);
                    return changed;
                }
                self.resolve(case_id, *hop, resolution, touched, &mut changed);
            }
            FreezingEvent::AccountFrozen { case_id, account, frozen_fen, frozen_at_ms, .. } => {
                let book = self.books.entry(account.clone()).or_default();
                let parts = book.frozen.entry(case_id.clone()).or_default();
                if parts.insert(*frozen_at_ms, *frozen_fen) != Some(*frozen_fen) {
                    changed.insert(account.clone());
                }
                touched.books.insert(account.clone());
            }
            FreezingEvent::FreezeQueued { case_id, account, .. } => {
                self.books.entry(account.clone()).or_default().queued.insert(case_id.clone());
                touched.books.insert(account.clone());
            }
            _ => {}
        }
        changed
    }

    fn open_hop(
        &mut self,
        case_id: &CaseId,
        hop: HopId,
        row: Hop,
        touched: &mut Touched,
        changed: &mut BTreeSet<AccountRef>,
    ) {
        let deposit = match &row.target {
            Destination::Account(account) => Some((
                account.clone(),
                Deposit { amount_fen: row.fen, at_ms: row.at_ms, transfer_id: row.transfer_id.clone() },
            )),
            Destination::Order(_) => None,
        };
        let case = self.cases.entry(case_id.clone()).or_default();
        case.hops.insert(hop, row);
        let resolved = case.resolutions.remove(&hop);
        touched.cases.insert(case_id.clone());
        if let Some((account, deposit)) = deposit {
            self.deposit(&account, case_id, hop, deposit, touched, changed);
        }
        if let Some(resolution) = resolved {
            self.resolve(case_id, hop, resolution, touched, changed);
        }
    }

    /// The order followed by `hop` settled into an account: the victim's money arrived there.
    fn resolve(
        &mut self,
        case_id: &CaseId,
        hop: HopId,
        resolution: Resolution,
        touched: &mut Touched,
        changed: &mut BTreeSet<AccountRef>,
    ) {
        let Some(row) = self.cases.get_mut(case_id).and_then(|c| c.hops.get_mut(&hop)) else { return };
        row.settled_into = Some(resolution.account.clone());
        let deposit =
            Deposit { amount_fen: row.fen, at_ms: resolution.settled_at_ms, transfer_id: Some(resolution.transfer_id) };
        self.deposit(&resolution.account, case_id, hop, deposit, touched, changed);
    }

    fn deposit(
        &mut self,
        account: &AccountRef,
        case_id: &CaseId,
        hop: HopId,
        deposit: Deposit,
        touched: &mut Touched,
        changed: &mut BTreeSet<AccountRef>,
    ) {
        let book = self.books.entry(account.clone()).or_default();
        if book.deposits.entry(case_id.clone()).or_default().insert(hop, deposit.clone()) != Some(deposit) {
            changed.insert(account.clone());
        }
        touched.books.insert(account.clone());
    }
}
