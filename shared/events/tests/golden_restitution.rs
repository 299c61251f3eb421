//! Golden bytes of every restitution event kind: the payload (MessagePack with named fields,
//! as `encode` writes it inside an envelope) is pinned by a file under
//! `tests/golden/restitution/`, blessed when the events were introduced. A change that alters
//! the bytes fails here, and the stored bytes must keep decoding. `AFC_BLESS=1` writes the
//! file of a new sample and never rewrites one.

mod common;

use domain::{AccountRef, CaseId, Fen};
use events::restitution::{Cause, RestitutionEvent, ReturnProblem, Rule, ShareLine};

const T: u64 = 1_763_946_000_000;

fn case(n: u8) -> CaseId {
    CaseId::parse(&format!("wuhan-00000000deadbee{n}")).unwrap()
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020000001234").unwrap()
}

fn lines() -> Vec<ShareLine> {
    vec![
        ShareLine { case_id: case(1), fen: Fen::new(60_000), traced_in_fen: Fen::new(80_000) },
        ShareLine { case_id: case(2), fen: Fen::new(0), traced_in_fen: Fen::new(5_000) },
    ]
}

fn samples() -> Vec<RestitutionEvent> {
    vec![
        RestitutionEvent::AllocationProposed {
            allocation: 3,
            account: mule(),
            rule: Rule::TimestampTrace,
            cause: Cause::Reopened,
            replaces: Some(2),
            frozen_fen: Fen::new(60_000),
            shares: lines(),
            unallocated_fen: Fen::new(0),
            statement_entries: Some(12),
            proposed_at_ms: T,
            notice_ends_at_ms: T + 2_592_000_000,
        },
        RestitutionEvent::AllocationRefused {
            account: mule(),
            rule: Rule::LowestIntermediateBalance,
            reason: "statement = null: expected the account's statement".into(),
            traced: lines(),
            frozen_fen: Fen::new(60_000),
            at_ms: T,
        },
        RestitutionEvent::ObjectionRaised {
            allocation: 3,
            objection: 1,
            case_id: Some(case(2)),
            by: "victim of case 2".into(),
            reason: "my second transfer is missing".into(),
            at_ms: T + 1,
        },
        RestitutionEvent::ObjectionDismissed {
            allocation: 3,
            objection: 1,
            by: "li".into(),
            reason: "the statement shows it left before the stop".into(),
            at_ms: T + 2,
        },
        RestitutionEvent::NoticeEnded { allocation: 3, at_ms: T + 2_592_000_000 },
        RestitutionEvent::AllocationApproved {
            allocation: 3,
            by: "li".into(),
            key: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4".into(),
            at_ms: T + 2_592_000_001,
        },
        RestitutionEvent::ReturnInstructed {
            allocation: 3,
            case_id: case(1),
            request_id: format!("wuhan/restitution/a3/{}", case(1)),
            amount_fen: Fen::new(60_000),
            due_ms: T + 2_851_200_001,
            at_ms: T + 2_592_000_002,
        },
        RestitutionEvent::ReturnConfirmed {
            allocation: 3,
            case_id: case(1),
            amount_fen: Fen::new(60_000),
            transfer_id: "icbc-ret-0001".into(),
            executed_at_ms: T + 2_600_000_000,
            at_ms: T + 2_600_000_100,
        },
        RestitutionEvent::ReturnOverdue {
            allocation: 3,
            case_id: case(1),
            due_ms: T + 2_851_200_001,
            at_ms: T + 2_851_200_002,
        },
        RestitutionEvent::ReturnFailed {
            allocation: 3,
            case_id: case(1),
            problem: ReturnProblem::AmountMismatch { confirmed_fen: Fen::new(59_999) },
            detail: "instructed ¥600.00, the bank confirmed ¥599.99".into(),
            at_ms: T + 2_600_000_100,
        },
        RestitutionEvent::AllocationCompleted {
            allocation: 3,
            returned_fen: Fen::new(60_000),
            at_ms: T + 2_600_000_100,
        },
        RestitutionEvent::ClaimAfterExecution {
            account: mule(),
            case_id: case(2),
            allocation: 3,
            at_ms: T + 2_700_000_000,
        },
    ]
}

/// Shapes the kinds' samples do not show, checked to round-trip.
fn other_shapes() -> Vec<RestitutionEvent> {
    let failed = |problem| RestitutionEvent::ReturnFailed {
        allocation: 1,
        case_id: case(1),
        problem,
        detail: String::new(),
        at_ms: T,
    };
    let mut shapes =
        vec![failed(ReturnProblem::NoPayingAccount), failed(ReturnProblem::Refused { kind: "not_frozen".into() })];
    for (cause, rule) in [
        (Cause::Frozen, Rule::ProRata),
        (Cause::Reproposed { by: "zhao".into() }, Rule::Fifo),
        (Cause::Remainder, Rule::LowestIntermediateBalance),
    ] {
        shapes.push(RestitutionEvent::AllocationProposed {
            allocation: 1,
            account: mule(),
            rule,
            cause,
            replaces: None,
            frozen_fen: Fen::new(1),
            shares: Vec::new(),
            unallocated_fen: Fen::new(1),
            statement_entries: None,
            proposed_at_ms: T,
            notice_ends_at_ms: T,
        });
    }
    shapes
}

#[test]
fn every_event_kind_encodes_to_its_golden_bytes_and_back() {
    for event in samples() {
        common::check_payload("restitution", event.name(), &event);
    }
}

#[test]
fn every_kind_has_a_sample_tagged_on_the_wire_with_its_name() {
    let samples = samples();
    let names: Vec<&str> = samples.iter().map(RestitutionEvent::name).collect();
    assert_eq!(names, RestitutionEvent::KINDS);
    for event in &samples {
        let json = serde_json::to_value(event).unwrap();
        assert!(json.get(event.name()).is_some(), "{json}");
    }
}

#[test]
fn the_other_shapes_round_trip() {
    for event in other_shapes() {
        let bytes = rmp_serde::to_vec_named(&event).unwrap();
        assert_eq!(rmp_serde::from_slice::<RestitutionEvent>(&bytes).unwrap(), event);
    }
}
