//! `afc-lab load --signals RATE`: carriers' contact signals published beside the cases, for
//! dissuasion to consume while freezing is measured (issue 15: freezing's p99 at 400 cases/s
//! with dissuasion at 10,000 signals/s).
//!
//! - **Open loop.** Signal `i` is due at `start + i / RATE` (the cases' schedule start: from
//!   the warm-up's start to the end of the measured window), RATE for the whole deployment,
//!   round robin over its cities. Each is published to JetStream (`Nats-Msg-Id` its
//!   `source/signal_id`) and its acknowledgement awaited asynchronously; at most
//!   [`MAX_SIGNALS_IN_FLIGHT`] are unacknowledged at once, beyond which the publisher waits
//!   and sends late (its lateness is reported). What is still unsent [`SEND_GRACE`] after the
//!   window's end is counted, never sent.
//! - **As the carriers send them.** Each signal goes out on a connection of its carrier at its
//!   city: in a secured deployment the carrier's gateway identity (`<city>-carrier-<carrier>`,
//!   allowed to publish `afc.<city>.sig.<carrier>` only), in an insecure one an anonymous
//!   connection per carrier alike. What they say: [`super::signal_content`].
//! - **On a thread of its own** ([`PUBLISHER_THREAD`], a current-thread runtime with the
//!   publishers' connections): the lab's cost of sending the signals (a carrier's in a real
//!   center) shows apart in the point's CPU.
//! - **Did dissuasion keep up?** At the window's end, the backlog of its durable
//!   ([`dissuasion::shell::SIGNAL_CONSUMER`]) on each city's signal stream (`num_pending` +
//!   `num_ack_pending`, read as the city's provisioner); it kept up when the backlog is under
//!   one second of signals. Beside it, the backlog of its consumers of the city's events
//!   (intake's reported cases, blocking's blocks), which its engine takes before any signal.
//!   Then, once the publisher is done, how long the signal backlog took to reach 0 (at most
//!   [`SIGNAL_DRAIN_TIMEOUT`]). And the tasks it opened (its `task_opened` events, heard as
//!   the city's observer).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use async_nats::{HeaderMap, Subject};
use domain::{Carrier, City, Service, TimeMs};
use events::{DissuasionEvent, Payload};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::signal_content::{SignalContent, SignalKind};
use super::streams::consumer_backlog;
use crate::harness::limits::{HISTOGRAM_MAX, HISTOGRAM_SIGFIG};
use crate::harness::recorder::millis;
use crate::harness::{Percentiles, Schedule, Window};
use crate::secured::Connector;
use crate::targets::{MAX_SIGNALS_IN_FLIGHT, SIGNAL_DRAIN_TIMEOUT};

/// The name of the publisher's thread (its CPU is reported apart).
pub const PUBLISHER_THREAD: &str = "lab-signals";

/// How long a publish waits for the signal stream's acknowledgement before it counts as
/// failed.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How late after the window's end a signal due in it is still sent: the timer wakes the
/// publisher on whole milliseconds, so the last ones due go a little after it.
pub const SEND_GRACE: Duration = Duration::from_millis(100);

/// How often the consumer's backlog is read while it drains.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// What `--signals` did over a point.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SignalLoad {
    /// Signals per second the schedule offered (the whole deployment's).
    pub offered_per_s: f64,
    /// Signals due from the warm-up's start to the end of the measured window.
    pub scheduled: u64,
    /// Signals the signal streams acknowledged.
    pub published: u64,
    /// Publishes that failed or were not acknowledged within [`ACK_TIMEOUT`].
    pub failed: u64,
    /// The first failure, if any.
    pub first_failure: Option<String>,
    /// Signals still unsent when the measured window ended (the publisher fell behind).
    pub not_sent: u64,
    /// Acknowledgements received in the measured window, per second: the rate achieved.
    pub achieved_per_s: f64,
    /// Send lateness (sent − due) of the signals due in the measured window, µs.
    pub lateness_us: Percentiles,
    /// Signals sent naming an identifier of the load's reports (they match once it is known).
    pub matching: u64,
    /// Transfer-instruction signals sent.
    pub transfers: u64,
    /// Per city at the measured window's end: dissuasion's signals not yet delivered or not
    /// yet acknowledged. Empty when it could not be read.
    pub pending_at_end: Vec<(String, u64)>,
    /// Whether dissuasion kept up: the backlog at the window's end was read and under one
    /// second of signals.
    pub kept_up: bool,
    /// Signals dissuasion acknowledged in the measured window, per second (its consumers' ack
    /// floors at the window's start and end); `None` when they could not be read.
    #[serde(default)]
    pub consumed_per_s: Option<f64>,
    /// Per city at the measured window's end: the backlog of dissuasion's consumers of the
    /// city's events, (intake's reported cases, blocking's events); its engine takes them
    /// before signals. Empty when it could not be read.
    #[serde(default)]
    pub events_pending_at_end: Vec<(String, u64, u64)>,
    /// From the window's end until nothing was pending any more (read once the publisher was
    /// done), ms; `None`: still pending after [`SIGNAL_DRAIN_TIMEOUT`].
    pub drained_after_ms: Option<u64>,
    /// Tasks dissuasion opened (its `task_opened` events heard) from the start to the drain.
    pub tasks_opened: u64,
}

