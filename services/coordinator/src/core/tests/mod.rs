//! Given these envelopes of the province stream, when this one arrives, then this is what the
//! coordinator answers and knows. Every step goes through one helper, [`check`]: the given
//! envelopes must all be accepted; the answer to the last is handed to the test with the
//! state. Seq tracking in [`gaps`], figures and periods in [`aggregates`], the report in
//! [`reports`], cross-city accounts and blocks in [`links`], personal data in [`personal`],
//! order independence in [`properties`].

mod aggregates;
mod gaps;
mod links;
mod personal;
mod properties;
mod reports;

use std::collections::BTreeSet;

use domain::{AccountRef, CaseId, City, Fen, FraudType, TimeMs};
use events::dissuasion::{Admission, Closure, Grade, PersonId, PersonKey, TaskId, TaskKind};
use events::{BlockingEvent, DissuasionEvent, Envelope, FreezingEvent, IntakeEvent, Payload, RestitutionEvent};
use identifiers::Identifier;

use super::*;
use crate::limits::{DAY_MS, HOUR_MS, MINUTE_MS};

/// 00:00 on Friday 14 March 2025, Beijing time (16:00 UTC the day before).
pub(super) const MARCH_14: TimeMs = 1_741_881_600_000;

pub(super) fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

pub(super) fn hangzhou() -> City {
    city("hangzhou")
}

pub(super) fn wenzhou() -> City {
    city("wenzhou")
}

pub(super) fn ningbo() -> City {
    city("ningbo")
}

/// A province of Hangzhou, Wenzhou and Ningbo.
pub(super) fn province() -> State {
    State::new([hangzhou(), wenzhou(), ningbo()]).unwrap()
}

pub(super) fn case(of: &City, n: u64) -> CaseId {
    CaseId::derive(of, n)
}

pub(super) fn account(text: &str) -> AccountRef {
    AccountRef::parse(text).unwrap()
}

pub(super) fn identifier(text: &str) -> Identifier {
    Identifier::parse(text).unwrap()
}

pub(super) fn margin(percent: u8) -> FlagMargin {
    FlagMargin::percent(percent).unwrap()
}

/// Event `seq` of `city`'s producer of `payload`, recorded at `at`.
pub(super) fn env(city: &City, seq: u64, at: TimeMs, payload: Payload) -> Envelope {
    Envelope::new(city.clone(), seq, at, payload)
}

pub(super) fn reported(case_id: CaseId, loss: u64, at: TimeMs) -> Payload {
    Payload::Intake(IntakeEvent::CaseReported {
        case_id,
        received_at_ms: at,
        fraud_type: FraudType::PigButchering,
        transfers: Vec::new(),
        contacts: Default::default(),
        reported_loss_fen: Fen::new(loss),
    })
}

pub(super) fn stopped(case_id: CaseId, account: AccountRef, stop_no: u8, claim: u64, at: TimeMs) -> Payload {
    Payload::Freezing(FreezingEvent::AccountStopped {
        case_id,
        hop: 1,
        account,
        stop_no,
        held_fen: Fen::new(claim),
        claim_fen: Fen::new(claim),
        onward: Vec::new(),
        cashed_out_fen: Fen::ZERO,
        stopped_at_ms: at,
        expires_at_ms: at + 2 * DAY_MS,
        answered_in_ms: Some(40),
        first_onward_hop: None,
        depth: Some(1),
    })
}

pub(super) fn frozen(case_id: CaseId, account: AccountRef, fen: u64, at: TimeMs) -> Payload {
    Payload::Freezing(FreezingEvent::AccountFrozen {
        case_id,
        account,
        frozen_fen: Fen::new(fen),
        frozen_at_ms: at,
        expires_at_ms: at + 180 * DAY_MS,
    })
}

pub(super) fn completed(case_id: CaseId, time_to_freeze_ms: u64, at: TimeMs) -> Payload {
    Payload::Freezing(FreezingEvent::TraceCompleted {
        case_id,
        completed_at_ms: at,
        accounts_stopped: 1,
        claimed_fen: Fen::ZERO,
        cashed_out_fen: Fen::ZERO,
        untraced_fen: Fen::ZERO,
        time_to_freeze_ms: Some(time_to_freeze_ms),
    })
}

pub(super) fn blocked(case_id: CaseId, identifier: Identifier, at: TimeMs) -> Payload {
    Payload::Blocking(BlockingEvent::IdentifierBlocked {
        identifier,
        generation: 1,
        case_id,
        fraud_type: FraudType::ImpersonatingAuthorities,
        blocked_at_ms: at,
        expires_at_ms: at + 90 * DAY_MS,
        carriers: Vec::new(),
        looks_like: None,
        province: None,
    })
}

pub(super) fn person(key: u128) -> PersonId {
    PersonId { key: PersonKey(key), carrier: None }
}

pub(super) fn task_opened(task: u64, kind: TaskKind, at: TimeMs) -> Payload {
    Payload::Dissuasion(DissuasionEvent::TaskOpened {
        task: TaskId(task),
        person: person(0xfeed_0000 + u128::from(task)),
        grade: Grade::Low,
        kind,
        opened_at_ms: at,
        first_contact_ms: at - MINUTE_MS,
        admission: Admission::Ready { day: 0, due_at_ms: at + HOUR_MS },
        sms_request: None,
    })
}

pub(super) fn task_closed(task: u64, closure: Closure, at: TimeMs) -> Payload {
    Payload::Dissuasion(DissuasionEvent::TaskClosed {
        task: TaskId(task),
        closure,
        operator: Some("officer-17".into()),
        note: "talked them out of it".into(),
        at_ms: at,
    })
}

pub(super) fn returned(case_id: CaseId, fen: u64, at: TimeMs) -> Payload {
    Payload::Restitution(RestitutionEvent::ReturnConfirmed {
        allocation: 1,
        case_id,
        amount_fen: Fen::new(fen),
        transfer_id: "rt-000001".into(),
        executed_at_ms: at,
        at_ms: at,
    })
}

/// Given `given` absorbed in order (each accepted), when `when` arrives: `then` is handed the
/// answer and the state.
pub(super) fn check(
    given: &[Envelope],
    when: &Envelope,
    then: impl FnOnce(Result<Absorbed, Refusal>, &State),
) -> State {
    let mut state = province();
    for envelope in given {
        absorb(&mut state, envelope).unwrap_or_else(|refusal| panic!("given {}: {refusal}", envelope.id));
    }
    let answer = absorb(&mut state, when);
    then(answer, &state);
    state
}

/// The notices of an accepted new envelope.
pub(super) fn notices(answer: Result<Absorbed, Refusal>) -> Vec<Notice> {
    match answer {
        Ok(Absorbed::New { notices, .. }) => notices,
        other => panic!("expected a new envelope, got {other:?}"),
    }
}

/// Every figure of `city` in `period`'s report.
pub(super) fn row_of(state: &State, period: &str, of: &City) -> Row {
    let report = report(state, Period::parse(period).unwrap(), margin(20)).unwrap();
    report.rows.into_iter().find(|row| row.city.as_ref() == Some(of)).unwrap()
}

/// The cities of a list, as a set.
pub(super) fn set(cities: &[City]) -> BTreeSet<City> {
    cities.iter().cloned().collect()
}
