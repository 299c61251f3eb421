//! Golden bytes of every blocking event kind: the payload (MessagePack with named fields, as
//! `encode` writes it inside an envelope) is pinned by a file under `tests/golden/blocking/`,
//! blessed when the events were in the blocking crate and moved here unchanged. A change that
//! alters the bytes fails here, and the stored bytes must keep decoding. `AFC_BLESS=1` writes
//! the file of a new sample and never rewrites one.

mod common;

use domain::{AccountRef, CaseId, City, FraudType};
use events::blocking::{
    Appeal, BlockingEvent, Card, Carrier, Channel, HolderKey, OrderErrorKind, PoolSubject, ProvinceOrigin,
};
use events::{Envelope, Payload, Service, decode, encode};
use identifiers::{ContactKind, Identifier, Reason};

fn case() -> CaseId {
    CaseId::parse("huzhou-00000000deadbeef").unwrap()
}

fn phone() -> Identifier {
    Identifier::parse("phone:+8617000000000").unwrap()
}

fn samples() -> Vec<BlockingEvent> {
    const T: u64 = 1_763_946_000_000;
    let request_id = "huzhou/ctcc/phone:+8617000000000/block1".to_owned();
    let holder = HolderKey::parse("icbc:0123456789abcdef").unwrap();
    let account = AccountRef::parse("icbc:6222020200001234").unwrap();
    let appeal = Appeal { reason: "number reassigned".into(), operator: "huzhou-liaison-07".into() };
    vec![
        BlockingEvent::CaseScreened { case_id: case(), reported_at_ms: T, identifiers: 2, rejected: 1 },
        BlockingEvent::IdentifierRejected {
            case_id: case(),
            kind: ContactKind::Url,
            value: "javascript:alert(1)".into(),
            reason: Reason::UnsupportedScheme,
        },
        BlockingEvent::IdentifierBlocked {
            identifier: Identifier::parse("domain:xn--pple-43d.com").unwrap(),
            generation: 1,
            case_id: case(),
            fraud_type: FraudType::FakeCustomerService,
            blocked_at_ms: T,
            expires_at_ms: T + 1,
            carriers: Carrier::ALL.to_vec(),
            looks_like: Some("аpple.com".into()),
            province: None,
        },
        BlockingEvent::BlockExtended {
            identifier: phone(),
            generation: 1,
            case_id: case(),
            fraud_type: FraudType::PigButchering,
            extended_at_ms: T,
            expires_at_ms: T + 2,
        },
        BlockingEvent::BlockExpired { identifier: phone(), generation: 1, expired_at_ms: T },
        BlockingEvent::BlockLifted { identifier: phone(), generation: 2, lifted_at_ms: T, appeal: appeal.clone() },
        BlockingEvent::OrderRetrying {
            request_id: request_id.clone(),
            attempt: 1,
            retry_at_ms: T + 5_000,
            error: OrderErrorKind::Timeout,
        },
        BlockingEvent::OrderResent { request_id: request_id.clone(), attempt: 2 },
        BlockingEvent::OrderConfirmed { request_id: request_id.clone(), confirmed_at_ms: T },
        BlockingEvent::OrderFailed { request_id, attempts: 20, error: OrderErrorKind::NoResponders },
        BlockingEvent::HolderReported {
            holder: holder.clone(),
            case_id: case(),
            phones: vec![phone()],
            accounts: vec![account.clone()],
        },
        BlockingEvent::PoolEntered {
            subject: PoolSubject::Holder(holder.clone()),
            generation: 1,
            case_id: case(),
            entered_at_ms: T,
            release_at_ms: T + 3,
            channels: Channel::LOCAL_VOICE_ONLY.to_vec(),
            cards: vec![Card { phone: phone(), carriers: vec![Carrier::Ctcc] }],
        },
        BlockingEvent::PoolInvolved {
            subject: PoolSubject::Account(account.clone()),
            generation: 1,
            case_id: case(),
            release_at_ms: T + 4,
            cards: Vec::new(),
        },
        BlockingEvent::PoolReleased {
            subject: PoolSubject::Account(account),
            generation: 1,
            released_at_ms: T,
            appeal: Some(appeal),
        },
    ]
}

#[test]
fn every_event_kind_encodes_to_its_golden_bytes_and_back() {
    for event in samples() {
        common::check_payload("blocking", event.name(), &event);
    }
}

/// A block the province asked for: `identifier_blocked` with its `province` field, pinned
/// beside the city's own (whose bytes the field, absent, leaves as they were).
#[test]
fn a_province_block_encodes_to_its_golden_bytes_and_back() {
    const T: u64 = 1_763_946_000_000;
    let event = BlockingEvent::IdentifierBlocked {
        identifier: phone(),
        generation: 1,
        case_id: CaseId::parse("jiaxing-00000000cafef00d").unwrap(),
        fraud_type: FraudType::ImpersonatingAuthorities,
        blocked_at_ms: T,
        expires_at_ms: T + 1,
        carriers: vec![Carrier::Ctcc],
        looks_like: None,
        province: Some(ProvinceOrigin {
            cities: vec![City::parse("jiaxing").unwrap(), City::parse("hangzhou").unwrap()],
            decided_at_ms: T - 1,
        }),
    };
    common::check_payload("blocking", "identifier_blocked_province", &event);
}

#[test]
fn every_kind_has_a_sample_tagged_on_the_wire_with_its_name() {
    let samples = samples();
    let names: Vec<&str> = samples.iter().map(BlockingEvent::name).collect();
    assert_eq!(names, BlockingEvent::KINDS);
    for event in &samples {
        let json = serde_json::to_value(event).unwrap();
        assert!(json.get(event.name()).is_some(), "{json}");
    }
}

#[test]
fn an_identifier_that_is_not_canonical_does_not_decode() {
    let event = BlockingEvent::BlockExpired { identifier: phone(), generation: 1, expired_at_ms: 1 };
    let json = serde_json::to_string(&event).unwrap().replace("+8617000000000", "17000000000");
    assert!(serde_json::from_str::<BlockingEvent>(&json).is_err(), "{json}");
}

#[test]
fn an_envelope_carries_the_pinned_payload_bytes_on_blockings_subject() {
    let city = City::parse("huzhou").unwrap();
    for (seq, event) in (1..).zip(samples()) {
        let golden = std::fs::read_to_string(common::golden_path("blocking", event.name())).unwrap();
        let envelope = Envelope::new(city.clone(), seq, 1_763_946_000_000, Payload::Blocking(event.clone()));
        assert_eq!(envelope.service, Service::Blocking);
        assert_eq!(envelope.id, format!("huzhou.blocking.{seq}"));
        assert_eq!(envelope.correlation.as_ref(), event.case_id());
        assert_eq!(envelope.subject(), protocol::subjects::event(&city, Service::Blocking, event.name()));
        let bytes = encode(&envelope).unwrap();
        assert!(
            common::to_hex(&bytes).contains(golden.trim()),
            "{}: the envelope's payload is not the pinned bytes",
            event.name()
        );
        assert_eq!(decode(&bytes).unwrap(), envelope);
    }
}
