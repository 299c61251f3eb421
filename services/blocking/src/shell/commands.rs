//! Blocking's commands (`protocol::blocking`): `check` reads the blocked-identifier index and
//! `list` the state the engine shares (a read lock, no store), `lift` goes through the engine and is answered once
//! committed, and `case` reads the case's rows the engine wrote beside its events.

use std::ops::Bound;

use bytes::Bytes;
use domain::TimeMs;
use protocol::blocking::{
    BlockSummary, BlockingError, BlockingErrorKind, CarrierStatus, CaseBlocking, CaseEntry, CaseEntryKind, CaseRequest,
    CheckReply, CheckRequest, LiftReply, LiftRequest, ListCursor, ListReply, ListRequest, MAX_LIST_PAGE, MAX_LIST_SCAN,
    OrderState, Problem, VERB_CASE, VERB_CHECK, VERB_LIFT, VERB_LIST,
};
use runtime::Router;
use serde::de::DeserializeOwned;
use store::redb::TableDefinition;
use store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use super::engine::{EngineMsg, StaffRefusal};
use super::{Shared, SharedIndex};
use crate::core::{Block, Input, OrderStatus, Rejection};
use crate::events::{Appeal, BlockingEvent};
use crate::normalize::{ContactKind, Identifier, NormalizeError, normalize};

/// (case id, blocking's sequence number) → (the event's time, the blocking event, MessagePack):
/// what blocking did with each case, for `afc case show`. Written with the events.
pub const CASE_ROWS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("case_rows");

const KINDS_EXPECTED: &str = "phone, url, domain, app or social";

fn error(kind: BlockingErrorKind, message: impl Into<String>) -> BlockingError {
    BlockingError { kind, message: message.into(), problems: Vec::new() }
}

fn parse<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, BlockingError> {
    serde_json::from_slice(body).map_err(|e| error(BlockingErrorKind::NotJson, format!("expected {shape}: {e}")))
}

/// `value` read as a contact of `kind`, normalised as a report's contacts are.
fn identifier(kind: &str, value: &str) -> Result<Identifier, BlockingError> {
    let Some(kind) = ContactKind::parse(kind) else {
        return Err(unknown_kind(kind));
    };
    normalize(kind, value).map_err(invalid_value)
}

fn unknown_kind(kind: &str) -> BlockingError {
    let problem =
        Problem { field: "kind".into(), value: crate::normalize::echo(kind), expected: KINDS_EXPECTED.into() };
    BlockingError { problems: vec![problem], ..error(BlockingErrorKind::Invalid, "unknown kind") }
}

fn invalid_value(e: NormalizeError) -> BlockingError {
    let problem = Problem { field: "value".into(), value: e.value.clone(), expected: e.expected() };
    BlockingError { problems: vec![problem], ..error(BlockingErrorKind::Invalid, e.reason.to_string()) }
}

