//! What each input causes: the events to record and the orders to send after them.

use domain::{AccountRef, CaseId, TimeMs};
use events::restitution::{AllocationNo, Cause, RestitutionEvent, ReturnProblem, Rule, ShareLine};

use super::state::{AllocationState, Basis, Phase, State};
use super::{Approver, Input, Order, ProcessConfig, Rejection, Step, request_id};
use crate::core::{Allocation, allocate};
use crate::limits::{ARRIVAL_WINDOW_MS, DAY_MS, MAX_REASON_CHARS, MAX_STAFF_NAME_CHARS};

/// Decides what `input` causes at `now`, without changing anything but the books (which
/// freezing's events write directly: they are rows, not restitution's events).
pub fn decide(state: &mut State, config: &ProcessConfig, input: Input, now: TimeMs) -> Result<Step, Rejection> {
    let mut step = Step::default();
    match input {
        Input::Freezing(event) => {
            let changed = state.absorb(&event, &mut step.touched);
            for account in changed {
                let late = late_claims(state, &account, now);
                let completed = state.live(&account).is_some_and(|l| l.phase == Phase::Completed);
                if needs_proposal(state, &account) || (completed && !late.is_empty()) {
                    step.orders.push(read_statement(state, &account, None, None));
                }
                step.events.extend(late);
            }
        }
        Input::StatementRead { account, statement, rule, by } => {
            if by.is_none() && !needs_proposal(state, &account) {
                return Err(Rejection::NothingChanged);
            }
            propose(state, config, &account, statement, rule, by, now, &mut step)?;
        }
        Input::Object { allocation, case_id, by, reason } => {
            let a = in_phase(
                state,
                allocation,
                Phase::Notice,
                "in its notice period (objections are heard until it ends)",
            )?;
            check_text("by", &by, MAX_STAFF_NAME_CHARS)?;
            check_text("reason", &reason, MAX_REASON_CHARS)?;
            if let Some(case_id) = &case_id
                && !a.shares.iter().any(|s| &s.case_id == case_id)
            {
                return Err(Rejection::Invalid {
                    field: "case_id",
                    value: case_id.to_string(),
                    expected: "a victim of the allocation (objections of others name no case)",
                });
            }
            let objection = u32::try_from(a.objections.len()).unwrap_or(u32::MAX).saturating_add(1);
            step.events.push(RestitutionEvent::ObjectionRaised {
                allocation,
                objection,
                case_id,
                by,
                reason,
                at_ms: now,
            });
        }
        Input::Dismiss { allocation, objection, by, reason } => {
            let a = known(state, allocation)?;
            if !a.phase.is_open() {
                return Err(wrong_phase(a, "before its execution"));
            }
            check_text("reason", &reason, MAX_REASON_CHARS)?;
            let found = a.objections.iter().find(|o| o.no == objection);
            let found = found.ok_or(Rejection::UnknownObjection { allocation, objection })?;
            if found.dismissed.is_some() {
                return Err(Rejection::AlreadyDismissed { allocation, objection });
            }
            let last_open = a.open_objections().count() == 1;
            step.events.push(RestitutionEvent::ObjectionDismissed {
                allocation,
                objection,
                by: by.name,
                reason,
                at_ms: now,
            });
            if last_open && a.phase == Phase::Notice && a.notice_ends_at_ms <= now {
                step.events.push(RestitutionEvent::NoticeEnded { allocation, at_ms: now });
            }
        }
        Input::Approve { allocation, by } => approve(state, config, allocation, by, now, &mut step)?,
        Input::ReturnAnswered { allocation, case_id, executed } => {
            let (amount, _) = unsettled(state, allocation, &case_id)?;
            let Some((executed_fen, transfer_id, executed_at_ms)) = executed else {
                return Err(Rejection::NotExecuted);
            };
            step.events.push(if executed_fen == amount {
                RestitutionEvent::ReturnConfirmed {
                    allocation,
                    case_id: case_id.clone(),
                    amount_fen: amount,
                    transfer_id,
                    executed_at_ms,
                    at_ms: now,
                }
            } else {
                RestitutionEvent::ReturnFailed {
                    allocation,
                    case_id: case_id.clone(),
                    problem: ReturnProblem::AmountMismatch { confirmed_fen: executed_fen },
                    detail: format!("instructed {amount}, the bank confirmed {executed_fen} (transfer {transfer_id})"),
                    at_ms: now,
                }
            });
            complete_if_settled(state, allocation, &case_id, now, &mut step);
        }
        Input::ReturnImpossible { allocation, case_id, problem, detail } => {
            unsettled(state, allocation, &case_id)?;
            step.events.push(RestitutionEvent::ReturnFailed {
                allocation,
                case_id: case_id.clone(),
                problem,
                detail,
                at_ms: now,
            });
            complete_if_settled(state, allocation, &case_id, now, &mut step);
        }
        Input::TimerFired => timers(state, now, &mut step),
    }
    if step.events.is_empty() && step.orders.is_empty() && step.touched == Default::default() {
        return Err(Rejection::NothingChanged);
    }
    Ok(step)
}

