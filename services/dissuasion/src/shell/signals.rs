//! The signal consumer: carriers' and platforms' signals from the city's signal stream
//! (`AFC_<CITY>_SIG`, `afc.<city>.sig.>`), a batch at a time.
//!
//! Each pull takes what is ready (at most [`SIGNAL_BATCH`]); the engine steps the core on
//! every signal and records the batch in one write. Up to [`SIGNAL_BATCHES_IN_FLIGHT`]
//! batches are in the engine at once (the next is stepped while one commits), and they are
//! finished in the order they were pulled: once a batch is committed the refused ones are dead-lettered
//! (on `afc.<city>.dlq.dissuasion`, with their reason, the subscriber redacted: the original
//! stays in the signal stream for its days, named by its stream sequence) and the batch is
//! acknowledged at once (ack-all on its last message). A crash before the acknowledgement
//! redelivers the batch: the signals already recorded are duplicates now (the core keeps
//! every key of its window) and change nothing; the refused ones are dead-lettered again.
//!
//! A signal is refused, never crashing the consumer, when it is not JSON of the signal's
//! shape, when its `source` is not the one its subject names (a carrier may publish under its
//! own subject only), or when the core refuses it (`SignalProblem`: field, value, what is
//! accepted; the number is never echoed). Re-sent signals are counted as duplicates.

use std::collections::BTreeMap;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer};
use bus::{HEADER_DLQ_REASON, HEADER_DLQ_STREAM_SEQ, HEADER_DLQ_SUBJECT, Shutdown};
use domain::{City, Service};
use futures::StreamExt;
use protocol::signal::{MAX_SIGNAL_BYTES, SignalMessage};
use protocol::subjects;
use tokio::sync::oneshot;

use super::engine::{EngineMsg, EngineTx};
use crate::DissuasionError;
use crate::core::Input;
use crate::limits::{SIGNAL_ACK_WAIT, SIGNAL_BATCH, SIGNAL_BATCHES_IN_FLIGHT, SIGNAL_MAX_ACK_PENDING};

/// The durable consumer of the city's signals.
pub const SIGNAL_CONSUMER: &str = "dissuasion-signals";

/// Signals for the engine, each with its place in the pulled batch.
pub(super) struct Batch {
    pub inputs: Vec<(usize, Input)>,
}

/// What the engine did with a batch.
#[derive(Debug)]
pub(super) struct BatchOutcome {
    pub kept: usize,
    pub duplicates: usize,
    /// By place in the batch: why.
    pub refused: Vec<(usize, String)>,
    /// The batch's write: `Err` stops the consumer without acknowledging.
    pub committed: Result<(), String>,
}

impl Default for BatchOutcome {
    fn default() -> BatchOutcome {
        BatchOutcome { kept: 0, duplicates: 0, refused: Vec::new(), committed: Ok(()) }
    }
}

/// Reads a message of the signal stream as the core's input, or why it is none.
fn read(city: &City, subject: &str, payload: &[u8]) -> Result<Input, String> {
    if payload.len() > MAX_SIGNAL_BYTES {
        return Err(format!("signal of {} bytes: at most {MAX_SIGNAL_BYTES} accepted", payload.len()));
    }
    // serde's message may quote the subscriber's value: not echoed.
    let signal: SignalMessage = serde_json::from_slice(payload).map_err(|e| {
        format!(
            "not a signal (expected JSON with source, signal_id, subscriber, at_ms, what): line {} column {}",
            e.line(),
            e.column()
        )
    })?;
    let named = subjects::signal_source(city, subject);
    if named.as_deref() != Some(signal.source.as_str()) {
        let source: String = signal.source.chars().take(32).collect();
        return Err(format!("source {source:?} is not the one its subject {subject} names"));
    }
    Ok(Input::Signal(signal))
}

/// The payload a dead letter carries: the signal with its subscriber redacted, or nothing of
/// a payload that is not one (it may hold a number anywhere).
fn redacted(payload: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Object(mut object)) => {
            if object.contains_key("subscriber") {
                object.insert("subscriber".into(), "<redacted>".into());
            }
            serde_json::to_vec(&object).expect("JSON values encode")
        }
        _ => format!("{{\"unreadable\":\"{} bytes, not a JSON object\"}}", payload.len()).into_bytes(),
    }
}

