//! Durable pull consumers with ack-after-commit and a dead-letter subject.
//!
//! Each message is decoded and handed to the handler. The handler commits its effects (and
//! the message id in its inbox) to redb before it returns; only then is the message
//! acknowledged. The ack is not confirmed by the server (no double ack): handlers are
//! idempotent through their inbox, so a lost ack costs one redelivery and nothing else. A
//! message that can never be processed — undecodable, or rejected by the handler as poison —
//! is copied to `afc.<city>.dlq.<service>` with the reason in a header and terminated, and
//! the consumer goes on. A transient failure is negatively acknowledged with a delay
//! ([`Redelivery::nak_delays`]) and redelivered, up to `max_deliver` times, then
//! dead-lettered too. A delivery nobody answers (the handler hung, the process died) is
//! redelivered after `ack_wait`; when the server gives up on such a message after
//! `max_deliver` deliveries it says so in an advisory, and the consumer dead-letters the
//! message from the stream then: no message is dropped silently.
//!
//! The consumer ends with an error when it cannot go on: the durable consumer was deleted
//! on the server, the server ended its message stream, or pulls kept failing for
//! [`CONSUMER_PULL_GIVE_UP`]. The service then stops, and its restart binds (or creates) the
//! consumer again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{self, AckKind, consumer};
use domain::{City, Service};
use events::Envelope;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::limits::{
    CONSUMER_ACK_WAIT, CONSUMER_IDLE_HEARTBEAT, CONSUMER_IN_FLIGHT, CONSUMER_MAX_ACK_PENDING, CONSUMER_MAX_DELIVER,
    CONSUMER_NAK_DELAYS, CONSUMER_PULL_BATCH, CONSUMER_PULL_GIVE_UP,
};
use crate::{
    BoxError, BusError, HEADER_DLQ_REASON, HEADER_DLQ_STREAM_SEQ, HEADER_DLQ_SUBJECT, Shutdown, error_chain, stopped,
};

/// Why a handler could not process an event, with the cause as its source.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be processed; it goes to the dead-letter subject.
    #[error("poison message")]
    Poison(#[source] BoxError),
    /// Processing failed for now (storage, a dependency); the event is redelivered.
    #[error("transient failure")]
    Transient(#[source] BoxError),
}

impl HandleError {
    pub fn poison(cause: impl Into<BoxError>) -> HandleError {
        HandleError::Poison(cause.into())
    }

    pub fn transient(cause: impl Into<BoxError>) -> HandleError {
        HandleError::Transient(cause.into())
    }

    /// The cause and its sources, without the kind.
    pub fn reason(&self) -> String {
        let (HandleError::Poison(cause) | HandleError::Transient(cause)) = self;
        error_chain(cause.as_ref())
    }
}

/// Which events a consumer receives.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The city whose stream is consumed (and where dead letters go).
    pub city: City,
    /// Durable consumer name, e.g. `freezing`.
    pub durable: String,
    /// The consuming service, naming the dead-letter subject.
    pub service: Service,
    /// Subject filter, e.g. `afc.hangzhou.evt.intake.>` (from `protocol::subjects`).
    pub filter: String,
    /// When messages are delivered again.
    pub redelivery: Redelivery,
}

/// When a consumer's messages are delivered again. The effective values are these: the
/// consumer sets no server-side `backoff` (see [`CONSUMER_ACK_WAIT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redelivery {
    /// How long a delivery may stay unanswered before the server delivers it again.
    pub ack_wait: std::time::Duration,
    /// Delay before the next delivery after the n-th transient failure (the last repeats).
    pub nak_delays: Vec<std::time::Duration>,
    /// Deliveries at most; the message is dead-lettered after the last.
    pub max_deliver: i64,
}

impl Default for Redelivery {
    fn default() -> Self {
        Redelivery {
            ack_wait: CONSUMER_ACK_WAIT,
            nak_delays: CONSUMER_NAK_DELAYS.to_vec(),
            max_deliver: CONSUMER_MAX_DELIVER,
        }
    }
}

