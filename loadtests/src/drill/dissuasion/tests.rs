//! The `dissuasion` section from synthetic events and a small population: tasks followed
//! from queue to queue into the backlog, deadline misses counted against the queue that
//! missed them, reports filed, and the ground truth of who was warned before paying.

use std::collections::BTreeSet;

use domain::{AccountRef, Carrier, CaseId, Fen, FraudType};
use events::Service;
use events::dissuasion::{Admission, Closure, Grade, Level, PersonId, PersonKey};
use simulator::population::{Effects, Payment, Person, Population, Step};

use super::*;

const T0: TimeMs = 1_763_700_000_000;
const HOUR: u64 = 3_600_000;

fn city() -> City {
    City::parse("jinhua").unwrap()
}

fn envelope(seq: u64, event: DissuasionEvent) -> Envelope {
    Envelope {
        id: format!("jinhua.dissuasion.{seq}"),
        city: city(),
        service: Service::Dissuasion,
        seq,
        time_ms: 0,
        correlation: None,
        causation: None,
        schema: 1,
        payload: Payload::Dissuasion(event),
    }
}

fn person() -> PersonId {
    PersonId { key: PersonKey(7), carrier: Some(Carrier::Cmcc) }
}

fn opened(task: u64, kind: TaskKind, at: TimeMs) -> DissuasionEvent {
    DissuasionEvent::TaskOpened {
        task: TaskId(task),
        person: person(),
        grade: Grade::Medium,
        kind,
        opened_at_ms: at,
        first_contact_ms: at,
        admission: Admission::Ready { day: 0, due_at_ms: at + 4 * HOUR },
        sms_request: None,
    }
}

fn escalated(task: u64, to: TaskKind, reason: Escalation, at: TimeMs) -> DissuasionEvent {
    DissuasionEvent::TaskEscalated {
        task: TaskId(task),
        grade: Grade::Medium,
        to,
        reason,
        at_ms: at,
        admission: Admission::Ready { day: 0, due_at_ms: at + 2 * HOUR },
        operator: None,
        note: String::new(),
    }
}

fn closed(task: u64, closure: Closure, at: TimeMs) -> DissuasionEvent {
    DissuasionEvent::TaskClosed { task: TaskId(task), closure, operator: None, note: String::new(), at_ms: at }
}

/// Two people of jinhua who would pay ¥1,000 and ¥2,000 five hours after T0 (no contact
/// planned: never reached).
fn world() -> World {
    let mut population = Population::new(3, Effects { call: 1.0, ..Effects::default() });
    for (n, yuan) in [(1u32, 1_000), (2, 2_000)] {
        let person = Person {
            phone: format!("+86138000000{n:02}"),
            name: "张伟".into(),
            id_number: "33070219800101002X".into(),
            carrier: Carrier::Cmcc,
            city: city(),
            gang: 0,
            fraud_type: FraudType::OnlineLoan,
            first_contact_ms: T0,
            pays: Some(Payment {
                at_ms: T0 + 5 * HOUR,
                amount: Fen::yuan(yuan),
                to: AccountRef::parse("icbc:6222020200009999").unwrap(),
            }),
            handset_off: false,
        };
        population.add(person, &[]).unwrap();
    }
    let mut world = World::new(Vec::new(), Vec::new());
    world.population = population;
    world
}

