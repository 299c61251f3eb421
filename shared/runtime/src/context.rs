//! A running service: its parts and their supervision (see the crate documentation).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use adapters::Adapters;
use adapters::carrier::Carriers;
use async_nats::jetstream;
use std::sync::Arc;

use bus::changes::Touched;
use bus::consumer::{ConsumerSpec, ConsumerStats, HandleError, Redelivery, run_consumer_counted};
use bus::relay::RelayStats;
use domain::{City, Service, SharedClock};
use events::Envelope;
use events::province::kind;
use protocol::subjects;
use store::Store;
use tokio::sync::watch;
use tokio::task::{Id, JoinError, JoinSet};

use crate::discovery::{Endpoint, Instance};
use crate::limits::{RELAY_STOP_TIMEOUT, TEARDOWN_TIMEOUT};
use crate::router::Router;
use crate::vitals::{Gauge, GaugeHandle, Vitals};
use crate::{BoxError, Shutdown, error_chain, stopped};

/// Why a service stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A part of the service returned an error.
    #[error("{service}: {part} failed")]
    Failed {
        service: Service,
        part: String,
        #[source]
        source: BoxError,
    },
    /// A part that runs until shutdown ended before it.
    #[error("{service}: {part} ended before shutdown")]
    Ended { service: Service, part: String },
    /// A part panicked: a bug.
    #[error("{service}: {part} panicked: {message}")]
    Panicked { service: Service, part: String, message: String },
    /// The service could not start.
    #[error("{service}: could not {step}")]
    Start {
        service: Service,
        step: String,
        #[source]
        source: BoxError,
    },
}

/// A store's writer failed (the reason it gave).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailed(pub String);

/// What a part of a service is: a task that runs until told to stop and ends `Ok` then, or
/// ends with an error.
pub type Part = std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// Tasks of one kind and their names.
#[derive(Default)]
struct Parts {
    tasks: JoinSet<Result<(), BoxError>>,
    names: HashMap<Id, String>,
}

impl Parts {
    fn spawn(&mut self, name: String, part: Part) {
        let handle = self.tasks.spawn(part);
        self.names.insert(handle.id(), name);
    }

    /// The next part to end, with its name and outcome; `None` when none is left.
    async fn next(&mut self) -> Option<(String, Result<Result<(), BoxError>, JoinError>)> {
        let joined = self.tasks.join_next_with_id().await?;
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => error.id(),
        };
        let name = self.names.remove(&id).unwrap_or_else(|| "a part".into());
        Some((name, joined.map(|(_, outcome)| outcome)))
    }

    /// Waits (up to `timeout`) for every part to end; aborts those that do not. Returns the
    /// first failure seen.
    async fn stop(&mut self, service: Service, timeout: Duration) -> Option<ServiceError> {
        let mut first = None;
        let waited = tokio::time::timeout(timeout, async {
            while let Some((name, outcome)) = self.next().await {
                if let Some(error) = failure(service, name, outcome, true) {
                    tracing::error!(error = error_chain(&error), "failed while stopping");
                    first.get_or_insert(error);
                }
            }
        })
        .await;
        if waited.is_err() {
            let left: Vec<&String> = self.names.values().collect();
            tracing::warn!(%service, ?left, ?timeout, "parts did not stop in time; aborting them");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        first
    }
}

/// The error a part's end means: any error or panic, and ending before being told to stop.
fn failure(
    service: Service,
    part: String,
    outcome: Result<Result<(), BoxError>, JoinError>,
    told_to_stop: bool,
) -> Option<ServiceError> {
    match outcome {
        Ok(Ok(())) if told_to_stop => None,
        Ok(Ok(())) => Some(ServiceError::Ended { service, part }),
        Ok(Err(source)) => Some(ServiceError::Failed { service, part, source }),
        Err(error) if error.is_panic() => {
            Some(ServiceError::Panicked { service, part, message: panic_message(error.into_panic()) })
        }
        // Cancelled: only by an abort, which only the teardown does.
        Err(_) => None,
    }
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast::<&str>().map_or_else(|_| "unknown panic".into(), |m| (*m).to_owned()),
    }
}

