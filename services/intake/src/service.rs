//! The intake shell: the `report` and `show` commands over NATS request/reply, and the
//! timeline projection fed by freezing's events.

use std::sync::Arc;

use async_nats::jetstream;
use bus::Shutdown;
use bus::consumer::{ConsumerSpec, HandleError, run_consumer};
use domain::report::Report;
use domain::{CaseId, City, SharedClock, TimeMs};
use events::{Envelope, IntakeEvent, Payload, Service};
use futures::StreamExt;
use protocol::intake::{
    CaseTimeline, IntakeError, IntakeErrorKind, ReportAccepted, ReportResponse, ShowRequest, ShowResponse,
    TimelineEntry, VERB_REPORT, VERB_SHOW,
};
use protocol::{MAX_BODY_BYTES, subjects, to_json};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use store::{Store, StoreError, WriteError};
use tokio::sync::Semaphore;

use crate::limits::{MAX_COMMANDS_IN_FLIGHT, MIGRATION_BATCH};
use crate::timeline::{self, CaseHead};
use crate::validate;

/// case id → the canonical report bytes (MessagePack, victim included). Primary data, never
/// published: the victim's personal data stays here.
pub const REPORTS: TableDefinition<&str, &[u8]> = TableDefinition::new("reports");
/// case id → the case's head: header, totals, entry count (MessagePack [`CaseHead`]).
pub const CASE_HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("case_heads");
/// (case id, time, arrival number) → one timeline entry (MessagePack).
pub const TIMELINE_ENTRIES: TableDefinition<(&str, u64, u32), &[u8]> = TableDefinition::new("timeline_entries");
/// The former layout, one whole timeline per case; moved to the two tables above at start.
const LEGACY_TIMELINES: TableDefinition<&str, &[u8]> = TableDefinition::new("timelines");

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub city: City,
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
    let city = city.clone();
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
            let (mut head, first) =
                timeline::reported(case_id.clone(), city, report.fraud_type, now, loss, report.transfers.len());
            ctx.tx().open_table(REPORTS)?.insert(case_id.as_str(), canonical.as_slice())?;
            record_entries(ctx.tx(), &mut head, vec![first])?;
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

