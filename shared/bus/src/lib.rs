//! NATS JetStream plumbing shared by every afc service.
//!
//! - [`streams`]: provisioning of a city's event stream and of the province stream that
//!   sources every city stream across JetStream domains.
//! - [`relay`]: the outbox relay: publishes committed events with `Nats-Msg-Id` = event id
//!   and removes them from the outbox only once JetStream acknowledged them.
//! - [`consumer`]: durable pull consumers that hand each event to a handler, acknowledge only
//!   after the handler committed, and move poison messages to the dead-letter subject.
//! - [`inbox`]: removal of inbox rows older than anything JetStream can still redeliver.

pub mod consumer;
pub mod inbox;
pub mod limits;
pub mod relay;
pub mod streams;

/// A shutdown signal: services stop when the value becomes `true`.
pub type Shutdown = tokio::sync::watch::Receiver<bool>;

/// Header naming why a message was dead-lettered.
pub const HEADER_DLQ_REASON: &str = "Afc-Dlq-Reason";
/// Header naming the subject a dead-lettered message was consumed from.
pub const HEADER_DLQ_SUBJECT: &str = "Afc-Dlq-Subject";
/// Header naming the stream sequence of a dead-lettered message.
pub const HEADER_DLQ_STREAM_SEQ: &str = "Afc-Dlq-Stream-Seq";

/// A failure talking to NATS.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("stream {stream}: {message}")]
    Stream { stream: String, message: String },
    #[error("consumer {consumer}: {message}")]
    Consumer { consumer: String, message: String },
    #[error("publish to {subject}: {message}")]
    Publish { subject: String, message: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Starts a service's producing side: makes sure its city's stream exists and runs the
/// outbox relay until shutdown. Await the handle on shutdown: the relay returns once it
/// stopped publishing.
pub async fn start_producer(
    js: &async_nats::jetstream::Context,
    city: &domain::City,
    store: store::Store,
    shutdown: Shutdown,
) -> Result<tokio::task::JoinHandle<()>, BusError> {
    streams::ensure_city_stream(js, city).await?;
    Ok(tokio::spawn(relay::run_relay(js.clone(), store, shutdown)))
}

/// Resolves when `shutdown` turns true (or its sender is gone).
pub async fn stopped(shutdown: &mut Shutdown) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}
