//! `afc-lab`: the engineers' tools — the demo, benchmarks, open-loop load, crime-wave drills
//! — on embedded deployments or against a running one. Argument parsing only; the work is
//! in the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use domain::DrillClock;

use loadtests::{bench, demo, drill, load};

/// The same allocator as `afc`, so that what the lab measures is what a node runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "afc-lab", version, about = "afc's lab: demo, benchmarks, load, crime-wave drills")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start an embedded province (hub + hangzhou, wenzhou, huzhou) with simulated banks and
    /// run a small wave of reports.
    Demo {
        /// Leave everything running and print the URLs.
        #[arg(long)]
        keep: bool,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_t = 4)]
        cases_per_city: u32,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        bench: BenchCommand,
    },
    /// Open-loop load at a fixed rate on an embedded deployment with instant banks:
    /// throughput and CO-corrected latency; `--sweep` walks rates and city counts.
    Load(load::LoadOptions),
    /// Crime-wave drills: play a scenario against an embedded deployment in scaled time and
    /// score it against ground truth.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Internal time-to-freeze of 4-level, 25-account trails with instant banks.
    Freeze(bench::FreezeBench),
    /// The same as `afc-lab load` (for `cargo xtask bench load`).
    Load(load::LoadOptions),
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Run a scenario (TOML, see docs/scenarios.md); writes report.json and report.svg.
    Run {
        /// The scenario file, e.g. simulator/scenarios/single-case.toml.
        scenario: PathBuf,
        /// Directory for report.json and report.svg.
        #[arg(long, default_value = "target/drill")]
        out: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's time scale (simulated ms per real ms, 1 to 10000).
        #[arg(long)]
        time_scale: Option<f64>,
        /// No progress line.
        #[arg(long)]
        quiet: bool,
        /// Run against an existing deployment through this NATS URL (the province hub)
        /// instead of starting an embedded one. Needs --drill-clock.
        #[arg(long, requires = "drill_clock")]
        nats: Option<String>,
        /// The clock the deployment's cities were started on (`afc-lab sim clock`); its
        /// scale is the drill's time scale.
        #[arg(long, value_parser = DrillClock::parse, requires = "nats", conflicts_with = "time_scale")]
        drill_clock: Option<DrillClock>,
    },
    /// Print a drill clock for running a scenario against an existing deployment: start each
    /// city with `afc city --drill-clock CLOCK`, then `afc-lab sim run --nats URL --drill-clock CLOCK`.
    Clock {
        /// The scenario file.
        scenario: PathBuf,
        /// Override the scenario's time scale.
        #[arg(long)]
        time_scale: Option<f64>,
        /// Real seconds from now until simulated time starts to run: time to start the cities.
        #[arg(long, default_value_t = 60)]
        start_in: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    afc::cli::init_logging("warn");
    match cli.command {
        Command::Demo { keep, seed, cases_per_city } => {
            demo::run(demo::DemoOptions { seed, cases_per_city, keep }).await
        }
        Command::Bench { bench: BenchCommand::Freeze(options) } => bench::freeze(options).await,
        Command::Load(options) | Command::Bench { bench: BenchCommand::Load(options) } => load::run(options).await,
        Command::Sim { command: SimCommand::Run { scenario, out, seed, time_scale, quiet, nats, drill_clock } } => {
            let target = match (nats, drill_clock) {
                (Some(url), Some(clock)) => drill::Target::Existing { url, clock },
                _ => drill::Target::Embedded,
            };
            let options = drill::DrillOptions { scenario, out, seed, time_scale, progress: !quiet, target };
            drill::run(options).await.map(|_| ())
        }
        Command::Sim { command: SimCommand::Clock { scenario, time_scale, start_in } } => {
            let clock = drill::clock_for(&scenario, time_scale, Duration::from_secs(start_in))?;
            println!("{clock}");
            eprintln!(
                "start each city with: afc city --city NAME --nats URL --data DIR --drill-clock {clock}\n\
                 then run:             afc-lab sim run {} --nats HUB_URL --drill-clock {clock}\n\
                 simulated time starts in {start_in} s",
                scenario.display()
            );
            Ok(())
        }
    }
}