/// One running service: where it is, what it is connected to, and its supervised parts.
pub struct Context {
    city: City,
    service: Service,
    client: async_nats::Client,
    js: jetstream::Context,
    clock: SharedClock,
    /// The node's shutdown.
    node_shutdown: Shutdown,
    /// Tells the parts (but the relays) to stop: on shutdown, or when a part failed.
    stop_parts: watch::Sender<bool>,
    /// Tells the relays to stop, once every other part has.
    stop_relays: watch::Sender<bool>,
    parts: Parts,
    relays: Parts,
    /// The store whose log the service produces from: it answers the province's `resend`.
    producer: Option<Store>,
    /// The service's answers to the province's notices, subscribed when it runs.
    province: Option<Router>,
    /// The verbs served, as discovery shows them.
    endpoints: Vec<Endpoint>,
    /// What the node's HTTP endpoints show of the service.
    vitals: Arc<Vitals>,
    /// The cases the service's events and folds changed, told every 500 ms at most
    /// (`bus::changes`).
    touched: Arc<Touched>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("city", &self.city).field("service", &self.service).finish()
    }
}

impl Context {
    /// A service of `city` on `client`, stopping when `shutdown` turns true.
    pub fn new(
        city: City,
        service: Service,
        client: async_nats::Client,
        clock: SharedClock,
        shutdown: Shutdown,
    ) -> Self {
        Context {
            city,
            service,
            js: jetstream::new(client.clone()),
            vitals: Arc::new(Vitals::new(service, client.clone())),
            client,
            clock,
            node_shutdown: shutdown,
            stop_parts: watch::channel(false).0,
            stop_relays: watch::channel(false).0,
            parts: Parts::default(),
            relays: Parts::default(),
            producer: None,
            province: None,
            endpoints: Vec::new(),
            touched: Arc::default(),
        }
    }