impl SignalLoad {
    /// Signals pending at the window's end, over every city.
    pub fn pending_total(&self) -> u64 {
        self.pending_at_end.iter().map(|(_, n)| n).sum()
    }
}

/// When the signals go: the schedule (from the cases' start), its start on the system clock
/// (ms), and the measured window.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub schedule: Schedule,
    pub start_ms: TimeMs,
    pub window: Window,
}

/// The publisher's counts.
#[derive(Debug, Default)]
struct Published {
    scheduled: u64,
    acked: u64,
    acked_in_window: u64,
    failed: u64,
    first_failure: Option<String>,
    not_sent: u64,
    matching: u64,
    transfers: u64,
    lateness_us: Percentiles,
}

impl Published {
    fn fail(&mut self, error: String) {
        self.failed += 1;
        if self.first_failure.is_none() {
            tracing::warn!(error, "a signal publish failed");
            self.first_failure = Some(error);
        }
    }

    fn acked(&mut self, (outcome, at): (Result<(), String>, Instant), window: &Window) {
        match outcome {
            Ok(()) => {
                self.acked += 1;
                self.acked_in_window += u64::from(window.contains(at));
            }
            Err(error) => self.fail(error),
        }
    }
}

/// The signals of a point, ready to go: the publishers connected on their thread, the
/// connections that read dissuasion's backlog and hear its tasks.
pub struct SignalRun {
    cities: Vec<City>,
    rate_per_s: f64,
    plan_tx: oneshot::Sender<Plan>,
    done_rx: oneshot::Receiver<Published>,
    admins: Vec<(City, jetstream::Context)>,
    observers: Vec<async_nats::Client>,
}

impl SignalRun {
    /// Connects everything the signals of a point need: each city's carriers on the
    /// publisher's thread (their gateway identities when secured), each city's provisioner
    /// and observer. Returns once they are connected; nothing is sent before [`Self::run`].
    pub async fn connect(
        connector: &Connector,
        cities: &[City],
        content: SignalContent,
        rate_per_s: f64,
    ) -> anyhow::Result<SignalRun> {
        let mut admins = Vec::with_capacity(cities.len());
        let mut observers = Vec::with_capacity(cities.len());
        for city in cities {
            admins.push((city.clone(), jetstream::new(connector.city_admin(city).await?)));
            observers.push(connector.city(city).await?);
        }
        let (ready_tx, ready_rx) = oneshot::channel();
        let (plan_tx, plan_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let (connector, thread_cities) = (connector.clone(), cities.to_vec());
        std::thread::Builder::new()
            .name(PUBLISHER_THREAD.into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(anyhow::Error::from(error).context("the publisher's runtime")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let publishers = match Publishers::connect(&connector, &thread_cities).await {
                        Ok(publishers) => {
                            let _ = ready_tx.send(Ok(()));
                            publishers
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return;
                        }
                    };
                    // The point dropped its run before starting it: nothing to send.
                    let Ok(plan) = plan_rx.await else { return };
                    let _ = done_tx.send(publishers.publish(plan, content).await);
                });
            })
            .context("starting the signal publisher's thread")?;
        ready_rx.await.context("the signal publisher's thread ended")??;
        Ok(SignalRun { cities: cities.to_vec(), rate_per_s, plan_tx, done_rx, admins, observers })
    }

    /// Publishes the signals per `plan` and watches dissuasion take them (see the module's
    /// doc). Returns after the backlog drained or [`SIGNAL_DRAIN_TIMEOUT`] passed.
    pub async fn run(self, plan: Plan) -> anyhow::Result<SignalLoad> {
        let SignalRun { cities, rate_per_s, plan_tx, done_rx, admins, observers } = self;
        let (tasks_opened, counter) = count_tasks_opened(&cities, &observers).await?;
        plan_tx.send(plan).map_err(|_| anyhow::anyhow!("the signal publisher's thread ended before the start"))?;

        let read = |admins| async move {
            backlog(admins)
                .await
                .inspect_err(|error| {
                    tracing::warn!(error = format!("{error:#}"), "reading dissuasion's signal backlog failed");
                })
                .ok()
        };
        tokio::time::sleep_until(plan.window.start).await;
        let at_start = read(&admins).await;
        tokio::time::sleep_until(plan.window.end).await;
        let at_end = read(&admins).await;
        let length = plan.window.length().as_secs_f64();
        let consumed_per_s = match (&at_start, &at_end) {
            (Some(start), Some(end)) if length > 0.0 => {
                let acked = |state: &[Backlog]| state.iter().map(|b| b.acked).sum::<u64>();
                Some(acked(end).saturating_sub(acked(start)) as f64 / length)
            }
            _ => None,
        };
        let pending_at_end: Vec<(String, u64)> =
            at_end.unwrap_or_default().into_iter().map(|b| (b.city, b.pending)).collect();
        let events_pending_at_end = match events_backlog(&admins).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "reading dissuasion's event backlog failed");
                Vec::new()
            }
        };
        let published = done_rx.await.context("the signal publisher's thread ended before its signals")?;
        let drained_after_ms = drain(&admins, plan.window.end).await;
        counter.abort();

        let total: u64 = pending_at_end.iter().map(|(_, n)| n).sum();
        let kept_up = !pending_at_end.is_empty() && (total as f64) < rate_per_s;
        Ok(SignalLoad {
            offered_per_s: rate_per_s,
            scheduled: published.scheduled,
            published: published.acked,
            failed: published.failed,
            first_failure: published.first_failure,
            not_sent: published.not_sent,
            achieved_per_s: if length > 0.0 { published.acked_in_window as f64 / length } else { 0.0 },
            lateness_us: published.lateness_us,
            matching: published.matching,
            transfers: published.transfers,
            pending_at_end,
            kept_up,
            consumed_per_s,
            events_pending_at_end,
            drained_after_ms,
            tasks_opened: tasks_opened.load(Ordering::Relaxed),
        })
    }
}

