//! Live updates. The console's own identity hears the city's events (`afc.<city>.evt.>`)
//! while any page listens, and only then: with no page open it holds no subscription, so the
//! server sends it nothing (at 400 cases/s a city publishes ~12,000 events a second). For
//! each event it reads the case and service (not the payload) and tells the listening pages
//! ([`Hub`]). A page listens over server-sent events
//! (`/live?topic=…`) to one topic: a case (`case:<id>`), the case list (`cases`), the queue
//! (`tasks`), the returns (`returns`), the blocks (`blocks`) or the province board
//! (`province`). It is told `changed` at most every [`LIVE_COALESCE`], and a page that fell
//! more than [`LIVE_CHANNEL`] changes behind is told too; the page then fetches itself again.
//! On the hub, while a board is open, the coordinator's status is asked every
//! [`PROVINCE_LIVE_POLL`] and a board is told when the province stream moved.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::{CaseId, City, Service};
use futures::{Stream, StreamExt as _};
use serde::Deserialize;
use std::sync::Arc;

use tokio::sync::{Notify, broadcast};

use super::Console;
use super::limits::{LIVE_CHANNEL, LIVE_COALESCE, LIVE_KEEP_ALIVE, PROVINCE_LIVE_POLL};

/// Something a page may show changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An event of `service`, of case `case` if it has one.
    Event { service: Service, case: Option<CaseId> },
    /// The province stream moved.
    Province,
}

impl Change {
    /// Whether a page listening to `topic` shows what changed.
    pub fn concerns(&self, topic: &str) -> bool {
        match (self, topic) {
            (Change::Province, "province") => true,
            (Change::Province, _) => false,
            (Change::Event { case, .. }, topic) if topic.starts_with("case:") => {
                case.as_ref().is_some_and(|case| case.as_str() == &topic["case:".len()..])
            }
            (Change::Event { service, .. }, "cases") => matches!(service, Service::Intake | Service::Freezing),
            (Change::Event { service, .. }, "tasks") => *service == Service::Dissuasion,
            (Change::Event { service, .. }, "returns") => *service == Service::Restitution,
            (Change::Event { service, .. }, "blocks") => *service == Service::Blocking,
            _ => false,
        }
    }
}

/// The pages listening, and what they are told.
#[derive(Debug, Clone)]
pub struct Hub {
    changes: broadcast::Sender<Change>,
    /// Signalled when a page starts listening: the city's events are subscribed to again.
    listening: Arc<Notify>,
    /// Whether the city's events are subscribed to now.
    hearing: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { changes: broadcast::channel(LIVE_CHANNEL).0, listening: Arc::default(), hearing: Arc::default() }
    }
}

impl Hub {
    /// Whether any page listens (else events are not even heard).
    pub fn listened(&self) -> bool {
        self.changes.receiver_count() > 0
    }

    pub fn tell(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    pub fn listen(&self) -> broadcast::Receiver<Change> {
        let changes = self.changes.subscribe();
        self.listening.notify_one();
        changes
    }

    /// Whether the city's events are subscribed to now.
    pub fn hearing(&self) -> bool {
        self.hearing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns once some page listens.
    async fn until_listened(&self) {
        while !self.listened() {
            // A permit stored by `listen` since the last wait wakes this at once.
            self.listening.notified().await;
        }
    }
}

/// The service of an event subject `afc.<city>.evt.<service>.<kind>`.
fn service_of(subject: &str) -> Option<Service> {
    let mut tokens = subject.split('.');
    let (_, _, evt, service) = (tokens.next()?, tokens.next()?, tokens.next()?, tokens.next()?);
    if evt != "evt" {
        return None;
    }
    Service::parse(service)
}

/// Hears `city`'s events on `client` (the console's identity) and tells `hub`: subscribed
/// from the moment a page listens to the first event heard after the last one stopped.
pub async fn hear_city(hub: Hub, client: async_nats::Client, city: City) -> anyhow::Result<()> {
    let subject = protocol::subjects::city_events(&city);
    tokio::spawn(async move {
        loop {
            hub.until_listened().await;
            let mut events = match client.subscribe(subject.clone()).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "subscribing to the city's events failed; asking again");
                    tokio::time::sleep(LIVE_COALESCE).await;
                    continue;
                }
            };
            hub.hearing.store(true, std::sync::atomic::Ordering::SeqCst);
            while let Some(message) = events.next().await {
                if !hub.listened() {
                    break;
                }
                let Some(service) = service_of(message.subject.as_str()) else { continue };
                hub.tell(Change::Event { service, case: events::correlation(&message.payload) });
            }
            // Dropping the subscription unsubscribes: the server stops sending.
            drop(events);
            hub.hearing.store(false, std::sync::atomic::Ordering::SeqCst);
        }
    });
    Ok(())
}

