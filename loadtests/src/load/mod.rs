//! `afc-lab load`: open-loop load on an embedded deployment with banks that answer at once,
//! and `afc-lab load --sweep`: the same over a grid of rates and city counts, with a table
//! and a chart of the knee.
//!
//! One point ([`point::run_point`]): a hub and `--cities` city nodes, cases with the
//! benchmark's single trail spread round robin over the cities, submitted open loop at
//! `--rate` cases/s for `--warmup` + `--duration` seconds. A case's latency runs from its
//! **intended** submission time to the moment the lab sees its `TraceCompleted` event
//! (coordinated-omission corrected, end to end); the time-to-freeze judged against the target
//! runs from the same intended time to the last stop that held money. Cases intended during
//! the warm-up are left out; rates are counted in the measured window after it
//! ([`crate::harness::Window`]). Where the time went is printed beside it: CPU ([`cpu`]),
//! JetStream ([`streams`]) and stall probes ([`crate::probes`]).
//!
//! - [`options`]: the command line, checked into the points to run.
//! - [`point`]: one point on a fresh deployment.
//! - [`sweep`]: a point per child process, the sweep's table and chart.
//! - [`compare`]: `--security both`, the point insecure and secured alternately, compared.
//! - [`signals`]: `--signals`, carriers' contact signals for dissuasion beside the cases,
//!   with what they say in [`signal_content`].
//! - [`report`]: how a point prints.
//! - here: [`run`], what a point measured ([`PointResult`]) and the target's [`Verdict`].

pub mod compare;
pub mod cpu;
pub mod options;
pub mod point;
pub mod report;
pub mod signal_content;
pub mod signals;
pub mod streams;
pub mod sweep;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

pub use cpu::CpuUse;
pub use options::{LoadOptions, OptionError, PointConfig};
pub use point::run_point;
pub use signals::SignalLoad;
pub use streams::StreamUse;

use crate::bench::security::Security;
use crate::harness::{LoadResult, Percentiles};
use crate::probes::StallProbe;
use crate::setup::Setup;
use crate::targets::{
    KEPT_UP_SHARE, LOAD_RATE_PER_S, LOAD_TTF_P99_MS, SIGNALS_GOAL_CASE_RATE_PER_S, SIGNALS_GOAL_PER_S,
    SIGNALS_GOAL_TTF_P99_MS,
};

/// What one point measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PointResult {
    /// The point that was run.
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
    /// From `TraceStarted` to the last stop holding money (the trail's levels), µs (ms
    /// resolution).
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
    /// The floor: NATS round trips (µs) between two connections of the harness to the first
    /// city's server (the city observer's identity over TLS when secured), measured on the
    /// idle deployment before the load. Missing in results written before it was measured.
    #[serde(default)]
    pub floor_rtt_us: Option<Percentiles>,
    /// CPU use over the measured window, if `/proc` could be read.
    pub cpu: Option<CpuUse>,
    /// JetStream traffic over the measured window, if the servers answered.
    pub streams: Option<StreamUse>,
    /// What the stall probes saw over the measured window.
    pub stalls: Vec<StallProbe>,
    /// The contact signals published for dissuasion beside the cases (`--signals`), and how
    /// far behind dissuasion was. `None` without them, and in results written before them.
    #[serde(default)]
    pub signals: Option<SignalLoad>,
}

impl PointResult {
    /// Whether the point sustained its rate: completions kept up and every case completed.
    fn sustained(&self) -> bool {
        self.load.completed_per_s >= self.config.rate * KEPT_UP_SHARE && self.load.incomplete == 0 && self.refused == 0
    }