/// The orders a start resends: a statement read for every account awaiting a proposal, and
/// every return instructed and not settled (the same request ids: the bank moves no money
/// twice).
pub fn pending_orders(state: &State) -> Vec<Order> {
    let reads = state
        .books
        .keys()
        .filter(|account| needs_proposal(state, account))
        .map(|account| read_statement(state, account, None, None));
    let returns = state.allocations.values().filter(|a| a.phase == Phase::Executing).flat_map(|a| {
        a.returns.iter().filter(|(_, r)| r.outcome.is_none()).map(|(case_id, r)| Order::Return {
            allocation: a.no,
            case_id: case_id.clone(),
            request_id: r.request_id.clone(),
            account: a.account.clone(),
            amount_fen: r.amount_fen,
        })
    });
    reads.chain(returns).collect()
}

/// Whether `account` has money frozen and no proposal that reflects its books: none yet, one
/// before execution whose victims or frozen money changed since, or a completed one with
/// claims that came after it and money left. A refused input is not proposed again until
/// it changes.
fn needs_proposal(state: &State, account: &AccountRef) -> bool {
    let Some(book) = state.books.get(account) else { return false };
    let available = book.frozen_fen().saturating_sub(state.returned_from(account));
    if available.is_zero() || book.deposits.is_empty() {
        return false;
    }
    let basis = Basis { traced: book.traced().into_iter().collect(), frozen: available };
    if state.refused.get(account).is_some_and(|refused| refused == &basis) {
        return false;
    }
    match state.live(account) {
        None => true,
        Some(live) if live.phase.is_open() => Basis::of(&live.shares, live.frozen_fen) != basis,
        Some(live) => live.phase == Phase::Completed && (!live.late_claims.is_empty() || frozen_since(state, live)),
    }
}

/// Whether money was frozen on the allocation's account after it was proposed (a case's
/// freeze completed in parts): it is allocated once the allocation completes.
fn frozen_since(state: &State, live: &AllocationState) -> bool {
    let Some(book) = state.books.get(&live.account) else { return false };
    let returned_before = state.returned_from(&live.account).saturating_sub(live.returned_fen());
    book.frozen_fen() > live.frozen_fen.saturating_add(returned_before)
}

/// The claims of `account` that came after its allocation was executed, each recorded once.
fn late_claims(state: &State, account: &AccountRef, now: TimeMs) -> Vec<RestitutionEvent> {
    let (Some(book), Some(live)) = (state.books.get(account), state.live(account)) else { return Vec::new() };
    if live.phase.is_open() {
        return Vec::new();
    }
    book.deposits
        .keys()
        .filter(|case_id| !live.shares.iter().any(|s| &s.case_id == *case_id) && !live.late_claims.contains(*case_id))
        .map(|case_id| RestitutionEvent::ClaimAfterExecution {
            account: account.clone(),
            case_id: case_id.clone(),
            allocation: live.no,
            at_ms: now,
        })
        .collect()
}

fn read_statement(state: &State, account: &AccountRef, rule: Option<Rule>, by: Option<String>) -> Order {
    let first = state.books.get(account).into_iter().flat_map(|b| b.deposits.values()).flat_map(|d| d.values());
    let since_ms = first.map(|d| d.at_ms).min().unwrap_or(0).saturating_sub(ARRIVAL_WINDOW_MS);
    Order::ReadStatement { account: account.clone(), since_ms, rule, by }
}

