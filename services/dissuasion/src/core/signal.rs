//! Carriers' and platforms' signals, validated: who was reached by what, and when.
//!
//! A signal arrives as text from a carrier (`RawSignal`) and becomes a [`Signal`] only through
//! [`validate`], which names the field, the value and what is accepted when it refuses. The
//! subscriber is personal data: a [`Subscriber`] never prints its number (`Debug` and
//! `Display` are masked, and a refused subscriber is never echoed); events and logs name a
//! person by their [`PersonId`], a keyed hash of the number under the node's [`PersonSecret`].

use std::fmt;

use domain::TimeMs;
use identifiers::{ContactKind, Identifier, IdentifierKind, normalize};
use serde::{Deserialize, Serialize};
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::Hasher;

use crate::events::SignalBody;
use crate::limits::{MAX_CONTACT_DURATION_S, MAX_ECHO_CHARS, MAX_SIGNAL_FUTURE_MS, MAX_SIGNAL_ID_BYTES};

/// The subscriber, its source and key and a transfer's kind are in the events
/// (`events::dissuasion`).
pub use crate::events::{PersonId, PersonKey, SignalKey, Source, Subscriber, TransferKind};

/// The node's secret that names people: a [`PersonKey`] is the SipHash-1-3-128 of the
/// number under it. Drawn when dissuasion's store is created and kept in it; without it a key
/// says nothing about the number.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PersonSecret(pub u64, pub u64);

impl PersonSecret {
    /// The person `subscriber` is, under this secret.
    pub fn person(&self, subscriber: &Subscriber) -> PersonId {
        let mut hasher = SipHasher13::new_with_keys(self.0, self.1);
        hasher.write(subscriber.expose().as_bytes());
        PersonId { key: PersonKey(hasher.finish128().as_u128()), carrier: subscriber.carrier() }
    }
}

impl fmt::Debug for PersonSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonSecret(<secret>)")
    }
}

/// A signal as a carrier sends it, unchecked: the wire form (`protocol::signal`).
pub use protocol::signal::{SignalMessage as RawSignal, SignalWhat as RawWhat};

/// A validated signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub key: SignalKey,
    pub subscriber: Subscriber,
    pub at_ms: TimeMs,
    pub body: SignalBody,
}

/// Why a signal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalReason {
    UnknownSource,
    BadSignalId,
    MalformedSubscriber,
    UnknownIdentifierKind,
    MalformedIdentifier,
    NotAnApp,
    TooFarInFuture,
    TooOld,
    TooLong,
}

/// A refused signal: the field, the value (never a subscriber's number) and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid signal {field} {value:?}: expected {expected}")]
pub struct SignalProblem {
    pub reason: SignalReason,
    pub field: &'static str,
    pub value: String,
    pub expected: String,
}

fn problem(reason: SignalReason, field: &'static str, value: &str, expected: impl Into<String>) -> SignalProblem {
    SignalProblem { reason, field, value: value.chars().take(MAX_ECHO_CHARS).collect(), expected: expected.into() }
}

/// Checks `raw` at `now`: a signal older than `retention_ms` could no longer be back-matched
/// and is refused as too old.
pub fn validate(raw: &RawSignal, now: TimeMs, retention_ms: u64) -> Result<Signal, SignalProblem> {
    let source = Source::parse(&raw.source)
        .ok_or_else(|| problem(SignalReason::UnknownSource, "source", &raw.source, Source::EXPECTED))?;
    let id = &raw.signal_id;
    if id.is_empty() || id.len() > MAX_SIGNAL_ID_BYTES || id.chars().any(char::is_control) {
        let expected = format!("1-{MAX_SIGNAL_ID_BYTES} bytes without control characters");
        return Err(problem(SignalReason::BadSignalId, "signal_id", id, expected));
    }
    let subscriber = Subscriber::parse(&raw.subscriber).map_err(|reason| {
        let expected = format!("{} ({})", Subscriber::EXPECTED, reason.as_str());
        problem(SignalReason::MalformedSubscriber, "subscriber", "<redacted>", expected)
    })?;
    check_time(raw.at_ms, now, retention_ms)?;
    let body = match &raw.what {
        RawWhat::Contact { identifier, duration_s } => {
            if *duration_s > MAX_CONTACT_DURATION_S {
                let expected = format!("at most {MAX_CONTACT_DURATION_S} seconds");
                return Err(problem(SignalReason::TooLong, "duration_s", &duration_s.to_string(), expected));
            }
            SignalBody::Contact { identifier: read_identifier(identifier, "identifier")?, duration_s: *duration_s }
        }
        RawWhat::TransferInstructions => SignalBody::Transfer { kind: TransferKind::TransferInstructions },
        RawWhat::AppInstalled { app } => {
            let app_id = read_identifier(app, "app")?;
            if app_id.kind() != IdentifierKind::App {
                return Err(problem(SignalReason::NotAnApp, "app", app, ContactKind::App.expected()));
            }
            SignalBody::Transfer { kind: TransferKind::AppInstalled { app: app_id } }
        }
    };
    Ok(Signal { key: SignalKey { source, id: id.clone() }, subscriber, at_ms: raw.at_ms, body })
}

fn check_time(at_ms: TimeMs, now: TimeMs, retention_ms: u64) -> Result<(), SignalProblem> {
    if at_ms > now.saturating_add(MAX_SIGNAL_FUTURE_MS) {
        let expected = format!("at most {MAX_SIGNAL_FUTURE_MS} ms after {now}");
        return Err(problem(SignalReason::TooFarInFuture, "at_ms", &at_ms.to_string(), expected));
    }
    if at_ms < now.saturating_sub(retention_ms) {
        let expected = format!("at least {}, within the {retention_ms} ms kept", now.saturating_sub(retention_ms));
        return Err(problem(SignalReason::TooOld, "at_ms", &at_ms.to_string(), expected));
    }
    Ok(())
}

/// Reads `<kind>:<value>`, normalising the value by its kind (a carrier may send any spelling).
fn read_identifier(text: &str, field: &'static str) -> Result<Identifier, SignalProblem> {
    const KINDS: &str = "<kind>:<value>, kind one of phone, domain, ip, app, social";
    let kind = text.split_once(':').and_then(|(kind, _)| IdentifierKind::parse(kind));
    let (Some(kind), Some((_, value))) = (kind, text.split_once(':')) else {
        return Err(problem(SignalReason::UnknownIdentifierKind, field, text, KINDS));
    };
    let as_contact = match kind {
        IdentifierKind::Phone => ContactKind::Phone,
        IdentifierKind::Domain | IdentifierKind::Ip => ContactKind::Domain,
        IdentifierKind::App => ContactKind::App,
        IdentifierKind::Social => ContactKind::Social,
    };
    normalize(as_contact, value).map_err(|e| {
        let expected = format!("{} ({})", as_contact.expected(), e.reason.as_str());
        problem(SignalReason::MalformedIdentifier, field, text, expected)
    })
}
