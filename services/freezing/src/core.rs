//! The pure core of freezing: state, decisions and the actions they call for.
//!
//! `decide(&State, Input, now)` returns the events an input causes; `apply` folds an event
//! into the state; `actions` lists the adapter requests the new state calls for. No I/O and
//! no clock here: the shell ([`crate::service`]) does NATS, redb and time.
//!
//! Request ids are derived from case, account and stop number, so an action re-run after a
//! restart carries the same id and the bank applies it once.

use std::collections::{BTreeMap, HashMap};

use domain::report::{Destination, Transfer};
use domain::{AccountRef, CaseId, Fen, PaymentOrderRef, TimeMs};
use events::FreezingEvent;
use events::freezing::{HopEnd, HopId, OnwardLeg};
use protocol::adapter::{Counterparty, FreezeReply, FreezeStatus, ResolveOrderReply, StatementEntry};

use crate::limits::LAPSE_MARGIN_MS;
use crate::rule;

/// Rules the core applies.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Deepest trail level followed; beyond it a hop ends with `depth_limit`.
    pub max_depth: u8,
    /// Smallest onward amount worth following.
    pub min_follow: Fen,
    /// Delay from a stop-payment to its conversion into a freeze.
    pub freeze_after_ms: u64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            max_depth: crate::limits::MAX_TRACE_DEPTH,
            min_follow: Fen::new(100),
            freeze_after_ms: 10 * 60 * 1000,
        }
    }
}

/// Everything freezing knows, rebuilt from its event log at start.
#[derive(Debug, Default)]
pub struct State {
    // B-trees, not hash maps: these grow with every case and every stop, and a hash map
    // rehashes all of itself when it doubles (over 100,000 holds, the engine stopped for tens
    // of ms each time); a B-tree grows one node at a time.
    pub cases: BTreeMap<CaseId, CaseTrace>,
    /// Accounts this center holds under a stop-payment, with the claims on them.
    pub holds: BTreeMap<AccountRef, Hold>,
    /// Claims still to be converted into a freeze: the shell's conversion timers are
    /// derived from this (nothing else records them), so a restart has them again.
    pub conversions: BTreeMap<(CaseId, AccountRef), Conversion>,
}

/// One case's trace.
#[derive(Debug, Clone)]
pub struct CaseTrace {
    pub reported_at_ms: TimeMs,
    pub reported_loss: Fen,
    pub hops: BTreeMap<HopId, Hop>,
    /// The hop that followed each account of this case.
    pub accounts: HashMap<AccountRef, HopId>,
    pub open_hops: usize,
    pub completed: bool,
    pub accounts_stopped: u32,
    pub claimed: Fen,
    pub cashed_out: Fen,
    pub untraced: Fen,
    /// When the last stop that held victim money was answered.
    pub last_hold_ms: Option<TimeMs>,
}

/// One place the money went.
#[derive(Debug, Clone)]
pub struct Hop {
    pub parent: Option<HopId>,
    pub depth: u8,
    pub target: Destination,
    /// The bank account, once known (at once, or after the order was resolved).
    pub account: Option<AccountRef>,
    /// Victim money traced into the account: this hop's own, plus that of hops merged into it.
    pub traced: Fen,
    pub since_ms: TimeMs,
    /// Each arrival of victim money this hop follows.
    pub arrivals: Vec<rule::Arrival>,
    pub open: bool,
}

/// A claim waiting for its conversion into a freeze. A claim on an account this center
/// already froze for another case gets its own freeze request too: the bank queues it
/// behind the first (轮候冻结), so it takes over when that freeze ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// When the stop, or its renewal, that holds the money was made. `None` for a renewal
    /// recorded before this was kept.
    pub since_ms: Option<TimeMs>,
    /// When that stop lapses.
    pub expires_at_ms: TimeMs,
}

/// When `conversion` is due: [`freeze_due`] from when the money was stopped, or the latest
/// safe moment before the lapse when that is not known.
pub fn conversion_due(config: &CoreConfig, conversion: &Conversion) -> TimeMs {
    match conversion.since_ms {
        Some(since) => freeze_due(config, since, conversion.expires_at_ms),
        None => conversion.expires_at_ms.saturating_sub(LAPSE_MARGIN_MS),
    }
}

/// The claims whose conversion `event` starts, changes or ends.
pub fn conversion_touched(event: &FreezingEvent) -> Option<(CaseId, AccountRef)> {
    match event {
        FreezingEvent::AccountStopped { case_id, account, claim_fen, .. } if !claim_fen.is_zero() => {
            Some((case_id.clone(), account.clone()))
        }
        FreezingEvent::StopRenewed { case_id, account, .. }
        | FreezingEvent::AccountFrozen { case_id, account, .. }
        | FreezingEvent::FreezeQueued { case_id, account, .. }
        | FreezingEvent::FreezeFailed { case_id, account, .. } => Some((case_id.clone(), account.clone())),
        _ => None,
    }
}

