//! The requests the state calls for, and the idempotency keys they carry.

use domain::report::Destination;
use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef, TimeMs};
use events::FreezingEvent;
use events::freezing::HopId;

use super::{Action, Conversion, Hop, MAX_STOPS_PER_ACCOUNT, State};

/// Idempotency key of a stop-payment: the center's n-th stop on the account, whichever case
/// asks. Two cases reaching one account at once send the same first stop, which the bank
/// applies once (a stop of each would spend the renewal the rules allow).
pub fn stop_request_id(center: &City, account: &AccountRef, stop_no: u8) -> String {
    format!("{center}/{account}/stop{stop_no}")
}

/// Idempotency key of a freeze: the claim's, under the center's `stop_no`-th stop, for the
/// part of the claim left after `frozen` was frozen. Retries under one stop repeat it, so a
/// freeze the bank applied but whose answer was lost is applied once; a retry after the
/// renewal, or for the rest of a claim frozen in part, is a new request.
pub fn freeze_request_id(case_id: &CaseId, account: &AccountRef, stop_no: u8, frozen: Fen) -> String {
    let mut id = format!("{case_id}/{account}/freeze");
    if stop_no > 1 {
        id.push_str(&stop_no.to_string());
    }
    if !frozen.is_zero() {
        id.push_str(&format!("/after{}", frozen.get()));
    }
    id
}

/// The request id of the freeze the claim of `case_id` on `account` awaits the answer to, if
/// it awaits one.
pub fn awaited_freeze(state: &State, case_id: &CaseId, account: &AccountRef) -> Option<String> {
    let conversion = state.conversions.get(&(case_id.clone(), account.clone()))?;
    Some(conversion_freeze_id(case_id, account, conversion))
}

/// The id of the freeze `conversion` asks for now: under its stop, for the part not frozen.
pub(super) fn conversion_freeze_id(case_id: &CaseId, account: &AccountRef, conversion: &Conversion) -> String {
    freeze_request_id(case_id, account, conversion.stop_no, conversion.frozen)
}

/// Idempotency key of a payment order's resolution: from the order itself, not from the
/// hop following it (hop numbers are an order of events, which a restart need not repeat).
pub fn resolve_request_id(case_id: &CaseId, order: &PaymentOrderRef) -> String {
    format!("{case_id}/{order}/resolve")
}

/// The adapter requests `events` call for at `now`, once they are applied to `state`.
pub fn actions(state: &State, events: &[FreezingEvent], now: TimeMs) -> Vec<Action> {
    events
        .iter()
        .flat_map(|event| match event {
            FreezingEvent::HopOpened { case_id, hop, .. } | FreezingEvent::OrderResolved { case_id, hop, .. } => {
                hop_action(state, case_id, *hop, now).into_iter().collect()
            }
            FreezingEvent::AccountStopped { case_id, .. } => {
                event.onward_hops().filter_map(|(hop, _)| hop_action(state, case_id, hop, now)).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// Every action still owed at `now` after a restart: one per open hop.
pub fn pending_actions(state: &State, now: TimeMs) -> Vec<Action> {
    state
        .cases
        .iter()
        .flat_map(|(case_id, trace)| trace.hops.keys().filter_map(move |hop| hop_action(state, case_id, *hop, now)))
        .collect()
}

/// What an account needs, decided per (center, account) from what this center holds,
/// whichever case reached it: a first stop; a read of the statement while the center's stop
/// holds it; a stop again once that stop lapsed and a stop is left; a read when none is.
/// A freeze of the center in force does not spare the stop: it holds the amount it froze,
/// not the account, and the money a read finds could leave before the freeze of it lands.
fn account_action(
    state: &State,
    case_id: CaseId,
    hop: HopId,
    account: &AccountRef,
    since_ms: TimeMs,
    now: TimeMs,
) -> Action {
    let read = |case_id| Action::Read { case_id, hop, account: account.clone(), since_ms };
    let stop = |case_id: CaseId, stop_no| {
        let request_id = stop_request_id(&case_id.city(), account, stop_no);
        Action::Stop { case_id, hop, account: account.clone(), since_ms, request_id }
    };
    match state.hold(account) {
        None => stop(case_id, 1),
        Some(hold) if hold.expires_at_ms > now => read(case_id),
        Some(hold) if hold.stop_no < MAX_STOPS_PER_ACCOUNT => stop(case_id, hold.stop_no + 1),
        Some(_) => read(case_id),
    }
}

/// The request an open hop owes, unless it waits to be asked again (its retry timer asks).
fn hop_action(state: &State, case_id: &CaseId, hop_id: HopId, now: TimeMs) -> Option<Action> {
    let hop = state.cases.get(case_id)?.hops.get(&hop_id).filter(|h| h.open && h.retry.is_none())?;
    Some(hop_request(state, case_id.clone(), hop_id, hop, now))
}

/// The request a hop waiting to be asked again owes, once its retry is due at `now`.
pub(super) fn retry_action(state: &State, case_id: &CaseId, hop_id: HopId, now: TimeMs) -> Option<Action> {
    let hop = state.cases.get(case_id)?.hops.get(&hop_id).filter(|h| h.open)?;
    hop.retry.filter(|retry| retry.retry_at_ms <= now)?;
    Some(hop_request(state, case_id.clone(), hop_id, hop, now))
}

fn hop_request(state: &State, case_id: CaseId, hop_id: HopId, hop: &Hop, now: TimeMs) -> Action {
    match (&hop.account, &hop.target) {
        (Some(account), _) => {
            let since_ms = super::joint::statement_since(state, &case_id, hop, account);
            account_action(state, case_id, hop_id, account, since_ms, now)
        }
        (None, Destination::Order(order)) => {
            let request_id = resolve_request_id(&case_id, order);
            Action::Resolve { case_id, hop: hop_id, order: order.clone(), request_id }
        }
        (None, Destination::Account(_)) => unreachable!("account hops know their account"),
    }
}

/// The hop whose retry `event` starts, changes or ends.
pub fn retry_touched(event: &FreezingEvent) -> Option<(CaseId, HopId)> {
    match event {
        FreezingEvent::HopRetrying { case_id, hop, .. }
        | FreezingEvent::AccountStopped { case_id, hop, .. }
        | FreezingEvent::OrderResolved { case_id, hop, .. }
        | FreezingEvent::HopEnded { case_id, hop, .. } => Some((case_id.clone(), *hop)),
        _ => None,
    }
}
