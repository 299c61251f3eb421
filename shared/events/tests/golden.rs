//! Golden bytes: the wire format of every event kind, and the older shapes logs still
//! hold, is pinned by a file under `tests/golden/`. A change that alters the bytes fails
//! here; decoding the stored bytes of an older build must keep working. `AFC_BLESS=1`
//! writes the file of a new sample and never rewrites an existing one; a change that is not
//! backward compatible bumps `SCHEMA_VERSION` and keeps decoding the old files.

mod common;

use common::{from_hex, to_hex};

use std::path::PathBuf;

use domain::report::{Contacts, Destination, Transfer};
use domain::{AccountRef, CaseId, City, Fen, FraudType, PayerRef, PaymentOrderRef};
use events::freezing::{HopEnd, OnwardLeg};
use events::province::CrossCityClaim;
use events::{Envelope, FreezingEvent, IntakeEvent, Payload, SCHEMA_VERSION, Service, decode, encode, event_id};

/// The schema the samples below were blessed under: their files are what logs of schema 1
/// hold, and must keep decoding as they are.
const SCHEMA_1: u16 = 1;

fn envelope(service: Service, seq: u64, payload: Payload) -> Envelope {
    envelope_of_schema(SCHEMA_1, service, seq, payload)
}

fn envelope_of_schema(schema: u16, service: Service, seq: u64, payload: Payload) -> Envelope {
    let city = City::parse("hangzhou").unwrap();
    Envelope {
        id: event_id(&city, service, seq),
        city,
        service,
        seq,
        time_ms: 1_763_700_000_000 + seq,
        correlation: Some(case()),
        causation: Some("hangzhou.intake.1".into()),
        schema,
        payload,
    }
}

fn case() -> CaseId {
    CaseId::parse("hangzhou-00000000deadbeef").unwrap()
}

fn payer() -> PayerRef {
    PayerRef::parse("ccb:5f0c6e1d2a9b8c7d5f0c6e1d2a9b8c7d").unwrap()
}

fn account(n: &str) -> AccountRef {
    AccountRef::parse(&format!("icbc:{n}")).unwrap()
}

