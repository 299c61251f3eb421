//! The intake shell: the `report` and `show` commands over NATS request/reply, and the
//! timeline projection fed by freezing's events.
//!
//! Intake keeps two redb files. The records store holds the reports, their receipt times and
//! intake's event log: a report's commit, which the reporter waits for, writes only those.
//! The timeline store holds, per case, the freezing events that concern it, keyed by (case,
//! time, sequence), and is written by a background writer. Folding an event in is one insert
//! of a key the event decides, so a redelivery rewrites the same row and needs no inbox row,
//! and nothing is read back; `show` builds the timeline from the report and those events.
//! The two files need no common commit.
//!
//! Cases projected by the former layouts (a head with totals and entry rows, first in the
//! records store) are moved to the timeline store at start and shown from their head and
//! rows, followed by the events folded in since.

use std::sync::Arc;

use async_nats::jetstream;
use bus::Shutdown;
use bus::consumer::{ConsumerSpec, HandleError, run_consumer};
use domain::report::Report;
use domain::{CaseId, City, SharedClock, TimeMs};
use events::{Envelope, FreezingEvent, IntakeEvent, Payload, Service};
use futures::StreamExt;
use protocol::intake::{
    CaseTimeline, IntakeError, IntakeErrorKind, ReportAccepted, ReportResponse, ShowRequest, ShowResponse,
    TimelineEntry, VERB_REPORT, VERB_SHOW,
};
use protocol::{MAX_BODY_BYTES, subjects, to_json};
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use store::{Store, StoreError, WriteError};
use tokio::sync::Semaphore;

use crate::limits::{MAX_COMMANDS_IN_FLIGHT, MIGRATION_BATCH};
use crate::timeline::{self, CaseHead};
use crate::validate;

/// case id → the canonical report bytes (MessagePack, victim included). Primary data, never
/// published: the victim's personal data stays here.
pub const REPORTS: TableDefinition<&str, &[u8]> = TableDefinition::new("reports");
/// case id → when intake received the report (ms). Beside [`REPORTS`] in the records store.
pub const RECEIVED_AT: TableDefinition<&str, u64> = TableDefinition::new("received_at");
/// (case id, event time, freezing's sequence number) → the freezing event (MessagePack). In
/// the timeline store: the timeline's source.
pub const CASE_EVENTS: TableDefinition<(&str, u64, u64), &[u8]> = TableDefinition::new("case_events");
/// Former layout, read only: case id → the case's head with the totals of the events folded
/// in until then (MessagePack [`CaseHead`]). In the timeline store (moved there from the
/// records store at start).
pub const CASE_HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("case_heads");
/// Former layout, read only: (case id, time, arrival number) → one timeline entry
/// (MessagePack). In the timeline store.
pub const TIMELINE_ENTRIES: TableDefinition<(&str, u64, u32), &[u8]> = TableDefinition::new("timeline_entries");
/// The former layout, one whole timeline per case; moved to the two tables above at start.
const LEGACY_TIMELINES: TableDefinition<&str, &[u8]> = TableDefinition::new("timelines");

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub city: City,
}

/// Intake's two stores (see the module documentation).
#[derive(Debug, Clone)]
pub struct Stores {
    /// Reports, their receipt times and the event log; commits on the reporter's path.
    pub records: Store,
    /// The timeline projection and its inbox; a background writer.
    pub timeline: Store,
}

