//! The intake shell: the `report` and `show` commands, and the timeline projection fed by
//! freezing's events, on the service runtime and intake's two redb files.
//!
//! The records store holds the reports, their receipt times and intake's event log: a
//! report's commit, which the reporter waits for, writes only those. The timeline store
//! holds, per case, the freezing events that concern it, keyed by (case, time, sequence),
//! and is written by a background writer. Folding an event in is one insert of a key the
//! event decides, so a redelivery rewrites the same row and needs no inbox row, and nothing
//! is read back; `show` builds the timeline from the report and those events. The two files
//! need no common commit. The records store also keeps the secret that names the victims'
//! paying accounts in events ([`META`], drawn in the transaction of the first report), and
//! `payers` reads the accounts back from the reports.
//!
//! `list` and `search` read indexes written beside those rows, in the same transactions
//! ([`index`]; the handlers are in [`find`]).

use bus::consumer::HandleError;
use bytes::Bytes;
use domain::report::Report;
use domain::{City, Service, SharedClock, TimeMs};
use events::{Envelope, FreezingEvent, Payload};
use protocol::intake::{
    CasePayers, CaseTimeline, IntakeError, IntakeErrorKind, PayersRequest, ReportAccepted, ShowRequest, VERB_LIST,
    VERB_PAYERS, VERB_REPORT, VERB_SEARCH, VERB_SHOW,
};
use protocol::subjects;
use runtime::{Context, Router, ServiceError, Stores};
use store::redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use store::{Store, StoreError, WriteError};

use crate::core::{self, Decision, PayerSecret};

mod find;
pub mod index;

use crate::{RECORDS, TIMELINE};
pub use find::{list, search};

/// case id → the canonical report bytes (MessagePack, victim included). Primary data, never
/// published: the victim's personal data stays here.
pub const REPORTS: TableDefinition<&str, &[u8]> = TableDefinition::new("reports");
/// case id → when intake received the report (ms). Beside [`REPORTS`] in the records store.
pub const RECEIVED_AT: TableDefinition<&str, u64> = TableDefinition::new("received_at");
/// Intake's own settings in the records store: [`PAYER_SECRET`].
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Key in [`META`] of the [`PayerSecret`] (16 bytes), drawn in the transaction that records
/// the first report and kept for good: a reference published once must keep naming the same
/// account. It never leaves this store.
pub const PAYER_SECRET: &str = "payer_secret";
/// (case id, event time, freezing's sequence number) → the freezing event (MessagePack). In
/// the timeline store: the timeline's source.
pub const CASE_EVENTS: TableDefinition<(&str, u64, u64), &[u8]> = TableDefinition::new("case_events");

/// The durable consumer of freezing's events that feeds the timeline.
pub const TIMELINE_CONSUMER: &str = "intake-timeline";

/// Intake's two stores (see the module documentation).
#[derive(Debug, Clone)]
pub struct IntakeStores {
    /// Reports, their receipt times and the event log; commits on the reporter's path.
    pub records: Store,
    /// The timeline projection; a background writer.
    pub timeline: Store,
}

impl IntakeStores {
    pub fn from_opened(stores: &Stores) -> IntakeStores {
        IntakeStores { records: stores.get(&RECORDS), timeline: stores.get(&TIMELINE) }
    }
}

fn unavailable(error: StoreError) -> IntakeError {
    IntakeError { kind: IntakeErrorKind::Unavailable, message: error.to_string(), problems: Vec::new() }
}

