//! Given what intake recorded, when a report or a freezing event comes in, then this.

use domain::{AccountRef, Fen, TimeMs};
use events::{Envelope, FreezingEvent, Payload};
use protocol::intake::{IntakeErrorKind, TimelineKind};
use serde_json::json;

use super::*;

const NOW: TimeMs = 1_763_700_000_000;
const SECRET: PayerSecret = PayerSecret(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn body(amount_fen: u64) -> Vec<u8> {
    json!({
        "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
        "fraud_type": "pig_butchering",
        "transfers": [{"account": "icbc:6222020200001234", "amount_fen": amount_fen, "at_ms": NOW - 60_000}],
        "narrative": "met online"
    })
    .to_string()
    .into_bytes()
}

fn frozen(seq: u64, case_id: &CaseId, fen: u64, at_ms: TimeMs) -> Envelope {
    Envelope::new(
        city(),
        seq,
        at_ms,
        Payload::Freezing(FreezingEvent::AccountFrozen {
            case_id: case_id.clone(),
            account: AccountRef::parse(&format!("icbc:62220202000{seq:05}")).unwrap(),
            frozen_fen: Fen::new(fen),
            frozen_at_ms: at_ms,
            expires_at_ms: at_ms + 1,
        }),
    )
}

#[test]
fn given_nothing_recorded_when_a_report_comes_then_it_is_recorded_with_a_case_reported_event() {
    let submission = prepare(&city(), &body(500_000), NOW).unwrap();
    let expected_id = submission.case_id.clone();
    let Decision::Record { case_id, canonical, received_at_ms, event } =
        decide(None, submission, &SECRET, NOW + 5).unwrap()
    else {
        panic!("a new case")
    };
    assert_eq!(case_id, expected_id);
    assert_eq!(received_at_ms, NOW + 5);
    assert_eq!(canonical, case_id_for(&city(), &prepare(&city(), &body(500_000), NOW).unwrap().report).1);
    let IntakeEvent::CaseReported { received_at_ms, reported_loss_fen, transfers, .. } = &event;
    assert_eq!((*received_at_ms, *reported_loss_fen, transfers.len()), (NOW + 5, Fen::new(500_000), 1));
    let published = format!("{event:?}");
    assert!(!published.contains("张三") && !published.contains("13800138000"), "no personal data in the event");
}

#[test]
fn given_the_same_report_recorded_when_it_comes_again_then_it_is_a_duplicate() {
    let first = prepare(&city(), &body(500_000), NOW).unwrap();
    let recorded = first.canonical.clone();
    let again = prepare(&city(), &body(500_000), NOW + 1_000).unwrap();
    assert_eq!(again.case_id, first.case_id, "the content decides the case id");
    assert_eq!(
        decide(Some(&recorded), again, &SECRET, NOW + 1_000).unwrap(),
        Decision::Duplicate { case_id: first.case_id }
    );
}

#[test]
fn given_another_report_under_the_same_id_when_one_comes_then_it_is_a_conflict() {
    let submission = prepare(&city(), &body(500_000), NOW).unwrap();
    let refused = decide(Some(b"a different report"), submission, &SECRET, NOW).unwrap_err();
    assert_eq!(refused.kind, IntakeErrorKind::Conflict);
}

#[test]
fn a_body_that_is_too_large_not_json_or_invalid_is_refused_with_its_kind() {
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(prepare(&city(), &huge, NOW).unwrap_err().kind, IntakeErrorKind::BodyTooLarge);
    assert_eq!(prepare(&city(), b"{", NOW).unwrap_err().kind, IntakeErrorKind::NotJson);
    let invalid = prepare(&city(), &body(0), NOW).unwrap_err();
    assert_eq!(invalid.kind, IntakeErrorKind::InvalidReport);
    assert_eq!(invalid.problems[0].field, "transfers[0].amount_fen");
}

#[test]
fn a_freezing_event_of_a_known_case_becomes_a_row_and_others_are_refused() {
    let case_id = prepare(&city(), &body(500_000), NOW).unwrap().case_id;
    let row = project(frozen(7, &case_id, 1_000, NOW + 9), true).unwrap();
    assert_eq!((row.case_id.clone(), row.at_ms, row.seq), (case_id.clone(), NOW + 9, 7));
    let unknown = project(frozen(8, &case_id, 1_000, NOW), false).unwrap_err();
    assert!(matches!(unknown, ProjectionRejection::UnknownCase { .. }), "{unknown}");
    let mut not_freezing = frozen(9, &case_id, 1_000, NOW);
    not_freezing.payload = Payload::Intake(IntakeEvent::CaseReported {
        case_id: case_id.clone(),
        received_at_ms: NOW,
        fraud_type: domain::FraudType::PigButchering,
        transfers: Vec::new(),
        contacts: domain::report::Contacts::default(),
        reported_loss_fen: Fen::ZERO,
    });
    assert!(matches!(project(not_freezing, true), Err(ProjectionRejection::NotFreezing { .. })));
}

#[test]
fn given_events_out_of_time_order_when_shown_then_entries_are_in_time_order_and_totals_add_up() {
    let submission = prepare(&city(), &body(500_000), NOW).unwrap();
    let case_id = submission.case_id.clone();
    // Rows in key order: by time, then sequence number.
    let mut rows: Vec<(TimeMs, u64, FreezingEvent)> = [(1, NOW + 300), (2, NOW + 100), (3, NOW + 200), (4, NOW + 100)]
        .into_iter()
        .map(|(seq, at)| {
            let row = project(frozen(seq, &case_id, 1_000 * seq, at), true).unwrap();
            (row.at_ms, row.seq, row.event)
        })
        .collect();
    rows.sort_by_key(|(at, seq, _)| (*at, *seq));
    let rows = rows.into_iter().map(|(at, _, event)| (at, event)).collect();
    let timeline = show(case_id, &submission.report, NOW, rows).unwrap();
    let times: Vec<_> = timeline.entries.iter().map(|e| e.at_ms - NOW).collect();
    assert_eq!(times, vec![0, 100, 100, 200, 300]);
    let frozen_order: Vec<_> = timeline.entries[1..].iter().map(|e| e.amount_fen.unwrap().get()).collect();
    assert_eq!(frozen_order, vec![2_000, 4_000, 3_000, 1_000], "equal times keep their sequence order");
    assert_eq!(timeline.entries[0].kind, TimelineKind::Reported);
    assert_eq!(timeline.summary.accounts_frozen, 4);
    assert_eq!(timeline.summary.frozen_fen, Fen::new(10_000));
    assert_eq!(timeline.reported_loss_fen, Fen::new(500_000));
}

#[test]
fn a_freeze_at_risk_is_an_alert_in_the_timeline_and_counted_in_the_totals() {
    let submission = prepare(&city(), &body(500_000), NOW).unwrap();
    let case_id = submission.case_id.clone();
    let account = AccountRef::parse("icbc:6222020200001234").unwrap();
    let retrying = FreezingEvent::FreezeRetrying {
        case_id: case_id.clone(),
        account: account.clone(),
        attempt: 3,
        retry_at_ms: NOW + 600,
        reason: "no answer".into(),
    };
    let at_risk = FreezingEvent::FreezeAtRisk {
        case_id: case_id.clone(),
        account: account.clone(),
        claim_fen: Fen::new(250_000),
        expires_at_ms: NOW + 9_000,
        reason: "not frozen after 40 attempt(s)".into(),
    };
    let timeline = show(case_id, &submission.report, NOW, vec![(NOW + 100, retrying), (NOW + 200, at_risk)]).unwrap();
    let kinds: Vec<_> = timeline.entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![TimelineKind::Reported, TimelineKind::FreezeRetrying, TimelineKind::FreezeAtRisk]);
    let alert = &timeline.entries[2];
    assert_eq!((alert.account.as_ref(), alert.amount_fen), (Some(&account), Some(Fen::new(250_000))));
    assert!(alert.detail.starts_with("AT RISK"), "{}", alert.detail);
    assert_eq!(timeline.summary.freeze_at_risk_alerts, 1);
}

