//! An embedded deployment: a province hub and city nodes (real nats-servers spawned by the
//! testkit), the cities' services in this process with their redb files in a temporary
//! directory, and the simulated banks and payment platforms of a [`World`]. Used by
//! `afc-lab demo`, the benchmarks, load, drills and the integration tests.

use freezing::rule::TracingRule;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use domain::{AccountRef, CaseId, City, Fen, SharedClock};
use events::{FreezingEvent, Payload};
use futures::StreamExt;
use simulator::World;
use simulator::schedule::{DriverHandle, spawn_driver};
use simulator::serve::{ServeHandle, ServeOptions, serve_as};
use testkit::{Province, ProvinceOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::city_process::CityProcess;
use crate::secured::{self, CityRole};
use afc::host::CityOptions;

/// The cities a deployment of N cities takes the first N of (Zhejiang's eleven prefectures).
pub const CITIES: [&str; 11] = [
    "hangzhou", "wenzhou", "huzhou", "ningbo", "jiaxing", "shaoxing", "jinhua", "quzhou", "zhoushan", "taizhou",
    "lishui",
];

/// Longest wait for a city's services to answer after start.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between readiness probes.
const READY_POLL: Duration = Duration::from_millis(50);

/// How the embedded deployment behaves.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub freeze_after_ms: u64,
    pub bank_latency: Duration,
    /// `sync_interval: always` on every nats-server (production setting; slower).
    pub sync_always: bool,
    /// The business clock of the services, the banks and the mule schedule: the system
    /// clock, or a [`domain::ScaledClock`] in drills.
    pub clock: SharedClock,
    /// Freezing's tracing rule in every city.
    pub tracing_rule: TracingRule,
    /// Identities, permissions and TLS on every server and connection (`crate::secured`), as
    /// in a center. Off only to measure what they cost.
    pub secure: bool,
    /// Where the province's secrets are generated (`keys/`, `pki/`; a CA there is kept);
    /// `None`: in the deployment's temporary data directory.
    pub secrets_dir: Option<std::path::PathBuf>,
    /// Restitution's notice period and approvers in every city (drills shorten the notice and
    /// name the lab's approvers).
    pub restitution: restitution::Tuning,
    /// The province coordinator on the hub, as in a province. Off in the load benchmarks,
    /// whose figures are the city's path on a machine the hub's process shares.
    pub coordinator: bool,
    /// Where a city node serves `/healthz`, `/readyz` and `/metrics` (`afc city --http`), by
    /// city; a city not named serves none.
    pub http: BTreeMap<City, std::net::SocketAddr>,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            freeze_after_ms: 1_000,
            bank_latency: Duration::ZERO,
            sync_always: false,
            clock: domain::system_clock(),
            tracing_rule: TracingRule::default(),
            secure: true,
            secrets_dir: None,
            restitution: restitution::Tuning::default(),
            coordinator: true,
            http: BTreeMap::new(),
        }
    }
}

/// The province coordinator's stop signal and task.
type Coordinator =
    (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<Result<(), coordinator::shell::CoordinatorError>>);

/// A running embedded deployment. Dropping it stops everything.
pub struct Embedded {
    pub province: Province,
    pub world: Arc<Mutex<World>>,
    pub clock: SharedClock,
    clients: BTreeMap<City, async_nats::Client>,
    /// Each city's carriers' connections (their gateways on a secured deployment), which
    /// publish the city's contact signals.
    carriers: BTreeMap<(City, domain::Carrier), async_nats::Client>,
    pub hub: async_nats::Client,
    banks: Option<ServeHandle>,
    _driver: DriverHandle,
    cities: BTreeMap<City, CityProcess>,
    data: tempfile::TempDir,
    /// The secrets directory of a secured deployment.
    secrets: Option<std::path::PathBuf>,
    options: EmbeddedOptions,
    /// The province coordinator's stop signal and task, when it runs.
    coordinator: Option<Coordinator>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("cities", &self.clients.keys().collect::<Vec<_>>()).finish()
    }
}

