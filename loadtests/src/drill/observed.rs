//! What the system recorded for each case, read from its freezing events.

use std::collections::BTreeMap;

use domain::{AccountRef, Fen, TimeMs};
use events::FreezingEvent;

use super::score::ObservedCase;

/// One frozen account of a case, as the system recorded it.
pub(super) struct Freeze {
    pub(super) account: AccountRef,
    pub(super) claim: Fen,
    pub(super) stopped_at_ms: TimeMs,
    pub(super) depth: u8,
}

/// What the system recorded for one case.
pub(super) struct SystemCase {
    pub(super) reported_at_ms: TimeMs,
    pub(super) freezes: Vec<Freeze>,
    pub(super) ttf_ms: Option<u64>,
    pub(super) claimed: Fen,
    /// The case's claim on each account as it stands at the end: its stops' claims, as
    /// revised last (`claim_revised`).
    pub(super) claims: BTreeMap<AccountRef, Fen>,
    /// Time waiting for banks and platforms on the path to the last stop that held money;
    /// `None` when a hop on it has no measurement.
    pub(super) path_adapter_ms: Option<u64>,
}

pub(super) fn system_case(observed: &ObservedCase) -> Option<SystemCase> {
    let mut reported_at_ms = None;
    let mut depths = BTreeMap::new();
    let mut freezes = Vec::new();
    let mut claims: BTreeMap<AccountRef, Fen> = BTreeMap::new();
    let mut ttf_ms = None;
    let mut parents: BTreeMap<u32, Option<u32>> = BTreeMap::new();
    // Per hop: answer times measured (summed), and whether one was missing.
    let mut waited: BTreeMap<u32, (u64, bool)> = BTreeMap::new();
    let mut last_stop: Option<(TimeMs, u32)> = None;
    for event in &observed.events {
        let mut wait = |hop: u32, answered: &Option<u64>| {
            let entry = waited.entry(hop).or_default();
            match answered {
                Some(ms) => entry.0 = entry.0.saturating_add(*ms),
                None => entry.1 = true,
            }
        };
        match event {
            FreezingEvent::TraceStarted { reported_at_ms: at, .. } => reported_at_ms = Some(*at),
            FreezingEvent::HopOpened { hop, parent, depth, .. } => {
                depths.insert(*hop, *depth);
                parents.insert(*hop, *parent);
            }
            FreezingEvent::OrderResolved { hop, answered_in_ms, .. } => wait(*hop, answered_in_ms),
            FreezingEvent::AccountStopped { hop, account, claim_fen, stopped_at_ms, answered_in_ms, depth, .. } => {
                wait(*hop, answered_in_ms);
                if let Some(depth) = depth {
                    depths.insert(*hop, *depth);
                }
                // The onward hops this stop opened (no hop_opened of their own).
                let child_depth = depths.get(hop).map_or(0, |d| d.saturating_add(1));
                for (next, _) in event.onward_hops() {
                    depths.insert(next, child_depth);
                    parents.insert(next, Some(*hop));
                }
                if !claim_fen.is_zero() {
                    let claim = claims.entry(account.clone()).or_insert(Fen::ZERO);
                    *claim = claim.checked_add(*claim_fen).ok()?;
                    freezes.push(Freeze {
                        account: account.clone(),
                        claim: *claim_fen,
                        stopped_at_ms: *stopped_at_ms,
                        depth: depths.get(hop).copied().unwrap_or(0),
                    });
                    if last_stop.is_none_or(|(at, _)| *stopped_at_ms > at) {
                        last_stop = Some((*stopped_at_ms, *hop));
                    }
                }
            }
            FreezingEvent::ClaimRevised { account, claim_fen, .. } => _ = claims.insert(account.clone(), *claim_fen),
            FreezingEvent::TraceCompleted { time_to_freeze_ms, .. } => ttf_ms = *time_to_freeze_ms,
            _ => {}
        }
    }
    let claimed = Fen::sum(claims.values().copied()).ok()?;
    let path_adapter_ms = last_stop.and_then(|(_, hop)| path_wait(hop, &parents, &waited));
    Some(SystemCase { reported_at_ms: reported_at_ms?, freezes, ttf_ms, claimed, claims, path_adapter_ms })
}

/// The answer times summed along the hops from the victim's payment to `hop`; `None` when
/// one of them was not measured (or the chain is broken).
fn path_wait(hop: u32, parents: &BTreeMap<u32, Option<u32>>, waited: &BTreeMap<u32, (u64, bool)>) -> Option<u64> {
    let mut total = 0u64;
    let mut next = Some(hop);
    // A chain is at most as long as the case has hops; the bound guards against a cycle.
    for _ in 0..=parents.len() {
        let Some(current) = next else {
            return Some(total);
        };
        let (ms, missing) = waited.get(&current).copied()?;
        if missing {
            return None;
        }
        total = total.saturating_add(ms);
        next = *parents.get(&current)?;
    }
    None
}