impl Redelivery {
    /// The delay of the negative ack after the `delivered`-th delivery failed.
    fn nak_delay(&self, delivered: i64) -> std::time::Duration {
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(0);
        self.nak_delays.get(index).or(self.nak_delays.last()).copied().unwrap_or_default()
    }
}

/// What a consumer shows of itself to its node's health and metrics, kept with atomics by
/// the consume loop: whether it holds its consumer, and counts (no message's content).
#[derive(Debug, Default)]
pub struct ConsumerStats {
    attached: AtomicBool,
    redeliveries: AtomicU64,
    dead_letters: AtomicU64,
    pending: AtomicU64,
}

impl ConsumerStats {
    /// Whether the consume loop holds its durable consumer and pulls from it.
    pub fn attached(&self) -> bool {
        self.attached.load(Ordering::Relaxed)
    }

    /// Messages handed to the handler again (delivered more than once).
    pub fn redeliveries(&self) -> u64 {
        self.redeliveries.load(Ordering::Relaxed)
    }

    /// Messages copied to the dead-letter subject.
    pub fn dead_letters(&self) -> u64 {
        self.dead_letters.load(Ordering::Relaxed)
    }

    /// Messages of the stream the consumer had still to deliver, as of its last delivery
    /// (its lag).
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }
}

/// Clears [`ConsumerStats::attached`] however the consume loop ends (error, abort, panic).
struct Attached(Arc<ConsumerStats>);

impl Drop for Attached {
    fn drop(&mut self) {
        self.0.attached.store(false, Ordering::Relaxed);
    }
}

/// Creates (or binds to) the durable consumer described by `spec`.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> Result<consumer::Consumer<consumer::pull::Config>, BusError> {
    let consumer_error = |source: BoxError| BusError::Consumer { consumer: spec.durable.clone(), source };
    let stream = js.get_stream(spec.city.stream_name()).await.map_err(|e| consumer_error(e.into()))?;
    let config = consumer::pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subject: spec.filter.clone(),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: spec.redelivery.ack_wait,
        max_deliver: spec.redelivery.max_deliver,
        // No server-side backoff: it would replace `ack_wait` (see CONSUMER_ACK_WAIT).
        backoff: Vec::new(),
        max_ack_pending: CONSUMER_MAX_ACK_PENDING,
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    };
    // Create, or update a durable of an earlier configuration: the config above is the truth.
    let info = stream.create_consumer(config).await.map_err(|e| consumer_error(e.into()))?;
    Ok(info)
}

/// Whether the server says `spec`'s consumer does not exist (not when it cannot be asked).
async fn consumer_is_gone(js: &jetstream::Context, spec: &ConsumerSpec) -> bool {
    let Ok(stream) = js.get_stream(spec.city.stream_name()).await else { return false };
    match stream.consumer_info(&spec.durable).await {
        Ok(_) => false,
        Err(error) => match error.kind() {
            ConsumerInfoErrorKind::NotFound => true,
            ConsumerInfoErrorKind::JetStream(e) => e.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND,
            _ => false,
        },
    }
}

