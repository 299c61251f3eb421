//! The report's money trail filled from freezing's events, as the shell will fill it: each
//! `hop_opened` and each onward leg of an `account_stopped` is a hop; `order_resolved` names
//! the account an order paid into; the stop, the freeze, the queued freeze, a revised claim,
//! a failed freeze and the hop's end say where it stands and what it holds; a stop's cash-out
//! is a hop of its own to `cash`, numbered after the case's last hop.

use std::collections::BTreeMap;

use ::events::freezing::{FreezingEvent, HopEnd};
use domain::report::Destination;
use domain::{CaseId, Fen};

use super::model::{HopState, TrailHop};

/// The hops of the cases in `events` (freezing's events in the order recorded; other cases'
/// events may be mixed in), by case then hop number.
pub fn from_events<'a>(events: impl IntoIterator<Item = &'a FreezingEvent>) -> Vec<TrailHop> {
    let mut hops: BTreeMap<(CaseId, u32), TrailHop> = BTreeMap::new();
    // Cash-outs: (case, stopped hop, depth, amount, at), numbered once every hop is known.
    let mut cash = Vec::new();
    for event in events {
        match event {
            FreezingEvent::HopOpened {
                case_id,
                hop,
                parent,
                depth,
                target,
                traced_fen,
                since_ms,
                arrival_transfer_id,
            } => {
                let opened = TrailHop {
                    case_id: case_id.clone(),
                    hop: *hop,
                    parent: *parent,
                    depth: *depth,
                    to: destination(target),
                    via_order: None,
                    amount_fen: *traced_fen,
                    at_ms: *since_ms,
                    transfer_id: arrival_transfer_id.clone(),
                    state: HopState::Open,
                    held_fen: Fen::ZERO,
                    note: None,
                };
                hops.insert((case_id.clone(), *hop), opened);
            }
            FreezingEvent::OrderResolved { case_id, hop, order, account, settled_at_ms, transfer_id, .. } => {
                if let Some(resolved) = hops.get_mut(&(case_id.clone(), *hop)) {
                    resolved.via_order = Some(order.to_string());
                    resolved.to = account.to_string();
                    resolved.at_ms = *settled_at_ms;
                    resolved.transfer_id = Some(transfer_id.clone());
                }
            }
            FreezingEvent::AccountStopped { case_id, hop, claim_fen, cashed_out_fen, stopped_at_ms, depth, .. } => {
                let Some(stopped) = hops.get_mut(&(case_id.clone(), *hop)) else {
                    continue;
                };
                if stopped.state < HopState::Stopped {
                    stopped.state = HopState::Stopped;
                }
                stopped.held_fen = *claim_fen;
                let depth = depth.unwrap_or(stopped.depth);
                for (number, leg) in event.onward_hops() {
                    let onward = TrailHop {
                        case_id: case_id.clone(),
                        hop: number,
                        parent: Some(*hop),
                        depth: depth.saturating_add(1),
                        to: destination(&leg.to),
                        via_order: None,
                        amount_fen: leg.amount_fen,
                        at_ms: leg.at_ms,
                        transfer_id: Some(leg.transfer_id.clone()),
                        state: HopState::Open,
                        held_fen: Fen::ZERO,
                        note: None,
                    };
                    hops.insert((case_id.clone(), number), onward);
                }
                if !cashed_out_fen.is_zero() {
                    cash.push((case_id.clone(), *hop, depth, *cashed_out_fen, *stopped_at_ms));
                }
            }
            FreezingEvent::AccountFrozen { case_id, account, frozen_fen, .. } => {
                if let Some(frozen) = held_on(&mut hops, case_id, account.as_str()) {
                    frozen.state = HopState::Frozen;
                    frozen.held_fen = *frozen_fen;
                }
            }
            FreezingEvent::FreezeQueued { case_id, account, claim_fen, queued_behind, .. } => {
                if let Some(queued) = held_on(&mut hops, case_id, account.as_str()) {
                    queued.state = HopState::Queued;
                    queued.held_fen = *claim_fen;
                    queued.note = Some(format!("queued behind {queued_behind}"));
                }
            }
            FreezingEvent::ClaimRevised { case_id, account, claim_fen, .. } => {
                if let Some(revised) = held_on(&mut hops, case_id, account.as_str()) {
                    revised.held_fen = *claim_fen;
                }
            }
            FreezingEvent::FreezeFailed { case_id, account, reason } => {
                if let Some(failed) = held_on(&mut hops, case_id, account.as_str()) {
                    failed.state = HopState::Ended;
                    failed.held_fen = Fen::ZERO;
                    failed.note = Some(format!("freeze failed: {reason}"));
                }
            }
            FreezingEvent::HopEnded { case_id, hop, reason, detail, .. } => {
                if let Some(ended) = hops.get_mut(&(case_id.clone(), *hop)) {
                    ended.state = HopState::Ended;
                    ended.note = Some(format!("{}: {detail}", end_reason(*reason)));
                }
            }
            FreezingEvent::TraceStarted { .. }
            | FreezingEvent::TraceCompleted { .. }
            | FreezingEvent::StopRenewed { .. }
            | FreezingEvent::HopRetrying { .. }
            | FreezingEvent::FreezeRetrying { .. }
            | FreezingEvent::FreezeAtRisk { .. } => {}
            // Cases of other cities reached the account too (the province coordinator's
            // notice): noted on this center's hop, with every claim in order of first stop.
            FreezingEvent::CrossCityClaims { account, claims, .. } => {
                for ours in claims {
                    let Some(held) = held_on(&mut hops, &ours.case_id, account.as_str()) else { continue };
                    let others: Vec<String> = claims
                        .iter()
                        .filter(|c| c.case_id != ours.case_id)
                        .map(|c| format!("{} case {} (first stop {})", c.city, c.case_id, c.first_stop_at_ms))
                        .collect();
                    let position = claims.iter().position(|c| c.case_id == ours.case_id).unwrap_or(0) + 1;
                    let claimed = format!(
                        "also claimed by {}; this center's claim is {} of {} by first stop",
                        others.join(", "),
                        position,
                        claims.len()
                    );
                    held.note = Some(match held.note.take() {
                        Some(note) if !note.contains("also claimed by") => format!("{note}; {claimed}"),
                        Some(note) => {
                            let kept = note.split("; also claimed by").next().unwrap_or_default().to_owned();
                            if kept.starts_with("also claimed by") { claimed } else { format!("{kept}; {claimed}") }
                        }
                        None => claimed,
                    });
                }
            }
        }
    }
    for (case_id, parent, depth, amount, at) in cash {
        let last = hops.range((case_id.clone(), 0)..=(case_id.clone(), u32::MAX)).next_back().map_or(0, |(k, _)| k.1);
        let number = last.saturating_add(1);
        let cashed = TrailHop {
            case_id: case_id.clone(),
            hop: number,
            parent: Some(parent),
            depth: depth.saturating_add(1),
            to: "cash".to_owned(),
            via_order: None,
            amount_fen: amount,
            at_ms: at,
            transfer_id: None,
            state: HopState::CashedOut,
            held_fen: Fen::ZERO,
            note: None,
        };
        hops.insert((case_id, number), cashed);
    }
    hops.into_values().collect()
}

fn destination(target: &Destination) -> String {
    match target {
        Destination::Account(account) => account.to_string(),
        Destination::Order(order) => order.to_string(),
    }
}

fn end_reason(reason: HopEnd) -> &'static str {
    match reason {
        HopEnd::Merged => "merged into an account already followed",
        HopEnd::DepthLimit => "depth bound reached",
        HopEnd::BelowMinimum => "too little to follow",
        HopEnd::Failed => "failed",
    }
}

/// The case's hop that holds money on `account`: the one stopped there (a later hop of the
/// case into the same account ends merged), else the first into it.
fn held_on<'h>(
    hops: &'h mut BTreeMap<(CaseId, u32), TrailHop>,
    case_id: &CaseId,
    account: &str,
) -> Option<&'h mut TrailHop> {
    let range = (case_id.clone(), 0)..=(case_id.clone(), u32::MAX);
    let number = {
        let mut into = hops.range(range).map(|(_, h)| h).filter(|h| h.to == account);
        let all: Vec<&TrailHop> = into.by_ref().collect();
        all.iter().find(|h| h.state >= HopState::Stopped).or(all.first()).map(|h| h.hop)?
    };
    hops.get_mut(&(case_id.clone(), number))
}