#[test]
fn tasks_are_followed_through_the_queues_and_deadline_misses_counted_where_they_happened() {
    let world = world();
    let events = vec![
        envelope(1, opened(1, TaskKind::Call, T0 + HOUR)),
        envelope(2, opened(2, TaskKind::Sms, T0 + HOUR)),
        envelope(3, escalated(2, TaskKind::Call, Escalation::SmsFailed, T0 + HOUR + 1)),
        envelope(4, escalated(2, TaskKind::Visit(Level::CityBureau), Escalation::Deadline, T0 + 5 * HOUR + 1)),
        envelope(5, closed(1, Closure::Persuaded, T0 + 2 * HOUR)),
        envelope(6, DissuasionEvent::TaskOverdue { task: TaskId(2), at_ms: T0 + 30 * HOUR }),
        envelope(
            7,
            DissuasionEvent::ReportFiled {
                task: TaskId(2),
                case_id: CaseId::derive(&city(), 9),
                person: person(),
                identifiers: Vec::new(),
                fraud_types: BTreeSet::new(),
                first_contact_ms: T0,
                at_ms: T0 + 6 * HOUR,
            },
        ),
        envelope(8, closed(2, Closure::AlreadyPaid, T0 + 6 * HOUR)),
    ];
    let stats = PeopleStats {
        signals_published: 5,
        completed: BTreeMap::from([
            (("call".to_owned(), "persuaded".to_owned()), 1),
            (("visit.city_bureau".to_owned(), "already_paid".to_owned()), 1),
        ]),
        ..PeopleStats::default()
    };
    let section = section(&BTreeMap::from([(city(), events)]), &world, &stats, T0, T0 + 12 * HOUR).unwrap();
    assert_eq!((section.tasks_opened, section.tasks_closed, section.reports_filed), (2, 2, 1));
    assert_eq!(section.deadline_misses, 1);
    assert_eq!(section.deadline_misses_by_queue, BTreeMap::from([("call".to_owned(), 1)]));
    assert_eq!(section.by_city["jinhua"].deadline_misses, 1);
    assert_eq!(section.overdue, 1);
    assert_eq!((section.calls, section.visits, section.already_paid), (1, 1, 1));
    assert_eq!(section.backlog_series.len(), SERIES_POINTS);
    // One call and one SMS moved to a call at T0 + 1 h; the call closed at 2 h; the other
    // moved to a visit at 5 h and closed at 6 h.
    let at = |minutes: u64| {
        section.backlog_series.iter().find(|p| p.at_ms >= T0 + minutes * 60_000).map(|p| p.open).unwrap()
    };
    assert_eq!(at(90)[..3], [0, 2, 0]);
    assert_eq!(at(180)[..3], [0, 1, 0]);
    assert_eq!(at(330)[..3], [0, 0, 1]);
    assert_eq!(at(420), [0; 6]);
    assert_eq!(section.peak_backlog, [1, 2, 1, 0, 0, 0], "the SMS task was open at the 1 h point");
    // Nobody was reached: the population's people pay only once their first contact got
    // through, and no touch was planned for these two.
    assert_eq!((section.people, section.reached, section.would_pay, section.warned_before_paying), (2, 0, 0, 0));
}

#[test]
fn the_ground_truth_counts_who_was_warned_before_paying_and_what_it_saved() {
    let text = r#"
[scenario]
name = "section"
seed = 5
start = 2025-03-01T09:00:00
duration_hours = 12

[[cities]]
name = "jinhua"
population = 7_100_000

[[gangs]]
fraud_type = "impersonating_authorities"
victims = 4
phones = 2

[population]
per_victim = 25
pay_share = 0.5
"#;
    let script = simulator::generate_script(&simulator::Scenario::parse(text).unwrap()).unwrap();
    let mut world = script.world.clone();
    let end = script.horizon_ms;
    let world_ref = &mut world;
    world_ref.population.advance(script.origin_ms + 13 * HOUR, &mut world_ref.contacts, &world_ref.telecom);
    // Every other person is visited 13 hours in: before paying for some, after for others.
    let phones: Vec<String> = world_ref.population.people().iter().map(|p| p.phone.clone()).step_by(2).collect();
    for phone in &phones {
        world_ref.population.staff_outcome(phone, Step::Visit(0), script.origin_ms + 13 * HOUR);
    }
    world_ref.population.advance(end, &mut world_ref.contacts, &world_ref.telecom);
    let section = section(&BTreeMap::new(), &world, &PeopleStats::default(), script.origin_ms, end).unwrap();
    let truth = world.population.truth(end).unwrap();
    assert_eq!((section.people, section.reached, section.would_pay), (100, 100, truth.would_pay));
    assert!(section.warned_before_paying > 0 && section.paid > 0, "{section:?}");
    assert_eq!(section.warned_before_paying + section.paid + section.not_paid_yet, section.would_pay);
    assert_eq!(section.loss_avoided_fen + section.lost_fen, section.would_pay_fen, "nothing is due after the end");
    let share = section.warned_before_paying as f64 / section.would_pay as f64;
    assert_eq!(section.warned_before_paying_share, share);
    assert_eq!(section.stopped_by["visit"], section.warned_before_paying);
    let jinhua = &section.by_city["jinhua"];
    assert_eq!((jinhua.loss_avoided_fen, jinhua.lost_fen), (section.loss_avoided_fen, section.lost_fen));
}

#[test]
fn an_old_report_without_the_section_reads_with_an_empty_one() {
    let section: DissuasionSection = serde_json::from_str("{}").unwrap();
    assert_eq!(section, DissuasionSection::default());
}