impl Embedded {
    /// Starts a hub, the cities with their services, and banks serving `world`.
    pub async fn start(cities: &[City], world: World, options: EmbeddedOptions) -> anyhow::Result<Embedded> {
        let data = tempfile::tempdir().context("creating the data directory")?;
        let (banks, platforms) = (world.banks.clone(), world.platforms.clone());
        let secrets = match (options.secure, &options.secrets_dir) {
            (false, _) => None,
            (true, dir) => {
                let dir = dir.clone().unwrap_or_else(|| data.path().join("secrets"));
                Some(secured::generate(&dir, cities, &banks, &platforms)?)
            }
        };
        let province = Province::start(
            cities,
            ProvinceOptions {
                sync_always: options.sync_always,
                security: secrets.as_ref().map(secured::province_security),
                ..ProvinceOptions::default()
            },
        )
        .await
        .context("starting the nats-servers")?;
        let secrets = secrets.map(|secrets| secrets.dir);
        let clock = options.clock.clone();
        let plain = |url: String| async move {
            async_nats::connect(&url).await.with_context(|| format!("connecting to {url}"))
        };
        let hub_url = province.hub_url();
        let (hub, hub_admin) = match &secrets {
            None => (plain(hub_url.clone()).await?, plain(hub_url).await?),
            Some(dir) => (
                secured::connect_province(dir, CityRole::Observer, &hub_url).await?,
                secured::connect_province(dir, CityRole::Admin, &hub_url).await?,
            ),
        };
        let mut clients = BTreeMap::new();
        let mut gateways = Vec::new();
        let mut carriers = BTreeMap::new();
        for city in cities {
            let url = province.city(city)?.server.url();
            let (client, admin) = match &secrets {
                None => {
                    let client = plain(url).await?;
                    gateways.push((client.clone(), simulator::Serves::All));
                    for carrier in &world.carriers {
                        carriers.insert((city.clone(), *carrier), client.clone());
                    }
                    (client.clone(), client)
                }
                Some(dir) => {
                    let connected = secured::connect_gateways(dir, city, &world, &url).await?;
                    for (client, serves) in &connected {
                        if let simulator::Serves::Carrier(carrier) = serves {
                            carriers.insert((city.clone(), *carrier), client.clone());
                        }
                    }
                    gateways.extend(connected);
                    (
                        secured::connect_city(dir, city, CityRole::Observer, &url).await?,
                        secured::connect_city(dir, city, CityRole::Admin, &url).await?,
                    )
                }
            };
            let admin = jetstream::new(admin);
            bus::streams::ensure_city_stream(&admin, city).await?;
            bus::streams::ensure_signal_stream(&admin, city).await?;
            clients.insert(city.clone(), client);
        }
        bus::streams::ensure_province_stream(&jetstream::new(hub_admin), cities).await?;
        let coordinator = match options.coordinator {
            false => None,
            true => {
                let client = match &secrets {
                    None => async_nats::ConnectOptions::new()
                        .reconnect_delay_callback(bus::province::reconnect_delay)
                        .connect(province.hub_url())
                        .await
                        .context("connecting the province coordinator")?,
                    Some(dir) => secured::connect_coordinator(dir, &province.hub_url()).await?,
                };
                let shell = coordinator::shell::Options::new(cities.to_vec(), data.path().join("province"));
                let (stop, shutdown) = tokio::sync::watch::channel(false);
                let running = tokio::spawn(coordinator::shell::run(client, shell, shutdown));
                Some((stop, running))
            }
        };
        let world = Arc::new(Mutex::new(world));
        let banks = serve_as(
            world.clone(),
            gateways,
            ServeOptions { clock: clock.clone(), latency: options.bank_latency, fail_every: None },
        )
        .await
        .context("starting the simulated banks")?;
        let driver = spawn_driver(world.clone(), clock.clone());
        let mut embedded = Embedded {
            province,
            world,
            clock,
            clients,
            carriers,
            hub,
            banks: Some(banks),
            _driver: driver,
            cities: BTreeMap::new(),
            data,
            secrets,
            options,
            coordinator,
        };
        for city in cities {
            embedded.start_city(city)?;
        }
        for city in cities {
            embedded.wait_ready(city).await?;
        }
        Ok(embedded)
    }