    /// Issue 15's goal for freezing beside dissuasion: at [`SIGNALS_GOAL_CASE_RATE_PER_S`]
    /// cases/s or more with [`SIGNALS_GOAL_PER_S`] signals/s or more, the cases sustained with
    /// a time-to-freeze p99 under [`SIGNALS_GOAL_TTF_P99_MS`] ms, the signals published at their
    /// rate (none failed, the achieved rate within [`KEPT_UP_SHARE`]) and dissuasion keeping up
    /// with them. Judged as a failure only at the goal's rates themselves.
    pub fn signals_verdict(&self) -> Verdict {
        let c = &self.config;
        if c.rate < SIGNALS_GOAL_CASE_RATE_PER_S || c.signals_per_s < SIGNALS_GOAL_PER_S {
            return Verdict::NotJudged;
        }
        let signals_ok = self.signals.as_ref().is_some_and(|s| {
            s.failed == 0 && s.not_sent == 0 && s.achieved_per_s >= s.offered_per_s * KEPT_UP_SHARE && s.kept_up
        });
        let pass = signals_ok && self.sustained() && self.ttf_us.p99 < SIGNALS_GOAL_TTF_P99_MS * 1_000;
        if pass {
            Verdict::Pass
        } else if c.rate == SIGNALS_GOAL_CASE_RATE_PER_S && c.signals_per_s == SIGNALS_GOAL_PER_S {
            Verdict::Fail
        } else {
            Verdict::NotJudged
        }
    }

    /// The target's verdict at this point: judged as a pass at or above the target rate, as
    /// a failure only at the target rate itself (a failure above it says nothing about it).
    pub fn verdict(&self) -> Verdict {
        if self.config.rate < LOAD_RATE_PER_S {
            return Verdict::NotJudged;
        }
        let pass = self.sustained() && self.ttf_us.p99 < LOAD_TTF_P99_MS * 1_000;
        if pass {
            Verdict::Pass
        } else if self.config.rate == LOAD_RATE_PER_S {
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
    /// As the reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Mixed => "MIXED (some points passed, some failed: repeat them before concluding)",
            Verdict::NotJudged => "n/a",
        }
    }

    /// The verdict of several points: a pass only when no judged point failed.
    pub fn overall(points: &[PointResult]) -> Verdict {
        let verdicts: Vec<Verdict> = points.iter().map(PointResult::verdict).collect();
        match (verdicts.contains(&Verdict::Pass), verdicts.contains(&Verdict::Fail)) {
            (true, true) => Verdict::Mixed,
            (true, false) => Verdict::Pass,
            (false, true) => Verdict::Fail,
            (false, false) => Verdict::NotJudged,
        }
    }
}

