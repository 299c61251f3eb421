//! Live updates. Each service of the city tells which cases it changed, at most every
//! 500 ms (`afc.<city>.changed.<service>`, `protocol::changes`): the console's own identity
//! hears those few messages a second, not the city's events (~12,000 a second at 400
//! cases/s), and tells the listening pages ([`Hub`]). A page listens over server-sent events
//! (`/live?topic=…&after=…`) to one [`Topic`]: a case, the case list, the queue, the returns,
//! the blocks or the province board. It is told `changed` at most every [`LIVE_COALESCE`],
//! and a page that fell more than [`LIVE_CHANNEL`] changes behind is told too; the page then
//! fetches itself again.
//!
//! A page is rendered, then connects its stream: a change told in between would be lost. So
//! every page carries the hub's mark taken before it fetched what it shows (`after`), the hub
//! keeps the last [`LIVE_RECENT`] changes, and a stream connecting is told at once when one
//! of those since its mark concerns it (or the mark is out of reach: an old page, a
//! restarted console). While no page listens, a message is kept without being read, as "any
//! case of that service": the first page to listen, if rendered before it, looks again.
//!
//! On the hub, while a board is open, the coordinator's status is asked every
//! [`PROVINCE_LIVE_POLL`] and a board is told when the province stream moved.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::{CaseId, City, Service};
use futures::{Stream, StreamExt as _};
use protocol::changes::Changes;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::Console;
use super::limits::{LIVE_CHANNEL, LIVE_COALESCE, LIVE_KEEP_ALIVE, LIVE_RECENT, PROVINCE_LIVE_POLL};

/// What a page shows, and listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// One case: its timeline and trail (intake), blocks, warnings and returns.
    Case(CaseId),
    /// The case list (intake: new reports, and every timeline it folded).
    Cases,
    /// The dissuasion queue.
    Tasks,
    /// The returns.
    Returns,
    /// The blocks.
    Blocks,
    /// The province board.
    Province,
}

impl Topic {
    /// `case:<id>`, `cases`, `tasks`, `returns`, `blocks` or `province`.
    pub fn parse(text: &str) -> Option<Topic> {
        Some(match text {
            "cases" => Topic::Cases,
            "tasks" => Topic::Tasks,
            "returns" => Topic::Returns,
            "blocks" => Topic::Blocks,
            "province" => Topic::Province,
            _ => Topic::Case(CaseId::parse(text.strip_prefix("case:")?).ok()?),
        })
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Case(case) => write!(f, "case:{case}"),
            Topic::Cases => f.write_str("cases"),
            Topic::Tasks => f.write_str("tasks"),
            Topic::Returns => f.write_str("returns"),
            Topic::Blocks => f.write_str("blocks"),
            Topic::Province => f.write_str("province"),
        }
    }
}

/// What a page listens to: its topic, and the hub's mark taken before it fetched what it
/// shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub topic: Topic,
    pub after: u64,
}

impl Live {
    /// The page's stream: `/live?topic=…&after=…`.
    pub fn url(&self) -> String {
        format!("/live?topic={}&after={}", self.topic, self.after)
    }
}

/// Something a page may show changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// What `service` told it changed.
    Service { service: Service, cases: Arc<HashSet<CaseId>>, uncased: bool, overflow: bool },
    /// The province stream moved.
    Province,
}

impl Change {
    /// What `service` told.
    pub fn of(service: Service, changes: Changes) -> Change {
        let Changes { cases, uncased, overflow } = changes;
        Change::Service { service, cases: Arc::new(cases.into_iter().collect()), uncased, overflow }
    }

    /// Whether a page showing `topic` shows what changed.
    pub fn concerns(&self, topic: &Topic) -> bool {
        let Change::Service { service, cases, overflow, .. } = self else {
            return *topic == Topic::Province;
        };
        match topic {
            Topic::Case(case) => *service != Service::Freezing && (*overflow || cases.contains(case)),
            Topic::Cases => *service == Service::Intake,
            Topic::Tasks => *service == Service::Dissuasion,
            Topic::Returns => *service == Service::Restitution,
            Topic::Blocks => *service == Service::Blocking,
            Topic::Province => false,
        }
    }
}

/// The pages listening, what they are told, and the last changes told.
#[derive(Debug, Clone)]
pub struct Hub {
    changes: broadcast::Sender<(u64, Change)>,
    recent: Arc<Mutex<Recent>>,
}

