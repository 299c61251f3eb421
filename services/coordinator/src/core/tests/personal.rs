//! Personal data stays in the cities: a state built from events that carry every field a
//! person could be named in holds none of the values.

use domain::report::{Contacts, Destination, Transfer};
use domain::{BankId, PayerRef};
use events::blocking::Appeal;
use identifiers::{ContactKind, Reason};

use super::*;

/// The victim's paying account by reference, the person dissuasion reached, the text a
/// victim typed that blocking refused, the contacts a report named, staff and objectors.
const PAYER_KEY: u128 = 0x5eed_0000_0000_0000_0000_0000_1234_5678;
const PERSON_KEY: u128 = 0x0bad_cafe_0000_0000_0000_0000_8765_4321;
const REJECTED: &str = "my own number 13912345678";
const REPORT_CONTACT: &str = "13687654321";
const OFFICER: &str = "Officer Zhang Wei";
const NOTE: &str = "victim Li Na at 12 Xihu Road";
const OBJECTOR: &str = "Wang Fang, id 330102199001011234";

#[test]
fn given_events_naming_people_when_absorbed_then_the_state_holds_none_of_their_values() {
    let hz = hangzhou();
    let at = MARCH_14 + HOUR_MS;
    let c = case(&hz, 1);
    let payer = PayerRef::new(&BankId::parse("ccb").unwrap(), PAYER_KEY);
    let report = Payload::Intake(IntakeEvent::CaseReported {
        case_id: c.clone(),
        received_at_ms: at,
        fraud_type: FraudType::FakeCustomerService,
        transfers: vec![Transfer {
            to: Destination::Account(account("icbc:6222020000001234")),
            amount: Fen::new(5_000),
            at_ms: at - HOUR_MS,
            from_account: Some(payer.clone()),
        }],
        contacts: Contacts { phones: vec![REPORT_CONTACT.into()], ..Contacts::default() },
        reported_loss_fen: Fen::new(5_000),
    });
    let rejected = Payload::Blocking(BlockingEvent::IdentifierRejected {
        case_id: c.clone(),
        kind: ContactKind::Phone,
        value: REJECTED.into(),
        reason: Reason::NotANumber,
    });
    let lifted = Payload::Blocking(BlockingEvent::BlockLifted {
        identifier: identifier("phone:+8617000000000"),
        generation: 1,
        lifted_at_ms: at,
        appeal: Appeal { reason: NOTE.into(), operator: OFFICER.into() },
    });
    let opened = Payload::Dissuasion(DissuasionEvent::TaskOpened {
        task: TaskId(1),
        person: PersonId { key: PersonKey(PERSON_KEY), carrier: None },
        grade: Grade::High,
        kind: TaskKind::Call,
        opened_at_ms: at,
        first_contact_ms: at,
        admission: Admission::Ready { day: 0, due_at_ms: at },
        sms_request: None,
    });
    let closed = Payload::Dissuasion(DissuasionEvent::TaskClosed {
        task: TaskId(1),
        closure: Closure::Persuaded,
        operator: Some(OFFICER.into()),
        note: NOTE.into(),
        at_ms: at,
    });
    let objection = Payload::Restitution(RestitutionEvent::ObjectionRaised {
        allocation: 1,
        objection: 1,
        case_id: Some(c.clone()),
        by: OBJECTOR.into(),
        reason: NOTE.into(),
        at_ms: at,
    });
    let given = [
        env(&hz, 1, at, report),
        env(&hz, 1, at, rejected),
        env(&hz, 2, at, blocked(c.clone(), identifier("phone:+8617000000000"), at)),
        env(&hz, 3, at, lifted),
        env(&hz, 1, at, opened),
        env(&hz, 2, at, closed),
        env(&hz, 1, at, objection),
    ];
    check(&given, &env(&hz, 1, at, stopped(c, account("icbc:6222020000001234"), 1, 5_000, at)), |answer, state| {
        assert!(answer.is_ok());
        let held = format!("{state:?}");
        let personal = [
            payer.as_str().to_owned(),
            format!("{PAYER_KEY:032x}"),
            format!("{PERSON_KEY:032x}"),
            REJECTED.into(),
            "13912345678".into(),
            REPORT_CONTACT.into(),
            OFFICER.into(),
            NOTE.into(),
            OBJECTOR.into(),
        ];
        for value in personal {
            assert!(!held.contains(&value), "the state holds {value:?}");
        }
        // What it does hold: the mule account, the scammer's number and the counts.
        assert!(held.contains("6222020000001234") && held.contains("+8617000000000"));
        assert_eq!(row_of(state, "2025-03-14", &hangzhou()).figures.persuaded, 1);
    });
}