    /// Each city's carriers' connections: they publish the city's contact signals.
    pub fn carrier_clients(&self) -> &BTreeMap<(City, domain::Carrier), async_nats::Client> {
        &self.carriers
    }

    /// Waits until the city's intake answers commands (bounded by [`READY_TIMEOUT`]).
    pub async fn wait_ready(&self, city: &City) -> anyhow::Result<()> {
        wait_ready(self.client(city), city).await
    }

    /// Starts (or restarts) a city's services, on a runtime of their own as in a process of
    /// their own.
    pub fn start_city(&mut self, city: &City) -> anyhow::Result<()> {
        let options = CityOptions {
            city: city.clone(),
            nats_url: self.province.city(city)?.server.url(),
            data_dir: self.data.path().join(city.as_str()),
            only: None,
            freeze_after_ms: self.options.freeze_after_ms,
            at_risk_margin_ms: freezing::limits::DEFAULT_AT_RISK_MARGIN_MS,
            tracing_rule: self.options.tracing_rule,
            dissuasion: dissuasion::Tuning::default(),
            restitution: self.restitution_of(city)?,
            credentials: self.secrets.as_deref().map(security::CredentialFiles::of_deployment),
            http: self.options.http.get(city).copied(),
        };
        anyhow::ensure!(!self.cities.contains_key(city), "{city} is already running");
        let process = CityProcess::start(options, self.clock.clone())?;
        self.cities.insert(city.clone(), process);
        Ok(())
    }

    /// Restitution's settings in `city`: the deployment's, and on a secured deployment the
    /// approvers of the city's roster of staff too (they approve in the staff console, signing
    /// with the key they log in with).
    fn restitution_of(&self, city: &City) -> anyhow::Result<restitution::Tuning> {
        let mut tuning = self.options.restitution.clone();
        if let Some(dir) = &self.secrets {
            let roster = security::staff::Roster::load(&security::staff::Roster::path(dir, city.as_str()))?;
            for (name, key) in roster.approvers() {
                tuning.approvers.entry(name.to_owned()).or_insert_with(|| key.to_owned());
            }
        }
        Ok(tuning)
    }

    /// Kills a city's services abruptly (as a crash would), keeping their redb files, which
    /// are closed when this returns.
    pub async fn kill_city(&mut self, city: &City) {
        if let Some(process) = self.cities.remove(city) {
            process.kill().await;
        }
    }

    /// Stops a city's services gracefully (they drain their outboxes), keeping their redb
    /// files.
    pub async fn stop_city(&mut self, city: &City) -> anyhow::Result<()> {
        match self.cities.remove(city) {
            Some(process) => process.stop().await,
            None => Ok(()),
        }
    }

    /// The directory every city's data directory is in.
    pub fn data_root(&self) -> &std::path::Path {
        self.data.path()
    }

    /// Where a city's services keep their redb files.
    pub fn data_dir(&self, city: &City) -> std::path::PathBuf {
        self.data.path().join(city.as_str())
    }

    /// A running city node's runtime.
    pub fn city_runtime(&self, city: &City) -> Option<tokio::runtime::Handle> {
        self.cities.get(city).and_then(CityProcess::handle)
    }

    /// Opens connections of the harness's own to the deployment's servers.
    pub fn connector(&self) -> secured::Connector {
        secured::Connector {
            secrets: self.secrets.clone(),
            hub_url: self.province.hub_url(),
            city_urls: self.province.cities().map(|(city, node)| (city.clone(), node.server.url())).collect(),
        }
    }

    /// Where the secrets of a secured deployment are (`keys/`, `pki/ca.crt`).
    pub fn secrets_dir(&self) -> Option<&std::path::Path> {
        self.secrets.as_deref()
    }

