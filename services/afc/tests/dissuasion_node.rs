//! Dissuasion on a whole city node (`afc city` as a process, a real nats-server, real redb
//! files): carriers' signals on the city's signal stream, a report filed with intake, the
//! people the report's scam number reached warned by SMS through a stub carrier, and a
//! call-back worked through the staff commands down to a visit and a report for a person who
//! had paid. No dissuasion event leaving the node holds a subscriber's number.

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::{City, Service, system_clock};
use events::Payload;
use events::dissuasion::{Closure, DissuasionEvent};
use futures::StreamExt;
use protocol::carrier::{SmsReply, SmsRequest};
use protocol::signal::{SignalMessage, SignalWhat};
use protocol::subjects::{self, carrier_verb};
use protocol::{Reply, to_json};
use testkit::NatsServer;

const BOUND: Duration = Duration::from_secs(60);

fn city() -> City {
    City::parse("jinhua").unwrap()
}

/// A stub of the three carriers' `sms` verb: records every request, answers delivered.
async fn serve_sms(client: &async_nats::Client) -> Arc<Mutex<Vec<SmsRequest>>> {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut requests = client.subscribe(subjects::any_carrier(carrier_verb::SMS)).await.unwrap();
    client.flush().await.unwrap();
    let (client, seen) = (client.clone(), asked.clone());
    tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let request: SmsRequest = serde_json::from_slice(&message.payload).unwrap();
            let reply =
                SmsReply { request_id: request.request_id.clone(), delivered: true, at_ms: system_clock().now_ms() };
            seen.lock().unwrap().push(request);
            let body = to_json(&Reply::<SmsReply, ()>::Ok(reply));
            client.publish(message.reply.unwrap(), body.into()).await.unwrap();
        }
    });
    asked
}

async fn signal(js: &jetstream::Context, id: &str, subscriber: &str, at_ms: u64, what: SignalWhat) {
    let message =
        SignalMessage { source: "cmcc".into(), signal_id: id.into(), subscriber: subscriber.into(), at_ms, what };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, message.message_id().as_str());
    let subject = subjects::signals(&city(), &message.source);
    js.publish_with_headers(subject, headers, to_json(&message).into()).await.unwrap().await.unwrap();
}

fn contact(identifier: &str, duration_s: u32) -> SignalWhat {
    SignalWhat::Contact { identifier: identifier.into(), duration_s }
}

fn report(fraud_type: &str, scam_phone: &str) -> Vec<u8> {
    let now = system_clock().now_ms();
    to_json(&serde_json::json!({
        "victim": {"name": "王芳", "id_number": "33070219800101002X", "phone": "13900001111"},
        "fraud_type": fraud_type,
        "transfers": [{"account": "icbc:6222020200001234", "amount_fen": 500_000, "at_ms": now - 60_000}],
        "contacts": {"phones": [scam_phone], "urls": [], "apps": [], "social": []},
        "narrative": "A caller said my bank card was used for money laundering."
    }))
}

async fn command(client: &async_nats::Client, verb: &str, body: serde_json::Value) -> serde_json::Value {
    let subject = subjects::command(&city(), Service::Dissuasion, verb);
    let answer = tokio::time::timeout(BOUND, client.request(subject, to_json(&body).into())).await.unwrap().unwrap();
    serde_json::from_slice(&answer.payload).unwrap()
}