/// Proposes an allocation of `account` as its books stand, replacing the live one before its
/// execution; a refused input is recorded as refused.
#[allow(clippy::too_many_arguments)]
fn propose(
    state: &State,
    config: &ProcessConfig,
    account: &AccountRef,
    statement: Option<Vec<crate::core::Entry>>,
    rule: Option<Rule>,
    by: Option<String>,
    now: TimeMs,
    step: &mut Step,
) -> Result<(), Rejection> {
    let live = state.live(account);
    if by.is_some() && live.is_some_and(|l| l.phase == Phase::Executing) {
        return Err(Rejection::WrongPhase {
            allocation: live.map_or(0, |l| l.no),
            phase: Phase::Executing.name(),
            expected: "completed or not yet executed before the account is allocated again",
        });
    }
    let statement_entries = statement.as_ref().map(|s| u32::try_from(s.len()).unwrap_or(u32::MAX));
    let input = state.input(account, statement).ok_or_else(|| Rejection::NothingFrozen(account.clone()))?;
    if input.frozen_fen.is_zero() || input.claims.is_empty() {
        return Err(Rejection::NothingFrozen(account.clone()));
    }
    let rule = rule.or(live.filter(|l| l.phase.is_open()).map(|l| l.rule)).unwrap_or(config.default_rule);
    let traced: Vec<ShareLine> = input
        .claims
        .iter()
        .map(|c| ShareLine { case_id: c.case_id.clone(), fen: domain::Fen::ZERO, traced_in_fen: traced_of(c) })
        .collect();
    let allocation = match allocate(&input, rule, now) {
        Ok(allocation) => allocation,
        Err(refusal) => {
            if by.is_some() {
                return Err(Rejection::Refused(refusal.to_string()));
            }
            step.events.push(RestitutionEvent::AllocationRefused {
                account: account.clone(),
                rule,
                reason: refusal.to_string(),
                traced,
                frozen_fen: input.frozen_fen,
                at_ms: now,
            });
            return Ok(());
        }
    };
    let no = state.next_allocation.max(1);
    let open_live = live.filter(|l| l.phase.is_open());
    let cause = match (&by, live.map(|l| l.phase)) {
        (Some(by), _) => Cause::Reproposed { by: by.clone() },
        (None, Some(Phase::Completed)) => Cause::Remainder,
        (None, Some(_)) => Cause::Reopened,
        (None, None) => Cause::Frozen,
    };
    let shares = traced
        .into_iter()
        .map(|line| {
            let fen = allocation.shares.iter().find(|s| s.case_id == line.case_id).map_or(line.fen, |s| s.fen);
            ShareLine { fen, ..line }
        })
        .collect();
    step.events.push(RestitutionEvent::AllocationProposed {
        allocation: no,
        account: account.clone(),
        rule,
        cause,
        replaces: open_live.map(|l| l.no),
        frozen_fen: input.frozen_fen,
        shares,
        unallocated_fen: unallocated(&allocation),
        statement_entries,
        proposed_at_ms: now,
        notice_ends_at_ms: now.saturating_add(config.notice_ms),
    });
    step.details.push((no, allocation));
    Ok(())
}

fn traced_of(claim: &crate::core::Claim) -> domain::Fen {
    domain::Fen::sum(claim.deposits.iter().map(|d| d.amount_fen)).unwrap_or(domain::Fen::new(u64::MAX))
}

fn unallocated(allocation: &Allocation) -> domain::Fen {
    allocation.frozen_fen.saturating_sub(allocation.allocated_fen)
}

fn approve(
    state: &State,
    config: &ProcessConfig,
    allocation: AllocationNo,
    by: Approver,
    now: TimeMs,
    step: &mut Step,
) -> Result<(), Rejection> {
    let a = known(state, allocation)?;
    if a.phase == Phase::Notice {
        let expected = "awaiting approval: the notice period has not ended, or an objection is open";
        return Err(wrong_phase(a, expected));
    }
    if a.phase != Phase::AwaitingApproval {
        return Err(wrong_phase(a, "awaiting approval"));
    }
    if a.approvals.iter().any(|p| p.by == by.name || p.key == by.key) {
        return Err(Rejection::AlreadyApproved { allocation, by: by.name });
    }
    let second = !a.approvals.is_empty();
    step.events.push(RestitutionEvent::AllocationApproved { allocation, by: by.name, key: by.key, at_ms: now });
    if !second {
        return Ok(());
    }
    let due_ms = working_days_after(now, config.confirm_working_days, config.utc_offset_ms);
    for share in a.shares.iter().filter(|s| !s.fen.is_zero()) {
        let request_id = request_id(&config.city, allocation, &share.case_id);
        step.events.push(RestitutionEvent::ReturnInstructed {
            allocation,
            case_id: share.case_id.clone(),
            request_id: request_id.clone(),
            amount_fen: share.fen,
            due_ms,
            at_ms: now,
        });
        step.orders.push(Order::Return {
            allocation,
            case_id: share.case_id.clone(),
            request_id,
            account: a.account.clone(),
            amount_fen: share.fen,
        });
    }
    if a.shares.iter().all(|s| s.fen.is_zero()) {
        step.events.push(RestitutionEvent::AllocationCompleted {
            allocation,
            returned_fen: domain::Fen::ZERO,
            at_ms: now,
        });
    }
    Ok(())
}