/// Validates and records a report body received at `now`. Nothing is recorded unless the
/// report is valid and new; the same report again gets the same case id and
/// `duplicate: true`.
pub async fn submit_report(
    store: &Store,
    city: &City,
    body: &[u8],
    now: TimeMs,
) -> Result<ReportAccepted, IntakeError> {
    let submission = core::prepare(city, body, now)?;
    // Normalising phone numbers and sites is done here, off the writer's thread.
    let keys = core::index::report_keys(&submission.report);
    let listed = (submission.report.fraud_type, submission.report.reported_loss());
    let written = store
        .write(move |ctx| -> Result<ReportAccepted, WriteError<IntakeError>> {
            let recorded = ctx.tx().open_table(REPORTS)?.get(submission.case_id.as_str())?.map(|v| v.value().to_vec());
            // Drawn now if there is none yet, and kept only with the report it serves.
            let (secret, drawn) = match stored_secret(ctx.tx())? {
                Some(secret) => (secret, false),
                None => (PayerSecret::from_bytes(rand::random()), true),
            };
            match core::decide(recorded.as_deref(), submission, &secret, ctx.now_ms()).map_err(WriteError::Rejected)? {
                Decision::Duplicate { case_id } => Ok(ReportAccepted { case_id, duplicate: true }),
                Decision::Record { case_id, canonical, received_at_ms, event } => {
                    if drawn {
                        ctx.tx().open_table(META)?.insert(PAYER_SECRET, secret.to_bytes().as_slice())?;
                    }
                    ctx.tx().open_table(REPORTS)?.insert(case_id.as_str(), canonical.as_slice())?;
                    ctx.tx().open_table(RECEIVED_AT)?.insert(case_id.as_str(), received_at_ms)?;
                    index::index_report(ctx.tx(), &case_id, listed, &keys, received_at_ms)?;
                    ctx.append(Some(case_id.clone()), None, Payload::Intake(event))?;
                    Ok(ReportAccepted { case_id, duplicate: false })
                }
            }
        })
        .await;
    match written {
        Ok(accepted) => Ok(accepted),
        Err(WriteError::Rejected(refusal)) => Err(refusal),
        Err(WriteError::Store(error)) => Err(unavailable(error)),
    }
}

/// The payer secret a write transaction sees, if one was drawn.
fn stored_secret(tx: &WriteTransaction) -> Result<Option<PayerSecret>, StoreError> {
    let meta = tx.open_table(META)?;
    let stored = meta.get(PAYER_SECRET)?;
    stored.map(|bytes| secret_from(bytes.value())).transpose()
}

fn secret_from(bytes: &[u8]) -> Result<PayerSecret, StoreError> {
    let bytes: [u8; 16] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("the payer secret is {} bytes, not 16", bytes.len())))?;
    Ok(PayerSecret::from_bytes(bytes))
}

/// The victim's paying accounts of the case a `payers` body names, with the references its
/// event carries (restitution returns money to them). Personal data: answered, never logged.
pub async fn payers(store: &Store, body: &[u8]) -> Result<CasePayers, IntakeError> {
    let request: PayersRequest = serde_json::from_slice(body).map_err(|e| IntakeError {
        kind: IntakeErrorKind::NotJson,
        message: format!("expected {{\"case_id\": \"<city>-<16 hex>\"}}: {e}"),
        problems: Vec::new(),
    })?;
    let case_id = request.case_id;
    let key = case_id.to_string();
    let read = store
        .read(move |tx| {
            let secret = match read_table(tx, META)? {
                Some(meta) => meta.get(PAYER_SECRET)?.map(|bytes| secret_from(bytes.value())).transpose()?,
                None => None,
            };
            Ok((report_of(tx, &key)?, secret))
        })
        .await
        .map_err(unavailable)?;
    let (Some((report, _)), secret) = read else {
        return Err(IntakeError {
            kind: IntakeErrorKind::UnknownCase,
            message: format!("no case {case_id}"),
            problems: Vec::new(),
        });
    };
    match secret {
        Some(secret) => Ok(core::payer::payers(case_id, &report, &secret)),
        // Reports recorded before the secret existed name no paying account.
        None if report.transfers.iter().all(|t| t.from_account.is_none()) => {
            Ok(CasePayers { case_id, transfers: Vec::new() })
        }
        None => Err(unavailable(StoreError::Corrupt(format!(
            "case {case_id} names paying accounts but the store has no payer secret"
        )))),
    }
}