/// An account this center holds.
#[derive(Debug, Clone)]
pub struct Hold {
    /// The case whose stop-payment holds it.
    pub case_id: CaseId,
    pub stop_no: u8,
    pub held: Fen,
    pub expires_at_ms: TimeMs,
    /// Victim claims on the held money, per case.
    pub claims: BTreeMap<CaseId, Fen>,
    pub frozen: bool,
}

/// Why an adapter request failed for good (after the shell's bounded retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterFailure(pub String);

/// What the bank answered about a hop's account.
#[derive(Debug, Clone)]
pub struct Statement {
    /// 0 when the account was already held and only read.
    pub stop_no: u8,
    pub held: Fen,
    pub expires_at_ms: TimeMs,
    pub entries: Vec<StatementEntry>,
}

/// Something that happened to freezing.
#[derive(Debug, Clone)]
pub enum Input {
    CaseReported {
        case_id: CaseId,
        reported_at_ms: TimeMs,
        transfers: Vec<Transfer>,
        reported_loss: Fen,
    },
    OrderResolved {
        case_id: CaseId,
        hop: HopId,
        /// When the request left (for the platform's share of time-to-freeze).
        asked_at_ms: TimeMs,
        result: Result<ResolveOrderReply, AdapterFailure>,
    },
    AccountAnswered {
        case_id: CaseId,
        hop: HopId,
        /// When the request left (for the bank's share of time-to-freeze).
        asked_at_ms: TimeMs,
        result: Result<Statement, AdapterFailure>,
    },
    FreezeAnswered {
        case_id: CaseId,
        account: AccountRef,
        result: Result<FreezeReply, AdapterFailure>,
    },
    /// The freeze failed and the stop-payment was renewed (or the renewal failed too).
    StopRenewed {
        case_id: CaseId,
        account: AccountRef,
        result: Result<(u8, TimeMs), AdapterFailure>,
    },
}

/// A request the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Resolve {
        case_id: CaseId,
        hop: HopId,
        order: PaymentOrderRef,
    },
    /// Stop payments out of the account and read its statement.
    Stop {
        case_id: CaseId,
        hop: HopId,
        account: AccountRef,
        since_ms: TimeMs,
        request_id: String,
    },
    /// The account is already held by this center: only read its statement.
    Read {
        case_id: CaseId,
        hop: HopId,
        account: AccountRef,
        since_ms: TimeMs,
    },
}

/// Idempotency key of a stop-payment.
pub fn stop_request_id(case_id: &CaseId, account: &AccountRef, stop_no: u8) -> String {
    format!("{case_id}/{account}/stop{stop_no}")
}

/// Idempotency key of a freeze.
pub fn freeze_request_id(case_id: &CaseId, account: &AccountRef) -> String {
    format!("{case_id}/{account}/freeze")
}

/// Records an opened hop in its case's trace.
fn record_hop(trace: &mut CaseTrace, hop: HopId, new: NewHop) {
    let account = match &new.target {
        Destination::Account(account) => {
            trace.accounts.entry(account.clone()).or_insert(hop);
            Some(account.clone())
        }
        Destination::Order(_) => None,
    };
    let hop_state = Hop {
        parent: new.parent,
        depth: new.depth,
        target: new.target,
        account,
        traced: new.traced,
        since_ms: new.since_ms,
        arrivals: vec![rule::Arrival { transfer_id: new.arrival, amount: new.traced }],
        open: true,
    };
    trace.hops.insert(hop, hop_state);
    trace.open_hops += 1;
}

