//! `afc-lab sim run SCENARIO.toml`: plays a crime wave against an embedded deployment in
//! scaled time and scores what the system did against where the money really went.
//!
//! The scenario becomes a script (simulator::crime): a world whose every transfer is
//! scheduled, and reports due at set simulated times. The deployment (hub, the scenario's
//! cities, simulated banks and payment platforms) runs on a [`ScaledClock`] that stays at
//! the scenario's start until everything is up; then simulated time runs `time_scale` times
//! faster than real time for the services, the banks, the mule schedule and the reports
//! alike (drill mode). Each report is filed at its due time. The run ends once every
//! planned transfer and report is past, every traced case completed and its freezes
//! settled (or [`SETTLE_TIMEOUT`] passed). Then the freezing events are read back from each
//! city's stream, the ledger is attributed to cases, and [`score::score`] makes the report.
//!
//! Against an existing deployment ([`Target::Existing`], `--nats URL`), the drill connects
//! to the province hub instead of starting nats-servers and services: it plays the banks
//! and payment platforms (subscribing through the hub, so the cities' adapter requests reach
//! it over the leaf links), files reports and watches events through the hub, and reads the
//! cities' streams back through their JetStream domains. Time cannot be paused in other
//! processes, so the cities and the drill share a [`DrillClock`]: simulated time starts at
//! an agreed wall-clock instant (`afc-lab sim clock` prints one; each city runs
//! `afc city --drill-clock`).

pub mod blocking;
mod claims;
pub mod dissuasion;
pub mod notices;
mod observed;
pub mod people;
mod progress;
pub mod province;
pub mod render;
pub mod restitution;
pub mod score;
mod spread;
pub(crate) mod streams;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream;
use domain::{CaseId, City, Clock, DrillClock, ScaledClock, SharedClock};
use events::{FreezingEvent, Payload};
use protocol::Reply;
use protocol::intake::ReportResponse;
use simulator::crime::{Script, generate_script};
use simulator::scenario::Scenario;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::deployment::{Embedded, EmbeddedOptions, Watch, freezes_settled, trace_completed, wait_ready};
use afc::client;
use progress::Progress;
use score::{DrillReport, ObservedCase, RunFacts};

/// Reports being filed at once.
const MAX_REPORTS_IN_FLIGHT: usize = 64;
/// Longest the run waits, in real time, for traces and freezes once everything planned is
/// past.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the progress line is redrawn (on a terminal; every tenth time otherwise).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// Longest a report is filed again and again while its city does not answer (a node being
/// restarted answers within seconds).
pub const REPORT_RETRY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause before filing a report that was not answered again.
const REPORT_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Where a drill runs.
#[derive(Debug, Clone)]
pub enum Target {
    /// A deployment the drill starts and stops itself: hub, the scenario's cities, banks.
    Embedded,
    /// A running deployment reached through `url` (the province hub), whose cities run on
    /// `clock`. The drill plays the banks and payment platforms; nothing else may.
    Existing { url: String, clock: DrillClock },
    /// A running secured deployment (`afc-lab up`, the crash drill's): each city reached at
    /// its own server as the city's observer, the banks and platforms served as their
    /// per-city gateways, the hub read as the province's observer. Its cities run on `clock`.
    Secured { connector: crate::secured::Connector, clock: DrillClock },
}

/// Longest a drill against an existing deployment may start after its clock's anchor:
/// reports due meanwhile are filed late, which the report would not show.
pub const MAX_LATE_START: Duration = Duration::from_secs(5);

/// The drill clock for running `scenario` against an existing deployment: the scenario's
/// start, at its time scale (or `time_scale`), running `start_in` from now.
pub fn clock_for(
    scenario: &std::path::Path,
    time_scale: Option<f64>,
    start_in: Duration,
) -> anyhow::Result<DrillClock> {
    let scenario = Scenario::load(scenario)?;
    let scale = time_scale.unwrap_or(scenario.time_scale);
    let now = domain::SystemClock.now_ms();
    let start_in_ms = u64::try_from(start_in.as_millis()).context("start_in is too far away")?;
    Ok(DrillClock::new(scenario.start_ms, scale, now.saturating_add(start_in_ms))?)
}

