//! What each input causes: the events to record. Pure: the state, the input and `now` in,
//! events (or a typed [`Rejection`]) out.

use std::collections::BTreeSet;

use ::events::province::{ProvinceBlockNotice, ProvinceUnblockNotice};
use domain::calendar::{civil_from_days, days_from_civil};
use domain::report::Contacts;
use domain::{AccountRef, CaseId, FraudType, TimeMs};

use super::carriers::carriers_for;
use super::state::{Deadline, State};
use super::{CoreConfig, Input, Rejection};
use crate::events::{Appeal, BlockingEvent, Card, HolderKey, OrderErrorKind, PoolSubject, ProvinceOrigin};
use crate::limits::{
    CARD_SELLER_CASES, MAX_CARDS_PER_HOLDER, MAX_IDENTIFIERS_PER_CASE, MAX_NOTICE_CITIES, MAX_ORDER_ATTEMPTS,
    MAX_STAFF_TEXT_CHARS, ORDER_RETRY_BACKOFF_MS, POOL_YEARS, TIMER_BATCH,
};
use crate::normalize::{ContactKind, Identifier, NormalizeError, Reason, looks_like, normalize};

/// The appeal's reason on a block the province withdrew, before the city whose lift withdrew
/// it.
const PROVINCE_UNBLOCK_REASON: &str = "withdrawn by the province: lifted in ";

/// The appeal's operator on a block the province withdrew: no one of this center's staff.
const PROVINCE_OPERATOR: &str = "province";

/// The events `input` causes at `now`.
pub fn decide(state: &State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Vec<BlockingEvent>, Rejection> {
    match input {
        Input::CaseReported { case_id, reported_at_ms, fraud_type, contacts } => {
            if state.cases.contains_key(&case_id) {
                return Err(Rejection::CaseKnown { case_id });
            }
            Ok(case_reported(state, config, case_id, reported_at_ms, fraud_type, &contacts, now))
        }
        Input::MoneyHeld { case_id, account } => money_held(state, case_id, account, now),
        Input::HolderReported { case_id, holder, phones, accounts } => {
            holder_reported(state, case_id, holder, &phones, accounts, now)
        }
        Input::OrderAnswered { request_id, result } => order_answered(state, request_id, result, now),
        Input::TimerFired => Ok(timers(state, now)),
        Input::Lift { identifier, appeal } => lift(state, identifier, appeal, now),
        Input::ProvinceBlock(notice) => province_block(state, config, notice, now),
        Input::ProvinceUnblock(notice) => province_unblock(state, notice, now),
        Input::PoolAppeal { subject, appeal } => {
            check_appeal(&appeal)?;
            let entry = state
                .pool
                .get(&subject)
                .filter(|e| e.in_pool)
                .ok_or_else(|| Rejection::NotInPool { subject: subject.clone() })?;
            Ok(vec![BlockingEvent::PoolReleased {
                generation: entry.generation,
                subject,
                released_at_ms: now,
                appeal: Some(appeal),
            }])
        }
    }
}

/// A case's contacts: one `case_screened`, a rejection per contact that cannot be blocked, and
/// a block or an extension per identifier (once each, however often the case names it).
fn case_reported(
    state: &State,
    config: &CoreConfig,
    case_id: CaseId,
    reported_at_ms: TimeMs,
    fraud_type: FraudType,
    contacts: &Contacts,
    now: TimeMs,
) -> Vec<BlockingEvent> {
    let given = [
        (ContactKind::Phone, &contacts.phones),
        (ContactKind::Url, &contacts.urls),
        (ContactKind::App, &contacts.apps),
        (ContactKind::Social, &contacts.social),
    ];
    let mut identifiers = Vec::new();
    let mut rejected = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, (kind, value)) in
        given.iter().flat_map(|(kind, values)| values.iter().map(move |v| (*kind, v))).enumerate()
    {
        let outcome = if index >= MAX_IDENTIFIERS_PER_CASE {
            Err(NormalizeError::new(kind, value, Reason::TooMany))
        } else {
            normalize(kind, value).and_then(|id| {
                if config.never_block.contains(&id) {
                    Err(NormalizeError::new(kind, value, Reason::Protected))
                } else {
                    Ok(id)
                }
            })
        };
        match outcome {
            Ok(identifier) if seen.insert(identifier.clone()) => identifiers.push(identifier),
            Ok(_) => {}
            Err(problem) => rejected.push(problem),
        }
    }
    let mut events = vec![BlockingEvent::CaseScreened {
        case_id: case_id.clone(),
        reported_at_ms,
        identifiers: count(identifiers.len()),
        rejected: count(rejected.len()),
    }];
    events.extend(rejected.into_iter().map(|problem| BlockingEvent::IdentifierRejected {
        case_id: case_id.clone(),
        kind: problem.kind,
        value: problem.value,
        reason: problem.reason,
    }));
    for identifier in identifiers {
        let expires_at_ms = now.saturating_add(config.block_life_ms(identifier.kind()));
        events.push(match state.active_block(&identifier) {
            Some(block) => BlockingEvent::BlockExtended {
                generation: block.generation,
                expires_at_ms: expires_at_ms.max(block.expires_at_ms),
                identifier,
                case_id: case_id.clone(),
                fraud_type,
                extended_at_ms: now,
            },
            None => BlockingEvent::IdentifierBlocked {
                generation: state.blocks.get(&identifier).map_or(1, |b| b.generation + 1),
                carriers: carriers_for(&identifier),
                looks_like: looks_like(&identifier),
                identifier,
                case_id: case_id.clone(),
                fraud_type,
                blocked_at_ms: now,
                expires_at_ms,
                province: None,
            },
        });
    }
    events
}