/// Each city's carriers' JetStream publishers and their subjects, by city position and
/// carrier.
struct Publishers {
    cities: Vec<[(Subject, jetstream::Context); 3]>,
}

impl Publishers {
    async fn connect(connector: &Connector, cities: &[City]) -> anyhow::Result<Publishers> {
        let mut publishers = Vec::with_capacity(cities.len());
        for city in cities {
            let mut of_city = Vec::with_capacity(Carrier::ALL.len());
            for carrier in Carrier::ALL {
                let client = connector.carrier(city, carrier).await?;
                let js = jetstream::ContextBuilder::new()
                    .timeout(ACK_TIMEOUT)
                    .max_ack_inflight(MAX_SIGNALS_IN_FLIGHT)
                    .build(client);
                of_city.push((Subject::from(protocol::subjects::signals(city, carrier.as_str())), js));
            }
            let of_city: [(Subject, jetstream::Context); 3] =
                of_city.try_into().map_err(|_| anyhow::anyhow!("three carriers"))?;
            publishers.push(of_city);
        }
        Ok(Publishers { cities: publishers })
    }

    /// Publishes every signal of `plan` at its due time, open loop (see the module's doc).
    async fn publish(&self, plan: Plan, mut content: SignalContent) -> Published {
        let Plan { schedule, start_ms, window } = plan;
        let count = schedule.count_within(window.end.saturating_duration_since(schedule.start()));
        let mut published = Published { scheduled: count, ..Published::default() };
        let mut lateness = Histogram::<u64>::new_with_bounds(1, micros(HISTOGRAM_MAX), HISTOGRAM_SIGFIG)
            .expect("the harness's histogram bounds are valid");
        let mut in_flight = FuturesUnordered::new();
        for index in 0..count {
            let due = schedule.due(index);
            while Instant::now() < due {
                tokio::select! {
                    Some(acked) = in_flight.next() => published.acked(acked, &window),
                    () = tokio::time::sleep_until(due) => {}
                }
            }
            while in_flight.len() >= MAX_SIGNALS_IN_FLIGHT {
                let Some(acked) = in_flight.next().await else { break };
                published.acked(acked, &window);
            }
            let now = Instant::now();
            if now >= window.end + SEND_GRACE {
                published.not_sent = count - index;
                break;
            }
            if window.contains(due) {
                lateness.saturating_record(micros(now.saturating_duration_since(due)).max(1));
            }
            let signal = content.next(index, start_ms + millis(due.saturating_duration_since(schedule.start())));
            let carrier = Carrier::ALL.iter().position(|c| *c == signal.carrier).unwrap_or(0);
            let (subject, js) = &self.cities[signal.city][carrier];
            let mut headers = HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, signal.message.message_id().as_str());
            let payload = match serde_json::to_vec(&signal.message) {
                Ok(payload) => payload,
                Err(error) => {
                    published.fail(format!("encoding a signal: {error}"));
                    continue;
                }
            };
            match js.publish_with_headers(subject.clone(), headers, payload.into()).await {
                Ok(ack) => {
                    published.matching += u64::from(signal.kind == SignalKind::Matching);
                    published.transfers += u64::from(signal.kind == SignalKind::Transfer);
                    in_flight.push(async move {
                        let outcome = ack.await.map(|_| ()).map_err(|e| format!("acknowledgement: {e}"));
                        (outcome, Instant::now())
                    });
                }
                Err(error) => published.fail(format!("publish: {error}")),
            }
        }
        while let Some(acked) = in_flight.next().await {
            published.acked(acked, &window);
        }
        published.lateness_us = Percentiles::of(&lateness);
        published
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Dissuasion's signal consumer on a city's signal stream, at one moment.
struct Backlog {
    city: String,
    /// Signals not yet delivered or not yet acknowledged.
    pending: u64,
    /// The stream sequence of its ack floor: every signal up to it is acknowledged.
    acked: u64,
}

/// Dissuasion's signal consumer on each city's signal stream.
async fn backlog(admins: &[(City, jetstream::Context)]) -> anyhow::Result<Vec<Backlog>> {
    let mut state = Vec::with_capacity(admins.len());
    for (city, js) in admins {
        let stream = city.signal_stream_name();
        let stream = js.get_stream(&stream).await.with_context(|| format!("looking up {stream}"))?;
        let consumer = dissuasion::shell::SIGNAL_CONSUMER;
        let info = stream.consumer_info(consumer).await.with_context(|| format!("consumer {consumer}"))?;
        state.push(Backlog {
            city: city.to_string(),
            pending: info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0),
            acked: info.ack_floor.stream_sequence,
        });
    }
    Ok(state)
}

