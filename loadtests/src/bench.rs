//! `afc bench freeze`: internal time-to-freeze of 4-level, 25-account trails with banks that
//! answer instantly, under an open-loop load, next to the floor it is compared with.
//!
//! The load: an embedded hangzhou node (hub + city nats-servers, intake and freezing in this
//! process, simulated banks with no latency) and a wave of single-trail cases. Case `i` is
//! due at `start + i / rate`; it is submitted at its due time by a task of its own, without
//! waiting for earlier cases (open loop). Freezing publishes a `TraceCompleted` event per
//! case carrying `time_to_freeze_ms`: from intake receiving the report to the last
//! stop-payment that held money, both read on this machine's clock (ms resolution). Those
//! values are the result. Because the clock starts when intake receives the report, a slow
//! submitter would hide queueing (coordinated omission): the submission lateness (send time
//! minus due time) is measured and printed so that can be checked.
//!
//! The floor, measured in the same run before the load: the NATS request/reply round trip
//! to a responder on a core subject of the city's nats-server, and one redb `Immediate`
//! commit through [`store::Store::write`] (the services' path: group-commit writer, two-phase
//! commit). The floor is `depth × (round trip p50 + commit p50)`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::{CaseId, City, Fen};
use events::{FreezingEvent, Payload, Service};
use futures::StreamExt;
use hdrhistogram::Histogram;
use protocol::Reply;
use simulator::wave::{self, WaveConfig};
use store::{Producer, Store, WriteError};
use tokio::task::JoinSet;

use crate::deployment::{Embedded, EmbeddedOptions, on_freezing_events};
use afc::client;

/// The city the benchmark's trails are reported in.
const BENCH_CITY: &str = "hangzhou";
/// Levels of the benchmark's trail ([`WaveConfig::single_trail`]).
const TRAIL_DEPTH: u64 = 4;
/// Accounts of the benchmark's trail.
const TRAIL_ACCOUNTS: u64 = 25;

/// Delay from a stop-payment to its freeze: far beyond the run, so freezes do not compete
/// with the traces being measured.
const FREEZE_AFTER_MS: u64 = 60 * 60 * 1000;

/// Highest accepted `--rate`, in cases per second.
const MAX_RATE: f64 = 10_000.0;
/// Most measured cases plus warm-up cases (the simulator's bound on cases per city).
const MAX_TOTAL_CASES: u32 = simulator::limits::MAX_CASES_PER_CITY;

/// How long to wait for the last traces after the last submission.
const COMPLETION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for the intake replies after the last submission.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Sequential round trips measured for the floor.
const RTT_SAMPLES: usize = 2_000;
/// Round trips made (and discarded) before measuring.
const RTT_WARMUP: usize = 100;
/// Size of a round-trip request, in bytes (about a stop-payment request).
const RTT_PAYLOAD_BYTES: usize = 256;
/// Longest a single floor round trip may take before the floor measurement fails.
const RTT_TIMEOUT: Duration = Duration::from_secs(5);
/// Core subject of the round-trip responder.
const RTT_SUBJECT: &str = "afc.bench.rtt";

/// Sequential single-event commits measured for the floor.
const COMMIT_SAMPLES: usize = 500;
/// Commits made (and discarded) before measuring.
const COMMIT_WARMUP: usize = 20;

/// Target 1: p50 within this factor of the floor.
const TARGET_FLOOR_FACTOR: f64 = 3.0;
/// Target 2: p99 under this many ms...
const TARGET_P99_MS: u64 = 50;
/// ...at this rate (cases per second).
const TARGET_RATE: f64 = 50.0;
/// Share of the target rate the achieved rate must reach for target 2 to be judged.
const TARGET_RATE_TOLERANCE: f64 = 0.95;

/// Significant digits of every histogram.
const HISTOGRAM_SIGFIG: u8 = 3;

/// Options of `afc bench freeze`.
#[derive(Debug, Clone, clap::Args)]
pub struct FreezeBench {
    /// Cases submitted per second (open loop).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Measured cases.
    #[arg(long, default_value_t = 500)]
    pub cases: u32,
    /// Cases submitted first and left out of the results.
    #[arg(long, default_value_t = 50)]
    pub warmup: u32,
    /// Seed of the generated trails.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run the nats-servers with `sync_interval: always` (fsync every JetStream write).
    #[arg(long)]
    pub sync_always: bool,
}

impl FreezeBench {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE,
            "--rate must be above 0 and at most {MAX_RATE} cases/s"
        );
        anyhow::ensure!(self.cases > 0, "--cases must be at least 1");
        let total = self.cases.checked_add(self.warmup);
        anyhow::ensure!(
            total.is_some_and(|t| t <= MAX_TOTAL_CASES),
            "--cases plus --warmup must be at most {MAX_TOTAL_CASES}"
        );
        Ok(())
    }

    fn total(&self) -> u32 {
        self.cases + self.warmup
    }
}

