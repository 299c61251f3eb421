//! `afc load`: open-loop load on an embedded deployment with banks that answer at once, and
//! `afc load --sweep`: the same over a grid of rates and city counts, with a table and a
//! chart of the knee.
//!
//! One point: a hub and `--cities` city nodes (real nats-servers; intake and freezing in this
//! process), cases with the benchmark's 4-level, 25-account trail spread round robin over the
//! cities, submitted open loop at `--rate` cases/s ([`crate::harness::drive`]) for `--warmup` +
//! `--duration` seconds. A case's latency runs from its **intended** submission time to the
//! moment this harness sees its `TraceCompleted` event (coordinated-omission corrected, end
//! to end); the service's own `time_to_freeze_ms` (from intake's receipt to the last stop
//! that held money) is recorded beside it. Cases intended during the warm-up are left out;
//! rates are counted in the measured window after it ([`crate::harness::Window`]). The CPU time of
//! this process (by thread group), of each nats-server and of the whole machine over the
//! window is printed too, to show where the time goes.
//!
//! A sweep runs each point as `afc load --result-json FILE` in a process of its own and reads
//! the result back: a point then starts from the same state whatever ran before it (no heap,
//! threads or runtime left by the previous point), as a single run does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::chart::{self, Panel, Scale, Series, Stroke};
use crate::harness::{LoadResult, Percentiles, Recorder, Schedule, Warmup, Window};
use anyhow::Context;
use domain::{CaseId, City};
use events::FreezingEvent;
use protocol::Reply;
use simulator::wave::{self, WaveConfig};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::bench::nats_server_version;
use crate::deployment::{Embedded, EmbeddedOptions, on_freezing_events};
use crate::probes::{self, StallProbe};
use afc::client;

/// The cities a deployment takes its first `--cities` from (Zhejiang's eleven prefectures).
pub const CITIES: [&str; 11] = [
    "hangzhou", "wenzhou", "huzhou", "ningbo", "jiaxing", "shaoxing", "jinhua", "quzhou", "zhoushan", "taizhou",
    "lishui",
];
/// Levels of every trail ([`WaveConfig::single_trail`]).
const TRAIL_DEPTH: u32 = 4;
/// Accounts of every trail.
const TRAIL_ACCOUNTS: u32 = 25;

/// Highest accepted rate: 2,000 cases/s is 50,000 stop-payments/s, ten times the target.
pub const MAX_RATE: f64 = 2_000.0;
/// Longest measured duration, in seconds.
pub const MAX_DURATION_S: u64 = 600;
/// Longest warm-up, in seconds.
pub const MAX_WARMUP_S: u64 = 120;
/// Most points (rates × city counts) in one sweep: each takes a fresh deployment and
/// `warm-up + duration` seconds plus the drain.
pub const MAX_SWEEP_POINTS: usize = 64;
/// Most `--retry-disturbed` runs of one point.
pub const MAX_RETRIES: u32 = 5;
/// Longest `--quiet-wait`, in seconds.
pub const MAX_QUIET_WAIT_S: u64 = 3_600;
/// Most cases in one point, per city (the simulator's bound on one wave).
const MAX_CASES_PER_CITY: u32 = simulator::limits::MAX_CASES_PER_CITY;

/// A case not completed this long after its intended submission counts as not completed.
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(30);
/// Submissions awaiting intake's reply at once; a submission beyond it is sent late, and its
/// lateness counts in its latency.
const MAX_IN_FLIGHT: usize = 10_000;
/// From the deployment being ready to the first case's due time.
const START_DELAY: Duration = Duration::from_millis(200);
/// Delay from a stop-payment to its freeze: far beyond any run, so freezes do not compete
/// with the traces being measured.
const FREEZE_AFTER_MS: u64 = 24 * 60 * 60 * 1000;

/// The target: this many cases per second sustained...
pub const TARGET_RATE: f64 = 200.0;
/// ...with the p99 time-to-freeze, CO-corrected (from the intended submission to the last stop
/// holding money), under this many ms.
pub const TARGET_P99_MS: u64 = 100;
/// Share of the offered rate the completion rate must reach for a point to count as
/// sustained.
const SUSTAINED_SHARE: f64 = 0.95;

/// How long the machine's load is sampled before a point's deployment starts.
const QUIET_SAMPLE: Duration = Duration::from_secs(1);

/// CPU (% of one core) used by something else, before a point or during its measured window,
/// above which the point counts as disturbed.
const DISTURBED_PCT: f64 = 25.0;

/// Clock ticks per second of `/proc` CPU times when `getconf CLK_TCK` cannot say.
const DEFAULT_CLK_TCK: f64 = 100.0;

/// Options of `afc load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// Cases submitted per second, open loop (one point).
    #[arg(long, required_unless_present = "sweep", conflicts_with = "sweep")]
    pub rate: Option<f64>,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Cities of the deployment (the first N of hangzhou, wenzhou, huzhou, ningbo, ...).
    #[arg(long, default_value_t = 1, conflicts_with = "sweep")]
    pub cities: usize,
    /// Seconds of load before the measured window; cases intended in them are left out.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Seed of the generated trails.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run the nats-servers with `sync_interval: always` (fsync every JetStream write).
    #[arg(long)]
    pub sync_always: bool,
    /// Walk every rate of --rates for every city count of --cities-list.
    #[arg(long)]
    pub sweep: bool,
    /// Rates of the sweep, cases/s.
    #[arg(long, value_delimiter = ',', default_values_t = [50.0, 100.0, 200.0, 300.0, 400.0])]
    pub rates: Vec<f64>,
    /// City counts of the sweep.
    #[arg(long = "cities-list", value_delimiter = ',', default_values_t = [1, 2, 3])]
    pub cities_list: Vec<usize>,
    /// Before each point, wait up to this many seconds for the machine to be idle (busy
    /// under 25% of one core for a second); 0 runs at once.
    #[arg(long, default_value_t = 0)]
    pub quiet_wait: u64,
    /// Run a point again, up to this many times, when something else used the machine
    /// before or during it.
    #[arg(long, default_value_t = 0)]
    pub retry_disturbed: u32,
    /// Directory the sweep writes sweep.md, sweep.svg and each point's result (JSON) into.
    #[arg(long, default_value = "target/load")]
    pub out: PathBuf,
    /// Also write the point's result as JSON to this file: how a sweep, which runs each
    /// point in a process of its own, reads it back (progress lines are then left to it).
    #[arg(long, conflicts_with = "sweep")]
    pub result_json: Option<PathBuf>,
}

