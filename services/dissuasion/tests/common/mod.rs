//! Dissuasion alone on a real nats-server and a real redb file, with a stub carrier that
//! answers `sms` (or stays silent): cases and blocks are published as intake and blocking
//! publish them, signals as carriers do.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use dissuasion::events::DissuasionEvent;
use domain::report::Contacts;
use domain::{CaseId, City, Fen, FraudType, Service, SharedClock, system_clock};
use events::{Envelope, IntakeEvent, Payload};
use futures::StreamExt;
use protocol::carrier::{SmsReply, SmsRequest};
use protocol::signal::{SignalMessage, SignalWhat};
use protocol::subjects::{self, carrier_verb};
use protocol::{Reply, to_json};
use runtime::{Context, ServiceError, Stores};
use store::{Producer, Store};
use testkit::NatsServer;
use tokio::sync::watch;

/// Bound on an outcome being reached, and on the service stopping.
pub const BOUND: Duration = Duration::from_secs(60);

pub struct Harness {
    pub server: NatsServer,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub city: City,
    pub clock: SharedClock,
    store: Option<Store>,
    pub sms: Sms,
    data: tempfile::TempDir,
}

/// The stub carriers' `sms`: every request, and whether they answer.
#[derive(Clone, Default)]
pub struct Sms {
    pub asked: Arc<Mutex<Vec<SmsRequest>>>,
    pub silent: Arc<AtomicBool>,
}

impl Harness {
    pub async fn start() -> Harness {
        let city = City::parse("wuhan").unwrap();
        let clock = system_clock();
        let server = NatsServer::single().await.unwrap();
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        bus::streams::ensure_city_stream(&js, &city).await.unwrap();
        bus::streams::ensure_signal_stream(&js, &city).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let store = open(data.path(), &city, &clock);
        let sms = Sms::default();
        let mut requests = client.subscribe(subjects::any_carrier(carrier_verb::SMS)).await.unwrap();
        client.flush().await.unwrap();
        let (answering, stub) = (client.clone(), sms.clone());
        tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                let request: SmsRequest = serde_json::from_slice(&message.payload).unwrap();
                stub.asked.lock().unwrap().push(request.clone());
                if stub.silent.load(Ordering::SeqCst) {
                    continue;
                }
                let reply = SmsReply { request_id: request.request_id, delivered: true, at_ms: 1 };
                let body = to_json(&Reply::<SmsReply, ()>::Ok(reply));
                answering.publish(message.reply.unwrap(), body.into()).await.unwrap();
            }
        });
        Harness { server, client, js, city, clock, store: Some(store), sms, data }
    }

    pub fn store(&self) -> Store {
        self.store.clone().expect("the store is open")
    }

    /// Runs dissuasion on its own connection until stopped.
    pub async fn run(&self) -> Running {
        let config = dissuasion::Config::new(self.city.clone());
        let client = async_nats::connect(self.server.url()).await.unwrap();
        let (stop, shutdown) = watch::channel(false);
        let context = Context::new(self.city.clone(), Service::Dissuasion, client, self.clock.clone(), shutdown);
        let task = tokio::spawn(dissuasion::shell::run(config, context, self.store()));
        Running { stop, task }
    }

    /// Publishes intake's `case_reported` number `seq` naming the scam `phones`.
    pub async fn report(&self, seq: u64, fraud_type: FraudType, phones: &[&str]) -> CaseId {
        let case_id = CaseId::derive(&self.city, 1000 + seq);
        let contacts = Contacts { phones: phones.iter().map(|p| p.to_string()).collect(), ..Contacts::default() };
        let event = IntakeEvent::CaseReported {
            case_id: case_id.clone(),
            received_at_ms: self.clock.now_ms(),
            fraud_type,
            transfers: Vec::new(),
            contacts,
            reported_loss_fen: Fen::new(100_000),
        };
        let envelope = Envelope::new(self.city.clone(), seq, self.clock.now_ms(), Payload::Intake(event));
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, envelope.id.as_str());
        let bytes = events::encode(&envelope).unwrap();
        self.js.publish_with_headers(envelope.subject(), headers, bytes.into()).await.unwrap().await.unwrap();
        case_id
    }

    /// Publishes a signal of `source` under `msg_id` (a carrier re-sending one gives another).
    pub async fn signal_as(&self, source: &str, msg_id: &str, message: &SignalMessage) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
        let subject = subjects::signals(&self.city, source);
        self.js.publish_with_headers(subject, headers, to_json(message).into()).await.unwrap().await.unwrap();
    }

    /// A China Mobile contact signal: `identifier` reached `subscriber` at `at_ms`.
    pub async fn contact(&self, id: &str, subscriber: &str, identifier: &str, at_ms: u64, duration_s: u32) {
        let what = SignalWhat::Contact { identifier: identifier.into(), duration_s };
        let message =
            SignalMessage { source: "cmcc".into(), signal_id: id.into(), subscriber: subscriber.into(), at_ms, what };
        self.signal_as("cmcc", &message.message_id(), &message).await;
    }

    pub async fn watch(&self) -> Watch {
        let subject = subjects::service_events(&self.city, Service::Dissuasion);
        let subscription = self.client.subscribe(subject).await.unwrap();
        self.client.flush().await.unwrap();
        Watch { subscription, seen: Vec::new() }
    }

    /// The dead letters dissuasion published: (reason, payload).
    pub async fn dead_letters(&self) -> Vec<(String, String)> {
        let stream = self.js.get_stream(self.city.stream_name()).await.unwrap();
        let last = stream.get_info().await.unwrap().state.last_sequence;
        let mut letters = Vec::new();
        let dlq = subjects::dead_letter(&self.city, Service::Dissuasion);
        for seq in 1..=last {
            let Ok(message) = stream.get_raw_message(seq).await else { continue };
            if message.subject.as_str() == dlq {
                let reason = message.headers.get(bus::HEADER_DLQ_REASON).map(|v| v.to_string()).unwrap_or_default();
                letters.push((reason, String::from_utf8_lossy(&message.payload).into_owned()));
            }
        }
        letters
    }
}

fn open(path: &std::path::Path, city: &City, clock: &SharedClock) -> Store {
    let producer = Producer { city: city.clone(), service: Service::Dissuasion };
    Stores::open(path, &[dissuasion::STORE], &producer, clock).unwrap().get(&dissuasion::STORE)
}

pub struct Running {
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(BOUND, self.task).await.expect("dissuasion stops").unwrap().unwrap();
    }
}

/// Dissuasion's events as published.
pub struct Watch {
    subscription: async_nats::Subscriber,
    pub seen: Vec<DissuasionEvent>,
}

impl Watch {
    /// Waits until `done` holds of the events seen.
    pub async fn until(&mut self, what: &str, done: impl Fn(&[DissuasionEvent]) -> bool) {
        let waited = tokio::time::timeout(BOUND, async {
            while !done(&self.seen) {
                let message = self.subscription.next().await.expect("subscribed");
                let envelope = events::decode(&message.payload).unwrap();
                let Payload::Dissuasion(event) = envelope.payload else { panic!("dissuasion's own events") };
                self.seen.push(event);
            }
        });
        if waited.await.is_err() {
            panic!("{what}: {:?}", self.seen);
        }
    }
}
