//! What an input causes: the events to record, and the requests that follow from no event.

use std::collections::HashMap;

use domain::report::{Destination, MAX_TRANSFERS};
use domain::{AccountRef, CaseId, Fen, TimeMs};
use events::FreezingEvent;
use events::freezing::{HopEnd, HopId};
use protocol::adapter::{FreezeReply, FreezeStatus};

use adapters::AdapterError;

use super::actions::conversion_freeze_id;
use super::actions::retry_action;
use super::joint;
use super::retry::hop_retry;
use super::state::NewHop;
use super::{
    Action, CaseTrace, Conversion, CoreConfig, Decided, Hold, Hop, Input, MAX_STOPS_PER_ACCOUNT, Rejection, State,
    stop_request_id,
};
use crate::limits::{
    FREEZE_RENEWAL_LEAD_MS, FREEZE_RETRY_BACKOFF_MS, LAST_ATTEMPT_MARGIN_MS, MAX_FREEZE_ATTEMPTS, MAX_ONWARD_IN_STOP,
};

/// What `input` causes at `now`: the events to record and the requests that follow from no
/// event, or why it causes nothing.
pub fn decide(state: &State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Decided, Rejection> {
    let mut events = Vec::new();
    let mut requests = Vec::new();
    match input {
        Input::CaseReported { case_id, reported_at_ms, transfers, reported_loss } => {
            if state.cases.contains_key(&case_id) || state.is_closed(&case_id) {
                return Err(Rejection::AlreadyTraced { case_id });
            }
            // Intake refuses such reports; one that arrives anyway (forged, or from a faulty
            // intake) would make sums in the trace overflow.
            let total = Fen::sum(transfers.iter().map(|t| t.amount));
            let inconsistent = |reason: String| Rejection::InconsistentReport { case_id: case_id.clone(), reason };
            if transfers.len() > MAX_TRANSFERS {
                return Err(inconsistent(format!("{} transfers, at most {MAX_TRANSFERS}", transfers.len())));
            }
            match total {
                Ok(total) if total == reported_loss => {}
                Ok(total) => {
                    return Err(inconsistent(format!("its transfers add up to {total}, its loss is {reported_loss}")));
                }
                Err(_) => return Err(inconsistent("its transfers add up to more than 64 bits hold".into())),
            }
            events.push(FreezingEvent::TraceStarted {
                case_id: case_id.clone(),
                reported_at_ms,
                reported_loss_fen: reported_loss,
            });
            let mut accounts = HashMap::new();
            for (index, transfer) in transfers.into_iter().enumerate() {
                let hop = HopId::try_from(index + 1).expect("at most MAX_TRANSFERS transfers, checked above");
                let to = NewHop {
                    parent: None,
                    depth: 1,
                    target: transfer.to,
                    traced: transfer.amount,
                    since_ms: transfer.at_ms,
                    arrival: None,
                };
                open_hop(&mut events, &mut accounts, &|_| true, config, &case_id, hop, to, Opened::ByEvent);
            }
        }
        Input::OrderResolved { case_id, hop, asked_at_ms, result } => {
            let (trace, hop_state) = open_hop_of(state, &case_id, hop)?;
            let Destination::Order(order) = &hop_state.target else {
                return Err(Rejection::NotAnOrder { case_id, hop });
            };
            match result {
                // An answer about another order says nothing about this one.
                Ok(reply) if reply.order != *order => events.push(FreezingEvent::HopEnded {
                    case_id,
                    hop,
                    reason: HopEnd::Failed,
                    detail: format!("resolving {order}: the platform answered about order {}", reply.order),
                    merged_into: None,
                }),
                Ok(reply) => {
                    events.push(FreezingEvent::OrderResolved {
                        case_id: case_id.clone(),
                        hop,
                        order: order.clone(),
                        account: reply.account.clone(),
                        settled_at_ms: reply.settled_at_ms,
                        transfer_id: reply.transfer_id,
                        answered_in_ms: Some(now.saturating_sub(asked_at_ms)),
                    });
                    // Into an account this case follows and whose bank has not answered yet:
                    // that hop follows this money too. One answered already is read again by
                    // this hop (a late arrival).
                    if let Some(first) = trace.accounts.get(&reply.account)
                        && *first != hop
                        && trace.hops.get(first).is_some_and(|h| h.open)
                    {
                        events.push(FreezingEvent::HopEnded {
                            case_id,
                            hop,
                            reason: HopEnd::Merged,
                            detail: format!("order paid into {}, already followed by hop {first}", reply.account),
                            merged_into: Some(*first),
                        });
                    }
                }
                Err(failure) => {
                    let reason = format!("resolving {order}: {failure}");
                    events.push(hop_failed(config, trace, hop_state, case_id, hop, &failure, reason, now));
                }
            }
        }
        Input::AccountAnswered { case_id, hop, asked_at_ms, result } => {
            let (trace, hop_state) = open_hop_of(state, &case_id, hop)?;
            let Some(account) = hop_state.account.clone() else {
                return Err(Rejection::NoAccount { case_id, hop });
            };
            let statement = match result {
                Ok(statement) => statement,
                Err(failure) => {
                    let reason = format!("stop-payment on {account}: {failure}");
                    events.push(hop_failed(config, trace, hop_state, case_id, hop, &failure, reason, now));
                    return Ok(Decided { events, requests });
                }
            };
            // A repeated stop is answered with the first one's statement: if that starts after
            // the money it is read for arrived (this case's, and the other cases' split with
            // it), read the account from there on instead.
            let since_ms = joint::statement_since(state, &case_id, hop_state, &account);
            if statement.stop_no > 0 && statement.since_ms > since_ms {
                let read = Action::Read { case_id, hop, account, since_ms };
                return Ok(Decided { events, requests: vec![read] });
            }
            // The rule runs over every case whose money is in the account (joint.rs).
            let reading = joint::read(state, config, &case_id, hop_state, &account, &statement);
            let own = &reading.own;
            let followed = reading.own_whole.then_some(trace);
            let onward = joint::legs(&statement.entries, &own.onward, followed, &account);
            let first_new = trace.hops.keys().next_back().copied().unwrap_or(0) + 1;
            // The stop opens at most MAX_ONWARD_IN_STOP hops itself; any further one gets a
            // `hop_opened` of its own, so that no event outgrows what a commit takes.
            let inline = onward.len().min(MAX_ONWARD_IN_STOP);
            events.push(FreezingEvent::AccountStopped {
                case_id: case_id.clone(),
                hop,
                account: account.clone(),
                stop_no: statement.stop_no,
                held_fen: statement.held,
                // What the case claims beyond its claim before (an earlier reading's).
                claim_fen: own.claim.saturating_sub(reading.own_claim_before),
                onward: onward[..inline].to_vec(),
                cashed_out_fen: own.cashed_out.saturating_sub(reading.own_cashed_before),
                stopped_at_ms: now,
                expires_at_ms: statement.expires_at_ms,
                answered_in_ms: Some(now.saturating_sub(asked_at_ms)),
                first_onward_hop: (inline > 0).then_some(first_new),
                depth: Some(hop_state.depth),
            });
            let mut accounts = trace.accounts.clone();
            // A hop still waiting for its bank can take more arrivals; the one answering now cannot.
            let is_open = |first: HopId| first != hop && trace.hops.get(&first).is_none_or(|h| h.open);
            for (index, (next, leg)) in (first_new..).zip(&onward).enumerate() {
                let to = NewHop::onward(hop, hop_state.depth, leg);
                // The first ones are opened by the `account_stopped` above (`first_onward_hop`).
                let opened = if index < inline { Opened::ByParent } else { Opened::ByEvent };
                open_hop(&mut events, &mut accounts, &is_open, config, &case_id, next, to, opened);
            }
            if own.claim < reading.own_claim_before {
                events.push(FreezingEvent::ClaimRevised {
                    case_id: case_id.clone(),
                    account: account.clone(),
                    previous_fen: reading.own_claim_before,
                    claim_fen: own.claim,
                    by_case: case_id.clone(),
                    by_hop: hop,
                    revised_at_ms: now,
                });
            }
            joint::revisions(&mut events, state, config, &reading, &statement.entries, &account, &case_id, hop, now);
        }
        Input::RetryDue { case_id, hop } => match retry_action(state, &case_id, hop, now) {
            Some(action) => requests.push(action),
            None => return Err(Rejection::NotRetrying { case_id, hop }),
        },
        Input::ConversionDue { case_id, account } => {
            let (claim, _, conversion) = conversion_of(state, &case_id, &account)?;
            let request_id = conversion_freeze_id(&case_id, &account, conversion);
            let amount = claim.saturating_sub(conversion.frozen);
            requests.push(Action::Freeze { case_id, account, amount, request_id });
        }
        Input::FreezeAnswered { case_id, account, request_id, result } => {
            let (claim, hold, conversion) = conversion_of(state, &case_id, &account)?;
            // An answer to an earlier request (a repeat, or one for a part frozen already)
            // says nothing the log does not hold.
            let awaited = conversion_freeze_id(&case_id, &account, conversion);
            if request_id != awaited {
                return Err(Rejection::NotTheAwaitedFreeze { case_id, account, request_id });
            }
            let rest = claim.saturating_sub(conversion.frozen);
            let failed = match result {
                Ok(reply) if reply.status == FreezeStatus::Frozen => {
                    events.push(FreezingEvent::AccountFrozen {
                        case_id: case_id.clone(),
                        account: account.clone(),
                        // What the bank says it froze, never more than was asked for.
                        frozen_fen: reply.frozen_fen.min(rest),
                        frozen_at_ms: reply.frozen_at_ms,
                        expires_at_ms: reply.expires_at_ms,
                    });
                    None
                }
                Ok(FreezeReply { queued_behind: Some(ahead), frozen_at_ms, expires_at_ms, .. }) => {
                    events.push(FreezingEvent::FreezeQueued {
                        case_id: case_id.clone(),
                        account: account.clone(),
                        claim_fen: rest,
                        queued_behind: ahead,
                        queued_at_ms: frozen_at_ms,
                        expires_at_ms,
                    });
                    None
                }
                // The adapter protocol requires the center a queued claim waits behind.
                Ok(FreezeReply { queued_behind: None, .. }) => {
                    Some("the bank queued the freeze without naming the center it queues behind".to_owned())
                }
                Err(failure) => Some(failure.to_string()),
            };
            if let Some(reason) = failed {
                let failed = FreezeFailure { reason, renewal_failed: false };
                freeze_failed(
                    config,
                    &mut events,
                    &mut requests,
                    case_id,
                    account,
                    claim,
                    hold,
                    conversion,
                    failed,
                    now,
                );
            }
        }
        Input::CrossCityNotice { city, account, claims } => {
            return super::cross_city::decide(state, &city, account, claims, now);
        }
        Input::StopRenewed { case_id, account, result } => {
            let (claim, hold, conversion) = conversion_of(state, &case_id, &account)?;
            match result {
                Ok((stop_no, expires_at_ms)) => events.push(FreezingEvent::StopRenewed {
                    case_id,
                    account,
                    stop_no,
                    expires_at_ms,
                    renewed_at_ms: Some(now),
                }),
                Err(failure) => {
                    let reason = format!("the freeze failed and the stop-payment could not be renewed: {failure}");
                    let failed = FreezeFailure { reason, renewal_failed: true };
                    freeze_failed(
                        config,
                        &mut events,
                        &mut requests,
                        case_id,
                        account,
                        claim,
                        hold,
                        conversion,
                        failed,
                        now,
                    );
                }
            }
        }
    }
    Ok(Decided { events, requests })
}

/// A hop whose bank or platform failed: asked again later while its kind and window allow
/// ([`hop_retry`]), ended as failed otherwise.
#[allow(clippy::too_many_arguments, reason = "the pieces of one decision, named at the call sites")]
fn hop_failed(
    config: &CoreConfig,
    trace: &CaseTrace,
    hop_state: &Hop,
    case_id: CaseId,
    hop: HopId,
    failure: &AdapterError,
    reason: String,
    now: TimeMs,
) -> FreezingEvent {
    match hop_retry(config, trace, hop_state, failure, now) {
        Some(retry) => FreezingEvent::HopRetrying {
            case_id,
            hop,
            attempt: retry.attempt,
            first_failed_at_ms: retry.first_failed_at_ms,
            retry_at_ms: retry.retry_at_ms,
            reason,
        },
        None => FreezingEvent::HopEnded { case_id, hop, reason: HopEnd::Failed, detail: reason, merged_into: None },
    }
}

/// Why a claim's freeze failed this time.
struct FreezeFailure {
    reason: String,
    /// The renewal of the stop failed (after the freeze had): no renewal can be counted on.
    renewal_failed: bool,
}

/// A claim whose freeze (or renewal) failed at `now`: asked for again with backoff while
/// the stop holds the money; while a renewal is left, tried until
/// [`FREEZE_RENEWAL_LEAD_MS`] before the lapse and then the stop is renewed; with no renewal
/// left, tried until [`LAST_ATTEMPT_MARGIN_MS`] before the lapse, after which the claim's
/// freeze failed for good. A claim that may lapse within the configured margin with no
/// renewal left raises `freeze_at_risk` once per stop.
#[allow(clippy::too_many_arguments, reason = "the pieces of one decision, named at the call sites")]
fn freeze_failed(
    config: &CoreConfig,
    events: &mut Vec<FreezingEvent>,
    requests: &mut Vec<Action>,
    case_id: CaseId,
    account: AccountRef,
    claim: Fen,
    hold: &Hold,
    conversion: &Conversion,
    failure: FreezeFailure,
    now: TimeMs,
) {
    let attempt = conversion.retry.map_or(0, |r| r.attempt).saturating_add(1);
    let pause = FREEZE_RETRY_BACKOFF_MS
        [usize::try_from(attempt - 1).unwrap_or(usize::MAX).min(FREEZE_RETRY_BACKOFF_MS.len() - 1)];
    let retry_at_ms = now.saturating_add(pause);
    let expires = hold.expires_at_ms;
    let renewal_left = hold.stop_no < MAX_STOPS_PER_ACCOUNT && !failure.renewal_failed;
    // A failed renewal is tried again (after the freeze once more) up to the last margin.
    let renewal_pending = hold.stop_no < MAX_STOPS_PER_ACCOUNT;
    let last_try = if renewal_left {
        expires.saturating_sub(FREEZE_RENEWAL_LEAD_MS)
    } else {
        expires.saturating_sub(LAST_ATTEMPT_MARGIN_MS)
    };
    let retry = attempt <= MAX_FREEZE_ATTEMPTS && retry_at_ms <= last_try;
    if !retry && renewal_left {
        // Renew the stop so the money stays held while the freeze is tried again.
        let request_id = stop_request_id(&case_id.city(), &account, hold.stop_no + 1);
        requests.push(Action::RenewStop { case_id, account, since_ms: now, request_id, after: failure.reason });
        return;
    }
    let lapses_soon = expires.saturating_sub(now) <= config.at_risk_margin_ms;
    if !conversion.at_risk && lapses_soon && (!renewal_pending || failure.renewal_failed || !retry) {
        let rest = claim.saturating_sub(conversion.frozen);
        events.push(FreezingEvent::FreezeAtRisk {
            case_id: case_id.clone(),
            account: account.clone(),
            claim_fen: rest,
            expires_at_ms: expires,
            reason: format!("not frozen after {attempt} attempt(s): {}", failure.reason),
        });
    }
    events.push(if retry {
        FreezingEvent::FreezeRetrying { case_id, account, attempt, retry_at_ms, reason: failure.reason }
    } else {
        FreezingEvent::FreezeFailed {
            case_id,
            account,
            reason: format!("{} (after {attempt} attempt(s))", failure.reason),
        }
    });
}

/// The claim of `case_id` on `account`, with the hold and the conversion it awaits.
fn conversion_of<'a>(
    state: &'a State,
    case_id: &CaseId,
    account: &AccountRef,
) -> Result<(Fen, &'a Hold, &'a Conversion), Rejection> {
    let claim = claim_of(state, case_id, account)?;
    let hold = state.hold(account).expect("a claim is on a held account");
    let conversion = state
        .conversions
        .get(&(case_id.clone(), account.clone()))
        .ok_or_else(|| Rejection::NotAwaitingConversion { case_id: case_id.clone(), account: account.clone() })?;
    Ok((claim, hold, conversion))
}