/// Dissuasion's events as published, decoded, until `done` holds of them.
async fn events_until(
    subscription: &mut async_nats::Subscriber,
    seen: &mut Vec<(String, DissuasionEvent)>,
    what: &str,
    done: impl Fn(&[(String, DissuasionEvent)]) -> bool,
) {
    let waited = tokio::time::timeout(BOUND, async {
        while !done(seen) {
            let message = subscription.next().await.expect("subscribed");
            let raw = String::from_utf8_lossy(&message.payload).into_owned();
            let Payload::Dissuasion(event) = events::decode(&message.payload).unwrap().payload else {
                panic!("dissuasion publishes its own events")
            };
            seen.push((raw, event));
        }
    });
    waited.await.unwrap_or_else(|_| panic!("{what}: {seen:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_a_reported_number_reached_are_warned_by_sms_and_called_back_down_to_a_visit() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());
    bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
    bus::streams::ensure_signal_stream(&js, &city()).await.unwrap();
    let sms = serve_sms(&client).await;
    let mut watch = client.subscribe(subjects::service_events(&city(), Service::Dissuasion)).await.unwrap();
    client.flush().await.unwrap();
    let _node = common::start(&server, data.path(), &city(), &[], "warn", Stdio::inherit());
    common::wait_ready(&client, &city(), BOUND).await;

    // Before any report: a pig-butchering number reaches Alice briefly, a fake-police number
    // reaches Bob; a signal from another carrier's subject claiming to be China Mobile's is
    // forged and refused.
    let now = system_clock().now_ms();
    let (alice, bob) = ("+86 138 0013 8000", "13800138001");
    signal(&js, "s-1", alice, now - 3_600_000, contact("phone:17100001111", 20)).await;
    signal(&js, "s-2", bob, now - 1_800_000, contact("phone:+8617100002222", 30)).await;
    let forged = SignalMessage {
        source: "cmcc".into(),
        signal_id: "s-3".into(),
        subscriber: "13800138002".into(),
        at_ms: now,
        what: SignalWhat::TransferInstructions,
    };
    js.publish(subjects::signals(&city(), "cucc"), to_json(&forged).into()).await.unwrap().await.unwrap();

    // The reports name the numbers: Alice is warned by SMS, Bob is called back.
    common::report(&client, &city(), report("pig_butchering", "17100001111")).await;
    common::report(&client, &city(), report("impersonating_authorities", "17100002222")).await;
    let mut seen = Vec::new();
    events_until(&mut watch, &mut seen, "the SMS delivered and the call opened", |seen| {
        let delivered =
            seen.iter().any(|(_, e)| matches!(e, DissuasionEvent::TaskClosed { closure: Closure::SmsDelivered, .. }));
        let call = seen
            .iter()
            .any(|(_, e)| matches!(e, DissuasionEvent::TaskOpened { kind: events::dissuasion::TaskKind::Call, .. }));
        delivered && call
    })
    .await;
    // Tasks are numbered in the order the engine met the people: blocking's block of Bob's
    // number may come before Alice's report, so the SMS task's number is read, not assumed.
    let sms_task = seen
        .iter()
        .find_map(|(_, e)| match e {
            DissuasionEvent::TaskOpened { task, kind: events::dissuasion::TaskKind::Sms, .. } => Some(*task),
            _ => None,
        })
        .unwrap();
    let asked = sms.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let expected = format!("jinhua/cmcc/sms/{sms_task}");
    assert_eq!((asked[0].to.as_str(), asked[0].request_id.as_str()), ("+8613800138000", expected.as_str()));

    // A case's warnings: the tasks of the people its scam number reached, whatever their state.
    let by = |identifiers: serde_json::Value| serde_json::json!({"status": "all", "identifiers": identifiers});
    let alice_number = command(&client, "list", by(serde_json::json!(["phone:+8617100001111"]))).await;
    let tasks = alice_number["ok"]["tasks"].as_array().unwrap_or_else(|| panic!("{alice_number}"));
    assert_eq!(tasks.len(), 1, "{alice_number}");
    assert_eq!(tasks[0]["task"], sms_task.to_string(), "Alice's SMS, closed: {alice_number}");
    assert_eq!(tasks[0]["identifiers"], serde_json::json!(["phone:+8617100001111"]), "{alice_number}");
    let both = command(&client, "list", by(serde_json::json!(["phone:+8617100001111", "phone:+8617100002222"]))).await;
    assert_eq!(both["ok"]["tasks"].as_array().map(Vec::len), Some(2), "{both}");
    let nobody = command(&client, "list", by(serde_json::json!(["phone:+8617100009999"]))).await;
    assert_eq!(nobody["ok"]["tasks"], serde_json::json!([]), "{nobody}");
    let typed = command(&client, "list", by(serde_json::json!(["171 0000 1111"]))).await;
    assert_eq!(typed["error"]["problems"][0]["field"], "identifiers", "not canonical: {typed}");
    assert_eq!(typed["error"]["problems"][0]["value"], "171 0000 1111", "{typed}");
    let many: Vec<String> =
        (0..=protocol::limits::MAX_LIST_IDENTIFIERS).map(|n| format!("phone:+86171000{n:05}")).collect();
    let too_many = command(&client, "list", by(serde_json::json!(many))).await;
    assert_eq!(too_many["error"]["problems"][0]["field"], "identifiers", "{too_many}");

    // The call-back: `next` gives the operator Bob's number; he refuses to believe it, and the
    // city bureau goes; he has paid already, so the officer files his report.
    let next = command(&client, "next", serde_json::json!({"queue": "call", "operator": "caller-7"})).await;
    let task = next["ok"]["task"].as_str().unwrap().to_owned();
    assert_eq!(next["ok"]["phone"], "+8613800138001", "{next}");
    assert_eq!(next["ok"]["claimed_by"], "caller-7", "{next}");
    let other = command(&client, "next", serde_json::json!({"queue": "call", "operator": "caller-8"})).await;
    assert_eq!(other["ok"], serde_json::Value::Null, "nobody else gets Bob: {other}");
    let refused = serde_json::json!({"task": task, "operator": "caller-7", "outcome": "refused", "note": "says it's a real policeman"});
    let escalated = command(&client, "complete", refused).await;
    assert_eq!(escalated["ok"]["task"]["queue"], "visit.city_bureau", "{escalated}");
    let visit = command(&client, "claim", serde_json::json!({"task": task, "operator": "officer-3"})).await;
    assert_eq!(visit["ok"]["phone"], "+8613800138001", "{visit}");
    let without = serde_json::json!({"task": task, "operator": "officer-3", "outcome": "already_paid"});
    let missing = command(&client, "complete", without).await;
    assert_eq!(missing["error"]["kind"], "invalid", "{missing}");
    assert_eq!(missing["error"]["problems"][0]["field"], "report", "{missing}");
    let bad_id = serde_json::json!({"task": task, "operator": "officer-3", "outcome": "already_paid",
        "report": {"name": "李强", "id_number": "123", "transfers": [{"account": "icbc:6222020200005678", "amount_fen": 300_000, "at_ms": now - 600_000}]}});
    let refused_report = command(&client, "complete", bad_id).await;
    assert_eq!(refused_report["error"]["problems"][0]["field"], "report.victim.id_number", "{refused_report}");
    let paid = serde_json::json!({"task": task, "operator": "officer-3", "outcome": "already_paid",
        "report": {"name": "李强", "id_number": "33070219800101003X", "transfers": [{"account": "icbc:6222020200005678", "amount_fen": 300_000, "at_ms": now - 600_000}]}});
    let filed = command(&client, "complete", paid).await;
    let case_id = filed["ok"]["case_id"].as_str().unwrap_or_else(|| panic!("{filed}")).to_owned();
    assert_eq!(filed["ok"]["task"]["status"], "closed:already_paid", "{filed}");
    let again = command(
        &client,
        "complete",
        serde_json::json!({"task": task, "operator": "officer-3", "outcome": "persuaded"}),
    )
    .await;
    assert_eq!(again["error"]["kind"], "already_closed", "{again}");
    events_until(&mut watch, &mut seen, "the report filed", |seen| {
        seen.iter().any(|(_, e)| matches!(e, DissuasionEvent::ReportFiled { case_id: c, .. } if c.as_str() == case_id))
    })
    .await;
    let show = serde_json::json!({"case_id": case_id});
    let subject = subjects::command(&city(), Service::Intake, protocol::intake::VERB_SHOW);
    let shown = client.request(subject, to_json(&show).into()).await.unwrap();
    let shown = String::from_utf8_lossy(&shown.payload).into_owned();
    assert!(shown.contains("\"ok\"") && shown.contains("impersonating_authorities"), "{shown}");

    // The forged signal is dead-lettered, its subscriber redacted; no event holds a number.
    let dead = js.get_stream(city().stream_name()).await.unwrap();
    let letter =
        dead.get_last_raw_message_by_subject(&subjects::dead_letter(&city(), Service::Dissuasion)).await.unwrap();
    let letter = String::from_utf8_lossy(&letter.payload).into_owned();
    assert!(letter.contains("<redacted>") && !letter.contains("13800138002"), "{letter}");
    for (raw, event) in &seen {
        assert!(!raw.contains("1380013800"), "{event:?} holds a number");
    }
}