fn samples() -> Vec<(&'static str, Envelope)> {
    let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
    let intake = |seq, event| envelope(Service::Intake, seq, Payload::Intake(event));
    let freezing = |seq, event| envelope(Service::Freezing, seq, Payload::Freezing(event));
    vec![
        (
            "case_reported",
            intake(
                1,
                IntakeEvent::CaseReported {
                    case_id: case(),
                    received_at_ms: 1_763_700_000_000,
                    fraud_type: FraudType::PigButchering,
                    transfers: vec![
                        Transfer {
                            to: Destination::Account(account("6222020200001234")),
                            amount: Fen::new(500_000),
                            at_ms: 1,
                            from_account: None,
                        },
                        Transfer {
                            to: Destination::Order(order.clone()),
                            amount: Fen::new(20_000),
                            at_ms: 2,
                            from_account: None,
                        },
                    ],
                    contacts: Contacts { phones: vec!["+8617000000000".into()], ..Contacts::default() },
                    reported_loss_fen: Fen::new(520_000),
                },
            ),
        ),
        // Schema 2: the transfers name the victim's paying account by reference (the bank
        // transfer's; the order's payer is the platform's to say, so none here).
        (
            "case_reported_v2",
            envelope_of_schema(
                2,
                Service::Intake,
                19,
                Payload::Intake(IntakeEvent::CaseReported {
                    case_id: case(),
                    received_at_ms: 1_763_700_000_000,
                    fraud_type: FraudType::PigButchering,
                    transfers: vec![
                        Transfer {
                            to: Destination::Account(account("6222020200001234")),
                            amount: Fen::new(500_000),
                            at_ms: 1,
                            from_account: Some(payer()),
                        },
                        Transfer {
                            to: Destination::Order(order.clone()),
                            amount: Fen::new(20_000),
                            at_ms: 2,
                            from_account: None,
                        },
                    ],
                    contacts: Contacts { phones: vec!["+8617000000000".into()], ..Contacts::default() },
                    reported_loss_fen: Fen::new(520_000),
                }),
            ),
        ),
        (
            "hop_opened",
            freezing(
                2,
                FreezingEvent::HopOpened {
                    case_id: case(),
                    hop: 2,
                    parent: Some(1),
                    depth: 2,
                    target: Destination::Order(order.clone()),
                    traced_fen: Fen::new(20_000),
                    since_ms: 7,
                    arrival_transfer_id: Some("t-7".into()),
                },
            ),
        ),
        (
            "account_stopped",
            freezing(
                3,
                FreezingEvent::AccountStopped {
                    case_id: case(),
                    hop: 1,
                    account: account("6222020200001234"),
                    stop_no: 1,
                    held_fen: Fen::new(100_000),
                    claim_fen: Fen::new(100_000),
                    onward: vec![OnwardLeg {
                        to: Destination::Account(account("6222020200009999")),
                        amount_fen: Fen::new(400_000),
                        at_ms: 9,
                        transfer_id: "t-9".into(),
                    }],
                    cashed_out_fen: Fen::ZERO,
                    stopped_at_ms: 10,
                    expires_at_ms: 10 + 48 * 3_600_000,
                    answered_in_ms: None,
                    first_onward_hop: None,
                    depth: None,
                },
            ),
        ),
        (
            "hop_ended",
            freezing(
                4,
                FreezingEvent::HopEnded {
                    case_id: case(),
                    hop: 3,
                    reason: HopEnd::DepthLimit,
                    detail: "depth 8".into(),
                    merged_into: Some(2),
                },
            ),
        ),
        (
            "trace_started",
            freezing(
                6,
                FreezingEvent::TraceStarted {
                    case_id: case(),
                    reported_at_ms: 13,
                    reported_loss_fen: Fen::new(520_000),
                },
            ),
        ),
        (
            "order_resolved",
            freezing(
                7,
                FreezingEvent::OrderResolved {
                    case_id: case(),
                    hop: 2,
                    order: order.clone(),
                    account: account("6228000033334444"),
                    settled_at_ms: 14,
                    transfer_id: "t-14".into(),
                    answered_in_ms: Some(3),
                },
            ),
        ),
        // The shape logs written before `answered_in_ms` was kept hold.
        (
            "order_resolved_former",
            freezing(
                8,
                FreezingEvent::OrderResolved {
                    case_id: case(),
                    hop: 2,
                    order: order.clone(),
                    account: account("6228000033334444"),
                    settled_at_ms: 14,
                    transfer_id: "t-14".into(),
                    answered_in_ms: None,
                },
            ),
        ),
        // The current shape: the stop opens its onward hops itself.
        (
            "account_stopped_opening_hops",
            freezing(
                9,
                FreezingEvent::AccountStopped {
                    case_id: case(),
                    hop: 1,
                    account: account("6222020200001234"),
                    stop_no: 1,
                    held_fen: Fen::new(100_000),
                    claim_fen: Fen::new(100_000),
                    onward: vec![OnwardLeg {
                        to: Destination::Account(account("6222020200009999")),
                        amount_fen: Fen::new(400_000),
                        at_ms: 9,
                        transfer_id: "t-9".into(),
                    }],
                    cashed_out_fen: Fen::new(20_000),
                    stopped_at_ms: 10,
                    expires_at_ms: 10 + 48 * 3_600_000,
                    answered_in_ms: Some(4),
                    first_onward_hop: Some(3),
                    depth: Some(1),
                },
            ),
        ),
        (
            "trace_completed",
            freezing(
                10,
                FreezingEvent::TraceCompleted {
                    case_id: case(),
                    completed_at_ms: 15,
                    accounts_stopped: 25,
                    claimed_fen: Fen::new(100_000),
                    cashed_out_fen: Fen::new(20_000),
                    untraced_fen: Fen::new(400_000),
                    time_to_freeze_ms: Some(5),
                },
            ),
        ),
        (
            "account_frozen",
            freezing(
                11,
                FreezingEvent::AccountFrozen {
                    case_id: case(),
                    account: account("6222020200001234"),
                    frozen_fen: Fen::new(100_000),
                    frozen_at_ms: 16,
                    expires_at_ms: 16 + 183 * 86_400_000,
                },
            ),
        ),
        (
            "stop_renewed",
            freezing(
                12,
                FreezingEvent::StopRenewed {
                    case_id: case(),
                    account: account("6222020200001234"),
                    stop_no: 2,
                    expires_at_ms: 17 + 48 * 3_600_000,
                    renewed_at_ms: Some(17),
                },
            ),
        ),
        // The shape logs written before `renewed_at_ms` was kept hold.
        (
            "stop_renewed_former",
            freezing(
                13,
                FreezingEvent::StopRenewed {
                    case_id: case(),
                    account: account("6222020200001234"),
                    stop_no: 2,
                    expires_at_ms: 17 + 48 * 3_600_000,
                    renewed_at_ms: None,
                },
            ),
        ),
        (
            "freeze_failed",
            freezing(
                14,
                FreezingEvent::FreezeFailed {
                    case_id: case(),
                    account: account("6222020200001234"),
                    reason: "the bank did not answer within 5s (after 4 attempt(s))".into(),
                },
            ),
        ),
        (
            "hop_retrying",
            freezing(
                15,
                FreezingEvent::HopRetrying {
                    case_id: case(),
                    hop: 2,
                    attempt: 3,
                    first_failed_at_ms: 18,
                    retry_at_ms: 48_018,
                    reason: "stop-payment on icbc:6222020200001234: no responders".into(),
                },
            ),
        ),
        (
            "freeze_retrying",
            freezing(
                16,
                FreezingEvent::FreezeRetrying {
                    case_id: case(),
                    account: account("6222020200001234"),
                    attempt: 2,
                    retry_at_ms: 30_019,
                    reason: "the bank did not answer within 5s (after 4 attempt(s))".into(),
                },
            ),
        ),
        (
            "freeze_at_risk",
            freezing(
                17,
                FreezingEvent::FreezeAtRisk {
                    case_id: case(),
                    account: account("6222020200001234"),
                    claim_fen: Fen::new(250_000),
                    expires_at_ms: 20 + 48 * 3_600_000,
                    reason: "freeze not placed after 9 attempt(s), no renewal left".into(),
                },
            ),
        ),
        (
            "claim_revised",
            freezing(
                18,
                FreezingEvent::ClaimRevised {
                    case_id: case(),
                    account: account("6222020200001234"),
                    previous_fen: Fen::new(400_000),
                    claim_fen: Fen::new(250_000),
                    by_case: CaseId::parse("hangzhou-00000000feedf00d").unwrap(),
                    by_hop: 3,
                    revised_at_ms: 21,
                },
            ),
        ),
        (
            "freeze_queued",
            freezing(
                5,
                FreezingEvent::FreezeQueued {
                    case_id: case(),
                    account: account("6222020200001234"),
                    claim_fen: Fen::new(1),
                    queued_behind: City::parse("wenzhou").unwrap(),
                    queued_at_ms: 11,
                    expires_at_ms: 12,
                },
            ),
        ),
        (
            "cross_city_claims",
            freezing(
                20,
                FreezingEvent::CrossCityClaims {
                    account: account("6222020200001234"),
                    claims: vec![
                        CrossCityClaim {
                            city: City::parse("wenzhou").unwrap(),
                            case_id: CaseId::parse("wenzhou-00000000feedf00d").unwrap(),
                            first_stop_at_ms: 1_763_699_000_000,
                        },
                        CrossCityClaim {
                            city: City::parse("hangzhou").unwrap(),
                            case_id: case(),
                            first_stop_at_ms: 1_763_700_000_018,
                        },
                    ],
                    noticed_at_ms: 1_763_700_000_020,
                },
            ),
        ),
    ]
}

