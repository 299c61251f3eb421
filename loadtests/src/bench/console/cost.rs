//! Target 3 of `afc-lab bench console`: what the metrics endpoint and the console's live
//! updates cost under load. One run is a fresh secured deployment of one city taking
//! single-trail cases open loop at `--rate` for `--warmup` + `--duration` seconds, with the
//! CPU of this process (services, simulated banks, harness) and of the city's nats-server
//! read from `/proc` at the start and the end of the measured window ([`cpu::measure_cpu`]).
//! A run *with* the console adds: the city node serving `/metrics`, scraped every
//! [`SCRAPE_EVERY`]; the console, on a runtime of its own (threads `console`), hearing what
//! the city's services changed; `--listeners` pages listening to `/live?topic=cases` and one
//! to a case, each fetching itself again when told (as the console's script does), and the
//! scraper, on another runtime (threads `console-clients`: what the browsers would spend,
//! not the node). A run *without* has none of them. Runs alternate without, with, without,
//! with, ...; the cost is the mean of one less the mean of the other, beside how much runs of
//! the same kind differ.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use domain::City;
use simulator::wave::{self, WaveConfig};
use tokio::time::Instant;

use super::http;
use crate::completions::Completions;
use crate::console::seed_of;
use crate::deployment::{Embedded, EmbeddedOptions};
use crate::harness::Window;
use crate::load::cpu::{self, CpuUse};
use crate::submit::{self, Case};
use crate::targets::MEASUREMENT_FREEZE_AFTER_MS;

/// How often the node's `/metrics` is scraped in a run with the console (Prometheus' usual
/// interval is 15 s: this is fifteen times as often).
pub const SCRAPE_EVERY: Duration = Duration::from_secs(1);
/// The name of the console's runtime's threads (its CPU is counted apart).
pub const CONSOLE_THREADS: &str = "console";
/// The name of the listening pages' and the scraper's runtime's threads.
pub const CLIENT_THREADS: &str = "console-clients";
/// How long the last cases may take to complete after the last one was due.
const DRAIN: Duration = Duration::from_secs(10);

/// What a run is given.
#[derive(Debug, Clone)]
pub struct CostPlan {
    pub city: City,
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub listeners: u32,
    pub seed: u64,
}

