//! `/metrics`: a node's services in the Prometheus text exposition format (0.0.4), every
//! series labelled with its `city` and `service`.
//!
//! Written by hand: a dozen families read from the atomics the parts already keep
//! (`VerbStats`, `ConsumerStats`, `RelayStats`, the adapter clients' `AdapterErrors`, the
//! gauges a service keeps of its own state), where a metrics crate would want its own
//! registry and counters beside them. Rendering is one pass over the series; only the
//! outbox depth reads the stores (a count of the outbox table).

use std::fmt::Write;

use store::Seconds;

use crate::vitals::{Gauge, NodeVitals, Vitals};

pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The families, in the order shown: name, type, help.
const FAMILIES: [(&str, &str, &str); 16] = [
    ("afc_nats_connected", "gauge", "Whether the service's NATS connection is up (1) or not (0)."),
    ("afc_events_published_total", "counter", "Events JetStream stored from the outbox, by kind, each once."),
    ("afc_outbox_depth", "gauge", "Events committed to the service's stores and not yet confirmed by JetStream."),
    ("afc_relay_failures_total", "counter", "Outbox relay passes that failed to publish (each is retried)."),
    ("afc_consumer_attached", "gauge", "Whether the durable consumer is held and pulled from (1) or not (0)."),
    ("afc_consumer_pending", "gauge", "Messages the consumer had still to deliver at its last delivery (its lag)."),
    ("afc_consumer_redeliveries_total", "counter", "Messages handed to the consumer's handler more than once."),
    ("afc_dead_letters_total", "counter", "Messages the consumer moved to the service's dead-letter subject."),
    ("afc_command_requests_total", "counter", "Requests answered, by verb."),
    ("afc_command_errors_total", "counter", "Requests answered with an error, by verb."),
    ("afc_command_seconds", "histogram", "Time to answer a request, by verb."),
    ("afc_store_commit_seconds", "histogram", "Time of a store's durable commit (its fsync included)."),
    (
        "afc_time_to_freeze_seconds",
        "histogram",
        "A completed trace's time from the report to the last stop that held money.",
    ),
    (
        "afc_adapter_errors_total",
        "counter",
        "Calls to banks, platforms and carriers that failed after their retries, by party, verb and error kind.",
    ),
    ("afc_claims_at_risk", "gauge", "Claims not frozen yet whose stop-payment may lapse first (freeze_at_risk)."),
    ("afc_up", "gauge", "The node process is up."),
];

const CONNECTED: usize = 0;
const PUBLISHED: usize = 1;
const OUTBOX: usize = 2;
const RELAY_FAILURES: usize = 3;
const ATTACHED: usize = 4;
const PENDING: usize = 5;
const REDELIVERIES: usize = 6;
const DEAD_LETTERS: usize = 7;
const REQUESTS: usize = 8;
const ERRORS: usize = 9;
const SECONDS: usize = 10;
const COMMIT_SECONDS: usize = 11;
const TIME_TO_FREEZE: usize = 12;
const ADAPTER_ERRORS: usize = 13;
const CLAIMS_AT_RISK: usize = 14;
const UP: usize = 15;

/// The samples of each family, appended service by service, joined at the end so that each
/// family's samples stay together as the format requires.
struct Samples([String; FAMILIES.len()]);

impl Samples {
    fn add(&mut self, family: usize, suffix: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let out = &mut self.0[family];
        out.push_str(FAMILIES[family].0);
        out.push_str(suffix);
        if !labels.is_empty() {
            out.push('{');
            for (i, (name, label)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{name}=\"{}\"", escape(label));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {value}");
    }

    fn render(self) -> String {
        let mut text = String::new();
        for ((name, kind, help), samples) in FAMILIES.iter().zip(self.0) {
            if samples.is_empty() {
                continue;
            }
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
            text.push_str(&samples);
        }
        text
    }
}

/// A label value as the format quotes it.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
    } else {
        value.into()
    }
}

