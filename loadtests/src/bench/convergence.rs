//! `afc-lab bench convergence`: how soon `AFC_PROVINCE` holds what a city published while
//! its leaf link was cut or the hub was down, once the link is back (or the hub is), with
//! the province's link watcher (`bus::province::watch_links`) and without it (nats-server's
//! own source retry, the baseline), in the same run. Issue 17's goal: ≤ 5 s, p99 over 10
//! cut/restore cycles, and the same after a hub restart.
//!
//! Each run starts its own province on this machine (testkit: a hub and two cities, each
//! city behind its leaf-link proxy; anonymous, plain text). A cut cycle: cut hangzhou's
//! link, publish `--per-cut` events in hangzhou, keep the link cut `--cut-secs` (longer than
//! nats-server's 10 s source health check, so that the province has asked for a consumer
//! nobody answers), restore, and time until the province holds every event. A restart
//! cycle: stop the hub, publish `--per-cut` events in each city, start the hub, and time
//! from the hub answering its health check. At the end of a run every event must be in the
//! province once (ids and city sequences).

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context};
use domain::City;
use protocol::subjects;
use testkit::{Province, ProvinceOptions};
use tokio::time::Instant;

/// Options of `afc-lab bench convergence`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConvergenceBench {
    /// Cut/restore cycles per run.
    #[arg(long, default_value_t = 10)]
    pub cycles: u32,
    /// Hub restarts per run.
    #[arg(long, default_value_t = 10)]
    pub restarts: u32,
    /// Cycles and restarts of the baseline run (no watcher): each can take a minute.
    #[arg(long, default_value_t = 10)]
    pub baseline: u32,
    /// How long each cut lasts, seconds.
    #[arg(long, default_value_t = 15)]
    pub cut_secs: u64,
    /// Events published in a city during each cut or hub outage.
    #[arg(long, default_value_t = 20)]
    pub per_cut: u64,
    /// Longest wait for the province to converge, seconds (a longer one is recorded as this).
    #[arg(long, default_value_t = 150)]
    pub timeout_secs: u64,
}

/// Polling interval of the province's message count.
const PROBE: Duration = Duration::from_millis(50);

