//! Discovery: every running service answers the NATS micro protocol (`$SRV.PING`,
//! `$SRV.INFO`, `$SRV.STATS`, each also per service name and per instance), so an
//! operator's standard tooling (`nats micro ls`, `nats micro info intake`) lists the
//! services of a node with their version, city, endpoints (one per verb of the commands and
//! of the province's notices) and each endpoint's requests, errors and processing time.
//!
//! Written here rather than through `async_nats::service`, whose endpoints would take the
//! requests off the service's own router; the answers are that module's types, so they are
//! what the tooling reads. An answer holds counts and names only: no request's content, no
//! error's text (an error may quote a field a victim filled in).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::service::{Info, PingResponse, Stats, endpoint};
use domain::{City, Service};
use futures::StreamExt;
use protocol::subjects::{self, micro_verb};
use rand::Rng;
use rand::distr::Alphanumeric;
use store::Seconds;

use crate::{BoxError, Shutdown, stopped};

/// Characters of an instance's id (as the NATS clients' NUIDs).
const INSTANCE_ID_CHARS: usize = 22;

/// The upper bounds of the buckets of a verb's processing times (`/metrics`), in seconds:
/// from a read answered from memory to a report waiting on a slow disk.
pub(crate) const SECONDS_BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// What one verb answered since the service started.
#[derive(Debug)]
pub(crate) struct VerbStats {
    errors: AtomicU64,
    /// The answers' times (their count is the requests').
    time: Seconds,
}

impl Default for VerbStats {
    fn default() -> Self {
        VerbStats { errors: AtomicU64::new(0), time: Seconds::new(&SECONDS_BUCKETS) }
    }
}

impl VerbStats {
    /// One request answered after `took`, with an error or not.
    pub(crate) fn record(&self, took: Duration, failed: bool) {
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.time.record(took);
    }

    pub(crate) fn requests(&self) -> u64 {
        self.time.count()
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The answers' times.
    pub(crate) fn time(&self) -> &Seconds {
        &self.time
    }
}

/// One verb as the micro protocol shows it: an endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) name: &'static str,
    pub(crate) subject: String,
    pub(crate) queue_group: String,
    pub(crate) stats: Arc<VerbStats>,
}

impl Endpoint {
    /// The endpoints of a router subscribed on `pattern` (`….*`): one per verb.
    pub(crate) fn of(router: &crate::Router, pattern: &str, service: Service) -> Vec<Endpoint> {
        let prefix = pattern.trim_end_matches('*');
        router
            .stats()
            .into_iter()
            .map(|(verb, stats)| Endpoint {
                name: verb,
                subject: format!("{prefix}{verb}"),
                queue_group: service.as_str().to_owned(),
                stats,
            })
            .collect()
    }

    fn info(&self) -> endpoint::Info {
        endpoint::Info {
            name: self.name.to_owned(),
            subject: self.subject.clone(),
            queue_group: self.queue_group.clone(),
            metadata: HashMap::new(),
        }
    }

    fn stats(&self) -> endpoint::Stats {
        let requests = self.stats.requests();
        let processing_ns = u64::try_from(self.stats.time.total().as_nanos()).unwrap_or(u64::MAX);
        endpoint::Stats {
            name: self.name.to_owned(),
            subject: self.subject.clone(),
            requests: usize::try_from(requests).unwrap_or(usize::MAX),
            errors: usize::try_from(self.stats.errors()).unwrap_or(usize::MAX),
            processing_time: Duration::from_nanos(processing_ns),
            average_processing_time: Duration::from_nanos(processing_ns.checked_div(requests).unwrap_or(0)),
            last_error: None,
            data: None,
            queue_group: self.queue_group.clone(),
        }
    }
}

/// One running service as the micro protocol names it.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    name: String,
    id: String,
    city: City,
    started: time::OffsetDateTime,
}

impl Instance {
    /// `service` of `city`, with a fresh random id.
    pub(crate) fn new(city: &City, service: Service) -> Instance {
        let id: String = rand::rng().sample_iter(Alphanumeric).take(INSTANCE_ID_CHARS).map(char::from).collect();
        Instance { name: service.as_str().to_owned(), id, city: city.clone(), started: time::OffsetDateTime::now_utc() }
    }

    fn metadata(&self) -> HashMap<String, String> {
        HashMap::from([("city".to_owned(), self.city.to_string())])
    }