/// Consumes until shutdown, running up to `CONSUMER_IN_FLIGHT` handlers at once. Returns
/// `Ok` after shutdown once the handlers in flight are done, or an error when the consumer
/// cannot go on (see the module documentation).
pub async fn run_consumer<H, Fut>(
    js: jetstream::Context,
    spec: ConsumerSpec,
    handler: H,
    shutdown: Shutdown,
) -> Result<(), BusError>
where
    H: Fn(Envelope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
{
    run_consumer_counted(js, spec, Arc::default(), handler, shutdown).await
}

/// [`run_consumer`], showing what it does in `stats`.
pub async fn run_consumer_counted<H, Fut>(
    js: jetstream::Context,
    spec: ConsumerSpec,
    stats: Arc<ConsumerStats>,
    handler: H,
    mut shutdown: Shutdown,
) -> Result<(), BusError>
where
    H: Fn(Envelope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
{
    let consumer = ensure_consumer(&js, &spec).await?;
    // Subscribed before pulling, so no advisory of this run is missed.
    let advisory = protocol::subjects::max_deliveries_advisory(&spec.city.stream_name(), &spec.durable);
    let mut given_up = js
        .client()
        .subscribe(advisory)
        .await
        .map_err(|e| BusError::Consumer { consumer: spec.durable.clone(), source: e.into() })?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(CONSUMER_PULL_BATCH)
        .heartbeat(CONSUMER_IDLE_HEARTBEAT)
        .messages()
        .await;
    let mut messages = match messages {
        Ok(messages) => messages,
        // Deleted between its creation and the first pull: told as a deletion at any later
        // moment is.
        Err(_) if consumer_is_gone(&js, &spec).await => {
            return Err(BusError::ConsumerDeleted { consumer: spec.durable.clone() });
        }
        Err(error) => return Err(BusError::Consumer { consumer: spec.durable.clone(), source: error.into() }),
    };
    stats.attached.store(true, Ordering::Relaxed);
    let _attached = Attached(stats.clone());
    let handler = Arc::new(handler);
    let slots = Arc::new(Semaphore::new(CONSUMER_IN_FLIGHT));
    let spec = Arc::new(spec);
    // Since when pulls have failed without a message in between.
    let mut failing_since: Option<Instant> = None;
    let outcome = loop {
        let next = tokio::select! {
            next = messages.next() => next,
            Some(advisory) = given_up.next() => {
                if let Err(error) = dead_letter_given_up(&js, &spec, &stats, &advisory.payload).await {
                    // Not lost: the message stays in the stream, and the error is in the log
                    // with its sequence number.
                    tracing::error!(consumer = %spec.durable, error = %error, "could not dead-letter a message the server gave up on");
                }
                continue;
            }
            () = stopped(&mut shutdown) => break Ok(()),
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(error)) => match error.kind() {
                MessagesErrorKind::ConsumerDeleted => {
                    break Err(BusError::ConsumerDeleted { consumer: spec.durable.clone() });
                }
                MessagesErrorKind::PushBasedConsumer | MessagesErrorKind::RequestLimitExceeded => {
                    break Err(BusError::ConsumerEnded { consumer: spec.durable.clone(), source: Some(error.into()) });
                }
                // A consumer deleted while no pull was outstanding gets no notice: its pulls
                // go unanswered, heartbeats included. Ask the server whether it is there.
                _ if consumer_is_gone(&js, &spec).await => {
                    break Err(BusError::ConsumerDeleted { consumer: spec.durable.clone() });
                }
                _ => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= CONSUMER_PULL_GIVE_UP {
                        let failing_for = since.elapsed();
                        break Err(BusError::PullsFailing {
                            consumer: spec.durable.clone(),
                            failing_for,
                            source: error.into(),
                        });
                    }
                    tracing::warn!(consumer = %spec.durable, error = error_chain(&error), "pull failed; continuing");
                    continue;
                }
            },
            None => break Err(BusError::ConsumerEnded { consumer: spec.durable.clone(), source: None }),
        };
        failing_since = None;
        let permit = slots.clone().acquire_owned().await.expect("semaphore never closes");
        let (js, handler, spec, stopping) = (js.clone(), handler.clone(), spec.clone(), shutdown.clone());
        let stats = stats.clone();
        tokio::spawn(async move {
            handle_one(&js, &spec, &stats, handler.as_ref(), message, &stopping).await;
            drop(permit);
        });
    };
    // Wait for handlers in flight so their acks are sent.
    let in_flight = u32::try_from(CONSUMER_IN_FLIGHT).expect("a small bound");
    let _ = slots.acquire_many(in_flight).await;
    outcome
}

