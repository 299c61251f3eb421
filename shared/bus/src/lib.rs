//! NATS JetStream plumbing shared by every afc service.
//!
//! - [`streams`]: provisioning of a city's event stream and of the province stream that
//!   sources every city stream across JetStream domains.
//! - [`changes`]: which cases a service changed, told every 500 ms at most (for the staff
//!   console's live pages).
//! - [`relay`]: the outbox relay: publishes committed events with `Nats-Msg-Id` = event id
//!   and removes them from the outbox only once JetStream acknowledged them.
//! - [`consumer`]: durable pull consumers that hand each event to a handler, acknowledge only
//!   after the handler committed, and move poison messages to the dead-letter subject.
//! - [`province`]: the province's link watcher, restarting a city's source in
//!   `AFC_PROVINCE` as soon as the city answers again after a cut or a hub restart.
//! - [`inbox`]: removal of inbox rows older than anything JetStream can still redeliver.
//!
//! Services do not call these directly: the service runtime (`runtime` crate) starts them
//! as supervised parts of a service.

pub mod changes;
pub mod consumer;
pub mod inbox;
pub mod limits;
pub mod province;
pub mod relay;
pub mod streams;

use std::time::Duration;

/// A shutdown signal: services stop when the value becomes `true`.
pub type Shutdown = tokio::sync::watch::Receiver<bool>;

/// A boxed error from below (NATS, a handler): kept as the source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Header naming why a message was dead-lettered.
pub const HEADER_DLQ_REASON: &str = "Afc-Dlq-Reason";
/// Header naming the subject a dead-lettered message was consumed from.
pub const HEADER_DLQ_SUBJECT: &str = "Afc-Dlq-Subject";
/// Header naming the stream sequence of a dead-lettered message.
pub const HEADER_DLQ_STREAM_SEQ: &str = "Afc-Dlq-Stream-Seq";

/// A failure talking to NATS, with what NATS said as its source.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("stream {stream}")]
    Stream {
        stream: String,
        #[source]
        source: BoxError,
    },
    #[error("consumer {consumer}")]
    Consumer {
        consumer: String,
        #[source]
        source: BoxError,
    },
    /// The durable consumer was deleted on the server while it was being consumed.
    #[error("consumer {consumer} was deleted on the server")]
    ConsumerDeleted { consumer: String },
    /// The server ended the consumer's message stream (it cannot be pulled any more).
    #[error("consumer {consumer}: the server ended its message stream")]
    ConsumerEnded {
        consumer: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Pulls kept failing for longer than [`limits::CONSUMER_PULL_GIVE_UP`].
    #[error("consumer {consumer}: pulls failed for {failing_for:?}")]
    PullsFailing {
        consumer: String,
        failing_for: Duration,
        #[source]
        source: BoxError,
    },
    #[error("publish to {subject}")]
    Publish {
        subject: String,
        #[source]
        source: BoxError,
    },
    #[error("the outbox was not drained within {0:?}")]
    DrainTimedOut(Duration),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// An error and its sources, `: `-separated: for logs and dead-letter reasons, where the
/// chain would otherwise be lost.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves when `shutdown` turns true (or its sender is gone).
pub async fn stopped(shutdown: &mut Shutdown) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_chain_names_every_source() {
        let io = std::io::Error::other("connection refused");
        let error = BusError::Stream { stream: "AFC_HUZHOU".into(), source: io.into() };
        assert_eq!(error_chain(&error), "stream AFC_HUZHOU: connection refused");
    }
}