/// An option out of range, naming the flag.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OptionError {
    #[error("--rate {given} is out of range: it must be above 0 and at most {MAX_RATE} cases/s")]
    Rate { given: f64 },
    #[error("--duration {given} is out of range: 1 to {MAX_DURATION_S} seconds")]
    Duration { given: u64 },
    #[error("--warmup {given} is out of range: 0 to {MAX_WARMUP_S} seconds")]
    Warmup { given: u64 },
    #[error("--cities {given} is out of range: 1 to {} (the cities afc load knows)", CITIES.len())]
    Cities { given: usize },
    #[error("--quiet-wait {given} is out of range: 0 to {MAX_QUIET_WAIT_S} seconds")]
    QuietWait { given: u64 },
    #[error("--retry-disturbed {given} is out of range: 0 to {MAX_RETRIES}")]
    Retries { given: u32 },
    #[error("--rates is empty: give at least one rate")]
    NoRates,
    #[error("--cities-list is empty: give at least one city count")]
    NoCities,
    #[error("--rates × --cities-list is {given} points, at most {MAX_SWEEP_POINTS}")]
    SweepPoints { given: usize },
    #[error(
        "{rate} cases/s for --warmup {warmup} + --duration {duration} s is {cases} cases, {per_city} per city \
         with --cities {cities}, and a city takes at most {MAX_CASES_PER_CITY}: lower --rate or --duration"
    )]
    TooManyCases { rate: f64, warmup: u64, duration: u64, cities: usize, cases: u64, per_city: u64 },
}

/// One point of load: what is run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PointConfig {
    pub rate: f64,
    pub cities: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub seed: u64,
    pub sync_always: bool,
}

impl PointConfig {
    fn validate(&self) -> Result<(), OptionError> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(OptionError::Rate { given: self.rate });
        }
        let duration = self.duration.as_secs();
        if duration == 0 || duration > MAX_DURATION_S {
            return Err(OptionError::Duration { given: duration });
        }
        if self.warmup.as_secs() > MAX_WARMUP_S {
            return Err(OptionError::Warmup { given: self.warmup.as_secs() });
        }
        if self.cities == 0 || self.cities > CITIES.len() {
            return Err(OptionError::Cities { given: self.cities });
        }
        let cases = self.cases();
        let per_city = cases.div_ceil(self.cities as u64);
        if per_city > u64::from(MAX_CASES_PER_CITY) {
            return Err(OptionError::TooManyCases {
                rate: self.rate,
                warmup: self.warmup.as_secs(),
                duration,
                cities: self.cities,
                cases,
                per_city,
            });
        }
        Ok(())
    }

    /// Cases submitted: warm-up and measured.
    fn cases(&self) -> u64 {
        // count_within does not depend on the start; any instant will do.
        Schedule::new(Instant::now(), self.rate).map_or(0, |s| s.count_within(self.warmup + self.duration))
    }
}

impl LoadOptions {
    /// The points to run, in order, after checking every option.
    pub fn points(&self) -> Result<Vec<PointConfig>, OptionError> {
        if self.quiet_wait > MAX_QUIET_WAIT_S {
            return Err(OptionError::QuietWait { given: self.quiet_wait });
        }
        if self.retry_disturbed > MAX_RETRIES {
            return Err(OptionError::Retries { given: self.retry_disturbed });
        }
        let point = |rate: f64, cities: usize| PointConfig {
            rate,
            cities,
            duration: Duration::from_secs(self.duration),
            warmup: Duration::from_secs(self.warmup),
            seed: self.seed,
            sync_always: self.sync_always,
        };
        let points = if self.sweep {
            if self.rates.is_empty() {
                return Err(OptionError::NoRates);
            }
            if self.cities_list.is_empty() {
                return Err(OptionError::NoCities);
            }
            let count = self.rates.len().saturating_mul(self.cities_list.len());
            if count > MAX_SWEEP_POINTS {
                return Err(OptionError::SweepPoints { given: count });
            }
            self.cities_list
                .iter()
                .flat_map(|&cities| self.rates.iter().map(move |&rate| point(rate, cities)))
                .collect()
        } else {
            vec![point(self.rate.unwrap_or(f64::NAN), self.cities)]
        };
        for p in &points {
            p.validate()?;
        }
        Ok(points)
    }
}

/// What one point measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PointResult {
    pub config: PointConfig,
    /// Rates, CO-corrected end-to-end latency (µs), lateness, warm-up and incomplete counts.
    pub load: LoadResult,
    /// Time-to-freeze, coordinated-omission corrected: from each case's intended submission
    /// to its last stop holding money, µs (ms resolution, system clock). The target's figure.
    /// A case not completed counts as the completion timeout.
    pub ttf_us: Percentiles,
    /// The service's own time-to-freeze of the measured cases (from intake's receipt), µs
    /// (ms resolution).
    pub service_ttf_us: Percentiles,
    /// Intake's answer to each measured submission, µs.
    pub intake_reply_us: Percentiles,
    /// From intake's receipt to the freezing batch that recorded `TraceStarted` (intake's
    /// commit, its outbox relay, JetStream, freezing's consumer), µs (ms resolution).
    pub handoff_us: Percentiles,
    /// From `TraceStarted` to the last stop holding money (the 4 levels), µs (ms resolution).
    pub levels_us: Percentiles,
    /// From the intended submission to intake's receipt (send lateness, the request's way,
    /// intake's queue), µs (ms resolution, system clock).
    pub to_receipt_us: Percentiles,
    /// From the last stop holding money to freezing recording `TraceCompleted`, µs (ms
    /// resolution).
    pub finish_us: Percentiles,
    /// From freezing recording `TraceCompleted` to the harness seeing it (outbox relay,
    /// JetStream, delivery), µs (ms resolution).
    pub publish_us: Percentiles,
    /// Accounts stopped per second in the measured window (the `accounts_stopped` of the
    /// traces completed in it).
    pub stops_per_s: f64,
    /// Submissions intake refused or did not answer.
    pub refused: u64,
    /// Completed measured cases whose trace carried no time-to-freeze.
    pub without_ttf: u64,
    /// CPU use over the measured window, if `/proc` could be read.
    pub cpu: Option<CpuUse>,
    /// JetStream traffic over the measured window, if the servers answered.
    pub streams: Option<StreamUse>,
    /// What the stall probes saw over the measured window.
    pub stalls: Vec<StallProbe>,
}

impl PointResult {
    /// Whether the point sustained its rate: completions kept up and every case completed.
    fn sustained(&self) -> bool {
        self.load.completed_per_s >= self.config.rate * SUSTAINED_SHARE
            && self.load.incomplete == 0
            && self.refused == 0
    }

    /// The target's verdict at this point: judged as a pass at or above the target rate, as
    /// a failure only at the target rate itself (a failure above it says nothing about it).
    pub fn verdict(&self) -> Verdict {
        if self.config.rate < TARGET_RATE {
            return Verdict::NotJudged;
        }
        let pass = self.sustained() && self.ttf_us.p99 < TARGET_P99_MS * 1_000;
        if pass {
            Verdict::Pass
        } else if self.config.rate == TARGET_RATE {
            Verdict::Fail
        } else {
            Verdict::NotJudged
        }
    }
}