    /// The answer to `verb` (`PING`, `INFO` or `STATS`); `None` for another.
    fn answer(&self, verb: &str, endpoints: &[Endpoint]) -> Option<Vec<u8>> {
        let version = env!("CARGO_PKG_VERSION").to_owned();
        let (name, id) = (self.name.clone(), self.id.clone());
        let json = match verb {
            micro_verb::PING => serde_json::to_vec(&PingResponse {
                kind: "io.nats.micro.v1.ping_response".to_owned(),
                name,
                id,
                version,
                metadata: self.metadata(),
            }),
            micro_verb::INFO => serde_json::to_vec(&Info {
                kind: "io.nats.micro.v1.info_response".to_owned(),
                description: format!("afc {} of {}", self.name, self.city),
                name,
                id,
                version,
                metadata: self.metadata(),
                endpoints: endpoints.iter().map(Endpoint::info).collect(),
            }),
            micro_verb::STATS => serde_json::to_vec(&Stats {
                kind: "io.nats.micro.v1.stats_response".to_owned(),
                name,
                id,
                version,
                started: self.started,
                endpoints: endpoints.iter().map(Endpoint::stats).collect(),
            }),
            _ => return None,
        };
        Some(json.expect("the micro protocol's answers serialize"))
    }
}

/// Answers the discovery requests for `instance` until shutdown.
pub(crate) async fn serve(
    client: async_nats::Client,
    instance: Instance,
    endpoints: Vec<Endpoint>,
    mut shutdown: Shutdown,
) -> Result<(), BoxError> {
    let mut subscriptions = Vec::new();
    for verb in micro_verb::ALL {
        for subject in [
            subjects::micro(verb, None, None),
            subjects::micro(verb, Some(&instance.name), None),
            subjects::micro(verb, Some(&instance.name), Some(&instance.id)),
        ] {
            subscriptions.push(client.subscribe(subject).await?);
        }
    }
    let mut requests = futures::stream::select_all(subscriptions);
    loop {
        let request = tokio::select! {
            () = stopped(&mut shutdown) => return Ok(()),
            request = requests.next() => request.ok_or("the discovery subscriptions ended")?,
        };
        let Some(reply) = request.reply else { continue };
        // `$SRV.<verb>…`: the verb is the second token.
        let verb = request.subject.as_str().split('.').nth(1).unwrap_or_default();
        if let Some(answer) = instance.answer(verb, &endpoints)
            && let Err(error) = client.publish(reply, answer.into()).await
        {
            tracing::debug!(%error, "a discovery answer was not sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_requests_errors_and_the_average_time() {
        let stats = Arc::new(VerbStats::default());
        stats.record(Duration::from_millis(2), false);
        stats.record(Duration::from_millis(4), true);
        let endpoint = Endpoint {
            name: "show",
            subject: subjects::command(&City::parse("hangzhou").unwrap(), Service::Intake, "show"),
            queue_group: "intake".into(),
            stats,
        };
        let shown = endpoint.stats();
        assert_eq!((shown.requests, shown.errors), (2, 1));
        let mut buckets = vec![0; SECONDS_BUCKETS.len()];
        buckets[SECONDS_BUCKETS.iter().position(|b| *b == 0.0025).unwrap()] = 1;
        buckets[SECONDS_BUCKETS.iter().position(|b| *b == 0.005).unwrap()] = 1;
        assert_eq!(endpoint.stats.time().buckets(), buckets, "2 ms and 4 ms, each in the first bucket it fits");
        assert_eq!(
            (shown.processing_time, shown.average_processing_time),
            (Duration::from_millis(6), Duration::from_millis(3))
        );
        let idle = Endpoint { stats: Arc::default(), ..endpoint }.stats();
        assert_eq!((idle.requests, idle.average_processing_time), (0, Duration::ZERO));
    }

    #[test]
    fn an_instance_answers_the_three_verbs_in_the_protocol_s_types_and_nothing_else() {
        let instance = Instance::new(&City::parse("hangzhou").unwrap(), Service::Intake);
        assert_eq!(instance.id.len(), INSTANCE_ID_CHARS);
        let ping: PingResponse = serde_json::from_slice(&instance.answer("PING", &[]).unwrap()).unwrap();
        assert_eq!((ping.kind.as_str(), ping.name.as_str()), ("io.nats.micro.v1.ping_response", "intake"));
        assert_eq!(ping.metadata.get("city").map(String::as_str), Some("hangzhou"));
        let info: Info = serde_json::from_slice(&instance.answer("INFO", &[]).unwrap()).unwrap();
        assert_eq!(info.id, instance.id);
        let stats: Stats = serde_json::from_slice(&instance.answer("STATS", &[]).unwrap()).unwrap();
        assert_eq!(stats.kind, "io.nats.micro.v1.stats_response");
        assert_eq!(instance.answer("KILL", &[]), None);
    }
}
