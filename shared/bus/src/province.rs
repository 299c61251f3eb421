//! Fast convergence of the province stream after a partition heals: [`watch_links`], run on
//! the hub (by the province coordinator), restarts the province's source of a city as soon
//! as the city's JetStream answers again while its source is silent.
//!
//! # Why the province otherwise learns late (nats-server 2.15.1, `server/stream.go`)
//!
//! `AFC_PROVINCE` copies each city through a *source consumer* it creates on the city's
//! stream across the leaf link (`trySetupSourceConsumer`: a request to
//! `$JS.<city>.API.CONSUMER.CREATE…`). When the link is cut the consumer's heartbeats
//! (`sourceHealthHB`, 1 s) stop; the stream's health check (`processAllSourceMsgs`, every
//! `sourceHealthCheckInterval`, 10 s) finds the source silent and asks for a new consumer.
//! That request crosses no link: nobody answers it, and the stream waits for the answer for
//! `srcConsumerWaitTime` (30 s) with the source marked "setup in progress" (`si.sip`).
//! Then it counts a failure and schedules the next try after `calculateRetryBackoff(fails)`
//! (`retryBackOff` 5 s × 2 × fails: 10 s, 20 s, … up to `retryMaximum`, 2 min) on top of
//! `sourceConsumerRetryThreshold` (2 s, `setupSourceConsumer`). A link restored meanwhile
//! changes none of it: the stream learns only when its pending request times out and the
//! backoff has run, about 40 s after the heal on this machine. A hub restart ends the same
//! way: the recovered stream asks for its consumers before any city's leaf is connected
//! again.
//!
//! nats-server does kick sources when a leaf connects (`leafnode.go`:
//! `checkInternalSyncConsumers` → `retryDisconnectedSyncConsumers`, which resets
//! `si.fails`), but only (a) the streams of the account the leaf is bound to, and a secured
//! hub binds each city's leaf to the city's account while `AFC_PROVINCE` lives in the
//! `PROVINCE` account, and (b) sources with no request in flight (`!si.sip`), which after a
//! cut of more than ten seconds is rarely the case. A stream *update* with unchanged
//! sources does not touch them either (`updateWithAdvisory` only sets up sources whose
//! index name is new, and cancels those that are gone).
//!
//! # What this does, and why it loses and doubles nothing
//!
//! [`restart_province_source`] updates `AFC_PROVINCE` without the city's source, then with
//! the very same source again. Removing it cancels the stalled source with its pending
//! request and schedule (`cancelSourceConsumer`); adding it back sets up a fresh one at once
//! (`setupSourceConsumer` with no failures behind it: only 100–200 ms of jitter). The
//! fresh source starts from the last city sequence the province stored
//! (`setStartingSequenceForSources`: the stream's sources state, else the
//! `Nats-Stream-Source` header of its last message from that city, the same path a
//! restarted hub takes), and `processInboundSourceMsg` ignores any city sequence at or
//! below it, so nothing is copied twice; nothing leaves the city stream meanwhile (limits
//! retention, 90 days), so nothing is lost. The city's events keep their `Nats-Msg-Id`.
//!
//! [`watch_links`] does it only for a source silent for [`PROVINCE_SOURCE_SILENT_AFTER`]
//! whose city answers `$JS.<city>.API.INFO` (so never while the link is still down), at
//! most once per [`PROVINCE_SOURCE_RESTART_COOLDOWN`] per city.
//!
//! The stream's configuration is read and written whole: a provisioner changing the
//! sources (adding a city) at the very same moment can have its change undone, and must
//! then provision again. The identity running this needs `$JS.API.STREAM.INFO` and
//! `$JS.API.STREAM.UPDATE` of `AFC_PROVINCE` and `$JS.<city>.API.INFO` of every city
//! (`security::hub::province_coordinator`).

use std::collections::BTreeMap;

use async_nats::jetstream::{self, stream};
use domain::City;
use protocol::subjects;
use tokio::time::Instant;

use crate::limits::{
    CITY_PROBE_TIMEOUT, PROVINCE_SOURCE_READD_ATTEMPTS, PROVINCE_SOURCE_READD_PAUSE, PROVINCE_SOURCE_RESTART_COOLDOWN,
    PROVINCE_SOURCE_SILENT_AFTER, PROVINCE_WATCH_INTERVAL, PROVINCE_WATCHER_RECONNECT_MAX,
};
use crate::{BusError, Shutdown, error_chain};

fn stream_error(source: impl Into<crate::BoxError>) -> BusError {
    BusError::Stream { stream: subjects::PROVINCE_STREAM.to_owned(), source: source.into() }
}

/// The city streams whose source in `AFC_PROVINCE` is silent: never heard from since the
/// hub started, or not for [`PROVINCE_SOURCE_SILENT_AFTER`] (a live source hears its
/// consumer's heartbeat every second).
pub async fn silent_sources(hub: &jetstream::Context) -> Result<Vec<String>, BusError> {
    let mut province = hub.get_stream(subjects::PROVINCE_STREAM).await.map_err(stream_error)?;
    let info = province.info().await.map_err(stream_error)?;
    let configured: Vec<String> = info.config.sources.iter().flatten().map(|source| source.name.clone()).collect();
    Ok(configured
        .into_iter()
        .filter(|name| {
            match info.sources.iter().find(|source| &source.name == name) {
                // Configured but not running (yet): nothing to restart.
                None => false,
                Some(source) => source.active.is_none_or(|active| active >= PROVINCE_SOURCE_SILENT_AFTER),
            }
        })
        .collect())
}