/// The deployment a drill runs against.
#[allow(clippy::large_enum_variant, reason = "one value per drill run")]
enum Deployment {
    Embedded(Embedded),
    Existing {
        hub: async_nats::Client,
        /// Each city's own connection on a secured deployment; empty: every city through the
        /// hub.
        cities: BTreeMap<City, async_nats::Client>,
        world: Arc<std::sync::Mutex<simulator::world::World>>,
        banks: simulator::serve::ServeHandle,
        driver: simulator::schedule::DriverHandle,
        /// Who publishes each city's signals.
        signallers: people::Signallers,
    },
}

impl Deployment {
    /// Where to file a city's reports and watch its events.
    fn client(&self, city: &City) -> &async_nats::Client {
        match self {
            Deployment::Embedded(embedded) => embedded.client(city),
            Deployment::Existing { hub, cities, .. } => cities.get(city).unwrap_or(hub),
        }
    }

    /// JetStream of the city's own domain.
    fn city_jetstream(&self, city: &City) -> jetstream::Context {
        match self {
            Deployment::Embedded(embedded) => jetstream::new(embedded.client(city).clone()),
            Deployment::Existing { hub, cities, .. } => match cities.get(city) {
                Some(client) => jetstream::new(client.clone()),
                None => jetstream::with_domain(hub.clone(), city.as_str()),
            },
        }
    }

    /// Who publishes each city's contact signals: its carriers' gateways, or (on an open
    /// deployment reached through its hub) the hub.
    fn signallers(&self) -> people::Signallers {
        match self {
            Deployment::Embedded(embedded) => {
                people::Signallers { by_carrier: embedded.carrier_clients().clone(), ..Default::default() }
            }
            Deployment::Existing { signallers, .. } => signallers.clone(),
        }
    }

    fn world(&self) -> &Arc<std::sync::Mutex<simulator::world::World>> {
        match self {
            Deployment::Embedded(embedded) => &embedded.world,
            Deployment::Existing { world, .. } => world,
        }
    }

    async fn stop(self) {
        match self {
            Deployment::Embedded(embedded) => embedded.stop().await,
            Deployment::Existing { banks, driver, .. } => {
                driver.shutdown().await;
                banks.shutdown().await;
            }
        }
    }
}

/// How to run a drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    pub scenario: PathBuf,
    /// Where `report.json` and `report.svg` go.
    pub out: PathBuf,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Overrides the scenario's time scale.
    pub time_scale: Option<f64>,
    /// Print the progress line.
    pub progress: bool,
    pub target: Target,
    /// Freezing's tracing rule (embedded deployments; an existing one runs its own).
    pub tracing_rule: freezing::rule::TracingRule,
}

/// Runs a drill, writes its report and prints it. Returns the report.
pub async fn run(options: DrillOptions) -> anyhow::Result<DrillReport> {
    let out = options.out.clone();
    let run = run_detailed(options).await?;
    print!("{}", render::table(&run.report));
    println!("wrote {} and {}", out.join("report.json").display(), out.join("report.svg").display());
    Ok(run.report)
}

/// A finished drill: its report, and what the crash drill checks beside it.
#[derive(Debug)]
pub struct DrillRun {
    pub report: DrillReport,
    /// The simulated banks' ledger at the end (their [`simulator::ledger::HoldAudit`]).
    pub ledger: simulator::Ledger,
    /// The case id intake gave each of the script's reports, in script order (`None`: refused,
    /// or not answered within [`REPORT_RETRY_TIMEOUT`], or never filed: the victim was spared).
    pub case_ids: Vec<Option<CaseId>>,
    /// The reports never filed because a block spared the victim (script order).
    pub spared: std::collections::BTreeSet<usize>,
}

/// Runs a drill and writes its report without printing it.
pub async fn run_detailed(options: DrillOptions) -> anyhow::Result<DrillRun> {
    run_drill(options, async |_: &Embedded| Ok(())).await
}

