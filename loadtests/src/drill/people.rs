//! The dissuasion side of a drill as it plays: the carriers publish the contact signals of
//! the scenario's population (`simulator::population`) on `afc.<city>.sig.<carrier>` when they
//! fall due, and each city's simulated staff work dissuasion's queues through its commands —
//! `next` on a queue, then `complete` with the outcome the ground truth decides — at the
//! scenario's capacity per level per day (`[staff]`), in scaled time like the rest of the
//! script. Neither runs without a population.
//!
//! An operator's day is `capacity` tasks: after each task they are busy for a day divided
//! by the capacity (simulated), and an operator who finds their queue empty asks again
//! [`STAFF_IDLE_POLL_MS`] later. A person who has paid is `already_paid`, with the report the
//! operator takes on the call (their name, ID number and payment); a number no gang reached
//! is `false_positive`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_nats::jetstream;
use domain::{Carrier, City, Service, SharedClock};
use protocol::dissuasion::{
    CompleteRequest, CompleteResponse, DissuasionErrorKind, NextRequest, NextResponse, VERB_COMPLETE, VERB_NEXT,
};
use protocol::{Reply, subjects};
use simulator::population::{StaffOutcome, Step};
use simulator::world::{self, World};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::harness::limits::{
    MAX_SIGNALS_IN_FLIGHT, PEOPLE_MAX_IDLE, PEOPLE_RETRY_PAUSE, SIGNAL_PUBLISH_ATTEMPTS, STAFF_COMPLETE_ATTEMPTS,
    STAFF_IDLE_POLL_MS,
};
use afc::client;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The staffed queues as dissuasion names them, with the step each is.
pub const QUEUES: [(&str, Step); 5] = [
    ("call", Step::Call),
    ("visit.city_bureau", Step::Visit(0)),
    ("visit.district_bureau", Step::Visit(1)),
    ("visit.police_station", Step::Visit(2)),
    ("visit.community", Step::Visit(3)),
];

/// Who publishes a city's signals of a carrier: the carrier's gateway at the city on a secured
/// deployment, else any connection that may.
#[derive(Debug, Clone, Default)]
pub struct Signallers {
    pub by_carrier: BTreeMap<(City, Carrier), async_nats::Client>,
    /// For a city and carrier without a gateway of its own.
    pub fallback: BTreeMap<City, async_nats::Client>,
}

impl Signallers {
    fn client(&self, city: &City, carrier: Carrier) -> Option<&async_nats::Client> {
        self.by_carrier.get(&(city.clone(), carrier)).or_else(|| self.fallback.get(city))
    }
}

/// What the carriers and the staff did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleStats {
    /// Signals the streams acknowledged.
    pub signals_published: u64,
    /// Signals never acknowledged after [`SIGNAL_PUBLISH_ATTEMPTS`].
    pub signals_lost: u64,
    /// Tasks completed, by queue and outcome.
    pub completed: BTreeMap<(String, String), u64>,
    /// Commands refused or not answered.
    pub staff_errors: u64,
}

/// The carriers and the staff, running until [`People::stop`].
pub struct People {
    stop: watch::Sender<bool>,
    tasks: JoinSet<PeopleStats>,
}

impl People {
    /// Starts the signal emitter and one operator per city and queue with a capacity, when the
    /// world has a population; else nothing.
    pub fn start(
        world: Arc<Mutex<World>>,
        clock: SharedClock,
        signallers: Signallers,
        staff: BTreeMap<City, async_nats::Client>,
        capacity: &simulator::scenario::StaffSpec,
    ) -> People {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        if world::lock(&world).population.people().is_empty() {
            return People { stop, tasks };
        }
        tasks.spawn(emit(world.clone(), clock.clone(), signallers, stopped.clone()));
        for (city, client) in staff {
            for (queue, step) in QUEUES {
                let per_day = match step {
                    Step::Call => capacity.calls_per_day,
                    Step::Visit(level) => capacity.visits_per_day[usize::from(level)],
                    Step::Sms => 0,
                };
                if per_day == 0 {
                    continue;
                }
                let operator = Operator {
                    city: city.clone(),
                    client: client.clone(),
                    queue,
                    step,
                    busy_ms: DAY_MS / u64::from(per_day),
                    world: world.clone(),
                    clock: clock.clone(),
                };
                tasks.spawn(operator.work(stopped.clone()));
            }
        }
        People { stop, tasks }
    }

    /// Stops the carriers and the staff (each finishes what it is doing); returns what they did.
    pub async fn stop(mut self) -> anyhow::Result<PeopleStats> {
        let _ = self.stop.send(true);
        let mut total = PeopleStats::default();
        while let Some(done) = self.tasks.join_next().await {
            let stats = done.context("a carrier or operator task panicked")?;
            total.signals_published += stats.signals_published;
            total.signals_lost += stats.signals_lost;
            total.staff_errors += stats.staff_errors;
            for (key, n) in stats.completed {
                *total.completed.entry(key).or_default() += n;
            }
        }
        Ok(total)
    }
}

/// Waits up to `wait` (at most [`PEOPLE_MAX_IDLE`]) or until stopped; `true` when stopped.
async fn pause(stopped: &mut watch::Receiver<bool>, wait: std::time::Duration) -> bool {
    if *stopped.borrow() {
        return true;
    }
    let _ = tokio::time::timeout(wait.min(PEOPLE_MAX_IDLE), stopped.changed()).await;
    *stopped.borrow()
}

