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
    CaseTimeline, IntakeError, IntakeErrorKind, ReportAccepted, ReportResponse, ShowRequest, ShowResponse, VERB_REPORT,
    VERB_SHOW,
};
use protocol::{MAX_BODY_BYTES, subjects, to_json};
use redb::{ReadableTable, TableDefinition};
use store::{Store, StoreError, WriteError};
use tokio::sync::Semaphore;

use crate::limits::MAX_COMMANDS_IN_FLIGHT;
use crate::{timeline, validate};

/// case id → the canonical report bytes (MessagePack, victim included). Primary data, never
/// published: the victim's personal data stays here.
pub const REPORTS: TableDefinition<&str, &[u8]> = TableDefinition::new("reports");
/// case id → the case timeline (MessagePack).
pub const TIMELINES: TableDefinition<&str, &[u8]> = TableDefinition::new("timelines");

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
            let initial =
                timeline::reported(case_id.clone(), city, report.fraud_type, now, loss, report.transfers.len());
            ctx.tx().open_table(REPORTS)?.insert(case_id.as_str(), canonical.as_slice())?;
            let bytes = rmp_serde::to_vec_named(&initial).expect("timelines encode");
            ctx.tx().open_table(TIMELINES)?.insert(case_id.as_str(), bytes.as_slice())?;
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
        .read(move |tx| Ok(tx.open_table(TIMELINES)?.get(key.as_str())?.map(|v| v.value().to_vec())))
        .await
        .map_err(|e| error(IntakeErrorKind::Unavailable, e.to_string()))?;
    let bytes = found.ok_or_else(|| error(IntakeErrorKind::UnknownCase, format!("no case {case_id}")))?;
    rmp_serde::from_slice(&bytes)
        .map_err(|e| error(IntakeErrorKind::Unavailable, format!("stored timeline unreadable: {e}")))
}

/// Folds one freezing event into its case's timeline, once.
async fn project(store: &Store, envelope: Envelope) -> Result<(), HandleError> {
    let Payload::Freezing(event) = envelope.payload else {
        return Err(HandleError::Poison(format!("{} is not a freezing event", envelope.id)));
    };
    let id = envelope.id;
    let time = envelope.time_ms;
    store
        .write(move |ctx| -> Result<(), WriteError<String>> {
            if ctx.was_consumed(&id)? {
                return Ok(());
            }
            let case_id = event.case_id().to_string();
            let mut table = ctx.tx().open_table(TIMELINES)?;
            let Some(bytes) = table.get(case_id.as_str())?.map(|v| v.value().to_vec()) else {
                return Err(WriteError::Rejected(format!("event {id} is for unknown case {case_id}")));
            };
            let mut timeline: CaseTimeline = rmp_serde::from_slice(&bytes)
                .map_err(|e| WriteError::Store(StoreError::Corrupt(format!("timeline of {case_id}: {e}"))))?;
            timeline::apply(&mut timeline, &event, time);
            let bytes = rmp_serde::to_vec_named(&timeline).expect("timelines encode");
            table.insert(case_id.as_str(), bytes.as_slice())?;
            drop(table);
            ctx.mark_consumed(&id)?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            WriteError::Rejected(reason) => HandleError::Poison(reason),
            WriteError::Store(e) => HandleError::Transient(e.to_string()),
        })
}

/// Runs intake for one city until shutdown.
pub async fn run(
    config: Config,
    client: async_nats::Client,
    store: Store,
    clock: SharedClock,
    shutdown: Shutdown,
) -> Result<(), IntakeServiceError> {
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