/// The timeline of the case a `show` body names.
pub async fn show(stores: &IntakeStores, body: &[u8]) -> Result<CaseTimeline, IntakeError> {
    let request: ShowRequest = serde_json::from_slice(body).map_err(|e| IntakeError {
        kind: IntakeErrorKind::NotJson,
        message: format!("expected {{\"case_id\": \"<city>-<16 hex>\"}}: {e}"),
        problems: Vec::new(),
    })?;
    let case_id = request.case_id;
    let key = case_id.to_string();
    let reported = stores.records.read(move |tx| report_of(tx, &key)).await.map_err(unavailable)?;
    let Some((report, received_at_ms)) = reported else {
        return Err(IntakeError {
            kind: IntakeErrorKind::UnknownCase,
            message: format!("no case {case_id}"),
            problems: Vec::new(),
        });
    };
    let key = case_id.to_string();
    let rows = stores.timeline.read(move |tx| rows_of(tx, &key)).await.map_err(unavailable)?;
    let unreadable = |e: rmp_serde::decode::Error| IntakeError {
        kind: IntakeErrorKind::Unavailable,
        message: format!("stored timeline of {case_id} unreadable: {e}"),
        problems: Vec::new(),
    };
    let rows = rows
        .into_iter()
        .map(|(at, bytes)| rmp_serde::from_slice::<FreezingEvent>(&bytes).map(|event| (at, event)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    core::show(case_id, &report, received_at_ms, rows)
}

/// Opens a table for reading; `None` when nothing has created it yet (a new store).
fn read_table<K: store::redb::Key + 'static, V: store::redb::Value + 'static>(
    tx: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<store::redb::ReadOnlyTable<K, V>>, StoreError> {
    match tx.open_table(table) {
        Ok(table) => Ok(Some(table)),
        Err(store::redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A case's report and receipt time, if intake recorded it.
fn report_of(tx: &ReadTransaction, case_id: &str) -> Result<Option<(Report, TimeMs)>, StoreError> {
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
    Ok(Some((report, received)))
}

/// A case's timeline rows, with their times, in key order.
fn rows_of(tx: &ReadTransaction, case_id: &str) -> Result<Vec<(TimeMs, Vec<u8>)>, StoreError> {
    let Some(table) = read_table(tx, CASE_EVENTS)? else {
        return Ok(Vec::new());
    };
    let rows = table
        .range((case_id, 0, 0)..=(case_id, u64::MAX, u64::MAX))?
        .map(|row| row.map(|(k, v)| (k.value().1, v.value().to_vec())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Folds one freezing event into its case's timeline: one row, keyed by the event, so a
/// redelivery writes the same row again.
pub async fn project(stores: &IntakeStores, envelope: Envelope) -> Result<(), HandleError> {
    let records = stores.records.clone();
    // Deferred: the timeline is off the time-to-freeze path, so its fsyncs are shared (the
    // message is acknowledged only once the write is on disk).
    stores
        .timeline
        .write_deferred(move |ctx| -> Result<(), WriteError<core::ProjectionRejection>> {
            let case_id = envelope.payload.case_in(&envelope.city).map(|c| c.as_str().to_owned()).unwrap_or_default();
            let mut rows = ctx.tx().open_table(CASE_EVENTS)?;
            // A case's first event is checked against the records store (its report was
            // committed before its event was published, so before freezing could act on it);
            // later ones find their case's rows. Few reads of the records store, whose writer
            // is on the reporters' path.
            let case = case_id.as_str();
            let folded_before = rows.range((case, 0, 0)..=(case, u64::MAX, u64::MAX))?.next().is_some();
            let known = folded_before
                || records.read_blocking(|tx| match read_table(tx, REPORTS)? {
                    Some(reports) => Ok(reports.get(case)?.is_some()),
                    None => Ok(false),
                })?;
            let row = core::project(envelope, known).map_err(WriteError::Rejected)?;
            let bytes = rmp_serde::to_vec_named(&row.event).expect("freezing events encode");
            let redelivered = rows.insert((row.case_id.as_str(), row.at_ms, row.seq), bytes.as_slice())?.is_some();
            drop(rows);
            // Folded into the totals and the trail's index once: a redelivery found its row.
            if !redelivered {
                index::index_event(ctx.tx(), row.case_id.as_str(), &row.event, row.at_ms)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| match e {
            WriteError::Rejected(rejection) => HandleError::poison(rejection),
            WriteError::Store(e) => HandleError::transient(e),
        })
}

/// Runs intake for one city until shutdown or its first failure.
pub async fn run(mut context: Context, stores: IntakeStores) -> Result<(), ServiceError> {
    let city = context.city().clone();
    // Before anything is served or consumed: the indexes of a store from before them, or of
    // another format, are built again.
    let failed = |step: &'static str| {
        move |e: StoreError| ServiceError::Start { service: Service::Intake, step: step.into(), source: e.into() }
    };
    if let Some(cases) = index::rebuild_records(&stores.records).await.map_err(failed("index its reports"))? {
        tracing::info!(cases, "intake indexed its reports");
    }
    if let Some(events) = index::rebuild_timeline(&stores.timeline).await.map_err(failed("index its timelines"))? {
        tracing::info!(events, "intake indexed its timelines");
    }
    context.start_producer(&stores.records).await?;
    // Only the timeline store consumes messages, and its rows need no inbox: nothing to prune.
    let projection = stores.clone();
    context.consume(TIMELINE_CONSUMER, subjects::service_events(&city, Service::Freezing), move |envelope| {
        let stores = projection.clone();
        async move { project(&stores, envelope).await }
    });
    context.serve(router(city, stores, context.clock().clone())).await?;
    tracing::info!(city = %context.city(), "intake running");
    context.run().await
}

/// Intake's commands.
fn router(city: City, stores: IntakeStores, clock: SharedClock) -> Router {
    let reports = stores.records.clone();
    let search_city = city.clone();
    Router::new()
        .verb(VERB_REPORT, move |body: Bytes| {
            let (store, city, now) = (reports.clone(), city.clone(), clock.now_ms());
            async move {
                let result = submit_report(&store, &city, &body, now).await;
                match &result {
                    Ok(accepted) => {
                        tracing::info!(case_id = %accepted.case_id, duplicate = accepted.duplicate, "report recorded")
                    }
                    Err(e) => tracing::info!(kind = ?e.kind, problems = e.problems.len(), "report refused"),
                }
                result
            }
        })
        .verb(VERB_PAYERS, {
            let store = stores.records.clone();
            move |body: Bytes| {
                let store = store.clone();
                async move {
                    let result = payers(&store, &body).await;
                    match &result {
                        // The case and how many accounts were read; never the accounts.
                        Ok(read) => {
                            tracing::info!(case_id = %read.case_id, accounts = read.transfers.len(), "payers read")
                        }
                        Err(e) => tracing::info!(kind = ?e.kind, "payers refused"),
                    }
                    result
                }
            }
        })
        .verb(VERB_SHOW, {
            let stores = stores.clone();
            move |body: Bytes| {
                let stores = stores.clone();
                async move { show(&stores, &body).await }
            }
        })
        .verb(VERB_LIST, {
            let stores = stores.clone();
            move |body: Bytes| {
                let stores = stores.clone();
                async move {
                    let result = list(&stores, &body).await;
                    if let Err(e) = &result {
                        tracing::info!(kind = ?e.kind, "list refused");
                    }
                    result
                }
            }
        })
        .verb(VERB_SEARCH, move |body: Bytes| {
            let (stores, city) = (stores.clone(), search_city.clone());
            // The query is the scammer's identifiers or a case id, never logged: a count.
            async move {
                let result = search(&stores, &city, &body).await;
                match &result {
                    Ok(found) => tracing::info!(matches = found.matches.len(), "search answered"),
                    Err(e) => tracing::info!(kind = ?e.kind, "search refused"),
                }
                result
            }
        })
}