/// The last changes told, each with its number (the hub's mark after it).
#[derive(Debug, Default)]
struct Recent {
    mark: u64,
    told: VecDeque<(u64, Change)>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { changes: broadcast::channel(LIVE_CHANNEL).0, recent: Arc::default() }
    }
}

impl Hub {
    /// Whether any page listens.
    pub fn listened(&self) -> bool {
        self.changes.receiver_count() > 0
    }

    pub fn tell(&self, change: Change) {
        let mut recent = self.recent.lock().expect("never poisoned");
        recent.mark += 1;
        let mark = recent.mark;
        if recent.told.len() == LIVE_RECENT {
            recent.told.pop_front();
        }
        recent.told.push_back((mark, change.clone()));
        // Sent under the lock: a page starting to listen sees each change once, kept or sent.
        let _ = self.changes.send((mark, change));
    }

    /// Tells every page that anything may have changed (the console's connection was lost and
    /// found again: what the services told meanwhile was not heard).
    pub fn tell_everything(&self) {
        for service in [Service::Intake, Service::Blocking, Service::Dissuasion, Service::Restitution] {
            self.tell(Change::of(service, Changes { overflow: true, ..Changes::default() }));
        }
    }

    /// The mark a page takes before it fetches what it shows.
    pub fn mark(&self) -> u64 {
        self.recent.lock().expect("never poisoned").mark
    }

    /// Listens to the changes told from now on, and says whether one told after `after` (a
    /// page's mark) concerns `topic`, or may have: the mark is out of the hub's reach.
    pub fn listen_after(&self, after: u64, topic: &Topic) -> (broadcast::Receiver<(u64, Change)>, bool) {
        let recent = self.recent.lock().expect("never poisoned");
        let changes = self.changes.subscribe();
        let oldest = recent.told.front().map_or(recent.mark + 1, |(mark, _)| *mark);
        let missed = after > recent.mark
            || (after < recent.mark && after + 1 < oldest)
            || recent.told.iter().any(|(mark, change)| *mark > after && change.concerns(topic));
        (changes, missed)
    }

    /// Listens to the changes told from now on.
    pub fn listen(&self) -> broadcast::Receiver<(u64, Change)> {
        self.changes.subscribe()
    }
}

/// Hears what `city`'s services changed on `client` (the console's identity) and tells
/// `hub`. What freezing changed is not heard: a case page shows it through intake, which
/// folds freezing's events into the case's timeline and tells that.
pub async fn hear_city(hub: Hub, client: async_nats::Client, city: City) -> anyhow::Result<()> {
    let mut told = client.subscribe(protocol::subjects::city_changes(&city)).await?;
    tokio::spawn(async move {
        while let Some(message) = told.next().await {
            // With no page listening the message is not read, but kept as "any case of the
            // service": a page rendered now and listening later is told to look again.
            let change = if hub.listened() {
                heard(message.subject.as_str(), &message.payload)
            } else {
                unread(message.subject.as_str())
            };
            if let Some(change) = change {
                hub.tell(change);
            }
        }
    });
    Ok(())
}

/// What a message on `subject` (`afc.<city>.changed.<service>`) tells the pages: nothing of
/// freezing's (a case page shows it through intake), nor of a body that does not read.
pub fn heard(subject: &str, body: &[u8]) -> Option<Change> {
    let service = protocol::subjects::changes_service(subject)?;
    if service == Service::Freezing {
        return None;
    }
    match serde_json::from_slice::<Changes>(body) {
        Ok(changes) => Some(Change::of(service, changes)),
        Err(error) => {
            tracing::debug!(%service, %error, "a change told that does not read; ignored");
            None
        }
    }
}

/// What a message on `subject` tells when it is not read: any case of its service changed.
fn unread(subject: &str) -> Option<Change> {
    let service = protocol::subjects::changes_service(subject).filter(|service| *service != Service::Freezing)?;
    Some(Change::of(service, Changes { overflow: true, ..Changes::default() }))
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
    /// The hub's mark when the page was rendered.
    after: Option<u64>,
}

/// `/live?topic=…&after=…`: `changed` events for one topic, for the session's pages.
pub async fn stream(State(console): State<Console>, headers: HeaderMap, Query(query): Query<LiveQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let Some(topic) = Topic::parse(&query.topic) else {
        let accepted = "topic: not one of case:<case id>, cases, tasks, returns, blocks, province";
        return (StatusCode::BAD_REQUEST, accepted).into_response();
    };
    let (changes, missed) = match query.after {
        Some(after) => console.live().listen_after(after, &topic),
        None => (console.live().listen(), false),
    };
    let open = console.clone();
    let changes = told(changes, topic, missed, move || open.still_open(&staff));
    Sse::new(changes).keep_alive(KeepAlive::new().interval(LIVE_KEEP_ALIVE)).into_response()
}

