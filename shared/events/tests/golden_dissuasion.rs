//! Golden bytes of every dissuasion event kind: the payload (MessagePack with named fields, as
//! `encode` writes it inside an envelope) is pinned by a file under `tests/golden/dissuasion/`,
//! blessed when the events moved here from the dissuasion crate, and again when a person key
//! replaced the subscriber's number and `signal_recorded` left the log (no store held them yet). A change that
//! alters the bytes fails here, and the stored bytes must keep decoding. `AFC_BLESS=1` writes
//! the file of a new sample and never rewrites one.

mod common;

use std::collections::BTreeSet;

use domain::{Carrier, CaseId, City, FraudType, PlatformId};
use events::dissuasion::{
    Admission, Closure, Clue, DissuasionEvent, Escalation, Grade, Level, PersonId, PersonKey, SignalBody, SignalKey,
    SignalRecord, Source, Subscriber, TaskId, TaskKind,
};
use events::{Envelope, Payload, Service, decode, encode};
use identifiers::Identifier;

const T: u64 = 1_763_946_000_000;

fn case() -> CaseId {
    CaseId::parse("wuhan-00000000deadbeef").unwrap()
}

fn scam_phone() -> Identifier {
    Identifier::parse("phone:+8617000000000").unwrap()
}

fn person() -> PersonId {
    PersonId { key: PersonKey(0x0123_4567_89ab_cdef_0011_2233_4455_6677), carrier: Some(Carrier::Cmcc) }
}

fn key(id: &str) -> SignalKey {
    SignalKey { source: Source::Carrier(Carrier::Cmcc), id: id.into() }
}

fn types() -> BTreeSet<FraudType> {
    [FraudType::ImpersonatingAuthorities, FraudType::PigButchering].into_iter().collect()
}

fn samples() -> Vec<DissuasionEvent> {
    let app = Identifier::parse("app:com.fake.loan").unwrap();
    let ready = Admission::Ready { day: 20_416, due_at_ms: T + 3_600_000 };
    vec![
        DissuasionEvent::ScamIdentifierKnown {
            identifier: scam_phone(),
            since_ms: T,
            fraud_types: types(),
            case_id: Some(case()),
        },
        DissuasionEvent::ScamIdentifierEnded { identifier: scam_phone(), until_ms: T + 1 },
        DissuasionEvent::CaseMatched {
            case_id: case(),
            fraud_type: FraudType::ImpersonatingAuthorities,
            reported_at_ms: T,
            identifiers: 2,
        },
        DissuasionEvent::EvidenceAdded {
            person: person(),
            clue: Clue::Contact {
                signal: key("cmcc-0001"),
                identifier: scam_phone(),
                at_ms: T,
                duration_s: 1_260,
                fraud_types: types(),
            },
        },
        DissuasionEvent::TaskOpened {
            task: TaskId(1),
            person: person(),
            grade: Grade::Low,
            kind: TaskKind::Sms,
            opened_at_ms: T,
            first_contact_ms: T - 5,
            admission: ready,
            sms_request: Some("wuhan/cmcc/dissuasion/t1".into()),
        },
        DissuasionEvent::TaskEscalated {
            task: TaskId(1),
            grade: Grade::High,
            to: TaskKind::Visit(Level::DistrictBureau),
            reason: Escalation::Refused,
            at_ms: T + 3,
            admission: Admission::Waiting { day: 20_416, until_ms: T + 86_400_000 },
            operator: Some("wuhan-96110-03".into()),
            note: "says it is her nephew".into(),
        },
        DissuasionEvent::QueueWaiting { queue: TaskKind::Call, day: 20_416, waiting: 7, until_ms: T + 86_400_000 },
        DissuasionEvent::TaskAdmitted { task: TaskId(2), day: 20_417, due_at_ms: T + 90_000_000 },
        DissuasionEvent::TaskOverdue { task: TaskId(3), at_ms: T + 4 },
        DissuasionEvent::TaskClaimed { task: TaskId(2), operator: "wuhan-96110-03".into(), at_ms: T + 5 },
        DissuasionEvent::TaskReassigned {
            task: TaskId(2),
            to: "wuhan-96110-04".into(),
            by: "wuhan-96110-lead".into(),
            at_ms: T + 6,
        },
        DissuasionEvent::TaskClosed {
            task: TaskId(2),
            closure: Closure::Persuaded,
            operator: Some("wuhan-96110-04".into()),
            note: "app installed".into(),
            at_ms: T + 7,
        },
        DissuasionEvent::ReportFiled {
            task: TaskId(4),
            case_id: case(),
            person: person(),
            identifiers: vec![scam_phone(), app.clone()],
            fraud_types: types(),
            first_contact_ms: T - 5,
            at_ms: T + 8,
        },
        DissuasionEvent::PeopleForgotten { before_ms: T - 30, people: 1_200, tasks: 340, at_ms: T + 9 },
    ]
}