/// Runs a drill on a deployment it starts ([`Target::Embedded`]) as [`run_detailed`] does,
/// and hands the deployment to `inspect` once the drill is over (events read back, the
/// staff and approvers stopped) and before it stops: a test's look at what the servers and
/// the nodes' files hold then (the province's stream, a city's stores). An error of
/// `inspect` fails the run.
pub async fn run_inspected(
    options: DrillOptions,
    inspect: impl AsyncFnOnce(&Embedded) -> anyhow::Result<()>,
) -> anyhow::Result<DrillRun> {
    anyhow::ensure!(matches!(options.target, Target::Embedded), "only a deployment the drill starts is inspected");
    run_drill(options, inspect).await
}

/// [`run_detailed`], calling `inspect` before an embedded deployment stops.
async fn run_drill(
    options: DrillOptions,
    inspect: impl AsyncFnOnce(&Embedded) -> anyhow::Result<()>,
) -> anyhow::Result<DrillRun> {
    let mut scenario = Scenario::load(&options.scenario)?;
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    if let Some(scale) = options.time_scale {
        scenario.time_scale = scale;
    }
    if let Target::Existing { clock, .. } | Target::Secured { clock, .. } = &options.target {
        // The cities run on the clock they were started with.
        scenario.time_scale = clock.scale;
    }
    let script = generate_script(&scenario).context("generating the crime wave")?;
    let truth = script.unimpeded_truth().context("replaying the plan for the ground truth")?;
    eprintln!(
        "afc-lab sim run: {} (hash {}, seed {}): {} reports, {} mule accounts, {} lost, time scale {}, tracing rule {}",
        script.name,
        scenario.hash_hex(),
        script.seed,
        script.reports.len(),
        script.mule_accounts(),
        truth.total.loss,
        scenario.time_scale,
        options.tracing_rule.name()
    );
    let cities: Vec<City> = scenario.cities.iter().map(|c| c.city.clone()).collect();
    let bank_answer_ms = (scenario.banks.answer_ms.min + scenario.banks.answer_ms.max) as f64 / 2.0;
    // The lab's approvers are in the roster of a deployment the drill starts; an existing one
    // runs restitution with its own notice and approvers.
    let approvers = matches!(options.target, Target::Embedded).then(|| Arc::new(restitution::LabApprovers::generate()));
    let mut returns = None;
    let (deployment, clock, watches, started) = match &options.target {
        Target::Embedded => {
            let scaled = Arc::new(ScaledClock::paused(script.origin_ms, scenario.time_scale)?);
            let clock: SharedClock = scaled.clone();
            let deployment = Embedded::start(
                &cities,
                script.world.clone(),
                EmbeddedOptions {
                    // A drill plays what production does: the service's own delay (simulated ms).
                    freeze_after_ms: freezing::limits::DEFAULT_FREEZE_AFTER_MS,
                    bank_latency: clock.real_duration(bank_answer_ms.round() as u64),
                    clock: clock.clone(),
                    tracing_rule: options.tracing_rule,
                    restitution: approvers
                        .as_ref()
                        .map(|a| a.tuning(scenario.restitution.notice_ms))
                        .unwrap_or_default(),
                    ..EmbeddedOptions::default()
                },
            )
            .await
            .context("starting the embedded deployment")?;
            let deployment = Deployment::Embedded(deployment);
            let watches = watch_cities(&deployment, &cities).await?;
            returns = Some(watch_returns(&deployment, &cities).await?);
            scaled.start();
            (deployment, clock, watches, Instant::now())
        }
        Target::Existing { clock: drill_clock, .. } | Target::Secured { clock: drill_clock, .. } => {
            anyhow::ensure!(
                drill_clock.origin_ms == script.origin_ms,
                "the drill clock starts at {} but the scenario at {}: make the clock with `afc-lab sim clock {}`",
                drill_clock.origin_ms,
                script.origin_ms,
                options.scenario.display()
            );
            let clock: SharedClock = Arc::new(*drill_clock);
            let world = Arc::new(std::sync::Mutex::new(script.world.clone()));
            let serve_options = simulator::serve::ServeOptions {
                clock: clock.clone(),
                latency: clock.real_duration(bank_answer_ms.round() as u64),
                fail_every: None,
            };
            let mut signallers = people::Signallers::default();
            let (hub, city_clients, gateways) = match &options.target {
                Target::Secured { connector, .. } => {
                    let dir = connector.secrets.as_deref().context("a secured target names its secrets")?;
                    let (mut clients, mut gateways) = (BTreeMap::new(), Vec::new());
                    for city in &cities {
                        clients.insert(city.clone(), connector.city(city).await?);
                        let url = connector.city_urls.get(city).with_context(|| format!("no URL for {city}"))?;
                        let connected = crate::secured::connect_gateways(dir, city, &script.world, url).await?;
                        for (client, serves) in &connected {
                            if let simulator::Serves::Carrier(carrier) = serves {
                                signallers.by_carrier.insert((city.clone(), *carrier), client.clone());
                            }
                        }
                        gateways.extend(connected);
                    }
                    (connector.hub().await?, clients, gateways)
                }
                Target::Existing { url, .. } => {
                    let hub = async_nats::ConnectOptions::new()
                        .name("afc-sim")
                        .connect(url.as_str())
                        .await
                        .with_context(|| format!("connecting to {url}"))?;
                    for city in &cities {
                        signallers.fallback.insert(city.clone(), hub.clone());
                    }
                    (hub.clone(), BTreeMap::new(), vec![(hub, simulator::Serves::All)])
                }
                Target::Embedded => anyhow::bail!("an embedded drill has no running deployment to reach"),
            };
            let banks = simulator::serve::serve_as(world.clone(), gateways, serve_options)
                .await
                .context("serving the simulated banks")?;
            let driver = simulator::schedule::spawn_driver(world.clone(), clock.clone());
            let deployment = Deployment::Existing { hub, cities: city_clients, world, banks, driver, signallers };
            for city in &cities {
                wait_ready(deployment.client(city), city).await.context("reaching the deployment's cities")?;
            }
            let watches = watch_cities(&deployment, &cities).await?;
            let wait = drill_clock.until_anchor();
            if wait.is_zero() {
                let late =
                    Duration::from_millis(domain::SystemClock.now_ms().saturating_sub(drill_clock.anchor_unix_ms));
                anyhow::ensure!(
                    late <= MAX_LATE_START,
                    "the drill clock started {late:?} ago (at most {MAX_LATE_START:?} allowed): reports due meanwhile would be filed late; make a new one with `afc-lab sim clock`"
                );
            } else {
                eprintln!("afc-lab sim run: simulated time starts in {:.1} s", wait.as_secs_f64());
                tokio::time::sleep(wait).await;
            }
            (deployment, clock, watches, Instant::now())
        }
    };

    let staff: BTreeMap<City, async_nats::Client> =
        cities.iter().map(|city| (city.clone(), deployment.client(city).clone())).collect();
    let approving = approvers.map(|keys| {
        let approve_after_ms = scenario.restitution.approve_after_ms;
        restitution::Approvers::start(keys, staff.clone(), clock.clone(), approve_after_ms)
    });
    let people = people::People::start(
        deployment.world().clone(),
        clock.clone(),
        deployment.signallers(),
        staff,
        &scenario.staff,
    );
    let mut progress = Progress::new(options.progress, &script);
    let case_ids = file_reports(&deployment, &script, &clock, &watches, &mut progress).await?;
    wait_for_settling(&script, &clock, &watches, &case_ids, &mut progress).await;
    if let Some(returns) = &returns {
        returns.until_settled(&cities.iter().zip(&watches).collect::<Vec<_>>()).await;
    }
    let approved = match approving {
        Some(approving) => approving.stop().await?,
        None => restitution::ApproverStats::default(),
    };
    progress.finish(clock.now_ms(), &watches);
    let people = people.stop().await?;
    let ended_at_ms = clock.now_ms();
    let real_seconds = started.elapsed().as_secs_f64();

    let mut by_case: std::collections::BTreeMap<CaseId, Vec<FreezingEvent>> = Default::default();
    let mut blocking_events = BTreeMap::new();
    let mut dissuasion_events = BTreeMap::new();
    let mut restitution_events = BTreeMap::new();
    let mut recorded: BTreeMap<City, Vec<events::Envelope>> = BTreeMap::new();
    for city in &cities {
        let js = deployment.city_jetstream(city);
        if matches!(deployment, Deployment::Embedded(_)) {
            let mut all = Vec::new();
            for service in domain::Service::ALL {
                all.extend(streams::read_back(&js, city, service).await?);
            }
            recorded.insert(city.clone(), all);
        }
        for envelope in streams::read_back(&js, city, events::Service::Freezing).await? {
            if let Payload::Freezing(event) = envelope.payload
                && let Some(case_id) = event.case_in(city).cloned()
            {
                by_case.entry(case_id).or_default().push(event);
            }
        }
        blocking_events.insert(city.clone(), streams::read_back(&js, city, events::Service::Blocking).await?);
        restitution_events.insert(city.clone(), streams::read_back(&js, city, events::Service::Restitution).await?);
        if !script.world.population.people().is_empty() {
            dissuasion_events.insert(city.clone(), streams::read_back(&js, city, events::Service::Dissuasion).await?);
        }
    }
    let world_at_end = simulator::world::lock(deployment.world()).clone();
    let dissuasion_section =
        dissuasion::section(&dissuasion_events, &world_at_end, &people, script.origin_ms, ended_at_ms)?;
    let simulator::World { ledger, contacts, telecom, .. } = world_at_end;
    let filed: Vec<(u64, City)> = script
        .reports
        .iter()
        .zip(&case_ids)
        .filter(|(_, id)| id.is_some())
        .map(|(r, _)| (r.due_at_ms, r.city.clone()))
        .collect();
    let province_section = match &deployment {
        Deployment::Embedded(embedded) => {
            province::section(embedded, &cities, &recorded, &filed, script.origin_ms, ended_at_ms).await?
        }
        Deployment::Existing { .. } => province::ProvinceSection::default(),
    };
    let inspected = match &deployment {
        Deployment::Embedded(embedded) => inspect(embedded).await.context("inspecting the deployment"),
        Deployment::Existing { .. } => Ok(()),
    };
    deployment.stop().await;
    inspected?;

    let observed: Vec<Option<ObservedCase>> = case_ids
        .iter()
        .cloned()
        .map(|id| id.map(|case_id| ObservedCase { events: by_case.remove(&case_id).unwrap_or_default(), case_id }))
        .collect();
    let facts = RunFacts { time_scale: scenario.time_scale, bank_answer_ms, ended_at_ms, real_seconds };
    let spared = blocking::spared(&contacts);
    let filed = restitution::FiledCase::of_drill(&script, &observed);
    let holdings = restitution::holdings_at_freezes(&script, &ledger, &restitution::freeze_points(&filed)?)?;
    let executed = ledger.returns_executed();
    let returned = restitution::section(&restitution_events, &filed, &executed, &holdings, &approved)?;
    let mut report = score::score(&script, &truth, &ledger, &observed, &spared, facts)?;
    report.restitution = returned;
    report.blocking = blocking::section(&blocking_events, &contacts, script.origin_ms, ended_at_ms);
    let sellers = simulator::holders::card_sellers(&script);
    blocking::card_sellers(&mut report.blocking, &blocking_events, &sellers, &telecom);
    report.dissuasion = dissuasion_section;
    report.province = province_section;
    report.province.notices = notices::section(&recorded, &contacts, scenario.time_scale);
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    let json = options.out.join("report.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let svg = options.out.join("report.svg");
    std::fs::write(&svg, render::chart(&report)?).with_context(|| format!("writing {}", svg.display()))?;
    Ok(DrillRun { report, ledger, case_ids, spared })
}

/// Files every report at its due time; returns the case id of each (`None` when refused).
async fn file_reports(
    deployment: &Deployment,
    script: &Script,
    clock: &SharedClock,
    watches: &[Watch],
    progress: &mut Progress,
) -> anyhow::Result<Vec<Option<CaseId>>> {
    let slots = Arc::new(Semaphore::new(MAX_REPORTS_IN_FLIGHT));
    let mut filing = JoinSet::new();
    for (index, report) in script.reports.iter().enumerate() {
        loop {
            let now = clock.now_ms();
            if now >= report.due_at_ms {
                break;
            }
            let wait = clock.real_duration(report.due_at_ms - now).min(PROGRESS_EVERY);
            tokio::time::sleep(wait).await;
            progress.tick(clock.now_ms(), index, watches);
        }
        // The victim files what happened to them: nothing when a block spared them, else the
        // numbers and sites they were reached through (the world decides the contacts due).
        let body = {
            let mut guard = simulator::world::lock(deployment.world());
            let world = &mut *guard;
            world.contacts.contact_due(clock.now_ms(), &world.telecom, &mut world.schedule);
            world.contacts.report_body(index, &report.body)
        };
        let Some(body) = body else {
            progress.tick(clock.now_ms(), index + 1, watches);
            continue;
        };
        let permit = slots.clone().acquire_owned().await.expect("semaphore never closes");
        let client = deployment.client(&report.city).clone();
        let (city, body) = (report.city.clone(), serde_json::to_vec(&body)?);
        filing.spawn(async move {
            let outcome = file_report(&client, &city, body).await;
            drop(permit);
            let id = match outcome {
                Ok(Reply::Ok(accepted)) => Some(accepted.case_id),
                Ok(Reply::Error(error)) => {
                    tracing::warn!(report = index, kind = ?error.kind, "report refused");
                    None
                }
                Err(error) => {
                    tracing::warn!(report = index, error = format!("{error:#}"), "report not answered");
                    None
                }
            };
            (index, id)
        });
        progress.tick(clock.now_ms(), index + 1, watches);
    }
    let mut ids = vec![None; script.reports.len()];
    while let Some(done) = filing.join_next().await {
        let (index, id) = done.context("a report task panicked")?;
        ids[index] = id;
    }
    Ok(ids)
}

/// Files one report, again when it was not answered (its city node down or restarting:
/// intake derives the case id from the content, so a report recorded before a lost answer
/// is answered `duplicate` with the same id), for up to [`REPORT_RETRY_TIMEOUT`].
async fn file_report(client: &async_nats::Client, city: &City, body: Vec<u8>) -> anyhow::Result<ReportResponse> {
    let deadline = Instant::now() + REPORT_RETRY_TIMEOUT;
    loop {
        match client::report(client, city, body.clone()).await {
            Err(error) if Instant::now() < deadline => {
                tracing::debug!(error = format!("{error:#}"), "report not answered; filing it again");
                // "no responders" comes back at once: a pause before asking again.
                tokio::time::sleep(REPORT_RETRY_PAUSE).await;
            }
            outcome => return outcome,
        }
    }
}

/// Waits until the plan is past and every traced case completed with its freezes settled,
/// or [`SETTLE_TIMEOUT`] after the plan is past.
async fn wait_for_settling(
    script: &Script,
    clock: &SharedClock,
    watches: &[Watch],
    case_ids: &[Option<CaseId>],
    progress: &mut Progress,
) {
    let filed = case_ids.len();
    loop {
        let now = clock.now_ms();
        if now >= script.horizon_ms {
            break;
        }
        tokio::time::sleep(clock.real_duration(script.horizon_ms - now).min(PROGRESS_EVERY)).await;
        progress.tick(clock.now_ms(), filed, watches);
    }
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let settled = |id: &CaseId| {
        watches.iter().any(|w| {
            let events = w.events(id);
            trace_completed(&events) && freezes_settled(&events)
        })
    };
    while Instant::now() < deadline {
        if case_ids.iter().flatten().all(settled) {
            return;
        }
        tokio::time::sleep(PROGRESS_EVERY.min(deadline.saturating_duration_since(Instant::now()))).await;
        progress.tick(clock.now_ms(), filed, watches);
    }
    let open = case_ids.iter().flatten().filter(|id| !settled(id)).count();
    eprintln!("afc-lab sim run: {open} cases still open after {SETTLE_TIMEOUT:?}; they are scored as they stand");
}

/// Follows every city's restitution.
async fn watch_returns(
    deployment: &Deployment,
    cities: &[City],
) -> anyhow::Result<restitution::watch::RestitutionWatch> {
    let sources: Vec<_> = cities.iter().map(|city| (deployment.client(city).clone(), city.clone())).collect();
    restitution::watch::RestitutionWatch::start(&sources).await
}

/// Watches every city's freezing events.
async fn watch_cities(deployment: &Deployment, cities: &[City]) -> anyhow::Result<Vec<Watch>> {
    let mut watches = Vec::new();
    for city in cities {
        watches.push(Watch::start(deployment.client(city), city).await?);
    }
    Ok(watches)
}
