//! One point of `afc-lab load` on a fresh deployment: a hub and the point's cities (real
//! nats-servers; intake and freezing on a runtime per city), banks that answer at once, and
//! single-trail cases spread round robin over the cities, submitted open loop
//! ([`crate::submit`]) for the warm-up and the measured window while the completion watcher
//! ([`crate::completions`]), the CPU and JetStream samplers and the stall probes run beside
//! them. With `--signals`, carriers' contact signals go to dissuasion beside the cases
//! ([`super::signals`]). Then every measured case's figures go into CO-corrected recorders.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use anyhow::Context;
use domain::City;
use simulator::wave::{self, WaveConfig};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::PointResult;
use super::cpu::{self, CpuUse, QUIET_SAMPLE};
use super::options::PointConfig;
use super::signal_content::SignalContent;
use super::signals::{Plan, SignalRun};
use super::streams::{self, StreamUse};
use crate::completions::{Completions, Observed};
use crate::deployment::{CITIES, Embedded, EmbeddedOptions};
use crate::harness::recorder::millis;
use crate::harness::{LoadResult, Percentiles, Recorder, Schedule, Warmup, Window};
use crate::probes::{self, StallProbe};
use crate::submit::{self, Case, Submission};
use crate::targets::MEASUREMENT_FREEZE_AFTER_MS;

/// A case not completed this long after its intended submission counts as not completed
/// (and in the latency histograms as this long, a lower bound).
pub const COMPLETION_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one point on a fresh deployment.
pub async fn run_point(point: &PointConfig) -> anyhow::Result<PointResult> {
    point.validate()?;
    let busy_before_pct = cpu::machine_busy_before(QUIET_SAMPLE).await;
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
    let mut cases = Vec::with_capacity(usize::try_from(count)?);
    for i in 0..count {
        let slot = usize::try_from(i % cities.len() as u64)?;
        let body = by_city[slot].pop_front().context("the wave has fewer cases than the schedule")?;
        cases.push(Case { city: cities[slot].clone(), body });
    }
    let content = match point.signals_per_s > 0.0 {
        true => Some(SignalContent::new(point.seed, &cities, &wave.reports)?),
        false => None,
    };

    let deployment = Embedded::start(
        &cities,
        wave.world,
        EmbeddedOptions {
            freeze_after_ms: MEASUREMENT_FREEZE_AFTER_MS,
            bank_latency: Duration::ZERO,
            sync_always: point.sync_always,
            secure: point.secure,
            coordinator: false,
            ..EmbeddedOptions::default()
        },
    )
    .await?;
    // The floor, on the idle deployment before the load (as `bench freeze` measures it).
    let floor_rtt_us = match crate::bench::floor::measure_rtt(&deployment.connector(), &cities[0]).await {
        Ok(histogram) => Some(Percentiles::of(&histogram)),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "measuring the round-trip floor failed");
            None
        }
    };
    let mut completions = Completions::watch(&deployment, &cities).await?;
    let servers = cpu::server_processes(&deployment, &cities);
    let signals = match content {
        Some(content) => {
            Some(SignalRun::connect(&deployment.connector(), &cities, content, point.signals_per_s).await?)
        }
        None => None,
    };

    let schedule = submit::schedule(point.rate)?;
    let start = schedule.start();
    // The services stamp events with the system clock: due times are converted to it.
    let start_ms = domain::system_clock().now_ms() + millis(submit::START_DELAY);
    let window = Window::after_warmup(start, point.warmup, point.duration);
    let cpu = tokio::spawn(cpu::measure_cpu(window, servers));
    let probes = start_probes(&deployment, &cities, window)?;
    let streams = tokio::spawn(streams::measure_streams(
        window,
        cities.iter().map(|c| (c.clone(), deployment.client(c).clone())).collect(),
        deployment.hub.clone(),
    ));
    let signals = match signals {
        Some(run) => {
            let plan = Plan { schedule: Schedule::new(start, point.signals_per_s)?, start_ms, window };
            Some(tokio::spawn(run.run(plan)))
        }
        None => None,
    };
    let clients: HashMap<City, async_nats::Client> =
        cities.iter().map(|c| (c.clone(), deployment.client(c).clone())).collect();
    let sent = submit::submit(&schedule, cases, &clients).await?;
    // The signals end with the window, and their backlog drains (or not) soon after.
    let signals = match signals {
        Some(task) => Some(task.await.context("the signals' task")?.context("publishing the signals")?),
        None => None,
    };

    // Wait for every accepted case, at most COMPLETION_TIMEOUT after the last one was due.
    let accepted = sent.iter().filter(|s| s.outcome.is_ok()).count();
    completions.wait_for(accepted, schedule.due(count.saturating_sub(1)) + COMPLETION_TIMEOUT).await;
    let observed = completions.finish();
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
    deployment.stop().await;

    let run = Run { point, schedule: &schedule, start_ms, window, sent: &sent, observed: &observed };
    Ok(PointResult { floor_rtt_us, signals, ..run.result(cpu, streams, stalls)? })
}