/// Why the service stopped.
#[derive(Debug, thiserror::Error)]
pub enum IntakeServiceError {
    #[error(transparent)]
    Bus(#[from] bus::BusError),
    #[error("intake store: {0}")]
    Store(#[from] StoreError),
    #[error("subscribing to {subject}: {message}")]
    Subscribe { subject: String, message: String },
}

/// The case id of a validated report and its canonical bytes.
pub fn case_id_for(city: &City, report: &Report) -> (CaseId, Vec<u8>) {
    let canonical = rmp_serde::to_vec_named(report).expect("reports encode");
    (CaseId::derive(city, domain::fnv1a64(&canonical)), canonical)
}

fn error(kind: IntakeErrorKind, message: impl Into<String>) -> IntakeError {
    IntakeError { kind, message: message.into(), problems: Vec::new() }
}

/// Validates and records a report body. Nothing is recorded unless the report is valid and
/// new; the same report again gets the same case id and `duplicate: true`.
pub async fn submit_report(
    store: &Store,
    city: &City,
    body: &[u8],
    now: TimeMs,
) -> Result<ReportAccepted, IntakeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(error(
            IntakeErrorKind::BodyTooLarge,
            format!("body of {} bytes exceeds the limit of {MAX_BODY_BYTES} bytes", body.len()),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| error(IntakeErrorKind::NotJson, format!("body is not JSON: {e}")))?;
    let report = validate::validate(&value, now).map_err(|problems| IntakeError {
        kind: IntakeErrorKind::InvalidReport,
        message: format!("{} problem(s) in the report; nothing was recorded", problems.len()),
        problems,
    })?;
    let (case_id, canonical) = case_id_for(city, &report);
    let reply_case = case_id.clone();
    let outcome = store
        .write(move |ctx| -> Result<bool, WriteError<IntakeError>> {
            if let Some(existing) = ctx.tx().open_table(REPORTS)?.get(case_id.as_str())? {
                return if existing.value() == canonical.as_slice() {
                    Ok(true)
                } else {
                    Err(WriteError::Rejected(error(
                        IntakeErrorKind::Conflict,
                        format!("a different report already has case id {case_id}; nothing was recorded"),
                    )))
                };
            }
            let now = ctx.now_ms();
            let loss = report.reported_loss();
            ctx.tx().open_table(REPORTS)?.insert(case_id.as_str(), canonical.as_slice())?;
            ctx.tx().open_table(RECEIVED_AT)?.insert(case_id.as_str(), now)?;
            let event = IntakeEvent::CaseReported {
                case_id: case_id.clone(),
                received_at_ms: now,
                fraud_type: report.fraud_type,
                transfers: report.transfers,
                contacts: report.contacts,
                reported_loss_fen: loss,
            };
            ctx.append(Some(case_id), None, Payload::Intake(event))?;
            Ok(false)
        })
        .await;
    match outcome {
        Ok(duplicate) => Ok(ReportAccepted { case_id: reply_case, duplicate }),
        Err(WriteError::Rejected(rejection)) => Err(rejection),
        Err(WriteError::Store(e)) => {
            Err(error(IntakeErrorKind::Unavailable, format!("could not record the report: {e}")))
        }
    }
}

/// The timeline of a case: its report (or the head the former layout kept), then every
/// freezing event folded in, in time order.
pub async fn show(stores: &Stores, body: &[u8]) -> Result<CaseTimeline, IntakeError> {
    let request: ShowRequest = serde_json::from_slice(body)
        .map_err(|e| error(IntakeErrorKind::NotJson, format!("expected {{\"case_id\": \"<city>-<16 hex>\"}}: {e}")))?;
    let case_id = request.case_id;
    let unavailable = |e: StoreError| error(IntakeErrorKind::Unavailable, e.to_string());
    let key = case_id.to_string();
    let (former, events) = stores.timeline.read(move |tx| folded(tx, &key)).await.map_err(unavailable)?;
    let unreadable = |e: rmp_serde::decode::Error| {
        error(IntakeErrorKind::Unavailable, format!("stored timeline of {case_id} unreadable: {e}"))
    };
    let (mut head, mut entries) = match former {
        Some((head, rows)) => {
            let head: CaseHead = rmp_serde::from_slice(&head).map_err(unreadable)?;
            let rows = rows.iter().map(|row| rmp_serde::from_slice(row)).collect::<Result<Vec<_>, _>>();
            (head, rows.map_err(unreadable)?)
        }
        None => {
            let key = case_id.to_string();
            let reported = stores.records.read(move |tx| head_from_report(tx, &key)).await.map_err(unavailable)?;
            let (head, first) =
                reported.ok_or_else(|| error(IntakeErrorKind::UnknownCase, format!("no case {case_id}")))?;
            (head, vec![first])
        }
    };
    for (time, bytes) in events {
        let event: FreezingEvent = rmp_serde::from_slice(&bytes).map_err(unreadable)?;
        entries.extend(timeline::apply(&mut head.summary, &event, time));
    }
    // Stable: entries of one time keep the order of their events.
    entries.sort_by_key(|entry| entry.at_ms);
    Ok(head.into_timeline(entries))
}

/// A case's head and entry rows of the former layout, if it has them, and the events folded
/// in, with their times, in key order.
type Folded = (Option<(Vec<u8>, Vec<Vec<u8>>)>, Vec<(u64, Vec<u8>)>);

fn folded(tx: &ReadTransaction, key: &str) -> Result<Folded, StoreError> {
    let head = match read_table(tx, CASE_HEADS)? {
        Some(heads) => heads.get(key)?.map(|v| v.value().to_vec()),
        None => None,
    };
    let former = match head {
        Some(head) => {
            let rows = tx
                .open_table(TIMELINE_ENTRIES)?
                .range((key, 0, 0)..=(key, u64::MAX, u32::MAX))?
                .map(|row| row.map(|(_, v)| v.value().to_vec()))
                .collect::<Result<Vec<_>, _>>()?;
            Some((head, rows))
        }
        None => None,
    };
    let events = match read_table(tx, CASE_EVENTS)? {
        Some(table) => table
            .range((key, 0, 0)..=(key, u64::MAX, u64::MAX))?
            .map(|row| row.map(|(k, v)| (k.value().1, v.value().to_vec())))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    Ok((former, events))
}

/// Opens a table for reading; `None` when nothing has created it yet (a new store, or a
/// layout the store never had).
fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match tx.open_table(table) {
        Ok(table) => Ok(Some(table)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The head of a case and its first entry, made from its report in the records store.
/// `None` when intake has no such report.
fn head_from_report(tx: &ReadTransaction, case_id: &str) -> Result<Option<(CaseHead, TimelineEntry)>, StoreError> {
    let Some(reports) = read_table(tx, REPORTS)? else {
        return Ok(None);
    };
    let Some(bytes) = reports.get(case_id)? else {
        return Ok(None);
    };
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what} of case {case_id}: {e}"));
    let report: Report = rmp_serde::from_slice(bytes.value()).map_err(|e| corrupt("report", &e))?;
    let received =
        tx.open_table(RECEIVED_AT)?.get(case_id)?.ok_or_else(|| corrupt("receipt time", &"missing"))?.value();
    let id = CaseId::parse(case_id).map_err(|e| corrupt("id", &e))?;
    let city = id.city();
    Ok(Some(timeline::reported(id, city, report.fraud_type, received, report.reported_loss(), report.transfers.len())))
}

/// Adds entries to a case and writes its head back.
fn record_entries(tx: &WriteTransaction, head: &mut CaseHead, entries: Vec<TimelineEntry>) -> Result<(), StoreError> {
    let case_id = head.case_id.to_string();
    let mut table = tx.open_table(TIMELINE_ENTRIES)?;
    for entry in entries {
        let bytes = rmp_serde::to_vec_named(&entry).expect("timeline entries encode");
        table.insert((case_id.as_str(), entry.at_ms, head.entries), bytes.as_slice())?;
        head.entries = head.entries.checked_add(1).expect("a case's entries are bounded by the trace limits");
    }
    let bytes = rmp_serde::to_vec_named(&*head).expect("case heads encode");
    tx.open_table(CASE_HEADS)?.insert(case_id.as_str(), bytes.as_slice())?;
    Ok(())
}

/// Folds one freezing event into its case's timeline: one row, keyed by the event, so a
/// redelivery writes the same row again.
async fn project(stores: &Stores, envelope: Envelope) -> Result<(), HandleError> {
    let Payload::Freezing(event) = envelope.payload else {
        return Err(HandleError::Poison(format!("{} is not a freezing event", envelope.id)));
    };
    let (id, time, seq) = (envelope.id, envelope.time_ms, envelope.seq);
    let bytes = rmp_serde::to_vec_named(&event).expect("freezing events encode");
    let records = stores.records.clone();
    // Deferred: the timeline is off the time-to-freeze path, so its fsyncs are shared (the
    // message is acknowledged only once the write is on disk).
    stores
        .timeline
        .write_deferred(move |ctx| -> Result<(), WriteError<String>> {
            // Folded in by a former layout, whose totals already count it.
            if ctx.was_consumed(&id)? {
                return Ok(());
            }
            let case_id = event.case_id().as_str();
            let mut events = ctx.tx().open_table(CASE_EVENTS)?;
            // A case's first event is checked against the records store (its report was
            // committed before its event was published, so before freezing could act on it);
            // later ones find their case's rows. Few reads of the records store, whose writer
            // is on the reporters' path.
            let folded_before = events.range((case_id, 0, 0)..=(case_id, u64::MAX, u64::MAX))?.next().is_some();
            let known = folded_before
                || records.read_blocking(|tx| match read_table(tx, REPORTS)? {
                    Some(reports) => Ok(reports.get(case_id)?.is_some()),
                    None => Ok(false),
                })?;
            if !known {
                return Err(WriteError::Rejected(format!("event {id} is for unknown case {case_id}")));
            }
            events.insert((case_id, time, seq), bytes.as_slice())?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            WriteError::Rejected(reason) => HandleError::Poison(reason),
            WriteError::Store(e) => HandleError::Transient(e.to_string()),
        })
}

/// Moves timelines stored whole (the former layout) to heads and entry rows, at most
/// [`MIGRATION_BATCH`] cases per commit. Returns how many cases were moved.
pub async fn migrate_legacy_timelines(store: &Store) -> Result<u64, StoreError> {
    // Read first: a store without the former table (every store made since) costs no write.
    let has_legacy = store.read(|tx| Ok(read_table(tx, LEGACY_TIMELINES)?.is_some())).await?;
    if !has_legacy {
        return Ok(0);
    }
    let mut moved = 0u64;
    loop {
        let batch = store
            .write(|ctx| -> Result<usize, WriteError<std::convert::Infallible>> {
                let mut legacy = match ctx.tx().open_table(LEGACY_TIMELINES) {
                    Ok(table) => table,
                    Err(e) => return Err(WriteError::Store(e.into())),
                };
                let mut keys = Vec::new();
                for row in legacy.iter()?.take(MIGRATION_BATCH) {
                    let (key, value) = row?;
                    keys.push((key.value().to_owned(), value.value().to_vec()));
                }
                for (key, bytes) in &keys {
                    let whole: CaseTimeline = rmp_serde::from_slice(bytes)
                        .map_err(|e| WriteError::Store(StoreError::Corrupt(format!("timeline of {key}: {e}"))))?;
                    let mut entries = whole.entries.clone();
                    entries.sort_by_key(|e| e.at_ms);
                    let mut head = CaseHead {
                        case_id: whole.case_id,
                        city: whole.city,
                        fraud_type: whole.fraud_type,
                        reported_at_ms: whole.reported_at_ms,
                        reported_loss_fen: whole.reported_loss_fen,
                        summary: whole.summary,
                        entries: 0,
                    };
                    record_entries(ctx.tx(), &mut head, entries)?;
                    legacy.remove(key.as_str())?;
                }
                if keys.is_empty() {
                    drop(legacy);
                    ctx.tx().delete_table(LEGACY_TIMELINES)?;
                }
                Ok(keys.len())
            })
            .await?;
        if batch == 0 {
            return Ok(moved);
        }
        moved += batch as u64;
    }
}

/// Reads up to a batch of a table's rows.
type TakeRows<K, V> = fn(&ReadTransaction) -> Result<Vec<(K, V)>, StoreError>;
/// Writes (or removes) rows of a table.
type WriteRows<K, V> = fn(&WriteTransaction, &[(K, V)]) -> Result<(), StoreError>;

/// Moves rows of one table from the records store to the timeline store, at most
/// [`MIGRATION_BATCH`] per step: each step is committed in the timeline store before it is
/// removed from the records store, so a crash in between only copies it again.
async fn move_table<K, V>(
    stores: &Stores,
    take: TakeRows<K, V>,
    put: WriteRows<K, V>,
    remove: WriteRows<K, V>,
) -> Result<u64, StoreError>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let mut moved = 0u64;
    loop {
        let rows = Arc::new(stores.records.read(take).await?);
        if rows.is_empty() {
            return Ok(moved);
        }
        let copy = rows.clone();
        stores
            .timeline
            .write(move |ctx| put(ctx.tx(), &copy).map_err(WriteError::<std::convert::Infallible>::Store))
            .await?;
        let done = rows.clone();
        stores
            .records
            .write(move |ctx| remove(ctx.tx(), &done).map_err(WriteError::<std::convert::Infallible>::Store))
            .await?;
        moved += rows.len() as u64;
    }
}

/// The rows of a table, at most [`MIGRATION_BATCH`]; none when the table does not exist.
fn first_rows<K: redb::Key + 'static, V: redb::Value + 'static, KO, VO>(
    tx: &ReadTransaction,
    table: TableDefinition<K, V>,
    own: impl Fn(redb::AccessGuard<'_, K>, redb::AccessGuard<'_, V>) -> (KO, VO),
) -> Result<Vec<(KO, VO)>, StoreError> {
    let Some(table) = read_table(tx, table)? else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for row in table.iter()?.take(MIGRATION_BATCH) {
        let (k, v) = row?;
        rows.push(own(k, v));
    }
    Ok(rows)
}

/// Moves the timeline (case heads, entries and the inbox of folded events) from the records
/// store, where it was kept before it had a file of its own, to the timeline store. Returns
/// how many rows were moved. Runs before the projection consumes anything.
pub async fn move_timeline_to_its_store(stores: &Stores) -> Result<u64, StoreError> {
    type Entry = ((String, u64, u32), Vec<u8>);
    let has_heads = stores.records.read(|tx| Ok(read_table(tx, CASE_HEADS)?.is_some())).await?;
    if !has_heads {
        return Ok(0);
    }
    let heads = move_table::<String, Vec<u8>>(
        stores,
        |tx| first_rows(tx, CASE_HEADS, |k, v| (k.value().to_owned(), v.value().to_vec())),
        |tx, rows| {
            let mut table = tx.open_table(CASE_HEADS)?;
            for (k, v) in rows {
                table.insert(k.as_str(), v.as_slice())?;
            }
            Ok(())
        },
        |tx, rows| {
            let mut table = tx.open_table(CASE_HEADS)?;
            for (k, _) in rows {
                table.remove(k.as_str())?;
            }
            Ok(())
        },
    )
    .await?;
    let entries = move_table::<(String, u64, u32), Vec<u8>>(
        stores,
        |tx| {
            first_rows(tx, TIMELINE_ENTRIES, |k, v| {
                let (case, at, n) = k.value();
                ((case.to_owned(), at, n), v.value().to_vec())
            })
        },
        |tx, rows: &[Entry]| {
            let mut table = tx.open_table(TIMELINE_ENTRIES)?;
            for ((case, at, n), v) in rows {
                table.insert((case.as_str(), *at, *n), v.as_slice())?;
            }
            Ok(())
        },
        |tx, rows: &[Entry]| {
            let mut table = tx.open_table(TIMELINE_ENTRIES)?;
            for ((case, at, n), _) in rows {
                table.remove((case.as_str(), *at, *n))?;
            }
            Ok(())
        },
    )
    .await?;
    // Intake consumes nothing but freezing's events for the timeline: its whole inbox moves.
    let inbox = move_table::<String, u64>(
        stores,
        |tx| first_rows(tx, store::INBOX, |k, v| (k.value().to_owned(), v.value())),
        |tx, rows| {
            let mut table = tx.open_table(store::INBOX)?;
            for (k, v) in rows {
                table.insert(k.as_str(), *v)?;
            }
            Ok(())
        },
        |tx, rows| {
            let mut table = tx.open_table(store::INBOX)?;
            for (k, _) in rows {
                table.remove(k.as_str())?;
            }
            Ok(())
        },
    )
    .await?;
    stores
        .records
        .write(|ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            ctx.tx().delete_table(CASE_HEADS)?;
            ctx.tx().delete_table(TIMELINE_ENTRIES)?;
            Ok(())
        })
        .await?;
    Ok(heads + entries + inbox)
}

/// Runs intake for one city until shutdown.
pub async fn run(
    config: Config,
    client: async_nats::Client,
    stores: Stores,
    clock: SharedClock,
    shutdown: Shutdown,
) -> Result<(), IntakeServiceError> {
    match migrate_legacy_timelines(&stores.records).await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(moved, "timelines moved to the per-entry layout"),
        Err(e) => return Err(IntakeServiceError::Store(e)),
    }
    match move_timeline_to_its_store(&stores).await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(moved, "timeline rows moved to the timeline store"),
        Err(e) => return Err(IntakeServiceError::Store(e)),
    }
    let js = jetstream::new(client.clone());
    let relay = bus::start_producer(&js, &config.city, stores.records.clone(), shutdown.clone()).await?;
    // Only the timeline store consumes messages, so only its inbox grows.
    let pruner = bus::inbox::spawn_pruner(stores.timeline.clone(), clock.clone(), shutdown.clone());

