//! How staff see tasks and queues (`protocol::dissuasion`), and the report filed for a person
//! who has paid.

use domain::FraudType;
use identifiers::{Identifier, IdentifierKind};
use protocol::dissuasion::{DissuasionError, DissuasionErrorKind, PaidReport, Problem, TaskView};

use crate::core::{QUEUES, State, Status, Task};
use crate::events::{Closure, Level, TaskId, TaskKind};

/// A queue's name: `sms`, `call`, `visit.<level>`.
pub fn queue_name(kind: TaskKind) -> String {
    match kind {
        TaskKind::Sms => "sms".into(),
        TaskKind::Call => "call".into(),
        TaskKind::Visit(level) => format!("visit.{}", level_name(level)),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::CityBureau => "city_bureau",
        Level::DistrictBureau => "district_bureau",
        Level::PoliceStation => "police_station",
        Level::Community => "community",
    }
}

const STAFFED: &str = "call, visit.city_bureau, visit.district_bureau, visit.police_station or visit.community";

fn unknown_queue(name: &str, expected: &str) -> DissuasionError {
    let value: String = name.chars().take(80).collect();
    DissuasionError {
        kind: DissuasionErrorKind::Invalid,
        message: format!("no queue {value:?}"),
        problems: vec![Problem { field: "queue".into(), value, expected: expected.into() }],
    }
}

/// A staffed queue by name (what `next` takes).
pub fn staffed_queue(name: &str) -> Result<TaskKind, DissuasionError> {
    QUEUES.into_iter().find(|kind| queue_name(*kind) == name).ok_or_else(|| unknown_queue(name, STAFFED))
}

/// Any queue by name, `sms` included (what `list` filters on).
pub fn any_queue(name: &str) -> Result<TaskKind, DissuasionError> {
    if name == "sms" {
        return Ok(TaskKind::Sms);
    }
    staffed_queue(name).map_err(|_| unknown_queue(name, &format!("sms, {STAFFED}")))
}

fn closure_name(closure: Closure) -> &'static str {
    match closure {
        Closure::SmsDelivered => "sms_delivered",
        Closure::Persuaded => "persuaded",
        Closure::Refused => "refused",
        Closure::Unreachable => "unreachable",
        Closure::AlreadyPaid => "already_paid",
        Closure::FalsePositive => "false_positive",
    }
}

/// Whether `task` is in `status` (`open`, `ready`, `waiting`, `overdue`, `closed`, `all`).
pub fn has_status(task: &Task, status: &str) -> bool {
    match (status, task.status) {
        ("all", _) => true,
        ("open", Status::Closed(_)) => false,
        ("open", _) => true,
        ("ready", Status::Ready { .. }) => true,
        ("waiting", Status::Waiting { .. }) => true,
        ("overdue", Status::Ready { .. }) => task.overdue,
        ("closed", Status::Closed(_)) => true,
        _ => false,
    }
}

/// The task as staff see it (without the number).
pub fn task(state: &State, task: &Task) -> TaskView {
    let evidence = state.people.get(&task.person).map(|p| p.evidence.clone()).unwrap_or_default();
    let (status, due_at_ms) = match task.status {
        Status::Ready { due_at_ms } => ("ready".to_owned(), Some(due_at_ms)),
        Status::Waiting { .. } => ("waiting".to_owned(), None),
        Status::Closed(closure) => (format!("closed:{}", closure_name(closure)), None),
    };
    TaskView {
        task: task.id.to_string(),
        person: task.person.key.to_string(),
        phone: None,
        grade: task.grade.as_str().into(),
        queue: queue_name(task.kind),
        status,
        due_at_ms,
        overdue: task.overdue,
        claimed_by: task.claimed_by.clone(),
        opened_at_ms: task.opened_at_ms,
        first_contact_ms: task.first_contact_ms,
        identifiers: evidence.exposures.keys().map(ToString::to_string).collect(),
        fraud_types: evidence.fraud_types().into_iter().collect(),
        alarm: evidence.transfer_at_ms.is_some() || evidence.scam_app_at_ms.is_some(),
        case_id: None,
    }
}

/// Per queue: (name, ready, waiting, overdue) open tasks.
pub fn backlog(state: &State) -> Vec<(String, u32, u32, u32)> {
    let mut kinds = vec![TaskKind::Sms];
    kinds.extend(QUEUES);
    kinds
        .into_iter()
        .map(|kind| {
            let (mut ready, mut waiting, mut overdue) = (0u32, 0u32, 0u32);
            for task in state.open.get(&kind).into_iter().flatten().filter_map(|id| state.tasks.get(id)) {
                match task.status {
                    Status::Ready { .. } if task.overdue => overdue += 1,
                    Status::Ready { .. } => ready += 1,
                    Status::Waiting { .. } => waiting += 1,
                    Status::Closed(_) => {}
                }
            }
            (queue_name(kind), ready, waiting, overdue)
        })
        .collect()
}

/// Intake's report body for a person who has paid: the operator's details, the number, the
/// scam identifiers as contacts, and where it came from.
pub fn report_body(
    paid: &PaidReport,
    number: &str,
    fraud_type: FraudType,
    identifiers: &[Identifier],
    task: TaskId,
) -> Vec<u8> {
    let of = |kinds: &[IdentifierKind]| -> Vec<String> {
        identifiers
            .iter()
            .filter(|i| kinds.contains(&i.kind()))
            .map(|i| match i.kind() {
                IdentifierKind::Domain | IdentifierKind::Ip => format!("http://{}/", i.value()),
                _ => i.value().to_owned(),
            })
            .collect()
    };
    let narrative = if paid.narrative.is_empty() {
        format!("Reported on a dissuasion call-back (task {task}): the person had paid already.")
    } else {
        format!("Reported on a dissuasion call-back (task {task}): {}", paid.narrative)
    };
    let body = serde_json::json!({
        "victim": {"name": paid.name, "id_number": paid.id_number, "phone": number},
        "fraud_type": fraud_type.as_str(),
        "transfers": paid.transfers,
        "contacts": {
            "phones": of(&[IdentifierKind::Phone]),
            "urls": of(&[IdentifierKind::Domain, IdentifierKind::Ip]),
            "apps": of(&[IdentifierKind::App]),
            "social": of(&[IdentifierKind::Social]),
        },
        "narrative": narrative,
    });
    serde_json::to_vec(&body).expect("JSON values encode")
}
