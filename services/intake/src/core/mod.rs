//! The pure core of intake: what a report becomes, and what a freezing event adds to a
//! case's timeline. No I/O and no clock: the shell ([`crate::shell`]) reads what intake
//! recorded, passes it in with the time, and writes what the core decided.
//!
//! - [`prepare`]: a report body becomes a validated, canonical report ([`normalize`]) with
//!   its case id and canonical bytes, or a typed refusal listing every problem ([`validate`],
//!   and keys given twice: [`strict`]).
//! - [`decide`]: given what intake recorded under that case id (nothing, or a report), the
//!   submission is a new case (its `case_reported` event and its record), a duplicate, or a
//!   conflict. The event names the victim's paying accounts only by reference ([`payer`]).
//! - [`payer::payers`]: the paying accounts of a case, for restitution (`payers`).
//! - [`project`]: a freezing event becomes a row of its case's timeline, or is refused.
//! - [`timeline`]: the case timeline folded from the report and those rows.
//! - [`index`]: what `search` finds a case by (its report's accounts, phone numbers and
//!   sites; its trail's accounts) and how a query becomes those keys.
//! - [`query`]: `list`'s paging and filters over the reported-at index, `search`'s answer.

pub mod index;
pub mod normalize;
pub mod payer;
pub mod query;
pub mod strict;
pub mod timeline;
pub mod validate;

use domain::report::Report;
use domain::{CaseId, City, Fen, TimeMs};
use events::{Envelope, FreezingEvent, IntakeEvent, Payload};
use protocol::MAX_BODY_BYTES;

use crate::limits::MAX_CASE_LOSS_FEN;
use protocol::intake::{CaseTimeline, IntakeError, IntakeErrorKind, Problem};

pub use payer::PayerSecret;

/// A valid report about to be recorded: its case id, its canonical bytes (what the id is
/// derived from, victim included) and the report.
#[derive(Debug, Clone)]
pub struct Submission {
    pub case_id: CaseId,
    pub canonical: Vec<u8>,
    pub report: Report,
}

/// What a submission becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A new case: record `canonical` and the receipt time under `case_id`, with `event`.
    Record { case_id: CaseId, canonical: Vec<u8>, received_at_ms: TimeMs, event: IntakeEvent },
    /// The same report was recorded before: nothing new.
    Duplicate { case_id: CaseId },
}

fn invalid(problems: Vec<Problem>) -> IntakeError {
    IntakeError {
        kind: IntakeErrorKind::InvalidReport,
        message: format!("{} problem(s) in the report; nothing was recorded", problems.len()),
        problems,
    }
}

fn refusal(kind: IntakeErrorKind, message: impl Into<String>) -> IntakeError {
    IntakeError { kind, message: message.into(), problems: Vec::new() }
}

/// The case id of a validated (so canonical: normalised) report and its canonical bytes:
/// the report's content decides the id, so the same report sent twice is one case. The id
/// is the first 64 bits of the SHA-256 of the canonical MessagePack: a report cannot be
/// crafted to take another's id (FNV-1a, before, could), and a collision by chance is
/// still refused as a `conflict` by [`decide`].
pub fn case_id_for(city: &City, report: &Report) -> (CaseId, Vec<u8>) {
    use sha2::{Digest, Sha256};
    let canonical = rmp_serde::to_vec_named(report).expect("reports encode");
    let digest = Sha256::digest(&canonical);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (CaseId::derive(city, u64::from_be_bytes(first)), canonical)
}

/// Reads and validates a report body received at `now`.
pub fn prepare(city: &City, body: &[u8], now: TimeMs) -> Result<Submission, IntakeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(refusal(
            IntakeErrorKind::BodyTooLarge,
            format!("body of {} bytes exceeds the limit of {MAX_BODY_BYTES} bytes", body.len()),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| refusal(IntakeErrorKind::NotJson, format!("body is not JSON: {e}")))?;
    // A key given twice would silently lose one of its values: each is a problem.
    let mut problems: Vec<Problem> = strict::duplicate_keys(body)
        .map_err(|e| refusal(IntakeErrorKind::NotJson, format!("body is not JSON: {e}")))?
        .into_iter()
        .map(|field| Problem { field, value: "given more than once".into(), expected: "each field once".into() })
        .collect();
    let report = validate::validate(&value, now);
    let report = match report {
        Ok(report) if problems.is_empty() => report,
        Ok(_) => return Err(invalid(problems)),
        Err(more) => {
            problems.extend(more);
            return Err(invalid(problems));
        }
    };
    let (case_id, canonical) = case_id_for(city, &report);
    Ok(Submission { case_id, canonical, report })
}