/// The stall probes of a point: the harness's runtime, an OS thread, the disk, each
/// nats-server and each city's runtime.
fn start_probes(deployment: &Embedded, cities: &[City], window: Window) -> anyhow::Result<Vec<JoinHandle<StallProbe>>> {
    let mut probes = vec![
        tokio::spawn(probes::probe_runtime("harness runtime (banks, harness)".into(), window)),
        tokio::spawn(probes::probe_thread(window)),
        tokio::spawn(probes::probe_disk(deployment.data_root().to_path_buf(), window)),
    ];
    let connector = deployment.connector();
    let hub = connector.clone();
    probes.push(tokio::spawn(
        async move { probes::probe_nats("nats-server hub (PING)".into(), hub.hub(), window).await },
    ));
    for city in cities {
        if let Some(runtime) = deployment.city_runtime(city) {
            let name = format!("{city} runtime (its services)");
            probes.push(tokio::spawn(probes::probe_runtime_on(runtime, name, window)));
        }
        let (connector, city) = (connector.clone(), city.clone());
        probes.push(tokio::spawn(async move {
            probes::probe_nats(format!("nats-server {city} (PING)"), connector.city(&city), window).await
        }));
    }
    Ok(probes)
}

/// What a point's run left to tally.
struct Run<'a> {
    point: &'a PointConfig,
    schedule: &'a Schedule,
    /// The schedule's start on the system clock, ms since the epoch.
    start_ms: u64,
    window: Window,
    sent: &'a [Submission],
    observed: &'a Observed,
}

impl Run<'_> {
    /// A due time on the system clock, ms since the epoch.
    fn wall_ms(&self, due: Instant) -> u64 {
        self.start_ms + millis(due.saturating_duration_since(self.schedule.start()))
    }

    /// Records every measured case (intended in the measured window) from its due time.
    fn result(
        &self,
        cpu: Option<CpuUse>,
        streams: Option<StreamUse>,
        stalls: Vec<StallProbe>,
    ) -> anyhow::Result<PointResult> {
        let (point, start) = (self.point, self.schedule.start());
        let recorder = || Recorder::new(start, Warmup::Time(point.warmup));
        let mut e2e = recorder()?;
        let mut ttf_co = recorder()?;
        let mut ttf = recorder()?;
        let mut lateness = recorder()?;
        let mut reply = recorder()?;
        let mut handoff = recorder()?;
        let mut levels = recorder()?;
        let mut to_receipt = recorder()?;
        let mut finish = recorder()?;
        let mut publish = recorder()?;
        let (mut incomplete, mut refused, mut without_ttf, mut measured) = (0, 0, 0, 0);
        let ms = Duration::from_millis;
        for s in self.sent {
            if e2e.is_warmup(s.index, s.due) {
                // Counted as warm-up (left out), whatever its value.
                e2e.record_value(s.index, s.due, Duration::ZERO);
                continue;
            }
            measured += 1;
            lateness.record_value(s.index, s.due, s.lateness());
            reply.record_value(s.index, s.due, s.reply());
            let case_id = s.outcome.as_ref().ok();
            let started = case_id.and_then(|id| self.observed.started.get(id)).copied();
            if let Some(st) = started {
                handoff.record_value(s.index, s.due, ms(st.handoff_ms()));
                to_receipt.record_value(s.index, s.due, ms(st.reported_at_ms.saturating_sub(self.wall_ms(s.due))));
            }
            let completion = match &s.outcome {
                Ok(case_id) => self.observed.completions.get(case_id),
                Err(refusal) => {
                    refused += 1;
                    tracing::debug!(%refusal, "submission failed");
                    None
                }
            };
            match completion {
                Some(c) => {
                    e2e.record(s.index, s.due, c.observed_at);
                    publish.record_value(s.index, s.due, ms(c.seen_ms.saturating_sub(c.committed_ms)));
                    match c.time_to_freeze_ms {
                        Some(ttf_ms) => {
                            ttf.record_value(s.index, s.due, ms(ttf_ms));
                            // Without its TraceStarted seen, the case's completion bounds it.
                            let last_stop_ms = started.map_or(c.committed_ms, |st| st.reported_at_ms + ttf_ms);
                            let co = last_stop_ms.saturating_sub(self.wall_ms(s.due));
                            ttf_co.record_value(s.index, s.due, ms(co));
                            if let Some(st) = started {
                                levels.record_value(s.index, s.due, ms(last_stop_ms.saturating_sub(st.started_ms)));
                                finish.record_value(s.index, s.due, ms(c.committed_ms.saturating_sub(last_stop_ms)));
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
            self.observed.completions.values().map(|c| (c.observed_at, u64::from(c.accounts_stopped))).collect();
        let load = LoadResult {
            offered_per_s: point.rate,
            submitted_per_s: self.window.rate(self.sent.iter().map(|s| s.sent)),
            completed_per_s: self.window.rate(completions.iter().map(|(at, _)| *at)),
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
            stops_per_s: self.window.weighted_rate(completions),
            refused,
            without_ttf,
            floor_rtt_us: None,
            cpu,
            streams,
            stalls,
            signals: None,
        })
    }
}