    /// The harness's connection to `city`: its observer on a secured deployment (reads the
    /// city's stream and events, files and shows cases).
    pub fn client(&self, city: &City) -> &async_nats::Client {
        &self.clients[city]
    }

    /// Waits until the province stream holds at least `events` messages (bounded by
    /// [`READY_TIMEOUT`]).
    pub async fn wait_province_holds(&self, events: u64) -> anyhow::Result<()> {
        let js = jetstream::new(self.hub.clone());
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            let held = js.get_stream(protocol::subjects::PROVINCE_STREAM).await?.info().await?.state.messages;
            if held >= events {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the province holds {held} of the cities' {events} events after {READY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The province coordinator's report of `period`, once it has absorbed everything the
    /// province stream holds now (bounded by [`READY_TIMEOUT`]).
    pub async fn province_report(&self, period: &str) -> anyhow::Result<coordinator::core::Report> {
        use protocol::coordinator::{CoordinatorError, ReportRequest, Status, verb};
        let js = jetstream::new(self.hub.clone());
        let held = js.get_stream(protocol::subjects::PROVINCE_STREAM).await?.info().await?.state.last_sequence;
        let ask = |verb: &'static str, body: Vec<u8>| {
            let hub = self.hub.clone();
            async move {
                let answer = hub.request(protocol::subjects::coordinator_command(verb), body.into()).await?;
                anyhow::Ok(answer.payload)
            }
        };
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            let absorbed = match ask(verb::STATUS, b"{}".to_vec()).await {
                Ok(payload) => serde_json::from_slice::<protocol::Reply<Status, CoordinatorError>>(&payload)?
                    .into_result()
                    .map(|status| status.absorbed_stream_seq)
                    .unwrap_or(0),
                Err(_) => 0,
            };
            if absorbed >= held {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the province coordinator absorbed {absorbed} of {held} messages within {READY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let request = ReportRequest { period: period.to_owned(), margin_percent: None, city: None };
        let payload = ask(verb::REPORT, protocol::to_json(&request)).await?;
        let reply: protocol::Reply<coordinator::core::Report, CoordinatorError> = serde_json::from_slice(&payload)?;
        reply.into_result().map_err(|e| anyhow::anyhow!("the province report: {e}"))
    }

    /// Stops the services, the coordinator and the banks.
    pub async fn stop(mut self) {
        if let Some((stop, running)) = self.coordinator.take() {
            let _ = stop.send(true);
            match running.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "the province coordinator stopped with an error"),
                Err(error) => tracing::warn!(%error, "the province coordinator's task failed"),
            }
        }
        for (city, process) in std::mem::take(&mut self.cities) {
            if let Err(error) = process.stop().await {
                tracing::warn!(%city, error = format!("{error:#}"), "city did not stop cleanly");
            }
        }
        if let Some(banks) = self.banks.take() {
            banks.shutdown().await;
        }
    }
}

/// Waits until `city`'s intake answers commands through `client` (bounded by
/// [`READY_TIMEOUT`]).
pub async fn wait_ready(client: &async_nats::Client, city: &City) -> anyhow::Result<()> {
    let probe = CaseId::derive(city, 0);
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        match afc::client::show(client, city, &probe).await {
            Ok(_) => return Ok(()),
            Err(error) if tokio::time::Instant::now() > deadline => {
                return Err(error.context(format!("{city}'s intake did not answer within {READY_TIMEOUT:?}")));
            }
            // "no responders" comes back at once: wait a moment before asking again.
            Err(_) => tokio::time::sleep(READY_POLL).await,
        }
    }
}