fn known(state: &State, allocation: AllocationNo) -> Result<&AllocationState, Rejection> {
    state.allocations.get(&allocation).ok_or(Rejection::UnknownAllocation(allocation))
}

fn in_phase<'a>(
    state: &'a State,
    allocation: AllocationNo,
    phase: Phase,
    expected: &'static str,
) -> Result<&'a AllocationState, Rejection> {
    let a = known(state, allocation)?;
    if a.phase == phase { Ok(a) } else { Err(wrong_phase(a, expected)) }
}

fn wrong_phase(a: &AllocationState, expected: &'static str) -> Rejection {
    Rejection::WrongPhase { allocation: a.no, phase: a.phase.name(), expected }
}

fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), Rejection> {
    let trimmed = value.trim();
    if trimmed.is_empty() || value.chars().count() > max_chars || value.chars().any(char::is_control) {
        let shown: String = value.chars().take(max_chars.min(80)).collect();
        return Err(Rejection::Invalid {
            field,
            value: shown,
            expected: "text of 1 to its limit of characters, without control characters",
        });
    }
    Ok(())
}

/// The amount of a return instructed and not settled yet.
fn unsettled(state: &State, allocation: AllocationNo, case_id: &CaseId) -> Result<(domain::Fen, TimeMs), Rejection> {
    let a = known(state, allocation)?;
    let r = a.returns.get(case_id).ok_or_else(|| Rejection::UnknownReturn { allocation, case_id: case_id.clone() })?;
    if r.outcome.is_some() {
        return Err(Rejection::ReturnSettled { allocation, case_id: case_id.clone() });
    }
    Ok((r.amount_fen, r.due_ms))
}

/// After `case_id`'s return settled: the allocation is completed if it was the last, and
/// the claims that came after it are allocated what remains.
fn complete_if_settled(state: &State, allocation: AllocationNo, case_id: &CaseId, now: TimeMs, step: &mut Step) {
    let Some(a) = state.allocations.get(&allocation) else { return };
    let others_settled = a.returns.iter().all(|(c, r)| c == case_id || r.outcome.is_some());
    if !others_settled {
        return;
    }
    let confirmed_now = step.events.iter().find_map(|e| match e {
        RestitutionEvent::ReturnConfirmed { amount_fen, .. } => Some(*amount_fen),
        _ => None,
    });
    let returned = a.returned_fen().saturating_add(confirmed_now.unwrap_or(domain::Fen::ZERO));
    step.events.push(RestitutionEvent::AllocationCompleted { allocation, returned_fen: returned, at_ms: now });
    if !a.late_claims.is_empty() || frozen_since(state, a) {
        step.orders.push(read_statement(state, &a.account, None, None));
    }
}

fn timers(state: &State, now: TimeMs, step: &mut Step) {
    for a in state.allocations.values() {
        if a.phase == Phase::Notice && a.notice_ends_at_ms <= now && a.open_objections().next().is_none() {
            step.events.push(RestitutionEvent::NoticeEnded { allocation: a.no, at_ms: now });
        }
        if a.phase != Phase::Executing {
            continue;
        }
        for (case_id, r) in &a.returns {
            if r.outcome.is_none() && !r.overdue && r.due_ms <= now {
                step.events.push(RestitutionEvent::ReturnOverdue {
                    allocation: a.no,
                    case_id: case_id.clone(),
                    due_ms: r.due_ms,
                    at_ms: now,
                });
            }
        }
    }
}

/// `days` working days (Monday to Friday, in the city's local time) after `at_ms`, at the
/// same time of day. Public holidays are not known to the core: the bank's 3 working days
/// are counted without them, so an overdue return around a holiday is raised early, never
/// late.
pub fn working_days_after(at_ms: TimeMs, days: u32, utc_offset_ms: u64) -> TimeMs {
    let mut t = at_ms;
    let mut left = days;
    while left > 0 {
        t = t.saturating_add(DAY_MS);
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counted from Monday = 0.
        let weekday = ((t.saturating_add(utc_offset_ms) / DAY_MS) + 3) % 7;
        if weekday < 5 {
            left -= 1;
        }
    }
    t
}