/// The events `input` causes.
pub fn decide(state: &State, config: &CoreConfig, input: Input, now: TimeMs) -> Vec<FreezingEvent> {
    let mut events = Vec::new();
    match input {
        Input::CaseReported { case_id, reported_at_ms, transfers, reported_loss } => {
            if state.cases.contains_key(&case_id) {
                return events;
            }
            events.push(FreezingEvent::TraceStarted {
                case_id: case_id.clone(),
                reported_at_ms,
                reported_loss_fen: reported_loss,
            });
            let mut accounts = HashMap::new();
            for (index, transfer) in transfers.into_iter().enumerate() {
                let hop = HopId::try_from(index + 1).expect("reports hold at most MAX_TRANSFERS transfers");
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
            let Some((trace, hop_state)) = open_hop_of(state, &case_id, hop) else {
                return events;
            };
            let Destination::Order(order) = &hop_state.target else {
                return events;
            };
            match result {
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
                    if let Some(first) = trace.accounts.get(&reply.account) {
                        let open = *first != hop && trace.hops.get(first).is_some_and(|h| h.open);
                        events.push(FreezingEvent::HopEnded {
                            case_id,
                            hop,
                            reason: HopEnd::Merged,
                            detail: format!("order paid into {}, already followed by hop {first}", reply.account),
                            merged_into: open.then_some(*first),
                        });
                    }
                }
                Err(failure) => events.push(FreezingEvent::HopEnded {
                    case_id,
                    hop,
                    reason: HopEnd::Failed,
                    detail: format!("resolving {order}: {}", failure.0),
                    merged_into: None,
                }),
            }
        }
        Input::AccountAnswered { case_id, hop, asked_at_ms, result } => {
            let Some((trace, hop_state)) = open_hop_of(state, &case_id, hop) else {
                return events;
            };
            let Some(account) = hop_state.account.clone() else {
                return events;
            };
            let statement = match result {
                Ok(statement) => statement,
                Err(failure) => {
                    events.push(FreezingEvent::HopEnded {
                        case_id,
                        hop,
                        reason: HopEnd::Failed,
                        detail: format!("stop-payment on {account}: {}", failure.0),
                        merged_into: None,
                    });
                    return events;
                }
            };
            // Other cases' claims on the same held money come first.
            let other_claims = state
                .holds
                .get(&account)
                .map(|h| h.claims.iter().filter(|(c, _)| **c != case_id).map(|(_, f)| *f))
                .map(|claims| Fen::sum(claims).expect("bounded by held"))
                .unwrap_or(Fen::ZERO);
            let available = statement.held.saturating_sub(other_claims);
            let split = rule::split(&hop_state.arrivals, &statement.entries, available);
            let onward: Vec<OnwardLeg> = split
                .onward
                .iter()
                .filter_map(|(index, amount)| {
                    let entry = &statement.entries[*index];
                    let to = match &entry.counterparty {
                        Counterparty::Account(a) => Destination::Account(a.clone()),
                        Counterparty::Order(o) => Destination::Order(o.clone()),
                        Counterparty::CashOut(_) => return None,
                    };
                    Some(OnwardLeg {
                        to,
                        amount_fen: *amount,
                        at_ms: entry.at_ms,
                        transfer_id: entry.transfer_id.clone(),
                    })
                })
                .collect();
            let first_new = trace.hops.keys().next_back().copied().unwrap_or(0) + 1;
            events.push(FreezingEvent::AccountStopped {
                case_id: case_id.clone(),
                hop,
                account,
                stop_no: statement.stop_no,
                held_fen: statement.held,
                claim_fen: split.claim,
                onward: onward.clone(),
                cashed_out_fen: split.cashed_out,
                stopped_at_ms: now,
                expires_at_ms: statement.expires_at_ms,
                answered_in_ms: Some(now.saturating_sub(asked_at_ms)),
                first_onward_hop: (!onward.is_empty()).then_some(first_new),
                depth: Some(hop_state.depth),
            });
            let mut accounts = trace.accounts.clone();
            // A hop still waiting for its bank can take more arrivals; the one answering now cannot.
            let is_open = |first: HopId| first != hop && trace.hops.get(&first).is_none_or(|h| h.open);
            for (next, leg) in (first_new..).zip(&onward) {
                let to = NewHop::onward(hop, hop_state.depth, leg);
                // Opened by the `account_stopped` above (`first_onward_hop`).
                open_hop(&mut events, &mut accounts, &is_open, config, &case_id, next, to, Opened::ByParent);
            }
        }
        Input::FreezeAnswered { case_id, account, result } => {
            let Some(claim) = state.holds.get(&account).and_then(|h| h.claims.get(&case_id)).copied() else {
                return events;
            };
            match result {
                Ok(reply) if reply.status == FreezeStatus::Frozen => events.push(FreezingEvent::AccountFrozen {
                    case_id,
                    account,
                    frozen_fen: reply.frozen_fen,
                    frozen_at_ms: reply.frozen_at_ms,
                    expires_at_ms: reply.expires_at_ms,
                }),
                Ok(FreezeReply { queued_behind: Some(ahead), frozen_at_ms, expires_at_ms, .. }) => {
                    events.push(FreezingEvent::FreezeQueued {
                        case_id,
                        account,
                        claim_fen: claim,
                        queued_behind: ahead,
                        queued_at_ms: frozen_at_ms,
                        expires_at_ms,
                    })
                }
                // The adapter protocol requires the center a queued claim waits behind.
                Ok(FreezeReply { queued_behind: None, .. }) => events.push(FreezingEvent::FreezeFailed {
                    case_id,
                    account,
                    reason: "the bank queued the freeze without naming the center it queues behind".into(),
                }),
                Err(failure) => events.push(FreezingEvent::FreezeFailed { case_id, account, reason: failure.0 }),
            }
        }
        Input::StopRenewed { case_id, account, result } => {
            if !state.holds.get(&account).is_some_and(|h| h.claims.contains_key(&case_id)) {
                return events;
            }
            events.push(match result {
                Ok((stop_no, expires_at_ms)) => {
                    FreezingEvent::StopRenewed { case_id, account, stop_no, expires_at_ms, renewed_at_ms: Some(now) }
                }
                Err(failure) => FreezingEvent::FreezeFailed {
                    case_id,
                    account,
                    reason: format!("freeze failed and the stop-payment could not be renewed: {}", failure.0),
                },
            });
        }
    }
    events
}

