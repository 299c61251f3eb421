//! The province's block notices on a real nats-server: a notice blocks the identifier in
//! this city (its event in the city stream with its province origin, the carrier's order,
//! `check` and `list` naming the province's cities), a notice heard again records nothing,
//! and a malformed notice or one of an identifier never blocked here is refused. The province
//! withdrawing its block lifts it here (its carriers' lift orders, `check` not blocked) and
//! leaves a block of the city's own.

mod common;

use blocking::events::{BlockingEvent, ProvinceOrigin};
use common::{Counterparties, Harness, count};
use domain::{CaseId, City, FraudType};
use events::province::{ProvinceBlockNotice, kind};
use identifiers::Identifier;
use protocol::blocking::{VERB_CASE, VERB_CHECK, VERB_LIST};
use protocol::subjects::{self, carrier_verb};
use serde_json::json;

const PHONE: &str = "phone:+8617000000000";

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn notice(identifier: &str, cities: &[&str]) -> serde_json::Value {
    serde_json::to_value(ProvinceBlockNotice {
        identifier: Identifier::parse(identifier).unwrap(),
        cities: cities.iter().map(|c| city(c)).collect(),
        case_id: CaseId::derive(&city("jiaxing"), 7),
        fraud_type: FraudType::FakeCustomerService,
        first_reported_at_ms: 1_763_946_000_000,
        decided_at_ms: 1_763_946_060_000,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_province_block_notice_blocks_the_identifier_here_once() {
    let harness = Harness::start().await;
    let carriers = Counterparties::start(&harness.client).await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;

    let taken = harness.notice(kind::PROVINCE_BLOCK, notice(PHONE, &["jiaxing", "hangzhou"])).await;
    assert_eq!(taken, json!({"ok": {"recorded": true}}));
    // Answered once committed: the event reaches the stream, the carrier its order.
    let seen = watch.until(|seen| count(seen, "order_confirmed") == 1).await;
    let blocked: Vec<_> = seen.iter().filter(|e| matches!(e, BlockingEvent::IdentifierBlocked { .. })).collect();
    let [BlockingEvent::IdentifierBlocked { identifier, case_id, fraud_type, province, .. }] = &blocked[..] else {
        panic!("{seen:#?}")
    };
    assert_eq!((identifier.to_string(), case_id), (PHONE.to_owned(), &CaseId::derive(&city("jiaxing"), 7)));
    assert_eq!(*fraud_type, FraudType::FakeCustomerService);
    let origin = ProvinceOrigin { cities: vec![city("jiaxing"), city("hangzhou")], decided_at_ms: 1_763_946_060_000 };
    assert_eq!(province.as_ref(), Some(&origin));
    let blocks = carriers.asked(carrier_verb::BLOCK);
    let expected = (
        subjects::carrier(domain::Carrier::Ctcc, carrier_verb::BLOCK),
        "huzhou/ctcc/phone:+8617000000000/block1".to_owned(),
        PHONE.to_owned(),
    );
    assert_eq!(blocks, [expected], "ordered as a block of the city's own");

    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "170 0000 0000"})).await;
    assert_eq!(checked["ok"]["blocked"], true, "{checked}");
    assert_eq!(checked["ok"]["province_cities"], json!(["jiaxing", "hangzhou"]), "{checked}");
    let listed = harness.command(VERB_LIST, json!({})).await;
    assert_eq!(listed["ok"]["blocks"][0]["province_cities"], json!(["jiaxing", "hangzhou"]), "{listed}");
    let case = harness.command(VERB_CASE, json!({"case_id": CaseId::derive(&city("jiaxing"), 7)})).await;
    let detail = case["ok"]["entries"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("for the province (blocked first in jiaxing, hangzhou)"), "{case}");

    // Heard again (the coordinator asks until it hears an answer): nothing more recorded.
    let again = harness.notice(kind::PROVINCE_BLOCK, notice(PHONE, &["jiaxing", "hangzhou"])).await;
    assert_eq!(again, json!({"ok": {"recorded": false}}));

    // Refused, for good: not JSON, one city, an identifier on the never-block list.
    let subject = subjects::province_notice(&harness.city, domain::Service::Blocking, kind::PROVINCE_BLOCK);
    let reply = harness.client.request(subject, "{".into()).await.unwrap();
    let refused: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(refused["error"]["kind"], "refused", "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("expected {\"identifier\""), "{refused}");
    let one = harness.notice(kind::PROVINCE_BLOCK, notice("domain:fake-bank.com.cn", &["jiaxing"])).await;
    assert_eq!(one["error"]["kind"], "refused", "{one}");
    let message = one["error"]["message"].as_str().unwrap();
    assert!(message.contains("cities") && message.contains("1 cities") && message.contains("2 to"), "{message}");
    let protected = harness.notice(kind::PROVINCE_BLOCK, notice("domain:qq.com", &["jiaxing", "hangzhou"])).await;
    assert_eq!(protected["error"]["kind"], "refused", "{protected}");
    assert!(protected["error"]["message"].as_str().unwrap().contains("never-block"), "{protected}");
    let checked = harness.command(VERB_CHECK, json!({"kind": "domain", "value": "fake-bank.com.cn"})).await;
    assert_eq!(checked["ok"]["blocked"], false, "{checked}");

    // The one event and the one order: nothing else came of the rest.
    let seen = watch.until(|seen| count(seen, "identifier_blocked") == 1).await;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(carriers.asked(carrier_verb::BLOCK).len(), 1);
    running.stop().await;
}

