//! Freezing alone on a real nats-server and a real redb file, with the simulated banks of a
//! generated wave: the reports are published as intake would publish them.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use domain::{CaseId, City, Service, SharedClock, system_clock};
use events::{Envelope, FreezingEvent, Payload};
use freezing::core::CoreConfig;
use futures::StreamExt;
use intake::core::Decision;
use runtime::{Context, ServiceError, Stores};
use simulator::serve::{ServeHandle, ServeOptions, serve};
use simulator::world::World;
use store::{Producer, Store};
use testkit::NatsServer;
use tokio::sync::watch;

/// Bound on a trace (or a freeze) completing, and on the service stopping.
pub const BOUND: Duration = Duration::from_secs(60);

/// The server, the banks and freezing's store; freezing runs with [`Harness::run`].
pub struct Harness {
    pub server: NatsServer,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub city: City,
    pub world: Arc<Mutex<World>>,
    pub clock: SharedClock,
    pub store: Store,
    banks: Option<ServeHandle>,
    _data: tempfile::TempDir,
}

impl Harness {
    pub async fn start(city: City, world: World) -> Harness {
        let mut harness = Harness::without_banks(city, world).await;
        harness.start_banks().await;
        harness
    }

    /// The same, with the banks down until [`Harness::start_banks`].
    pub async fn without_banks(city: City, world: World) -> Harness {
        Harness::on_clock(city, world, system_clock()).await
    }

    /// Without banks, with freezing and its store on `clock`.
    pub async fn on_clock(city: City, world: World, clock: SharedClock) -> Harness {
        let server = NatsServer::single().await.unwrap();
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        bus::streams::ensure_city_stream(&js, &city).await.unwrap();
        let world = Arc::new(Mutex::new(world));
        let data = tempfile::tempdir().unwrap();
        let producer = Producer { city: city.clone(), service: Service::Freezing };
        let store = Stores::open(data.path(), &[freezing::STORE], &producer, &clock).unwrap().get(&freezing::STORE);
        Harness { server, client, js, city, world, clock, store, banks: None, _data: data }
    }

    /// Starts the simulated banks and payment platforms, answering from now on.
    pub async fn start_banks(&mut self) {
        let banks = serve(self.world.clone(), vec![self.client.clone()], ServeOptions::default()).await.unwrap();
        self.banks = Some(banks);
    }

    /// Runs freezing on its own connection until the returned sender says stop.
    pub async fn run(&self, core: CoreConfig) -> Running {
        self.run_with(freezing::Config::new(core)).await
    }

    /// [`Harness::run`] with the whole configuration.
    pub async fn run_with(&self, config: freezing::Config) -> Running {
        let client = async_nats::connect(self.server.url()).await.unwrap();
        let (stop, shutdown) = watch::channel(false);
        let context = Context::new(self.city.clone(), Service::Freezing, client, self.clock.clone(), shutdown);
        let task = tokio::spawn(freezing::shell::run(config, context, self.store.clone()));
        Running { stop, task }
    }

    /// Publishes the report `body` as intake's `case_reported` number `seq`; returns its case.
    pub async fn report(&self, seq: u64, body: &serde_json::Value) -> CaseId {
        let now = self.clock.now_ms();
        let submission = intake::core::prepare(&self.city, &serde_json::to_vec(body).unwrap(), now).unwrap();
        let Decision::Record { case_id, event, .. } =
            intake::core::decide(None, submission, &intake::core::PayerSecret(1, 2), now).unwrap()
        else {
            panic!("a new case")
        };
        let envelope = Envelope::new(self.city.clone(), seq, now, Payload::Intake(event));
        self.publish(&envelope.subject(), &envelope.id, events::encode(&envelope).unwrap()).await;
        case_id
    }

    /// Publishes raw bytes to the city stream with a message id.
    pub async fn publish(&self, subject: &str, id: &str, bytes: Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        self.js.publish_with_headers(subject.to_owned(), headers, bytes.into()).await.unwrap().await.unwrap();
    }

    /// Subscribes to freezing's events as they are published.
    pub async fn watch(&self) -> Watch {
        let subject = protocol::subjects::service_events(&self.city, Service::Freezing);
        let subscription = self.client.subscribe(subject).await.unwrap();
        self.client.flush().await.unwrap();
        Watch { subscription, seen: Vec::new() }
    }

    pub async fn stop(mut self) {
        if let Some(banks) = self.banks.take() {
            banks.shutdown().await;
        }
    }
}

/// Freezing, running.
pub struct Running {
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(BOUND, self.task).await.expect("freezing stops").unwrap().unwrap();
    }
}

/// Freezing's events as published (a re-sent event, same id, counted once).
pub struct Watch {
    subscription: async_nats::Subscriber,
    seen: Vec<Envelope>,
}

impl Watch {
    /// Waits until `done` holds for the events of `case_id` seen so far; returns them.
    pub async fn until(&mut self, case_id: &CaseId, done: impl Fn(&[FreezingEvent]) -> bool) -> Vec<FreezingEvent> {
        tokio::time::timeout(BOUND, async {
            loop {
                let events = self.of(case_id);
                if done(&events) {
                    return events;
                }
                let message = self.subscription.next().await.expect("subscribed");
                let envelope = events::decode(&message.payload).unwrap();
                if !self.seen.iter().any(|e| e.id == envelope.id) {
                    self.seen.push(envelope);
                }
            }
        })
        .await
        .expect("the condition is reached")
    }

    fn of(&self, case_id: &CaseId) -> Vec<FreezingEvent> {
        self.seen
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Freezing(event) if event.case_id() == Some(case_id) => Some(event.clone()),
                _ => None,
            })
            .collect()
    }
}

pub fn trace_completed(events: &[FreezingEvent]) -> bool {
    events.iter().any(|e| matches!(e, FreezingEvent::TraceCompleted { .. }))
}
