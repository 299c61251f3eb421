//! One Chrome DevTools Protocol connection: the browser's WebSocket, over which commands go
//! out with an id and come back answered by that id, and events come unasked.
//!
//! Every tab is a flattened session on this one socket (`Target.attachToTarget` with
//! `flatten: true`): its commands and events carry its `sessionId`. A reader task answers
//! the pending commands and publishes every event on a broadcast channel; a waiter
//! subscribes *before* it sends the command whose consequence it awaits, so the event cannot
//! slip past between the answer and the subscription.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::SplitSink;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{BrowserError, EVENT_BUFFER};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a command's answer is: its `result`, or its `error`'s code and message.
type Answer = Result<Value, (i64, String)>;

/// An event Chromium sent unasked.
#[derive(Debug)]
pub(crate) struct Event {
    /// The session (tab) it concerns; `None` for the browser's own events.
    pub(crate) session: Option<String>,
    /// E.g. `Page.lifecycleEvent`.
    pub(crate) method: String,
    /// Its parameters.
    pub(crate) params: Value,
}

/// The commands sent and not yet answered, and why the connection closed once it has.
#[derive(Default)]
struct Pending {
    /// Answer slots by command id.
    waiting: HashMap<u64, oneshot::Sender<Answer>>,
    /// Set when the reader stops: no command can be answered after it.
    closed: Option<String>,
}

/// The browser's DevTools connection, shared by the browser and its tabs.
pub(crate) struct Connection {
    /// The WebSocket URL, for errors.
    url: String,
    /// The sending half of the socket; commands are sent one whole message at a time.
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    /// The commands awaiting an answer.
    pending: Arc<Mutex<Pending>>,
    /// The next command id.
    next_id: AtomicU64,
    /// Every event, to whoever subscribed.
    events: broadcast::Sender<Arc<Event>>,
    /// The task reading the socket; stopped with the connection.
    reader: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Opens the WebSocket at `url` (`ws://127.0.0.1:<port>/devtools/browser/<id>`).
    pub(crate) async fn open(url: &str, timeout: Duration) -> Result<Connection, BrowserError> {
        let connected = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url)).await;
        let (socket, _) = match connected {
            Ok(Ok(opened)) => opened,
            Ok(Err(error)) => {
                return Err(BrowserError::Connection { url: url.to_owned(), detail: error.to_string() });
            }
            Err(_) => {
                return Err(BrowserError::Timeout {
                    what: format!("the devtools websocket {url} to open"),
                    timeout,
                    last: "no handshake".to_owned(),
                });
            }
        };
        let (sink, mut stream) = socket.split();
        let pending = Arc::new(Mutex::new(Pending::default()));
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let reader = tokio::spawn({
            let pending = pending.clone();
            let events = events.clone();
            async move {
                let reason = loop {
                    match stream.next().await {
                        Some(Ok(Message::Text(text))) => dispatch(text.as_str(), &pending, &events),
                        Some(Ok(Message::Close(frame))) => break format!("closed by chromium ({frame:?})"),
                        Some(Ok(_)) => {}
                        Some(Err(error)) => break format!("read failed: {error}"),
                        None => break "closed by chromium".to_owned(),
                    }
                };
                let mut pending = pending.lock().expect("no panic while holding the pending lock");
                pending.closed = Some(reason);
                // Dropping the answer slots fails each waiting command with the reason.
                pending.waiting.clear();
            }
        });
        Ok(Connection {
            url: url.to_owned(),
            sink: tokio::sync::Mutex::new(sink),
            pending,
            next_id: AtomicU64::new(1),
            events,
            reader,
        })
    }

    /// A receiver of every event from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// Sends `method` with `params` to `session` (the browser itself when `None`) and returns
    /// its result, waiting at most `timeout` for the answer.
    pub(crate) async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        {
            let mut pending = self.pending.lock().expect("no panic while holding the pending lock");
            if let Some(reason) = &pending.closed {
                return Err(self.closed(method, reason));
            }
            pending.waiting.insert(id, answer);
        }
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = Value::from(session);
        }
        let sent = self.sink.lock().await.send(Message::text(command.to_string())).await;
        if let Err(error) = sent {
            self.forget(id);
            return Err(BrowserError::Connection {
                url: self.url.clone(),
                detail: format!("sending {method}: {error}"),
            });
        }
        match tokio::time::timeout(timeout, answered).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err((code, message)))) => Err(BrowserError::Protocol { method: method.to_owned(), code, message }),
            Ok(Err(_)) => {
                let pending = self.pending.lock().expect("no panic while holding the pending lock");
                Err(self.closed(method, pending.closed.as_deref().unwrap_or("closed")))
            }
            Err(_) => {
                self.forget(id);
                Err(BrowserError::Timeout {
                    what: format!("chromium's answer to {method}"),
                    timeout,
                    last: "no answer".to_owned(),
                })
            }
        }
    }

    fn forget(&self, id: u64) {
        self.pending.lock().expect("no panic while holding the pending lock").waiting.remove(&id);
    }

    fn closed(&self, method: &str, reason: &str) -> BrowserError {
        BrowserError::Connection { url: self.url.clone(), detail: format!("{reason}, before answering {method}") }
    }
}

/// Routes one message from Chromium: an answer to its waiting command, an event to the
/// subscribers. Anything else is logged and skipped: one odd message must not stop a test.
fn dispatch(text: &str, pending: &Mutex<Pending>, events: &broadcast::Sender<Arc<Event>>) {
    let Ok(mut message) = serde_json::from_str::<Value>(text) else {
        tracing::warn!(message = %text.chars().take(200).collect::<String>(), "devtools sent something that is not JSON");
        return;
    };
    if let Some(id) = message.get("id").and_then(Value::as_u64) {
        let answer = match message.get_mut("error") {
            Some(error) => Err((
                error.get("code").and_then(Value::as_i64).unwrap_or_default(),
                error.get("message").and_then(Value::as_str).unwrap_or("no message").to_owned(),
            )),
            None => Ok(message.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
        };
        let slot = pending.lock().expect("no panic while holding the pending lock").waiting.remove(&id);
        if let Some(slot) = slot {
            // The caller may have timed out and gone; nobody to tell then.
            let _ = slot.send(answer);
        }
    } else if let Some(method) = message.get("method").and_then(Value::as_str) {
        let event = Event {
            session: message.get("sessionId").and_then(Value::as_str).map(str::to_owned),
            method: method.to_owned(),
            params: message.get_mut("params").map(Value::take).unwrap_or(Value::Null),
        };
        // No subscriber is fine: nobody is waiting for anything.
        let _ = events.send(Arc::new(event));
    }
}

/// Waits on `events` until `pick` returns `Some` for one, before `deadline`.
///
/// `what` names the awaited event in the timeout error. A receiver that fell more than
/// [`EVENT_BUFFER`] events behind fails rather than guess what it missed.
pub(crate) async fn next_event<T>(
    events: &mut broadcast::Receiver<Arc<Event>>,
    deadline: Instant,
    timeout: Duration,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> Result<T, BrowserError> {
    let awaited = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return Ok(found);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    return Err(format!("missed {missed} devtools events (more than {EVENT_BUFFER} behind)"));
                }
                Err(broadcast::error::RecvError::Closed) => return Err("the devtools connection closed".to_owned()),
            }
        }
    };
    match tokio::time::timeout_at(deadline, awaited).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(last)) => Err(BrowserError::Timeout { what: what.to_owned(), timeout, last }),
        Err(_) => Err(BrowserError::Timeout { what: what.to_owned(), timeout, last: "not seen".to_owned() }),
    }
}
