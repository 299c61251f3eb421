//! The `afc` command: run a city's services, submit and show cases, run the demo and the
//! benchmarks. Argument parsing only; the work is in the library.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use domain::{CaseId, City, DrillClock};
use protocol::Reply;

use afc::city::{CityOptions, CityService, run_city};
use afc::{bench, client, demo, drill, load};

/// mimalloc instead of the system allocator: the services allocate and free many small,
/// short-lived buffers (events, MessagePack, redb pages), where glibc's malloc spent about
/// an eighth of the CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "afc", version, about = "Anti-fraud center node: intake, multi-hop tracing and freezing")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a city's services.
    City {
        #[arg(long, value_parser = City::parse)]
        city: City,
        #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// Directory of the services' redb files.
        #[arg(long)]
        data: PathBuf,
        /// Run only this service.
        #[arg(long, value_enum)]
        only: Option<CityService>,
        /// Delay from a stop-payment to its conversion into a freeze, in ms (must stay well
        /// under the 48 h lapse).
        #[arg(long, default_value_t = 10 * 60 * 1000)]
        freeze_after_ms: u64,
        /// Run on a drill's scaled clock instead of the wall clock (ORIGIN_MS:SCALE:ANCHOR_UNIX_MS,
        /// from `afc sim clock`), for `afc sim run --nats`. Never in production.
        #[arg(long, value_parser = DrillClock::parse)]
        drill_clock: Option<DrillClock>,
    },
    /// Submit or show cases.
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
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
    /// Provincial hub administration.
    Province {
        #[command(subcommand)]
        command: ProvinceCommand,
    },
    /// Crime-wave drills: play a scenario against an embedded deployment in scaled time and
    /// score it against ground truth.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ProvinceCommand {
    /// Create or update the hub's AFC_PROVINCE stream so it sources every listed city's
    /// stream through the city's JetStream domain. Run it again with the full list when a
    /// city joins.
    Provision {
        /// The hub's NATS URL.
        #[arg(long, env = "AFC_HUB_URL", default_value = "nats://127.0.0.1:4222")]
        hub: String,
        /// A city to source (repeat for each city).
        #[arg(long = "city", value_parser = City::parse, required = true)]
        cities: Vec<City>,
    },
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
        /// The clock the deployment's cities were started on (`afc sim clock`); its scale
        /// is the drill's time scale.
        #[arg(long, value_parser = DrillClock::parse, requires = "nats", conflicts_with = "time_scale")]
        drill_clock: Option<DrillClock>,
    },
    /// Print a drill clock for running a scenario against an existing deployment: start each
    /// city with `afc city --drill-clock CLOCK`, then `afc sim run --nats URL --drill-clock CLOCK`.
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

#[derive(Subcommand, Debug)]
enum CaseCommand {
    /// Submit a report (JSON, see docs/protocols.md) and print the case id.
    Report {
        #[arg(long, value_parser = City::parse)]
        city: City,
        #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Print a case's timeline.
    Show {
        #[arg(long, value_parser = City::parse)]
        city: City,
        #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        #[arg(value_parser = CaseId::parse)]
        case_id: CaseId,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Internal time-to-freeze of 4-level, 25-account trails with instant banks.
    Freeze(bench::FreezeBench),
    /// The same as `afc load` (for `cargo xtask bench load`).
    Load(load::LoadOptions),
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AFC_LOG").unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::City { city, nats, data, only, freeze_after_ms, drill_clock } => {
            init_logging("info");
            let clock: domain::SharedClock = match drill_clock {
                Some(drill) => {
                    tracing::warn!(clock = %drill, "running on a drill clock: business time is simulated");
                    std::sync::Arc::new(drill)
                }
                None => domain::system_clock(),
            };
            let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = shutdown_tx.send(true);
            });
            let options = CityOptions { city, nats_url: nats, data_dir: data, only, freeze_after_ms };
            run_city(options, clock, shutdown).await
        }
        Command::Case { command } => {
            init_logging("warn");
            case(command).await
        }
        Command::Demo { keep, seed, cases_per_city } => {
            init_logging("warn");
            demo::run(demo::DemoOptions { seed, cases_per_city, keep }).await
        }
        Command::Bench { bench: BenchCommand::Freeze(options) } => {
            init_logging("warn");
            bench::freeze(options).await
        }
        Command::Load(options) | Command::Bench { bench: BenchCommand::Load(options) } => {
            init_logging("warn");
            load::run(options).await
        }
        Command::Province { command: ProvinceCommand::Provision { hub, cities } } => {
            init_logging("warn");
            let client = async_nats::connect(&hub).await.with_context(|| format!("connecting to {hub}"))?;
            let info = bus::streams::ensure_province_stream(&async_nats::jetstream::new(client), &cities).await?;
            let names: Vec<String> = info.config.sources.iter().flatten().map(|s| s.name.clone()).collect();
            println!("{} on {hub} sources {}", info.config.name, names.join(", "));
            Ok(())
        }
        Command::Sim { command: SimCommand::Run { scenario, out, seed, time_scale, quiet, nats, drill_clock } } => {
            init_logging("warn");
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
                 then run:             afc sim run {} --nats HUB_URL --drill-clock {clock}\n\
                 simulated time starts in {start_in} s",
                scenario.display()
            );
            Ok(())
        }
    }
}

async fn case(command: CaseCommand) -> anyhow::Result<()> {
    match command {
        CaseCommand::Report { city, nats, file } => {
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let nats = async_nats::connect(&nats).await.with_context(|| format!("connecting to {nats}"))?;
            match client::report(&nats, &city, body).await? {
                Reply::Ok(accepted) => {
                    let note = if accepted.duplicate { " (already reported; nothing new recorded)" } else { "" };
                    println!("{}{note}", accepted.case_id);
                    Ok(())
                }
                Reply::Error(error) => {
                    eprintln!("report refused: {}", error.message);
                    for problem in &error.problems {
                        eprintln!("  {problem}");
                    }
                    std::process::exit(2);
                }
            }
        }
        CaseCommand::Show { city, nats, case_id, json } => {
            let nats = async_nats::connect(&nats).await.with_context(|| format!("connecting to {nats}"))?;
            match client::show(&nats, &city, &case_id).await? {
                Reply::Ok(timeline) if json => {
                    println!("{}", serde_json::to_string_pretty(&timeline)?);
                    Ok(())
                }
                Reply::Ok(timeline) => {
                    let s = &timeline.summary;
                    println!(
                        "case {} ({}, {}): {} reported lost",
                        timeline.case_id, timeline.city, timeline.fraud_type, timeline.reported_loss_fen
                    );
                    for entry in &timeline.entries {
                        let account = entry.account.as_ref().map_or(String::new(), |a| a.to_string());
                        println!(
                            "  {:>13}  {:<15} {:<28} {}",
                            entry.at_ms,
                            format!("{:?}", entry.kind),
                            account,
                            entry.detail
                        );
                    }
                    println!(
                        "stopped {} accounts, frozen {}, held {}, frozen {}, cashed out {}, time-to-freeze {}",
                        s.accounts_stopped,
                        s.accounts_frozen,
                        s.held_fen,
                        s.frozen_fen,
                        s.cashed_out_fen,
                        s.time_to_freeze_ms.map_or("-".into(), |ms| format!("{ms} ms")),
                    );
                    Ok(())
                }
                Reply::Error(error) => {
                    eprintln!("{}", error.message);
                    std::process::exit(2);
                }
            }
        }
    }
}