async fn handle_one<H, Fut>(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    stats: &ConsumerStats,
    handler: &H,
    message: jetstream::Message,
    stopping: &Shutdown,
) where
    H: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    if let Ok(info) = message.info() {
        stats.pending.store(info.pending, Ordering::Relaxed);
        if info.delivered > 1 {
            stats.redeliveries.fetch_add(1, Ordering::Relaxed);
        }
    }
    let outcome = match events::decode(&message.payload) {
        Ok(envelope) => handler(envelope).await,
        Err(error) => Err(HandleError::poison(error)),
    };
    let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
    let result = match outcome {
        // A plain ack: a lost one only means a redelivery, which the handler's inbox
        // recognises and acknowledges again without effect.
        Ok(()) => message.ack().await,
        Err(error @ HandleError::Transient(_)) if delivered < spec.redelivery.max_deliver => {
            // A handler in flight when the service stops finds its engine gone: expected, and
            // the message is delivered again at the next start.
            if *stopping.borrow() {
                tracing::debug!(consumer = %spec.durable, reason = error.reason(), delivered, "stopping; will redeliver");
            } else {
                tracing::warn!(consumer = %spec.durable, reason = error.reason(), delivered, "handler failed; will redeliver");
            }
            message.ack_with(AckKind::Nak(Some(spec.redelivery.nak_delay(delivered)))).await
        }
        Err(error @ HandleError::Transient(_)) => {
            let reason = format!("gave up after {delivered} deliveries: {}", error.reason());
            dead_letter_and_term(js, spec, stats, &message, &reason).await
        }
        Err(error @ HandleError::Poison(_)) => dead_letter_and_term(js, spec, stats, &message, &error.reason()).await,
    };
    if let Err(error) = result {
        tracing::warn!(consumer = %spec.durable, error = error_chain(error.as_ref()), "ack failed; the message will be redelivered");
    }
}

/// The part of nats-server's max-deliveries advisory this reads.
#[derive(serde::Deserialize)]
struct GivenUp {
    stream_seq: u64,
    deliveries: u64,
}

/// Copies the message the server gave up on (after `max_deliver` unanswered deliveries)
/// from the stream to the dead-letter subject. The server delivers it no more, so there is
/// nothing to terminate.
async fn dead_letter_given_up(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    stats: &ConsumerStats,
    advisory: &[u8],
) -> Result<(), BoxError> {
    let given_up: GivenUp = serde_json::from_slice(advisory)?;
    let stream = js.get_stream(spec.city.stream_name()).await?;
    let message = stream.get_raw_message(given_up.stream_seq).await?;
    let reason = format!(
        "no answer after {} deliveries of {} s each (max_deliver); the server gave up on it",
        given_up.deliveries,
        spec.redelivery.ack_wait.as_secs()
    );
    let subject = protocol::subjects::dead_letter(&spec.city, spec.service);
    tracing::error!(consumer = %spec.durable, %reason, stream_seq = given_up.stream_seq, dlq = %subject, "dead-lettering message");
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_DLQ_REASON, reason.as_str());
    headers.insert(HEADER_DLQ_SUBJECT, message.subject.as_str());
    headers.insert(HEADER_DLQ_STREAM_SEQ, given_up.stream_seq.to_string().as_str());
    js.publish_with_headers(subject, headers, message.payload).await?.await?;
    stats.dead_letters.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn dead_letter_and_term(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    stats: &ConsumerStats,
    message: &jetstream::Message,
    reason: &str,
) -> Result<(), async_nats::Error> {
    let subject = protocol::subjects::dead_letter(&spec.city, spec.service);
    let stream_seq = message.info().map(|info| info.stream_sequence).unwrap_or(0);
    tracing::error!(consumer = %spec.durable, %reason, stream_seq, dlq = %subject, "dead-lettering message");
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_DLQ_REASON, reason);
    headers.insert(HEADER_DLQ_SUBJECT, message.subject.as_str());
    headers.insert(HEADER_DLQ_STREAM_SEQ, stream_seq.to_string().as_str());
    // The dead letter must be stored before the original is terminated: otherwise a crash in
    // between would lose the message.
    js.publish_with_headers(subject, headers, message.payload.clone()).await?.await?;
    stats.dead_letters.fetch_add(1, Ordering::Relaxed);
    message.ack_with(AckKind::Term).await
}