/// The target's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Of several points, some passed and some failed: the result varies from run to run.
    Mixed,
    NotJudged,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Mixed => "MIXED (some points passed, some failed: repeat them before concluding)",
            Verdict::NotJudged => "n/a",
        }
    }

    /// The verdict of several points: a pass only when no judged point failed.
    fn overall(points: &[PointResult]) -> Verdict {
        let verdicts: Vec<Verdict> = points.iter().map(PointResult::verdict).collect();
        match (verdicts.contains(&Verdict::Pass), verdicts.contains(&Verdict::Fail)) {
            (true, true) => Verdict::Mixed,
            (true, false) => Verdict::Pass,
            (false, true) => Verdict::Fail,
            (false, false) => Verdict::NotJudged,
        }
    }
}

/// Runs `afc load` (one point or a sweep) and prints its report on stdout.
pub async fn run(options: LoadOptions) -> anyhow::Result<()> {
    let points = options.points()?;
    let setup = Setup::probe();
    let mut results = Vec::with_capacity(points.len());
    // A sweep's point process: the sweep says which point it is, and warns when disturbed.
    let point_of_sweep = options.result_json.is_some();
    for (i, point) in points.iter().enumerate() {
        if !point_of_sweep {
            eprintln!(
                "afc load: point {}/{}: {} cases/s, {} cities, {} s + {} s warm-up",
                i + 1,
                points.len(),
                point.rate,
                point.cities,
                point.duration.as_secs(),
                point.warmup.as_secs()
            );
        }
        let mut attempt = 0;
        let result = loop {
            wait_quiet(Duration::from_secs(options.quiet_wait)).await;
            let result = if options.sweep {
                let path =
                    options.out.join(format!("point-{:02}-{}-cities-{}-per-s.json", i + 1, point.cities, point.rate));
                run_point_in_child(point, &path).await
            } else {
                run_point(point).await
            }
            .with_context(|| format!("load point {} cases/s, {} cities", point.rate, point.cities))?;
            let Some(why) = result.cpu.as_ref().and_then(CpuUse::disturbed) else {
                break result;
            };
            if !point_of_sweep {
                eprintln!("warning: this point is disturbed: {why}");
            }
            if attempt >= options.retry_disturbed {
                break result;
            }
            attempt += 1;
            eprintln!("running it again ({attempt} of {})", options.retry_disturbed);
        };
        if let Some(path) = &options.result_json {
            write(path, &serde_json::to_string_pretty(&result)?)?;
        }
        if !options.sweep {
            print_point(&setup, &result);
        }
        results.push(result);
    }
    if options.sweep {
        let table = sweep_markdown(&setup, &options, &results);
        println!("{table}");
        std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
        write(&options.out.join("sweep.md"), &table)?;
        write(&options.out.join("sweep.svg"), &sweep_chart(&results)?)?;
        eprintln!("wrote {0}/sweep.md and {0}/sweep.svg", options.out.display());
    }
    Ok(())
}

/// Runs one point as `afc load` in a process of its own (this executable), so that no point
/// inherits another's heap, threads or page cache, and reads its result back from `path`.
/// Its report goes nowhere (the sweep prints the table); its warnings to stderr.
async fn run_point_in_child(point: &PointConfig, path: &Path) -> anyhow::Result<PointResult> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let exe = std::env::current_exe().context("locating the afc executable")?;
    let mut command = tokio::process::Command::new(&exe);
    command
        .arg("load")
        .args(["--rate", &point.rate.to_string()])
        .args(["--cities", &point.cities.to_string()])
        .args(["--duration", &point.duration.as_secs().to_string()])
        .args(["--warmup", &point.warmup.as_secs().to_string()])
        .args(["--seed", &point.seed.to_string()])
        .arg("--result-json")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    if point.sync_always {
        command.arg("--sync-always");
    }
    let status = command.status().await.with_context(|| format!("running {}", exe.display()))?;
    anyhow::ensure!(status.success(), "the point's process ended with {status}");
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// What is printed about the machine and the software, once per run.
struct Setup {
    cpus: usize,
    nats_version: String,
}