fn golden_path(name: &str) -> PathBuf {
    common::golden_path("", name)
}

#[test]
fn every_event_kind_encodes_to_its_golden_bytes_and_back() {
    let bless = std::env::var_os("AFC_BLESS").is_some();
    for (name, envelope) in samples() {
        let bytes = encode(&envelope).unwrap();
        let path = golden_path(name);
        // Blessing writes a new kind's file; it never rewrites one: stored bytes are what
        // logs in the field hold, and must keep decoding as they are.
        if bless && !path.exists() {
            std::fs::write(&path, to_hex(&bytes)).unwrap();
        }
        let golden =
            std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path:?}: run with AFC_BLESS=1"));
        assert_eq!(to_hex(&bytes), golden.trim(), "{name}: wire format changed");
        let decoded = decode(&from_hex(&golden)).unwrap();
        assert_eq!(decoded, envelope, "{name}: golden bytes decode to a different event");
        assert_eq!(encode(&decoded).unwrap(), bytes, "{name}: decode then encode is not the identity");
    }
}

#[test]
fn named_fields_are_on_the_wire() {
    let (_, envelope) = samples().remove(0);
    let bytes = encode(&envelope).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for field in ["id", "city", "seq", "schema", "payload", "case_reported", "reported_loss_fen"] {
        assert!(text.contains(field), "field {field} is not named on the wire");
    }
}

#[test]
fn rejects_oversize_garbage_wrong_schema_and_inconsistent_ids() {
    assert!(matches!(decode(&vec![0u8; events::MAX_EVENT_BYTES + 1]), Err(events::CodecError::TooLarge { .. })));
    assert!(matches!(decode(b"not msgpack"), Err(events::CodecError::Undecodable(_))));

    let (_, mut envelope) = samples().remove(0);
    envelope.schema = SCHEMA_VERSION + 1;
    let bytes = rmp_serde::to_vec_named(&envelope).unwrap();
    assert!(
        matches!(decode(&bytes), Err(events::CodecError::UnsupportedSchema { found }) if found == SCHEMA_VERSION + 1)
    );

    // Below the oldest version this build reads, too (0 is below every version).
    let (_, mut envelope) = samples().remove(0);
    envelope.schema = events::OLDEST_SCHEMA - 1;
    let bytes = rmp_serde::to_vec_named(&envelope).unwrap();
    assert!(
        matches!(decode(&bytes), Err(events::CodecError::UnsupportedSchema { found }) if found + 1 == events::OLDEST_SCHEMA)
    );

    let (_, mut envelope) = samples().remove(0);
    envelope.id = "hangzhou.intake.99".into();
    let bytes = rmp_serde::to_vec_named(&envelope).unwrap();
    assert!(matches!(decode(&bytes), Err(events::CodecError::Inconsistent(_))));
}

