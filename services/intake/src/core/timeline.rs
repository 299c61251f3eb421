//! The case timeline: intake's view of its own report and of freezing's events, folded at
//! read time.
//!
//! A case's timeline is built from its report (the head: header and totals, and the first
//! entry) and every freezing event of the case, in the order intake keeps them (time, then
//! the event's sequence number). Totals are added, so the same events give the same
//! timeline whatever order they were folded in.

use domain::report::Destination;
use events::FreezingEvent;
use events::freezing::HopEnd;
use protocol::intake::{CaseSummary, CaseTimeline, TimelineEntry, TimelineKind};

/// A case's header and running totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseHead {
    pub case_id: domain::CaseId,
    pub city: domain::City,
    pub fraud_type: domain::FraudType,
    pub reported_at_ms: u64,
    pub reported_loss_fen: domain::Fen,
    pub summary: CaseSummary,
}

impl CaseHead {
    /// The whole timeline, from the head and the case's entries in time order.
    pub fn into_timeline(self, entries: Vec<TimelineEntry>) -> CaseTimeline {
        CaseTimeline {
            case_id: self.case_id,
            city: self.city,
            fraud_type: self.fraud_type,
            reported_at_ms: self.reported_at_ms,
            reported_loss_fen: self.reported_loss_fen,
            entries,
            summary: self.summary,
        }
    }
}

/// The head of a case just reported and its first entry.
pub fn reported(
    case_id: domain::CaseId,
    city: domain::City,
    fraud_type: domain::FraudType,
    reported_at_ms: u64,
    loss: domain::Fen,
    transfers: usize,
) -> (CaseHead, TimelineEntry) {
    let head = CaseHead {
        case_id,
        city,
        fraud_type,
        reported_at_ms,
        reported_loss_fen: loss,
        summary: CaseSummary::default(),
    };
    let entry = TimelineEntry {
        at_ms: reported_at_ms,
        kind: TimelineKind::Reported,
        account: None,
        amount_fen: Some(loss),
        depth: None,
        hop: None,
        parent: None,
        order: None,
        detail: format!("reported {fraud_type}: {loss} lost in {transfers} transfer(s)"),
    };
    (head, entry)
}

/// The entry of a hop opened: money traced from the victim or a parent hop to a place.
fn traced(
    at_ms: u64,
    hop: events::freezing::HopId,
    parent: Option<events::freezing::HopId>,
    depth: Option<u8>,
    target: &Destination,
    amount: domain::Fen,
) -> TimelineEntry {
    let (account, order, what) = match target {
        Destination::Account(a) => (Some(a.clone()), None, format!("account {a}")),
        Destination::Order(o) => (None, Some(o.clone()), format!("order {o}")),
    };
    let from = parent.map_or("the victim".to_owned(), |p| format!("hop {p}"));
    TimelineEntry {
        at_ms,
        kind: TimelineKind::Traced,
        account,
        amount_fen: Some(amount),
        depth,
        hop: Some(hop),
        parent,
        order,
        detail: format!("hop {hop}: {amount} traced from {from} to {what}"),
    }
}

/// A case's events whose amounts do not add up in 64 bits: stored events that no freezing
/// could have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the amounts of its events overflow the case's totals")]
pub struct Overflow;

fn add(total: &mut domain::Fen, amount: domain::Fen) -> Result<(), Overflow> {
    *total = total.checked_add(amount).map_err(|_| Overflow)?;
    Ok(())
}