fn open_hop_of<'a>(state: &'a State, case_id: &CaseId, hop: HopId) -> Result<(&'a CaseTrace, &'a Hop), Rejection> {
    let not_open = || Rejection::HopNotOpen { case_id: case_id.clone(), hop };
    let trace = state.cases.get(case_id).ok_or_else(not_open)?;
    let hop = trace.hops.get(&hop).filter(|h| h.open).ok_or_else(not_open)?;
    Ok((trace, hop))
}

/// The claim of `case_id` on `account`, which this center holds.
fn claim_of(state: &State, case_id: &CaseId, account: &AccountRef) -> Result<Fen, Rejection> {
    state
        .hold(account)
        .and_then(|hold| hold.claims.get(case_id))
        .copied()
        .ok_or_else(|| Rejection::NoClaim { case_id: case_id.clone(), account: account.clone() })
}

/// How a new hop is recorded.
pub(super) enum Opened {
    /// By its own `hop_opened` event (the victim's payments).
    ByEvent,
    /// By its parent's `account_stopped` (`first_onward_hop`), already in `events`.
    ByParent,
}

/// Opens a hop, ending it at once when it is beyond the bounds or its account is already
/// followed in this case (merged into that hop when it has not been answered yet).
#[allow(clippy::too_many_arguments, reason = "the pieces of one decision, named at the call sites")]
pub(super) fn open_hop(
    events: &mut Vec<FreezingEvent>,
    accounts: &mut HashMap<AccountRef, HopId>,
    is_open: &dyn Fn(HopId) -> bool,
    config: &CoreConfig,
    case_id: &CaseId,
    hop: HopId,
    new: NewHop,
    opened: Opened,
) {
    let (depth, traced) = (new.depth, new.traced);
    if let Opened::ByEvent = opened {
        events.push(FreezingEvent::HopOpened {
            case_id: case_id.clone(),
            hop,
            parent: new.parent,
            depth,
            target: new.target.clone(),
            traced_fen: traced,
            since_ms: new.since_ms,
            arrival_transfer_id: new.arrival,
        });
    }
    let end = |reason, detail: String, merged_into| FreezingEvent::HopEnded {
        case_id: case_id.clone(),
        hop,
        reason,
        detail,
        merged_into,
    };
    if depth > config.max_depth {
        events.push(end(
            HopEnd::DepthLimit,
            format!("depth {depth} is beyond the bound of {}", config.max_depth),
            None,
        ));
    } else if traced < config.min_follow {
        events.push(end(
            HopEnd::BelowMinimum,
            format!("{traced} is below the {} worth following", config.min_follow),
            None,
        ));
    } else if let Destination::Account(account) = &new.target {
        match accounts.get(account) {
            // Its bank has not answered yet: that hop follows this money too.
            Some(first) if is_open(*first) => events.push(end(
                HopEnd::Merged,
                format!("{account} already followed by hop {first}; its money is followed there too"),
                Some(*first),
            )),
            // Answered already: this hop reads the account again for the money that came
            // later (a late arrival), and claims it.
            Some(_) => {}
            None => {
                accounts.insert(account.clone(), hop);
            }
        }
    }
}

/// `TraceCompleted`, when the case's last hop has just ended.
pub fn completion(state: &State, case_id: &CaseId, now: TimeMs) -> Option<FreezingEvent> {
    let trace = state.cases.get(case_id)?;
    if trace.completed || trace.open_hops > 0 {
        return None;
    }
    Some(FreezingEvent::TraceCompleted {
        case_id: case_id.clone(),
        completed_at_ms: now,
        accounts_stopped: trace.accounts_stopped,
        claimed_fen: trace.claimed,
        cashed_out_fen: trace.cashed_out,
        untraced_fen: trace.untraced,
        time_to_freeze_ms: trace.last_hold_ms.map(|t| t.saturating_sub(trace.reported_at_ms)),
    })
}