fn open_hop_of<'a>(state: &'a State, case_id: &CaseId, hop: HopId) -> Option<(&'a CaseTrace, &'a Hop)> {
    let trace = state.cases.get(case_id)?;
    let hop = trace.hops.get(&hop).filter(|h| h.open)?;
    Some((trace, hop))
}

/// A place money went to, about to become a hop.
struct NewHop {
    parent: Option<HopId>,
    depth: u8,
    target: Destination,
    traced: Fen,
    since_ms: TimeMs,
    arrival: Option<String>,
}

/// How a new hop is recorded.
enum Opened {
    /// By its own `hop_opened` event (the victim's payments).
    ByEvent,
    /// By its parent's `account_stopped` (`first_onward_hop`), already in `events`.
    ByParent,
}

impl NewHop {
    /// The hop following an onward leg of `parent`'s account, one level deeper.
    fn onward(parent: HopId, parent_depth: u8, leg: &OnwardLeg) -> NewHop {
        NewHop {
            parent: Some(parent),
            depth: parent_depth.saturating_add(1),
            target: leg.to.clone(),
            traced: leg.amount_fen,
            since_ms: leg.at_ms,
            arrival: Some(leg.transfer_id.clone()),
        }
    }
}

/// Opens a hop, ending it at once when it is beyond the bounds or its account is already
/// followed in this case (merged into that hop when it has not been answered yet).
#[allow(clippy::too_many_arguments, reason = "the pieces of one decision, named at the call sites")]
fn open_hop(
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
        if let Some(first) = accounts.get(account) {
            let into = is_open(*first).then_some(*first);
            let how = if into.is_some() { "its money is followed there too" } else { "its statement was already read" };
            events.push(end(HopEnd::Merged, format!("{account} already followed by hop {first}; {how}"), into));
        } else {
            accounts.insert(account.clone(), hop);
        }
    }
}