fn withdrawal(identifier: &str) -> serde_json::Value {
    json!({"identifier": identifier, "lifted_in": "jiaxing", "decided_at_ms": 1_763_950_000_000u64})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_provinces_withdrawal_lifts_its_block_here_and_leaves_a_block_of_the_citys_own() {
    let harness = Harness::start().await;
    let carriers = Counterparties::start(&harness.client).await;
    let mut watch = harness.watch().await;
    let running = harness.run().await;

    let taken = harness.notice(kind::PROVINCE_BLOCK, notice(PHONE, &["jiaxing", "hangzhou"])).await;
    assert_eq!(taken, json!({"ok": {"recorded": true}}));
    const OWN: &str = "phone:+8617100001111";
    harness.report(1, common::contacts(&["171 0000 1111"], &[])).await;
    watch.until(|seen| count(seen, "identifier_blocked") == 2 && count(seen, "order_confirmed") == 2).await;

    let lifted = harness.notice(kind::PROVINCE_UNBLOCK, withdrawal(PHONE)).await;
    assert_eq!(lifted, json!({"ok": {"recorded": true}}));
    // Answered once committed: the lift reaches the stream, the carrier its lift order.
    let seen = watch.until(|seen| count(seen, "block_lifted") == 1 && count(seen, "order_confirmed") == 3).await;
    let [BlockingEvent::BlockLifted { identifier, generation: 1, appeal, .. }] =
        &seen.iter().filter(|e| matches!(e, BlockingEvent::BlockLifted { .. })).collect::<Vec<_>>()[..]
    else {
        panic!("{seen:#?}")
    };
    assert_eq!(identifier.to_string(), PHONE);
    assert_eq!(
        (appeal.reason.as_str(), appeal.operator.as_str()),
        ("withdrawn by the province: lifted in jiaxing", "province")
    );
    let lifts = carriers.asked(carrier_verb::LIFT);
    let expected = (
        subjects::carrier(domain::Carrier::Ctcc, carrier_verb::LIFT),
        "huzhou/ctcc/phone:+8617000000000/lift1".to_owned(),
        PHONE.to_owned(),
    );
    assert_eq!(lifts, [expected], "lifted as staff's lift is");
    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "170 0000 0000"})).await;
    assert_eq!(checked["ok"]["blocked"], false, "{checked}");

    // Heard again: nothing to lift. The city's own block: not the province's to withdraw.
    let again = harness.notice(kind::PROVINCE_UNBLOCK, withdrawal(PHONE)).await;
    assert_eq!(again, json!({"ok": {"recorded": false}}));
    let own = harness.notice(kind::PROVINCE_UNBLOCK, withdrawal(OWN)).await;
    assert_eq!(own, json!({"ok": {"recorded": false}}));
    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "171 0000 1111"})).await;
    assert_eq!(checked["ok"]["blocked"], true, "{checked}");

    // A body that is no withdrawal is refused, naming the shape.
    let subject = subjects::province_notice(&harness.city, domain::Service::Blocking, kind::PROVINCE_UNBLOCK);
    let reply = harness.client.request(subject, r#"{"identifier": "phone:+8617000000000"}"#.into()).await.unwrap();
    let refused: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(refused["error"]["kind"], "refused", "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("lifted_in"), "{refused}");

    // Nothing else came of the rest: one lift, one lift order.
    let seen = watch.until(|seen| count(seen, "block_lifted") == 1).await;
    assert_eq!(count(&seen, "block_lifted"), 1, "{seen:#?}");
    assert_eq!(carriers.asked(carrier_verb::LIFT).len(), 1);
    running.stop().await;
}