/// On the hub: while a board is open, asks the coordinator's status (as a province officer
/// logged in) and tells the boards when the province stream's last sequence moved.
pub fn watch_province(console: Console) {
    tokio::spawn(async move {
        let mut last = None;
        let mut tick = tokio::time::interval(PROVINCE_LIVE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !console.live().listened() {
                continue;
            }
            let Some(client) = console.any_province_desk() else { continue };
            let subject = protocol::subjects::coordinator_command(protocol::coordinator::verb::STATUS);
            let asked = tokio::time::timeout(Duration::from_secs(2), client.request(subject, "{}".into())).await;
            let Ok(Ok(answer)) = asked else { continue };
            let seq = serde_json::from_slice::<serde_json::Value>(&answer.payload)
                .ok()
                .and_then(|v| v.pointer("/ok/absorbed_stream_seq").and_then(serde_json::Value::as_u64));
            if seq.is_some() && seq != last {
                last = seq;
                console.live().tell(Change::Province);
            }
        }
    });
}

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    topic: String,
}

/// `/live?topic=…`: `changed` events for one topic, for the session's pages.
pub async fn stream(State(console): State<Console>, headers: HeaderMap, Query(query): Query<LiveQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let open = console.clone();
    let changes = told(console.live().listen(), query.topic, move || open.still_open(&staff));
    Sse::new(changes).keep_alive(KeepAlive::new().interval(LIVE_KEEP_ALIVE)).into_response()
}