    let spec = ConsumerSpec {
        city: config.city.clone(),
        durable: "intake-timeline".into(),
        service: Service::Intake.as_str().into(),
        filter: subjects::service_events(&config.city, Service::Freezing.as_str()),
    };
    let projection_stores = stores.clone();
    let consumer = tokio::spawn(run_consumer(
        js,
        spec,
        move |envelope| {
            let stores = projection_stores.clone();
            async move { project(&stores, envelope).await }
        },
        shutdown.clone(),
    ));

    let subject = subjects::command(&config.city, Service::Intake.as_str(), "*");
    let mut commands = client
        .queue_subscribe(subject.clone(), "intake".into())
        .await
        .map_err(|e| IntakeServiceError::Subscribe { subject: subject.clone(), message: e.to_string() })?;
    tracing::info!(city = %config.city, %subject, "intake serving");
    let slots = Arc::new(Semaphore::new(MAX_COMMANDS_IN_FLIGHT));
    let mut stop = shutdown.clone();
    loop {
        let message = tokio::select! {
            message = commands.next() => match message { Some(m) => m, None => break },
            () = bus::stopped(&mut stop) => break,
        };
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        let permit = slots.clone().acquire_owned().await.expect("semaphore never closes");
        let (client, stores, clock, city) = (client.clone(), stores.clone(), clock.clone(), config.city.clone());
        tokio::spawn(async move {
            let verb = message.subject.as_str().rsplit('.').next().unwrap_or_default();
            let body = match verb {
                VERB_REPORT => {
                    let result = submit_report(&stores.records, &city, &message.payload, clock.now_ms()).await;
                    match &result {
                        Ok(accepted) => {
                            tracing::info!(case_id = %accepted.case_id, duplicate = accepted.duplicate, "report recorded")
                        }
                        Err(e) => {
                            tracing::info!(kind = ?e.kind, problems = e.problems.len(), "report refused")
                        }
                    }
                    to_json(&ReportResponse::from(result))
                }
                VERB_SHOW => to_json(&ShowResponse::from(show(&stores, &message.payload).await)),
                other => to_json(&ReportResponse::Error(error(
                    IntakeErrorKind::NotJson,
                    format!("unknown command {other:?}: commands are {VERB_REPORT}, {VERB_SHOW}"),
                ))),
            };
            if let Err(e) = client.publish(reply, body.into()).await {
                tracing::warn!(error = %e, "could not send a command reply");
            }
            drop(permit);
        });
    }
    let _ = consumer.await;
    pruner.abort();
    let _ = relay.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountRef, Fen, system_clock};
    use events::FreezingEvent;
    use protocol::intake::TimelineKind;
    use redb::ReadableTableMetadata;
    use store::Producer;

    fn city() -> City {
        City::parse("huzhou").unwrap()
    }

    fn open_file(dir: &tempfile::TempDir, file: &str) -> Store {
        let producer = Producer { city: city(), service: Service::Intake };
        Store::open(&dir.path().join(file), producer, system_clock()).unwrap()
    }

    fn open(dir: &tempfile::TempDir) -> Stores {
        Stores { records: open_file(dir, "intake.redb"), timeline: open_file(dir, "intake-timeline.redb") }
    }

    async fn report(stores: &Stores, now: TimeMs) -> CaseId {
        let body = serde_json::json!({
            "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
            "fraud_type": "pig_butchering",
            "transfers": [{"account": "icbc:6222020200001234", "amount_fen": 500000, "at_ms": now - 60_000}]
        });
        submit_report(&stores.records, &city(), body.to_string().as_bytes(), now).await.unwrap().case_id
    }

    fn frozen(seq: u64, case_id: &CaseId, fen: u64, at_ms: TimeMs) -> Envelope {
        Envelope {
            id: format!("huzhou.freezing.{seq}"),
            city: city(),
            service: Service::Freezing,
            seq,
            time_ms: at_ms,
            correlation: Some(case_id.clone()),
            causation: None,
            schema: events::SCHEMA_VERSION,
            payload: Payload::Freezing(FreezingEvent::AccountFrozen {
                case_id: case_id.clone(),
                account: AccountRef::parse(&format!("icbc:62220202000{seq:05}")).unwrap(),
                frozen_fen: Fen::new(fen),
                frozen_at_ms: at_ms,
                expires_at_ms: at_ms + 1,
            }),
        }
    }

    async fn show_case(stores: &Stores, case_id: &CaseId) -> CaseTimeline {
        show(stores, serde_json::json!({ "case_id": case_id }).to_string().as_bytes()).await.unwrap()
    }

    /// Folds an event in as the former layout did: head, entry rows and inbox row, in `store`.
    async fn fold_the_former_way(records: &Store, store: &Store, envelope: Envelope) {
        let Payload::Freezing(event) = envelope.payload else { panic!("a freezing event") };
        let key = event.case_id().to_string();
        let stored = store
            .read({
                let key = key.clone();
                move |tx| match tx.open_table(CASE_HEADS) {
                    Ok(heads) => Ok(heads.get(key.as_str())?.map(|v| v.value().to_vec())),
                    Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
            .await
            .unwrap();
        let (mut head, mut entries) = match stored {
            Some(bytes) => (rmp_serde::from_slice::<CaseHead>(&bytes).unwrap(), Vec::new()),
            None => {
                let (head, first) = records.read(move |tx| head_from_report(tx, &key)).await.unwrap().unwrap();
                (head, vec![first])
            }
        };
        entries.extend(timeline::apply(&mut head.summary, &event, envelope.time_ms));
        store
            .write(move |ctx| -> Result<(), WriteError<String>> {
                record_entries(ctx.tx(), &mut head, entries)?;
                ctx.mark_consumed(&envelope.id)?;
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn given_events_folded_out_of_time_order_when_shown_then_entries_are_in_time_order_and_totals_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open(&dir);
        let case_id = report(&stores, system_clock().now_ms()).await;
        // Times relative to the receipt intake recorded (its writer's clock, not the caller's).
        let now = show_case(&stores, &case_id).await.reported_at_ms;
        for (seq, at) in [(1, now + 300), (2, now + 100), (3, now + 200), (4, now + 100)] {
            project(&stores, frozen(seq, &case_id, 1_000 * seq, at)).await.unwrap();
        }
        // The same event again (a redelivery) changes nothing.
        project(&stores, frozen(3, &case_id, 3_000, now + 200)).await.unwrap();

        let timeline = show_case(&stores, &case_id).await;
        let times: Vec<_> = timeline.entries.iter().map(|e| e.at_ms - now).collect();
        assert_eq!(times, vec![0, 100, 100, 200, 300]);
        let frozen_order: Vec<_> = timeline.entries[1..].iter().map(|e| e.amount_fen.unwrap().get()).collect();
        assert_eq!(frozen_order, vec![2_000, 4_000, 3_000, 1_000], "equal times keep their arrival order");
        assert_eq!(timeline.entries[0].kind, TimelineKind::Reported);
        assert_eq!(timeline.summary.accounts_frozen, 4);
        assert_eq!(timeline.summary.frozen_fen, Fen::new(10_000));
    }

    #[tokio::test]
    async fn a_report_commit_writes_nothing_to_the_timeline_store_and_its_case_shows_from_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open(&dir);
        let case_id = report(&stores, system_clock().now_ms()).await;
        let rows = stores
            .timeline
            .read(|tx| match tx.open_table(CASE_EVENTS) {
                Ok(table) => Ok(table.len()?),
                Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
                Err(e) => Err(e.into()),
            })
            .await
            .unwrap();
        assert_eq!(rows, 0, "the report's commit wrote nothing to the timeline store");

        let shown = show_case(&stores, &case_id).await;
        assert_eq!(shown.entries.len(), 1);
        assert_eq!(shown.entries[0].kind, TimelineKind::Reported);
        assert_eq!(shown.reported_loss_fen, Fen::new(500_000));
        assert_eq!(shown.city, city());
        // Once events are folded in, the timeline still starts from the same report.
        let reported_at = shown.reported_at_ms;
        project(&stores, frozen(1, &case_id, 2_000, reported_at + 10)).await.unwrap();
        let after = show_case(&stores, &case_id).await;
        assert_eq!(after.entries[0], shown.entries[0]);
        assert_eq!(after.reported_at_ms, reported_at);
        assert_eq!(after.entries.len(), 2);
        assert_eq!(after.summary.frozen_fen, Fen::new(2_000));
    }

    #[tokio::test]
    async fn an_event_for_a_case_intake_never_recorded_is_poison() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open(&dir);
        let unknown = CaseId::parse("huzhou-00000000000000aa").unwrap();
        let outcome = project(&stores, frozen(1, &unknown, 1_000, 1_000)).await;
        assert!(matches!(&outcome, Err(HandleError::Poison(reason)) if reason.contains("unknown case")), "{outcome:?}");
        assert_eq!(
            show(&stores, format!("{{\"case_id\":\"{unknown}\"}}").as_bytes()).await.unwrap_err().kind,
            IntakeErrorKind::UnknownCase
        );
    }

    #[tokio::test]
    async fn a_timeline_kept_in_the_records_store_moves_to_its_own_store_and_shows_as_the_events_would() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open(&dir);
        let now = system_clock().now_ms();
        let case_id = report(&stores, now).await;
        // The same events folded in by the current layout, as reference.
        let reference = Stores { records: stores.records.clone(), timeline: open_file(&dir, "reference.redb") };
        for event in [frozen(1, &case_id, 7_000, now + 60), frozen(2, &case_id, 1_000, now + 50)] {
            fold_the_former_way(&stores.records, &stores.records, event.clone()).await;
            project(&reference, event).await.unwrap();
        }
        let expected = show_case(&reference, &case_id).await;
        assert_eq!(expected.entries.len(), 3);

        // One head, three entries, two inbox rows.
        assert_eq!(move_timeline_to_its_store(&stores).await.unwrap(), 6);
        assert_eq!(show_case(&stores, &case_id).await, expected);
        let left = stores
            .records
            .read(|tx| {
                let heads = matches!(tx.open_table(CASE_HEADS), Err(redb::TableError::TableDoesNotExist(_)));
                Ok((heads, tx.open_table(store::INBOX)?.len()?))
            })
            .await
            .unwrap();
        assert_eq!(left, (true, 0), "the records store keeps no timeline rows");
        // An event the former layout folded in, redelivered, changes nothing; a new one is
        // shown after the moved entries, in time order.
        project(&stores, frozen(2, &case_id, 1_000, now + 50)).await.unwrap();
        assert_eq!(show_case(&stores, &case_id).await, expected);
        for store in [&stores, &reference] {
            project(store, frozen(3, &case_id, 500, now + 55)).await.unwrap();
        }
        let after = show_case(&stores, &case_id).await;
        assert_eq!(after, show_case(&reference, &case_id).await);
        assert_eq!(after.summary.frozen_fen, Fen::new(8_500));
        assert_eq!(move_timeline_to_its_store(&stores).await.unwrap(), 0, "nothing is left to move");
    }

    #[tokio::test]
    async fn a_timeline_stored_whole_in_the_first_layout_is_moved_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let stores = open(&dir);
        let now = system_clock().now_ms();
        let case_id = report(&stores, now).await;
        let reference = Stores { records: stores.records.clone(), timeline: open_file(&dir, "reference.redb") };
        project(&reference, frozen(1, &case_id, 7_000, now + 50)).await.unwrap();
        let before = show_case(&reference, &case_id).await;
        // The first layout: one whole timeline per case in the records store, nothing else.
        let whole = rmp_serde::to_vec_named(&before).unwrap();
        let key = case_id.to_string();
        stores
            .records
            .write(move |ctx| -> Result<(), WriteError<String>> {
                ctx.tx().open_table(LEGACY_TIMELINES)?.insert(key.as_str(), whole.as_slice())?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(show_case(&stores, &case_id).await.entries.len(), 1, "only the report until it is moved");

        assert_eq!(migrate_legacy_timelines(&stores.records).await.unwrap(), 1);
        assert!(move_timeline_to_its_store(&stores).await.unwrap() > 0);
        assert_eq!(show_case(&stores, &case_id).await, before);
        // Events keep folding into the moved case, after its moved entries.
        project(&stores, frozen(2, &case_id, 1_000, now + 60)).await.unwrap();
        let after = show_case(&stores, &case_id).await;
        assert_eq!(after.entries.len(), before.entries.len() + 1);
        assert_eq!(after.summary.frozen_fen, Fen::new(8_000));
        assert_eq!(migrate_legacy_timelines(&stores.records).await.unwrap(), 0, "nothing is left to move");
    }
}