/// Collects a city's freezing events as they are published.
pub struct Watch {
    events: Arc<Mutex<BTreeMap<CaseId, Vec<FreezingEvent>>>>,
    changed: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One freezing event as a subscriber received it.
#[derive(Debug)]
pub struct FreezingMessage {
    /// The envelope's id (`<city>.freezing.<seq>`): a re-sent event has the same.
    pub id: String,
    /// When the event was recorded (the envelope's time).
    pub time_ms: u64,
    pub event: FreezingEvent,
    /// When the message arrived here.
    pub observed_at: std::time::Instant,
}

/// Subscribes, on each given connection, to its city's freezing events — every kind, or only
/// `kinds` (e.g. [`FreezingEvent::TRACE_COMPLETED`]) — and hands each decoded event to `fold`
/// on a task of its own, which ends when the connections close or the handle is aborted.
/// Undecodable messages are skipped. The subscriptions are in place when this returns.
pub async fn on_freezing_events<F>(
    sources: &[(async_nats::Client, City)],
    kinds: &[&str],
    mut fold: F,
) -> anyhow::Result<JoinHandle<()>>
where
    F: FnMut(FreezingMessage) + Send + 'static,
{
    let freezing = events::Service::Freezing;
    let mut subscriptions = Vec::new();
    for (client, city) in sources {
        if kinds.is_empty() {
            subscriptions.push(client.subscribe(protocol::subjects::service_events(city, freezing)).await?);
        }
        for kind in kinds {
            subscriptions.push(client.subscribe(protocol::subjects::event(city, freezing, kind)).await?);
        }
        client.flush().await?;
    }
    let mut messages = futures::stream::select_all(subscriptions);
    Ok(tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            let observed_at = std::time::Instant::now();
            let Ok(envelope) = events::decode(&message.payload) else {
                continue;
            };
            if let Payload::Freezing(event) = envelope.payload {
                fold(FreezingMessage { id: envelope.id, time_ms: envelope.time_ms, event, observed_at });
            }
        }
    }))
}

impl Watch {
    /// Subscribes to every freezing event of `city` (duplicates from re-sends are dropped).
    pub async fn start(client: &async_nats::Client, city: &City) -> anyhow::Result<Watch> {
        let events: Arc<Mutex<BTreeMap<CaseId, Vec<FreezingEvent>>>> = Arc::default();
        let (tx, changed) = watch::channel(0u64);
        let sink = events.clone();
        let mut seen = std::collections::HashSet::new();
        let of = city.clone();
        let task = on_freezing_events(&[(client.clone(), city.clone())], &[], move |message| {
            if seen.insert(message.id) {
                let event = message.event;
                let Some(case_id) = event.case_in(&of).cloned() else { return };
                sink.lock().expect("watch lock").entry(case_id).or_default().push(event);
                tx.send_modify(|n| *n += 1);
            }
        })
        .await?;
        Ok(Watch { events, changed, task })
    }

    /// The events seen so far for a case.
    pub fn events(&self, case_id: &CaseId) -> Vec<FreezingEvent> {
        self.events.lock().expect("watch lock").get(case_id).cloned().unwrap_or_default()
    }

    /// Every case's events seen so far.
    pub fn all(&self) -> BTreeMap<CaseId, Vec<FreezingEvent>> {
        self.events.lock().expect("watch lock").clone()
    }

    /// Waits until `done` holds for the events seen, or fails after `timeout`.
    pub async fn until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&BTreeMap<CaseId, Vec<FreezingEvent>>) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(&self.events.lock().expect("watch lock")) {
                return Ok(());
            }
            tokio::time::timeout_at(deadline, self.changed.changed())
                .await
                .with_context(|| format!("condition not reached within {timeout:?}"))??;
        }
    }
}

/// Whether a case's trace completed.
pub fn trace_completed(events: &[FreezingEvent]) -> bool {
    events.iter().any(|e| matches!(e, FreezingEvent::TraceCompleted { .. }))
}

