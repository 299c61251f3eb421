//! `afc-lab bench freeze`: internal time-to-freeze of single trails (4 levels, 25 accounts)
//! with banks that answer at once, under an open-loop load, next to the floor it is compared
//! with.
//!
//! The load: an embedded hangzhou node (hub + city nats-servers, intake and freezing in this
//! process, simulated banks with no latency) and a wave of single-trail cases, submitted by
//! the lab's open-loop submitter ([`crate::submit`]): case `i` is due at `start + i / rate`
//! and is sent at its due time by a task of its own, without waiting for earlier cases.
//! Freezing publishes a `TraceCompleted` event per case carrying `time_to_freeze_ms`: from
//! intake receiving the report to the last stop-payment that held money, both read on this
//! machine's clock (ms resolution). Those values, seen by the completion watcher
//! ([`crate::completions`]), are the result. Because the clock starts when intake receives
//! the report, a slow submitter would hide queueing (coordinated omission): the submission
//! lateness (send time minus due time) is measured and printed so that can be checked.
//!
//! The floor ([`floor`]), measured in the same run before the load: the NATS request/reply
//! round trip to a responder on a core subject of the city's nats-server, and one redb
//! `Immediate` commit through [`store::Store::write`] (the services' path: group-commit
//! writer, two-phase commit). The floor is `depth × (round trip p50 + commit p50)`; the
//! targets are in [`crate::targets`].
//!
//! `--security on|off|both` ([`security`]): the deployment secured (the default) or not, or
//! both alternately, each run in a process of its own, compared ([`compare`]).

pub mod blocking;
pub mod compare;
pub mod console;
pub mod convergence;
pub mod dissuasion;
pub mod floor;
pub mod orders;
pub mod province;
pub mod report;
pub mod restitution;
pub mod security;
pub mod start;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use simulator::limits::MAX_CASES_PER_CITY;
use simulator::wave::{self, WaveConfig};
use tokio::time::Instant;

use crate::completions::Completions;
use crate::deployment::{Embedded, EmbeddedOptions};
use crate::setup::Setup;
use crate::submit::{self, Case};
use crate::targets::{MAX_RATE_PER_S, MEASUREMENT_FREEZE_AFTER_MS};
use report::Report;
use security::Security;

/// How long to wait for the last traces after the last submission was answered.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `afc-lab bench freeze`.
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
    /// The deployment: secured (identities, permissions, TLS), insecure (anonymous, plain
    /// text), or both alternately (off, on, off, on, ...) with a comparison of the two.
    #[arg(long, value_enum, default_value_t = Security::On)]
    pub security: Security,
    /// With `--security both`: how many times each is run.
    #[arg(long, default_value_t = security::DEFAULT_ROUNDS)]
    pub rounds: u32,
    /// Internal: also write the run's figures as JSON to this file (how `--security both`,
    /// which runs each in a process of its own, reads them back).
    #[arg(long, hide = true)]
    pub result_json: Option<std::path::PathBuf>,
}

impl FreezeBench {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE_PER_S,
            "--rate must be above 0 and at most {MAX_RATE_PER_S} cases/s"
        );
        anyhow::ensure!(self.cases > 0, "--cases must be at least 1");
        // Every case is reported in the single trail's one city.
        let total = self.cases.checked_add(self.warmup);
        anyhow::ensure!(
            total.is_some_and(|t| t <= MAX_CASES_PER_CITY),
            "--cases plus --warmup must be at most {MAX_CASES_PER_CITY}"
        );
        security::validate_rounds(self.rounds).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            self.security != Security::Both || self.result_json.is_none(),
            "--result-json takes one run: --security on or off"
        );
        Ok(())
    }

    fn total(&self) -> u32 {
        self.cases + self.warmup
    }
}

/// Runs the benchmark and prints its report on stdout.
pub async fn freeze(options: FreezeBench) -> anyhow::Result<()> {
    options.validate()?;
    if options.security == Security::Both {
        return compare::run(&options).await;
    }
    let secure = options.security == Security::On;
    let setup = Setup::probe();
    let config = WaveConfig { cases_per_city: options.total(), ..WaveConfig::single_trail(options.seed) };
    let [city] = config.cities.as_slice() else {
        anyhow::bail!("the single trail is reported in {} cities, expected one", config.cities.len());
    };
    let city = city.clone();
    let now = domain::system_clock().now_ms();
    let wave = wave::generate(&config, now).context("generating the trails")?;
    let cases = wave
        .reports
        .iter()
        .map(|r| Ok(Case { city: r.city.clone(), body: serde_json::to_vec(&r.body)? }))
        .collect::<anyhow::Result<Vec<_>>>()?;

    eprintln!(
        "afc-lab bench freeze: starting hub + {city} (sync_always {}, security {})",
        options.sync_always,
        Security::flag(secure)
    );
    let deployment = Embedded::start(
        std::slice::from_ref(&city),
        wave.world,
        EmbeddedOptions {
            freeze_after_ms: MEASUREMENT_FREEZE_AFTER_MS,
            bank_latency: Duration::ZERO,
            sync_always: options.sync_always,
            secure,
            coordinator: false,
            ..EmbeddedOptions::default()
        },
    )
    .await?;

    eprintln!("measuring the floor: {} round trips, {} commits", floor::RTT_SAMPLES, floor::COMMIT_SAMPLES);
    let rtt = floor::measure_rtt(&deployment.connector(), &city).await.context("measuring the round trip")?;
    let commit = floor::measure_commit(&city).await.context("measuring the commit")?;

    let mut completions = Completions::watch(&deployment, std::slice::from_ref(&city))
        .await
        .context("subscribing to freezing's events")?;

    eprintln!("submitting {} cases ({} warm-up) at {} cases/s", options.total(), options.warmup, options.rate);
    let clients = HashMap::from([(city.clone(), deployment.client(&city).clone())]);
    let submissions = submit::submit(&submit::schedule(options.rate)?, cases, &clients).await?;
    if let Some((index, refusal)) = submissions.iter().find_map(|s| s.outcome.as_ref().err().map(|r| (s.index, r))) {
        anyhow::bail!("case {index}: {refusal}");
    }
    completions.wait_for(submissions.len(), Instant::now() + DRAIN_TIMEOUT).await;
    let observed = completions.finish();
    deployment.stop().await;

    let report = Report::build(&options, &submissions, &observed, rtt, commit)?;
    report.print(&options, &setup);
    if let Some(path) = &options.result_json {
        let json = serde_json::to_string_pretty(&report.result(secure))?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    anyhow::ensure!(
        report.missing == 0 && report.no_ttf == 0,
        "{} measured cases did not complete within {DRAIN_TIMEOUT:?}, {} completed without a time-to-freeze",
        report.missing,
        report.no_ttf
    );
    Ok(())
}