/// Folds one event into the state.
pub fn apply(state: &mut State, event: &FreezingEvent) {
    match event {
        FreezingEvent::TraceStarted { case_id, reported_at_ms, reported_loss_fen } => {
            state.cases.entry(case_id.clone()).or_insert_with(|| CaseTrace {
                reported_at_ms: *reported_at_ms,
                reported_loss: *reported_loss_fen,
                hops: BTreeMap::new(),
                accounts: HashMap::new(),
                open_hops: 0,
                completed: false,
                accounts_stopped: 0,
                claimed: Fen::ZERO,
                cashed_out: Fen::ZERO,
                untraced: Fen::ZERO,
                last_hold_ms: None,
            });
        }
        FreezingEvent::HopOpened { case_id, hop, parent, depth, target, traced_fen, since_ms, arrival_transfer_id } => {
            let new = NewHop {
                parent: *parent,
                depth: *depth,
                target: target.clone(),
                traced: *traced_fen,
                since_ms: *since_ms,
                arrival: arrival_transfer_id.clone(),
            };
            record_hop(case_mut(state, case_id), *hop, new);
        }
        FreezingEvent::OrderResolved { case_id, hop, account, settled_at_ms, transfer_id, .. } => {
            let trace = case_mut(state, case_id);
            trace.accounts.entry(account.clone()).or_insert(*hop);
            let hop = trace.hops.get_mut(hop).expect("resolved hop was opened");
            hop.account = Some(account.clone());
            hop.since_ms = *settled_at_ms;
            hop.arrivals = vec![rule::Arrival { transfer_id: Some(transfer_id.clone()), amount: hop.traced }];
        }
        FreezingEvent::AccountStopped {
            case_id,
            hop,
            account,
            stop_no,
            held_fen,
            claim_fen,
            cashed_out_fen,
            stopped_at_ms,
            expires_at_ms,
            ..
        } => {
            let trace = case_mut(state, case_id);
            close_hop(trace, *hop);
            let depth = trace.hops.get(hop).expect("stopped hop was opened").depth;
            for (next, leg) in event.onward_hops() {
                record_hop(trace, next, NewHop::onward(*hop, depth, leg));
            }
            trace.accounts_stopped += 1;
            trace.claimed = trace.claimed.checked_add(*claim_fen).expect("claims are bounded by the loss");
            trace.cashed_out = trace.cashed_out.checked_add(*cashed_out_fen).expect("bounded by the loss");
            if !claim_fen.is_zero() {
                trace.last_hold_ms = Some(trace.last_hold_ms.map_or(*stopped_at_ms, |t| t.max(*stopped_at_ms)));
            }
            let hold = state.holds.entry(account.clone()).or_insert_with(|| Hold {
                case_id: case_id.clone(),
                stop_no: *stop_no,
                held: *held_fen,
                expires_at_ms: *expires_at_ms,
                claims: BTreeMap::new(),
                frozen: false,
            });
            // The balance last read, by a stop or by a read for another case. Each claim is
            // capped by the balance when it is made; the balance may fall below the claims
            // later (a stop that lapsed before its freeze), which the claims still record.
            hold.held = *held_fen;
            if *stop_no > 0 {
                hold.stop_no = *stop_no;
                hold.expires_at_ms = *expires_at_ms;
            }
            if !claim_fen.is_zero() {
                hold.claims.insert(case_id.clone(), *claim_fen);
                let conversion = Conversion { since_ms: Some(*stopped_at_ms), expires_at_ms: *expires_at_ms };
                state.conversions.insert((case_id.clone(), account.clone()), conversion);
            }
        }
        FreezingEvent::HopEnded { case_id, hop, merged_into, .. } => {
            let trace = case_mut(state, case_id);
            let ended = trace.hops.get(hop).expect("ended hop was opened");
            let (traced, arrivals) = (ended.traced, ended.arrivals.clone());
            match merged_into.and_then(|into| trace.hops.get_mut(&into)).filter(|h| h.open) {
                Some(into) => {
                    into.traced = into.traced.checked_add(traced).expect("bounded by the loss");
                    into.arrivals.extend(arrivals);
                }
                None => trace.untraced = trace.untraced.checked_add(traced).expect("bounded by the loss"),
            }
            close_hop(trace, *hop);
        }
        FreezingEvent::TraceCompleted { case_id, .. } => case_mut(state, case_id).completed = true,
        FreezingEvent::AccountFrozen { case_id, account, .. } => {
            if let Some(hold) = state.holds.get_mut(account) {
                hold.frozen = true;
            }
            state.conversions.remove(&(case_id.clone(), account.clone()));
        }
        FreezingEvent::StopRenewed { case_id, account, stop_no, expires_at_ms, renewed_at_ms } => {
            if let Some(hold) = state.holds.get_mut(account) {
                hold.stop_no = *stop_no;
                hold.expires_at_ms = *expires_at_ms;
            }
            let conversion = Conversion { since_ms: *renewed_at_ms, expires_at_ms: *expires_at_ms };
            state.conversions.insert((case_id.clone(), account.clone()), conversion);
        }
        FreezingEvent::FreezeQueued { case_id, account, .. } | FreezingEvent::FreezeFailed { case_id, account, .. } => {
            state.conversions.remove(&(case_id.clone(), account.clone()));
        }
    }
}

fn case_mut<'a>(state: &'a mut State, case_id: &CaseId) -> &'a mut CaseTrace {
    state.cases.get_mut(case_id).expect("events of a case follow its TraceStarted")
}

fn close_hop(trace: &mut CaseTrace, hop: HopId) {
    let hop = trace.hops.get_mut(&hop).expect("closed hop was opened");
    assert!(hop.open, "a hop ends once");
    hop.open = false;
    trace.open_hops -= 1;
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
        (None, Destination::Order(order)) => Some(Action::Resolve { case_id, hop: hop.0, order: order.clone() }),
        (None, Destination::Account(_)) => unreachable!("account hops know their account"),
    }
}

/// When to convert a stop-payment made at `now` and lapsing at `expires_at_ms` into a freeze:
/// after the configured delay, but never later than [`LAPSE_MARGIN_MS`] before the lapse
/// (and never before `now`).
pub fn freeze_due(config: &CoreConfig, now: TimeMs, expires_at_ms: TimeMs) -> TimeMs {
    now.saturating_add(config.freeze_after_ms).min(expires_at_ms.saturating_sub(LAPSE_MARGIN_MS)).max(now)
}

#[cfg(test)]
mod tests {
    //! Given events, when an input arrives, then these events (and actions).
    use super::*;
    use domain::City;
    use protocol::adapter::Direction;

    fn case() -> CaseId {
        CaseId::derive(&City::parse("huzhou").unwrap(), 1)
    }

    fn account(n: u32) -> AccountRef {
        AccountRef::parse(&format!("icbc:{n:08}")).unwrap()
    }

    fn entry(direction: Direction, amount: u64, balance: u64, to: Counterparty, id: &str) -> StatementEntry {
        StatementEntry {
            transfer_id: id.into(),
            at_ms: 10,
            direction,
            amount_fen: Fen::new(amount),
            counterparty: to,
            balance_after_fen: Fen::new(balance),
        }
    }