/// The `changed` events of `topic` among `changes`, at most one per [`LIVE_COALESCE`] (the
/// first at once when `missed`), while `open` holds (the session of the page): the stream
/// ends at the first change after it no longer does.
pub fn told(
    changes: broadcast::Receiver<(u64, Change)>,
    topic: Topic,
    missed: bool,
    open: impl Fn() -> bool + Send + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = (changes, topic, None::<tokio::time::Instant>, missed, open);
    futures::stream::unfold(state, |(mut changes, topic, last, missed, open)| async move {
        loop {
            if !missed || last.is_some() {
                match changes.recv().await {
                    Ok((_, change)) if change.concerns(&topic) => {}
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
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
            let event = Event::default().event("changed").data(topic.to_string());
            return Some((Ok(event), (changes, topic, Some(tokio::time::Instant::now()), missed, open)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str) -> CaseId {
        CaseId::parse(id).unwrap()
    }

    const A: &str = "hangzhou-00000000000000aa";
    const B: &str = "hangzhou-00000000000000bb";

    fn told_by(service: Service, cases: &[&str]) -> Change {
        Change::of(service, Changes { cases: cases.iter().map(|c| case(c)).collect(), ..Changes::default() })
    }

    fn topic(text: &str) -> Topic {
        Topic::parse(text).unwrap()
    }

    #[test]
    fn a_topic_reads_back_and_nothing_else_is_one() {
        for text in ["cases", "tasks", "returns", "blocks", "province", &format!("case:{A}")] {
            assert_eq!(topic(text).to_string(), text);
        }
        for bad in ["", "case:", "case:<script>", "everything", "case:hangzhou-1"] {
            assert_eq!(Topic::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_change_concerns_the_pages_that_show_it() {
        let folded = told_by(Service::Intake, &[A]);
        assert!(folded.concerns(&topic(&format!("case:{A}"))));
        assert!(!folded.concerns(&topic(&format!("case:{B}"))));
        assert!(folded.concerns(&topic("cases")) && !folded.concerns(&topic("tasks")));
        let blocked = told_by(Service::Blocking, &[B]);
        assert!(blocked.concerns(&topic(&format!("case:{B}"))) && blocked.concerns(&topic("blocks")));
        assert!(!blocked.concerns(&topic("cases")), "the list shows intake's figures");
        let frozen = told_by(Service::Freezing, &[A]);
        assert!(!frozen.concerns(&topic(&format!("case:{A}"))), "a case page shows freezing through intake");
        let many = Change::of(Service::Restitution, Changes { overflow: true, ..Changes::default() });
        assert!(many.concerns(&topic(&format!("case:{B}"))) && many.concerns(&topic("returns")));
        let task = Change::of(Service::Dissuasion, Changes { uncased: true, ..Changes::default() });
        assert!(task.concerns(&topic("tasks")) && !task.concerns(&topic(&format!("case:{A}"))));
        assert!(Change::Province.concerns(&topic("province")) && !Change::Province.concerns(&topic("cases")));
    }

    #[test]
    fn a_page_is_told_at_once_of_a_change_between_its_rendering_and_its_stream() {
        let hub = Hub::default();
        let case_a = topic(&format!("case:{A}"));
        let rendered = hub.mark();
        hub.tell(told_by(Service::Intake, &[B]));
        assert!(!hub.listen_after(rendered, &case_a).1, "another case's change");
        hub.tell(told_by(Service::Intake, &[A]));
        assert!(hub.listen_after(rendered, &case_a).1, "its case changed meanwhile");
        let before = hub.mark();
        hub.tell_everything();
        for topic in [Topic::Case(case(B)), Topic::Cases, Topic::Tasks, Topic::Returns, Topic::Blocks] {
            assert!(hub.listen_after(before, &topic).1, "{topic} after a reconnection");
        }
        assert!(!hub.listen_after(hub.mark(), &case_a).1, "rendered after it");
        assert!(hub.listen_after(hub.mark() + 7, &case_a).1, "a mark of a console before a restart");
        let old = hub.mark();
        for _ in 0..LIVE_RECENT {
            hub.tell(told_by(Service::Blocking, &[B]));
        }
        assert!(!hub.listen_after(old, &case_a).1, "the last change out of reach is its mark");
        hub.tell(told_by(Service::Blocking, &[B]));
        assert!(hub.listen_after(old, &case_a).1, "its mark out of reach: told to look again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_is_told_once_for_a_burst_and_again_after_the_coalescing_pause() {
        let hub = Hub::default();
        let mut told = Box::pin(told(hub.listen(), topic("tasks"), false, || true));
        let task = Change::of(Service::Dissuasion, Changes { uncased: true, ..Changes::default() });
        hub.tell(told_by(Service::Blocking, &[A]));
        hub.tell(task.clone());
        assert!(told.next().await.is_some(), "told of the task");
        let first = tokio::time::Instant::now();
        for _ in 0..10 {
            hub.tell(task.clone());
        }
        assert!(told.next().await.is_some(), "the burst, told once");
        assert!(tokio::time::Instant::now() >= first + LIVE_COALESCE, "not before the pause");
        hub.tell(told_by(Service::Blocking, &[A]));
        let nothing = tokio::time::timeout(LIVE_COALESCE * 4, told.next()).await;
        assert!(nothing.is_err(), "the burst left nothing behind, and a block is not the queue's");
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_that_missed_a_change_is_told_before_any_other() {
        let hub = Hub::default();
        let mut told = Box::pin(told(hub.listen(), topic("blocks"), true, || true));
        let at = tokio::time::Instant::now();
        assert!(told.next().await.is_some());
        assert_eq!(tokio::time::Instant::now(), at, "at once");
        let nothing = tokio::time::timeout(LIVE_COALESCE * 4, told.next()).await;
        assert!(nothing.is_err(), "and then only of changes");
    }

    #[tokio::test(start_paused = true)]
    async fn a_page_whose_session_ended_is_told_nothing_more() {
        let hub = Hub::default();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let still = open.clone();
        let mut told = Box::pin(told(hub.listen(), topic("tasks"), false, move || {
            still.load(std::sync::atomic::Ordering::SeqCst)
        }));
        let task = Change::of(Service::Dissuasion, Changes { uncased: true, ..Changes::default() });
        hub.tell(task.clone());
        assert!(told.next().await.is_some());
        open.store(false, std::sync::atomic::Ordering::SeqCst);
        hub.tell(task);
        assert!(told.next().await.is_none(), "the stream ended");
    }

    #[tokio::test]
    async fn what_a_service_tells_reaches_the_pages_and_freezing_and_garbage_do_not() {
        let server = testkit::NatsServer::single().await.unwrap();
        let (ear, service) =
            (async_nats::connect(server.url()).await.unwrap(), async_nats::connect(server.url()).await.unwrap());
        let city = City::parse("hangzhou").unwrap();
        let hub = Hub::default();
        hear_city(hub.clone(), ear.clone(), city.clone()).await.unwrap();
        // A round trip on the ear's own connection: the server has its subscription once this
        // comes back (it reads a connection's operations in order; a flush only writes them).
        let mut echo = ear.subscribe("probe.echo").await.unwrap();
        ear.publish("probe.echo", "".into()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), echo.next()).await.expect("the echo").expect("a message");
        let publish = |of: Service, body: Vec<u8>| {
            let (service, subject) = (service.clone(), protocol::subjects::changes(&city, of));
            async move {
                service.publish(subject, body.into()).await.unwrap();
                service.flush().await.unwrap();
            }
        };

        // No page listens: a page rendered before a change and listening after it is told.
        let rendered = hub.mark();
        publish(Service::Blocking, protocol::to_json(&Changes { cases: vec![case(B)], ..Changes::default() })).await;
        testkit::eventually(Duration::from_secs(10), "the change kept", || {
            let hub = hub.clone();
            async move { (hub.mark() > rendered).then_some(()) }
        })
        .await;
        assert!(hub.listen_after(rendered, &Topic::Case(case(A))).1, "unread: any case may have changed");
        assert!(!hub.listen_after(rendered, &Topic::Tasks).1, "but only of blocking's");
        let rendered = hub.mark();

        let mut page = hub.listen();
        let tell = publish;
        let changes = Changes { cases: vec![case(A)], ..Changes::default() };
        tell(Service::Freezing, protocol::to_json(&changes)).await;
        tell(Service::Intake, b"{not json".to_vec()).await;
        tell(Service::Intake, protocol::to_json(&changes)).await;
        let (_, told) = tokio::time::timeout(Duration::from_secs(10), page.recv()).await.unwrap().unwrap();
        assert_eq!(told, told_by(Service::Intake, &[A]), "the first told: intake's, in order");
        assert_eq!(hub.mark(), rendered + 1, "nothing else was told");
    }
}