impl Setup {
    fn probe() -> Setup {
        Setup {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            nats_version: nats_server_version().unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// What the `TraceCompleted` subscriber saw for one case (the first one).
#[derive(Debug, Clone, Copy)]
struct Completion {
    observed_at: Instant,
    /// The same moment on the system clock, ms since the epoch.
    seen_ms: u64,
    /// When freezing recorded the `TraceCompleted` event (its envelope's time).
    committed_ms: u64,
    time_to_freeze_ms: Option<u64>,
    accounts_stopped: u32,
}

/// What the `TraceStarted` subscriber saw for one case (the first one).
#[derive(Debug, Clone, Copy)]
struct Started {
    /// When intake received the report.
    reported_at_ms: u64,
    /// When freezing recorded `TraceStarted`.
    started_ms: u64,
}

/// Runs one point on a fresh deployment.
pub async fn run_point(point: &PointConfig) -> anyhow::Result<PointResult> {
    point.validate()?;
    let busy_before_pct = machine_busy_before(QUIET_SAMPLE).await;
    let cities: Vec<City> =
        CITIES[..point.cities].iter().map(|name| City::parse(name)).collect::<Result<_, _>>().context("a load city")?;
    let count = point.cases();
    let cases_per_city = u32::try_from(count.div_ceil(cities.len() as u64)).context("cases per city")?;
    let now = domain::system_clock().now_ms();
    let wave = wave::generate(
        &WaveConfig { cities: cities.clone(), cases_per_city, ..WaveConfig::single_trail(point.seed) },
        now,
    )
    .context("generating the trails")?;
    // Round robin: case i goes to city i mod n, as the k-th case of that city.
    let mut by_city: Vec<VecDeque<Vec<u8>>> = vec![VecDeque::new(); cities.len()];
    for report in &wave.reports {
        let slot = cities.iter().position(|c| *c == report.city).context("a report from an unknown city")?;
        by_city[slot].push_back(serde_json::to_vec(&report.body)?);
    }
    let mut cases: Vec<Option<(City, Vec<u8>)>> = Vec::with_capacity(usize::try_from(count)?);
    for i in 0..count {
        let slot = usize::try_from(i % cities.len() as u64)?;
        let body = by_city[slot].pop_front().context("the wave has fewer cases than the schedule")?;
        cases.push(Some((cities[slot].clone(), body)));
    }

    let deployment = Embedded::start(
        &cities,
        wave.world,
        EmbeddedOptions {
            freeze_after_ms: FREEZE_AFTER_MS,
            bank_latency: Duration::ZERO,
            sync_always: point.sync_always,
            ..EmbeddedOptions::default()
        },
    )
    .await?;
    let (observed, mut changed, watcher) = watch_completions(&deployment, &cities).await?;
    let servers = server_processes(&deployment, &cities);

    let start = Instant::now() + START_DELAY;
    // The services stamp events with the system clock: due times are converted to it.
    let start_ms = domain::system_clock().now_ms() + millis(START_DELAY);
    let wall_ms = |due: Instant| start_ms + millis(due.saturating_duration_since(start));
    let schedule = Schedule::new(start, point.rate)?;
    let window = Window::after_warmup(start, point.warmup, point.duration);
    let cpu = tokio::spawn(measure_cpu(window, servers));
    let mut probes = vec![
        tokio::spawn(probes::probe_runtime("harness runtime (banks, harness)".into(), window)),
        tokio::spawn(probes::probe_thread(window)),
        tokio::spawn(probes::probe_disk(deployment.data_root().to_path_buf(), window)),
        tokio::spawn(probes::probe_nats("nats-server hub (PING)".into(), deployment.province.hub_url(), window)),
    ];
    for city in &cities {
        if let Some(runtime) = deployment.city_runtime(city) {
            let name = format!("{city} runtime (intake, freezing)");
            probes.push(tokio::spawn(probes::probe_runtime_on(runtime, name, window)));
        }
        let url = deployment.province.city(city)?.server.url();
        probes.push(tokio::spawn(probes::probe_nats(format!("nats-server {city} (PING)"), url, window)));
    }
    let streams = tokio::spawn(measure_streams(
        window,
        cities.iter().map(|c| (c.clone(), deployment.client(c).clone())).collect(),
        deployment.hub.clone(),
    ));
    let clients: HashMap<City, async_nats::Client> =
        cities.iter().map(|c| (c.clone(), deployment.client(c).clone())).collect();
    let sent = crate::harness::drive(&schedule, count, MAX_IN_FLIGHT, |index| {
        let case = usize::try_from(index).ok().and_then(|i| cases.get_mut(i)).and_then(Option::take);
        let client = case.as_ref().map(|(city, _)| clients[city].clone());
        async move {
            let sent = Instant::now();
            let submitted = async {
                let (Some((city, body)), Some(client)) = (case, client) else {
                    anyhow::bail!("case {index} is not in the wave");
                };
                match client::report(&client, &city, body).await? {
                    Reply::Ok(accepted) => Ok(accepted.case_id),
                    Reply::Error(error) => anyhow::bail!("case {index}: report refused: {}", error.message),
                }
            }
            .await;
            (submitted, sent.elapsed())
        }
    })
    .await?;

    // Wait for every accepted case, at most COMPLETION_TIMEOUT after the last one was due.
    let accepted = sent.iter().filter(|s| s.output.0.is_ok()).count();
    let deadline = schedule.due(count.saturating_sub(1)) + COMPLETION_TIMEOUT;
    while observed.lock().expect("observed lock").completions.len() < accepted {
        match tokio::time::timeout_at(deadline, changed.changed()).await {
            Ok(Ok(())) => {}
            // The deadline passed, or the watcher ended: what was seen is all there is.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    watcher.abort();
    let cpu = cpu.await.ok().flatten().map(|cpu| CpuUse { busy_before_pct, ..cpu });
    let streams = match streams.await {
        Ok(Ok(streams)) => Some(streams),
        Ok(Err(error)) => {
            tracing::warn!(%error, "reading the streams' state failed");
            None
        }
        Err(_) => None,
    };
    let mut stalls = Vec::with_capacity(probes.len());
    for probe in probes {
        match probe.await {
            Ok(probe) => stalls.push(probe),
            Err(error) => tracing::warn!(%error, "a stall probe failed"),
        }
    }
    let observed = std::mem::take(&mut *observed.lock().expect("observed lock"));
    deployment.stop().await;

    let mut e2e = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut ttf_co = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut ttf = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut lateness = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut reply = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut handoff = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut levels = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut to_receipt = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut finish = Recorder::new(start, Warmup::Time(point.warmup))?;
    let mut publish = Recorder::new(start, Warmup::Time(point.warmup))?;
    let (mut incomplete, mut refused, mut without_ttf, mut measured) = (0, 0, 0, 0);
    for s in &sent {
        if e2e.is_warmup(s.index, s.due) {
            // Counted as warm-up (left out), whatever its value.
            e2e.record_value(s.index, s.due, Duration::ZERO);
            continue;
        }
        measured += 1;
        lateness.record_value(s.index, s.due, s.lateness());
        reply.record_value(s.index, s.due, s.output.1);
        let case_id = s.output.0.as_ref().ok();
        let started = case_id.and_then(|id| observed.started.get(id)).copied();
        if let Some(st) = started {
            let ms = |v: u64| Duration::from_millis(v);
            handoff.record_value(s.index, s.due, ms(st.started_ms.saturating_sub(st.reported_at_ms)));
            to_receipt.record_value(s.index, s.due, ms(st.reported_at_ms.saturating_sub(wall_ms(s.due))));
        }
        let completion = match &s.output.0 {
            Ok(case_id) => observed.completions.get(case_id),
            Err(error) => {
                refused += 1;
                tracing::debug!(%error, "submission failed");
                None
            }
        };
        match completion {
            Some(c) => {
                e2e.record(s.index, s.due, c.observed_at);
                publish.record_value(s.index, s.due, Duration::from_millis(c.seen_ms.saturating_sub(c.committed_ms)));
                match c.time_to_freeze_ms {
                    Some(ms) => {
                        ttf.record_value(s.index, s.due, Duration::from_millis(ms));
                        // Without its TraceStarted seen, the case's completion bounds it.
                        let last_stop_ms = started.map_or(c.committed_ms, |st| st.reported_at_ms + ms);
                        let co = last_stop_ms.saturating_sub(wall_ms(s.due));
                        ttf_co.record_value(s.index, s.due, Duration::from_millis(co));
                        if let Some(st) = started {
                            let last_stop_ms = st.reported_at_ms + ms;
                            let levels_ms = last_stop_ms.saturating_sub(st.started_ms);
                            levels.record_value(s.index, s.due, Duration::from_millis(levels_ms));
                            let finish_ms = c.committed_ms.saturating_sub(last_stop_ms);
                            finish.record_value(s.index, s.due, Duration::from_millis(finish_ms));
                        }
                    }
                    None => without_ttf += 1,
                }
            }
            None => {
                incomplete += 1;
                e2e.record_timeout(s.index, s.due, COMPLETION_TIMEOUT);
                ttf_co.record_timeout(s.index, s.due, COMPLETION_TIMEOUT);
            }
        }
    }
    let completions: Vec<(Instant, u64)> =
        observed.completions.values().map(|c| (c.observed_at, u64::from(c.accounts_stopped))).collect();
    let load = LoadResult {
        offered_per_s: point.rate,
        submitted_per_s: window.rate(sent.iter().map(|s| s.sent)),
        completed_per_s: window.rate(completions.iter().map(|(at, _)| *at)),
        measured,
        warmup_excluded: e2e.warmup_excluded(),
        incomplete,
        latency_us: e2e.percentiles(),
        lateness_us: lateness.percentiles(),
    };
    Ok(PointResult {
        config: point.clone(),
        load,
        ttf_us: ttf_co.percentiles(),
        service_ttf_us: ttf.percentiles(),
        intake_reply_us: reply.percentiles(),
        handoff_us: handoff.percentiles(),
        to_receipt_us: to_receipt.percentiles(),
        finish_us: finish.percentiles(),
        publish_us: publish.percentiles(),
        levels_us: levels.percentiles(),
        stops_per_s: window.weighted_rate(completions),
        refused,
        without_ttf,
        cpu,
        streams,
        stalls,
    })
}

/// What the freezing-event subscriber saw, per case (the first event of each kind).
#[derive(Debug, Default)]
struct Observed {
    completions: HashMap<CaseId, Completion>,
    started: HashMap<CaseId, Started>,
}

type SharedObserved = Arc<Mutex<Observed>>;

/// Subscribes (on connections of its own) to every city's `trace_started` and
/// `trace_completed` events and records the first one of each case; the watch channel ticks
/// on each newly completed case.
async fn watch_completions(
    deployment: &Embedded,
    cities: &[City],
) -> anyhow::Result<(SharedObserved, watch::Receiver<usize>, tokio::task::JoinHandle<()>)> {
    let mut sources = Vec::with_capacity(cities.len());
    for city in cities {
        let url = deployment.province.city(city)?.server.url();
        let client = async_nats::connect(&url).await.with_context(|| format!("connecting to {city}"))?;
        sources.push((client, city.clone()));
    }
    let observed: SharedObserved = Arc::default();
    let (tick, changed) = watch::channel(0usize);
    let sink = observed.clone();
    let task = on_freezing_events(&sources, &["trace_started", "trace_completed"], move |message| {
        let seen_ms = domain::system_clock().now_ms();
        let mut sink = sink.lock().expect("observed lock");
        match message.event {
            FreezingEvent::TraceStarted { case_id, reported_at_ms, .. } => {
                sink.started.entry(case_id).or_insert(Started { reported_at_ms, started_ms: message.time_ms });
            }
            FreezingEvent::TraceCompleted { case_id, time_to_freeze_ms, accounts_stopped, .. } => {
                let before = sink.completions.len();
                sink.completions.entry(case_id).or_insert(Completion {
                    observed_at: tokio::time::Instant::from_std(message.observed_at),
                    seen_ms,
                    committed_ms: message.time_ms,
                    time_to_freeze_ms,
                    accounts_stopped,
                });
                let seen = sink.completions.len();
                drop(sink);
                if seen > before {
                    tick.send_replace(seen);
                }
            }
            _ => {}
        }
    })
    .await?;
    Ok((observed, changed, task))
}

// ---------------------------------------------------------------------------
// JetStream traffic
// ---------------------------------------------------------------------------

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
async fn consumer_backlog(js: &async_nats::jetstream::Context, stream: &str, consumer: &str) -> anyhow::Result<u64> {
    let stream = js.get_stream(stream).await.with_context(|| format!("looking up {stream}"))?;
    let info = stream.consumer_info(consumer).await.with_context(|| format!("consumer {consumer}"))?;
    Ok(info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0))
}

/// Reads the streams' message counts at the start and the end of `window`, and the
/// consumers' backlogs at its end.
async fn measure_streams(
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
        let freezing = consumer_backlog(js, &stream, "freezing").await?;
        let timeline = consumer_backlog(js, &stream, "intake-timeline").await?;
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

// ---------------------------------------------------------------------------
// CPU use from /proc
// ---------------------------------------------------------------------------

/// CPU use over the measured window, in % of one core (200% = both cores of a 2-core
/// machine).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuUse {
    /// This process: services, simulated banks, leaf-link proxies and the harness.
    pub afc_pct: f64,
    /// This process by thread group (tokio workers and blocking pool, redb writers, ...).
    /// Threads that ended inside the window are missing here but counted in `afc_pct`.
    pub afc_threads_pct: BTreeMap<String, f64>,
    /// Each nats-server, by name (hub, then the cities).
    pub servers_pct: Vec<(String, f64)>,
    /// The whole machine: busy share of all cores × cores, in % of one core.
    pub machine_pct: f64,
    /// Cores the machine has (the most `machine_pct` can be is 100 × this).
    pub cores: usize,
    /// The machine's busy share just before the deployment started (nothing of the run
    /// running yet), same unit.
    pub busy_before_pct: Option<f64>,
}

impl CpuUse {
    /// Why the point's figures are not the afc deployment's alone, if they are not.
    pub fn disturbed(&self) -> Option<String> {
        if let Some(before) = self.busy_before_pct.filter(|b| *b > DISTURBED_PCT) {
            return Some(format!("the machine was {before:.0}% busy before the point started"));
        }
        let others = self.others_pct();
        (others > DISTURBED_PCT).then(|| format!("other processes used {others:.0}% during the measured window"))
    }

    /// Everything else on the machine: the machine minus this process and its nats-servers.
    pub fn others_pct(&self) -> f64 {
        let nats: f64 = self.servers_pct.iter().map(|(_, p)| p).sum();
        (self.machine_pct - self.afc_pct - nats).max(0.0)
    }
}

/// Cumulative CPU ticks at one moment.
struct CpuSnapshot {
    afc: u64,
    threads: BTreeMap<String, u64>,
    servers: Vec<(String, u64)>,
    /// (busy, total) of /proc/stat's `cpu` line.
    machine: (u64, u64),
}

/// The nats-server processes of the deployment: (name, pid).
fn server_processes(deployment: &Embedded, cities: &[City]) -> Vec<(String, u32)> {
    let mut wanted: Vec<(String, String)> =
        vec![("hub".into(), deployment.province.hub.config_path().display().to_string())];
    for city in cities {
        if let Ok(node) = deployment.province.city(city) {
            wanted.push((city.to_string(), node.server.config_path().display().to_string()));
        }
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Some(stat) = read_stat(&format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat.ppid != me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if let Some((name, _)) = wanted.iter().find(|(_, config)| cmdline.contains(config.as_str())) {
            found.push((name.clone(), pid));
        }
    }
    found.sort_by_key(|(name, _)| wanted.iter().position(|(n, _)| n == name));
    found
}

/// The fields of `/proc/<pid>/stat` this harness reads.
struct Stat {
    comm: String,
    ppid: u32,
    /// utime + stime, in clock ticks.
    ticks: u64,
}

fn read_stat(path: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the comm: state (3), ppid (4), ..., utime (14), stime (15).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat { comm, ppid, ticks: utime + stime })
}

/// The group a thread of this process is counted in, by its name.
fn thread_group(comm: &str) -> String {
    if comm.starts_with("store-") {
        "redb writer threads".into()
    } else if let Some(city) = comm.strip_prefix("afc-") {
        format!("{city} runtime (intake, freezing)")
    } else if comm.starts_with("tokio-r") {
        "main runtime (banks, leaf links, harness)".into()
    } else {
        comm.to_owned()
    }
}

/// Waits until the machine is idle (busy under [`DISTURBED_PCT`] over
/// [`QUIET_SAMPLE`]) or `patience` has passed.
async fn wait_quiet(patience: Duration) {
    if patience.is_zero() {
        return;
    }
    let deadline = Instant::now() + patience;
    loop {
        match machine_busy_before(QUIET_SAMPLE).await {
            Some(busy) if busy > DISTURBED_PCT && Instant::now() < deadline => {
                eprintln!("waiting for the machine to be idle: {busy:.0}% busy");
            }
            _ => return,
        }
    }
}

/// The machine's busy share over `span` before the run, in % of one core: what else is
/// running (a build, another benchmark) would disturb the measurement.
async fn machine_busy_before(span: Duration) -> Option<f64> {
    let before = machine_ticks()?;
    tokio::time::sleep(span).await;
    let after = machine_ticks()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some(busy_pct(before, after, cores))
}

/// (busy, total) ticks of all cores, from /proc/stat's `cpu` line.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...; idle and iowait are not busy.
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

fn busy_pct(before: (u64, u64), after: (u64, u64), cores: usize) -> f64 {
    let (busy, total) = (after.0.saturating_sub(before.0), after.1.saturating_sub(before.1));
    if total == 0 { 0.0 } else { busy as f64 / total as f64 * 100.0 * cores as f64 }
}

fn snapshot(servers: &[(String, u32)]) -> Option<CpuSnapshot> {
    let afc = read_stat("/proc/self/stat")?.ticks;
    let mut threads = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some(stat) = read_stat(&format!("{}/stat", entry.path().display())) {
            *threads.entry(thread_group(&stat.comm)).or_insert(0) += stat.ticks;
        }
    }
    let servers = servers
        .iter()
        .map(|(name, pid)| (name.clone(), read_stat(&format!("/proc/{pid}/stat")).map_or(0, |s| s.ticks)));
    Some(CpuSnapshot { afc, threads, servers: servers.collect(), machine: machine_ticks()? })
}

/// Samples CPU ticks at the start and the end of `window` and returns the use in between.
async fn measure_cpu(window: Window, servers: Vec<(String, u32)>) -> Option<CpuUse> {
    tokio::time::sleep_until(window.start).await;
    let before = snapshot(&servers)?;
    let started = Instant::now();
    tokio::time::sleep_until(window.end).await;
    let after = snapshot(&servers)?;
    let seconds = started.elapsed().as_secs_f64();
    let per_s = clock_ticks_per_s() * seconds / 100.0;
    let pct = |b: u64, a: u64| a.saturating_sub(b) as f64 / per_s;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some(CpuUse {
        afc_pct: pct(before.afc, after.afc),
        afc_threads_pct: after
            .threads
            .iter()
            .map(|(group, &a)| (group.clone(), pct(before.threads.get(group).copied().unwrap_or(0), a)))
            .collect(),
        servers_pct: after
            .servers
            .iter()
            .zip(&before.servers)
            .map(|((name, a), (_, b))| (name.clone(), pct(*b, *a)))
            .collect(),
        machine_pct: busy_pct(before.machine, after.machine, cores),
        cores,
        busy_before_pct: None,
    })
}

fn clock_ticks_per_s() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(DEFAULT_CLK_TCK)
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

/// A duration in whole ms (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1_000.0
}

/// "p50 … max … ms (n=…)", with "≥" on the percentiles a timeout may have cut short.
fn percentiles_ms(p: &Percentiles) -> String {
    let bound = |q: f64, v: u64| {
        let cut = p.count > 0 && (p.censored as f64 / p.count as f64) > 1.0 - q;
        format!("{}{:.1}", if cut { "≥" } else { "" }, ms(v))
    };
    format!(
        "p50 {} p90 {} p99 {} p99.9 {} max {} ms (n={})",
        bound(0.5, p.p50),
        bound(0.9, p.p90),
        bound(0.99, p.p99),
        bound(0.999, p.p999),
        bound(1.0, p.max),
        p.count
    )
}

fn city_names(n: usize) -> String {
    CITIES[..n.min(CITIES.len())].join(", ")
}

fn print_point(setup: &Setup, r: &PointResult) {
    let c = &r.config;
    let l = &r.load;
    let row = |name: &str, value: String| println!("  {name:<34} {value}");
    println!();
    println!("afc load");
    println!("setup");
    row("machine (nproc)", format!("{} cpus", setup.cpus));
    row("nats-server", setup.nats_version.clone());
    row(
        "nats-server sync",
        if c.sync_always { "sync_interval: always".into() } else { "default (JetStream fsyncs every 2 min)".into() },
    );
    row("cities", format!("{} ({})", c.cities, city_names(c.cities)));
    row(
        "trail",
        format!(
            "{TRAIL_DEPTH} levels (1, 4, 8, 12), {TRAIL_ACCOUNTS} accounts, banks answer at once, no freeze in the run"
        ),
    );
    row(
        "load",
        format!(
            "open loop, {} cases/s round robin over the cities, {} s warm-up + {} s measured, seed {}",
            c.rate,
            c.warmup.as_secs(),
            c.duration.as_secs(),
            c.seed
        ),
    );
    row("cases", format!("{} measured + {} warm-up", l.measured, l.warmup_excluded));
    println!("throughput (measured window)");
    row("offered", format!("{:.1} cases/s", l.offered_per_s));
    row("submitted", format!("{:.1} cases/s", l.submitted_per_s));
    row("completed (TraceCompleted seen)", format!("{:.1} cases/s", l.completed_per_s));
    row("accounts stopped", format!("{:.0} /s", r.stops_per_s));
    row("submission lateness (sent - due)", percentiles_ms(&l.lateness_us));
    println!("latency of the measured cases");
    row("time-to-freeze, CO-corrected", percentiles_ms(&r.ttf_us));
    row("  (intended submission -> last stop holding money)", String::new());
    row("end to end, CO-corrected", percentiles_ms(&l.latency_us));
    row("  (intended submission -> TraceCompleted seen)", String::new());
    println!("  its stages (system clock, ms resolution)");
    row("  intended submission -> intake receipt", percentiles_ms(&r.to_receipt_us));
    row("  receipt -> freezing TraceStarted", percentiles_ms(&r.handoff_us));
    row("  TraceStarted -> last stop (4 levels)", percentiles_ms(&r.levels_us));
    row("  last stop -> TraceCompleted recorded", percentiles_ms(&r.finish_us));
    row("  recorded -> seen (relay, JetStream)", percentiles_ms(&r.publish_us));
    row("service time-to-freeze", percentiles_ms(&r.service_ttf_us));
    row("  (intake receipt -> last stop)", String::new());
    row("intake reply to a submission", percentiles_ms(&r.intake_reply_us));
    row(
        "not completed within 30 s",
        format!(
            "{} of {} (refused or unanswered submissions {}, completed without ttf {})",
            l.incomplete, l.measured, r.refused, r.without_ttf
        ),
    );
    if let Some(cpu) = &r.cpu {
        println!("cpu over the measured window (% of one core; {} cores = {}%)", cpu.cores, cpu.cores * 100);
        if let Some(before) = cpu.busy_before_pct {
            row("machine before the run (1 s)", format!("{before:.0}%"));
        }
        row("machine, all processes", format!("{:.0}%", cpu.machine_pct));
        row("everything else (other processes, kernel)", format!("{:.0}%", cpu.others_pct()));
        row("afc process", format!("{:.0}%", cpu.afc_pct));
        for (group, pct) in cpu.afc_threads_pct.iter().filter(|(_, p)| **p >= 0.5) {
            row(&format!("  {group}"), format!("{pct:.0}%"));
        }
        for (name, pct) in &cpu.servers_pct {
            row(&format!("nats-server {name}"), format!("{pct:.0}%"));
        }
    }
    if let Some(streams) = &r.streams {
        println!("jetstream over the measured window");
        for (city, per_s) in &streams.city_events_per_s {
            let per_case = if l.completed_per_s > 0.0 { per_s / l.completed_per_s * c.cities as f64 } else { 0.0 };
            row(
                &format!("events into AFC_{}", city.to_uppercase()),
                format!("{per_s:.0} /s (~{per_case:.0} per case)"),
            );
        }
        row("events sourced by the province", format!("{:.0} /s", streams.province_events_per_s));
        for (city, freezing, timeline) in &streams.backlog_at_end {
            row(
                &format!("backlog at the end, {city}"),
                format!("freezing consumer {freezing}, intake timeline consumer {timeline} messages"),
            );
        }
    }
    if !r.stalls.is_empty() {
        println!(
            "stall probes over the measured window (late wake-ups every 2 ms; PING round trips; disk write + sync every 10 ms)"
        );
        for probe in &r.stalls {
            let worst: Vec<String> =
                probe.worst.iter().map(|(at, us)| format!("{:.0} ms at {at:.1} s", *us as f64 / 1000.0)).collect();
            row(
                &format!("  {}", probe.name),
                format!(
                    "p99 {:.1} ms, max {:.1} ms (n={}); worst: {}",
                    ms(probe.p99_us),
                    ms(probe.max_us),
                    probe.samples,
                    worst.join(", ")
                ),
            );
        }
    }
    println!("target");
    row(
        &format!("{TARGET_RATE} cases/s, p99 < {TARGET_P99_MS} ms"),
        format!(
            "{} (time-to-freeze p99 {:.1} ms; e2e p99 {:.1} ms, service ttf p99 {:.1} ms, completed {:.1}/s, not completed {})",
            r.verdict().as_str(),
            ms(r.ttf_us.p99),
            ms(l.latency_us.p99),
            ms(r.service_ttf_us.p99),
            l.completed_per_s,
            l.incomplete
        ),
    );
}

/// The sweep's report: setup, one table row per point, the verdict.
fn sweep_markdown(setup: &Setup, options: &LoadOptions, results: &[PointResult]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# afc load --sweep\n");
    let _ = writeln!(
        md,
        "Machine: {} cpus; {}; nats-server sync {}. Trail: {TRAIL_DEPTH} levels, {TRAIL_ACCOUNTS} accounts, \
         banks answer at once. Each point: a fresh deployment in a process of its own, {} s warm-up + {} s measured, open loop, \
         seed {}. Time-to-freeze (ttf, judged) = intended submission → last stop holding money \
         (CO-corrected); e2e = intended submission → TraceCompleted seen (CO-corrected); service ttf = \
         intake receipt → last stop. ms. \"≥\": cut short by the {} s completion timeout. Intake timeline \
         backlog: freezing events intake had not yet projected at the window's end. CPU in % of one core over \
         the measured window (\"before\": the machine in the second before the deployment started).\n",
        setup.cpus,
        setup.nats_version,
        if options.sync_always { "always" } else { "default" },
        options.warmup,
        options.duration,
        options.seed,
        COMPLETION_TIMEOUT.as_secs()
    );
    let _ = writeln!(
        md,
        "| cities | offered /s | submitted /s | completed /s | stops /s | ttf p50 | p90 | p99 | p99.9 | max | e2e p50 | e2e p99 | service ttf p99 | not completed | intake timeline backlog | CPU before / machine / afc / nats / others | target |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let l = &r.load;
        let t = percentile_cells(&r.ttf_us);
        let e = percentile_cells(&l.latency_us);
        let service = percentile_cells(&r.service_ttf_us);
        let cpu = r.cpu.as_ref().map_or("-".to_owned(), |c| {
            let nats: f64 = c.servers_pct.iter().map(|(_, p)| p).sum();
            let before = c.busy_before_pct.map_or("-".to_owned(), |b| format!("{b:.0}"));
            format!("{before} / {:.0} / {:.0} / {:.0} / {:.0}", c.machine_pct, c.afc_pct, nats, c.others_pct())
        });
        let backlog = r.streams.as_ref().map_or("-".to_owned(), |s| {
            s.backlog_at_end.iter().map(|(_, _, timeline)| timeline).sum::<u64>().to_string()
        });
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.1} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} of {} | {} | {} | {} |",
            r.config.cities,
            l.offered_per_s,
            l.submitted_per_s,
            l.completed_per_s,
            r.stops_per_s,
            t[0],
            t[1],
            t[2],
            t[3],
            t[4],
            e[0],
            e[2],
            service[2],
            l.incomplete + r.refused,
            l.measured,
            backlog,
            cpu,
            r.verdict().as_str()
        );
    }
    let _ = writeln!(
        md,
        "\nTarget: {TARGET_RATE} cases/s ({} stop-payments/s) sustained with time-to-freeze p99 (CO-corrected) under {TARGET_P99_MS} ms: **{}**",
        TARGET_RATE * f64::from(TRAIL_ACCOUNTS),
        Verdict::overall(results).as_str()
    );
    md
}