fn count(n: usize) -> u32 {
    u32::try_from(n).expect("bounded by MAX_IDENTIFIERS_PER_CASE")
}

/// The province's block of an identifier two or more cities blocked: blocked here as a
/// city's own block is (this city's block life and carriers), under the first city's case,
/// unless it is blocked here already (nothing to record) or on the never-block list.
fn province_block(
    state: &State,
    config: &CoreConfig,
    notice: ProvinceBlockNotice,
    now: TimeMs,
) -> Result<Vec<BlockingEvent>, Rejection> {
    let ProvinceBlockNotice { identifier, cities, case_id, fraud_type, decided_at_ms, .. } = notice;
    let accepted = format!("2 to {MAX_NOTICE_CITIES} distinct cities");
    if !(2..=MAX_NOTICE_CITIES).contains(&cities.len()) {
        let value = format!("{} cities", cities.len());
        return Err(Rejection::InvalidNotice { field: "cities", value, expected: accepted });
    }
    let mut distinct = BTreeSet::new();
    if let Some(twice) = cities.iter().find(|city| !distinct.insert(*city)) {
        return Err(Rejection::InvalidNotice { field: "cities", value: format!("{twice} twice"), expected: accepted });
    }
    if config.never_block.contains(&identifier) {
        return Err(Rejection::NeverBlocked { identifier });
    }
    if state.active_block(&identifier).is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![BlockingEvent::IdentifierBlocked {
        generation: state.blocks.get(&identifier).map_or(1, |b| b.generation + 1),
        carriers: carriers_for(&identifier),
        looks_like: looks_like(&identifier),
        expires_at_ms: now.saturating_add(config.block_life_ms(identifier.kind())),
        identifier,
        case_id,
        fraud_type,
        blocked_at_ms: now,
        province: Some(ProvinceOrigin { cities, decided_at_ms }),
    }])
}

/// A block lifted (an appeal: staff's, or the province's withdrawal): `block_lifted`, whose
/// carriers' lift orders `apply` sends.
fn lift(state: &State, identifier: Identifier, appeal: Appeal, now: TimeMs) -> Result<Vec<BlockingEvent>, Rejection> {
    check_appeal(&appeal)?;
    let block =
        state.active_block(&identifier).ok_or_else(|| Rejection::NotBlocked { identifier: identifier.clone() })?;
    Ok(vec![BlockingEvent::BlockLifted { generation: block.generation, identifier, lifted_at_ms: now, appeal }])
}

/// The province withdraws its block: lifted here as staff lift a block, when the block held
/// here is the province's; a block of this city's own (or none) stays as it is, and nothing
/// is recorded (a notice heard again finds the block lifted already).
fn province_unblock(
    state: &State,
    notice: ProvinceUnblockNotice,
    now: TimeMs,
) -> Result<Vec<BlockingEvent>, Rejection> {
    let ProvinceUnblockNotice { identifier, lifted_in, .. } = notice;
    if state.active_block(&identifier).is_none_or(|block| block.province.is_none()) {
        return Ok(Vec::new());
    }
    let appeal =
        Appeal { reason: format!("{PROVINCE_UNBLOCK_REASON}{lifted_in}"), operator: PROVINCE_OPERATOR.to_owned() };
    lift(state, identifier, appeal, now)
}