fn with(edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(&body(500_000)).unwrap();
    edit(&mut value);
    value.to_string().into_bytes()
}

#[test]
fn a_key_given_twice_is_refused_by_its_path_instead_of_the_last_one_winning() {
    let text = String::from_utf8(body(500_000)).unwrap();
    let twice = text.replacen(
        "\"fraud_type\":\"pig_butchering\"",
        "\"fraud_type\":\"pig_butchering\",\"fraud_type\":\"stock_tips\"",
        1,
    );
    assert_ne!(twice, text);
    let refused = prepare(&city(), twice.as_bytes(), NOW).unwrap_err();
    assert_eq!(refused.kind, IntakeErrorKind::InvalidReport);
    assert_eq!(refused.problems.len(), 1, "{:?}", refused.problems);
    assert_eq!(
        (refused.problems[0].field.as_str(), refused.problems[0].expected.as_str()),
        ("fraud_type", "each field once")
    );
}

#[test]
fn control_characters_in_the_victim_the_contacts_or_the_narrative_are_refused_without_echoing_personal_data() {
    let cases: [(Vec<u8>, &str); 3] = [
        (with(|b| b["victim"]["name"] = json!("张\u{0007}三")), "victim.name"),
        (with(|b| b["contacts"] = json!({"urls": ["https://a.example\u{202E}gpj.exe"]})), "contacts.urls[0]"),
        (with(|b| b["narrative"] = json!("met online\u{0000}")), "narrative"),
    ];
    for (bad, field) in cases {
        let refused = prepare(&city(), &bad, NOW).unwrap_err();
        assert_eq!(refused.kind, IntakeErrorKind::InvalidReport, "{field}");
        let problem =
            refused.problems.iter().find(|p| p.field == field).unwrap_or_else(|| panic!("{field}: {refused:?}"));
        assert!(problem.value.contains("control character (U+"), "{problem:?}");
        assert!(!problem.value.contains('张'), "the victim's name is not echoed: {problem:?}");
    }
}

