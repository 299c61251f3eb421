//! `afc-lab drill crash`: a crime-wave drill against a real multi-process deployment whose
//! city nodes are killed with SIGKILL at seeded random moments and started again on the
//! same data, judged on what a crash must never do: lose an accepted report or an event,
//! or do one thing twice.
//!
//! Each run starts a hub and one nats-server per city (the testkit's configs, which carry
//! the settings of a deployment's: JetStream domains, leaf links, `sync_interval: always`,
//! TLS on every link, accounts and each identity's permissions from a province's secrets),
//! provisions each city's stream with `afc city provision` and the hub's province stream
//! with `afc province provision`, as an operator does, and starts one `afc city --credentials`
//! OS process per city on a [`DrillClock`]. The drill ([`drill::run_detailed`], against a
//! [`Target::Secured`] deployment) plays the scenario at each city's server while
//! the killer sends SIGKILL to a city's process at each of `kills` moments drawn from the
//! seed across the scenario's active period (its first report to its last one plus the
//! delay to a freeze), waits until the process is reaped, starts it again on the same
//! `--data` and `--drill-clock`, and waits until its intake answers. Once every accepted
//! case settled, the nodes are stopped (SIGINT), and the run is judged:
//!
//! - **lost**: an accepted report whose case has no `trace_completed`; a sequence number of
//!   a service's log that the city stream does not hold (an outbox event never published).
//! - **doubled**: an event published twice; a logical event committed twice (a second
//!   `trace_started` for a case, a second `account_stopped` for a case's hop, a claim settled
//!   twice, …, see [`audit`]); a bank holding more of an account for a case than the case
//!   claims there (a freeze sent twice under two ids).
//! - **stops beyond the limit**: a center asking a bank for more than two stop-payments on
//!   one account.
//!
//! Over-claim, money released by a lapse and recall are scored as in every drill, and
//! recall is compared with an undisturbed run of the same seed on a deployment of its own.

pub mod audit;
pub mod node;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::{AccountRef, CaseId, City, Clock, DrillClock, Fen, TimeMs};
use rand::{Rng, SeedableRng};
use simulator::crime::generate_script;
use simulator::scenario::Scenario;
use testkit::{Province, ProvinceOptions};

use crate::deployment::READY_TIMEOUT;
use crate::drill::{self, DrillOptions, DrillRun, Target};
use crate::secured;
use audit::StreamAudit;
use node::CityNode;

/// Longest wait, after the drill, for every accepted case to complete (the drill waited
/// already; this covers kills that came after its wait).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between two looks at the streams while waiting for them to settle.
const SETTLE_POLL: Duration = Duration::from_secs(1);
/// Longest wait for one readiness probe of a restarted node.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Pause between readiness probes.
const PROBE_PAUSE: Duration = Duration::from_millis(50);
/// Longest wait for `afc province provision`.
const PROVISION_TIMEOUT: Duration = Duration::from_secs(30);
/// Mixed into the scenario's seed for the kill moments, so that they do not follow the
/// crime wave's own draws.
const KILL_SEED_SALT: u64 = 0x6b69_6c6c; // "kill"

/// How to run a crash drill.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// SIGKILLs in the crashed run.
    pub kills: u32,
    /// Overrides the scenario's seed (the kill moments follow it too).
    pub seed: Option<u64>,
    /// Overrides the scenario's time scale.
    pub time_scale: Option<f64>,
    /// Where each run's report, and each node's log, go (`undisturbed/`, `crashed/`).
    pub out: PathBuf,
    /// The `afc` binary the nodes run.
    pub afc: PathBuf,
    /// Also run the scenario undisturbed, for its recall.
    pub undisturbed: bool,
    /// Real time from making the drill clock until simulated time starts: time for the
    /// nodes to start and the drill to be ready.
    pub start_in: Duration,
    /// The drill's progress line and a line per kill.
    pub progress: bool,
    /// The nodes' log filter (`AFC_LOG`): [`node::LOG_FILTER`] (warnings only: a month-long
    /// drill at `info` writes gigabytes), or more for a short drill whose logs are read.
    pub log_filter: String,
}

/// One run (crashed or undisturbed), judged.
#[derive(Debug, Clone)]
pub struct RunVerdict {
    /// SIGKILLs sent.
    pub kills: u32,
    /// Accepted reports never traced to the end, and events of a log the stream lacks.
    pub lost: u64,
    /// Things done twice (events published or committed twice, a claim frozen twice).
    pub doubled: u64,
    /// Center and account pairs with more than two stop-payments asked for.
    pub stops_beyond_limit: u64,
    /// Over-claim, of the money frozen (0–1).
    pub over_claim: f64,
    /// Money found at a claim and gone by the end.
    pub released: Fen,
    /// At-risk accounts frozen (0–1).
    pub recall: f64,
    /// What was counted, for the log.
    pub details: Vec<String>,
}

