//! Blocking alone on a real nats-server and a real redb file, with stub carriers and banks
//! that answer (or stay silent) on the protocol's subjects: the reports and stops are
//! published as intake and freezing would publish them.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use blocking::core::CoreConfig;
use blocking::events::BlockingEvent;
use domain::report::Contacts;
use domain::{AccountRef, CaseId, City, Fen, FraudType, Service, SharedClock, system_clock};
use events::{Envelope, FreezingEvent, IntakeEvent, Payload};
use futures::StreamExt;
use protocol::carrier::{BlockReply, BlockRequest, RestrictReply, RestrictRequest};
use protocol::subjects::{self, bank_verb, carrier_verb};
use protocol::{Reply, to_json};
use runtime::{Context, ServiceError, Stores};
use store::{Producer, Store};
use testkit::NatsServer;
use tokio::sync::watch;

/// Bound on an outcome being reached, and on the service stopping.
pub const BOUND: Duration = Duration::from_secs(60);

/// The server and blocking's store; blocking runs with [`Harness::run`].
pub struct Harness {
    pub server: NatsServer,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub city: City,
    pub clock: SharedClock,
    pub store: Store,
    _data: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        let city = City::parse("huzhou").unwrap();
        let clock = system_clock();
        let server = NatsServer::single().await.unwrap();
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        bus::streams::ensure_city_stream(&js, &city).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let producer = Producer { city: city.clone(), service: Service::Blocking };
        let store = Stores::open(data.path(), &[blocking::STORE], &producer, &clock).unwrap().get(&blocking::STORE);
        Harness { server, client, js, city, clock, store, _data: data }
    }

    /// Runs blocking on its own connection until the returned sender says stop.
    pub async fn run(&self) -> Running {
        let config = blocking::Config::new(CoreConfig::new(self.city.clone()));
        let client = async_nats::connect(self.server.url()).await.unwrap();
        let (stop, shutdown) = watch::channel(false);
        let context = Context::new(self.city.clone(), Service::Blocking, client, self.clock.clone(), shutdown);
        let task = tokio::spawn(blocking::shell::run(config, context, self.store.clone()));
        Running { stop, task }
    }

    /// Publishes intake's `case_reported` number `seq` naming `contacts`; returns its case.
    pub async fn report(&self, seq: u64, contacts: Contacts) -> CaseId {
        let case_id = CaseId::derive(&self.city, 1000 + seq);
        let event = IntakeEvent::CaseReported {
            case_id: case_id.clone(),
            received_at_ms: self.clock.now_ms(),
            fraud_type: FraudType::PigButchering,
            transfers: Vec::new(),
            contacts,
            reported_loss_fen: Fen::new(100_000),
        };
        let envelope = Envelope::new(self.city.clone(), seq, self.clock.now_ms(), Payload::Intake(event));
        self.publish(&envelope.subject(), &envelope.id, events::encode(&envelope).unwrap()).await;
        case_id
    }

    /// Publishes freezing's `account_stopped` number `seq`: `account` holds `claim` of `case_id`.
    pub async fn stopped(&self, seq: u64, case_id: &CaseId, account: &AccountRef, claim: u64) {
        let now = self.clock.now_ms();
        let event = FreezingEvent::AccountStopped {
            case_id: case_id.clone(),
            hop: 1,
            account: account.clone(),
            stop_no: 1,
            held_fen: Fen::new(claim),
            claim_fen: Fen::new(claim),
            onward: Vec::new(),
            cashed_out_fen: Fen::ZERO,
            stopped_at_ms: now,
            expires_at_ms: now + 48 * 3_600_000,
            answered_in_ms: None,
            first_onward_hop: None,
            depth: None,
        };
        let envelope = Envelope::new(self.city.clone(), seq, now, Payload::Freezing(event));
        self.publish(&envelope.subject(), &envelope.id, events::encode(&envelope).unwrap()).await;
    }

    /// Publishes raw bytes to the city stream with a message id.
    pub async fn publish(&self, subject: &str, id: &str, bytes: Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        self.js.publish_with_headers(subject.to_owned(), headers, bytes.into()).await.unwrap().await.unwrap();
    }

    /// Subscribes to blocking's events as they are published.
    pub async fn watch(&self) -> Watch {
        let subject = subjects::service_events(&self.city, Service::Blocking);
        let subscription = self.client.subscribe(subject).await.unwrap();
        self.client.flush().await.unwrap();
        Watch { subscription, seen: Vec::new() }
    }

    /// Sends a blocking command and returns its `{"ok": …}` or `{"error": …}` body.
    pub async fn command(&self, verb: &str, body: serde_json::Value) -> serde_json::Value {
        let subject = subjects::command(&self.city, Service::Blocking, verb);
        let reply = tokio::time::timeout(BOUND, self.client.request(subject, to_json(&body).into()))
            .await
            .expect("blocking answers")
            .unwrap();
        serde_json::from_slice(&reply.payload).unwrap()
    }

    /// Sends the province's notice of `kind` to blocking, as the coordinator does, and returns
    /// its `{"ok": …}` or `{"error": …}` body. Asked again while nobody answers yet (blocking
    /// subscribes as it starts), as the coordinator asks until the city answers.
    pub async fn notice(&self, kind: &str, body: serde_json::Value) -> serde_json::Value {
        let subject = subjects::province_notice(&self.city, Service::Blocking, kind);
        let reply = tokio::time::timeout(BOUND, async {
            loop {
                match self.client.request(subject.clone(), to_json(&body).into()).await {
                    Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => continue,
                    answered => return answered.unwrap(),
                }
            }
        })
        .await
        .expect("blocking answers");
        serde_json::from_slice(&reply.payload).unwrap()
    }
}

