//! The requests the state calls for, and the idempotency keys they carry.

use domain::report::Destination;
use domain::{AccountRef, CaseId, PaymentOrderRef};
use events::FreezingEvent;
use events::freezing::HopId;

use super::{Action, State};

/// Idempotency key of a stop-payment.
pub fn stop_request_id(case_id: &CaseId, account: &AccountRef, stop_no: u8) -> String {
    format!("{case_id}/{account}/stop{stop_no}")
}

/// Idempotency key of a freeze.
pub fn freeze_request_id(case_id: &CaseId, account: &AccountRef) -> String {
    format!("{case_id}/{account}/freeze")
}

/// Idempotency key of a payment order's resolution: from the order itself, not from the
/// hop following it (hop numbers are an order of events, which a restart need not repeat).
pub fn resolve_request_id(case_id: &CaseId, order: &PaymentOrderRef) -> String {
    format!("{case_id}/{order}/resolve")
}

/// The adapter requests `events` call for, once they are applied to `state`.
pub fn actions(state: &State, events: &[FreezingEvent]) -> Vec<Action> {
    events
        .iter()
        .flat_map(|event| match event {
            FreezingEvent::HopOpened { case_id, hop, .. } | FreezingEvent::OrderResolved { case_id, hop, .. } => {
                hop_action(state, case_id, *hop).into_iter().collect()
            }
            FreezingEvent::AccountStopped { case_id, .. } => {
                event.onward_hops().filter_map(|(hop, _)| hop_action(state, case_id, hop)).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// Every action still owed after a restart: one per open hop.
pub fn pending_actions(state: &State) -> Vec<Action> {
    state
        .cases
        .iter()
        .flat_map(|(case_id, trace)| trace.hops.keys().filter_map(move |hop| hop_action(state, case_id, *hop)))
        .collect()
}

fn hop_action(state: &State, case_id: &CaseId, hop_id: HopId) -> Option<Action> {
    let hop = state.cases.get(case_id)?.hops.get(&hop_id).filter(|h| h.open)?;
    let (case_id, hop) = (case_id.clone(), (hop_id, hop));
    match (&hop.1.account, &hop.1.target) {
        (Some(account), _) => {
            let held_by_other_case = state.holds.get(account).is_some_and(|h| h.case_id != case_id);
            Some(if held_by_other_case {
                Action::Read { case_id, hop: hop.0, account: account.clone(), since_ms: hop.1.since_ms }
            } else {
                let request_id = stop_request_id(&case_id, account, 1);
                Action::Stop { case_id, hop: hop.0, account: account.clone(), since_ms: hop.1.since_ms, request_id }
            })
        }
        (None, Destination::Order(order)) => {
            let request_id = resolve_request_id(&case_id, order);
            Some(Action::Resolve { case_id, hop: hop.0, order: order.clone(), request_id })
        }
        (None, Destination::Account(_)) => unreachable!("account hops know their account"),
    }
}