    pub fn city(&self) -> &City {
        &self.city
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// The service's own NATS connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// What the node's HTTP endpoints show of the service.
    pub(crate) fn vitals(&self) -> Arc<Vitals> {
        self.vitals.clone()
    }

    /// A client of banks and payment platforms on the service's connection, its failed
    /// calls counted in the node's metrics (`afc_adapter_errors_total`).
    pub fn adapters(&self) -> Adapters {
        Adapters::new(self.client.clone()).counting(self.vitals.adapter_errors.clone())
    }

    /// A client of the carriers, counted as [`Context::adapters`].
    pub fn carriers(&self) -> Carriers {
        Carriers::new(self.client.clone()).counting(self.vitals.adapter_errors.clone())
    }

    /// Where the service keeps `gauge` current, for the node's metrics (declared once).
    pub fn gauge(&mut self, gauge: Gauge) -> GaugeHandle {
        let mut gauges = self.vitals.gauges.lock().expect("never poisoned");
        assert!(gauges.iter().all(|(declared, _)| *declared != gauge), "{gauge:?} is declared once");
        let handle = GaugeHandle::default();
        gauges.push((gauge, handle.clone()));
        handle
    }

    /// Where the service notes a case whose state it changed other than by publishing an
    /// event or handling one (both are noted already): told to the staff console.
    pub fn touched(&self) -> Arc<Touched> {
        self.touched.clone()
    }

    /// The business clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The signal a part of the service watches to stop: shutdown, or another part failed.
    pub fn shutdown(&self) -> Shutdown {
        self.stop_parts.subscribe()
    }

    /// Finds the city's stream (creating it only where nobody provisioned it:
    /// [`bus::streams::city_stream`]) and runs `store`'s outbox relay. The relay stops after
    /// every other part, publishing what they committed.
    pub async fn start_producer(&mut self, store: &Store) -> Result<(), ServiceError> {
        bus::streams::city_stream(&self.js, &self.city).await.map_err(|e| ServiceError::Start {
            service: self.service,
            step: format!("find the stream {}", self.city.stream_name()),
            source: e.into(),
        })?;
        self.producer = Some(store.clone());
        let stats = Arc::new(RelayStats::noting(self.touched.clone()));
        self.vitals.relays.lock().expect("never poisoned").push((store.clone(), stats.clone()));
        let (js, store, stop) = (self.js.clone(), store.clone(), self.stop_relays.subscribe());
        let relay = async move { bus::relay::run_relay_counted(js, store, &stats, stop).await };
        self.relays.spawn("outbox relay".into(), Box::pin(async move { Ok(relay.await?) }));
        Ok(())
    }

    /// Stops the service when `store` fails: a store that failed takes no more writes, so a
    /// service going on without it would be up but doing nothing. (The node watches every
    /// store it opens for a service.)
    pub fn watch_store(&mut self, name: &str, store: &Store) {
        self.vitals.stores.lock().expect("never poisoned").push((name.to_owned(), store.clone()));
        let (store, mut shutdown) = (store.clone(), self.shutdown());
        self.spawn(format!("store {name}"), async move {
            tokio::select! {
                reason = store.failed() => Err(StoreFailed(reason)),
                () = stopped(&mut shutdown) => Ok(()),
            }
        });
    }

    /// Removes `store`'s inbox rows that JetStream can no longer redeliver, now and then.
    pub fn prune_inbox(&mut self, store: &Store) {
        let pruner = bus::inbox::run_pruner(store.clone(), self.clock.clone(), self.shutdown());
        self.spawn("inbox pruner", pruner);
    }

    /// Consumes the city stream's messages matching `filter` with the durable consumer
    /// `durable`, handing each event to `handler` (see `bus::consumer`).
    pub fn consume<H, Fut>(&mut self, durable: &str, filter: String, handler: H)
    where
        H: Fn(Envelope) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
    {
        self.consume_with(durable, filter, Redelivery::default(), handler);
    }

    /// [`Context::consume`] with redelivery settings of its own (tests shorten them).
    pub fn consume_with<H, Fut>(&mut self, durable: &str, filter: String, redelivery: Redelivery, handler: H)
    where
        H: Fn(Envelope) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
    {
        let spec = ConsumerSpec {
            city: self.city.clone(),
            durable: durable.to_owned(),
            service: self.service,
            filter,
            redelivery,
        };
        // What the handler committed changed its event's case here: told to the console.
        let touched = self.touched.clone();
        let handler = move |envelope: Envelope| {
            let (case, touched) = (envelope.correlation.clone(), touched.clone());
            let handled = handler(envelope);
            async move {
                let outcome = handled.await;
                if outcome.is_ok() {
                    touched.note(case.as_ref());
                }
                outcome
            }
        };
        let stats = Arc::new(ConsumerStats::default());
        self.vitals.consumers.lock().expect("never poisoned").push((durable.to_owned(), stats.clone()));
        let consumer = run_consumer_counted(self.js.clone(), spec, stats, handler, self.shutdown());
        self.spawn(format!("consumer {durable}"), consumer);
    }

    /// Answers the service's commands (`afc.<city>.cmd.<service>.<verb>`) with `router`.
    pub async fn serve(&mut self, router: Router) -> Result<(), ServiceError> {
        let subject = subjects::service_commands(&self.city, self.service);
        self.serve_on(router, subject, "commands").await
    }

    /// Answers the province coordinator's notices to the service
    /// (`afc.<city>.province.<service>.<kind>`, `events::province`) with `router`, one verb
    /// per kind. Only the hub can send them. Subscribed when the service runs, with the
    /// `resend` every producing service answers from its log ([`Context::start_producer`]).
    pub async fn serve_province(&mut self, router: Router) -> Result<(), ServiceError> {
        assert!(self.province.is_none(), "the province's notices are served once");
        self.province = Some(router);
        Ok(())
    }

    /// Subscribes the province's notices: the service's router, and `resend` when it produces.
    async fn serve_province_notices(&mut self) -> Result<(), ServiceError> {
        let router = match (self.province.take(), self.producer.clone()) {
            (router, Some(store)) => router.unwrap_or_default().verb(kind::RESEND, move |body: bytes::Bytes| {
                let store = store.clone();
                async move { crate::resend::answer(store, &body).await }
            }),
            (Some(router), None) => router,
            (None, None) => return Ok(()),
        };
        let subject = subjects::province_notices(&self.city, self.service);
        self.serve_on(router, subject, "province notices").await
    }

    async fn serve_on(&mut self, router: Router, subject: String, what: &'static str) -> Result<(), ServiceError> {
        let endpoints = Endpoint::of(&router, &subject, self.service);
        let group = if what == "commands" { "commands" } else { "province" };
        self.vitals.verbs.lock().expect("never poisoned").push((group, endpoints.clone()));
        self.endpoints.extend(endpoints);
        let serving = router.subscribe(&self.client, &self.city, self.service, subject).await.map_err(|source| {
            ServiceError::Start { service: self.service, step: format!("subscribe to its {what}"), source }
        })?;
        let shutdown = self.shutdown();
        self.spawn(format!("{what} router"), async move { serving.run(shutdown).await });
        Ok(())
    }

    /// Runs a part of the service's own (an engine, a timer loop). It must watch
    /// [`Context::shutdown`] and end `Ok` then; ending earlier stops the service.
    pub fn spawn<E>(&mut self, name: impl Into<String>, part: impl Future<Output = Result<(), E>> + Send + 'static)
    where
        E: Into<BoxError>,
    {
        self.parts.spawn(name.into(), Box::pin(async move { part.await.map_err(Into::into) }));
    }

    /// Supervises the parts until shutdown or the first failure, then stops them all (the
    /// relays last). Returns the first failure.
    pub async fn run(mut self) -> Result<(), ServiceError> {
        let service = self.service;
        if let Err(error) = self.serve_province_notices().await {
            let _ = self.stop_parts.send(true);
            let _ = self.parts.stop(service, TEARDOWN_TIMEOUT).await;
            let _ = self.stop_relays.send(true);
            let _ = self.relays.stop(service, RELAY_STOP_TIMEOUT).await;
            return Err(error);
        }
        let instance = Instance::new(&self.city, self.service);
        let (client, endpoints, shutdown) = (self.client.clone(), std::mem::take(&mut self.endpoints), self.shutdown());
        self.spawn("discovery", crate::discovery::serve(client.clone(), instance, endpoints, shutdown));
        let telling = bus::changes::tell(client, self.city.clone(), service, self.touched.clone(), self.shutdown());
        self.spawn("changes", telling);
        self.vitals.set_running(true);
        let mut node_shutdown = self.node_shutdown.clone();
        let mut first = loop {
            tokio::select! {
                () = stopped(&mut node_shutdown) => break None,
                Some((name, outcome)) = self.parts.next() => {
                    if let Some(error) = failure(service, name, outcome, false) {
                        break Some(error);
                    }
                }
                Some((name, outcome)) = self.relays.next() => {
                    if let Some(error) = failure(service, name, outcome, false) {
                        break Some(error);
                    }
                }
            }
        };
        match &first {
            Some(error) => tracing::error!(error = error_chain(error), "stopping the service"),
            None => tracing::info!(%service, "shutting down"),
        }
        self.vitals.set_running(false);
        let _ = self.stop_parts.send(true);
        let stopping = self.parts.stop(service, TEARDOWN_TIMEOUT).await;
        first = first.or(stopping);
        let _ = self.stop_relays.send(true);
        let stopping = self.relays.stop(service, RELAY_STOP_TIMEOUT).await;
        first.or(stopping).map_or(Ok(()), Err)
    }
}