    /// Decides and applies, returning the events and the actions they call for.
    fn check(state: &mut State, config: &CoreConfig, input: Input) -> (Vec<FreezingEvent>, Vec<Action>) {
        let mut events = decide(state, config, input, 1_000);
        for event in &events {
            apply(state, event);
        }
        if let Some(done) = completion(state, &case(), 1_000) {
            apply(state, &done);
            events.push(done);
        }
        let actions = actions(state, &events);
        (events, actions)
    }

    fn reported(amount: u64) -> Input {
        Input::CaseReported {
            case_id: case(),
            reported_at_ms: 900,
            transfers: vec![Transfer { to: Destination::Account(account(1)), amount: Fen::new(amount), at_ms: 5 }],
            reported_loss: Fen::new(amount),
        }
    }

    fn answered(hop: HopId, held: u64, entries: Vec<StatementEntry>) -> Input {
        Input::AccountAnswered {
            case_id: case(),
            hop,
            asked_at_ms: 0,
            result: Ok(Statement { stop_no: 1, held: Fen::new(held), expires_at_ms: 2_000, entries }),
        }
    }

    #[test]
    fn given_a_new_case_when_reported_then_each_transfer_is_stopped() {
        let mut state = State::default();
        let (events, actions) = check(&mut state, &CoreConfig::default(), reported(10_000));
        assert!(matches!(events[0], FreezingEvent::TraceStarted { .. }));
        assert!(matches!(&events[1], FreezingEvent::HopOpened { hop: 1, depth: 1, .. }));
        assert_eq!(
            actions,
            vec![Action::Stop {
                case_id: case(),
                hop: 1,
                account: account(1),
                since_ms: 5,
                request_id: stop_request_id(&case(), &account(1), 1),
            }]
        );
        let (again, _) = check(&mut state, &CoreConfig::default(), reported(10_000));
        assert!(again.is_empty(), "a case is traced once");
    }

    #[test]
    fn a_log_from_before_stops_opened_their_onward_hops_replays_to_the_same_state() {
        let config = CoreConfig::default();
        let mut live = State::default();
        let mut log = check(&mut live, &config, reported(10_000)).0;
        let statement = vec![
            entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v"),
            entry(Direction::Out, 6_000, 4_000, Counterparty::Account(account(2)), "t2"),
            entry(Direction::Out, 3_000, 1_000, Counterparty::Account(account(3)), "t3"),
        ];
        log.extend(check(&mut live, &config, answered(1, 1_000, statement)).0);
        // The same history as the former format recorded it: the stop without
        // first_onward_hop, then one hop_opened per onward leg.
        let mut former = Vec::new();
        for event in &log {
            match event {
                FreezingEvent::AccountStopped { case_id, hop, onward, first_onward_hop: Some(first), .. } => {
                    let mut old = event.clone();
                    if let FreezingEvent::AccountStopped { first_onward_hop, depth, .. } = &mut old {
                        *first_onward_hop = None;
                        *depth = None;
                    }
                    former.push(old);
                    for (next, leg) in (*first..).zip(onward) {
                        former.push(FreezingEvent::HopOpened {
                            case_id: case_id.clone(),
                            hop: next,
                            parent: Some(*hop),
                            depth: 2,
                            target: leg.to.clone(),
                            traced_fen: leg.amount_fen,
                            since_ms: leg.at_ms,
                            arrival_transfer_id: Some(leg.transfer_id.clone()),
                        });
                    }
                }
                other => former.push(other.clone()),
            }
        }
        assert_eq!(former.len(), log.len() + 2);
        let (mut replayed_new, mut replayed_old) = (State::default(), State::default());
        log.iter().for_each(|e| apply(&mut replayed_new, e));
        former.iter().for_each(|e| apply(&mut replayed_old, e));
        for state in [&replayed_new, &replayed_old] {
            assert_eq!(pending_actions(state), pending_actions(&live));
            assert_eq!(format!("{:?}", state.cases[&case()].hops), format!("{:?}", live.cases[&case()].hops));
        }
        assert_eq!(pending_actions(&live).len(), 2, "hops 2 and 3 wait for their banks");
    }