/// p50, p90, p99, p99.9, max in ms, "≥" where the timeout cut them short.
fn percentile_cells(p: &Percentiles) -> [String; 5] {
    let cell = |q: f64, v: u64| {
        let cut = p.count > 0 && (p.censored as f64 / p.count as f64) > 1.0 - q;
        format!("{}{:.1}", if cut { "≥" } else { "" }, ms(v))
    };
    [cell(0.5, p.p50), cell(0.9, p.p90), cell(0.99, p.p99), cell(0.999, p.p999), cell(1.0, p.max)]
}

/// The knee chart: latency (p50 dashed, p99 solid, log scale) and completed rate against the
/// offered rate, one colour per city count.
fn sweep_chart(results: &[PointResult]) -> anyhow::Result<String> {
    let mut counts: Vec<usize> = results.iter().map(|r| r.config.cities).collect();
    counts.sort_unstable();
    counts.dedup();
    let rates = || results.iter().map(|r| r.config.rate);
    let (lo, hi) = (rates().fold(f64::INFINITY, f64::min), rates().fold(f64::NEG_INFINITY, f64::max));
    let mut latency = vec![Series {
        name: format!("target p99 {TARGET_P99_MS} ms"),
        color: 7,
        stroke: Stroke::Dotted,
        points: vec![(lo, TARGET_P99_MS as f64), (hi, TARGET_P99_MS as f64)],
    }];
    let mut throughput =
        vec![Series { name: "offered".into(), color: 7, stroke: Stroke::Dotted, points: vec![(lo, lo), (hi, hi)] }];
    for (color, &n) in counts.iter().enumerate() {
        let of_n: Vec<&PointResult> = results.iter().filter(|r| r.config.cities == n).collect();
        let label = if n == 1 { "1 city".to_owned() } else { format!("{n} cities") };
        // A latency below the chart's resolution still needs a place on a log axis.
        let y = |us: u64| ms(us).max(0.001);
        latency.push(Series {
            name: format!("{label} p50"),
            color,
            stroke: Stroke::Dashed,
            points: of_n.iter().map(|r| (r.config.rate, y(r.ttf_us.p50))).collect(),
        });
        latency.push(Series {
            name: format!("{label} p99"),
            color,
            stroke: Stroke::Solid,
            points: of_n.iter().map(|r| (r.config.rate, y(r.ttf_us.p99))).collect(),
        });
        throughput.push(Series {
            name: label,
            color,
            stroke: Stroke::Solid,
            points: of_n.iter().map(|r| (r.config.rate, r.load.completed_per_s)).collect(),
        });
    }
    let panels = [
        Panel {
            title: "afc load: time-to-freeze, intended submission to last stop (CO-corrected)".into(),
            x_label: "offered load, cases/s (25 stop-payments each)".into(),
            y_label: "latency, ms (log)".into(),
            y_scale: Scale::Log10,
            series: latency,
        },
        Panel {
            title: "afc load: throughput in the measured window".into(),
            x_label: "offered load, cases/s".into(),
            y_label: "completed cases/s".into(),
            y_scale: Scale::Linear,
            series: throughput,
        },
    ];
    Ok(chart::render(&panels)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> LoadOptions {
        LoadOptions {
            rate: Some(200.0),
            duration: 20,
            cities: 1,
            warmup: 5,
            seed: 1,
            sync_always: false,
            quiet_wait: 0,
            retry_disturbed: 0,
            sweep: false,
            rates: vec![50.0, 100.0],
            cities_list: vec![1, 2],
            out: PathBuf::from("target/load"),
            result_json: None,
        }
    }

    #[test]
    fn a_point_runs_warmup_plus_duration_of_cases() {
        let points = options().points().unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].cases(), 5_000);
    }

    #[test]
    fn options_out_of_range_name_their_flag() {
        let cases = [
            (LoadOptions { rate: Some(0.0), ..options() }, "--rate"),
            (LoadOptions { rate: Some(MAX_RATE + 1.0), ..options() }, "--rate"),
            (LoadOptions { duration: 0, ..options() }, "--duration"),
            (LoadOptions { duration: MAX_DURATION_S + 1, ..options() }, "--duration"),
            (LoadOptions { warmup: MAX_WARMUP_S + 1, ..options() }, "--warmup"),
            (LoadOptions { cities: 0, ..options() }, "--cities"),
            (LoadOptions { cities: CITIES.len() + 1, ..options() }, "--cities"),
            (LoadOptions { rate: Some(1_000.0), ..options() }, "--rate"),
            (LoadOptions { sweep: true, rates: vec![], ..options() }, "--rates"),
            (LoadOptions { sweep: true, cities_list: vec![], ..options() }, "--cities-list"),
            (LoadOptions { sweep: true, cities_list: vec![1, 99], ..options() }, "--cities"),
            (LoadOptions { sweep: true, rates: vec![1.0; 40], ..options() }, "--rates"),
            (LoadOptions { quiet_wait: MAX_QUIET_WAIT_S + 1, ..options() }, "--quiet-wait"),
            (LoadOptions { retry_disturbed: MAX_RETRIES + 1, ..options() }, "--retry-disturbed"),
        ];
        for (options, flag) in cases {
            let error = options.points().unwrap_err().to_string();
            assert!(error.contains(flag), "{error:?} should name {flag}");
        }
    }

    #[test]
    fn a_sweep_walks_rates_for_each_city_count() {
        let points = LoadOptions { sweep: true, rate: None, ..options() }.points().unwrap();
        let grid: Vec<(f64, usize)> = points.iter().map(|p| (p.rate, p.cities)).collect();
        assert_eq!(grid, [(50.0, 1), (100.0, 1), (50.0, 2), (100.0, 2)]);
    }

    fn result(rate: f64, p99_ms: u64, completed: f64, incomplete: u64) -> PointResult {
        let latency = Percentiles { count: 100, p99: p99_ms * 1_000, ..Percentiles::default() };
        PointResult {
            config: PointConfig {
                rate,
                cities: 1,
                duration: Duration::from_secs(20),
                warmup: Duration::from_secs(5),
                seed: 1,
                sync_always: false,
            },
            load: LoadResult {
                offered_per_s: rate,
                submitted_per_s: rate,
                completed_per_s: completed,
                measured: 100,
                warmup_excluded: 10,
                incomplete,
                // End to end is not judged: far above the target, it must not decide a verdict.
                latency_us: Percentiles { count: 100, p99: 10 * TARGET_P99_MS * 1_000, ..Percentiles::default() },
                lateness_us: Percentiles::default(),
            },
            ttf_us: latency,
            service_ttf_us: latency,
            intake_reply_us: latency,
            handoff_us: latency,
            to_receipt_us: latency,
            finish_us: latency,
            publish_us: latency,
            levels_us: latency,
            stops_per_s: completed * 25.0,
            refused: 0,
            without_ttf: 0,
            cpu: None,
            streams: None,
            stalls: Vec::new(),
        }
    }

    #[test]
    fn the_target_is_judged_at_or_above_its_rate() {
        assert_eq!(result(100.0, 10, 100.0, 0).verdict(), Verdict::NotJudged);
        assert_eq!(result(200.0, 50, 200.0, 0).verdict(), Verdict::Pass);
        assert_eq!(result(200.0, 150, 200.0, 0).verdict(), Verdict::Fail);
        assert_eq!(result(200.0, 50, 150.0, 0).verdict(), Verdict::Fail, "did not keep up");
        assert_eq!(result(200.0, 50, 200.0, 1).verdict(), Verdict::Fail, "a case did not complete");
        assert_eq!(result(300.0, 50, 300.0, 0).verdict(), Verdict::Pass);
        assert_eq!(result(300.0, 500, 200.0, 0).verdict(), Verdict::NotJudged);
        let sweep = [result(200.0, 150, 200.0, 0), result(300.0, 50, 300.0, 0), result(200.0, 50, 200.0, 0)];
        assert_eq!(Verdict::overall(&sweep), Verdict::Mixed, "a failure at the target rate is not outweighed");
        assert_eq!(Verdict::overall(&sweep[..1]), Verdict::Fail);
        assert_eq!(Verdict::overall(&sweep[1..]), Verdict::Pass);
        assert_eq!(Verdict::overall(&[result(100.0, 10, 100.0, 0)]), Verdict::NotJudged);
    }

    #[test]
    fn the_sweep_chart_has_a_line_per_city_count_and_percentile() {
        let results = [result(50.0, 10, 50.0, 0), result(200.0, 300, 150.0, 0)];
        let svg = sweep_chart(&results).unwrap();
        assert!(svg.contains("<title>1 city p99: x=200, y=300</title>"));
        assert!(svg.contains("<title>1 city: x=200, y=150</title>"));
        let md = sweep_markdown(&Setup { cpus: 2, nats_version: "v".into() }, &options(), &results);
        assert_eq!(md.lines().filter(|l| l.starts_with("| 1 |")).count(), 2);
        assert!(md.contains("**FAIL**"));
    }
}