/// What one submission saw.
struct Submission {
    index: u32,
    /// Send time minus due time.
    lateness: Duration,
    sent_at: Instant,
    /// Intake's reply time.
    reply: Duration,
    case_id: CaseId,
}

/// What the `TraceCompleted` subscriber saw for one case.
#[derive(Clone, Copy)]
struct Completion {
    time_to_freeze_ms: Option<u64>,
    observed_at: Instant,
}

/// What the freezing-event subscriber saw, per case.
#[derive(Default, Clone)]
struct Observed {
    completions: HashMap<CaseId, Completion>,
    /// From intake's receipt of the report to the freezing batch that recorded
    /// `TraceStarted` (intake commit, outbox relay, JetStream, consumer delivery), in ms.
    handoff_ms: HashMap<CaseId, u64>,
}

/// Percentiles of a histogram, in its own unit.
struct Summary {
    count: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
}

impl Summary {
    fn of(h: &Histogram<u64>) -> Summary {
        Summary {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Runs the benchmark and prints its report on stdout.
pub async fn freeze(options: FreezeBench) -> anyhow::Result<()> {
    options.validate()?;
    let city = City::parse(BENCH_CITY).context("the benchmark city")?;
    let nats_version = nats_server_version();
    let now = domain::system_clock().now_ms();
    let wave =
        wave::generate(&WaveConfig { cases_per_city: options.total(), ..WaveConfig::single_trail(options.seed) }, now)
            .context("generating the trails")?;
    let bodies = wave.reports.iter().map(|r| serde_json::to_vec(&r.body)).collect::<Result<Vec<_>, _>>()?;

    eprintln!("afc bench freeze: starting hub + {BENCH_CITY} (sync_always {})", options.sync_always);
    let deployment = Embedded::start(
        std::slice::from_ref(&city),
        wave.world,
        EmbeddedOptions {
            freeze_after_ms: FREEZE_AFTER_MS,
            bank_latency: Duration::ZERO,
            sync_always: options.sync_always,
            ..EmbeddedOptions::default()
        },
    )
    .await?;
    let url = deployment.province.city(&city)?.server.url();

    eprintln!("measuring the floor: {RTT_SAMPLES} round trips, {COMMIT_SAMPLES} commits");
    let rtt = measure_rtt(&url).await.context("measuring the round trip")?;
    let commit = measure_commit(&city).await.context("measuring the commit")?;

    let observed: Arc<Mutex<Observed>> = Arc::default();
    let subscriber = watch_freezing(deployment.client(&city), &city, observed.clone())
        .await
        .context("subscribing to freezing's events")?;

    eprintln!("submitting {} cases ({} warm-up) at {} cases/s", options.total(), options.warmup, options.rate);
    let submissions = submit(&deployment, &city, bodies, options.rate).await?;

    let expected: Vec<&CaseId> = submissions.iter().map(|s| &s.case_id).collect();
    let deadline = tokio::time::Instant::now() + COMPLETION_TIMEOUT;
    loop {
        let done = {
            let seen = observed.lock().expect("observed lock");
            expected.iter().filter(|id| seen.completions.contains_key(**id)).count()
        };
        if done == expected.len() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    subscriber.abort();
    let observed = observed.lock().expect("observed lock").clone();
    deployment.stop().await;

    let report = Report::build(&options, &submissions, &observed, rtt, commit)?;
    report.print(&options, nats_version.as_deref());
    anyhow::ensure!(
        report.missing == 0 && report.no_ttf == 0,
        "{} measured cases did not complete within {COMPLETION_TIMEOUT:?}, {} completed without a time-to-freeze",
        report.missing,
        report.no_ttf
    );
    Ok(())
}

/// `nats-server --version` of the binary the testkit runs.
pub(crate) fn nats_server_version() -> Option<String> {
    let binary = testkit::nats_server_binary().ok()?;
    let output = std::process::Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Submits every body at its due time (open loop) and returns what each submission saw, in
/// case order.
async fn submit(
    deployment: &Embedded,
    city: &City,
    bodies: Vec<Vec<u8>>,
    rate: f64,
) -> anyhow::Result<Vec<Submission>> {
    let total = bodies.len();
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = JoinSet::new();
    for (index, body) in (0u32..).zip(bodies) {
        let due = start + Duration::from_secs_f64(f64::from(index) / rate);
        tokio::time::sleep_until(due).await;
        let client = deployment.client(city).clone();
        let city = city.clone();
        tasks.spawn(async move {
            let sent = tokio::time::Instant::now();
            let lateness = sent.saturating_duration_since(due);
            let answer = client::report(&client, &city, body).await;
            let reply = sent.elapsed();
            let case_id = match answer? {
                Reply::Ok(accepted) => accepted.case_id,
                Reply::Error(error) => anyhow::bail!("case {index}: report refused: {error}"),
            };
            Ok(Submission { index, lateness, sent_at: sent.into_std(), reply, case_id })
        });
    }
    let mut submissions = Vec::with_capacity(total);
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            submissions.push(joined.context("a submission task failed")??);
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(REPLY_TIMEOUT, collect)
        .await
        .with_context(|| format!("intake replies missing after {REPLY_TIMEOUT:?}"))??;
    submissions.sort_by_key(|s| s.index);
    Ok(submissions)
}

/// Records the first `TraceStarted` (its handoff time) and `TraceCompleted` of each case.
async fn watch_freezing(
    client: &async_nats::Client,
    city: &City,
    sink: Arc<Mutex<Observed>>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let sources = [(client.clone(), city.clone())];
    on_freezing_events(&sources, &["trace_started", "trace_completed"], move |message| {
        let mut sink = sink.lock().expect("observed lock");
        match message.event {
            FreezingEvent::TraceStarted { case_id, reported_at_ms, .. } => {
                let handoff = message.time_ms.saturating_sub(reported_at_ms);
                sink.handoff_ms.entry(case_id).or_insert(handoff);
            }
            FreezingEvent::TraceCompleted { case_id, time_to_freeze_ms, .. } => {
                let observed_at = message.observed_at;
                sink.completions.entry(case_id).or_insert(Completion { time_to_freeze_ms, observed_at });
            }
            _ => {}
        }
    })
    .await
}

/// Round trips (µs) to a responder on a core subject of the nats-server at `url`, from a
/// second connection.
async fn measure_rtt(url: &str) -> anyhow::Result<Histogram<u64>> {
    let responder = async_nats::connect(url).await?;
    let requester = async_nats::connect(url).await?;
    let mut subscription = responder.subscribe(RTT_SUBJECT).await?;
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
        for i in 0..RTT_WARMUP + RTT_SAMPLES {
            let body = payload.clone().into();
            let started = Instant::now();
            tokio::time::timeout(RTT_TIMEOUT, requester.request(RTT_SUBJECT, body))
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
async fn measure_commit(city: &City) -> anyhow::Result<Histogram<u64>> {
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
                        reported_loss_fen: Fen::new(1_000_000),
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

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The numbers of one run.
struct Report {
    measured: usize,
    missing: usize,
    no_ttf: usize,
    achieved_rate: f64,
    send_span: Duration,
    lateness_max: Duration,
    lateness_p99_us: u64,
    reply: Summary,
    ttf: Summary,
    /// Intake's receipt to freezing's `TraceStarted` batch, in ms.
    handoff: Summary,
    /// Freezing's `TraceStarted` batch to the last stop holding money, in ms.
    levels: Summary,
    /// Send to `TraceCompleted` observed by the subscriber, in ms.
    external: Summary,
    rtt: Summary,
    commit: Summary,
}

impl Report {
    fn build(
        options: &FreezeBench,
        submissions: &[Submission],
        observed: &Observed,
        rtt: Histogram<u64>,
        commit: Histogram<u64>,
    ) -> anyhow::Result<Report> {
        let mut ttf = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let mut external = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let mut lateness = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let mut reply = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let mut handoff = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let mut levels = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let (mut missing, mut no_ttf, mut measured) = (0, 0, 0);
        for submission in submissions {
            lateness.record(micros(submission.lateness))?;
            if submission.index < options.warmup {
                continue;
            }
            measured += 1;
            reply.record(micros(submission.reply))?;
            let started = observed.handoff_ms.get(&submission.case_id).copied();
            if let Some(ms) = started {
                handoff.record(ms)?;
            }
            match observed.completions.get(&submission.case_id) {
                None => missing += 1,
                Some(completion) => {
                    match completion.time_to_freeze_ms {
                        Some(ms) => {
                            ttf.record(ms)?;
                            if let Some(h) = started {
                                levels.record(ms.saturating_sub(h))?;
                            }
                        }
                        None => no_ttf += 1,
                    }
                    let seen = completion.observed_at.saturating_duration_since(submission.sent_at);
                    external.record(u64::try_from(seen.as_millis()).unwrap_or(u64::MAX))?;
                }
            }
        }
        let send_span = match (submissions.first(), submissions.last()) {
            (Some(first), Some(last)) => last.sent_at.saturating_duration_since(first.sent_at),
            _ => Duration::ZERO,
        };
        let achieved_rate = if submissions.len() > 1 && !send_span.is_zero() {
            (submissions.len() - 1) as f64 / send_span.as_secs_f64()
        } else {
            0.0
        };
        Ok(Report {
            measured,
            missing,
            no_ttf,
            achieved_rate,
            send_span,
            lateness_max: Duration::from_micros(lateness.max()),
            lateness_p99_us: lateness.value_at_quantile(0.99),
            reply: Summary::of(&reply),
            ttf: Summary::of(&ttf),
            handoff: Summary::of(&handoff),
            levels: Summary::of(&levels),
            external: Summary::of(&external),
            rtt: Summary::of(&rtt),
            commit: Summary::of(&commit),
        })
    }

    fn print(&self, options: &FreezeBench, nats_version: Option<&str>) {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let floor_us = TRAIL_DEPTH * (self.rtt.p50 + self.commit.p50);
        let floor_ms = floor_us as f64 / 1000.0;
        let ratio = if floor_us == 0 { f64::INFINITY } else { self.ttf.p50 as f64 * 1000.0 / floor_us as f64 };
        let row = |name: &str, value: String| println!("  {name:<40} {value}");
        let pct = |s: &Summary, unit: &str| {
            format!("p50 {} p90 {} p99 {} p99.9 {} max {} {unit} (n={})", s.p50, s.p90, s.p99, s.p999, s.max, s.count)
        };

        println!();
        println!("afc bench freeze");
        println!("setup");
        row("machine (nproc)", format!("{cpus} cpus"));
        row("nats-server", nats_version.unwrap_or("unknown").to_owned());
        row(
            "nats-server sync",
            if options.sync_always {
                "sync_interval: always (fsync every JetStream write)".to_owned()
            } else {
                "default (JetStream fsyncs every 2 min)".to_owned()
            },
        );
        row("trail", format!("{TRAIL_DEPTH} levels (1, 4, 8, 12), {TRAIL_ACCOUNTS} accounts, banks answer at once"));
        row(
            "load",
            format!(
                "open loop, {} cases/s, {} measured + {} warm-up, seed {}",
                options.rate, options.cases, options.warmup, options.seed
            ),
        );
        println!("submission");
        row(
            "achieved rate",
            format!(
                "{:.1} cases/s ({} cases in {:.2} s)",
                self.achieved_rate,
                options.total(),
                self.send_span.as_secs_f64()
            ),
        );
        row(
            "lateness (send - due)",
            format!(
                "max {:.2} ms, p99 {:.2} ms",
                self.lateness_max.as_secs_f64() * 1000.0,
                self.lateness_p99_us as f64 / 1000.0
            ),
        );
        row("intake reply, µs", pct(&self.reply, "µs"));
        println!("time-to-freeze (internal: report received -> last stop holding money)");
        row("ttf, ms", pct(&self.ttf, "ms"));
        row("incomplete / without ttf", format!("{} / {} of {}", self.missing, self.no_ttf, self.measured));
        row("  receipt -> freezing TraceStarted", pct(&self.handoff, "ms"));
        row("  TraceStarted -> last stop (4 levels)", pct(&self.levels, "ms"));
        row("send -> trace_completed seen, ms", pct(&self.external, "ms"));
        println!("floor (same run, same machine, idle)");
        row("NATS round trip, µs", pct(&self.rtt, "µs"));
        row("redb Immediate commit, µs", pct(&self.commit, "µs"));
        row(
            "floor = 4 x (rtt p50 + commit p50)",
            format!("{TRAIL_DEPTH} x ({} + {}) µs = {floor_ms:.2} ms", self.rtt.p50, self.commit.p50),
        );
        row("ratio ttf p50 / floor", format!("{ratio:.2}"));
        println!("targets");
        let target1 = ratio <= TARGET_FLOOR_FACTOR;
        row(
            "p50 within 3x of depth x (rtt + commit)",
            format!("{} (p50 {} ms vs {:.2} ms)", verdict(target1), self.ttf.p50, floor_ms * TARGET_FLOOR_FACTOR),
        );
        // A pass at a higher rate is a pass at the target rate; a failure is only judged at
        // the target rate itself (and only if the submitter kept up with it).
        let reached = options.rate >= TARGET_RATE && self.achieved_rate >= TARGET_RATE * TARGET_RATE_TOLERANCE;
        let at_target = reached && options.rate <= TARGET_RATE;
        let pass = self.ttf.p99 < TARGET_P99_MS && self.missing == 0;
        let target2 = if reached && (pass || at_target) {
            format!("{} (p99 {} ms)", verdict(pass), self.ttf.p99)
        } else {
            format!("n/a (p99 {} ms; judged at {TARGET_RATE} cases/s)", self.ttf.p99)
        };
        row("p99 under 50 ms at 50 cases/s", target2);
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}