    #[test]
    fn given_a_stopped_mule_that_forwarded_when_answered_then_money_is_held_and_followed() {
        let mut state = State::default();
        check(&mut state, &CoreConfig::default(), reported(10_000));
        let statement = vec![
            entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v"),
            entry(Direction::Out, 6_000, 4_000, Counterparty::Account(account(2)), "t2"),
            entry(Direction::Out, 3_000, 1_000, Counterparty::CashOut("atm".into()), "t3"),
        ];
        let (events, actions) = check(&mut state, &CoreConfig::default(), answered(1, 1_000, statement));
        let FreezingEvent::AccountStopped {
            claim_fen,
            cashed_out_fen,
            onward,
            answered_in_ms,
            first_onward_hop,
            depth,
            ..
        } = &events[0]
        else {
            panic!()
        };
        assert_eq!((*claim_fen, *cashed_out_fen), (Fen::new(1_000), Fen::new(3_000)));
        assert_eq!(*answered_in_ms, Some(1_000), "asked at 0, decided at 1,000");
        assert_eq!(onward.len(), 1);
        // The stop opens the onward hop itself: no hop_opened event for it.
        assert_eq!((*first_onward_hop, *depth), (Some(2), Some(1)));
        assert_eq!(events.len(), 1, "{events:?}");
        let child = &state.cases[&case()].hops[&2];
        assert_eq!((child.parent, child.depth, child.traced, child.open), (Some(1), 2, Fen::new(6_000), true));
        assert_eq!(child.account.as_ref(), Some(&account(2)));
        assert!(matches!(&actions[..], [Action::Stop { hop: 2, .. }]));

        let last = vec![entry(Direction::In, 6_000, 6_000, Counterparty::Account(account(1)), "t2")];
        let (events, actions) = check(&mut state, &CoreConfig::default(), answered(2, 6_000, last));
        assert!(actions.is_empty());
        let Some(FreezingEvent::TraceCompleted { claimed_fen, cashed_out_fen, time_to_freeze_ms, .. }) = events.last()
        else {
            panic!("trace should complete: {events:?}")
        };
        assert_eq!((*claimed_fen, *cashed_out_fen), (Fen::new(7_000), Fen::new(3_000)));
        assert_eq!(*time_to_freeze_ms, Some(100));
    }

    #[test]
    fn given_a_held_claim_when_the_bank_queues_it_then_the_center_ahead_is_recorded_or_the_reply_refused() {
        let mut state = State::default();
        check(&mut state, &CoreConfig::default(), reported(10_000));
        let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v")];
        check(&mut state, &CoreConfig::default(), answered(1, 10_000, statement));
        let queued = |queued_behind: Option<City>| Input::FreezeAnswered {
            case_id: case(),
            account: account(1),
            result: Ok(FreezeReply {
                status: FreezeStatus::Queued,
                frozen_fen: Fen::ZERO,
                expires_at_ms: 9_000,
                frozen_at_ms: 3_000,
                queued_behind,
            }),
        };
        let events = decide(&state, &CoreConfig::default(), queued(None), 3_000);
        assert!(
            matches!(&events[..], [FreezingEvent::FreezeFailed { reason, .. }] if reason.contains("without naming"))
        );
        let ahead = City::parse("wenzhou").unwrap();
        let events = decide(&state, &CoreConfig::default(), queued(Some(ahead.clone())), 3_000);
        assert!(
            matches!(&events[..], [FreezingEvent::FreezeQueued { queued_behind, claim_fen, .. }] if *queued_behind == ahead && *claim_fen == Fen::new(10_000)),
            "{events:?}"
        );
    }