struct Run {
    province: Province,
    cities: Vec<City>,
    city_js: Vec<Context>,
    hub: Context,
    published: u64,
    next: Vec<u64>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Run {
    async fn start(watch: bool) -> anyhow::Result<Run> {
        let cities = vec![City::parse("hangzhou")?, City::parse("wenzhou")?];
        let province =
            Province::start(&cities, ProvinceOptions { sync_always: true, ..ProvinceOptions::default() }).await?;
        let mut city_js = Vec::new();
        for city in &cities {
            let js = jetstream::new(async_nats::connect(province.city(city)?.server.url()).await?);
            bus::streams::ensure_city_stream(&js, city).await?;
            city_js.push(js);
        }
        let client = async_nats::ConnectOptions::new()
            .reconnect_delay_callback(bus::province::reconnect_delay)
            .connect(province.hub_url())
            .await?;
        let hub = jetstream::new(client.clone());
        bus::streams::ensure_province_stream(&hub, &cities).await?;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        if watch {
            tokio::spawn(bus::province::watch_links(client, hub.clone(), cities.clone(), shutdown));
        }
        let next = vec![0; cities.len()];
        Ok(Run { province, cities, city_js, hub, published: 0, next, _stop: stop })
    }

    async fn publish(&mut self, index: usize, count: u64) -> anyhow::Result<()> {
        let city = &self.cities[index];
        for _ in 0..count {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{city}-bench-{:08}", self.next[index]).as_str());
            let subject = subjects::event(city, domain::Service::Intake, "bench");
            self.city_js[index].publish_with_headers(subject, headers, "event".into()).await?.await?;
            self.next[index] += 1;
            self.published += 1;
        }
        Ok(())
    }

    /// Time until the province holds every event published, bounded by `timeout`
    /// (`Err(timeout)`: not within it).
    async fn converge(&self, from: Instant, timeout: Duration) -> anyhow::Result<Result<Duration, Duration>> {
        loop {
            let count = match self.hub.get_stream(subjects::PROVINCE_STREAM).await {
                Ok(mut stream) => stream.info().await.map(|info| info.state.messages).unwrap_or(0),
                Err(_) => 0,
            };
            anyhow::ensure!(count <= self.published, "AFC_PROVINCE holds {count} events, more than {}", self.published);
            if count == self.published {
                return Ok(Ok(from.elapsed()));
            }
            if from.elapsed() >= timeout {
                return Ok(Err(timeout));
            }
            tokio::time::sleep(PROBE).await;
        }
    }

    /// Every event once: distinct ids and city sequences, as many as published.
    async fn check_each_once(&self) -> anyhow::Result<()> {
        let mut stream = self.hub.get_stream(subjects::PROVINCE_STREAM).await?;
        let state = stream.info().await?.state.clone();
        let (mut ids, mut sourced) = (BTreeSet::new(), BTreeSet::new());
        for seq in state.first_sequence..=state.last_sequence {
            let msg = stream.get_raw_message(seq).await?;
            let id = msg.headers.get("Nats-Msg-Id").map(|v| v.to_string()).unwrap_or_default();
            anyhow::ensure!(ids.insert(id.clone()), "event {id} twice in AFC_PROVINCE");
            let source = msg.headers.get("Nats-Stream-Source").map(|v| v.to_string()).unwrap_or_default();
            let mut fields = source.split(' ');
            let key = (fields.next().unwrap_or_default().to_owned(), fields.next().unwrap_or_default().to_owned());
            anyhow::ensure!(sourced.insert(key), "a city sequence sourced twice: {source}");
        }
        anyhow::ensure!(
            ids.len() as u64 == self.published,
            "AFC_PROVINCE holds {} of {} events",
            ids.len(),
            self.published
        );
        Ok(())
    }
}

/// The samples of one kind of cycle, ms, and how many hit the timeout.
#[derive(Default)]
struct Samples {
    ms: Vec<u64>,
    censored: u32,
}

impl Samples {
    fn record(&mut self, outcome: Result<Duration, Duration>) {
        let (Ok(d) | Err(d)) = outcome;
        self.censored += u32::from(outcome.is_err());
        self.ms.push(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }

    /// `p50 / p99 / max` (nearest rank), `≥` where a timeout makes it a lower bound.
    fn line(&self) -> String {
        let mut ms = self.ms.clone();
        ms.sort_unstable();
        if ms.is_empty() {
            return "no samples".into();
        }
        let rank = |q: f64| ms[((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        let censored =
            if self.censored > 0 { format!(" ({} timed out: lower bounds)", self.censored) } else { String::new() };
        let secs = |v: u64| format!("{:.2} s", v as f64 / 1000.0);
        format!("n={} p50 {} p99 {} max {}{censored}", ms.len(), secs(rank(0.5)), secs(rank(0.99)), secs(rank(1.0)))
    }
}

async fn run(
    watch: bool,
    cycles: u32,
    restarts: u32,
    options: &ConvergenceBench,
) -> anyhow::Result<(Samples, Samples)> {
    let timeout = Duration::from_secs(options.timeout_secs);
    let mut run = Run::start(watch).await?;
    let label = if watch { "with the watcher" } else { "baseline (nats-server alone)" };
    for index in 0..run.cities.len() {
        run.publish(index, options.per_cut).await?;
    }
    anyhow::ensure!(
        run.converge(Instant::now(), timeout).await?.is_ok(),
        "the first events never reached the province"
    );

    let (mut cuts, mut hub_restarts) = (Samples::default(), Samples::default());
    for cycle in 0..cycles {
        let cut_at = Instant::now();
        let hangzhou = run.cities[0].clone();
        run.province.city(&hangzhou)?.link.cut().await;
        run.province.wait_leaf_count(1).await?;
        run.publish(0, options.per_cut).await?;
        // The cut's length is the scenario, not a synchronization.
        tokio::time::sleep_until(cut_at + Duration::from_secs(options.cut_secs)).await;
        run.province.city(&hangzhou)?.link.restore();
        let outcome = run.converge(Instant::now(), timeout).await?;
        println!("  {label}: cut {}: {:?}", cycle + 1, outcome);
        cuts.record(outcome);
    }
    for restart in 0..restarts {
        run.province.hub.stop().await?;
        for index in 0..run.cities.len() {
            run.publish(index, options.per_cut).await?;
        }
        run.province.hub.start_again().await?;
        let outcome = run.converge(Instant::now(), timeout).await?;
        println!("  {label}: hub restart {}: {:?}", restart + 1, outcome);
        hub_restarts.record(outcome);
    }
    run.check_each_once().await?;
    println!("  {label}: every one of {} events in AFC_PROVINCE once", run.published);
    Ok((cuts, hub_restarts))
}

/// Runs the bench: with the watcher, then the baseline, and prints both.
pub async fn convergence(options: ConvergenceBench) -> anyhow::Result<()> {
    println!(
        "afc-lab bench convergence: hub + hangzhou + wenzhou (testkit, sync_interval always, no security), \
         {} cut/restore cycles of {} s and {} hub restarts, {} events per city per outage; baseline {} of each; \
         timed from the link restored / the hub healthy to the province holding every event",
        options.cycles, options.cut_secs, options.restarts, options.per_cut, options.baseline
    );
    let (cuts, restarts) = run(true, options.cycles, options.restarts, &options).await?;
    let (base_cuts, base_restarts) = run(false, options.baseline, options.baseline, &options).await?;
    println!("link restored -> province complete, with the watcher:    {}", cuts.line());
    println!("link restored -> province complete, baseline:            {}", base_cuts.line());
    println!("hub healthy   -> province complete, with the watcher:    {}", restarts.line());
    println!("hub healthy   -> province complete, baseline:            {}", base_restarts.line());
    println!("goal: p99 <= 5 s (issue 17)");
    Ok(())
}