/// The carriers: decides the population's contacts as they fall due and publishes their
/// signals, a batch at a time, each until its stream acknowledges it.
async fn emit(
    world: Arc<Mutex<World>>,
    clock: SharedClock,
    signallers: Signallers,
    mut stopped: watch::Receiver<bool>,
) -> PeopleStats {
    let mut stats = PeopleStats::default();
    loop {
        let now = clock.now_ms();
        let due = {
            let mut guard = world::lock(&world);
            let world = &mut *guard;
            world.population.advance(now, &mut world.contacts, &world.telecom);
            world.population.take_signals(now, MAX_SIGNALS_IN_FLIGHT)
        };
        if due.is_empty() {
            if pause(&mut stopped, PEOPLE_MAX_IDLE).await {
                return stats;
            }
            continue;
        }
        let mut acks = Vec::with_capacity(due.len());
        for signal in due {
            let Some(client) = signallers.client(&signal.city, signal.carrier) else {
                stats.signals_lost += 1;
                continue;
            };
            let subject = subjects::signals(&signal.city, signal.carrier.as_str());
            let body = protocol::to_json(&signal.message);
            acks.push(publish(jetstream::new(client.clone()), subject, signal.message.message_id(), body));
        }
        for acked in futures::future::join_all(acks).await {
            if acked {
                stats.signals_published += 1;
            } else {
                stats.signals_lost += 1;
            }
        }
    }
}

/// Publishes one signal until its stream acknowledges it, at most [`SIGNAL_PUBLISH_ATTEMPTS`]
/// times (a repeat has the same message id: the stream keeps one).
async fn publish(js: jetstream::Context, subject: String, id: String, body: Vec<u8>) -> bool {
    for attempt in 1..=SIGNAL_PUBLISH_ATTEMPTS {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let acked = match js.publish_with_headers(subject.clone(), headers, body.clone().into()).await {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        };
        if acked {
            return true;
        }
        tracing::debug!(attempt, "a signal was not acknowledged; publishing it again");
        tokio::time::sleep(PEOPLE_RETRY_PAUSE).await;
    }
    false
}

/// One city's operator of one queue.
struct Operator {
    city: City,
    client: async_nats::Client,
    queue: &'static str,
    step: Step,
    /// Simulated time one task takes: a day over the queue's daily capacity.
    busy_ms: u64,
    world: Arc<Mutex<World>>,
    clock: SharedClock,
}

impl Operator {
    fn name(&self) -> String {
        format!("sim-{}", self.queue)
    }

    async fn work(self, mut stopped: watch::Receiver<bool>) -> PeopleStats {
        let mut stats = PeopleStats::default();
        let mut free_at = self.clock.now_ms();
        loop {
            let now = self.clock.now_ms();
            if now < free_at {
                if pause(&mut stopped, self.clock.real_duration(free_at - now)).await {
                    return stats;
                }
                continue;
            }
            if *stopped.borrow() {
                return stats;
            }
            free_at = now.saturating_add(match self.take(now, &mut stats).await {
                true => self.busy_ms,
                false => STAFF_IDLE_POLL_MS,
            });
        }
    }

    /// Takes the head of the queue and completes it; `false` when there was none.
    async fn take(&self, now: u64, stats: &mut PeopleStats) -> bool {
        let request = NextRequest { queue: self.queue.into(), operator: self.name() };
        let answer = self.ask::<NextResponse>(VERB_NEXT, &request).await;
        let task = match answer {
            Some(Reply::Ok(Some(task))) => task,
            Some(Reply::Ok(None)) => return false,
            Some(Reply::Error(error)) => {
                tracing::warn!(queue = self.queue, kind = ?error.kind, message = %error.message, "dissuasion refused next");
                stats.staff_errors += 1;
                return false;
            }
            None => {
                tracing::warn!(queue = self.queue, "dissuasion did not answer next");
                stats.staff_errors += 1;
                return false;
            }
        };
        let phone = task.phone.clone().unwrap_or_default();
        let (outcome, report) = {
            let mut guard = world::lock(&self.world);
            let world = &mut *guard;
            world.population.advance(now, &mut world.contacts, &world.telecom);
            let outcome = world.population.staff_outcome(&phone, self.step, now);
            let report = (outcome == StaffOutcome::AlreadyPaid)
                .then(|| world.population.find(&phone).and_then(|p| world.population.people()[p].paid_report()))
                .flatten();
            (outcome, report)
        };
        let complete = CompleteRequest {
            task: task.task.clone(),
            operator: self.name(),
            outcome: outcome.as_str().into(),
            note: "simulated".into(),
            report,
        };
        for _ in 0..STAFF_COMPLETE_ATTEMPTS {
            match self.ask::<CompleteResponse>(VERB_COMPLETE, &complete).await {
                Some(Reply::Ok(_)) => {
                    let key = (self.queue.to_owned(), outcome.as_str().to_owned());
                    *stats.completed.entry(key).or_default() += 1;
                    return true;
                }
                Some(Reply::Error(error)) if error.kind != DissuasionErrorKind::Unavailable => {
                    tracing::warn!(city = %self.city, task = %task.task, kind = ?error.kind, "complete refused");
                    stats.staff_errors += 1;
                    return true;
                }
                _ => tokio::time::sleep(PEOPLE_RETRY_PAUSE).await,
            }
        }
        stats.staff_errors += 1;
        true
    }

    /// Asks dissuasion's command `verb`; `None` when it did not answer or the answer is not
    /// the expected JSON.
    async fn ask<A: serde::de::DeserializeOwned>(&self, verb: &str, request: &impl serde::Serialize) -> Option<A> {
        let body = serde_json::to_vec(request).ok()?;
        let answer = client::ask(&self.client, &self.city, Service::Dissuasion, verb, body).await.ok()?;
        serde_json::from_slice(&answer).ok()
    }
}