#[test]
fn the_same_report_typed_twice_with_other_spaces_and_accent_encodings_is_one_case() {
    let first = prepare(
        &city(),
        &with(|b| {
            b["victim"]["name"] = json!("Jos\u{00E9} Li");
            b["narrative"] = json!("met online\nthen paid");
            b["contacts"] = json!({"phones": ["+8617000000000"]});
        }),
        NOW,
    )
    .unwrap();
    let second = prepare(
        &city(),
        &with(|b| {
            b["victim"]["name"] = json!("  Jose\u{0301}\t Li ");
            b["narrative"] = json!("\r\nmet  online \r\nthen paid\n\n");
            b["contacts"] = json!({"phones": [" +8617000000000 "]});
        }),
        NOW,
    )
    .unwrap();
    assert_eq!(first.case_id, second.case_id);
    assert_eq!(first.canonical, second.canonical);
    assert_eq!(second.report.narrative.expose(), "met online\nthen paid");
}

/// The case id of a fixed report: its derivation must never change (a report filed again
/// after an upgrade must find its case). Never rewrite the expected value to make this pass.
#[test]
fn a_case_id_derivation_stability_vector() {
    let body = json!({
        "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
        "fraud_type": "pig_butchering",
        "transfers": [{"account": "icbc:6222020200001234", "amount_fen": 500000, "at_ms": 1_763_600_000_000_u64}],
        "contacts": {"phones": ["+8617000000000"], "urls": ["https://x.example.cn"]},
        "narrative": "met online"
    });
    let submission = prepare(&city(), body.to_string().as_bytes(), NOW).unwrap();
    assert_eq!(submission.case_id.as_str(), "huzhou-0be8f4e9b10d81c4");
}

