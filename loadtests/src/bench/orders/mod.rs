//! `afc-lab bench blocking-orders`: from a report to blocking's carrier block orders, under
//! open-loop load, against issue 14's goal "from `case_reported` to carrier order sent: p99
//! ≤ 20 ms at 200 cases/s".
//!
//! Setup: an embedded hangzhou node (hub + city nats-servers, secured as in a center; intake,
//! freezing and blocking in this process, instant banks), whose carriers are the lab's
//! ([`carriers`]): in this process, they stamp each order on arrival with the clock the
//! submitter's due times come from, and answer at once. Reports are the bench's single trails
//! (`--trail full`: 4 levels, 25 accounts, so freezing works beside blocking as on a node
//! taking real reports; `--trail light`: one account each) with contacts of their own
//! ([`cases`]): 2 or 3 mobile numbers and, one case in three, a site, none named by another
//! case, so every case causes 2 to 6 block orders. They are filed with intake open loop at
//! `--rate` for `--warmup` + `--duration` s ([`crate::submit`]).
//!
//! Measured per case, in µs: from its **intended** submission time (coordinated-omission
//! corrected) to the arrival of its first and of its last carrier order; from intake's
//! acceptance (the submitter receiving intake's reply) to the same; and from the observer
//! hearing the case's `case_reported` to its last order (the issue's own start, with the
//! observer's delivery in it). Correctness: every order the contacts call for (computed by
//! blocking's own normalisation and carrier table) arrived, at the carrier it is for, and
//! nothing else; the run fails otherwise. The floor, in the same run before the load
//! ([`crate::bench::floor`]): the NATS request/reply round trip on the deployment and a redb
//! `Immediate` commit.

pub mod carriers;
pub mod cases;
mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use domain::{CaseId, City};
use events::{IntakeEvent, Payload};
use futures::StreamExt;
use hdrhistogram::Histogram;
use simulator::wave::{self, WaveConfig};
use tokio::time::Instant;

use crate::bench::floor;
use crate::deployment::{Embedded, EmbeddedOptions};
use crate::harness::Window;
use crate::load::cpu::{self, CpuUse};
use crate::setup::Setup;
use crate::submit::{self, Case, Submission};
use crate::targets::{MAX_RATE_PER_S, MEASUREMENT_FREEZE_AFTER_MS};
use carriers::{Arrival, LabCarriers};
use cases::Expected;
pub use report::Figures;

/// Issue 14's goal: p99 of this many ms...
pub const GOAL_P99_MS: f64 = 20.0;
/// ...at this many cases a second.
pub const GOAL_RATE_PER_S: f64 = 200.0;
/// How long after the last case was due its orders may take to arrive.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between counts of the orders arrived while draining.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// What each report's trail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Trail {
    /// The bench's single trail: 4 levels, 25 accounts (freezing's full work per case).
    Full,
    /// One account: freezing does one stop per case, so blocking has the node nearly alone.
    Light,
}

impl Trail {
    fn widths(self) -> Vec<u32> {
        match self {
            Trail::Full => simulator::wave::SINGLE_TRAIL_LEVEL_WIDTHS.to_vec(),
            Trail::Light => vec![1],
        }
    }

    fn describe(self) -> String {
        match self {
            Trail::Full => format!("full: {}", crate::setup::trail()),
            Trail::Light => "light: 1 level, 1 account".into(),
        }
    }
}

/// Options of `afc-lab bench blocking-orders`.
#[derive(Debug, Clone, clap::Args)]
pub struct OrdersBench {
    /// Cases submitted per second (open loop).
    #[arg(long, default_value_t = GOAL_RATE_PER_S)]
    pub rate: f64,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of cases submitted first and left out of the figures (their orders are
    /// checked all the same).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Each report's trail: the bench's 4-level, 25-account trail, or one account.
    #[arg(long, value_enum, default_value_t = Trail::Full)]
    pub trail: Trail,
    /// Seed of the trails and of the contacts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl OrdersBench {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE_PER_S,
            "--rate must be above 0 and at most {MAX_RATE_PER_S} cases/s"
        );
        anyhow::ensure!((1..=600).contains(&self.duration), "--duration must be 1 to 600 s");
        anyhow::ensure!(self.warmup <= 600, "--warmup must be at most 600 s");
        let cases = self.cases();
        let max = simulator::limits::MAX_CASES_PER_CITY;
        anyhow::ensure!(
            (1..=u64::from(max)).contains(&cases),
            "--rate × (--warmup + --duration) is {cases} cases: it must be 1 to {max} (one city's wave)"
        );
        Ok(())
    }

    /// Cases submitted in all.
    pub fn cases(&self) -> u64 {
        (self.rate * (self.warmup + self.duration) as f64).round() as u64
    }
}

/// What one run collected, before it is tallied ([`Figures::tally`]).
pub struct Run {
    pub city: City,
    pub expected: Expected,
    pub submissions: Vec<Submission>,
    pub arrivals: Vec<Arrival>,
    /// When the observer heard each case's `case_reported`.
    pub reported: HashMap<CaseId, Instant>,
    pub window: Window,
    pub rtt_us: Histogram<u64>,
    pub commit_us: Histogram<u64>,
    pub cpu: Option<CpuUse>,
    /// The machine's busy share over a second before the deployment started, % of one core.
    pub busy_before_pct: Option<f64>,
    /// `/proc/loadavg`'s three load averages before the run.
    pub load_average: String,
}