/// Blocking, running.
pub struct Running {
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), ServiceError>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(BOUND, self.task).await.expect("blocking stops").unwrap().unwrap();
    }
}

/// Blocking's events as published (a re-sent event, same id, counted once).
pub struct Watch {
    subscription: async_nats::Subscriber,
    pub seen: Vec<BlockingEvent>,
}

impl Watch {
    /// Waits until `done` holds for the events seen so far; returns them.
    pub async fn until(&mut self, done: impl Fn(&[BlockingEvent]) -> bool) -> Vec<BlockingEvent> {
        let mut ids = std::collections::BTreeSet::new();
        tokio::time::timeout(BOUND, async {
            loop {
                if done(&self.seen) {
                    return self.seen.clone();
                }
                let message = self.subscription.next().await.expect("subscribed");
                let envelope = events::decode(&message.payload).unwrap();
                if let Payload::Blocking(event) = envelope.payload
                    && ids.insert(envelope.id)
                {
                    self.seen.push(event);
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the condition is not reached; seen {:#?}", self.seen))
    }
}

/// Holder records (`protocol::holder`'s JSON) the stub banks name, by account.
pub type Holders = Arc<Mutex<std::collections::BTreeMap<String, serde_json::Value>>>;

/// What the stub carriers and banks were asked: (subject, request id, target).
pub type Asked = Arc<Mutex<Vec<(String, String, String)>>>;

/// Carriers and banks that record every order and answer it, or stay silent while
/// `silent` is set (an order then times out at the adapter).
pub struct Counterparties {
    pub asked: Asked,
    pub silent: Arc<AtomicBool>,
    /// The holder record a bank names in its answer to `restrict`, by account.
    pub holders: Holders,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Counterparties {
    pub async fn start(client: &async_nats::Client) -> Counterparties {
        let asked: Asked = Arc::default();
        let silent = Arc::new(AtomicBool::new(false));
        let holders: Holders = Arc::default();
        let mut tasks = Vec::new();
        let mut subscriptions = Vec::new();
        for verb in carrier_verb::ALL {
            subscriptions.push(client.subscribe(subjects::any_carrier(verb)).await.unwrap());
        }
        for verb in [bank_verb::RESTRICT, bank_verb::UNRESTRICT] {
            subscriptions.push(client.subscribe(subjects::any_bank(verb)).await.unwrap());
        }
        client.flush().await.unwrap();
        for mut subscription in subscriptions {
            let (client, asked, silent, holders) = (client.clone(), asked.clone(), silent.clone(), holders.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(message) = subscription.next().await {
                    let Some(reply_to) = message.reply.clone() else { continue };
                    let subject = message.subject.to_string();
                    let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
                    let request_id = body["request_id"].as_str().unwrap_or_default().to_owned();
                    let answer = if subject.ends_with(carrier_verb::BLOCK) || subject.ends_with(carrier_verb::LIFT) {
                        let request: BlockRequest = serde_json::from_value(body).unwrap();
                        let target = request.identifier.to_string();
                        let blocked = subject.ends_with(carrier_verb::BLOCK);
                        let reply = BlockReply {
                            request_id: request.request_id,
                            identifier: request.identifier,
                            applied_at_ms: 1,
                            blocked,
                        };
                        (target, to_json(&Reply::<_, ()>::Ok(reply)))
                    } else if subject.contains(".carrier.") {
                        let request: RestrictRequest = serde_json::from_value(body).unwrap();
                        let reply = RestrictReply {
                            request_id: request.request_id,
                            restricted: request.channels.as_slice().to_vec(),
                            applied_at_ms: 1,
                        };
                        (request.subject.to_string(), to_json(&Reply::<_, ()>::Ok(reply)))
                    } else {
                        let account = body["account"].as_str().unwrap_or_default().to_owned();
                        let mut reply =
                            serde_json::json!({"request_id": request_id, "restricted": [], "applied_at_ms": 1});
                        let holder = holders.lock().unwrap().get(&account).cloned();
                        if let Some(holder) = holder.filter(|_| subject.ends_with(bank_verb::RESTRICT)) {
                            reply["holder"] = holder;
                        }
                        (account, to_json(&serde_json::json!({"ok": reply})))
                    };
                    asked.lock().unwrap().push((subject, request_id, answer.0));
                    if !silent.load(Ordering::SeqCst) {
                        let _ = client.publish(reply_to, answer.1.into()).await;
                    }
                }
            }));
        }
        Counterparties { asked, silent, holders, tasks }
    }

    /// The orders asked so far whose subject ends with `verb`.
    pub fn asked(&self, verb: &str) -> Vec<(String, String, String)> {
        self.asked.lock().unwrap().iter().filter(|(subject, _, _)| subject.ends_with(verb)).cloned().collect()
    }
}

impl Drop for Counterparties {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Contacts naming `phones` and `urls`.
pub fn contacts(phones: &[&str], urls: &[&str]) -> Contacts {
    Contacts {
        phones: phones.iter().map(|s| (*s).to_owned()).collect(),
        urls: urls.iter().map(|s| (*s).to_owned()).collect(),
        ..Contacts::default()
    }
}

pub fn count(events: &[BlockingEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.name() == kind).count()
}
