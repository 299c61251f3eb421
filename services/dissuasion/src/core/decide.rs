//! What each input causes: the events to record. Pure: the state, the input and `now` in,
//! events (or a typed [`Rejection`]) out. Matching is here; what evidence does to a task is
//! in [`super::tasks`].

use std::collections::BTreeSet;

use domain::{CaseId, FraudType, TimeMs};
use identifiers::Identifier;

use super::signal::validate;
use super::state::{Period, Scam, State};
use super::tasks::{self, Batch, Prepared};
use super::{CoreConfig, Decision, Input, Rejection};
use crate::events::{Clue, DissuasionEvent, SignalBody, SignalRecord, TransferKind};
use crate::limits::MAX_IDENTIFIERS_PER_CASE;

/// The events `input` causes at `now`.
pub fn decide(state: &State, config: &CoreConfig, input: Input, now: TimeMs) -> Result<Decision, Rejection> {
    decide_prepared(state, config, input, now).map(|(decision, _)| decision)
}

/// [`decide`], with what the events of an identifier newly known (a block, a case) leave of
/// the people they reach and the kept signals they match, for [`super::step`].
pub(super) fn decide_prepared(
    state: &State,
    config: &CoreConfig,
    input: Input,
    now: TimeMs,
) -> Result<(Decision, Option<Prepared>), Rejection> {
    let events = match input {
        Input::ScamIdentifierKnown { identifier, since_ms, fraud_types } => {
            let mut batch = Batch::new(state);
            known(state, config, &mut batch, identifier, since_ms, fraud_types.into_iter().collect(), None);
            let (events, prepared) = batch.finish_prepared(state, config, now)?;
            return Ok((Decision { events, signal: None }, Some(prepared)));
        }
        Input::ScamIdentifierEnded { identifier, until_ms } => match state.scam.get(&identifier) {
            Some(scam) if scam.is_active() => Ok(vec![DissuasionEvent::ScamIdentifierEnded { identifier, until_ms }]),
            _ => Err(Rejection::NotKnown { identifier }),
        },
        Input::CaseReported { case_id, fraud_type, reported_at_ms, identifiers } => {
            let (events, prepared) =
                case_reported(state, config, case_id, fraud_type, reported_at_ms, identifiers, now)?;
            return Ok((Decision { events, signal: None }, Some(prepared)));
        }
        Input::Signal(raw) => {
            let signal = validate(&raw, now, config.signal_retention_ms)?;
            if state.seen.contains_key(&signal.key) {
                return Err(Rejection::DuplicateSignal { from: signal.key.source, id: signal.key.id });
            }
            let person = config.person_secret.person(&signal.subscriber);
            let mut batch = Batch::new(state);
            if let Some(clue) = match_signal(state, config, &signal.key, signal.at_ms, &signal.body) {
                batch.clue(state, &person, clue);
            }
            let events = batch.finish(state, config, now)?;
            let record = SignalRecord {
                key: signal.key,
                person,
                subscriber: signal.subscriber,
                at_ms: signal.at_ms,
                received_at_ms: now,
                body: signal.body,
                forget_before_ms: now.saturating_sub(config.signal_retention_ms),
            };
            return Ok((Decision { events, signal: Some(record) }, None));
        }
        Input::SmsAnswered { request_id, delivered } => tasks::sms_answered(state, config, request_id, delivered, now),
        Input::TimerFired => tasks::timers(state, config, now),
        Input::Claim { task, operator } => tasks::claim(state, task, operator, now),
        Input::Complete { task, operator, outcome, note, case_id } => {
            tasks::complete(state, config, task, (operator, outcome, note, case_id), now)
        }
        Input::Reassign { task, by, to } => tasks::reassign(state, task, by, to, now),
    };
    Ok((Decision { events: events?, signal: None }, None))
}

