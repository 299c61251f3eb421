//! A node's HTTP endpoints against a real nats-server and real redb files: `/healthz` while
//! the process runs; `/readyz` naming each service that is not ready (not started, NATS
//! down) and 200 once every one runs, is connected, holds its consumers and gets its outbox
//! out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use domain::{City, Service, system_clock};
use futures::future::BoxFuture;
use runtime::{Context, Hosted, NodeOptions, Router, ServiceError, StoreSpec, Stores, run_node};
use store::WriterPriority;
use testkit::{NatsServer, eventually, free_port_range, http_get};
use tokio::sync::{Notify, watch};

/// Bound on what the test waits for.
const BOUND: Duration = Duration::from_secs(30);

const STORE: StoreSpec = StoreSpec { name: "freezing-health", priority: WriterPriority::Normal };

fn city() -> City {
    City::parse("huzhou").unwrap()
}

/// A producing, consuming service that starts its parts only once `gate` is opened.
struct Gated {
    gate: Arc<Notify>,
}

impl Hosted for Gated {
    fn service(&self) -> Service {
        Service::Freezing
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[STORE]
    }

    fn run(self: Box<Self>, mut context: Context, stores: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        Box::pin(async move {
            self.gate.notified().await;
            context.start_producer(&stores.get(&STORE)).await?;
            let filter = protocol::subjects::service_events(context.city(), Service::Intake);
            context.consume("freezing-health", filter, |_| async { Ok(()) });
            context
                .serve(Router::new().verb("echo", |body: bytes::Bytes| async move { Ok::<_, ()>(body.len()) }))
                .await?;
            context.run().await
        })
    }
}

/// A service with commands only.
struct Plain;

impl Hosted for Plain {
    fn service(&self) -> Service {
        Service::Intake
    }

    fn stores(&self) -> &'static [StoreSpec] {
        &[]
    }

    fn run(self: Box<Self>, mut context: Context, _: Stores) -> BoxFuture<'static, Result<(), ServiceError>> {
        Box::pin(async move {
            context.serve(Router::new().verb("ping", |_| async { Ok::<_, ()>("pong") })).await?;
            context.run().await
        })
    }
}

/// `/readyz` once its answer is `status` with a body that `accept`s.
async fn readyz_until(port: u16, status: u16, what: &str, accept: impl Fn(&str) -> bool) -> String {
    eventually(BOUND, what, || async {
        let response = http_get(port, "/readyz").await.ok()?;
        (response.status == status && accept(&response.body)).then_some(response.body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_services_not_ready_and_answers_200_once_all_are() {
    let mut server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = free_port_range(1);
    let options = NodeOptions {
        city: city(),
        nats_url: server.url(),
        data_dir: data.path().to_owned(),
        clock: system_clock(),
        credentials: None,
        http: Some(SocketAddr::from(([127, 0, 0, 1], port))),
    };
    let gate = Arc::new(Notify::new());
    let (stop, shutdown) = watch::channel(false);
    let services: Vec<Box<dyn Hosted>> = vec![Box::new(Gated { gate: gate.clone() }), Box::new(Plain)];
    let node = tokio::spawn(run_node(options, services, shutdown));

    let healthz = eventually(BOUND, "/healthz answering", || async { http_get(port, "/healthz").await.ok() }).await;
    assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok\n"));

    // Intake runs; freezing waits at its gate, its parts not started.
    let body = readyz_until(port, 503, "/readyz naming freezing alone", |body| body == "freezing: not running\n").await;
    assert!(!body.contains("intake"), "{body}");

    gate.notify_one();
    let body = readyz_until(port, 200, "/readyz ready", |_| true).await;
    assert_eq!(body, "ready\n");

    // NATS down: every service says so.
    server.stop().await.unwrap();
    let body = readyz_until(port, 503, "/readyz naming NATS down", |body| {
        body.contains("freezing: NATS disconnected") && body.contains("intake: NATS disconnected")
    })
    .await;
    assert!(body.lines().all(|line| line.starts_with("freezing: ") || line.starts_with("intake: ")), "{body}");
    assert_eq!(http_get(port, "/healthz").await.unwrap().status, 200, "the process is up all the same");

    server.start_again().await.unwrap();
    readyz_until(port, 200, "/readyz ready again once NATS is back", |body| body == "ready\n").await;

    stop.send(true).unwrap();
    tokio::time::timeout(BOUND, node).await.expect("the node stops").unwrap().unwrap();
    assert!(http_get(port, "/healthz").await.is_err(), "the endpoints stop with the node");
}