/// Consumes the city's signals until shutdown; an error when the stream cannot be read or a
/// batch cannot be recorded (the service stops; a restart delivers the batch again).
pub(super) async fn run(
    js: jetstream::Context,
    city: City,
    engine: EngineTx,
    mut shutdown: Shutdown,
) -> Result<(), DissuasionError> {
    let fail = |step: &str, e: &dyn std::fmt::Display| DissuasionError::Signals(format!("{step}: {e}"));
    let stream = js.get_stream(city.signal_stream_name()).await.map_err(|e| fail("open the signal stream", &e))?;
    let config = consumer::pull::Config {
        durable_name: Some(SIGNAL_CONSUMER.to_owned()),
        filter_subject: subjects::city_signals(&city),
        ack_policy: consumer::AckPolicy::All,
        ack_wait: SIGNAL_ACK_WAIT,
        max_ack_pending: SIGNAL_MAX_ACK_PENDING,
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    };
    let consumer = stream.create_consumer(config).await.map_err(|e| fail("create the signal consumer", &e))?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(SIGNAL_BATCH)
        .messages()
        .await
        .map_err(|e| fail("pull signals", &e))?;
    let mut batches = messages.ready_chunks(SIGNAL_BATCH);
    let dead_letters = subjects::dead_letter(&city, Service::Dissuasion);
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut in_flight = futures::stream::FuturesOrdered::new();
    loop {
        let pulled = tokio::select! {
            biased;
            () = bus::stopped(&mut shutdown) => return Ok(()),
            Some(finished) = in_flight.next(), if !in_flight.is_empty() => {
                let Some(finished) = finished else { return Ok(()) };
                finish(&js, &dead_letters, finished, &mut counts).await?;
                continue;
            }
            pulled = batches.next(), if in_flight.len() < SIGNAL_BATCHES_IN_FLIGHT => pulled,
        };
        let Some(pulled) = pulled else { return Err(fail("pull signals", &"the consumer ended")) };
        let mut messages = Vec::with_capacity(pulled.len());
        for message in pulled {
            match message {
                Ok(message) => messages.push(message),
                Err(error) => tracing::warn!(%error, "a signal pull failed; continuing"),
            }
        }
        if messages.is_empty() {
            continue;
        }
        let mut refused = Vec::new();
        let mut inputs = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            match read(&city, message.subject.as_str(), &message.payload) {
                Ok(input) => inputs.push((index, input)),
                Err(reason) => refused.push((index, reason)),
            }
        }
        let (done, outcome) = oneshot::channel();
        if engine.routine.send(EngineMsg::Signals(Batch { inputs }, done)).await.is_err() {
            return Ok(());
        }
        // `None`: the engine stopped.
        in_flight.push_back(async move { outcome.await.ok().map(|outcome| InFlight { messages, refused, outcome }) });
    }
}

/// A batch handed to the engine: its messages, those refused before it, and its outcome.
struct InFlight {
    messages: Vec<jetstream::Message>,
    refused: Vec<(usize, String)>,
    outcome: BatchOutcome,
}

/// Once its batch is committed: dead-letters the refused signals, then acknowledges the batch.
async fn finish(
    js: &jetstream::Context,
    dead_letters: &str,
    batch: InFlight,
    counts: &mut BTreeMap<&'static str, u64>,
) -> Result<(), DissuasionError> {
    let fail = |step: &str, e: &dyn std::fmt::Display| DissuasionError::Signals(format!("{step}: {e}"));
    let InFlight { messages, mut refused, outcome } = batch;
    outcome.committed.map_err(|e| fail("record signals", &e))?;
    refused.extend(outcome.refused);
    for (index, reason) in &refused {
        let message = &messages[*index];
        let stream_seq = message.info().map(|info| info.stream_sequence).unwrap_or(0);
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_DLQ_REASON, reason.as_str());
        headers.insert(HEADER_DLQ_SUBJECT, message.subject.as_str());
        headers.insert(HEADER_DLQ_STREAM_SEQ, stream_seq.to_string().as_str());
        let published = js.publish_with_headers(dead_letters.to_owned(), headers, redacted(&message.payload).into());
        // Stored before the batch is acknowledged: a crash in between sends it again.
        published
            .await
            .map_err(|e| fail("dead-letter a signal", &e))?
            .await
            .map_err(|e| fail("dead-letter a signal", &e))?;
    }
    let last = messages.last().expect("a batch has a message");
    last.ack().await.map_err(|e| fail("acknowledge signals", &e))?;
    *counts.entry("kept").or_default() += outcome.kept as u64;
    *counts.entry("duplicate").or_default() += outcome.duplicates as u64;
    *counts.entry("refused").or_default() += refused.len() as u64;
    if !refused.is_empty() {
        tracing::info!(refused = refused.len(), first = %refused[0].1, ?counts, "signals refused");
    }
    tracing::debug!(batch = messages.len(), ?counts, "signals recorded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> City {
        City::parse("wuhan").unwrap()
    }

    #[test]
    fn a_signal_must_come_from_the_source_its_subject_names_and_refusals_never_echo_the_number() {
        let body = br#"{"source":"cmcc","signal_id":"s1","subscriber":"+8613800138000","at_ms":1,"what":"transfer_instructions"}"#;
        let wuhan = |source: &str| subjects::signals(&city(), source);
        assert!(read(&city(), &wuhan("cmcc"), body).is_ok());
        let forged = read(&city(), &wuhan("cucc"), body).unwrap_err();
        assert!(forged.contains(&format!("\"cmcc\" is not the one its subject {} names", wuhan("cucc"))), "{forged}");
        let hangzhou = subjects::signals(&City::parse("hangzhou").unwrap(), "cmcc");
        let other_city = read(&city(), &hangzhou, body).unwrap_err();
        assert!(other_city.contains("is not the one"), "{other_city}");
        let bad = br#"{"source":"cmcc","signal_id":"s1","subscriber":13800138000,"at_ms":1,"what":"x"}"#;
        let refused = read(&city(), &wuhan("cmcc"), bad).unwrap_err();
        assert!(!refused.contains("13800138000"), "{refused}");
        assert!(!String::from_utf8(redacted(body)).unwrap().contains("13800138000"));
        assert!(!String::from_utf8(redacted(b"13800138000 not json")).unwrap().contains("13800138000"));
    }

    #[test]
    fn platforms_publish_under_their_own_token() {
        let body = br#"{"source":"platform:alipay","signal_id":"a","subscriber":"+8613800138000","at_ms":1,"what":{"app_installed":{"app":"app:com.x"}}}"#;
        assert!(read(&city(), &subjects::signals(&city(), "platform:alipay"), body).is_ok());
        assert!(read(&city(), &subjects::signals(&city(), "platform:douyin"), body).is_err());
    }
}
