//! Blocking's shell on a real nats-server and a real redb file: a report's contacts blocked
//! at their carriers and confirmed, a second case extending, lookups, a lift by staff reaching
//! the carriers, a restart re-sending the orders awaiting an answer, an account that held
//! victim money restricted at its bank, and messages it cannot use dead-lettered.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use blocking::events::BlockingEvent;
use blocking::shell::start::Indexed;
use common::{BOUND, Counterparties, Harness, contacts, count};
use domain::{AccountRef, Service};
use futures::StreamExt;
use protocol::blocking::{VERB_CASE, VERB_CHECK, VERB_LIFT, VERB_LIST};
use protocol::subjects::{self, bank_verb, carrier_verb};
use serde_json::json;

const PHONE: &str = "phone:+8617000000000";
const DOMAIN: &str = "domain:fake-bank.com.cn";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reports_contacts_are_blocked_at_their_carriers_extended_checked_and_lifted() {
    let harness = Harness::start().await;
    let carriers = Counterparties::start(&harness.client).await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;

    // 1700 is China Telecom's range: the number goes to ctcc, the domain to all three; a
    // `javascript:` link is refused and shown with its reason, the rest of the case goes on.
    let first = harness
        .report(1, contacts(&["+86 170-0000-0000"], &["https://m.fake-bank.com.cn/login?x=1", "javascript:alert(1)"]))
        .await;
    let seen = watch.until(|seen| count(seen, "order_confirmed") == 4).await;
    assert_eq!(count(&seen, "identifier_blocked"), 2, "{seen:#?}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, BlockingEvent::IdentifierRejected { value, .. } if value == "javascript:alert(1)"))
    );
    let blocks = carriers.asked(carrier_verb::BLOCK);
    let phone_at: Vec<&str> = blocks.iter().filter(|(_, _, t)| t == PHONE).map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(phone_at, [subjects::carrier(domain::Carrier::Ctcc, carrier_verb::BLOCK)], "{blocks:?}");
    assert_eq!(blocks.iter().filter(|(_, _, t)| t == DOMAIN).count(), 3, "{blocks:?}");

    // Another spelling of the number in a second case extends the block: no new order.
    harness.report(2, contacts(&["0086 17000000000"], &[])).await;
    watch.until(|seen| count(seen, "block_extended") == 1).await;
    assert_eq!(carriers.asked(carrier_verb::BLOCK).len(), 4);

    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "170 0000 0000"})).await;
    let ok = &checked["ok"];
    assert_eq!((ok["identifier"].as_str(), ok["blocked"].as_bool()), (Some(PHONE), Some(true)), "{checked}");
    assert_eq!(ok["case_count"], 2);
    assert_eq!(ok["fraud_types"], json!(["pig_butchering"]));
    let checked = harness.command(VERB_CHECK, json!({"kind": "url", "value": "http://WWW.Fake-Bank.com.cn."})).await;
    assert_eq!(checked["ok"]["blocked"], true, "{checked}");
    let refused = harness.command(VERB_CHECK, json!({"kind": "fax", "value": "1"})).await;
    assert_eq!(refused["error"]["kind"], "invalid", "{refused}");
    assert_eq!(refused["error"]["problems"][0]["field"], "kind");
    let refused = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "95588"})).await;
    assert_eq!(refused["error"]["problems"][0]["field"], "value", "{refused}");

    let listed = harness.command(VERB_LIST, json!({"since_ms": 0, "limit": 1})).await;
    assert_eq!(listed["ok"]["blocks"].as_array().unwrap().len(), 1, "{listed}");
    let rest = harness.command(VERB_LIST, json!({"after": listed["ok"]["next"].clone()})).await;
    assert_eq!(rest["ok"]["blocks"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["ok"]["next"].is_null(), "{rest}");
    assert_eq!(rest["ok"]["blocks"][0]["carriers"][0]["status"], "confirmed", "{rest}");
    // By kind: only the domain, and no app at all.
    let domains = harness.command(VERB_LIST, json!({"kind": "domain"})).await;
    let identifiers: Vec<&str> =
        domains["ok"]["blocks"].as_array().unwrap().iter().map(|b| b["identifier"].as_str().unwrap()).collect();
    assert_eq!((identifiers, &domains["ok"]["next"]), (vec![DOMAIN], &serde_json::Value::Null), "{domains}");
    let apps = harness.command(VERB_LIST, json!({"kind": "app"})).await;
    assert_eq!(apps["ok"], json!({"blocks": []}), "{apps}");

    let case = harness.command(VERB_CASE, json!({"case_id": first.to_string()})).await;
    let kinds: Vec<&str> =
        case["ok"]["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["screened", "refused", "blocked", "blocked"], "{case}");

    // Staff lift the number: the carrier that blocked it is asked to lift it.
    let appeal = json!({"kind": "phone", "value": "+8617000000000", "reason": "number reassigned", "operator": "huzhou-liaison-07"});
    let lifted = harness.command(VERB_LIFT, appeal.clone()).await;
    assert_eq!(lifted["ok"]["carriers"], json!(["ctcc"]), "{lifted}");
    watch.until(|seen| count(seen, "order_confirmed") == 5).await;
    assert_eq!(carriers.asked(carrier_verb::LIFT).len(), 1);
    let again = harness.command(VERB_LIFT, appeal).await;
    assert_eq!(again["error"]["kind"], "not_blocked", "{again}");
    let no_reason = json!({"kind": "url", "value": "fake-bank.com.cn", "reason": "", "operator": "x"});
    let refused = harness.command(VERB_LIFT, no_reason).await;
    assert_eq!(refused["error"]["kind"], "invalid", "{refused}");
    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "+8617000000000"})).await;
    assert_eq!(checked["ok"]["blocked"], false, "{checked}");

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_opens_the_state_from_its_rows_and_resends_the_orders_awaiting_an_answer() {
    let harness = Harness::start().await;
    let carriers = Counterparties::start(&harness.client).await;
    carriers.silent.store(true, Ordering::SeqCst);
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    harness.report(1, contacts(&["13800138000"], &[])).await;
    watch.until(|seen| count(seen, "identifier_blocked") == 1).await;
    // Asked, not answered: the order awaits its answer when blocking stops.
    tokio::time::timeout(BOUND, async {
        while carriers.asked(carrier_verb::BLOCK).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    running.stop().await;
    // A clean stop saved the index as of the log's last event: a start loads it as it is.
    let opened = blocking::shell::start::open(&harness.store).await.unwrap();
    assert!(matches!(opened.indexed, Indexed::File { followed: 0, .. }), "{:?}", opened.indexed);
    assert_eq!(opened.index.len(), 1);
    drop(opened);

    carriers.silent.store(false, Ordering::SeqCst);
    let running = harness.run().await;
    watch.until(|seen| count(seen, "order_confirmed") == 1).await;
    let asked = carriers.asked(carrier_verb::BLOCK);
    assert!(asked.len() >= 2, "{asked:?}");
    assert!(asked.iter().all(|(_, id, _)| id == "huzhou/cmcc/phone:+8613800138000/block1"), "{asked:?}");
    // The state came back from the store's rows: the block is there, and the case is not read twice.
    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "13800138000"})).await;
    assert_eq!(checked["ok"]["blocked"], true, "{checked}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_that_held_victim_money_is_restricted_at_its_bank() {
    let harness = Harness::start().await;
    let banks = Counterparties::start(&harness.client).await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    let case_id = harness.report(1, contacts(&[], &[])).await;
    let account = AccountRef::parse("icbc:6222020200001234").unwrap();
    // A stop that held none of the case's money is no reason for the pool.
    harness.stopped(1, &case_id, &AccountRef::parse("icbc:6222020200005678").unwrap(), 0).await;
    harness.stopped(2, &case_id, &account, 50_000).await;
    let seen = watch.until(|seen| count(seen, "order_confirmed") == 1).await;
    assert_eq!(count(&seen, "pool_entered"), 1, "{seen:#?}");
    let restricted = banks.asked(bank_verb::RESTRICT);
    assert_eq!(restricted.len(), 1, "{restricted:?}");
    assert_eq!(restricted[0].2, account.to_string());
    let case = harness.command(VERB_CASE, json!({"case_id": case_id.to_string()})).await;
    let entries = case["ok"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "pool_entered" && e["account"] == account.to_string()), "{case}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_blocking_cannot_use_goes_to_the_dead_letter_subject() {
    let harness = Harness::start().await;
    let _carriers = Counterparties::start(&harness.client).await;
    let mut dead = harness.client.subscribe(subjects::dead_letter(&harness.city, Service::Blocking)).await.unwrap();
    harness.client.flush().await.unwrap();
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    let intake_subject = subjects::event(&harness.city, Service::Intake, events::IntakeEvent::CASE_REPORTED);
    harness.publish(&intake_subject, "forged-1", b"not an event".to_vec()).await;
    let letter = tokio::time::timeout(BOUND, dead.next()).await.expect("dead-lettered").unwrap();
    assert_eq!(letter.payload.as_ref(), b"not an event");
    // A well-formed event of another kind forged onto intake's subject is no report.
    let forged = events::FreezingEvent::HopEnded {
        case_id: domain::CaseId::derive(&harness.city, 7),
        hop: 1,
        reason: events::freezing::HopEnd::DepthLimit,
        detail: String::new(),
        merged_into: None,
    };
    let envelope = events::Envelope::new(harness.city.clone(), 9, 1, events::Payload::Freezing(forged));
    harness.publish(&intake_subject, &envelope.id, events::encode(&envelope).unwrap()).await;
    let letter = tokio::time::timeout(BOUND, dead.next()).await.expect("dead-lettered").unwrap();
    let reason = format!("{:?}", letter.headers);
    assert!(reason.contains("not an event blocking reads"), "{reason}");
    // The stream goes on: a good report after it is blocked.
    harness.report(1, contacts(&["13800138000"], &[])).await;
    watch.until(|seen| count(seen, "identifier_blocked") == 1).await;
    running.stop().await;
}
