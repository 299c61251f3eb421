//! The sender of the coordinator's notices: takes what the outbox holds, asks each city
//! (`afc.<city>.province.<service>.<kind>`, `events::province`), and settles each answer in
//! the state. A city that does not answer (its link is cut, its service restarting) is
//! asked again after a wait that doubles from [`NOTICE_RETRY_FIRST`] to [`NOTICE_RETRY_MAX`],
//! while the other cities go on hearing theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Shutdown, stopped};
use domain::City;
use events::province::{NoticeError, NoticeTaken};
use protocol::{Reply, subjects};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::Shared;
use crate::core::{Delivery, Notice, Settled};
use crate::limits::{NOTICE_BATCH, NOTICE_RETRY_FIRST, NOTICE_RETRY_MAX, NOTICE_TIMEOUT, NOTICES_IN_FLIGHT};

/// A city that missed: when it may be asked again, and the wait after the next miss.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    until: Instant,
    next: Duration,
}

/// What the sender's tasks share.
struct Sender {
    client: async_nats::Client,
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    /// Deliveries asked and not answered yet: not asked twice at once.
    in_flight: Mutex<BTreeSet<Delivery>>,
    backoff: Mutex<BTreeMap<City, Backoff>>,
    wake: Arc<Notify>,
}

/// Sends the outbox's notices until shutdown; `wake` is notified when the outbox grows.
pub(super) async fn run(client: async_nats::Client, shared: Arc<Shared>, wake: Arc<Notify>, mut shutdown: Shutdown) {
    let sender = Arc::new(Sender {
        client,
        shared,
        slots: Arc::new(Semaphore::new(NOTICES_IN_FLIGHT)),
        in_flight: Mutex::new(BTreeSet::new()),
        backoff: Mutex::new(BTreeMap::new()),
        wake: wake.clone(),
    });
    loop {
        let due = sender.due();
        for (delivery, notice) in due {
            let permit = tokio::select! {
                () = stopped(&mut shutdown) => return,
                permit = sender.slots.clone().acquire_owned() => permit.expect("the semaphore never closes"),
            };
            let sender = sender.clone();
            tokio::spawn(async move {
                sender.send(&delivery, &notice).await;
                sender.in_flight.lock().expect("no panic holds it").remove(&delivery);
                drop(permit);
                sender.wake.notify_one();
            });
        }
        // Woken by a new notice or an answer; otherwise when the first city's wait ends.
        let wait = sender.next_retry().unwrap_or(NOTICE_RETRY_MAX);
        tokio::select! {
            () = stopped(&mut shutdown) => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

impl Sender {
    /// The pending notices to send now: not in flight, to a city not waiting out a miss.
    fn due(&self) -> Vec<(Delivery, Notice)> {
        let now = Instant::now();
        let mut in_flight = self.in_flight.lock().expect("no panic holds it");
        let backoff = self.backoff.lock().expect("no panic holds it");
        let room = NOTICE_BATCH.min(self.slots.available_permits().max(1));
        let due = {
            let state = self.shared.state.read().expect("no panic holds the state");
            let city_ready = |city: &City| backoff.get(city).is_none_or(|b| b.until <= now);
            state.outbox.due(city_ready, |d| !in_flight.contains(d), room)
        };
        in_flight.extend(due.iter().map(|(d, _)| d.clone()));
        due
    }

    /// How long until the first city waiting out a miss may be asked again.
    fn next_retry(&self) -> Option<Duration> {
        let now = Instant::now();
        let backoff = self.backoff.lock().expect("no panic holds it");
        backoff.values().filter(|b| b.until > now).map(|b| b.until - now).min()
    }

    async fn send(&self, delivery: &Delivery, notice: &Notice) {
        let (service, kind) = notice.addressee();
        let subject = subjects::province_notice(&delivery.city, service, kind);
        let body = match notice {
            Notice::CrossCity(n) => serde_json::to_vec(n),
            Notice::ProvinceBlock(n) => serde_json::to_vec(n),
            Notice::ProvinceUnblock(n) => serde_json::to_vec(n),
        }
        .expect("notices serialize");
        let asked = tokio::time::timeout(NOTICE_TIMEOUT, self.client.request(subject, body.into())).await;
        let answer = match asked {
            Ok(Ok(message)) => serde_json::from_slice::<Reply<NoticeTaken, NoticeError>>(&message.payload)
                .map_err(|e| format!("an answer that is not a notice's: {e}")),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer in {NOTICE_TIMEOUT:?}")),
        };
        let settled = match answer {
            Ok(Reply::Ok(taken)) => Settled::Taken { recorded: taken.recorded },
            Ok(Reply::Error(NoticeError::Refused { message })) => {
                tracing::warn!(city = %delivery.city, about = %delivery.about, %message, "a city refused a notice");
                Settled::Refused
            }
            Ok(Reply::Error(NoticeError::Unavailable { message })) => return self.missed(&delivery.city, &message),
            Err(reason) => return self.missed(&delivery.city, &reason),
        };
        self.backoff.lock().expect("no panic holds it").remove(&delivery.city);
        let left =
            self.shared.state.write().expect("no panic holds the state").outbox.settle(delivery, notice, settled);
        tracing::debug!(city = %delivery.city, about = %delivery.about, ?settled, left, "notice answered");
    }

    fn missed(&self, city: &City, reason: &str) {
        let mut backoff = self.backoff.lock().expect("no panic holds it");
        let wait = backoff.get(city).map_or(NOTICE_RETRY_FIRST, |b| b.next);
        let first = !backoff.contains_key(city);
        backoff.insert(city.clone(), Backoff { until: Instant::now() + wait, next: (wait * 2).min(NOTICE_RETRY_MAX) });
        if first {
            tracing::warn!(%city, reason, "a city did not take a notice; it is asked again");
        } else {
            tracing::debug!(%city, reason, ?wait, "a city did not take a notice");
        }
    }
}