/// The answer of the blocked-identifier index, which follows the state event by event (the
/// rule is `core::lookup`'s; the index gives it without scanning the pool).
/// A block of the province's reads its cities from the state's row (the index holds no
/// cities): only a blocked answer reads it, one row.
fn check(index: &SharedIndex, state: &Shared, body: &[u8]) -> Result<CheckReply, BlockingError> {
    let request: CheckRequest = parse(body, r#"{"kind": "phone|url|domain|app|social", "value": "..."}"#)?;
    let identifier = identifier(&request.kind, &request.value)?;
    let facts = index.read().expect("the engine never panics holding the index").get(&identifier);
    let answer = facts.unwrap_or_default().answer(identifier);
    let blocked = answer.blocked.as_ref();
    let province_cities = match blocked {
        Some(_) => state
            .read()
            .expect("the engine never panics holding the state")
            .active_block(&answer.identifier)
            .and_then(|block| block.province.as_ref().map(|origin| origin.cities.clone()))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(CheckReply {
        identifier: answer.identifier.to_string(),
        blocked: blocked.is_some(),
        since_ms: blocked.map(|b| b.since_ms),
        expires_at_ms: blocked.map(|b| b.expires_at_ms),
        case_count: blocked.map_or(0, |b| b.case_count),
        fraud_types: blocked.map(|b| b.fraud_types.iter().copied().collect()).unwrap_or_default(),
        in_pool: answer.in_pool,
        province_cities,
    })
}

fn summary(identifier: &Identifier, block: &Block) -> BlockSummary {
    let carriers = block
        .carriers
        .iter()
        .map(|(carrier, status)| CarrierStatus {
            carrier: *carrier,
            status: match status {
                OrderStatus::Pending => OrderState::Pending,
                OrderStatus::Confirmed { .. } => OrderState::Confirmed,
                OrderStatus::Failed => OrderState::Failed,
            },
        })
        .collect();
    BlockSummary {
        identifier: identifier.to_string(),
        generation: block.generation,
        active: block.active,
        blocked_at_ms: block.blocked_at_ms,
        expires_at_ms: block.expires_at_ms,
        case_count: block.case_count,
        fraud_types: block.fraud_types.iter().copied().collect(),
        carriers,
        looks_like: block.looks_like.clone(),
        province_cities: block.province.as_ref().map(|origin| origin.cities.clone()).unwrap_or_default(),
    }
}

/// Active blocks started at or after `since_ms` (and after the cursor), oldest first: a page
/// costs the rows it returns, however many blocks the center holds.
fn list(state: &Shared, body: &[u8]) -> Result<ListReply, BlockingError> {
    let request: ListRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ListRequest::default()
    } else {
        parse(body, r#"{"since_ms": <ms>, "after": {...}, "limit": <1-200>, "kind": "phone|domain|ip|app|social"}"#)?
    };
    let limit = request.limit.map_or(MAX_LIST_PAGE, |l| l as usize);
    if !(1..=MAX_LIST_PAGE).contains(&limit) {
        let problem =
            Problem { field: "limit".into(), value: limit.to_string(), expected: format!("1 to {MAX_LIST_PAGE}") };
        return Err(BlockingError {
            problems: vec![problem],
            ..error(BlockingErrorKind::Invalid, "limit out of range")
        });
    }
    // From the cursor when there is one (past `since`), else from `since`: the active blocks
    // by their time, read page by page from the store (`State::active_by_time`).
    let since = request.since_ms.to_be_bytes().to_vec();
    let from = match request.after {
        Some(cursor) => {
            let mut key = cursor.blocked_at_ms.to_be_bytes().to_vec();
            key.extend_from_slice(cursor.identifier.as_bytes());
            if key >= since { Bound::Excluded(key) } else { Bound::Included(since) }
        }
        None => Bound::Included(since),
    };
    // Filtered by kind, a page reads at most MAX_LIST_SCAN blocks, and ends where it stopped.
    let state = state.read().expect("the engine never panics holding the state");
    let mut page: Vec<(TimeMs, Identifier)> = Vec::new();
    let (mut read, mut last_read) = (0usize, None);
    state.active_by_time.scan_from(from, |listed, ()| {
        read += 1;
        if request.kind.is_none_or(|kind| listed.1.kind() == kind) {
            page.push(listed.clone());
        }
        let going = page.len() <= limit && read < MAX_LIST_SCAN;
        if !going {
            last_read = Some(listed.clone());
        }
        going
    });
    let cursor = |(at, id): &(TimeMs, Identifier)| ListCursor { blocked_at_ms: *at, identifier: id.to_string() };
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(cursor)
    } else {
        // Stopped by the bound: the blocks after the last read may be of the kind.
        last_read.as_ref().map(cursor)
    };
    let blocks = page
        .iter()
        .filter_map(|(_, identifier)| state.blocks.get(identifier).map(|block| summary(identifier, &block)))
        .collect();
    Ok(ListReply { blocks, next })
}

async fn lift(state: &Shared, engine: &mpsc::Sender<EngineMsg>, body: &[u8]) -> Result<LiftReply, BlockingError> {
    let request: LiftRequest =
        parse(body, r#"{"kind": "phone|url|domain|app|social", "value": "...", "reason": "...", "operator": "..."}"#)?;
    let identifier = identifier(&request.kind, &request.value)?;
    let lifted_id = identifier.clone();
    let appeal = Appeal { reason: request.reason, operator: request.operator };
    let (reply, answer) = oneshot::channel();
    let unavailable = || error(BlockingErrorKind::Unavailable, "the blocking engine stopped");
    engine.send(EngineMsg::Staff(Input::Lift { identifier, appeal }, reply)).await.map_err(|_| unavailable())?;
    let events = match answer.await.map_err(|_| unavailable())? {
        Ok(events) => events,
        Err(StaffRefusal::Unavailable(message)) => return Err(error(BlockingErrorKind::Unavailable, message)),
        Err(StaffRefusal::Rejected(Rejection::NotBlocked { identifier })) => {
            return Err(error(BlockingErrorKind::NotBlocked, format!("{identifier} is not blocked")));
        }
        Err(StaffRefusal::Rejected(Rejection::InvalidAppeal { field, expected })) => {
            let problem = Problem { field: field.into(), value: String::new(), expected };
            return Err(BlockingError {
                problems: vec![problem],
                ..error(BlockingErrorKind::Invalid, format!("invalid {field}"))
            });
        }
        Err(StaffRefusal::Rejected(other)) => return Err(error(BlockingErrorKind::Invalid, other.to_string())),
    };
    let lifted = events.iter().find_map(|event| match event {
        BlockingEvent::BlockLifted { identifier, generation, lifted_at_ms, .. } => {
            Some((identifier.to_string(), *generation, *lifted_at_ms))
        }
        _ => None,
    });
    let Some((identifier, generation, lifted_at_ms)) = lifted else {
        return Err(error(BlockingErrorKind::Unavailable, "the lift recorded no event"));
    };
    // The carriers asked to lift it are those its block was ordered from.
    let carriers = state
        .read()
        .expect("the engine never panics holding the state")
        .blocks
        .get(&lifted_id)
        .map(|block| block.carriers.keys().copied().collect())
        .unwrap_or_default();
    Ok(LiftReply { identifier, generation, lifted_at_ms, carriers })
}

fn entry(at_ms: TimeMs, event: BlockingEvent) -> Option<CaseEntry> {
    let list = |carriers: &[domain::Carrier]| carriers.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    let (kind, subject, detail, account) = match event {
        BlockingEvent::CaseScreened { identifiers, rejected, .. } => (
            CaseEntryKind::Screened,
            String::new(),
            format!("{identifiers} identifier(s) read, {rejected} refused"),
            None,
        ),
        BlockingEvent::IdentifierRejected { kind, value, reason, .. } => {
            (CaseEntryKind::Refused, format!("{kind}: {value}"), reason.to_string(), None)
        }
        BlockingEvent::IdentifierBlocked { identifier, carriers, expires_at_ms, generation, province, .. } => {
            let mut detail =
                format!("block {generation}, ordered from [{}], expires at {expires_at_ms}", list(&carriers));
            if let Some(origin) = province {
                let cities: Vec<&str> = origin.cities.iter().map(|c| c.as_str()).collect();
                detail.push_str(&format!(", for the province (blocked first in {})", cities.join(", ")));
            }
            (CaseEntryKind::Blocked, identifier.to_string(), detail, None)
        }
        BlockingEvent::BlockExtended { identifier, expires_at_ms, .. } => {
            (CaseEntryKind::Extended, identifier.to_string(), format!("now expires at {expires_at_ms}"), None)
        }
        BlockingEvent::PoolEntered { subject, release_at_ms, channels, .. } => {
            let cut: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            let account = match &subject {
                crate::events::PoolSubject::Account(account) => Some(account.clone()),
                crate::events::PoolSubject::Holder(_) => None,
            };
            let detail = format!("cut [{}] until {release_at_ms}", cut.join(", "));
            (CaseEntryKind::PoolEntered, subject.to_string(), detail, account)
        }
        BlockingEvent::PoolInvolved { subject, release_at_ms, .. } => {
            (CaseEntryKind::PoolInvolved, subject.to_string(), format!("release moved to {release_at_ms}"), None)
        }
        BlockingEvent::HolderReported { holder, phones, accounts, .. } => (
            CaseEntryKind::HolderReported,
            format!("holder:{holder}"),
            format!("{} phone card(s), {} account(s)", phones.len(), accounts.len()),
            None,
        ),
        _ => return None,
    };
    Some(CaseEntry { at_ms, kind, subject, detail, account })
}

async fn case(store: &Store, body: &[u8]) -> Result<CaseBlocking, BlockingError> {
    let request: CaseRequest = parse(body, r#"{"case_id": "<city>-<16 hex>"}"#)?;
    let key = request.case_id.to_string();
    let rows = store
        .read(move |tx| {
            let table = match tx.open_table(CASE_ROWS) {
                Ok(table) => table,
                Err(store::redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let rows = table
                .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
                .map(|row| row.map(|(_, v)| v.value().to_vec()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, StoreError>(rows)
        })
        .await
        .map_err(|e| error(BlockingErrorKind::Unavailable, e.to_string()))?;
    let mut entries = Vec::with_capacity(rows.len());
    for bytes in rows {
        let (at_ms, event): (TimeMs, Vec<u8>) = rmp_serde::from_slice(&bytes)
            .map_err(|e| error(BlockingErrorKind::Unavailable, format!("a stored row is unreadable: {e}")))?;
        let event: BlockingEvent = rmp_serde::from_slice(&event)
            .map_err(|e| error(BlockingErrorKind::Unavailable, format!("a stored row is unreadable: {e}")))?;
        entries.extend(entry(at_ms, event));
    }
    Ok(CaseBlocking { entries })
}

/// Blocking's commands.
pub(super) fn router(state: Shared, index: SharedIndex, store: Store, engine: mpsc::Sender<EngineMsg>) -> Router {
    let (checked, listed, lifted) = ((index, state.clone()), state.clone(), state);
    Router::new()
        .verb(VERB_CHECK, move |body: Bytes| {
            let (index, state) = checked.clone();
            async move { check(&index, &state, &body) }
        })
        .verb(VERB_LIST, move |body: Bytes| {
            let state = listed.clone();
            async move { list(&state, &body) }
        })
        .verb(VERB_LIFT, move |body: Bytes| {
            let (state, engine) = (lifted.clone(), engine.clone());
            async move {
                let result = lift(&state, &engine, &body).await;
                match &result {
                    Ok(lifted) => tracing::info!(identifier = %lifted.identifier, "block lifted by staff"),
                    Err(e) => tracing::info!(kind = ?e.kind, "lift refused"),
                }
                result
            }
        })
        .verb(VERB_CASE, move |body: Bytes| {
            let store = store.clone();
            async move { case(&store, &body).await }
        })
}
