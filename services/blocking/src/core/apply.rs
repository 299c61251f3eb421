//! How each event changes the state, and which orders it sends. Replaying the log calls the
//! same function and ignores what it sends; a restart re-sends [`super::pending_orders`].

use domain::City;

use super::state::{Block, Deadline, InFlight, OrderStatus, PoolEntry, State};
use super::{Counterparty, Order, Verb, request_id};
use crate::events::{BlockingEvent, Card, Channel, PoolSubject};
use crate::limits::MAX_CASES_LISTED;
use crate::normalize::Identifier;

/// Applies `event` of `city`'s blocking to `state`; returns the request ids of the orders it
/// sends (now in `state.orders`).
pub fn apply(state: &mut State, city: &City, event: &BlockingEvent) -> Vec<String> {
    match event {
        BlockingEvent::CaseScreened { case_id, .. } => {
            state.cases.insert(case_id.clone(), ());
            Vec::new()
        }
        BlockingEvent::IdentifierRejected { .. } => Vec::new(),
        BlockingEvent::IdentifierBlocked {
            identifier,
            generation,
            case_id,
            fraud_type,
            blocked_at_ms,
            expires_at_ms,
            carriers,
            looks_like,
            province,
        } => {
            let block = state.blocks.get_or_insert_with(identifier, || Block {
                generation: 0,
                active: false,
                cases: Vec::new(),
                case_count: 0,
                fraud_types: Default::default(),
                first_reported_ms: *blocked_at_ms,
                last_reported_ms: *blocked_at_ms,
                blocked_at_ms: *blocked_at_ms,
                expires_at_ms: *expires_at_ms,
                carriers: Default::default(),
                looks_like: looks_like.clone(),
                province: None,
            });
            assert!(!block.active && *generation == block.generation + 1, "a block starts only a new generation");
            block.generation = *generation;
            block.active = true;
            block.blocked_at_ms = *blocked_at_ms;
            block.province = province.clone();
            block.carriers = carriers.iter().map(|c| (*c, OrderStatus::Pending)).collect();
            named(block, case_id, *fraud_type, *blocked_at_ms);
            state.active_by_time.insert((*blocked_at_ms, identifier.clone()), ());
            set_expiry(state, identifier, *expires_at_ms);
            let target = identifier.to_string();
            let orders = carriers.iter().map(|carrier| {
                let to = Counterparty::Carrier(*carrier);
                (
                    order(city, to, &target, Verb::Block, *generation, Vec::new()),
                    Some((identifier.clone(), *generation)),
                )
            });
            send(state, orders.collect())
        }
        BlockingEvent::BlockExtended { identifier, case_id, fraud_type, extended_at_ms, expires_at_ms, .. } => {
            let block = state.blocks.get_mut(identifier).expect("an extended block exists");
            named(block, case_id, *fraud_type, *extended_at_ms);
            // A case of this city's named it: the block rests on this city's own report now,
            // and the province's withdrawal does not lift it.
            block.province = None;
            set_expiry(state, identifier, *expires_at_ms);
            Vec::new()
        }
        BlockingEvent::BlockExpired { identifier, generation, .. }
        | BlockingEvent::BlockLifted { identifier, generation, .. } => {
            let block = state.blocks.get_mut(identifier).expect("an ended block exists");
            block.active = false;
            let carriers: Vec<_> = block.carriers.keys().copied().collect();
            let expiry = (block.expires_at_ms, Deadline::Expiry(identifier.clone()));
            let listed = (block.blocked_at_ms, identifier.clone());
            state.deadlines.remove(&expiry);
            state.active_by_time.remove(&listed);
            let target = identifier.to_string();
            // A block order still unconfirmed is not sent again: the lift supersedes it.
            for carrier in &carriers {
                let id = request_id(city, &Counterparty::Carrier(*carrier), &target, Verb::Block, *generation);
                settle(state, &id);
            }
            let lifts = carriers.iter().map(|carrier| {
                let to = Counterparty::Carrier(*carrier);
                (order(city, to, &target, Verb::Lift, *generation, Vec::new()), None)
            });
            send(state, lifts.collect())
        }
        BlockingEvent::OrderRetrying { request_id, attempt, retry_at_ms, .. } => {
            let in_flight = state.orders.get_mut(request_id).expect("a retried order is in flight");
            in_flight.attempt = *attempt;
            in_flight.retry_at_ms = Some(*retry_at_ms);
            state.deadlines.insert((*retry_at_ms, Deadline::Retry(request_id.clone())), ());
            Vec::new()
        }
        BlockingEvent::OrderResent { request_id, attempt } => {
            let in_flight = state.orders.get_mut(request_id).expect("a resent order is in flight");
            in_flight.attempt = *attempt;
            if let Some(at) = in_flight.retry_at_ms.take() {
                state.deadlines.remove(&(at, Deadline::Retry(request_id.clone())));
            }
            vec![request_id.clone()]
        }
        BlockingEvent::OrderConfirmed { request_id, confirmed_at_ms } => {
            settle_block_order(state, request_id, OrderStatus::Confirmed { at_ms: *confirmed_at_ms });
            Vec::new()
        }
        BlockingEvent::OrderFailed { request_id, .. } => {
            settle_block_order(state, request_id, OrderStatus::Failed);
            Vec::new()
        }
        BlockingEvent::HolderReported { holder, case_id, phones, accounts } => {
            let known = state.holders.get_or_insert_with(holder, Default::default);
            known.cases.insert(case_id.clone());
            known.phones.extend(phones.iter().cloned());
            known.accounts.extend(accounts.iter().cloned());
            for account in accounts {
                state.account_holders.get_or_insert_with(account, Default::default).insert(holder.clone());
            }
            Vec::new()
        }
        BlockingEvent::PoolEntered { subject, generation, case_id, entered_at_ms, release_at_ms, channels, cards } => {
            let entry = state.pool.get_or_insert_with(subject, || PoolEntry {
                generation: 0,
                in_pool: false,
                entered_at_ms: *entered_at_ms,
                release_at_ms: *release_at_ms,
                cases: Default::default(),
                cards: Vec::new(),
            });
            assert!(!entry.in_pool && *generation == entry.generation + 1, "an entry starts a new generation");
            entry.generation = *generation;
            entry.in_pool = true;
            entry.entered_at_ms = *entered_at_ms;
            entry.cases = [case_id.clone()].into();
            entry.cards = cards.clone();
            count_cards(state, cards, true);
            set_release(state, subject, *release_at_ms);
            let orders = restrictions(city, subject, cards, channels, Verb::Restrict, *generation);
            send(state, orders)
        }
        BlockingEvent::PoolInvolved { subject, generation, case_id, release_at_ms, cards } => {
            let entry = state.pool.get_mut(subject).expect("an involved subject is in the pool");
            if entry.cases.len() < MAX_CASES_LISTED {
                entry.cases.insert(case_id.clone());
            }
            entry.cards.extend(cards.iter().cloned());
            count_cards(state, cards, true);
            set_release(state, subject, *release_at_ms);
            // A pool account is restricted already; a card seller's new cards are restricted now.
            match subject {
                PoolSubject::Account(_) => Vec::new(),
                PoolSubject::Holder(_) => {
                    let orders =
                        restrictions(city, subject, cards, &Channel::LOCAL_VOICE_ONLY, Verb::Restrict, *generation);
                    send(state, orders)
                }
            }
        }
        BlockingEvent::PoolReleased { subject, generation, .. } => {
            let entry = state.pool.get_mut(subject).expect("a released subject was in the pool");
            entry.in_pool = false;
            let release = (entry.release_at_ms, Deadline::Release(subject.clone()));
            let (cards, channels) = (entry.cards.clone(), pool_channels(subject));
            state.deadlines.remove(&release);
            count_cards(state, &cards, false);
            for superseded in restrictions(city, subject, &cards, &channels, Verb::Restrict, *generation) {
                settle(state, &superseded.0.request_id);
            }
            send(state, restrictions(city, subject, &cards, &channels, Verb::Unrestrict, *generation))
        }
    }
}

