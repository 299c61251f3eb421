//! The events afc services publish, and their wire format.
//!
//! Every event travels in an [`Envelope`]: a deterministic id `<city>.<service>.<seq>`, the
//! producing city and service, the producer's sequence number, the time, the case it
//! belongs to, the event that caused it, the schema version and the payload. Envelopes are
//! MessagePack with named fields ([`encode`] / [`decode`]), so a field can be added without
//! breaking older readers, and the golden-byte tests in `tests/golden.rs` pin the format.

pub mod blocking;
pub mod dissuasion;
pub mod freezing;
pub mod intake;
pub mod province;
pub mod restitution;

use domain::{CaseId, City, TimeMs};
use serde::{Deserialize, Serialize};

pub use blocking::BlockingEvent;
pub use dissuasion::DissuasionEvent;
pub use domain::Service;
pub use freezing::FreezingEvent;
pub use intake::IntakeEvent;
pub use restitution::RestitutionEvent;

/// Current schema version written by this build. Decoding accepts every version from
/// [`OLDEST_SCHEMA`] up to this one.
///
/// - 1: the first.
/// - 2: a `case_reported` transfer may name the victim's paying account by reference
///   (`from_account`, a [`domain::PayerRef`]). Schema 1 bytes decode as schema 2 without it.
pub const SCHEMA_VERSION: u16 = 2;
/// Oldest schema version this build still decodes.
pub const OLDEST_SCHEMA: u16 = 1;
/// Largest encoded envelope. Well under nats-server's default 1 MiB `max_payload`; a
/// report at its limits encodes to a fraction of this.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// An event with its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `<city>.<service>.<seq>`: globally unique, deterministic, and the `Nats-Msg-Id`.
    pub id: String,
    pub city: City,
    pub service: Service,
    /// The producer's sequence number, contiguous from 1.
    pub seq: u64,
    pub time_ms: TimeMs,
    /// The case the event belongs to.
    pub correlation: Option<CaseId>,
    /// The id of the event or message that caused this one.
    pub causation: Option<String>,
    pub schema: u16,
    pub payload: Payload,
}

/// What happened: one past-tense enum per service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    Intake(IntakeEvent),
    Freezing(FreezingEvent),
    Blocking(BlockingEvent),
    Dissuasion(DissuasionEvent),
    Restitution(RestitutionEvent),
}

impl Payload {
    /// The producing service.
    pub fn service(&self) -> Service {
        match self {
            Payload::Intake(_) => Service::Intake,
            Payload::Freezing(_) => Service::Freezing,
            Payload::Blocking(_) => Service::Blocking,
            Payload::Dissuasion(_) => Service::Dissuasion,
            Payload::Restitution(_) => Service::Restitution,
        }
    }

    /// The event's name, the last token of its subject.
    pub fn name(&self) -> &'static str {
        match self {
            Payload::Intake(event) => event.name(),
            Payload::Freezing(event) => event.name(),
            Payload::Blocking(event) => event.name(),
            Payload::Dissuasion(event) => event.name(),
            Payload::Restitution(event) => event.name(),
        }
    }

    /// The case the event belongs to when recorded by `city`: its envelope's correlation.
    pub fn case_in(&self, city: &City) -> Option<&CaseId> {
        match self {
            Payload::Freezing(event) => event.case_in(city),
            other => other.case_id(),
        }
    }

    /// The case the event belongs to, as far as the event itself names it (see
    /// [`Payload::case_in`]).
    pub fn case_id(&self) -> Option<&CaseId> {
        match self {
            Payload::Intake(event) => Some(event.case_id()),
            Payload::Freezing(event) => event.case_id(),
            Payload::Blocking(event) => event.case_id(),
            Payload::Dissuasion(event) => event.case_id(),
            Payload::Restitution(event) => event.case_id(),
        }
    }
}

/// Formats an event id.
pub fn event_id(city: &City, service: Service, seq: u64) -> String {
    format!("{city}.{service}.{seq}")
}

impl Envelope {
    /// Event `seq` of `city`'s producer of `payload`, at `time_ms`, in the current schema:
    /// its id, service and case follow from these; no causation.
    pub fn new(city: City, seq: u64, time_ms: TimeMs, payload: Payload) -> Envelope {
        let service = payload.service();
        Envelope {
            id: event_id(&city, service, seq),
            correlation: payload.case_in(&city).cloned(),
            city,
            service,
            seq,
            time_ms,
            causation: None,
            schema: SCHEMA_VERSION,
            payload,
        }
    }

    /// The subject the envelope is published on: `afc.<city>.evt.<service>.<event>`.
    pub fn subject(&self) -> String {
        protocol::subjects::event(&self.city, self.service, self.payload.name())
    }

    /// Checks the envelope's fields agree with each other.
    pub fn check(&self) -> Result<(), CodecError> {
        let expected = event_id(&self.city, self.service, self.seq);
        if self.id != expected {
            return Err(CodecError::Inconsistent(format!("id {:?} does not match {expected:?}", self.id)));
        }
        if self.payload.service() != self.service {
            return Err(CodecError::Inconsistent(format!(
                "payload of service {} in an envelope of service {}",
                self.payload.service(),
                self.service
            )));
        }
        if self.seq == 0 {
            return Err(CodecError::Inconsistent("seq 0: sequences start at 1".into()));
        }
        Ok(())
    }
}

/// Why bytes could not be encoded or decoded as an envelope.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event of {size} bytes exceeds the limit of {MAX_EVENT_BYTES} bytes")]
    TooLarge { size: usize },
    #[error("undecodable event: {0}")]
    Undecodable(String),
    #[error("unsupported schema version {found}: this build reads {OLDEST_SCHEMA} to {SCHEMA_VERSION}")]
    UnsupportedSchema { found: u16 },
    #[error("inconsistent envelope: {0}")]
    Inconsistent(String),
}

/// Encodes an envelope as MessagePack with named fields.
pub fn encode(envelope: &Envelope) -> Result<Vec<u8>, CodecError> {
    let bytes = rmp_serde::to_vec_named(envelope).map_err(|e| CodecError::Undecodable(e.to_string()))?;
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(CodecError::TooLarge { size: bytes.len() });
    }
    Ok(bytes)
}

/// The case an encoded event belongs to, read without decoding its payload (the staff
/// console's live updates hear every event of a city); `None` for an event of no case, or
/// bytes that are not an event.
pub fn correlation(bytes: &[u8]) -> Option<CaseId> {
    #[derive(Deserialize)]
    struct Head {
        correlation: Option<CaseId>,
    }
    if bytes.len() > MAX_EVENT_BYTES {
        return None;
    }
    rmp_serde::from_slice::<Head>(bytes).ok()?.correlation
}

/// Decodes and checks an envelope.
pub fn decode(bytes: &[u8]) -> Result<Envelope, CodecError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(CodecError::TooLarge { size: bytes.len() });
    }
    let envelope: Envelope = rmp_serde::from_slice(bytes).map_err(|e| CodecError::Undecodable(e.to_string()))?;
    if !(OLDEST_SCHEMA..=SCHEMA_VERSION).contains(&envelope.schema) {
        return Err(CodecError::UnsupportedSchema { found: envelope.schema });
    }
    envelope.check()?;
    Ok(envelope)
}