impl CostPlan {
    /// Cases submitted in a run.
    pub fn cases(&self) -> u64 {
        ((self.warmup + self.duration).as_secs_f64() * self.rate).ceil() as u64
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct CostRun {
    pub with_console: bool,
    pub cpu: CpuUse,
    pub submitted_per_s: f64,
    pub completed_per_s: f64,
    /// `changed` events the listening pages were told, all together.
    pub told: u64,
    /// Times they fetched themselves again.
    pub fetched: u64,
    /// Scrapes answered, and the size of the last one.
    pub scrapes: u32,
    pub scrape_bytes: usize,
    /// Events the city published per second over the window (what the console heard).
    pub events_per_s: f64,
}

impl CostRun {
    /// The CPU of a group of this process's threads, % of one core.
    pub fn threads_pct(&self, group: &str) -> f64 {
        self.cpu.afc_threads_pct.get(group).copied().unwrap_or(0.0)
    }

    /// The city's nats-server, % of one core.
    pub fn city_server_pct(&self) -> f64 {
        self.cpu.servers_pct.iter().filter(|(name, _)| name != "hub").map(|(_, pct)| pct).sum()
    }
}

/// A runtime of `threads` worker threads named `name`.
fn runtime(name: &str, threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(threads).thread_name(name).enable_all().build()?)
}

/// A free port on loopback, for the node's HTTP endpoints.
fn free_port() -> anyhow::Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// One run on a fresh deployment.
pub async fn run(plan: &CostPlan, with_console: bool) -> anyhow::Result<CostRun> {
    let city = plan.city.clone();
    let count = plan.cases();
    let per_city = u32::try_from(count + 1).context("cases")?;
    let config = WaveConfig { cases_per_city: per_city, ..WaveConfig::single_trail(plan.seed) };
    let wave = wave::generate(&config, domain::system_clock().now_ms()).context("generating the trails")?;
    let mut bodies = wave.reports.iter().map(|r| serde_json::to_vec(&r.body)).collect::<Result<Vec<_>, _>>()?;
    let watched = bodies.pop().context("no case to watch")?;
    let metrics = free_port()?;
    let options = EmbeddedOptions {
        freeze_after_ms: MEASUREMENT_FREEZE_AFTER_MS,
        coordinator: false,
        http: if with_console { [(city.clone(), metrics)].into() } else { Default::default() },
        ..EmbeddedOptions::default()
    };
    let deployment = Embedded::start(std::slice::from_ref(&city), wave.world, options).await?;
    let client = deployment.client(&city).clone();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut extras = None;
    if with_console {
        let console_runtime = runtime(CONSOLE_THREADS, 1)?;
        let clients_runtime = runtime(CLIENT_THREADS, 1)?;
        let options = crate::console::options(&deployment, afc::console::Scope::City(city.clone()), free_port()?)?;
        let console = console_runtime.spawn(crate::console::serve(options, deployment.clock.clone())).await??;
        let case = afc::client::report(&client, &city, watched).await?.into_result()?.case_id;
        let who = format!("{city}-{}", super::page::OFFICER);
        let cookie = http::login(&console.url, &who, &seed_of(&deployment, &who)?).await?;
        let mut listening = Vec::new();
        let pages = (0..plan.listeners)
            .map(|_| ("/cases".to_owned(), "cases".to_owned()))
            .chain([(format!("/case/{case}"), format!("case:{case}"))]);
        for (page, topic) in pages {
            let listen = http::listen(console.url.clone(), page, topic, cookie.clone(), stopped.clone());
            listening.push(clients_runtime.spawn(listen));
        }
        let scraper = clients_runtime.spawn(scrape(format!("http://{metrics}"), stopped.clone()));
        extras = Some((console_runtime, clients_runtime, console, listening, scraper));
    }

    let mut completions = Completions::watch(&deployment, std::slice::from_ref(&city)).await?;
    let servers = cpu::server_processes(&deployment, std::slice::from_ref(&city));
    let schedule = submit::schedule(plan.rate)?;
    let window = Window::after_warmup(schedule.start(), plan.warmup, plan.duration);
    let measuring = tokio::spawn(cpu::measure_cpu(window, servers));
    let streams = tokio::spawn(crate::load::streams::measure_streams(
        window,
        vec![(city.clone(), client.clone())],
        deployment.hub.clone(),
    ));
    let cases = bodies.into_iter().map(|body| Case { city: city.clone(), body }).collect();
    let clients = HashMap::from([(city.clone(), client)]);
    let sent = submit::submit(&schedule, cases, &clients).await?;
    let accepted = sent.iter().filter(|s| s.outcome.is_ok()).count();
    completions.wait_for(accepted, schedule.due(count.saturating_sub(1)) + DRAIN).await;
    let observed = completions.finish();
    let cpu = measuring.await?.context("reading /proc")?;
    let streams = streams.await?.context("reading the city's stream")?;
    let events_per_s = streams.city_events_per_s.iter().map(|(_, rate)| rate).sum();

    let _ = stop.send(true);
    let (mut told, mut fetched, mut scrapes, mut scrape_bytes) = (0, 0, 0, 0);
    if let Some((console_runtime, clients_runtime, console, listening, scraper)) = extras {
        for listener in listening {
            let listened = listener.await?.context("a listening page")?;
            (told, fetched) = (told + listened.told, fetched + listened.fetched);
        }
        (scrapes, scrape_bytes) = scraper.await?.context("the scraper")?;
        drop(console);
        console_runtime.shutdown_background();
        clients_runtime.shutdown_background();
    }
    deployment.stop().await;
    Ok(CostRun {
        with_console,
        cpu,
        submitted_per_s: window.rate(sent.iter().map(|s| s.sent)),
        completed_per_s: window.rate(observed.completions.values().map(|c| c.observed_at)),
        told,
        fetched,
        scrapes,
        scrape_bytes,
        events_per_s,
    })
}

/// Scrapes `url/metrics` every [`SCRAPE_EVERY`] until `stop`: scrapes answered, bytes of the
/// last.
async fn scrape(url: String, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<(u32, usize)> {
    let mut tick = tokio::time::interval_at(Instant::now(), SCRAPE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut scrapes, mut bytes) = (0, 0);
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok((scrapes, bytes)),
            _ = tick.tick() => {
                let answer = http::get(&url, "/metrics", None).await?;
                anyhow::ensure!(answer.status == 200, "/metrics answered {}", answer.status);
                (scrapes, bytes) = (scrapes + 1, answer.body.len());
            }
        }
    }
}
