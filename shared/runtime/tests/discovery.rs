//! Discovery against a real nats-server: a running service answers the NATS micro protocol
//! (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`) with its name, city, version and one endpoint per
//! verb of its commands and of the province's notices, and counts each verb's requests and
//! errors — in the types of `async_nats::service`, which the standard tooling reads.

use std::time::Duration;

use async_nats::service::{Info, PingResponse, Stats};
use domain::{City, Service, system_clock};
use protocol::subjects::{self, micro_verb};
use runtime::{Context, Router};
use testkit::{NatsServer, eventually};
use tokio::sync::watch;

/// Bound on the service answering once it runs.
const BOUND: Duration = Duration::from_secs(30);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

async fn ask<T: serde::de::DeserializeOwned>(client: &async_nats::Client, subject: String) -> Option<T> {
    let answer = tokio::time::timeout(Duration::from_secs(2), client.request(subject, "".into())).await.ok()?.ok()?;
    Some(serde_json::from_slice(&answer.payload).expect("an answer of the micro protocol"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_service_answers_ping_info_and_stats_with_its_verbs_and_their_counts() {
    let server = NatsServer::single().await.unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let (shutdown, signal) = watch::channel(false);
    let mut context = Context::new(city(), Service::Freezing, client.clone(), system_clock(), signal);
    let commands = Router::new()
        .verb("show", |body: bytes::Bytes| async move { Ok::<_, String>(body.len()) })
        .verb("refuse", |_| async { Err::<(), _>("no".to_owned()) });
    context.serve(commands).await.unwrap();
    context.serve_province(Router::new().verb("cross_city", |_| async { Ok::<_, String>(true) })).await.unwrap();
    let running = tokio::spawn(context.run());

    let ping: PingResponse = eventually(BOUND, "the service answering $SRV.PING", || {
        ask(&client, subjects::micro(micro_verb::PING, None, None))
    })
    .await;
    assert_eq!((ping.kind.as_str(), ping.name.as_str()), ("io.nats.micro.v1.ping_response", "freezing"));
    assert_eq!(ping.metadata.get("city").map(String::as_str), Some("huzhou"));
    assert_eq!(ping.version, env!("CARGO_PKG_VERSION"));

    let info: Info =
        ask(&client, subjects::micro(micro_verb::INFO, Some("freezing"), Some(&ping.id))).await.expect("INFO");
    let endpoints: Vec<(String, String)> = info.endpoints.iter().map(|e| (e.name.clone(), e.subject.clone())).collect();
    assert_eq!(
        endpoints,
        [
            ("refuse".to_owned(), subjects::command(&city(), Service::Freezing, "refuse")),
            ("show".to_owned(), subjects::command(&city(), Service::Freezing, "show")),
            ("cross_city".to_owned(), subjects::province_notice(&city(), Service::Freezing, "cross_city")),
        ]
    );
    assert!(info.endpoints.iter().all(|e| e.queue_group == "freezing"));

    for verb in ["show", "show", "refuse"] {
        client.request(subjects::command(&city(), Service::Freezing, verb), "abc".into()).await.unwrap();
    }
    let stats: Stats = ask(&client, subjects::micro(micro_verb::STATS, Some("freezing"), None)).await.expect("STATS");
    let counted: Vec<(String, usize, usize)> =
        stats.endpoints.iter().map(|e| (e.name.clone(), e.requests, e.errors)).collect();
    assert_eq!(
        counted,
        [("refuse".to_owned(), 1, 1), ("show".to_owned(), 2, 0), ("cross_city".to_owned(), 0, 0)],
        "requests and errors per verb"
    );
    assert!(stats.endpoints.iter().all(|e| e.last_error.is_none()), "no error's text leaves the service");

    // Another service's name is not this one's to answer.
    assert!(ask::<PingResponse>(&client, subjects::micro(micro_verb::PING, Some("intake"), None)).await.is_none());

    shutdown.send(true).unwrap();
    tokio::time::timeout(BOUND, running).await.expect("the service stops").unwrap().unwrap();
}