/// The node's metrics, every started service's.
pub(crate) async fn render(node: &NodeVitals) -> String {
    let mut samples = Samples(Default::default());
    let city = node.city.as_str();
    samples.add(UP, "", &[("city", city)], 1);
    for (_, slot) in node.services.iter() {
        if let Some(vitals) = slot.get() {
            service(&mut samples, city, vitals).await;
        }
    }
    samples.render()
}

async fn service(samples: &mut Samples, city: &str, vitals: &Vitals) {
    let service = vitals.service.as_str();
    let labels = [("city", city), ("service", service)];
    samples.add(CONNECTED, "", &labels, u8::from(vitals.connected()));
    let relays = vitals.relays();
    if !relays.is_empty() {
        let mut depth = 0;
        let mut failures = 0;
        let mut published = std::collections::BTreeMap::new();
        for (store, stats) in &relays {
            depth += store.outbox_len().await.unwrap_or(0);
            failures += stats.failures();
            for (kind, count) in stats.published() {
                *published.entry(kind).or_insert(0) += count;
            }
        }
        for (kind, count) in published {
            samples.add(PUBLISHED, "", &[("city", city), ("service", service), ("kind", kind)], count);
        }
        samples.add(OUTBOX, "", &labels, depth);
        samples.add(RELAY_FAILURES, "", &labels, failures);
        // Freezing's (the service that completes traces shows it from its start), from the
        // one of its relays that publishes its traces: one series a service.
        let traces = relays.iter().map(|(_, stats)| stats.time_to_freeze()).max_by_key(|time| time.count());
        if let Some(time) = traces.filter(|time| vitals.service == domain::Service::Freezing || time.count() > 0) {
            histogram(samples, TIME_TO_FREEZE, &labels, time);
        }
    }
    for (durable, stats) in vitals.consumers() {
        let labels = [("city", city), ("service", service), ("consumer", durable.as_str())];
        samples.add(ATTACHED, "", &labels, u8::from(stats.attached()));
        samples.add(PENDING, "", &labels, stats.pending());
        samples.add(REDELIVERIES, "", &labels, stats.redeliveries());
        samples.add(DEAD_LETTERS, "", &labels, stats.dead_letters());
    }
    for (on, endpoints) in vitals.verbs() {
        for endpoint in endpoints {
            let stats = &endpoint.stats;
            let labels = [("city", city), ("service", service), ("on", on), ("verb", endpoint.name)];
            samples.add(REQUESTS, "", &labels, stats.requests());
            samples.add(ERRORS, "", &labels, stats.errors());
            histogram(samples, SECONDS, &labels, stats.time());
        }
    }
    for (name, store) in vitals.stores() {
        let labels = [("city", city), ("service", service), ("store", name.as_str())];
        histogram(samples, COMMIT_SECONDS, &labels, store.commit_stats().seconds());
    }
    for (series, count) in vitals.adapter_errors.counts() {
        let labels = [
            ("city", city),
            ("service", service),
            ("adapter", series.adapter),
            ("party", series.party.as_str()),
            ("verb", series.verb),
            ("kind", series.kind),
        ];
        samples.add(ADAPTER_ERRORS, "", &labels, count);
    }
    for (gauge, handle) in vitals.gauges() {
        let family = match gauge {
            Gauge::ClaimsAtRisk => CLAIMS_AT_RISK,
        };
        samples.add(family, "", &labels, handle.get());
    }
}