impl RunVerdict {
    /// Whether nothing was lost or doubled and no stop went beyond the limit.
    pub fn holds(&self) -> bool {
        self.lost == 0 && self.doubled == 0 && self.stops_beyond_limit == 0
    }
}

/// A crash drill's outcome: the crashed run and, if asked for, the undisturbed one.
#[derive(Debug, Clone)]
pub struct CrashVerdict {
    pub crashed: RunVerdict,
    pub undisturbed: Option<RunVerdict>,
}

impl CrashVerdict {
    /// Whether every invariant held in every run.
    pub fn holds(&self) -> bool {
        self.crashed.holds() && self.undisturbed.as_ref().is_none_or(RunVerdict::holds)
    }

    /// `kills N: lost 0, doubled 0, over-claim X%, released ¥0.00, recall Y% (undisturbed Z%)`.
    pub fn line(&self) -> String {
        let c = &self.crashed;
        let undisturbed = match &self.undisturbed {
            Some(u) => format!("{:.1}%", u.recall * 100.0),
            None => "not run".to_owned(),
        };
        let stops = if c.stops_beyond_limit > 0 {
            format!(", stops beyond two {}", c.stops_beyond_limit)
        } else {
            String::new()
        };
        format!(
            "kills {}: lost {}, doubled {}{stops}, over-claim {:.1}%, released {}, recall {:.1}% (undisturbed {undisturbed})",
            c.kills,
            c.lost,
            c.doubled,
            c.over_claim * 100.0,
            c.released,
            c.recall * 100.0
        )
    }
}

/// Runs the crash drill (and the undisturbed run first, if asked for).
pub async fn run(options: CrashOptions) -> anyhow::Result<CrashVerdict> {
    anyhow::ensure!(options.afc.is_file(), "no afc binary at {} (build it, or pass --afc)", options.afc.display());
    let undisturbed = if options.undisturbed { Some(run_once(&options, 0, "undisturbed").await?) } else { None };
    let crashed = run_once(&options, options.kills, "crashed").await?;
    Ok(CrashVerdict { crashed, undisturbed })
}