/// What a subject of the pool loses.
pub(super) fn pool_channels(subject: &PoolSubject) -> Vec<Channel> {
    match subject {
        PoolSubject::Account(_) => Channel::BANK_POOL.to_vec(),
        PoolSubject::Holder(_) => Channel::LOCAL_VOICE_ONLY.to_vec(),
    }
}

type Sent = (Order, Option<(Identifier, u32)>);

fn order(city: &City, to: Counterparty, target: &str, verb: Verb, generation: u32, channels: Vec<Channel>) -> Order {
    Order { request_id: request_id(city, &to, target, verb, generation), to, verb, target: target.to_owned(), channels }
}

/// The bank order of a pool account, or the carrier orders of a card seller's cards.
fn restrictions(
    city: &City,
    subject: &PoolSubject,
    cards: &[Card],
    channels: &[Channel],
    verb: Verb,
    generation: u32,
) -> Vec<Sent> {
    match subject {
        PoolSubject::Account(account) => {
            vec![(
                order(city, Counterparty::Bank(account.bank()), account.as_str(), verb, generation, channels.to_vec()),
                None,
            )]
        }
        PoolSubject::Holder(_) => cards
            .iter()
            .flat_map(|card| {
                let target = card.phone.to_string();
                card.carriers.iter().map(move |carrier| {
                    let to = Counterparty::Carrier(*carrier);
                    (order(city, to, &target, verb, generation, channels.to_vec()), None)
                })
            })
            .collect(),
    }
}