fn borrowed<'a>(labels: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A histogram's samples: cumulative per bucket up to `+Inf` (= its count), its sum of
/// seconds and its count.
fn histogram(samples: &mut Samples, family: usize, labels: &[(&str, &str)], time: &Seconds) {
    let with_le = |le: &str| -> Vec<(&str, String)> {
        labels.iter().map(|(k, v)| (*k, (*v).to_owned())).chain([("le", le.to_owned())]).collect()
    };
    // The buckets before the count: a time observed meanwhile is then in the count at least
    // (it is counted before it is bucketed), and the buckets never pass `+Inf`.
    let buckets = time.buckets();
    let count = time.count().max(buckets.iter().sum());
    let mut cumulative = 0;
    for (bound, in_bucket) in time.bounds().iter().zip(buckets) {
        cumulative += in_bucket;
        samples.add(family, "_bucket", &borrowed(&with_le(&bound.to_string())), cumulative);
    }
    samples.add(family, "_bucket", &borrowed(&with_le("+Inf")), count);
    samples.add(family, "_sum", labels, time.total().as_secs_f64());
    samples.add(family, "_count", labels, count);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Grafana dashboard operators import (deploy/grafana).
    const DASHBOARD: &str = include_str!("../../../deploy/grafana/afc-city.json");

    #[test]
    fn the_dashboard_asks_only_for_series_a_node_serves() {
        let mut asked = 0;
        for (start, _) in DASHBOARD.match_indices("afc_") {
            let name: String =
                DASHBOARD[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let served = FAMILIES.iter().any(|(family, kind, _)| {
                name == *family
                    || (*kind == "histogram"
                        && ["_bucket", "_sum", "_count"].iter().any(|s| name == format!("{family}{s}")))
            });
            assert!(served, "the dashboard asks for {name}, which no node serves");
            asked += 1;
        }
        assert!(asked > 10, "the dashboard asks for the node's series");
    }

    #[tokio::test]
    async fn a_service_shows_its_failed_adapter_calls_by_series_and_its_gauges() {
        use adapters::AdapterErrorKind;
        use adapters::errors::Adapter;

        let server = testkit::NatsServer::single().await.unwrap();
        let client = async_nats::connect(server.url()).await.unwrap();
        let vitals = Vitals::new(domain::Service::Freezing, client);
        let at_risk = crate::GaugeHandle::default();
        vitals.gauges.lock().unwrap().push((Gauge::ClaimsAtRisk, at_risk.clone()));
        at_risk.set(3);
        vitals.adapter_errors.count(Adapter::Bank, "icbc", "freeze", &AdapterErrorKind::NoResponders);
        vitals.adapter_errors.count(Adapter::Bank, "icbc", "freeze", &AdapterErrorKind::NoResponders);
        let mut samples = Samples(Default::default());
        service(&mut samples, "huzhou", &vitals).await;
        let text = samples.render();
        let lines: Vec<&str> = text.lines().collect();
        let errors = r#"afc_adapter_errors_total{city="huzhou",service="freezing",adapter="bank",party="icbc",verb="freeze",kind="no_responders"} 2"#;
        assert!(lines.contains(&errors), "{text}");
        assert!(lines.contains(&"# TYPE afc_adapter_errors_total counter"), "{text}");
        assert!(lines.contains(&r#"afc_claims_at_risk{city="huzhou",service="freezing"} 3"#), "{text}");
        assert!(lines.contains(&"# TYPE afc_claims_at_risk gauge"), "{text}");
    }

    #[test]
    fn a_family_s_samples_stay_together_under_one_header_and_labels_are_quoted() {
        let mut samples = Samples(Default::default());
        samples.add(REQUESTS, "", &[("service", "intake"), ("verb", "show")], 2);
        samples.add(UP, "", &[("city", "huzhou")], 1);
        samples.add(REQUESTS, "", &[("service", "freezing"), ("verb", "a\"b\\c")], 0);
        assert_eq!(
            samples.render(),
            "# HELP afc_command_requests_total Requests answered, by verb.\n\
             # TYPE afc_command_requests_total counter\n\
             afc_command_requests_total{service=\"intake\",verb=\"show\"} 2\n\
             afc_command_requests_total{service=\"freezing\",verb=\"a\\\"b\\\\c\"} 0\n\
             # HELP afc_up The node process is up.\n\
             # TYPE afc_up gauge\n\
             afc_up{city=\"huzhou\"} 1\n"
        );
    }
}