/// An account that held victim money enters the pool, or its release moves.
fn money_held(
    state: &State,
    case_id: CaseId,
    account: AccountRef,
    now: TimeMs,
) -> Result<Vec<BlockingEvent>, Rejection> {
    let subject = PoolSubject::Account(account.clone());
    if state.pool.get(&subject).is_some_and(|e| e.in_pool && e.cases.contains(&case_id)) {
        return Err(Rejection::AlreadyInvolved { subject: subject.to_string(), case_id });
    }
    // An account in the pool is restricted already: no order goes to its bank, whose answer
    // would name its holder. The holder its bank named before is named in this case too, so
    // one account in two cases makes a card seller as two accounts in two cases do. (An
    // account entering the pool is ordered restricted, and its bank's answer names the holder.)
    let holders: Vec<HolderKey> = if state.in_pool(&subject) {
        state.account_holders.get(&account).map(|holders| holders.iter().cloned().collect()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut involved = BTreeSet::from([subject.clone()]);
    let mut events = vec![involve(state, subject, case_id.clone(), Vec::new(), now)];
    for holder in holders {
        // A holder named in this case already adds nothing.
        let Ok(named) = holder_reported(state, case_id.clone(), holder, &[], Vec::new(), now) else { continue };
        // Two holders listing one other account (a bank's inconsistent records) put it in the
        // pool once.
        events.extend(named.into_iter().filter(|event| match event {
            BlockingEvent::PoolEntered { subject, .. } | BlockingEvent::PoolInvolved { subject, .. } => {
                involved.insert(subject.clone())
            }
            _ => true,
        }));
    }
    Ok(events)
}

/// `pool_entered` for a subject not in the pool, `pool_involved` for one in it.
fn involve(state: &State, subject: PoolSubject, case_id: CaseId, cards: Vec<Card>, now: TimeMs) -> BlockingEvent {
    let release_at_ms = years_later(now, POOL_YEARS);
    match state.pool.get(&subject) {
        Some(entry) if entry.in_pool => {
            BlockingEvent::PoolInvolved { generation: entry.generation, subject, case_id, release_at_ms, cards }
        }
        previous => BlockingEvent::PoolEntered {
            generation: previous.map_or(1, |e| e.generation + 1),
            channels: super::apply::pool_channels(&subject),
            subject,
            case_id,
            entered_at_ms: now,
            release_at_ms,
            cards,
        },
    }
}

/// A holder named in a case: recorded; at the `CARD_SELLER_CASES`-th case, a card seller: their
/// phone cards restricted to local voice and their accounts put in the pool.
fn holder_reported(
    state: &State,
    case_id: CaseId,
    holder: HolderKey,
    phones: &[String],
    accounts: Vec<AccountRef>,
    now: TimeMs,
) -> Result<Vec<BlockingEvent>, Rejection> {
    let known = state.holders.get(&holder);
    let known = known.as_deref();
    let mut events = Vec::new();
    let mut new_phones = Vec::new();
    let room = MAX_CARDS_PER_HOLDER.saturating_sub(known.map_or(0, |h| h.phones.len()));
    for raw in phones {
        let outcome = normalize(ContactKind::Phone, raw).and_then(|phone| {
            if new_phones.len() >= room {
                Err(NormalizeError::new(ContactKind::Phone, raw, Reason::TooMany))
            } else {
                Ok(phone)
            }
        });
        match outcome {
            Ok(phone) if !known.is_some_and(|h| h.phones.contains(&phone)) && !new_phones.contains(&phone) => {
                new_phones.push(phone)
            }
            Ok(_) => {}
            Err(problem) => events.push(BlockingEvent::IdentifierRejected {
                case_id: case_id.clone(),
                kind: problem.kind,
                value: problem.value,
                reason: problem.reason,
            }),
        }
    }
    let new_accounts: Vec<AccountRef> =
        accounts.into_iter().filter(|a| !known.is_some_and(|h| h.accounts.contains(a))).collect();
    let new_case = !known.is_some_and(|h| h.cases.contains(&case_id));
    if !new_case && new_phones.is_empty() && new_accounts.is_empty() {
        return Err(Rejection::AlreadyInvolved { subject: format!("holder:{holder}"), case_id });
    }
    events.push(BlockingEvent::HolderReported {
        holder: holder.clone(),
        case_id: case_id.clone(),
        phones: new_phones.clone(),
        accounts: new_accounts.clone(),
    });
    let cases = known.map_or(0, |h| h.cases.len()) + usize::from(new_case);
    if cases < CARD_SELLER_CASES {
        return Ok(events);
    }
    let subject = PoolSubject::Holder(holder.clone());
    let in_pool = state.in_pool(&subject);
    let cards_of = |phones: &mut dyn Iterator<Item = &Identifier>| -> Vec<Card> {
        phones.map(|phone| Card { phone: phone.clone(), carriers: carriers_for(phone) }).collect()
    };
    let cards = if in_pool {
        cards_of(&mut new_phones.iter())
    } else {
        cards_of(&mut known.into_iter().flat_map(|h| h.phones.iter()).chain(new_phones.iter()))
    };
    if in_pool && !new_case && cards.is_empty() {
        return Ok(events);
    }
    events.push(involve(state, subject, case_id.clone(), cards, now));
    let mut all_accounts: BTreeSet<AccountRef> = known.into_iter().flat_map(|h| h.accounts.iter().cloned()).collect();
    all_accounts.extend(new_accounts.iter().cloned());
    for account in all_accounts {
        let subject = PoolSubject::Account(account);
        if !state.in_pool(&subject) {
            events.push(involve(state, subject, case_id.clone(), Vec::new(), now));
        }
    }
    Ok(events)
}

/// The answer to an order: confirmed, to retry after a pause, or failed for good.
fn order_answered(
    state: &State,
    request_id: String,
    result: Result<(), OrderErrorKind>,
    now: TimeMs,
) -> Result<Vec<BlockingEvent>, Rejection> {
    let Some(in_flight) = state.orders.get(&request_id) else {
        return Err(Rejection::NotAwaited { request_id });
    };
    Ok(vec![match result {
        Ok(()) => BlockingEvent::OrderConfirmed { request_id, confirmed_at_ms: now },
        // A late failure of an attempt already being retried changes nothing.
        Err(_) if in_flight.retry_at_ms.is_some() => return Err(Rejection::NotAwaited { request_id }),
        Err(error) if error.is_transient() && in_flight.attempt < MAX_ORDER_ATTEMPTS => {
            let pause = ORDER_RETRY_BACKOFF_MS[(in_flight.attempt as usize - 1).min(ORDER_RETRY_BACKOFF_MS.len() - 1)];
            BlockingEvent::OrderRetrying { request_id, attempt: in_flight.attempt, retry_at_ms: now + pause, error }
        }
        Err(error) => BlockingEvent::OrderFailed { request_id, attempts: in_flight.attempt, error },
    }])
}

/// Every deadline that has come (at most `TIMER_BATCH`): expiries, releases, retries.
fn timers(state: &State, now: TimeMs) -> Vec<BlockingEvent> {
    let mut due = Vec::new();
    state.deadlines.scan(None, |(at, deadline), ()| {
        let take = *at <= now && due.len() < TIMER_BATCH;
        if take {
            due.push(deadline.clone());
        }
        take
    });
    due.iter()
        .map(|deadline| match deadline {
            Deadline::Expiry(identifier) => {
                let block = state.blocks.get(identifier).expect("an expiry is of a block");
                BlockingEvent::BlockExpired {
                    identifier: identifier.clone(),
                    generation: block.generation,
                    expired_at_ms: now,
                }
            }
            Deadline::Release(subject) => {
                let entry = state.pool.get(subject).expect("a release is of a pool entry");
                BlockingEvent::PoolReleased {
                    subject: subject.clone(),
                    generation: entry.generation,
                    released_at_ms: now,
                    appeal: None,
                }
            }
            Deadline::Retry(request_id) => {
                let in_flight = state.orders.get(request_id).expect("a retry is of an order in flight");
                BlockingEvent::OrderResent { request_id: request_id.clone(), attempt: in_flight.attempt + 1 }
            }
        })
        .collect()
}

fn check_appeal(appeal: &Appeal) -> Result<(), Rejection> {
    for (field, text) in [("reason", &appeal.reason), ("operator", &appeal.operator)] {
        let chars = text.trim().chars().count();
        if chars == 0 || chars > MAX_STAFF_TEXT_CHARS || text.chars().any(char::is_control) {
            return Err(Rejection::InvalidAppeal {
                field,
                expected: format!("1-{MAX_STAFF_TEXT_CHARS} characters without control characters"),
            });
        }
    }
    Ok(())
}

/// `at` moved `years` calendar years on, same time of day (29 February becomes 1 March).
pub(super) fn years_later(at: TimeMs, years: i64) -> TimeMs {
    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    let (year, month, day) = civil_from_days((at / DAY_MS) as i64);
    let (month, day) = if (month, day) == (2, 29) { (3, 1) } else { (month, day) };
    let days = days_from_civil(year + years, month, day);
    u64::try_from(days).expect("a time after the epoch stays after it") * DAY_MS + at % DAY_MS
}
