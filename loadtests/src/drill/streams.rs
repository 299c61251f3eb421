//! Reading a city's events back from its stream at the end of a drill.

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use domain::City;
use events::{Envelope, Service};
use futures::StreamExt;

/// Events read back from one service of one city's stream at most.
const MAX_EVENTS_READ: usize = 2_000_000;
/// Longest wait for the next event when reading a stream back.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Every event `service` published in `city`'s stream, in stream order, each once (by id).
pub(crate) async fn read_back(js: &jetstream::Context, city: &City, service: Service) -> anyhow::Result<Vec<Envelope>> {
    let stream = js.get_stream(city.stream_name()).await.with_context(|| format!("opening {city}'s stream"))?;
    let filter = protocol::subjects::service_events(city, service);
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: filter.clone(),
            ..Default::default()
        })
        .await
        .with_context(|| format!("reading {filter} back"))?;
    let mut messages = consumer.messages().await?;
    let mut seen = std::collections::HashSet::new();
    let mut events = Vec::new();
    let mut read = 0usize;
    while read < MAX_EVENTS_READ {
        let Ok(next) = tokio::time::timeout(READ_BACK_TIMEOUT, messages.next()).await else {
            // Nothing at all within the timeout: the service published no event in the city.
            anyhow::ensure!(read == 0, "reading {filter} back stalled after {read} messages");
            break;
        };
        read += 1;
        let Some(message) = next else { break };
        let message = message.map_err(|e| anyhow::anyhow!("reading {filter} back: {e}"))?;
        let pending = message.info().map_err(|e| anyhow::anyhow!("{e}"))?.pending;
        if let Ok(envelope) = events::decode(&message.payload)
            && seen.insert(envelope.id.clone())
        {
            events.push(envelope);
        }
        if pending == 0 {
            break;
        }
    }
    Ok(events)
}
