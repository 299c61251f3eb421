//! The embedded deployment (demo, drills, benchmarks, these tests) runs secured by default, as
//! a center does: nobody connects without an identity of the deployment, and the harness's own
//! identity, which files reports and reads everything, cannot write an event into a city's
//! stream. The services still do their whole job under their grants: the freezing-path tests
//! run on this same default. And the harness lists the city's services by the NATS micro
//! protocol, as an operator's tooling does.

mod common;

use async_nats::jetstream;
use common::{city, now_ms};
use futures::StreamExt as _;
use loadtests::deployment::{Embedded, EmbeddedOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_connects_without_an_identity_and_the_harness_cannot_forge_an_event() {
    common::init();
    let center = city("huzhou");
    let wave = simulator::wave::single_trail(3, now_ms());
    let deployment =
        Embedded::start(std::slice::from_ref(&center), wave.world, EmbeddedOptions::default()).await.unwrap();
    let secrets = deployment.secrets_dir().expect("secured by default");
    assert!(secrets.join("pki").join("ca.crt").is_file(), "the CA is in {}", secrets.display());

    // Anonymous clients, with or without TLS, are refused by the city and by the hub.
    let ca = secrets.join("pki").join("ca.crt");
    for url in [deployment.province.city(&center).unwrap().server.url(), deployment.province.hub_url()] {
        assert!(async_nats::connect(&url).await.is_err(), "anonymous plain client refused at {url}");
        let tls = async_nats::ConnectOptions::new().require_tls(true).add_root_certificates(ca.clone());
        assert!(tls.connect(&url).await.is_err(), "anonymous TLS client refused at {url}");
    }

    // The harness's identity publishes a well-formed event of the city: the stream refuses it.
    let js = jetstream::new(deployment.client(&center).clone());
    let before = js.get_stream(center.stream_name()).await.unwrap().info().await.unwrap().state.messages;
    let event = events::intake::IntakeEvent::CaseReported {
        case_id: domain::CaseId::derive(&center, 7),
        received_at_ms: 1,
        fraud_type: domain::FraudType::OnlineLoan,
        transfers: Vec::new(),
        contacts: domain::report::Contacts::default(),
        reported_loss_fen: domain::Fen::new(1),
    };
    let envelope = events::Envelope::new(center.clone(), 7, 1, events::Payload::Intake(event));
    let forged = js.publish(envelope.subject(), events::encode(&envelope).unwrap().into()).await;
    let stored = match forged {
        Err(_) => false,
        Ok(ack) => ack.await.is_ok(),
    };
    assert!(!stored, "a forged event is not acknowledged by the stream");
    let after = js.get_stream(center.stream_name()).await.unwrap().info().await.unwrap().state.messages;
    assert_eq!(after, before, "nothing was stored");

    // The harness's identity lists the city's services as an operator's tooling does (the
    // NATS micro protocol's `$SRV.PING`), each answering under its own grant.
    let client = deployment.client(&center).clone();
    let listed =
        testkit::eventually(std::time::Duration::from_secs(30), "the five services answering $SRV.PING", || {
            let (client, center) = (client.clone(), center.clone());
            async move {
                let inbox = client.new_inbox();
                let mut answers = client.subscribe(inbox.clone()).await.ok()?;
                let ping = protocol::subjects::micro(protocol::subjects::micro_verb::PING, None, None);
                client.publish_with_reply(ping, inbox, "".into()).await.ok()?;
                let mut names = std::collections::BTreeSet::new();
                while let Ok(Some(answer)) =
                    tokio::time::timeout(std::time::Duration::from_millis(500), answers.next()).await
                {
                    let ping: async_nats::service::PingResponse = serde_json::from_slice(&answer.payload).ok()?;
                    assert_eq!(ping.metadata.get("city"), Some(&center.to_string()));
                    names.insert(ping.name);
                }
                (names.len() == 5).then_some(names)
            }
        })
        .await;
    assert_eq!(listed.into_iter().collect::<Vec<_>>(), ["blocking", "dissuasion", "freezing", "intake", "restitution"]);
    deployment.stop().await;
}