/// Runs the benchmark, prints its report on stdout, and fails when an order is missing or
/// unexpected.
pub async fn run(options: OrdersBench) -> anyhow::Result<()> {
    let setup = Setup::probe();
    let run = measure(&options).await?;
    let figures = Figures::tally(&options, &run)?;
    figures.print(&options, &setup, &run);
    figures.check()
}

/// Starts the deployment, measures the floor, runs the load and collects what arrived: the
/// benchmark's core, without printing. Fails when the deployment does not start or intake
/// refuses a report; missing orders are in the figures.
pub async fn measure(options: &OrdersBench) -> anyhow::Result<Run> {
    options.validate()?;
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_average = load_average.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let busy_before_pct = cpu::machine_busy_before(cpu::QUIET_SAMPLE).await;
    let count = options.cases();
    let config = WaveConfig {
        cases_per_city: u32::try_from(count)?,
        layer_widths: options.trail.widths(),
        ..WaveConfig::single_trail(options.seed)
    };
    let [city] = config.cities.as_slice() else {
        anyhow::bail!("the single trail is reported in {} cities, expected one", config.cities.len());
    };
    let city = city.clone();
    let mut wave = wave::generate(&config, domain::system_clock().now_ms()).context("generating the trails")?;
    // The lab's carriers answer in the world's place.
    wave.world.carriers.clear();
    let expected = Expected::generate(count, options.seed)?;
    let cases = wave
        .reports
        .iter()
        .zip(&expected.contacts)
        .map(|(report, contacts)| {
            let mut body = report.body.clone();
            body["contacts"] = contacts.clone();
            Ok(Case { city: report.city.clone(), body: serde_json::to_vec(&body)? })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    eprintln!("afc-lab bench blocking-orders: starting hub + {city} (secured), the lab's carriers");
    let deployment = Embedded::start(
        std::slice::from_ref(&city),
        wave.world,
        EmbeddedOptions {
            freeze_after_ms: MEASUREMENT_FREEZE_AFTER_MS,
            bank_latency: Duration::ZERO,
            ..EmbeddedOptions::default()
        },
    )
    .await?;
    let carriers = LabCarriers::start(&deployment, &city).await.context("starting the lab's carriers")?;

    eprintln!("measuring the floor: {} round trips, {} commits", floor::RTT_SAMPLES, floor::COMMIT_SAMPLES);
    let rtt_us = floor::measure_rtt(&deployment.connector(), &city).await.context("measuring the round trip")?;
    let commit_us = floor::measure_commit(&city).await.context("measuring the commit")?;

    let reported: Arc<Mutex<HashMap<CaseId, Instant>>> = Arc::default();
    let watcher = watch_reported(&deployment, &city, reported.clone()).await?;
    let servers = cpu::server_processes(&deployment, std::slice::from_ref(&city));

    eprintln!(
        "submitting {count} cases at {} cases/s ({} s warm-up, {} s measured)",
        options.rate, options.warmup, options.duration
    );
    let schedule = submit::schedule(options.rate)?;
    let window = Window::after_warmup(
        schedule.start(),
        Duration::from_secs(options.warmup),
        Duration::from_secs(options.duration),
    );
    let cpu_use = tokio::spawn(cpu::measure_cpu(window, servers));
    let clients = HashMap::from([(city.clone(), deployment.client(&city).clone())]);
    let submissions = submit::submit(&schedule, cases, &clients).await?;
    if let Some((index, refusal)) = submissions.iter().find_map(|s| s.outcome.as_ref().err().map(|r| (s.index, r))) {
        anyhow::bail!("case {index}: {refusal}");
    }

    let last_due = schedule.due(count.saturating_sub(1));
    let deadline = last_due + DRAIN_TIMEOUT;
    while !all_arrived(&expected, &carriers.arrivals()) && Instant::now() < deadline {
        tokio::time::sleep(DRAIN_POLL).await;
    }
    // Orders sent again (a lost answer) would show here: a moment more for them to arrive.
    tokio::time::sleep(DRAIN_POLL).await;
    let arrivals = carriers.arrivals();
    let cpu = cpu_use.await.ok().flatten();
    watcher.abort();
    drop(carriers);
    deployment.stop().await;
    let reported = std::mem::take(&mut *reported.lock().expect("reported lock"));
    Ok(Run {
        city,
        expected,
        submissions,
        arrivals,
        reported,
        window,
        rtt_us,
        commit_us,
        cpu,
        busy_before_pct,
        load_average,
    })
}

/// Whether every expected order has arrived.
fn all_arrived(expected: &Expected, arrivals: &[Arrival]) -> bool {
    let mut seen = std::collections::HashSet::new();
    for arrival in arrivals {
        if let Some((_, target)) = &arrival.request
            && expected.orders.contains_key(&(arrival.carrier, target.clone()))
        {
            seen.insert((arrival.carrier, target.as_str()));
        }
    }
    seen.len() as u64 == expected.total()
}

/// Records when the observer hears each case's `case_reported` (the first time).
async fn watch_reported(
    deployment: &Embedded,
    city: &City,
    reported: Arc<Mutex<HashMap<CaseId, Instant>>>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let client = deployment.connector().city(city).await?;
    let subject = protocol::subjects::event(city, events::Service::Intake, IntakeEvent::CASE_REPORTED);
    let mut subscription = client.subscribe(subject).await?;
    client.flush().await?;
    Ok(tokio::spawn(async move {
        let _client = client;
        while let Some(message) = subscription.next().await {
            let at = Instant::now();
            if let Ok(envelope) = events::decode(&message.payload)
                && let Payload::Intake(event) = envelope.payload
            {
                reported.lock().expect("reported lock").entry(event.case_id().clone()).or_insert(at);
            }
        }
    }))
}