/// Decides a submission, given the canonical bytes recorded under its case id (if any), the
/// secret that names paying accounts in events, and the receipt time.
pub fn decide(
    recorded: Option<&[u8]>,
    submission: Submission,
    secret: &PayerSecret,
    now: TimeMs,
) -> Result<Decision, IntakeError> {
    let Submission { case_id, canonical, report } = submission;
    match recorded {
        Some(existing) if existing == canonical.as_slice() => Ok(Decision::Duplicate { case_id }),
        Some(_) => Err(refusal(
            IntakeErrorKind::Conflict,
            format!("a different report already has case id {case_id}; nothing was recorded"),
        )),
        None => {
            let event = IntakeEvent::CaseReported {
                case_id: case_id.clone(),
                received_at_ms: now,
                fraud_type: report.fraud_type,
                reported_loss_fen: report.reported_loss(),
                transfers: report.transfers.iter().map(|t| t.published(|a| secret.reference(a))).collect(),
                contacts: report.contacts,
            };
            Ok(Decision::Record { case_id, canonical, received_at_ms: now, event })
        }
    }
}

/// Why a freezing event has no place in a timeline. It is dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionRejection {
    #[error("{id} is not a freezing event")]
    NotFreezing { id: String },
    #[error("event {id} states {amount}, more than any case can hold ({max})")]
    OutOfRange { id: String, amount: Fen, max: Fen },
    #[error("event {id} is for unknown case {case_id}")]
    UnknownCase { id: String, case_id: CaseId },
    #[error("event {id} names no case of its city")]
    NoCase { id: String },
}

/// A row of a case's timeline: the key orders a case's events by time, then by freezing's
/// sequence number, so a redelivery writes the same row again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    pub case_id: CaseId,
    pub at_ms: TimeMs,
    pub seq: u64,
    pub event: FreezingEvent,
}

/// The freezing event of `envelope` as a timeline row, where `case_known` says whether
/// intake recorded the case the envelope names.
pub fn project(envelope: Envelope, case_known: bool) -> Result<TimelineRow, ProjectionRejection> {
    let Payload::Freezing(event) = envelope.payload else {
        return Err(ProjectionRejection::NotFreezing { id: envelope.id });
    };
    let max = Fen::new(MAX_CASE_LOSS_FEN);
    if let Some(amount) = amounts(&event).into_iter().find(|amount| *amount > max) {
        return Err(ProjectionRejection::OutOfRange { id: envelope.id, amount, max });
    }
    let Some(case_id) = event.case_in(&envelope.city).cloned() else {
        return Err(ProjectionRejection::NoCase { id: envelope.id });
    };
    if !case_known {
        return Err(ProjectionRejection::UnknownCase { id: envelope.id, case_id });
    }
    Ok(TimelineRow { case_id, at_ms: envelope.time_ms, seq: envelope.seq, event })
}

/// A case's timeline: its report (received at `received_at_ms`), then every event in
/// `rows` (in key order), sorted by time; an error if the events' amounts do not add up.
pub fn show(
    case_id: CaseId,
    report: &Report,
    received_at_ms: TimeMs,
    rows: Vec<(TimeMs, FreezingEvent)>,
) -> Result<CaseTimeline, IntakeError> {
    let city = case_id.city();
    let loss = report.reported_loss();
    let (mut head, first) =
        timeline::reported(case_id.clone(), city, report.fraud_type, received_at_ms, loss, report.transfers.len());
    let mut entries = vec![first];
    for (at_ms, event) in &rows {
        let added = timeline::apply(&mut head.summary, event, *at_ms).map_err(|overflow| {
            refusal(IntakeErrorKind::Unavailable, format!("the timeline of {case_id} cannot be shown: {overflow}"))
        })?;
        entries.extend(added);
    }
    // Stable: entries of one time keep the order of their events.
    entries.sort_by_key(|entry| entry.at_ms);
    Ok(head.into_timeline(entries))
}

/// The amounts an event states, each of which is at most the largest loss a report can
/// have ([`MAX_CASE_LOSS_FEN`]) when freezing wrote it.
fn amounts(event: &FreezingEvent) -> Vec<Fen> {
    match event {
        FreezingEvent::TraceStarted { reported_loss_fen, .. } => vec![*reported_loss_fen],
        FreezingEvent::HopOpened { traced_fen, .. } => vec![*traced_fen],
        FreezingEvent::AccountStopped { held_fen, claim_fen, cashed_out_fen, onward, .. } => {
            let mut all = vec![*held_fen, *claim_fen, *cashed_out_fen];
            all.extend(onward.iter().map(|leg| leg.amount_fen));
            all
        }
        FreezingEvent::TraceCompleted { claimed_fen, cashed_out_fen, untraced_fen, .. } => {
            vec![*claimed_fen, *cashed_out_fen, *untraced_fen]
        }
        FreezingEvent::AccountFrozen { frozen_fen, .. } => vec![*frozen_fen],
        FreezingEvent::ClaimRevised { previous_fen, claim_fen, .. } => vec![*previous_fen, *claim_fen],
        FreezingEvent::FreezeQueued { claim_fen, .. } | FreezingEvent::FreezeAtRisk { claim_fen, .. } => {
            vec![*claim_fen]
        }
        FreezingEvent::OrderResolved { .. }
        | FreezingEvent::HopEnded { .. }
        | FreezingEvent::StopRenewed { .. }
        | FreezingEvent::FreezeFailed { .. }
        | FreezingEvent::HopRetrying { .. }
        | FreezingEvent::FreezeRetrying { .. }
        | FreezingEvent::CrossCityClaims { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