/// A card seller's phone cards entering (`true`) or leaving the pool: each card counts the
/// pool entries that list it ([`State::pool_cards`]), and leaves the table at zero.
fn count_cards(state: &mut State, cards: &[Card], entering: bool) {
    for card in cards {
        let count = state.pool_cards.get(&card.phone).map_or(0, |n| *n);
        let count = if entering { count.saturating_add(1) } else { count.saturating_sub(1) };
        if count == 0 {
            state.pool_cards.remove(&card.phone);
        } else {
            state.pool_cards.insert(card.phone.clone(), count);
        }
    }
}

fn send(state: &mut State, orders: Vec<Sent>) -> Vec<String> {
    orders
        .into_iter()
        .map(|(order, block)| {
            let id = order.request_id.clone();
            state.orders.insert(id.clone(), InFlight { order, attempt: 1, retry_at_ms: None, block });
            id
        })
        .collect()
}

/// Removes an order from those in flight, with its retry deadline.
fn settle(state: &mut State, request_id: &str) -> Option<InFlight> {
    let in_flight = state.orders.remove(&request_id.to_owned())?;
    if let Some(at) = in_flight.retry_at_ms {
        state.deadlines.remove(&(at, Deadline::Retry(request_id.to_owned())));
    }
    Some(in_flight)
}

fn settle_block_order(state: &mut State, request_id: &str, status: OrderStatus) {
    let settled = settle(state, request_id).expect("a settled order was in flight");
    if let (Some((identifier, generation)), Counterparty::Carrier(carrier)) = (settled.block, &settled.order.to)
        && let Some(block) = state.blocks.get_mut(&identifier).filter(|b| b.generation == generation)
    {
        block.carriers.insert(*carrier, status);
    }
}

fn named(block: &mut Block, case_id: &domain::CaseId, fraud_type: domain::FraudType, at_ms: domain::TimeMs) {
    if block.cases.len() < MAX_CASES_LISTED {
        block.cases.push(case_id.clone());
    }
    block.case_count = block.case_count.saturating_add(1);
    block.fraud_types.insert(fraud_type);
    block.last_reported_ms = block.last_reported_ms.max(at_ms);
}

fn set_expiry(state: &mut State, identifier: &Identifier, expires_at_ms: domain::TimeMs) {
    let block = state.blocks.get_mut(identifier).expect("the block exists");
    let before = (block.expires_at_ms, Deadline::Expiry(identifier.clone()));
    block.expires_at_ms = expires_at_ms;
    state.deadlines.remove(&before);
    state.deadlines.insert((expires_at_ms, Deadline::Expiry(identifier.clone())), ());
}

fn set_release(state: &mut State, subject: &PoolSubject, release_at_ms: domain::TimeMs) {
    let entry = state.pool.get_mut(subject).expect("the entry exists");
    let before = (entry.release_at_ms, Deadline::Release(subject.clone()));
    entry.release_at_ms = release_at_ms;
    state.deadlines.remove(&before);
    state.deadlines.insert((release_at_ms, Deadline::Release(subject.clone())), ());
}