    #[test]
    fn a_claim_awaits_its_conversion_until_frozen_queued_or_failed_and_a_renewal_moves_it() {
        let config = CoreConfig { freeze_after_ms: 500, ..CoreConfig::default() };
        let mut state = State::default();
        check(&mut state, &config, reported(10_000));
        let statement = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(1_000)), "v")];
        let (events, _) = check(&mut state, &config, answered(1, 10_000, statement));
        let key = (case(), account(1));
        assert_eq!(events.iter().filter_map(conversion_touched).collect::<Vec<_>>(), vec![key.clone()]);
        // Stopped at 1,000 (the `check` clock), lapsing at 2,000: sooner than the lapse
        // margin, so converted at once.
        let waiting = state.conversions[&key];
        assert_eq!(waiting, Conversion { since_ms: Some(1_000), expires_at_ms: 2_000 });
        assert_eq!(conversion_due(&config, &waiting), 1_000);

        let renewed = Input::StopRenewed { case_id: case(), account: account(1), result: Ok((2, 50_000_000)) };
        let events = decide(&state, &config, renewed, 1_800);
        events.iter().for_each(|e| apply(&mut state, e));
        assert_eq!(state.conversions[&key], Conversion { since_ms: Some(1_800), expires_at_ms: 50_000_000 });
        assert_eq!(conversion_due(&config, &state.conversions[&key]), 2_300);

        let frozen = Input::FreezeAnswered {
            case_id: case(),
            account: account(1),
            result: Ok(FreezeReply {
                status: FreezeStatus::Frozen,
                frozen_fen: Fen::new(10_000),
                expires_at_ms: 90_000_000,
                frozen_at_ms: 2_300,
                queued_behind: None,
            }),
        };
        let events = decide(&state, &config, frozen, 2_300);
        events.iter().for_each(|e| apply(&mut state, e));
        assert!(state.conversions.is_empty(), "a frozen claim awaits nothing: {:?}", state.conversions);
        // A renewal recorded before its time was kept converts at the latest safe moment.
        let old = Conversion { since_ms: None, expires_at_ms: 50_000_000 };
        assert_eq!(conversion_due(&config, &old), 50_000_000 - LAPSE_MARGIN_MS);
    }

    #[test]
    fn a_stop_is_converted_after_the_configured_delay_but_always_before_its_lapse() {
        const HOUR: u64 = 60 * 60 * 1000;
        let lapse = 48 * HOUR;
        let quick = CoreConfig { freeze_after_ms: 10 * 60 * 1000, ..CoreConfig::default() };
        assert_eq!(freeze_due(&quick, 1_000, 1_000 + lapse), 1_000 + 10 * 60 * 1000);
        let slow = CoreConfig { freeze_after_ms: 72 * HOUR, ..CoreConfig::default() };
        assert_eq!(freeze_due(&slow, 1_000, 1_000 + lapse), 1_000 + lapse - LAPSE_MARGIN_MS);
        // A stop about to lapse (or already lapsed) is converted at once.
        assert_eq!(freeze_due(&quick, 5 * HOUR, 5 * HOUR + 60_000), 5 * HOUR);
        assert_eq!(freeze_due(&quick, 5 * HOUR, 0), 5 * HOUR);
    }

    #[test]
    fn given_an_account_held_for_one_case_when_another_case_reads_it_then_it_claims_only_the_rest() {
        let mut state = State::default();
        let config = CoreConfig::default();
        check(&mut state, &config, reported(10_000));
        let first = vec![entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v1")];
        check(&mut state, &config, answered(1, 10_000, first));
        // A second victim's money arrives in the held account afterwards.
        let other = CaseId::derive(&City::parse("huzhou").unwrap(), 2);
        let transfers = vec![Transfer { to: Destination::Account(account(1)), amount: Fen::new(5_000), at_ms: 20 }];
        let report = Input::CaseReported {
            case_id: other.clone(),
            reported_at_ms: 950,
            transfers,
            reported_loss: Fen::new(5_000),
        };
        let events = decide(&state, &config, report, 1_000);
        events.iter().for_each(|e| apply(&mut state, e));
        let actions = actions(&state, &events);
        assert!(matches!(&actions[..], [Action::Read { .. }]), "an account held for another case is read: {actions:?}");
        let statement = vec![
            entry(Direction::In, 10_000, 10_000, Counterparty::Account(account(99)), "v1"),
            entry(Direction::In, 5_000, 15_000, Counterparty::Account(account(98)), "v2"),
        ];
        let read = Input::AccountAnswered {
            case_id: other.clone(),
            hop: 1,
            asked_at_ms: 1_000,
            result: Ok(Statement { stop_no: 0, held: Fen::new(15_000), expires_at_ms: 0, entries: statement }),
        };
        let events = decide(&state, &config, read, 1_100);
        events.iter().for_each(|e| apply(&mut state, e));
        let FreezingEvent::AccountStopped { claim_fen, .. } = &events[0] else { panic!("{events:?}") };
        assert_eq!(*claim_fen, Fen::new(5_000));
        let hold = &state.holds[&account(1)];
        assert_eq!(hold.held, Fen::new(15_000));
        assert_eq!(hold.claims.values().copied().map(Fen::get).sum::<u64>(), 15_000);
    }

    #[test]
    fn given_the_depth_bound_when_money_moves_deeper_then_the_hop_ends() {
        let mut state = State::default();
        let config = CoreConfig { max_depth: 1, ..CoreConfig::default() };
        check(&mut state, &config, reported(10_000));
        let statement = vec![entry(Direction::Out, 10_000, 0, Counterparty::Account(account(2)), "t2")];
        let (events, actions) = check(&mut state, &config, answered(1, 0, statement));
        assert!(actions.is_empty());
        assert!(events.iter().any(|e| matches!(e, FreezingEvent::HopEnded { reason: HopEnd::DepthLimit, .. })));
        assert!(
            matches!(events.last(), Some(FreezingEvent::TraceCompleted { untraced_fen, .. }) if *untraced_fen == Fen::new(10_000))
        );
    }

    #[test]
    fn given_two_payments_into_one_account_then_one_stop_follows_both() {
        let mut state = State::default();
        let input = Input::CaseReported {
            case_id: case(),
            reported_at_ms: 900,
            transfers: vec![
                Transfer { to: Destination::Account(account(1)), amount: Fen::new(500), at_ms: 5 },
                Transfer { to: Destination::Account(account(1)), amount: Fen::new(700), at_ms: 6 },
            ],
            reported_loss: Fen::new(1_200),
        };
        let (_, actions) = check(&mut state, &CoreConfig::default(), input);
        assert_eq!(actions.len(), 1, "one stop-payment per case and account");
        assert_eq!(state.cases[&case()].hops[&1].traced, Fen::new(1_200));
    }
}