/// The `changed` events of `topic` among `changes`, at most one per [`LIVE_COALESCE`], while
/// `open` holds (the session of the page): the stream ends at the first change after it no
/// longer does.
pub fn told(
    changes: broadcast::Receiver<Change>,
    topic: String,
    open: impl Fn() -> bool + Send + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = (changes, topic, None::<tokio::time::Instant>, open);
    futures::stream::unfold(state, |(mut changes, topic, last, open)| async move {
        loop {
            match changes.recv().await {
                Ok(change) if change.concerns(&topic) => {}
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
            if let Some(last) = last {
                let due = last + LIVE_COALESCE;
                if tokio::time::Instant::now() < due {
                    tokio::time::sleep_until(due).await;
                }
            }
            if !open() {
                return None;
            }
            // Whatever came meanwhile is told by this one event.
            while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = changes.try_recv() {}
            let event = Event::default().event("changed").data(topic.clone());
            return Some((Ok(event), (changes, topic, Some(tokio::time::Instant::now()), open)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str) -> CaseId {
        CaseId::parse(id).unwrap()
    }

    #[test]
    fn a_change_concerns_the_pages_that_show_it() {
        let frozen = Change::Event { service: Service::Freezing, case: Some(case("hangzhou-00000000000000aa")) };
        assert!(frozen.concerns("case:hangzhou-00000000000000aa"));
        assert!(!frozen.concerns("case:hangzhou-00000000000000bb"));
        assert!(frozen.concerns("cases"));
        assert!(!frozen.concerns("tasks"));
        let task = Change::Event { service: Service::Dissuasion, case: None };
        assert!(task.concerns("tasks") && !task.concerns("case:hangzhou-00000000000000aa"));
        assert!(Change::Province.concerns("province") && !Change::Province.concerns("cases"));
        let city = City::parse("hangzhou").unwrap();
        let event = protocol::subjects::event(&city, Service::Restitution, "allocation_proposed");
        assert_eq!(service_of(&event), Some(Service::Restitution));
        assert_eq!(service_of(&protocol::subjects::command(&city, Service::Intake, "show")), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_is_told_once_for_a_burst_and_again_after_the_coalescing_pause() {
        let hub = Hub::default();
        let mut told = Box::pin(told(hub.listen(), "tasks".into(), || true));
        let task = Change::Event { service: Service::Dissuasion, case: None };
        hub.tell(Change::Event { service: Service::Blocking, case: None });
        hub.tell(task.clone());
        assert!(told.next().await.is_some(), "told of the task");
        let first = tokio::time::Instant::now();
        for _ in 0..10 {
            hub.tell(task.clone());
        }
        assert!(told.next().await.is_some(), "the burst, told once");
        assert!(tokio::time::Instant::now() >= first + LIVE_COALESCE, "not before the pause");
        hub.tell(Change::Event { service: Service::Blocking, case: None });
        let nothing = tokio::time::timeout(LIVE_COALESCE * 4, told.next()).await;
        assert!(nothing.is_err(), "the burst left nothing behind, and a block is not the queue's");
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_whose_session_ended_is_told_nothing_more() {
        let hub = Hub::default();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let still = open.clone();
        let mut told =
            Box::pin(told(hub.listen(), "tasks".into(), move || still.load(std::sync::atomic::Ordering::SeqCst)));
        let task = Change::Event { service: Service::Dissuasion, case: None };
        hub.tell(task.clone());
        assert!(told.next().await.is_some());
        open.store(false, std::sync::atomic::Ordering::SeqCst);
        hub.tell(task);
        assert!(told.next().await.is_none(), "the stream ended");
    }

    #[tokio::test]
    async fn the_city_is_heard_only_while_a_page_listens() {
        use std::sync::atomic::Ordering::Relaxed;
        let server = testkit::NatsServer::single().await.unwrap();
        let (ear, publisher) =
            (async_nats::connect(server.url()).await.unwrap(), async_nats::connect(server.url()).await.unwrap());
        let city = City::parse("hangzhou").unwrap();
        let hub = Hub::default();
        hear_city(hub.clone(), ear.clone(), city.clone()).await.unwrap();
        let subject = protocol::subjects::event(&city, Service::Dissuasion, "task_opened");
        let publish = |n: usize| {
            let (publisher, subject) = (publisher.clone(), subject.clone());
            async move {
                for _ in 0..n {
                    publisher.publish(subject.clone(), "{}".into()).await.unwrap();
                }
                publisher.flush().await.unwrap();
            }
        };
        let heard = || ear.statistics().in_messages.load(Relaxed);

        publish(5).await;
        ear.flush().await.unwrap();
        assert_eq!(heard(), 0, "no page listens: nothing is sent to the console");

        let mut page = hub.listen();
        let told = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                publish(1).await;
                if let Ok(change) = tokio::time::timeout(Duration::from_millis(100), page.recv()).await {
                    return change.unwrap();
                }
            }
        })
        .await
        .expect("a listening page is told");
        assert_eq!(told, Change::Event { service: Service::Dissuasion, case: None });

        drop(page);
        publish(1).await;
        // The next event ends the subscription; the unsubscription goes out before the flush.
        testkit::eventually(Duration::from_secs(10), "the subscription ended", || {
            let hub = hub.clone();
            async move { (!hub.hearing()).then_some(()) }
        })
        .await;
        ear.flush().await.unwrap();
        let before = heard();
        publish(5).await;
        ear.flush().await.unwrap();
        assert_eq!(heard(), before, "the last page gone, the subscription ended with the next event");

        let _again = hub.listen();
        tokio::time::timeout(Duration::from_secs(10), async {
            while heard() == before {
                publish(1).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("a page listening again is heard for again");
    }
}