/// Folds a freezing event into a case's totals and returns the entries it adds.
pub fn apply(
    summary: &mut CaseSummary,
    event: &FreezingEvent,
    event_time_ms: u64,
) -> Result<Vec<TimelineEntry>, Overflow> {
    let mut entries = Vec::new();
    let entry = |at_ms, kind, account, amount_fen, depth, detail: String| TimelineEntry {
        at_ms,
        kind,
        account,
        amount_fen,
        depth,
        hop: None,
        parent: None,
        order: None,
        detail,
    };
    // The entry about hop `hop`.
    let of_hop = |entry: TimelineEntry, hop: events::freezing::HopId| TimelineEntry { hop: Some(hop), ..entry };
    match event {
        FreezingEvent::TraceStarted { .. } => {}
        FreezingEvent::HopOpened { hop, parent, depth, target, traced_fen, .. } => {
            entries.push(traced(event_time_ms, *hop, *parent, Some(*depth), target, *traced_fen));
        }
        FreezingEvent::OrderResolved { hop, order, account, .. } => {
            entries.push(of_hop(
                entry(
                    event_time_ms,
                    TimelineKind::OrderResolved,
                    Some(account.clone()),
                    None,
                    None,
                    format!("hop {hop}: order {order} paid into {account}"),
                ),
                *hop,
            ));
        }
        FreezingEvent::AccountStopped {
            hop,
            account,
            stop_no,
            held_fen,
            claim_fen,
            onward,
            cashed_out_fen,
            stopped_at_ms,
            answered_in_ms,
            depth,
            ..
        } => {
            let onward_total = domain::Fen::sum(onward.iter().map(|l| l.amount_fen)).map_err(|_| Overflow)?;
            let mut how = if *stop_no == 0 {
                "already held, statement read".to_owned()
            } else {
                format!("stop-payment {stop_no}")
            };
            if let Some(ms) = answered_in_ms {
                how.push_str(&format!(" (bank answered in {ms} ms)"));
            }
            summary.accounts_stopped += 1;
            add(&mut summary.held_fen, *claim_fen)?;
            entries.push(of_hop(entry(*stopped_at_ms, TimelineKind::Stopped, Some(account.clone()), Some(*claim_fen), *depth,
                format!("hop {hop}: {how}; {held_fen} held of which {claim_fen} is the victim's; {onward_total} moved on in {} transfer(s)", onward.len())), *hop));
            // The onward hops this stop opened.
            let child_depth = depth.map(|d| d.saturating_add(1));
            for (next, leg) in event.onward_hops() {
                entries.push(traced(*stopped_at_ms, next, Some(*hop), child_depth, &leg.to, leg.amount_fen));
            }
            if !cashed_out_fen.is_zero() {
                add(&mut summary.cashed_out_fen, *cashed_out_fen)?;
                entries.push(of_hop(
                    entry(
                        *stopped_at_ms,
                        TimelineKind::CashedOut,
                        Some(account.clone()),
                        Some(*cashed_out_fen),
                        None,
                        format!("hop {hop}: {cashed_out_fen} already taken out as cash"),
                    ),
                    *hop,
                ));
            }
        }
        FreezingEvent::HopEnded { hop, reason, detail, .. } => {
            let kind = if *reason == HopEnd::Failed { TimelineKind::HopFailed } else { TimelineKind::Traced };
            entries.push(of_hop(
                entry(event_time_ms, kind, None, None, None, format!("hop {hop} ended ({reason:?}): {detail}")),
                *hop,
            ));
        }
        FreezingEvent::TraceCompleted {
            completed_at_ms,
            accounts_stopped,
            claimed_fen,
            untraced_fen,
            time_to_freeze_ms,
            ..
        } => {
            summary.trace_complete = true;
            summary.time_to_freeze_ms = *time_to_freeze_ms;
            entries.push(entry(*completed_at_ms, TimelineKind::TraceCompleted, None, Some(*claimed_fen), None,
                format!("trace complete: {accounts_stopped} account(s) stopped, {claimed_fen} held, {untraced_fen} not followed")));
        }
        FreezingEvent::AccountFrozen { account, frozen_fen, frozen_at_ms, expires_at_ms, .. } => {
            summary.accounts_frozen += 1;
            add(&mut summary.frozen_fen, *frozen_fen)?;
            entries.push(entry(
                *frozen_at_ms,
                TimelineKind::Frozen,
                Some(account.clone()),
                Some(*frozen_fen),
                None,
                format!("frozen until {expires_at_ms}"),
            ));
        }
        FreezingEvent::FreezeQueued { account, claim_fen, queued_behind, queued_at_ms, .. } => {
            entries.push(entry(
                *queued_at_ms,
                TimelineKind::FreezeQueued,
                Some(account.clone()),
                Some(*claim_fen),
                None,
                format!("queued freeze behind {queued_behind}'s freeze"),
            ));
        }
        FreezingEvent::StopRenewed { account, stop_no, expires_at_ms, .. } => {
            entries.push(entry(
                event_time_ms,
                TimelineKind::StopRenewed,
                Some(account.clone()),
                None,
                None,
                format!("stop-payment {stop_no}, until {expires_at_ms}"),
            ));
        }
        FreezingEvent::HopRetrying { hop, attempt, retry_at_ms, reason, .. } => {
            entries.push(of_hop(
                entry(
                    event_time_ms,
                    TimelineKind::Retrying,
                    None,
                    None,
                    None,
                    format!("hop {hop}: {reason}; attempt {attempt} failed, asking again at {retry_at_ms}"),
                ),
                *hop,
            ));
        }
        FreezingEvent::FreezeRetrying { account, attempt, retry_at_ms, reason, .. } => {
            entries.push(entry(
                event_time_ms,
                TimelineKind::FreezeRetrying,
                Some(account.clone()),
                None,
                None,
                format!("freeze: {reason}; attempt {attempt} failed, asking again at {retry_at_ms}"),
            ));
        }
        FreezingEvent::FreezeAtRisk { account, claim_fen, expires_at_ms, reason, .. } => {
            summary.freeze_at_risk_alerts = summary.freeze_at_risk_alerts.saturating_add(1);
            entries.push(entry(
                event_time_ms,
                TimelineKind::FreezeAtRisk,
                Some(account.clone()),
                Some(*claim_fen),
                None,
                format!("AT RISK: {claim_fen} not frozen, the stop-payment lapses at {expires_at_ms}; {reason}"),
            ));
        }
        FreezingEvent::ClaimRevised { account, previous_fen, claim_fen, by_case, revised_at_ms, .. } => {
            // The held total counts the claim as it stands now.
            summary.held_fen = summary.held_fen.saturating_sub(*previous_fen);
            add(&mut summary.held_fen, *claim_fen)?;
            entries.push(entry(
                *revised_at_ms,
                TimelineKind::ClaimRevised,
                Some(account.clone()),
                Some(*claim_fen),
                None,
                format!(
                    "claim revised from {previous_fen} to {claim_fen}: case {by_case}'s money is in the account too"
                ),
            ));
        }
        FreezingEvent::FreezeFailed { account, reason, .. } => {
            entries.push(entry(
                event_time_ms,
                TimelineKind::HopFailed,
                Some(account.clone()),
                None,
                None,
                format!("freeze failed: {reason}"),
            ));
        }
        FreezingEvent::CrossCityClaims { account, claims, noticed_at_ms } => {
            let claimed: Vec<String> = claims
                .iter()
                .map(|c| format!("{} case {}, first stop {}", c.city, c.case_id, c.first_stop_at_ms))
                .collect();
            entries.push(entry(
                *noticed_at_ms,
                TimelineKind::CrossCityClaims,
                Some(account.clone()),
                None,
                None,
                format!("claimed by {} cities, earliest stop first: {}", claims.len(), claimed.join("; ")),
            ));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use domain::report::Destination;
    use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef};
    use events::FreezingEvent;
    use events::freezing::OnwardLeg;
    use protocol::intake::{CaseSummary, TimelineKind};

    use super::apply;

    fn case() -> CaseId {
        CaseId::derive(&City::parse("huzhou").unwrap(), 1)
    }

    #[test]
    fn the_entries_of_a_hop_name_it_and_an_opened_hop_names_its_parent_and_order() {
        let account = AccountRef::parse("icbc:6222020200001234").unwrap();
        let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
        let mut summary = CaseSummary::default();
        let opened = FreezingEvent::HopOpened {
            case_id: case(),
            hop: 1,
            parent: None,
            depth: 1,
            target: Destination::Order(order.clone()),
            traced_fen: Fen::yuan(100),
            since_ms: 5,
            arrival_transfer_id: None,
        };
        let [entry] = apply(&mut summary, &opened, 10).unwrap().try_into().unwrap();
        assert_eq!(
            (entry.hop, entry.parent, entry.order.as_ref(), entry.account.as_ref()),
            (Some(1), None, Some(&order), None)
        );
        let stopped = FreezingEvent::AccountStopped {
            case_id: case(),
            hop: 1,
            account: account.clone(),
            stop_no: 1,
            held_fen: Fen::yuan(100),
            claim_fen: Fen::yuan(60),
            onward: vec![OnwardLeg {
                to: Destination::Account(AccountRef::parse("abc:622848000011").unwrap()),
                amount_fen: Fen::yuan(30),
                at_ms: 7,
                transfer_id: "t1".into(),
            }],
            cashed_out_fen: Fen::yuan(10),
            stopped_at_ms: 20,
            expires_at_ms: 30,
            answered_in_ms: None,
            first_onward_hop: Some(2),
            depth: Some(1),
        };
        let entries = apply(&mut summary, &stopped, 20).unwrap();
        let shape: Vec<_> = entries.iter().map(|e| (e.kind, e.hop, e.parent, e.depth)).collect();
        assert_eq!(
            shape,
            [
                (TimelineKind::Stopped, Some(1), None, Some(1)),
                (TimelineKind::Traced, Some(2), Some(1), Some(2)),
                (TimelineKind::CashedOut, Some(1), None, None),
            ]
        );
        let frozen = FreezingEvent::AccountFrozen {
            case_id: case(),
            account,
            frozen_fen: Fen::yuan(60),
            frozen_at_ms: 40,
            expires_at_ms: 50,
        };
        let [entry] = apply(&mut summary, &frozen, 40).unwrap().try_into().unwrap();
        assert_eq!((entry.hop, entry.parent), (None, None), "an account's entry names no hop");
    }
}
