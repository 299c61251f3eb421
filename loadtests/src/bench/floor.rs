//! The floor `afc-lab bench freeze` compares its time-to-freeze with, measured in the same
//! run on the idle deployment: what one level of a trace cannot do without, a NATS round
//! trip and a redb commit, each measured sequentially.

use std::time::{Duration, Instant};

use anyhow::Context;
use domain::{CaseId, City, Fen, Service};
use events::{FreezingEvent, Payload};
use futures::StreamExt;
use hdrhistogram::Histogram;
use store::{Producer, Store, WriteError};

use crate::harness::limits::HISTOGRAM_SIGFIG;
use crate::harness::recorder::micros;
use crate::secured::Connector;

/// Sequential round trips measured for the floor.
pub const RTT_SAMPLES: usize = 2_000;
/// Round trips made (and discarded) before measuring.
const RTT_WARMUP: usize = 100;
/// Size of a round-trip request, in bytes (about a stop-payment request).
const RTT_PAYLOAD_BYTES: usize = 256;
/// Longest a single floor round trip may take before the floor measurement fails.
const RTT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between asks while the round trip's responder is not yet known to the server.
const RTT_READY_POLL: Duration = Duration::from_millis(10);

/// Sequential single-event commits measured for the floor.
pub const COMMIT_SAMPLES: usize = 500;
/// Commits made (and discarded) before measuring.
const COMMIT_WARMUP: usize = 20;
/// The reported loss of each committed event (10,000 yuan): any value does, the event only
/// needs the size of a real one.
const COMMIT_LOSS_FEN: u64 = 1_000_000;

/// Round trips (µs) between two connections of the harness to `city`'s server (over TLS with
/// the harness's identity on a secured deployment, as the services' own connections are), on
/// a core subject no service uses.
pub async fn measure_rtt(connector: &Connector, city: &City) -> anyhow::Result<Histogram<u64>> {
    let subject = protocol::subjects::lab_round_trip();
    let responder = connector.city(city).await?;
    let requester = connector.city(city).await?;
    let mut subscription = responder.subscribe(subject.clone()).await?;
    responder.flush().await?;
    let answering = responder.clone();
    let task = tokio::spawn(async move {
        while let Some(message) = subscription.next().await {
            if let Some(reply) = message.reply {
                // A failed answer shows up as a request timeout on the other side.
                let _ = answering.publish(reply, message.payload).await;
            }
        }
    });
    let payload = vec![b'x'; RTT_PAYLOAD_BYTES];
    let mut histogram = Histogram::new(HISTOGRAM_SIGFIG)?;
    let measured = async {
        // The responder's interest may reach the server a moment after its flush returns: ask
        // until it answers once ("no responders" until then).
        let ready_by = Instant::now() + RTT_TIMEOUT;
        while let Err(error) = requester.request(subject.clone(), payload.clone().into()).await {
            anyhow::ensure!(Instant::now() < ready_by, "the round trip's responder never answered: {error}");
            tokio::time::sleep(RTT_READY_POLL).await;
        }
        for i in 0..RTT_WARMUP + RTT_SAMPLES {
            let body = payload.clone().into();
            let started = Instant::now();
            tokio::time::timeout(RTT_TIMEOUT, requester.request(subject.clone(), body))
                .await
                .context("round trip timed out")??;
            if i >= RTT_WARMUP {
                histogram.record(micros(started.elapsed()))?;
            }
        }
        anyhow::Ok(())
    }
    .await;
    task.abort();
    measured?;
    Ok(histogram)
}

/// Sequential single-event commits (µs) through a fresh [`Store`] in a temporary directory
/// (the same file system as the services' stores).
pub async fn measure_commit(city: &City) -> anyhow::Result<Histogram<u64>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(
        &dir.path().join("bench-commit.redb"),
        Producer { city: city.clone(), service: Service::Freezing },
        domain::system_clock(),
    )?;
    let mut histogram = Histogram::new(HISTOGRAM_SIGFIG)?;
    for i in 0..COMMIT_WARMUP + COMMIT_SAMPLES {
        let case_id = CaseId::derive(city, i as u64);
        let started = Instant::now();
        let written: Result<(), WriteError<std::convert::Infallible>> = store
            .write(move |ctx| {
                let at = ctx.now_ms();
                ctx.append(
                    Some(case_id.clone()),
                    None,
                    Payload::Freezing(FreezingEvent::TraceStarted {
                        case_id,
                        reported_at_ms: at,
                        reported_loss_fen: Fen::new(COMMIT_LOSS_FEN),
                    }),
                )?;
                Ok(())
            })
            .await;
        let elapsed = started.elapsed();
        written.map_err(|e| anyhow::anyhow!("commit {i}: {e}"))?;
        if i >= COMMIT_WARMUP {
            histogram.record(micros(elapsed))?;
        }
    }
    Ok(histogram)
}