/// One deployment, `kills` SIGKILLs, judged.
async fn run_once(options: &CrashOptions, kills: u32, label: &str) -> anyhow::Result<RunVerdict> {
    let mut scenario = Scenario::load(&options.scenario)?;
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    if let Some(scale) = options.time_scale {
        scenario.time_scale = scale;
    }
    let script = generate_script(&scenario).context("generating the crime wave")?;
    let cities: Vec<City> =
        scenario.cities.iter().map(|c| c.city.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let out = options.out.join(label);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    eprintln!("afc-lab drill crash: {label} run, {kills} kills, cities {}", join(&cities));

    let data = tempfile::tempdir().context("creating the nodes' data directory")?;
    let secrets_dir = data.path().join("secrets");
    let secrets = secured::generate(&secrets_dir, &cities, &script.world.banks, &script.world.platforms)?;
    let security = Some(secured::province_security(&secrets));
    let province =
        Province::start(&cities, ProvinceOptions { sync_always: true, security, ..ProvinceOptions::default() })
            .await
            .context("starting the hub and city nats-servers")?;
    let connector = secured::Connector {
        secrets: Some(secrets_dir.clone()),
        hub_url: province.hub_url(),
        city_urls: province.cities().map(|(city, node)| (city.clone(), node.server.url())).collect(),
    };
    provision(options, &connector, &cities).await?;
    let now = domain::SystemClock.now_ms();
    let start_in_ms = u64::try_from(options.start_in.as_millis()).context("start_in is too far away")?;
    let clock = DrillClock::new(script.origin_ms, scenario.time_scale, now + start_in_ms)?;
    let mut nodes = BTreeMap::new();
    for city in &cities {
        let url = province.city(city)?.server.url();
        let log = out.join(format!("{city}.log"));
        let node = CityNode::start(
            city.clone(),
            &options.afc,
            url,
            data.path().join(city.as_str()),
            (clock, secrets_dir.clone()),
            (log, options.log_filter.clone()),
        )?;
        nodes.insert(city.clone(), node);
    }
    let mut observers = BTreeMap::new();
    for city in &cities {
        observers.insert(city.clone(), connector.city(city).await?);
    }

    let first_due = script.reports.iter().map(|r| r.due_at_ms).min().unwrap_or(script.origin_ms);
    let last_due = script.reports.iter().map(|r| r.due_at_ms).max().unwrap_or(script.origin_ms);
    let window = (first_due, last_due.saturating_add(freezing::limits::DEFAULT_FREEZE_AFTER_MS).min(script.horizon_ms));
    let schedule = kill_schedule(scenario.seed, kills, window, &cities);
    let killer = tokio::spawn(kill_at(schedule, nodes, observers.clone(), clock, options.progress));

    let drill_options = DrillOptions {
        scenario: options.scenario.clone(),
        out: out.clone(),
        seed: options.seed,
        time_scale: None,
        progress: options.progress,
        target: Target::Secured { connector: connector.clone(), clock },
        tracing_rule: freezing::rule::TracingRule::default(),
    };
    let drilled = drill::run_detailed(drill_options).await;
    let drilled = match drilled {
        Ok(run) => run,
        Err(error) => {
            killer.abort();
            return Err(error.context(format!("the {label} drill")));
        }
    };
    let (mut nodes, self_exits) = killer.await.context("the killer panicked")??;

    let streams = settle(&observers, &drilled).await?;
    let mut unpublished = 0u64;
    let mut details = Vec::new();
    for (city, node) in &mut nodes {
        let status = node.stop().await?;
        if !status.success() {
            details.push(format!("{city}: afc city exited {status} when told to stop"));
        }
        let logged = audit::logged_seqs(node.data(), node.city())?;
        // The stream as the stopped node left it: its relays published what they had, and
        // events recorded after the traces settled (blocking's order confirmations, a
        // freeze) are in it now.
        let js = async_nats::jetstream::new(observers[city].clone());
        let left = audit::read_stream(&js, city).await?;
        for (service, last) in logged {
            let published = left.last_seq.get(&service).copied().unwrap_or(0);
            if last > published {
                unpublished += last - published;
                details.push(format!("{city} {service:?}: log holds seqs to {last}, the stream to {published}"));
            }
        }
    }
    Ok(judge(kills, self_exits, &drilled, &streams, unpublished, details))
}

/// Creates each city's stream with `afc city provision` and the hub's province stream with
/// `afc province provision`, as the provisioners' identities, as an operator does.
async fn provision(options: &CrashOptions, connector: &secured::Connector, cities: &[City]) -> anyhow::Result<()> {
    let secrets = connector.secrets.as_deref().context("the crash drill's deployment is secured")?;
    let mut commands = Vec::new();
    for city in cities {
        let url = connector.city_urls.get(city).with_context(|| format!("no URL for {city}"))?;
        let mut command = tokio::process::Command::new(&options.afc);
        command.args(["city", "provision", "--city", city.as_str(), "--nats", url]);
        commands.push((format!("afc city provision --city {city}"), command));
    }
    let mut command = tokio::process::Command::new(&options.afc);
    command.args(["province", "provision", "--hub", &connector.hub_url]);
    for city in cities {
        command.args(["--city", city.as_str()]);
    }
    commands.push(("afc province provision".to_owned(), command));
    for (what, mut command) in commands {
        command.arg("--credentials").arg(secrets);
        let output = tokio::time::timeout(PROVISION_TIMEOUT, command.kill_on_drop(true).output())
            .await
            .with_context(|| format!("{what} did not finish"))?
            .with_context(|| format!("running {what}"))?;
        anyhow::ensure!(
            output.status.success(),
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `kills` moments in simulated time, uniform over `window`, sorted, each with the city to
/// kill: the same for the same seed.
pub fn kill_schedule(seed: u64, kills: u32, window: (TimeMs, TimeMs), cities: &[City]) -> Vec<(TimeMs, City)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ KILL_SEED_SALT);
    let (from, to) = (window.0, window.1.max(window.0 + 1));
    let mut moments: Vec<(TimeMs, City)> =
        (0..kills).map(|_| (rng.random_range(from..to), cities[rng.random_range(0..cities.len())].clone())).collect();
    moments.sort();
    moments
}

/// Kills each city at its moment and starts it again, waiting until it answers before the
/// next kill. Returns the nodes and how often a node exited on its own.
async fn kill_at(
    schedule: Vec<(TimeMs, City)>,
    mut nodes: BTreeMap<City, CityNode>,
    observers: BTreeMap<City, async_nats::Client>,
    clock: DrillClock,
    progress: bool,
) -> anyhow::Result<(BTreeMap<City, CityNode>, u32)> {
    let total = schedule.len();
    for (index, (at_ms, city)) in schedule.into_iter().enumerate() {
        loop {
            let now = clock.now_ms();
            if now >= at_ms {
                break;
            }
            // A timer until the moment, not a synchronisation: nothing else is waited for.
            tokio::time::sleep(clock.real_duration(at_ms - now).min(SETTLE_POLL)).await;
            for node in nodes.values_mut() {
                node.restart_if_exited()?;
            }
        }
        let node = nodes.get_mut(&city).context("a kill for a city without a node")?;
        node.restart_if_exited()?;
        let started = Instant::now();
        node.kill_and_restart().await?;
        let observer = observers.get(&city).context("a kill for a city without a connection")?;
        wait_answering(observer, &city).await.with_context(|| format!("{city} after kill {}", index + 1))?;
        if progress {
            eprintln!(
                "\nkill {}/{total}: {city} at {}, answering again after {:.1} s",
                index + 1,
                drill::render::sim_time(clock.now_ms()),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let exits = nodes.values().map(|n| n.exits_on_its_own).sum();
    Ok((nodes, exits))
}

/// Waits until `city`'s intake answers on `client`, asking with a short timeout: a
/// request can reach the killed process's subscription while the servers have not yet
/// noticed it is gone, and then waits for no answer.
async fn wait_answering(client: &async_nats::Client, city: &City) -> anyhow::Result<()> {
    let probe = CaseId::derive(city, 0);
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match tokio::time::timeout(PROBE_TIMEOUT, afc::client::show(client, city, &probe)).await {
            Ok(Ok(_)) => return Ok(()),
            _ if Instant::now() >= deadline => {
                anyhow::bail!("{city}'s intake did not answer within {READY_TIMEOUT:?} of its restart")
            }
            // "no responders" comes back at once: a pause before asking again.
            _ => tokio::time::sleep(PROBE_PAUSE).await,
        }
    }
}

/// Reads every city's stream until every accepted case completed (bounded by
/// [`SETTLE_TIMEOUT`]), and returns the last reading.
async fn settle(
    observers: &BTreeMap<City, async_nats::Client>,
    drilled: &DrillRun,
) -> anyhow::Result<BTreeMap<City, StreamAudit>> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let mut streams = BTreeMap::new();
        for (city, observer) in observers {
            let js = async_nats::jetstream::new(observer.clone());
            streams.insert(city.clone(), audit::read_stream(&js, city).await?);
        }
        let open = unfinished(drilled, &streams).len();
        if open == 0 || Instant::now() >= deadline {
            return Ok(streams);
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// Accepted or reported cases without a `trace_completed`.
fn unfinished(drilled: &DrillRun, streams: &BTreeMap<City, StreamAudit>) -> BTreeSet<CaseId> {
    let completed: BTreeSet<&CaseId> = streams.values().flat_map(|s| s.completed.iter()).collect();
    drilled
        .case_ids
        .iter()
        .flatten()
        .chain(streams.values().flat_map(|s| s.reported.iter()))
        .filter(|id| !completed.contains(id))
        .cloned()
        .collect()
}

fn judge(
    kills: u32,
    self_exits: u32,
    drilled: &DrillRun,
    streams: &BTreeMap<City, StreamAudit>,
    unpublished: u64,
    mut details: Vec<String>,
) -> RunVerdict {
    let open = unfinished(drilled, streams);
    let missing: u64 = streams.values().flat_map(|s| s.missing_seqs.values()).sum();
    let banks = drilled.ledger.hold_audit();
    let stream_doubled: u64 = streams.values().map(StreamAudit::doubled).sum();
    let claims: BTreeMap<&(CaseId, AccountRef), &Fen> = streams.values().flat_map(|s| s.claims.iter()).collect();
    let frozen_beyond_claim: Vec<String> = banks
        .freezes
        .iter()
        .filter(|((_, case, account), (_, frozen))| {
            claims.get(&(case.clone(), account.clone())).is_none_or(|claim| frozen > *claim)
        })
        .map(|((_, case, account), (n, frozen))| format!("{case} {account}: {n} freezes held {frozen}"))
        .collect();
    let accepted = drilled.case_ids.iter().flatten().count();
    // A victim a block spared files no report: not a refusal.
    let spared = drilled.spared.len();
    let refused = drilled.case_ids.len().saturating_sub(accepted).saturating_sub(spared);
    details.push(format!(
        "reports: {} filed, {accepted} accepted, {refused} refused or never answered, {spared} not filed (the victim spared by a block); {} cases not completed{}",
        drilled.case_ids.len().saturating_sub(spared),
        open.len(),
        examples(open.iter())
    ));
    details.push(format!(
        "streams: {} messages, {} published twice, {} logical events twice {:?}, {missing} seqs missing, {unpublished} logged but not published, {} dead letters",
        streams.values().map(|s| s.messages).sum::<u64>(),
        streams.values().map(|s| s.republished).sum::<u64>(),
        streams.values().flat_map(|s| s.doubled_by_kind.values()).sum::<u64>(),
        streams.values().flat_map(|s| s.doubled_by_kind.iter()).collect::<Vec<_>>(),
        streams.values().map(|s| s.undecoded).sum::<u64>(),
    ));
    for example in streams.values().flat_map(|s| s.examples.iter()) {
        details.push(format!("  {example}"));
    }
    details.push(format!(
        "banks: {} stops and {} freezes applied, {} requests repeated (answered from the record), {} claims frozen beyond the case's claim{}, {} accounts asked for a third stop{}",
        banks.stops_applied,
        banks.freezes_applied,
        banks.repeated_requests,
        frozen_beyond_claim.len(),
        examples(frozen_beyond_claim.iter()),
        banks.stops_beyond_limit.len(),
        examples(banks.stops_beyond_limit.iter().map(|(c, a, ids)| format!("{c} {a} {ids:?}")))
    ));
    details.push(format!("nodes: {kills} killed, {self_exits} exits on their own"));
    let total = &drilled.report.total;
    RunVerdict {
        kills,
        lost: open.len() as u64 + missing + unpublished,
        doubled: stream_doubled + frozen_beyond_claim.len() as u64,
        stops_beyond_limit: banks.stops_beyond_limit.len() as u64,
        over_claim: if total.frozen_fen == 0 { 0.0 } else { total.over_claim_fen as f64 / total.frozen_fen as f64 },
        released: Fen::new(total.released_by_lapse_fen),
        recall: total.recall(),
        details,
    }
}

/// `: a, b, c` for the first few items, or nothing.
fn examples<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let shown: Vec<String> = items.take(3).map(|i| i.to_string()).collect();
    if shown.is_empty() { String::new() } else { format!(" (e.g. {})", shown.join(", ")) }
}

fn join(cities: &[City]) -> String {
    cities.iter().map(City::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_moments_follow_the_seed_fall_in_the_window_and_are_sorted() {
        let cities = [City::parse("hangzhou").unwrap(), City::parse("ningbo").unwrap()];
        let window = (1_000, 61_000);
        let schedule = kill_schedule(7, 50, window, &cities);
        assert_eq!(schedule, kill_schedule(7, 50, window, &cities));
        assert_ne!(schedule, kill_schedule(8, 50, window, &cities));
        assert_eq!(schedule.len(), 50);
        assert!(schedule.iter().all(|(at, _)| (window.0..window.1).contains(at)));
        assert!(schedule.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        assert!(cities.iter().all(|city| schedule.iter().any(|(_, c)| c == city)), "both cities are killed");
        assert!(kill_schedule(7, 0, window, &cities).is_empty());
    }

    fn verdict(kills: u32, lost: u64, recall: f64) -> RunVerdict {
        RunVerdict {
            kills,
            lost,
            doubled: 0,
            stops_beyond_limit: 0,
            over_claim: 0.0123,
            released: Fen::ZERO,
            recall,
            details: Vec::new(),
        }
    }

    #[test]
    fn the_line_says_what_the_issue_asks_and_a_broken_invariant_fails() {
        let clean = CrashVerdict { crashed: verdict(100, 0, 0.75), undisturbed: Some(verdict(0, 0, 0.8)) };
        assert_eq!(
            clean.line(),
            "kills 100: lost 0, doubled 0, over-claim 1.2%, released ¥0.00, recall 75.0% (undisturbed 80.0%)"
        );
        assert!(clean.holds());
        let lost = CrashVerdict { crashed: verdict(100, 1, 0.75), undisturbed: None };
        assert!(!lost.holds());
        assert!(lost.line().starts_with("kills 100: lost 1,"));
        let broken_baseline = CrashVerdict { crashed: verdict(3, 0, 1.0), undisturbed: Some(verdict(0, 2, 1.0)) };
        assert!(!broken_baseline.holds(), "an undisturbed run that loses something fails the drill too");
    }
}