/// A case: recorded once, then each of its identifiers is known from the report's time and
/// matched back against the signals kept.
fn case_reported(
    state: &State,
    config: &CoreConfig,
    case_id: CaseId,
    fraud_type: FraudType,
    reported_at_ms: TimeMs,
    identifiers: Vec<Identifier>,
    now: TimeMs,
) -> Result<(Vec<DissuasionEvent>, Prepared), Rejection> {
    if state.cases.contains(&case_id) {
        return Err(Rejection::CaseKnown { case_id });
    }
    if identifiers.len() > MAX_IDENTIFIERS_PER_CASE {
        let count = identifiers.len();
        return Err(Rejection::TooManyIdentifiers { case_id, count, limit: MAX_IDENTIFIERS_PER_CASE });
    }
    let distinct: BTreeSet<Identifier> = identifiers.into_iter().collect();
    let mut batch = Batch::new(state);
    batch.events.push(DissuasionEvent::CaseMatched {
        case_id: case_id.clone(),
        fraud_type,
        reported_at_ms,
        identifiers: u32::try_from(distinct.len()).unwrap_or(u32::MAX),
    });
    for identifier in distinct {
        known(state, config, &mut batch, identifier, reported_at_ms, [fraud_type].into(), Some(case_id.clone()));
    }
    batch.finish_prepared(state, config, now)
}

/// `identifier` is known as a scam identifier from `since_ms`. If it was not known already,
/// every kept signal it matches now is evidence (back-matching); if it was, it only gains
/// fraud types (its signals were matched as they came).
fn known(
    state: &State,
    config: &CoreConfig,
    batch: &mut Batch,
    identifier: Identifier,
    since_ms: TimeMs,
    fraud_types: BTreeSet<FraudType>,
    case_id: Option<CaseId>,
) {
    let before = state.scam.get(&identifier);
    let active = before.is_some_and(Scam::is_active);
    if active && before.is_some_and(|s| fraud_types.is_subset(&s.fraud_types)) && case_id.is_none() {
        return;
    }
    let mut after = before.cloned().unwrap_or_default();
    if !active {
        after.periods.push(Period { since_ms, until_ms: None });
    }
    after.fraud_types.extend(fraud_types.iter().copied());
    batch.events.push(DissuasionEvent::ScamIdentifierKnown {
        identifier: identifier.clone(),
        since_ms,
        fraud_types,
        case_id,
    });
    if active {
        return;
    }
    let window = config.signal_retention_ms;
    // At most a clue for each signal filed under it.
    batch.expect(state.seen.filed_len(&identifier));
    for (slot, kept) in state.seen.filed_slots(&identifier) {
        if kept.matched || !after.matches(kept.at_ms, window) {
            continue;
        }
        let clue = if kept.install {
            Clue::ScamApp { signal: kept.key.clone(), app: identifier.clone(), at_ms: kept.at_ms }
        } else {
            Clue::Contact {
                signal: kept.key.clone(),
                identifier: identifier.clone(),
                at_ms: kept.at_ms,
                duration_s: kept.duration_s,
                fraud_types: after.fraud_types.clone(),
            }
        };
        batch.back_matched(state, &kept.person, clue, slot);
    }
}

/// The evidence a new signal is, matched against the scam identifiers as they stand at its
/// time; `None` if it is none (it is kept for back-matching all the same).
fn match_signal(
    state: &State,
    config: &CoreConfig,
    key: &super::signal::SignalKey,
    at_ms: TimeMs,
    body: &SignalBody,
) -> Option<Clue> {
    let window = config.signal_retention_ms;
    let known = |identifier: &Identifier| state.scam.get(identifier).filter(|scam| scam.matches(at_ms, window));
    let signal = key.clone();
    match body {
        SignalBody::Contact { identifier, duration_s } => known(identifier).map(|scam| Clue::Contact {
            signal,
            identifier: identifier.clone(),
            at_ms,
            duration_s: *duration_s,
            fraud_types: scam.fraud_types.clone(),
        }),
        SignalBody::Transfer { kind: TransferKind::TransferInstructions } => {
            Some(Clue::TransferInstructions { signal, at_ms })
        }
        SignalBody::Transfer { kind: TransferKind::AppInstalled { app } } => {
            known(app).map(|_| Clue::ScamApp { signal, app: app.clone(), at_ms })
        }
    }
}