/// Samples of the shapes the kinds' samples above do not show, checked to round-trip (no
/// golden: the kinds' goldens pin the wire).
fn other_shapes() -> Vec<DissuasionEvent> {
    let platform = SignalKey { source: Source::Platform(PlatformId::parse("douyin").unwrap()), id: "d-9".into() };
    let app = Identifier::parse("app:com.fake.loan").unwrap();
    vec![
        DissuasionEvent::EvidenceAdded {
            person: person(),
            clue: Clue::ScamApp { signal: platform.clone(), app, at_ms: T },
        },
        DissuasionEvent::EvidenceAdded {
            person: person(),
            clue: Clue::TransferInstructions { signal: platform, at_ms: T },
        },
        DissuasionEvent::ScamIdentifierKnown {
            identifier: scam_phone(),
            since_ms: T,
            fraud_types: BTreeSet::new(),
            case_id: None,
        },
    ]
}

#[test]
fn every_event_kind_encodes_to_its_golden_bytes_and_back() {
    for event in samples() {
        common::check_payload("dissuasion", event.name(), &event);
    }
}

#[test]
fn every_kind_has_a_sample_tagged_on_the_wire_with_its_name() {
    let samples = samples();
    let names: Vec<&str> = samples.iter().map(DissuasionEvent::name).collect();
    assert_eq!(names, DissuasionEvent::KINDS);
    for event in &samples {
        let json = serde_json::to_value(event).unwrap();
        assert!(json.get(event.name()).is_some(), "{json}");
    }
}

#[test]
fn the_other_shapes_round_trip() {
    for event in other_shapes() {
        let bytes = rmp_serde::to_vec_named(&event).unwrap();
        assert_eq!(rmp_serde::from_slice::<DissuasionEvent>(&bytes).unwrap(), event);
    }
}

/// A kept signal (a row of dissuasion's store, never an event) holds the number.
fn record() -> SignalRecord {
    SignalRecord {
        key: key("cmcc-0001"),
        person: person(),
        subscriber: Subscriber::parse("+86 138 0013 8000").unwrap(),
        at_ms: T,
        received_at_ms: T + 2,
        body: SignalBody::Contact { identifier: scam_phone(), duration_s: 1_260 },
        forget_before_ms: T - 604_800_000,
    }
}

#[test]
fn a_kept_signal_round_trips_and_a_subscriber_that_is_not_canonical_does_not_decode_and_is_never_echoed() {
    let record = record();
    let bytes = rmp_serde::to_vec_named(&record).unwrap();
    assert_eq!(rmp_serde::from_slice::<SignalRecord>(&bytes).unwrap(), record);
    let json = serde_json::to_string(&record).unwrap().replace("+8613800138000", "1380013");
    let error = serde_json::from_str::<SignalRecord>(&json).unwrap_err().to_string();
    assert!(!error.contains("1380013"), "{error}");
    assert_eq!(format!("{record:?}").matches("13800138000").count(), 0, "Debug masks the subscriber");
}

#[test]
fn a_person_key_reads_only_in_its_canonical_form() {
    let person_key = person().key;
    assert_eq!(person_key.to_string(), "p-0123456789abcdef0011223344556677");
    assert_eq!(PersonKey::parse(&person_key.to_string()), Some(person_key));
    for bad in [
        "p-0123456789ABCDEF0011223344556677",
        "p-0123",
        "0123456789abcdef0011223344556677",
        "p-+123456789abcdef0011223344556677",
    ] {
        assert_eq!(PersonKey::parse(bad), None, "{bad}");
    }
    let event = DissuasionEvent::EvidenceAdded {
        person: person(),
        clue: Clue::TransferInstructions { signal: key("cmcc-0002"), at_ms: T },
    };
    let json = serde_json::to_string(&event).unwrap().replace("p-0123456789abcdef", "p-0123456789ABCDEF");
    let error = serde_json::from_str::<DissuasionEvent>(&json).unwrap_err().to_string();
    assert!(error.contains("invalid person key"), "{error}");
}

#[test]
fn an_envelope_carries_the_pinned_payload_bytes_on_dissuasions_subject() {
    let city = City::parse("wuhan").unwrap();
    for (seq, event) in (1..).zip(samples()) {
        let golden = std::fs::read_to_string(common::golden_path("dissuasion", event.name())).unwrap();
        let envelope = Envelope::new(city.clone(), seq, T, Payload::Dissuasion(event.clone()));
        assert_eq!(envelope.service, Service::Dissuasion);
        assert_eq!(envelope.id, format!("wuhan.dissuasion.{seq}"));
        assert_eq!(envelope.correlation.as_ref(), event.case_id());
        assert_eq!(envelope.subject(), protocol::subjects::event(&city, Service::Dissuasion, event.name()));
        let bytes = encode(&envelope).unwrap();
        assert!(
            common::to_hex(&bytes).contains(golden.trim()),
            "{}: the envelope's payload is not the pinned bytes",
            event.name()
        );
        assert_eq!(decode(&bytes).unwrap(), envelope);
    }
}