/// The timeline of a case.
pub async fn show(store: &Store, body: &[u8]) -> Result<CaseTimeline, IntakeError> {
    let request: ShowRequest = serde_json::from_slice(body)
        .map_err(|e| error(IntakeErrorKind::NotJson, format!("expected {{\"case_id\": \"<city>-<16 hex>\"}}: {e}")))?;
    let case_id = request.case_id;
    let key = case_id.to_string();
    let found = store
        .read(move |tx| {
            let heads = match tx.open_table(CASE_HEADS) {
                Ok(heads) => heads,
                // A store that has not recorded a case yet.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let Some(head) = heads.get(key.as_str())?.map(|v| v.value().to_vec()) else {
                return Ok(None);
            };
            let entries = tx.open_table(TIMELINE_ENTRIES)?;
            let rows = entries
                .range((key.as_str(), 0, 0)..=(key.as_str(), u64::MAX, u32::MAX))?
                .map(|row| row.map(|(_, v)| v.value().to_vec()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some((head, rows)))
        })
        .await
        .map_err(|e| error(IntakeErrorKind::Unavailable, e.to_string()))?;
    let (head, rows) = found.ok_or_else(|| error(IntakeErrorKind::UnknownCase, format!("no case {case_id}")))?;
    let unreadable = |e: rmp_serde::decode::Error| {
        error(IntakeErrorKind::Unavailable, format!("stored timeline of {case_id} unreadable: {e}"))
    };
    let head: CaseHead = rmp_serde::from_slice(&head).map_err(unreadable)?;
    let entries =
        rows.iter().map(|row| rmp_serde::from_slice(row)).collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    Ok(head.into_timeline(entries))
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

/// Folds one freezing event into its case's timeline, once.
async fn project(store: &Store, envelope: Envelope) -> Result<(), HandleError> {
    let Payload::Freezing(event) = envelope.payload else {
        return Err(HandleError::Poison(format!("{} is not a freezing event", envelope.id)));
    };
    let id = envelope.id;
    let time = envelope.time_ms;
    // Deferred: the timeline is off the time-to-freeze path, so its fsyncs are shared (the
    // message is acknowledged only once the write is on disk).
    store
        .write_deferred(move |ctx| -> Result<(), WriteError<String>> {
            if ctx.was_consumed(&id)? {
                return Ok(());
            }
            let case_id = event.case_id().to_string();
            let Some(bytes) = ctx.tx().open_table(CASE_HEADS)?.get(case_id.as_str())?.map(|v| v.value().to_vec())
            else {
                return Err(WriteError::Rejected(format!("event {id} is for unknown case {case_id}")));
            };
            let mut head: CaseHead = rmp_serde::from_slice(&bytes)
                .map_err(|e| WriteError::Store(StoreError::Corrupt(format!("head of case {case_id}: {e}"))))?;
            let entries = timeline::apply(&mut head.summary, &event, time);
            record_entries(ctx.tx(), &mut head, entries)?;
            ctx.mark_consumed(&id)?;
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
    let has_legacy = store
        .read(|tx| match tx.open_table(LEGACY_TIMELINES) {
            Ok(_) => Ok(true),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(e.into()),
        })
        .await?;
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
            .await
            .map_err(|e| match e {
                WriteError::Store(e) => e,
                WriteError::Rejected(never) => match never {},
            })?;
        if batch == 0 {
            return Ok(moved);
        }
        moved += batch as u64;
    }
}

/// Runs intake for one city until shutdown.
pub async fn run(
    config: Config,
    client: async_nats::Client,
    store: Store,
    clock: SharedClock,
    shutdown: Shutdown,
) -> Result<(), IntakeServiceError> {
    match migrate_legacy_timelines(&store).await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(moved, "timelines moved to the per-entry layout"),
        Err(e) => return Err(IntakeServiceError::Store(e)),
    }
    let js = jetstream::new(client.clone());
    let relay = bus::start_producer(&js, &config.city, store.clone(), shutdown.clone()).await?;
    let pruner = bus::inbox::spawn_pruner(store.clone(), clock.clone(), shutdown.clone());

    let spec = ConsumerSpec {
        city: config.city.clone(),
        durable: "intake-timeline".into(),
        service: Service::Intake.as_str().into(),
        filter: subjects::service_events(&config.city, Service::Freezing.as_str()),
    };
    let projection_store = store.clone();
    let consumer = tokio::spawn(run_consumer(
        js,
        spec,
        move |envelope| {
            let store = projection_store.clone();
            async move { project(&store, envelope).await }
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
        let (client, store, clock, city) = (client.clone(), store.clone(), clock.clone(), config.city.clone());
        tokio::spawn(async move {
            let verb = message.subject.as_str().rsplit('.').next().unwrap_or_default();
            let body = match verb {
                VERB_REPORT => {
                    let result = submit_report(&store, &city, &message.payload, clock.now_ms()).await;
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
                VERB_SHOW => to_json(&ShowResponse::from(show(&store, &message.payload).await)),
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
    use store::Producer;

    fn city() -> City {
        City::parse("huzhou").unwrap()
    }

    fn open(dir: &tempfile::TempDir) -> Store {
        let producer = Producer { city: city(), service: Service::Intake };
        Store::open(&dir.path().join("intake.redb"), producer, system_clock()).unwrap()
    }

    async fn report(store: &Store, now: TimeMs) -> CaseId {
        let body = serde_json::json!({
            "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
            "fraud_type": "pig_butchering",
            "transfers": [{"account": "icbc:6222020200001234", "amount_fen": 500000, "at_ms": now - 60_000}]
        });
        submit_report(store, &city(), body.to_string().as_bytes(), now).await.unwrap().case_id
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

    async fn show_case(store: &Store, case_id: &CaseId) -> CaseTimeline {
        show(store, serde_json::json!({ "case_id": case_id }).to_string().as_bytes()).await.unwrap()
    }

    #[tokio::test]
    async fn given_events_folded_out_of_time_order_when_shown_then_entries_are_in_time_order_and_totals_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let case_id = report(&store, system_clock().now_ms()).await;
        // Times relative to the receipt intake recorded (its writer's clock, not the caller's).
        let now = show_case(&store, &case_id).await.reported_at_ms;
        for (seq, at) in [(1, now + 300), (2, now + 100), (3, now + 200), (4, now + 100)] {
            project(&store, frozen(seq, &case_id, 1_000 * seq, at)).await.unwrap();
        }
        // The same event again (a redelivery) changes nothing.
        project(&store, frozen(3, &case_id, 3_000, now + 200)).await.unwrap();

        let timeline = show_case(&store, &case_id).await;
        let times: Vec<_> = timeline.entries.iter().map(|e| e.at_ms - now).collect();
        assert_eq!(times, vec![0, 100, 100, 200, 300]);
        let frozen_order: Vec<_> = timeline.entries[1..].iter().map(|e| e.amount_fen.unwrap().get()).collect();
        assert_eq!(frozen_order, vec![2_000, 4_000, 3_000, 1_000], "equal times keep their arrival order");
        assert_eq!(timeline.entries[0].kind, TimelineKind::Reported);
        assert_eq!(timeline.summary.accounts_frozen, 4);
        assert_eq!(timeline.summary.frozen_fen, Fen::new(10_000));
    }

    #[tokio::test]
    async fn a_timeline_stored_whole_in_the_former_layout_is_moved_and_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let now = system_clock().now_ms();
        let case_id = report(&store, now).await;
        project(&store, frozen(1, &case_id, 7_000, now + 50)).await.unwrap();
        let before = show_case(&store, &case_id).await;
        // Rewrite the case as the former layout kept it: one whole timeline, no head, no rows.
        let whole = rmp_serde::to_vec_named(&before).unwrap();
        let key = case_id.to_string();
        store
            .write(move |ctx| -> Result<(), WriteError<String>> {
                ctx.tx().open_table(LEGACY_TIMELINES)?.insert(key.as_str(), whole.as_slice())?;
                ctx.tx().delete_table(CASE_HEADS)?;
                ctx.tx().delete_table(TIMELINE_ENTRIES)?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            show(&store, format!("{{\"case_id\":\"{case_id}\"}}").as_bytes()).await.unwrap_err().kind,
            IntakeErrorKind::UnknownCase
        );

        assert_eq!(migrate_legacy_timelines(&store).await.unwrap(), 1);
        assert_eq!(show_case(&store, &case_id).await, before);
        // Events keep folding into the moved case, after its moved entries.
        project(&store, frozen(2, &case_id, 1_000, now + 60)).await.unwrap();
        let after = show_case(&store, &case_id).await;
        assert_eq!(after.entries.len(), before.entries.len() + 1);
        assert_eq!(after.summary.frozen_fen, Fen::new(8_000));
        assert_eq!(migrate_legacy_timelines(&store).await.unwrap(), 0, "nothing is left to move");
    }
}
