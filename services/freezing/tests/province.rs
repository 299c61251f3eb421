//! The province coordinator's cross-city notice, heard by freezing on a real nats-server:
//! recorded on the account the city holds once committed, answered `recorded: false` when
//! heard again, refused for an account the city does not hold or a body that is no notice.

mod common;

use common::{BOUND, Harness};
use domain::{AccountRef, CaseId, City, Service};
use events::province::{CrossCityClaim, CrossCityNotice, kind};
use events::{FreezingEvent, Payload};
use freezing::core::CoreConfig;
use freezing::shell::snapshot;
use futures::StreamExt;
use protocol::subjects;
use serde_json::{Value, json};

/// The answer to `body` sent as the coordinator's `cross_city` notice to `harness`'s city.
async fn notify(harness: &Harness, body: Vec<u8>) -> Value {
    let subject = subjects::province_notice(&harness.city, Service::Freezing, kind::CROSS_CITY);
    let reply = tokio::time::timeout(BOUND, harness.client.request(subject, body.into()))
        .await
        .expect("answered in time")
        .expect("freezing answers");
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_city_notice_on_a_held_account_is_recorded_once_and_refused_on_any_other() {
    let wave = simulator::wave::single_trail(31, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let harness = Harness::start(report.city.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;
    let case_id = harness.report(1, &report.body).await;

    // The city holds an account of the case once a stop there held some of its money.
    let stopped = |events: &[FreezingEvent]| {
        events.iter().find_map(|e| match e {
            FreezingEvent::AccountStopped { account, claim_fen, stopped_at_ms, .. } if !claim_fen.is_zero() => {
                Some((account.clone(), *stopped_at_ms))
            }
            _ => None,
        })
    };
    let events = watch.until(&case_id, |events| stopped(events).is_some()).await;
    let (account, first_stop_at_ms) = stopped(&events).unwrap();

    let other = City::parse(if harness.city.as_str() == "wenzhou" { "ningbo" } else { "wenzhou" }).unwrap();
    let claims = vec![
        CrossCityClaim { city: other.clone(), case_id: CaseId::derive(&other, 7), first_stop_at_ms: 1 },
        CrossCityClaim { city: harness.city.clone(), case_id: case_id.clone(), first_stop_at_ms },
    ];
    let notice = CrossCityNotice { account: account.clone(), claims: claims.clone(), decided_at_ms: first_stop_at_ms };
    let subject = subjects::event(&harness.city, Service::Freezing, FreezingEvent::CROSS_CITY_CLAIMS);
    let mut published = harness.client.subscribe(subject.clone()).await.unwrap();
    harness.client.flush().await.unwrap();

    let body = serde_json::to_vec(&notice).unwrap();
    assert_eq!(notify(&harness, body.clone()).await, json!({"ok": {"recorded": true}}));
    let message = tokio::time::timeout(BOUND, published.next()).await.expect("published").unwrap();
    let envelope = events::decode(&message.payload).unwrap();
    assert_eq!(envelope.correlation, Some(case_id.clone()), "its case is the city's claim's");
    let Payload::Freezing(FreezingEvent::CrossCityClaims { account: on, claims: recorded, .. }) = &envelope.payload
    else {
        panic!("cross_city_claims: {envelope:?}")
    };
    assert_eq!((on, recorded), (&account, &claims));
    // In the city stream, as every event of the city.
    let stream = harness.js.get_stream(harness.city.stream_name()).await.unwrap();
    let stored = stream.get_last_raw_message_by_subject(&subject).await.unwrap();
    assert_eq!(events::decode(&stored.payload).unwrap().id, envelope.id);

    // The coordinator sends until answered: heard again, it changes nothing.
    assert_eq!(notify(&harness, body).await, json!({"ok": {"recorded": false}}));

    let unheld = AccountRef::parse("icbc:6200000000000001").unwrap();
    let elsewhere = CrossCityNotice { account: unheld.clone(), ..notice.clone() };
    let refused = notify(&harness, serde_json::to_vec(&elsewhere).unwrap()).await;
    assert_eq!(refused["error"]["kind"], "refused");
    assert!(refused["error"]["message"].as_str().unwrap().contains(unheld.as_str()), "{refused}");
    let garbled = notify(&harness, b"{\"account\": 1}".to_vec()).await;
    assert_eq!(garbled["error"]["kind"], "refused");
    assert!(garbled["error"]["message"].as_str().unwrap().contains("expected a JSON cross-city notice"), "{garbled}");

    running.stop().await;
    // A start rebuilds the claims from the log.
    let (mut state, _) = snapshot::rebuild(&harness.store).unwrap();
    state.warm(&account);
    assert_eq!(state.holds[&account].cross_city_claims, claims);
    harness.stop().await;
}
