//! Durable pull consumers with ack-after-commit and a dead-letter subject.
//!
//! Each message is decoded and handed to the handler. The handler commits its effects (and
//! the message id in its inbox) to redb before it returns; only then is the message
//! acknowledged. The ack is not confirmed by the server (no double ack): handlers are
//! idempotent through their inbox, so a lost ack costs one redelivery and nothing else. A message that can never be processed —
//! undecodable, or rejected by the handler as poison — is copied to
//! `afc.<city>.dlq.<service>` with the reason in a header and terminated, and the consumer
//! goes on. A transient failure is negatively acknowledged and redelivered with backoff,
//! up to `CONSUMER_MAX_DELIVER` times, then dead-lettered too.

use std::future::Future;
use std::sync::Arc;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer};
use domain::City;
use events::Envelope;
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::limits::{
    CONSUMER_ACK_WAIT, CONSUMER_BACKOFF, CONSUMER_IN_FLIGHT, CONSUMER_MAX_ACK_PENDING, CONSUMER_MAX_DELIVER,
    CONSUMER_PULL_BATCH,
};
use crate::{BusError, HEADER_DLQ_REASON, HEADER_DLQ_STREAM_SEQ, HEADER_DLQ_SUBJECT, Shutdown, stopped};

/// Why a handler could not process an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be processed; it goes to the dead-letter subject.
    #[error("poison: {0}")]
    Poison(String),
    /// Processing failed for now (storage, a dependency); the event is redelivered.
    #[error("transient: {0}")]
    Transient(String),
}

/// Which events a consumer receives.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The city whose stream is consumed (and where dead letters go).
    pub city: City,
    /// Durable consumer name, e.g. `freezing`.
    pub durable: String,
    /// The consuming service, naming the dead-letter subject.
    pub service: String,
    /// Subject filter, e.g. `afc.hangzhou.evt.intake.>`.
    pub filter: String,
}

/// Creates (or binds to) the durable consumer described by `spec`.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> Result<consumer::Consumer<consumer::pull::Config>, BusError> {
    let consumer_error =
        |e: &dyn std::fmt::Display| BusError::Consumer { consumer: spec.durable.clone(), message: e.to_string() };
    let stream = js.get_stream(spec.city.stream_name()).await.map_err(|e| consumer_error(&e))?;
    let config = consumer::pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subject: spec.filter.clone(),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: CONSUMER_ACK_WAIT,
        max_deliver: CONSUMER_MAX_DELIVER,
        backoff: CONSUMER_BACKOFF.to_vec(),
        max_ack_pending: CONSUMER_MAX_ACK_PENDING,
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    };
    stream.get_or_create_consumer(&spec.durable, config).await.map_err(|e| consumer_error(&e))
}

/// Consumes until shutdown, running up to `CONSUMER_IN_FLIGHT` handlers at once.
pub async fn run_consumer<H, Fut>(
    js: jetstream::Context,
    spec: ConsumerSpec,
    handler: H,
    mut shutdown: Shutdown,
) -> Result<(), BusError>
where
    H: Fn(Envelope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandleError>> + Send + 'static,
{
    let consumer = ensure_consumer(&js, &spec).await?;
    let consumer_error =
        |e: &dyn std::fmt::Display| BusError::Consumer { consumer: spec.durable.clone(), message: e.to_string() };
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(CONSUMER_PULL_BATCH)
        .messages()
        .await
        .map_err(|e| consumer_error(&e))?;
    let handler = Arc::new(handler);
    let slots = Arc::new(Semaphore::new(CONSUMER_IN_FLIGHT));
    let spec = Arc::new(spec);
    loop {
        let next = tokio::select! {
            next = messages.next() => next,
            () = stopped(&mut shutdown) => break,
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(error)) => {
                tracing::warn!(consumer = %spec.durable, %error, "pull failed; continuing");
                continue;
            }
            None => break,
        };
        let permit = slots.clone().acquire_owned().await.expect("semaphore never closes");
        let (js, handler, spec) = (js.clone(), handler.clone(), spec.clone());
        tokio::spawn(async move {
            handle_one(&js, &spec, handler.as_ref(), message).await;
            drop(permit);
        });
    }
    // Wait for handlers in flight so their acks are sent.
    let _ = slots.acquire_many(CONSUMER_IN_FLIGHT as u32).await;
    Ok(())
}

async fn handle_one<H, Fut>(js: &jetstream::Context, spec: &ConsumerSpec, handler: &H, message: jetstream::Message)
where
    H: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    let outcome = match events::decode(&message.payload) {
        Ok(envelope) => handler(envelope).await,
        Err(error) => Err(HandleError::Poison(error.to_string())),
    };
    let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
    let result = match outcome {
        // A plain ack: a lost one only means a redelivery, which the handler's inbox
        // recognises and acknowledges again without effect.
        Ok(()) => message.ack().await,
        Err(HandleError::Transient(reason)) if delivered < CONSUMER_MAX_DELIVER => {
            let index = usize::try_from(delivered - 1).unwrap_or(0).min(CONSUMER_BACKOFF.len() - 1);
            tracing::warn!(consumer = %spec.durable, %reason, delivered, "handler failed; will redeliver");
            message.ack_with(AckKind::Nak(Some(CONSUMER_BACKOFF[index]))).await
        }
        Err(HandleError::Transient(reason)) => {
            let reason = format!("gave up after {delivered} deliveries: {reason}");
            dead_letter_and_term(js, spec, &message, &reason).await
        }
        Err(HandleError::Poison(reason)) => dead_letter_and_term(js, spec, &message, &reason).await,
    };
    if let Err(error) = result {
        tracing::warn!(consumer = %spec.durable, %error, "ack failed; the message will be redelivered");
    }
}

async fn dead_letter_and_term(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    message: &jetstream::Message,
    reason: &str,
) -> Result<(), async_nats::Error> {
    let subject = protocol::subjects::dead_letter(&spec.city, &spec.service);
    let stream_seq = message.info().map(|info| info.stream_sequence).unwrap_or(0);
    tracing::error!(consumer = %spec.durable, %reason, stream_seq, dlq = %subject, "dead-lettering message");
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_DLQ_REASON, reason);
    headers.insert(HEADER_DLQ_SUBJECT, message.subject.as_str());
    headers.insert(HEADER_DLQ_STREAM_SEQ, stream_seq.to_string().as_str());
    // The dead letter must be stored before the original is terminated: otherwise a crash in
    // between would lose the message.
    js.publish_with_headers(subject, headers, message.payload.clone()).await?.await?;
    message.ack_with(AckKind::Term).await
}