/// The backlog of dissuasion's consumers of each city's events: (city, intake's, blocking's).
async fn events_backlog(admins: &[(City, jetstream::Context)]) -> anyhow::Result<Vec<(String, u64, u64)>> {
    let mut pending = Vec::with_capacity(admins.len());
    for (city, js) in admins {
        let stream = city.stream_name();
        let intake = consumer_backlog(js, &stream, dissuasion::shell::INTAKE_CONSUMER).await?;
        let blocking = consumer_backlog(js, &stream, dissuasion::shell::BLOCKING_CONSUMER).await?;
        pending.push((city.to_string(), intake, blocking));
    }
    Ok(pending)
}

/// Reads the backlog until nothing is pending (ms since `since`) or [`SIGNAL_DRAIN_TIMEOUT`]
/// has passed (`None`).
async fn drain(admins: &[(City, jetstream::Context)], since: Instant) -> Option<u64> {
    let deadline = Instant::now() + SIGNAL_DRAIN_TIMEOUT;
    loop {
        match backlog(admins).await {
            Ok(state) if state.iter().all(|b| b.pending == 0) => {
                return Some(millis(Instant::now().saturating_duration_since(since)));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = format!("{error:#}"), "reading dissuasion's signal backlog failed"),
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// Counts dissuasion's `task_opened` events of `cities` (each once, a re-sent one by its id)
/// heard on `observers` until the task is aborted. The subscriptions are in place when this
/// returns.
async fn count_tasks_opened(
    cities: &[City],
    observers: &[async_nats::Client],
) -> anyhow::Result<(Arc<AtomicU64>, JoinHandle<()>)> {
    let mut subscriptions = Vec::with_capacity(cities.len());
    for (city, client) in cities.iter().zip(observers) {
        subscriptions.push(client.subscribe(protocol::subjects::service_events(city, Service::Dissuasion)).await?);
        client.flush().await?;
    }
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let task = tokio::spawn(async move {
        let mut messages = futures::stream::select_all(subscriptions);
        let mut seen = HashSet::new();
        while let Some(message) = messages.next().await {
            let Ok(envelope) = events::decode(&message.payload) else { continue };
            if matches!(envelope.payload, Payload::Dissuasion(DissuasionEvent::TaskOpened { .. }))
                && seen.insert(envelope.id)
            {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok((count, task))
}
