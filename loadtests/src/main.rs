//! `afc-lab`: the engineers' tools — the demo, benchmarks, open-loop load, crime-wave drills
//! — on embedded deployments or against a running one. Argument parsing only; the work is
//! in the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use domain::DrillClock;

use loadtests::{bench, crash, demo, drill, load, sim_serve, up};

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
    /// Drills of the deployment itself.
    Drill {
        #[command(subcommand)]
        drill: DrillCommand,
    },
    /// Generate a local deployment's development CA, certificates, identities (nkeys) and
    /// nats-server configs (hub and cities, with accounts, grants and TLS) into a directory.
    /// A CA already there is kept.
    Secure {
        /// The cities, comma-separated.
        #[arg(long, value_delimiter = ',', value_parser = domain::City::parse, required = true)]
        cities: Vec<domain::City>,
        #[arg(long)]
        dir: PathBuf,
        /// The host name every node is reached at (certificates name it).
        #[arg(long, default_value = "localhost")]
        host: String,
        /// The address peers dial (a certificate's IP name).
        #[arg(long, default_value = "127.0.0.1")]
        address: std::net::IpAddr,
        /// The hub takes this port and the next two; each city the next ten.
        #[arg(long, default_value_t = 14222)]
        base_port: u16,
        /// Banks each city serves, comma-separated.
        #[arg(long, value_delimiter = ',', value_parser = domain::BankId::parse, default_value = "icbc,abc,boc,ccb")]
        banks: Vec<domain::BankId>,
        /// Payment platforms each city serves, comma-separated.
        #[arg(long, value_delimiter = ',', value_parser = domain::PlatformId::parse, default_value = "alipay,wechatpay")]
        platforms: Vec<domain::PlatformId>,
        /// Where each server keeps its JetStream store (`<data>/<node>`; default `<dir>/data`).
        /// An installed node: `/var/lib/afc-nats` (the nats units' state directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The hub as a JetStream cluster of this many nodes (nats/hub-1.conf …; 3 keeps the
        /// province's stream going while one is down); 0 or 1: one server (nats/hub.conf).
        #[arg(long, default_value_t = 0)]
        hub_cluster: usize,
        /// The host of each hub node, comma-separated, when the nodes run on hosts of their own
        /// (as many as --hub-cluster): the hub's certificate names each, the routes and the
        /// cities' leaf remotes dial each node there. Default: every node on --host.
        #[arg(long, value_delimiter = ',')]
        hub_hosts: Vec<String>,
    },
    /// Start a local province as separate processes from generated configs (a hub and N city
    /// nats-servers, N `afc city`, the simulated banks), with identities and TLS, detached;
    /// print its URLs. Stop it with `afc-lab down`.
    Up {
        /// The first N of Zhejiang's cities (hangzhou, wenzhou, huzhou, ...).
        #[arg(long, default_value_t = 2)]
        cities: usize,
        /// The deployment directory: secrets, configs, data, logs, pid files.
        #[arg(long, default_value = "target/province")]
        dir: PathBuf,
        /// The hub takes this port and the next two; each city the next ten.
        #[arg(long, default_value_t = 14222)]
        base_port: u16,
        /// The afc binary (default: the one beside afc-lab).
        #[arg(long)]
        afc: Option<PathBuf>,
        /// The world the simulated banks serve (default: simulator/scenarios/lab-province.toml).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// The hub as a JetStream cluster of this many nats-servers (3: the province's stream
        /// with 3 replicas goes on while one is down); 0 or 1: one server.
        #[arg(long, default_value_t = 0)]
        hub_cluster: usize,
        /// Run the cities on a drill clock (from `afc-lab sim clock SCENARIO`) for `afc-lab sim
        /// run SCENARIO --deployment DIR`, which plays the banks: none are started. Pass the
        /// drill's scenario as --scenario, so its banks get their gateway identities.
        #[arg(long, value_parser = DrillClock::parse)]
        drill_clock: Option<DrillClock>,
    },
    /// Stop a local province started by `afc-lab up`, in reverse order; its data stays.
    Down {
        #[arg(long, default_value = "target/province")]
        dir: PathBuf,
        /// Also remove its data (the servers' stores and the services' files).
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Subcommand, Debug)]
enum DrillCommand {
    /// Play a scenario through a hub and real `afc city` processes, SIGKILL them N times at
    /// seeded random moments and restart them on the same data; fail when an accepted report
    /// is lost, something is done twice, or a center stops an account more than twice.
    Crash {
        /// SIGKILLs, spread over the scenario's active period.
        #[arg(long, default_value_t = 100)]
        kills: u32,
        /// The scenario file.
        #[arg(long, default_value = "simulator/scenarios/wenzhou-month.toml")]
        scenario: PathBuf,
        /// Override the scenario's seed (the kill moments follow it too).
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's time scale (simulated ms per real ms).
        #[arg(long)]
        time_scale: Option<f64>,
        /// Where each run's report and each node's log go.
        #[arg(long, default_value = "target/drill-crash")]
        out: PathBuf,
        /// The afc binary the city nodes run (default: the one beside afc-lab).
        #[arg(long)]
        afc: Option<PathBuf>,
        /// Skip the undisturbed run (its recall is then not compared).
        #[arg(long)]
        no_undisturbed: bool,
        /// Real seconds for the nodes to start before simulated time runs.
        #[arg(long, default_value_t = 15)]
        start_in: u64,
        /// No progress lines.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Internal time-to-freeze of 4-level, 25-account trails with instant banks.
    Freeze(bench::FreezeBench),
    /// The same as `afc-lab load` (for `cargo xtask bench load`).
    Load(load::LoadOptions),
    /// Freezing's start time and state memory on a long log of closed cases.
    Start(bench::start::StartBench),
    /// Lookups in blocking's index of blocked identifiers (10 million by default) on one
    /// core, its memory and build time, against the floor.
    Blocking(bench::blocking::BlockingBench),
    /// From a report to blocking's carrier block orders, open loop (200 cases/s), against
    /// issue 14's goal: p99 ≤ 20 ms; every order checked against the contacts submitted.
    BlockingOrders(bench::orders::OrdersBench),
    /// Blocking's start with 10 million blocks in its store (written through the core), with
    /// its index file and without, against issue 14's goal: < 5 s.
    BlockingStart(bench::blocking::start::StartBench),
    /// Dissuasion's core with 1 million known identifiers and 10 million kept signals:
    /// signals stepped closed and open loop (50,000/s), back-matching cases, against issue
    /// 15's goals.
    Dissuasion(bench::dissuasion::DissuasionBench),
    /// Restitution's allocation of one account with 1,000 victims and a 100,000-entry
    /// statement, by every rule, against its floor, and the fund-flow report of a 4-level,
    /// 25-account case, against issue 16's goals.
    Restitution(bench::restitution::RestitutionBench),
    /// The province coordinator: its core absorbing 10 million envelopes of 11 cities, the
    /// month's, a week's and a day's report over them, and the shell reading a real stream,
    /// against issue 17's goals.
    Province(bench::province::ProvinceBench),
    /// How soon the province holds what a city published while cut off, after the leaf link
    /// is restored and after a hub restart, with the province's link watcher and without
    /// (nats-server's source retry), against issue 17's goal: p99 ≤ 5 s.
    Convergence(bench::convergence::ConvergenceBench),
    /// The staff console: a 500-hop case page's server time and first paint in headless
    /// Chromium, and what the metrics endpoint and the live updates cost at 400 cases/s,
    /// against issue 18's goals.
    Console(bench::console::ConsoleBench),
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
        /// Freezing's tracing rule in the embedded deployment: pro-rata or
        /// lowest-intermediate-balance (docs/tracing-rule.md).
        #[arg(long, default_value = "pro-rata")]
        tracing_rule: freezing::rule::TracingRule,
        /// Run against an existing open deployment through this NATS URL (the province hub)
        /// instead of starting an embedded one. Needs --drill-clock.
        #[arg(long, requires = "drill_clock", conflicts_with = "deployment")]
        nats: Option<String>,
        /// Run against a secured local province (`afc-lab up --drill-clock CLOCK --scenario
        /// SCENARIO --dir DIR`): each city at its own server with the deployment's identities.
        /// Needs --drill-clock.
        #[arg(long, requires = "drill_clock")]
        deployment: Option<PathBuf>,
        /// The clock the deployment's cities were started on (`afc-lab sim clock`); its
        /// scale is the drill's time scale.
        #[arg(long, value_parser = DrillClock::parse, conflicts_with = "time_scale")]
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
    /// Serve the simulated banks and payment platforms of a local province (`afc-lab up`
    /// starts it) with each city's gateway identities, until SIGINT or SIGTERM; writes the
    /// world's reports to `<deployment>/reports/`.
    Serve {
        /// The deployment directory (`afc-lab up --dir`).
        #[arg(long)]
        deployment: PathBuf,
        /// The world to serve (default: simulator/scenarios/lab-province.toml, built in).
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    afc::cli::init_logging("warn", afc::cli::LogFormat::Text);
    match cli.command {
        Command::Demo { keep, seed, cases_per_city } => {
            demo::run(demo::DemoOptions { seed, cases_per_city, keep }).await
        }
        Command::Bench { bench: BenchCommand::Freeze(options) } => bench::freeze(options).await,
        Command::Bench { bench: BenchCommand::Start(options) } => bench::start::start(options).await,
        Command::Bench { bench: BenchCommand::Blocking(options) } => bench::blocking::run(options).await,
        Command::Bench { bench: BenchCommand::BlockingOrders(options) } => bench::orders::run(options).await,
        Command::Bench { bench: BenchCommand::BlockingStart(options) } => bench::blocking::start::run(options).await,
        Command::Bench { bench: BenchCommand::Dissuasion(options) } => bench::dissuasion::run(options).await,
        Command::Bench { bench: BenchCommand::Restitution(options) } => bench::restitution::run(options).await,
        Command::Bench { bench: BenchCommand::Province(options) } => bench::province::run(options).await,
        Command::Bench { bench: BenchCommand::Convergence(options) } => bench::convergence::convergence(options).await,
        Command::Bench { bench: BenchCommand::Console(options) } => bench::console::run(options).await,
        Command::Load(options) | Command::Bench { bench: BenchCommand::Load(options) } => load::run(options).await,
        Command::Sim {
            command:
                SimCommand::Run { scenario, out, seed, time_scale, quiet, tracing_rule, nats, deployment, drill_clock },
        } => {
            let target = match (nats, deployment, drill_clock) {
                (Some(url), _, Some(clock)) => drill::Target::Existing { url, clock },
                (_, Some(dir), Some(clock)) => {
                    drill::Target::Secured { connector: up::record::Record::load(&dir)?.connector(), clock }
                }
                (None, None, None) => drill::Target::Embedded,
                (_, _, Some(_)) => {
                    anyhow::bail!("--drill-clock runs against a deployment: name it with --nats or --deployment")
                }
                (_, _, None) => anyhow::bail!("a drill against a deployment needs --drill-clock (afc-lab sim clock)"),
            };
            let options =
                drill::DrillOptions { scenario, out, seed, time_scale, progress: !quiet, target, tracing_rule };
            drill::run(options).await.map(|_| ())
        }
        Command::Secure { cities, dir, host, address, base_port, banks, platforms, data, hub_cluster, hub_hosts } => {
            let spec = security::deployment::DeploymentSpec {
                cities,
                host,
                address,
                base_port,
                data: data.unwrap_or_else(|| dir.join("data")),
                banks,
                platforms,
                carriers: domain::Carrier::ALL.to_vec(),
                hub_cluster,
                hub_hosts,
            };
            up::secure(&spec, &dir)
        }
        Command::Up { cities, dir, base_port, afc, scenario, hub_cluster, drill_clock } => {
            let afc = match afc {
                Some(path) => path,
                None => up::afc_beside_this()?,
            };
            let lab = std::env::current_exe()?;
            let options = up::UpOptions { cities, dir, base_port, afc, lab, scenario, hub_cluster, drill_clock };
            up::up(options).await.map(|_| ())
        }
        Command::Down { dir, purge } => up::down(&dir, purge),
        Command::Sim { command: SimCommand::Serve { deployment, scenario } } => {
            sim_serve::serve(sim_serve::SimServeOptions { deployment, scenario }).await
        }
        Command::Drill {
            drill: DrillCommand::Crash { kills, scenario, seed, time_scale, out, afc, no_undisturbed, start_in, quiet },
        } => {
            let afc = match afc {
                Some(path) => path,
                None => std::env::current_exe()?.with_file_name(format!("afc{}", std::env::consts::EXE_SUFFIX)),
            };
            let options = crash::CrashOptions {
                scenario,
                kills,
                seed,
                time_scale,
                out,
                afc,
                undisturbed: !no_undisturbed,
                start_in: Duration::from_secs(start_in),
                progress: !quiet,
                log_filter: crash::node::LOG_FILTER.into(),
            };
            let verdict = crash::run(options).await?;
            for (label, run) in [("undisturbed", verdict.undisturbed.as_ref()), ("crashed", Some(&verdict.crashed))] {
                for detail in run.map(|r| r.details.as_slice()).unwrap_or_default() {
                    eprintln!("{label}: {detail}");
                }
            }
            println!("{}", verdict.line());
            anyhow::ensure!(verdict.holds(), "an invariant broke (details above)");
            Ok(())
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
