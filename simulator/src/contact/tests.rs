//! Contacts against the carriers' blocks: a victim reached through a number their center
//! blocked is spared and their money stays; a block by another center does not protect them;
//! a gang replaces a blocked number after its delay; a script played with no block is
//! unchanged.

use domain::{Carrier, Fen};
use protocol::adapter::Counterparty;
use protocol::carrier::{BlockRequest, RequestId};

use super::*;
use crate::World;
use crate::crime::generate_script;
use crate::scenario::Scenario;
use crate::schedule::ScheduledTransfer;

const T0: TimeMs = 1_763_700_000_000;
const HOUR: TimeMs = 3_600_000;
const PHONE: &str = "+8617012345678";

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn acct(n: u32) -> AccountRef {
    AccountRef::parse(&format!("icbc:62220202{n:08}")).unwrap()
}

/// A gang with one number and one site; victims 1 and 2 (accounts 1 and 2, cases 0 and 1) of
/// `home` are reached through the number at T0 and T0 + 10 h, each paying ¥100 into
/// account 9, which forwards it an hour later.
fn world(home: &str, adapt_ms: Span<u64>) -> World {
    let mut world = World::new(vec![], vec![]);
    for n in [1, 2, 9, 10] {
        world.ledger.open_account(acct(n)).unwrap();
    }
    let gang =
        world.contacts.add_gang(42, "kefu", adapt_ms, &[PHONE.to_owned()], &["https://kefu123.com.cn/".to_owned()]);
    for (case, at_ms) in [(0usize, T0), (1, T0 + 10 * HOUR)] {
        let victim = acct(case as u32 + 1);
        world.ledger.deposit(&victim, Fen::yuan(100), T0 - HOUR).unwrap();
        let pay = ScheduledTransfer {
            due_at_ms: at_ms,
            from: victim.clone(),
            to: Counterparty::Account(acct(9)),
            amount: Fen::yuan(100),
        };
        let forward = ScheduledTransfer {
            due_at_ms: at_ms + HOUR,
            from: acct(9),
            to: Counterparty::Account(acct(10)),
            amount: Fen::yuan(100),
        };
        world.schedule.push_for(pay, &victim).unwrap();
        world.schedule.push_for(forward, &victim).unwrap();
        world.contacts.plan(PlannedContact {
            case,
            at_ms,
            city: city(home),
            victim_account: victim,
            loss: Fen::yuan(100),
            gang,
            line: 0,
            named: vec![0, 1],
        });
    }
    world
}

fn block(world: &mut World, center: &str, at_ms: TimeMs) {
    let identifier = BlockTarget::new(IdentifierKind::Phone, PHONE).unwrap();
    let carrier = Carrier::issuing(PHONE).unwrap_or(Carrier::Cmcc);
    let request = BlockRequest {
        request_id: RequestId::parse(&format!("{center}/{carrier}/phone:{PHONE}/block1")).unwrap(),
        center: city(center),
        identifier,
    };
    world.telecom.block(carrier, &request, at_ms).unwrap();
}

fn play(world: &mut World) {
    while let Some(due) = world.schedule.next_due_ms() {
        world.execute_due(due);
    }
}

const NEVER: Span<u64> = Span { min: limits::MAX_ADAPT_MS, max: limits::MAX_ADAPT_MS };

#[test]
fn a_victim_reached_through_a_number_their_center_blocked_is_spared() {
    let mut world = world("huzhou", NEVER);
    world.execute_due(T0);
    block(&mut world, "huzhou", T0 + 30 * 60_000);
    play(&mut world);

    let first = world.contacts.outcome(0).unwrap();
    assert!(!first.spared(), "reached before the block");
    assert_eq!((first.via.as_str(), first.generation), (PHONE, 0));
    let second = world.contacts.outcome(1).unwrap();
    assert_eq!(second.spared_by_block_since, Some(T0 + 30 * 60_000));
    assert_eq!(second.loss, Fen::yuan(100));
    assert_eq!(world.ledger.balance(&acct(2)), Some(Fen::yuan(100)), "the spared victim kept the money");
    assert_eq!(world.ledger.balance(&acct(10)), Some(Fen::yuan(100)), "only the first victim's money moved");
    assert_eq!(world.schedule.totals().cancelled, 2);
    assert_eq!(world.schedule.totals().failed, 0);
    world.ledger.check_conservation().unwrap();

    let body = serde_json::json!({"contacts": {"phones": [PHONE], "urls": []}});
    assert_eq!(world.contacts.report_body(0, &body), Some(body.clone()));
    assert_eq!(world.contacts.report_body(1, &body), None, "a spared victim reports nothing");
}