#[test]
fn every_event_kind_has_a_golden_sample() {
    let sampled: std::collections::BTreeSet<&str> = samples().iter().map(|(_, e)| e.payload.name()).collect();
    for kind in FreezingEvent::KINDS.iter().chain(IntakeEvent::KINDS.iter()) {
        assert!(sampled.contains(kind), "no golden sample of {kind}");
    }
}

#[test]
fn every_sample_is_tagged_on_the_wire_with_its_kind_constant_and_the_kinds_are_distinct() {
    for (name, envelope) in samples() {
        let bytes = encode(&envelope).unwrap();
        let kind = envelope.payload.name();
        // Named MessagePack: the variant's tag is on the wire as a string.
        assert!(String::from_utf8_lossy(&bytes).contains(kind), "{name}: tag {kind} not on the wire");
        let listed = match &envelope.payload {
            Payload::Intake(_) => IntakeEvent::KINDS.as_slice(),
            Payload::Freezing(_) => FreezingEvent::KINDS.as_slice(),
            Payload::Blocking(_) => events::BlockingEvent::KINDS.as_slice(),
            Payload::Dissuasion(_) => events::DissuasionEvent::KINDS.as_slice(),
            Payload::Restitution(_) => events::RestitutionEvent::KINDS.as_slice(),
        };
        assert!(listed.contains(&kind), "{name}: {kind} is not among its service's KINDS");
    }
    // Blocking's, dissuasion's and restitution's kinds too (sampled in golden_blocking.rs,
    // golden_dissuasion.rs and golden_restitution.rs): a kind names one event in the city.
    let mut kinds: Vec<&str> = FreezingEvent::KINDS
        .iter()
        .chain(IntakeEvent::KINDS.iter())
        .chain(events::BlockingEvent::KINDS.iter())
        .chain(events::DissuasionEvent::KINDS.iter())
        .chain(events::RestitutionEvent::KINDS.iter())
        .copied()
        .collect();
    let count = kinds.len();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), count, "every kind has one name");
}

#[test]
fn a_case_reported_of_schema_1_decodes_with_no_paying_account_and_one_of_schema_2_names_it() {
    let before = decode(&from_hex(&std::fs::read_to_string(golden_path("case_reported")).unwrap())).unwrap();
    assert_eq!(before.schema, 1);
    let Payload::Intake(IntakeEvent::CaseReported { transfers, .. }) = &before.payload else { panic!("case_reported") };
    assert_eq!(transfers.len(), 2);
    assert!(transfers.iter().all(|t| t.from_account.is_none()), "schema 1 had no paying account");

    let now = decode(&from_hex(&std::fs::read_to_string(golden_path("case_reported_v2")).unwrap())).unwrap();
    assert_eq!(now.schema, SCHEMA_VERSION, "the newest sample is of the schema this build writes");
    let Payload::Intake(IntakeEvent::CaseReported { transfers, .. }) = &now.payload else { panic!("case_reported") };
    assert_eq!(transfers[0].from_account, Some(payer()));
    assert_eq!(transfers[1].from_account, None);
    // Only the reference is on the wire, never an account number of the victim's.
    let wire = String::from_utf8_lossy(&from_hex(&std::fs::read_to_string(golden_path("case_reported_v2")).unwrap()))
        .into_owned();
    assert!(wire.contains("from_account") && wire.contains(payer().as_str()));

    // A new envelope is written in the current schema, which this build reads.
    let written = Envelope::new(City::parse("hangzhou").unwrap(), 1, 1, now.payload.clone());
    assert_eq!(written.schema, SCHEMA_VERSION);
    assert_eq!(decode(&encode(&written).unwrap()).unwrap(), written);
}

#[test]
fn the_case_of_an_event_is_read_without_its_payload() {
    for (name, sample) in samples() {
        let bytes = encode(&sample).unwrap();
        assert_eq!(events::correlation(&bytes), sample.correlation, "{name}");
    }
    let mut no_case = samples().remove(0).1;
    no_case.correlation = None;
    assert_eq!(events::correlation(&encode(&no_case).unwrap()), None);
    assert_eq!(events::correlation(b"not an event"), None);
}