/// Whether every claim of the case on an account has been converted (frozen, queued or
/// failed for good), followed per account as freezing's core does: a claim grows when more
/// of the case's money is traced to the account, and a freeze of part of it is followed by
/// one of the rest (up to `MAX_FREEZE_PARTS` parts).
pub fn freezes_settled(events: &[FreezingEvent]) -> bool {
    #[derive(Default)]
    struct Claim {
        claimed: Fen,
        frozen: Fen,
        parts: u8,
        pending: bool,
    }
    let mut claims: BTreeMap<&AccountRef, Claim> = BTreeMap::new();
    for event in events {
        match event {
            FreezingEvent::AccountStopped { account, claim_fen, .. } if !claim_fen.is_zero() => {
                let claim = claims.entry(account).or_default();
                if !claim.pending {
                    // What was claimed before is settled: the new part is converted on its own.
                    (claim.frozen, claim.parts) = (claim.claimed, 0);
                }
                claim.claimed = claim.claimed.saturating_add(*claim_fen);
                claim.pending = true;
            }
            FreezingEvent::AccountFrozen { account, frozen_fen, .. } => {
                let claim = claims.entry(account).or_default();
                claim.frozen = claim.frozen.saturating_add(*frozen_fen);
                claim.parts = claim.parts.saturating_add(1);
                claim.pending = !frozen_fen.is_zero()
                    && claim.frozen < claim.claimed
                    && claim.parts < freezing::limits::MAX_FREEZE_PARTS;
            }
            FreezingEvent::FreezeQueued { account, .. } | FreezingEvent::FreezeFailed { account, .. } => {
                claims.entry(account).or_default().pending = false;
            }
            _ => {}
        }
    }
    trace_completed(events) && claims.values().all(|claim| !claim.pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> CaseId {
        CaseId::derive(&City::parse("huzhou").unwrap(), 1)
    }

    fn account() -> AccountRef {
        AccountRef::parse("icbc:6222020200001234").unwrap()
    }

    fn stopped(claim: u64) -> FreezingEvent {
        FreezingEvent::AccountStopped {
            case_id: case(),
            hop: 1,
            account: account(),
            stop_no: 1,
            held_fen: Fen::new(claim),
            claim_fen: Fen::new(claim),
            onward: Vec::new(),
            cashed_out_fen: Fen::ZERO,
            stopped_at_ms: 1,
            expires_at_ms: 2,
            answered_in_ms: None,
            first_onward_hop: None,
            depth: Some(1),
        }
    }

    fn frozen(fen: u64) -> FreezingEvent {
        FreezingEvent::AccountFrozen {
            case_id: case(),
            account: account(),
            frozen_fen: Fen::new(fen),
            frozen_at_ms: 3,
            expires_at_ms: 4,
        }
    }

    fn completed() -> FreezingEvent {
        FreezingEvent::TraceCompleted {
            case_id: case(),
            completed_at_ms: 2,
            accounts_stopped: 1,
            claimed_fen: Fen::ZERO,
            cashed_out_fen: Fen::ZERO,
            untraced_fen: Fen::ZERO,
            time_to_freeze_ms: None,
        }
    }

    fn queued() -> FreezingEvent {
        FreezingEvent::FreezeQueued {
            case_id: case(),
            account: account(),
            claim_fen: Fen::new(1),
            queued_behind: City::parse("wenzhou").unwrap(),
            queued_at_ms: 3,
            expires_at_ms: 4,
        }
    }

    #[test]
    fn a_claim_is_settled_once_all_of_it_is_frozen_or_queued_also_when_it_grew_later() {
        assert!(!freezes_settled(&[stopped(100), completed()]));
        assert!(freezes_settled(&[stopped(100), completed(), frozen(100)]));
        // Frozen in part: the rest is asked for, and settled when queued.
        assert!(!freezes_settled(&[stopped(100), completed(), frozen(60)]));
        assert!(freezes_settled(&[stopped(100), completed(), frozen(60), queued()]));
        // More of the case's money traced to the account after its freeze: a freeze of its own.
        let grew = [stopped(100), frozen(100), stopped(50), completed()];
        assert!(!freezes_settled(&grew));
        assert!(freezes_settled(&[&grew[..], &[frozen(50)]].concat()));
        // A bank freezing nothing ends it.
        assert!(freezes_settled(&[stopped(100), completed(), frozen(0)]));
    }
}