#[test]
fn a_block_by_another_center_does_not_protect_a_victim() {
    let mut world = world("huzhou", NEVER);
    block(&mut world, "wenzhou", T0 - HOUR);
    play(&mut world);
    assert!(world.contacts.outcomes().all(|o| !o.spared()));
    assert_eq!(world.ledger.balance(&acct(10)), Some(Fen::yuan(200)));
    assert_eq!(world.contacts.replaced(), 0, "the gang does not adapt within the year");
}

#[test]
fn a_gang_replaces_a_blocked_number_after_its_delay_and_its_victims_name_the_new_one() {
    let mut world = world("huzhou", Span { min: HOUR, max: HOUR });
    world.execute_due(T0);
    block(&mut world, "huzhou", T0 + 30 * 60_000);
    play(&mut world);

    let second = world.contacts.outcome(1).unwrap();
    assert!(!second.spared(), "reached through the new number");
    assert_eq!(second.generation, 1);
    assert_ne!(second.via, PHONE);
    assert!(second.via.starts_with("+86170") && second.via.len() == PHONE.len(), "{}", second.via);
    assert_eq!(second.renamed, vec![(PHONE.to_owned(), second.via.clone())], "the site was not blocked");
    assert_eq!(world.contacts.replaced(), 1);
    assert_eq!(world.ledger.balance(&acct(10)), Some(Fen::yuan(200)));

    let body = serde_json::json!({"contacts": {"phones": [PHONE], "urls": ["https://kefu123.com.cn/"]}});
    let filed = world.contacts.report_body(1, &body).unwrap();
    assert_eq!(filed["contacts"]["phones"][0], second.via.as_str());
    assert_eq!(filed["contacts"]["urls"][0], "https://kefu123.com.cn/");
}

const SCENARIO: &str = r#"
[scenario]
name = "two-victims"
seed = 11
start = 2025-03-01T09:00:00
duration_hours = 48

[[cities]]
name = "huzhou"
population = 3_400_000

[[gangs]]
fraud_type = "impersonating_authorities"
victims = 2
phones = 1
sites = 0
victims_per_network = 1
"#;

#[test]
fn a_script_plans_every_victims_first_contact_and_a_block_spares_the_later_victim() {
    let script = generate_script(&Scenario::parse(SCENARIO).unwrap()).unwrap();
    let phone = script.gangs[0].phones[0].clone();
    let mut contacts: Vec<&crate::FirstContact> = script.reports.iter().map(|r| &r.case.contact).collect();
    assert!(contacts.iter().all(|c| c.via == phone && c.kind == LineKind::Phone));
    assert_eq!(script.world.contacts.pending_len(), 2);
    contacts.sort_by_key(|c| c.at_ms);
    let (first, later) = (contacts[0].at_ms, contacts[1].at_ms);
    assert!(later > first + 2 * 60_000, "the seed puts the victims apart: {first} {later}");

    // Nobody blocks: the plan plays as the unimpeded ground truth says.
    let truth = script.unimpeded_truth().unwrap();
    assert_eq!(truth.total.paid, truth.total.loss);

    // The center blocks the number a minute after the first contact.
    let mut world = script.world.clone();
    world.execute_due(first);
    let identifier = BlockTarget::new(IdentifierKind::Phone, &phone).unwrap();
    let carrier = Carrier::issuing(&phone).unwrap_or(Carrier::Cmcc);
    let request = BlockRequest {
        request_id: RequestId::parse(&format!("huzhou/{carrier}/phone:{phone}/block1")).unwrap(),
        center: city("huzhou"),
        identifier,
    };
    world.telecom.block(carrier, &request, first + 60_000).unwrap();
    play(&mut world);
    world.ledger.check_conservation().unwrap();
    let spared: Vec<&Contacted> = world.contacts.outcomes().filter(|o| o.spared()).collect();
    assert_eq!(spared.len(), 1);
    let case = spared[0].case;
    assert_eq!(script.reports[case].case.contact.at_ms, later);
    let attribution = script.attribute_ledger(&world.ledger).unwrap();
    attribution.check().unwrap();
    let money = attribution.case_money(case).unwrap();
    assert_eq!((money.paid, money.unpaid), (Fen::ZERO, script.reports[case].case.loss));
    assert_eq!(world.schedule.totals().failed, 0, "no transfer of the spared money was left to fail");
}

#[test]
fn a_scenario_may_play_every_victim_as_planned_whatever_is_blocked() {
    let text = format!("{SCENARIO}\n[victims]\nspared_by_blocks = false\n");
    let script = generate_script(&Scenario::parse(&text).unwrap()).unwrap();
    assert_eq!(script.world.contacts.pending_len(), 0);
    assert!(script.reports.iter().all(|r| !r.case.contact.via.is_empty()), "the script still says who is reached");
}
