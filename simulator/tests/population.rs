//! A scenario's population as generated: per gang, `per_victim` people per victim with
//! numbers their carriers issued, reached through the gang's own lines within its active
//! hours, deterministic from the seed, and changing nothing else of the script.

use std::collections::BTreeSet;

use domain::Carrier;
use simulator::population::Fate;
use simulator::{Scenario, generate_script};

const SCENARIO: &str = r#"
[scenario]
name = "population"
seed = 11
start = 2025-03-01T09:00:00
duration_hours = 24

[[cities]]
name = "huzhou"
population = 3_400_000

[[cities]]
name = "jiaxing"
population = 5_400_000

[[gangs]]
fraud_type = "fake_customer_service"
victims = 10
phones = 2
sites = 1
active_hours = [2, 20]

[[gangs]]
fraud_type = "pig_butchering"
cities = ["jiaxing"]
victims = 5
phones = 1
sites = 2
"#;

fn with_population(extra: &str) -> Scenario {
    Scenario::parse(&format!("{SCENARIO}\n[population]\nper_victim = 40\npay_share = 0.25\n{extra}")).unwrap()
}

#[test]
fn each_gang_reaches_per_victim_people_through_its_own_lines() {
    let scenario = with_population("handset_off_share = 0.1\n");
    let script = generate_script(&scenario).unwrap();
    let people = script.world.population.people();
    assert_eq!(people.len(), 15 * 40);
    let phones: BTreeSet<&str> = people.iter().map(|p| p.phone.as_str()).collect();
    assert_eq!(phones.len(), people.len(), "one number a person");
    for person in people {
        assert_eq!(Carrier::issuing(&person.phone), Some(person.carrier), "{:?}", person.carrier);
        let gang = &scenario.gangs[person.gang];
        assert!(gang.cities.contains(&person.city));
        let since_start = person.first_contact_ms - scenario.start_ms;
        assert!((gang.active_ms.min..=gang.active_ms.max).contains(&since_start));
        if let Some(pay) = &person.pays {
            let delay = pay.at_ms - person.first_contact_ms;
            assert!((3_600_000..=48 * 3_600_000).contains(&delay), "{delay}");
            assert!(script.horizon_ms >= pay.at_ms, "the drill lasts until every payment is due");
        }
        assert_eq!(script.world.telecom.is_off(&person.phone), person.handset_off);
        if let Some(report) = person.paid_report() {
            let account = report.transfers[0]["account"].as_str().unwrap().to_owned();
            let account = domain::AccountRef::parse(&account).unwrap();
            assert_eq!(script.world.ledger.balance(&account), Some(domain::Fen::ZERO), "opened empty");
        }
    }
    let payers = people.iter().filter(|p| p.pays.is_some()).count();
    assert!((110..=190).contains(&payers), "a quarter of 600 would pay: {payers}");
    let off = people.iter().filter(|p| p.handset_off).count();
    assert!((35..=90).contains(&off), "a tenth of 600 handsets off: {off}");
    let jiaxing = people.iter().filter(|p| p.gang == 0 && p.city.as_str() == "jiaxing").count();
    assert!((200..=290).contains(&jiaxing), "jiaxing has 61% of gang 0's people: {jiaxing}");
}

#[test]
fn the_signals_name_the_gangs_numbers_and_sites() {
    let script = generate_script(&with_population("")).unwrap();
    let mut world = script.world.clone();
    let mut lines: BTreeSet<String> = BTreeSet::new();
    for gang in &script.gangs {
        lines.extend(gang.phones.iter().map(|p| format!("phone:{p}")));
        lines.extend(
            gang.sites.iter().map(|s| format!("domain:{}", s.trim_start_matches("https://").trim_end_matches('/'))),
        );
    }
    let world = &mut world;
    world.population.advance(script.horizon_ms, &mut world.contacts, &world.telecom);
    let signals = world.population.take_signals(script.horizon_ms, usize::MAX);
    assert!(signals.len() >= 600, "a contact each at least: {}", signals.len());
    let mut instructions = 0;
    for signal in &signals {
        assert_eq!(signal.message.source, signal.carrier.as_str());
        match &signal.message.what {
            protocol::signal::SignalWhat::Contact { identifier, .. } => {
                assert!(lines.contains(identifier), "{identifier} is none of the gangs' lines")
            }
            protocol::signal::SignalWhat::TransferInstructions => instructions += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(instructions > 0);
    let people = world.population.people().len();
    assert!((0..people).all(|p| world.population.fate(p) == Fate::Reached), "no block, everyone reached");
}

#[test]
fn a_population_is_drawn_from_the_seed_and_changes_nothing_else() {
    let plain = generate_script(&Scenario::parse(SCENARIO).unwrap()).unwrap();
    assert!(plain.world.population.people().is_empty(), "no [population], nobody");
    let one = generate_script(&with_population("")).unwrap();
    let two = generate_script(&with_population("")).unwrap();
    assert_eq!(one.fingerprint(), two.fingerprint());
    assert_eq!(one.world.population.people(), two.world.population.people());
    assert_ne!(one.fingerprint(), plain.fingerprint(), "the people are in the fingerprint");
    assert_eq!(one.reports, plain.reports, "the victims and their reports are the same");
    let pending = |s: &simulator::Script| s.world.schedule.pending().cloned().collect::<Vec<_>>();
    assert_eq!(pending(&one), pending(&plain));
    let mut other = with_population("");
    other.seed = 12;
    let other = generate_script(&other).unwrap();
    assert_ne!(other.world.population.people(), one.world.population.people());
}