/// A report naming the victim's paying accounts: its case id is derived the same way, the
/// accounts included (a report with them is another report than one without).
#[test]
fn a_case_id_derivation_stability_vector_with_paying_accounts() {
    let body = json!({
        "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
        "fraud_type": "pig_butchering",
        "transfers": [{"account": "icbc:6222020200001234", "from_account": "ccb:6217000011112222",
                       "amount_fen": 500000, "at_ms": 1_763_600_000_000_u64}],
        "contacts": {"phones": ["+8617000000000"], "urls": ["https://x.example.cn"]},
        "narrative": "met online"
    });
    let submission = prepare(&city(), body.to_string().as_bytes(), NOW).unwrap();
    assert_eq!(submission.case_id.as_str(), "huzhou-02f1eb91167951f4");
}

#[test]
fn given_a_report_with_paying_accounts_when_recorded_then_the_event_names_them_by_reference_only() {
    let body = with(|b| {
        b["transfers"][0]["from_account"] = json!("ccb:6217000011112222");
        b["transfers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"order": "alipay:2025ABCDEF01", "amount_fen": 7_000, "at_ms": NOW - 1_000}));
    });
    let submission = prepare(&city(), &body, NOW).unwrap();
    let report = submission.report.clone();
    let Decision::Record { case_id, canonical, event, .. } = decide(None, submission, &SECRET, NOW).unwrap() else {
        panic!("a new case")
    };
    // The record keeps the account; the event carries its reference.
    let kept: domain::report::Report = rmp_serde::from_slice(&canonical).unwrap();
    assert_eq!(kept, report);
    assert_eq!(kept.transfers[0].from_account.as_ref().unwrap().expose().as_str(), "ccb:6217000011112222");
    let IntakeEvent::CaseReported { transfers, .. } = &event;
    let account = AccountRef::parse("ccb:6217000011112222").unwrap();
    assert_eq!(transfers[0].from_account, Some(SECRET.reference(&account)));
    assert_eq!(transfers[1].from_account, None, "the order's payer is the platform's to say");
    let wire = String::from_utf8_lossy(&rmp_serde::to_vec_named(&event).unwrap()).into_owned();
    assert!(!wire.contains("6217000011112222") && !format!("{event:?}").contains("6217000011112222"));
    assert!(wire.contains(SECRET.reference(&account).as_str()));
    // And `payers` gives the account back under the same reference.
    let payers = payer::payers(case_id.clone(), &report, &SECRET);
    assert_eq!(payers.case_id, case_id);
    assert_eq!(payers.transfers.len(), 1);
    let first = &payers.transfers[0];
    assert_eq!((first.index, first.from_account.expose(), &first.payer), (0, &account, &SECRET.reference(&account)));
}

#[test]
fn a_report_without_paying_accounts_publishes_none_and_keeps_its_case_id() {
    let submission = prepare(&city(), &body(500_000), NOW).unwrap();
    let report = submission.report.clone();
    let Decision::Record { event, .. } = decide(None, submission, &SECRET, NOW).unwrap() else { panic!("a new case") };
    let IntakeEvent::CaseReported { transfers, .. } = &event;
    assert!(transfers.iter().all(|t| t.from_account.is_none()));
    assert!(payer::payers(CaseId::derive(&city(), 1), &report, &SECRET).transfers.is_empty());
}

#[test]
fn a_freezing_event_stating_more_than_any_case_can_hold_is_refused() {
    let case_id = prepare(&city(), &body(500_000), NOW).unwrap().case_id;
    let refused = project(frozen(1, &case_id, u64::MAX, NOW), true).unwrap_err();
    assert!(matches!(refused, ProjectionRejection::OutOfRange { .. }), "{refused}");
    let largest = crate::limits::MAX_CASE_LOSS_FEN;
    assert!(project(frozen(2, &case_id, largest, NOW), true).is_ok(), "the largest possible loss is in range");
}

#[test]
fn events_whose_amounts_overflow_the_totals_are_refused_when_shown_not_a_panic() {
    let submission = prepare(&city(), &body(500_000), NOW).unwrap();
    let case_id = submission.case_id.clone();
    // Stored before the range check existed, or by something else than freezing.
    let rows = (1..=2).map(|seq| (NOW + seq, frozen_event(seq, &case_id, u64::MAX))).collect();
    let refused = show(case_id, &submission.report, NOW, rows).unwrap_err();
    assert_eq!(refused.kind, IntakeErrorKind::Unavailable);
    assert!(refused.message.contains("overflow"), "{}", refused.message);
}

fn frozen_event(seq: u64, case_id: &CaseId, fen: u64) -> FreezingEvent {
    let Payload::Freezing(event) = frozen(seq, case_id, fen, NOW).payload else { unreachable!("a freezing event") };
    event
}

mod properties {
    //! Whatever freezing events reach intake, projecting and showing them never panics.

    use proptest::prelude::*;

    use super::*;

    fn event(case_id: CaseId) -> impl Strategy<Value = FreezingEvent> {
        let account = AccountRef::parse("icbc:6222020200001234").unwrap();
        (0u8..6, any::<u64>(), any::<u64>(), any::<u32>()).prop_map(move |(kind, a, b, hop)| {
            let (case_id, account, fen) = (case_id.clone(), account.clone(), Fen::new(a));
            match kind {
                0 => FreezingEvent::AccountFrozen {
                    case_id,
                    account,
                    frozen_fen: fen,
                    frozen_at_ms: b,
                    expires_at_ms: b,
                },
                1 => FreezingEvent::FreezeQueued {
                    case_id,
                    account,
                    claim_fen: fen,
                    queued_behind: City::parse("wenzhou").unwrap(),
                    queued_at_ms: b,
                    expires_at_ms: b,
                },
                2 => FreezingEvent::TraceCompleted {
                    case_id,
                    completed_at_ms: b,
                    accounts_stopped: hop,
                    claimed_fen: fen,
                    cashed_out_fen: Fen::new(b),
                    untraced_fen: fen,
                    time_to_freeze_ms: Some(b),
                },
                3 => FreezingEvent::AccountStopped {
                    case_id,
                    hop,
                    account,
                    stop_no: 1,
                    held_fen: fen,
                    claim_fen: Fen::new(b),
                    onward: Vec::new(),
                    cashed_out_fen: fen,
                    stopped_at_ms: b,
                    expires_at_ms: b,
                    answered_in_ms: None,
                    first_onward_hop: None,
                    depth: Some(1),
                },
                4 => FreezingEvent::FreezeAtRisk {
                    case_id,
                    account,
                    claim_fen: fen,
                    expires_at_ms: b,
                    reason: String::new(),
                },
                _ => FreezingEvent::StopRenewed {
                    case_id,
                    account,
                    stop_no: 2,
                    expires_at_ms: b,
                    renewed_at_ms: Some(b),
                },
            }
        })
    }

    proptest! {
        #[test]
        fn arbitrary_freezing_events_are_projected_and_shown_without_a_panic(
            events in proptest::collection::vec(event(CaseId::derive(&City::parse("huzhou").unwrap(), 1)), 0..40),
            known in any::<bool>(),
        ) {
            let submission = prepare(&city(), &body(500_000), NOW).unwrap();
            let mut rows = Vec::new();
            for (seq, event) in (1..).zip(events) {
                let mut envelope = frozen(seq, &submission.case_id, 1, NOW + seq);
                envelope.payload = Payload::Freezing(event);
                if let Ok(row) = project(envelope, known) {
                    rows.push((row.at_ms, row.event));
                }
            }
            // Shown, or refused with a typed error: never a panic.
            let _ = show(submission.case_id.clone(), &submission.report, NOW, rows);
        }
    }
}
