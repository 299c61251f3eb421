//! What a node's HTTP endpoints read of its services (`/readyz`, `/metrics`): each running
//! service's NATS connection, consumers, relays and verbs, registered by its [`Context`] as
//! it declares them. The parts count with atomics; the lists are locked only when a part is
//! declared and when an endpoint is asked.
//!
//! [`Context`]: crate::Context

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use adapters::errors::AdapterErrors;
use async_nats::connection::State;
use bus::consumer::ConsumerStats;
use bus::relay::RelayStats;
use domain::{City, Service};
use store::Store;

use crate::discovery::Endpoint;
use crate::limits::OUTBOX_STALL;

/// One service's parts, as its endpoints show them.
pub(crate) struct Vitals {
    pub(crate) service: Service,
    pub(crate) client: async_nats::Client,
    /// Whether the service's parts run (from [`crate::Context::run`] to its end).
    running: AtomicBool,
    pub(crate) consumers: Mutex<Vec<(String, Arc<ConsumerStats>)>>,
    pub(crate) relays: Mutex<Vec<(Store, Arc<RelayStats>)>>,
    /// The service's stores, by name.
    pub(crate) stores: Mutex<Vec<(String, Store)>>,
    /// The verbs served, by what they answer (`commands`, `province`).
    pub(crate) verbs: Mutex<Vec<(&'static str, Vec<Endpoint>)>>,
    /// The service's adapter calls that failed for good, shared by its adapter clients.
    pub(crate) adapter_errors: Arc<AdapterErrors>,
    /// Figures of the service's own state it keeps current ([`crate::Context::gauge`]).
    pub(crate) gauges: Mutex<Vec<(Gauge, GaugeHandle)>>,
}

/// A figure of a service's own state, shown as a gauge of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    /// Freezing: claims not frozen yet whose stop may lapse first (`freeze_at_risk` raised
    /// under the stop in force).
    ClaimsAtRisk,
}

/// Where a service keeps one [`Gauge`] current: it sets it, the metrics read it.
#[derive(Debug, Clone, Default)]
pub struct GaugeHandle(Arc<AtomicU64>);

impl GaugeHandle {
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Vitals {
    pub(crate) fn new(service: Service, client: async_nats::Client) -> Vitals {
        Vitals {
            service,
            client,
            running: AtomicBool::new(false),
            consumers: Mutex::default(),
            relays: Mutex::default(),
            stores: Mutex::default(),
            verbs: Mutex::default(),
            adapter_errors: Arc::default(),
            gauges: Mutex::default(),
        }
    }

    pub(crate) fn gauges(&self) -> Vec<(Gauge, GaugeHandle)> {
        self.gauges.lock().expect("never poisoned").clone()
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    pub(crate) fn consumers(&self) -> Vec<(String, Arc<ConsumerStats>)> {
        self.consumers.lock().expect("never poisoned").clone()
    }

    pub(crate) fn relays(&self) -> Vec<(Store, Arc<RelayStats>)> {
        self.relays.lock().expect("never poisoned").clone()
    }

    pub(crate) fn stores(&self) -> Vec<(String, Store)> {
        self.stores.lock().expect("never poisoned").clone()
    }

    pub(crate) fn verbs(&self) -> Vec<(&'static str, Vec<Endpoint>)> {
        self.verbs.lock().expect("never poisoned").clone()
    }

    pub(crate) fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// What keeps the service from being ready, one line each; empty when it is ready.
    pub(crate) async fn not_ready(&self) -> Vec<String> {
        let service = self.service;
        let mut lines = Vec::new();
        if !self.running.load(Ordering::Relaxed) {
            lines.push(format!("{service}: not running"));
        }
        match self.client.connection_state() {
            State::Connected => {}
            State::Pending => lines.push(format!("{service}: NATS connecting")),
            State::Disconnected => lines.push(format!("{service}: NATS disconnected")),
        }
        for (durable, stats) in self.consumers() {
            if !stats.attached() {
                lines.push(format!("{service}: consumer {durable} not attached"));
            }
        }
        for (store, stats) in self.relays() {
            if let Some(failing) = stats.failing_for() {
                lines.push(format!("{service}: outbox relay failing for {} s", failing.as_secs()));
                continue;
            }
            // Stalled: events wait, and no pass succeeded for a while.
            let stalled = stats.since_success().is_none_or(|since| since > OUTBOX_STALL);
            if stalled {
                match store.outbox_len().await {
                    Ok(0) => {}
                    Ok(depth) => lines.push(format!("{service}: outbox not draining ({depth} events waiting)")),
                    Err(_) => lines.push(format!("{service}: outbox unreadable")),
                }
            }
        }
        lines
    }
}

/// The services of a node, named before they start (a service not yet started is not
/// ready).
#[derive(Clone)]
pub(crate) struct NodeVitals {
    pub(crate) city: City,
    pub(crate) services: Arc<Vec<(Service, OnceLock<Arc<Vitals>>)>>,
}

impl NodeVitals {
    pub(crate) fn new(city: City, services: &[Service]) -> NodeVitals {
        NodeVitals { city, services: Arc::new(services.iter().map(|s| (*s, OnceLock::new())).collect()) }
    }

    /// Shows `vitals` as its service's.
    pub(crate) fn started(&self, vitals: Arc<Vitals>) {
        if let Some((_, slot)) = self.services.iter().find(|(service, _)| *service == vitals.service) {
            let _ = slot.set(vitals);
        }
    }

    /// What keeps the node from being ready, one line each, by service.
    pub(crate) async fn not_ready(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (service, slot) in self.services.iter() {
            match slot.get() {
                None => lines.push(format!("{service}: not started")),
                Some(vitals) => lines.extend(vitals.not_ready().await),
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_names_each_consumer_it_does_not_hold_and_a_node_each_service_not_started() {
        let server = testkit::NatsServer::single().await.unwrap();
        let client = async_nats::connect(server.url()).await.unwrap();
        let vitals = Arc::new(Vitals::new(Service::Freezing, client));
        vitals.consumers.lock().unwrap().push(("freezing-intake".into(), Arc::default()));
        assert_eq!(
            vitals.not_ready().await,
            ["freezing: not running", "freezing: consumer freezing-intake not attached"]
        );
        vitals.set_running(true);
        assert_eq!(vitals.not_ready().await, ["freezing: consumer freezing-intake not attached"]);

        let node = NodeVitals::new(City::parse("huzhou").unwrap(), &[Service::Intake, Service::Freezing]);
        node.started(vitals);
        assert_eq!(node.not_ready().await, ["intake: not started", "freezing: consumer freezing-intake not attached"]);
    }
}
