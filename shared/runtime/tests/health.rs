//! A node's HTTP endpoints against a real nats-server and real redb files: `/healthz` while
//! the process runs; `/readyz` naming each service that is not ready (not started, NATS
//! down) and 200 once every one runs, is connected, holds its consumers and gets its outbox
//! out; `/metrics` in the Prometheus text format, its counters moving as commands are
//! answered and events published.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use domain::{CaseId, City, Fen, Service, system_clock};
use events::Payload;
use events::freezing::FreezingEvent;
use futures::future::BoxFuture;
use runtime::{Context, Hosted, NodeOptions, Router, ServiceError, StoreSpec, Stores, run_node};
use store::{Store, WriteError, WriterPriority};
use testkit::{NatsServer, eventually, free_port_range, http_get};
use tokio::sync::{Notify, watch};

/// Bound on what the test waits for.
const BOUND: Duration = Duration::from_secs(30);

const STORE: StoreSpec = StoreSpec { name: "freezing-health", priority: WriterPriority::Normal };

fn city() -> City {
    City::parse("huzhou").unwrap()
}

/// Commits one event to `store`: what a command of a producing service does.
async fn commit_event(store: Store) -> Result<(), String> {
    let case_id = CaseId::derive(&city(), 7);
    store
        .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            let event = FreezingEvent::TraceStarted {
                case_id: case_id.clone(),
                reported_at_ms: 1,
                reported_loss_fen: Fen::new(1),
            };
            ctx.append(Some(case_id), None, Payload::Freezing(event))?;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())
}

/// A producing, consuming service that starts its parts only once `gate` is opened; its
/// command `trace` commits an event.
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
            let store = stores.get(&STORE);
            let commands = Router::new().verb("trace", move |_| commit_event(store.clone()));
            context.serve(commands).await?;
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

    // A command answered, an event published: their counters move.
    let client = async_nats::connect(server.url()).await.unwrap();
    let subject = protocol::subjects::command(&city(), Service::Freezing, "trace");
    let answer = client.request(subject, "".into()).await.unwrap();
    assert_eq!(&answer.payload[..], br#"{"ok":null}"#);
    let labels = r#"city="huzhou",service="freezing""#;
    let published = format!(r#"afc_events_published_total{{{labels},kind="trace_started"}} 1"#);
    let text = eventually(BOUND, "the event counted as published", || async {
        let response = http_get(port, "/metrics").await.ok()?;
        (response.status == 200 && response.body.lines().any(|line| line == published)).then_some(response.body)
    })
    .await;
    let families = parse_exposition(&text);
    for family in ["afc_nats_connected", "afc_outbox_depth", "afc_consumer_attached", "afc_command_seconds"] {
        assert!(families.contains(&family.to_owned()), "{family} in\n{text}");
    }
    let requests = format!(r#"afc_command_requests_total{{{labels},on="commands",verb="trace"}} 1"#);
    let count = format!(r#"afc_command_seconds_count{{{labels},on="commands",verb="trace"}} 1"#);
    let inf = format!(r#"afc_command_seconds_bucket{{{labels},on="commands",verb="trace",le="+Inf"}} 1"#);
    let attached = format!(r#"afc_consumer_attached{{{labels},consumer="freezing-health"}} 1"#);
    let commits = format!(r#"afc_store_commit_seconds_count{{{labels},store="freezing-health"}} "#);
    assert!(text.lines().any(|l| l.starts_with(&commits) && !l.ends_with(" 0")), "{commits} in\n{text}");
    for line in [&requests, &count, &inf, &attached] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(text.contains(r#"afc_command_requests_total{city="huzhou",service="intake",on="commands",verb="ping"} 0"#));
    println!("/metrics:\n{text}");

    stop.send(true).unwrap();
    tokio::time::timeout(BOUND, node).await.expect("the node stops").unwrap().unwrap();
    assert!(http_get(port, "/healthz").await.is_err(), "the endpoints stop with the node");
}

/// Checks `text` is in the Prometheus text format as far as a scraper needs: each family
/// announced once by `# TYPE` before its samples, which come together; every sample
/// `name{label="value",…} number` of the family announced last; a histogram's buckets
/// cumulative, ending with `+Inf` equal to its `_count`. Returns the families.
fn parse_exposition(text: &str) -> Vec<String> {
    let mut families: Vec<String> = Vec::new();
    let mut last_bucket: Option<(String, f64)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(!families.contains(&name.to_owned()), "{name} announced twice");
            families.push(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample: series and value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number in {line:?}"));
        let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
        let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("labels end with }} in {line:?}"));
        let family = families.last().unwrap_or_else(|| panic!("{line:?} before any # TYPE"));
        let suffix = name.strip_prefix(family.as_str()).unwrap_or_else(|| panic!("{line:?} outside {family}"));
        assert!(["", "_bucket", "_sum", "_count"].contains(&suffix), "{line}");
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{line}");
        for label in labels.split(',').filter(|l| !l.is_empty()) {
            let (key, quoted) = label.split_once('=').unwrap_or_else(|| panic!("label=value in {line:?}"));
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{line}");
            assert!(quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'), "{line}");
        }
        let series_key = labels.split(",le=").next().unwrap_or_default().to_owned();
        match suffix {
            "_bucket" => {
                if let Some((previous, count)) = &last_bucket
                    && *previous == series_key
                {
                    assert!(value >= *count, "buckets are cumulative: {line}");
                }
                last_bucket = Some((series_key, value));
            }
            "_count" => {
                let (previous, inf) = last_bucket.take().expect("a _count after its buckets");
                assert_eq!((previous, inf), (series_key, value), "+Inf equals _count: {line}");
            }
            _ => {}
        }
    }
    families
}