/// Runs `afc-lab load` (one point or a sweep) and prints its report on stdout.
pub async fn run(options: LoadOptions) -> anyhow::Result<()> {
    let points = options.points()?;
    let setup = Setup::probe();
    let mut results = Vec::with_capacity(points.len());
    // A sweep's point process: the sweep says which point it is, and warns when disturbed.
    let point_of_sweep = options.result_json.is_some();
    // `--security both` runs each point in a process of its own, as a sweep does.
    let comparing = options.security == Security::Both;
    let in_child = options.sweep || comparing;
    for (i, point) in points.iter().enumerate() {
        if !point_of_sweep {
            eprintln!(
                "afc-lab load: point {}/{}: {} cases/s, {} cities, {} s + {} s warm-up, security {}",
                i + 1,
                points.len(),
                point.rate,
                point.cities,
                point.duration.as_secs(),
                point.warmup.as_secs(),
                Security::flag(point.secure)
            );
        }
        let mut attempt = 0;
        let result = loop {
            cpu::wait_quiet(Duration::from_secs(options.quiet_wait)).await;
            let result = if options.sweep {
                sweep::run_point_in_child(point, &sweep::point_path(&options.out, i, point), false).await
            } else if comparing {
                sweep::run_point_in_child(point, &compare::point_path(&options.out, i, point), true).await
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
        if !in_child {
            report::print_point(&setup, &result);
        }
        results.push(result);
    }
    if options.sweep {
        sweep::write_report(&setup, &options, &results)?;
    }
    if comparing {
        compare::write_report(&setup, &options, &results)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A single point at 200 cases/s, 20 s + 5 s warm-up, 1 city; a sweep grid of 50 and
    /// 100 cases/s × 1 and 2 cities.
    pub(crate) fn options() -> LoadOptions {
        LoadOptions {
            rate: Some(200.0),
            duration: 20,
            cities: 1,
            warmup: 5,
            seed: 1,
            sync_always: false,
            security: Security::On,
            signals: 0.0,
            rounds: crate::bench::security::DEFAULT_ROUNDS,
            quiet_wait: 0,
            retry_disturbed: 0,
            sweep: false,
            rates: vec![50.0, 100.0],
            cities_list: vec![1, 2],
            out: PathBuf::from("target/load"),
            result_json: None,
        }
    }

    /// A 1-city point at `rate` whose time-to-freeze p99 is `p99_ms`.
    pub(crate) fn result(rate: f64, p99_ms: u64, completed: f64, incomplete: u64) -> PointResult {
        let latency = Percentiles { count: 100, p99: p99_ms * 1_000, ..Percentiles::default() };
        PointResult {
            config: PointConfig {
                rate,
                cities: 1,
                duration: Duration::from_secs(20),
                warmup: Duration::from_secs(5),
                seed: 1,
                sync_always: false,
                secure: true,
                signals_per_s: 0.0,
            },
            load: LoadResult {
                offered_per_s: rate,
                submitted_per_s: rate,
                completed_per_s: completed,
                measured: 100,
                warmup_excluded: 10,
                incomplete,
                // End to end is not judged: far above the target, it must not decide a verdict.
                latency_us: Percentiles { count: 100, p99: 10 * LOAD_TTF_P99_MS * 1_000, ..Percentiles::default() },
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
            stops_per_s: completed * f64::from(simulator::wave::SINGLE_TRAIL_ACCOUNTS),
            refused: 0,
            without_ttf: 0,
            floor_rtt_us: None,
            cpu: None,
            streams: None,
            stalls: Vec::new(),
            signals: None,
        }
    }

    /// `result` with `signals_per_s` signals/s published at `achieved` /s, `pending` left at
    /// the window's end.
    pub(crate) fn with_signals(mut r: PointResult, signals_per_s: f64, achieved: f64, pending: u64) -> PointResult {
        r.config.signals_per_s = signals_per_s;
        r.signals = Some(SignalLoad {
            offered_per_s: signals_per_s,
            scheduled: 250_000,
            published: 250_000,
            failed: 0,
            first_failure: None,
            not_sent: 0,
            achieved_per_s: achieved,
            lateness_us: Percentiles::default(),
            matching: 2_450,
            transfers: 5_000,
            pending_at_end: vec![("hangzhou".into(), pending)],
            kept_up: (pending as f64) < signals_per_s,
            consumed_per_s: Some(achieved),
            events_pending_at_end: Vec::new(),
            drained_after_ms: Some(100),
            tasks_opened: 7_000,
        });
        r
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
    fn the_signals_goal_needs_freezing_fast_and_dissuasion_keeping_up() {
        let goal = |p99, achieved, pending| with_signals(result(400.0, p99, 400.0, 0), 10_000.0, achieved, pending);
        assert_eq!(goal(40, 10_000.0, 50).signals_verdict(), Verdict::Pass);
        assert_eq!(goal(60, 10_000.0, 50).signals_verdict(), Verdict::Fail, "freezing too slow");
        assert_eq!(goal(40, 10_000.0, 20_000).signals_verdict(), Verdict::Fail, "dissuasion behind");
        assert_eq!(goal(40, 8_000.0, 50).signals_verdict(), Verdict::Fail, "signals not published at rate");
        assert_eq!(result(400.0, 40, 400.0, 0).signals_verdict(), Verdict::NotJudged, "no signals");
        let fewer = with_signals(result(400.0, 40, 400.0, 0), 1_000.0, 1_000.0, 0);
        assert_eq!(fewer.signals_verdict(), Verdict::NotJudged);
        let more = with_signals(result(400.0, 60, 400.0, 0), 20_000.0, 20_000.0, 0);
        assert_eq!(more.signals_verdict(), Verdict::NotJudged, "a failure above the goal says nothing of it");
    }
}