/// Whether `city`'s JetStream answers from the hub, across the city's leaf link, within
/// [`CITY_PROBE_TIMEOUT`]. While the link is down nobody listens, and the request fails at
/// once (no responders).
pub async fn city_answers(client: &async_nats::Client, city: &City) -> bool {
    let probe = client.request(subjects::domain_api_info(city.as_str()), bytes::Bytes::new());
    matches!(tokio::time::timeout(CITY_PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
}

/// Restarts the province's source of `city`: updates `AFC_PROVINCE` without it, then with
/// the same source again (see the module docs for why this is immediate and safe). Returns
/// `false` when the stream has no source of that city (nothing done).
///
/// # Errors
/// When the stream cannot be read or updated. If the source could be removed but not added
/// back within [`PROVINCE_SOURCE_READD_ATTEMPTS`], the error says so: the province then
/// copies nothing of the city until the source is provisioned again.
pub async fn restart_province_source(hub: &jetstream::Context, city: &City) -> Result<bool, BusError> {
    let name = city.stream_name();
    let mut province = hub.get_stream(subjects::PROVINCE_STREAM).await.map_err(stream_error)?;
    let mut config = province.info().await.map_err(stream_error)?.config.clone();
    let sources = config.sources.get_or_insert_with(Vec::new);
    let Some(at) = sources.iter().position(|source| source.name == name) else {
        return Ok(false);
    };
    let source = sources.remove(at);
    hub.update_stream(&config).await.map_err(stream_error)?;

    let mut last_error = None;
    for attempt in 0..PROVINCE_SOURCE_READD_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(PROVINCE_SOURCE_READD_PAUSE).await;
        }
        match add_source_back(hub, &source).await {
            Ok(()) => return Ok(true),
            Err(error) => last_error = Some(error),
        }
    }
    let cause = last_error.map_or_else(|| "no attempt".to_owned(), |e| error_chain(e.as_ref()));
    Err(stream_error(format!("the source of {name} was removed and could not be added back: {cause}")))
}

/// Adds `source` to `AFC_PROVINCE` unless a source of that stream is there already, on a
/// fresh read of the configuration.
async fn add_source_back(hub: &jetstream::Context, source: &stream::Source) -> Result<(), crate::BoxError> {
    let mut province = hub.get_stream(subjects::PROVINCE_STREAM).await?;
    let mut config = province.info().await?.config.clone();
    let sources = config.sources.get_or_insert_with(Vec::new);
    if sources.iter().any(|present| present.name == source.name) {
        return Ok(());
    }
    sources.push(source.clone());
    hub.update_stream(&config).await?;
    Ok(())
}

/// One look at the province's sources: restarts each silent source of `cities` whose city
/// answers again and whose last restart is older than [`PROVINCE_SOURCE_RESTART_COOLDOWN`]
/// (`restarted` keeps those times). Returns the cities restarted.
///
/// # Errors
/// When the province stream cannot be read or a restart fails.
pub async fn check_sources(
    client: &async_nats::Client,
    hub: &jetstream::Context,
    cities: &[City],
    restarted: &mut BTreeMap<City, Instant>,
) -> Result<Vec<City>, BusError> {
    let silent = silent_sources(hub).await?;
    let mut done = Vec::new();
    for city in cities {
        if !silent.contains(&city.stream_name()) {
            continue;
        }
        if restarted.get(city).is_some_and(|at| at.elapsed() < PROVINCE_SOURCE_RESTART_COOLDOWN) {
            continue;
        }
        if !city_answers(client, city).await {
            continue;
        }
        restarted.insert(city.clone(), Instant::now());
        if restart_province_source(hub, city).await? {
            done.push(city.clone());
        }
    }
    Ok(done)
}

/// Watches the province's sources every [`PROVINCE_WATCH_INTERVAL`] until `shutdown`
/// ([`check_sources`]): after a cut leaf link heals or the hub restarts, a city's events
/// reach `AFC_PROVINCE` within about a second of its JetStream answering again, instead of
/// after nats-server's source retry backoff. Failures (the hub restarting, a city flapping)
/// are logged and looked at again on the next round.
pub async fn watch_links(
    client: async_nats::Client,
    hub: jetstream::Context,
    cities: Vec<City>,
    mut shutdown: Shutdown,
) {
    let mut restarted = BTreeMap::new();
    loop {
        match check_sources(&client, &hub, &cities, &mut restarted).await {
            Ok(done) => {
                for city in done {
                    tracing::info!(%city, "restarted the province's source of a city answering again");
                }
            }
            Err(error) => tracing::warn!(error = %error_chain(&error), "province sources not checked"),
        }
        tokio::select! {
            () = crate::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(PROVINCE_WATCH_INTERVAL) => {}
        }
    }
}

/// The reconnect delay for the connection [`watch_links`] runs on
/// (`ConnectOptions::reconnect_delay_callback`): 50 ms more an attempt, at most
/// [`PROVINCE_WATCHER_RECONNECT_MAX`]. The client's default doubles up to 4 s, which after a
/// hub restart of a few seconds alone costs the watcher up to 4 s.
pub fn reconnect_delay(attempts: usize) -> std::time::Duration {
    let step = std::time::Duration::from_millis(50);
    step.saturating_mul(u32::try_from(attempts).unwrap_or(u32::MAX)).min(PROVINCE_WATCHER_RECONNECT_MAX)
}
