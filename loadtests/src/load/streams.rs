//! JetStream traffic over a point's measured window: events appended to each city stream
//! and sourced by the province, and at the window's end the backlog of the consumers that
//! carry a case from intake to freezing and back.

use anyhow::Context;
use domain::City;
use tokio::time::Instant;

use crate::harness::Window;

/// JetStream traffic over the measured window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamUse {
    /// Per city: events appended to the city stream per second (every service's events).
    pub city_events_per_s: Vec<(String, f64)>,
    /// Events the hub's province stream sourced per second (all cities).
    pub province_events_per_s: f64,
    /// Per city, at the window's end: messages of freezing's consumer (intake's events) and
    /// of intake's timeline consumer (freezing's events) not yet delivered or not yet
    /// acknowledged.
    pub backlog_at_end: Vec<(String, u64, u64)>,
}

/// Messages in `stream` on the JetStream of `js`.
async fn stream_messages(js: &async_nats::jetstream::Context, stream: &str) -> anyhow::Result<u64> {
    let stream = js.get_stream(stream).await.with_context(|| format!("looking up {stream}"))?;
    Ok(stream.get_info().await?.state.messages)
}

/// Undelivered plus unacknowledged messages of a durable consumer.
pub(crate) async fn consumer_backlog(
    js: &async_nats::jetstream::Context,
    stream: &str,
    consumer: &str,
) -> anyhow::Result<u64> {
    let stream = js.get_stream(stream).await.with_context(|| format!("looking up {stream}"))?;
    let info = stream.consumer_info(consumer).await.with_context(|| format!("consumer {consumer}"))?;
    Ok(info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0))
}

/// Reads the streams' message counts at the start and the end of `window`, and the
/// consumers' backlogs at its end.
pub async fn measure_streams(
    window: Window,
    cities: Vec<(City, async_nats::Client)>,
    hub: async_nats::Client,
) -> anyhow::Result<StreamUse> {
    let city_js: Vec<(City, async_nats::jetstream::Context)> =
        cities.into_iter().map(|(city, client)| (city, async_nats::jetstream::new(client))).collect();
    let hub_js = async_nats::jetstream::new(hub);
    let province = protocol::subjects::PROVINCE_STREAM;
    let counts = || async {
        let mut counts = Vec::with_capacity(city_js.len());
        for (city, js) in &city_js {
            counts.push(stream_messages(js, &city.stream_name()).await?);
        }
        anyhow::Ok((counts, stream_messages(&hub_js, province).await?))
    };
    tokio::time::sleep_until(window.start).await;
    let (before, province_before) = counts().await?;
    let started = Instant::now();
    tokio::time::sleep_until(window.end).await;
    let (after, province_after) = counts().await?;
    let seconds = started.elapsed().as_secs_f64();
    let mut backlog_at_end = Vec::with_capacity(city_js.len());
    for (city, js) in &city_js {
        let stream = city.stream_name();
        let freezing = consumer_backlog(js, &stream, freezing::shell::CONSUMER).await?;
        let timeline = consumer_backlog(js, &stream, intake::shell::TIMELINE_CONSUMER).await?;
        backlog_at_end.push((city.to_string(), freezing, timeline));
    }
    let per_s = |b: u64, a: u64| a.saturating_sub(b) as f64 / seconds;
    Ok(StreamUse {
        city_events_per_s: city_js
            .iter()
            .zip(before.iter().zip(&after))
            .map(|((city, _), (b, a))| (city.to_string(), per_s(*b, *a)))
            .collect(),
        province_events_per_s: per_s(province_before, province_after),
        backlog_at_end,
    })
}
