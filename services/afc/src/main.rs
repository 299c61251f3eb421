//! The `afc` command: run a city's services, file and show cases, administer the province
//! hub. Argument parsing only; the work is in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use domain::{CaseId, City, DrillClock, Service};

use afc::cli;
use afc::host::{CityOptions, run_city};

/// mimalloc instead of the system allocator: the services allocate and free many small,
/// short-lived buffers (events, MessagePack, redb pages), where glibc's malloc spent about
/// an eighth of the CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "afc", version, about = "Anti-fraud center node: intake, multi-hop tracing and freezing")]
struct Cli {
    /// Log lines as text (colours only on a terminal) or JSON objects, one a line.
    #[arg(long, global = true, env = "AFC_LOG_FORMAT", value_enum, default_value_t = cli::LogFormat::Text)]
    log_format: cli::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a city's services (or, `afc city provision`, create its stream). Exits non-zero
    /// when a service fails, for its supervisor to restart it.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    City {
        #[command(subcommand)]
        command: Option<CityCommand>,
        #[arg(long, value_parser = City::parse, required = true)]
        city: Option<City>,
        #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// Directory of the services' redb files.
        #[arg(long, required = true)]
        data: Option<PathBuf>,
        /// Run only this service (intake, freezing).
        #[arg(long, value_parser = parse_service)]
        only: Option<Service>,
        /// Delay from a stop-payment to its conversion into a freeze, in ms (must stay well
        /// under the 48 h lapse).
        #[arg(long, default_value_t = freezing::limits::DEFAULT_FREEZE_AFTER_MS)]
        freeze_after_ms: u64,
        /// How long before its last stop-payment lapses a claim not frozen yet raises the
        /// `freeze_at_risk` alert, in ms.
        #[arg(long, default_value_t = freezing::limits::DEFAULT_AT_RISK_MARGIN_MS)]
        at_risk_margin_ms: u64,
        /// How money leaving an account that holds several depositors' money is attributed
        /// to the victims in it: pro-rata (each outflow takes every part of the balance in
        /// proportion) or lowest-intermediate-balance (other money leaves first). See
        /// docs/tracing-rule.md.
        #[arg(long, default_value = "pro-rata")]
        tracing_rule: freezing::rule::TracingRule,
        /// Run on a drill's scaled clock instead of the wall clock (ORIGIN_MS:SCALE:ANCHOR_UNIX_MS,
        /// from `afc-lab sim clock`), for `afc-lab sim run --nats`. Never in production.
        #[arg(long, value_parser = DrillClock::parse)]
        drill_clock: Option<DrillClock>,
        /// The deployment's secrets directory (from `afc-lab secure`): each service connects
        /// as `<city>-<service>` with its key in `keys/`, over TLS trusting `pki/ca.crt`.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
    },
    /// File or show cases.
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Provincial hub administration.
    Province {
        #[command(subcommand)]
        command: ProvinceCommand,
    },
}

#[derive(Subcommand, Debug)]
enum CityCommand {
    /// Create or update the city's stream (AFC_<CITY>), as the city's provisioner
    /// (`<city>-admin`). Run it once before the city's services start, and after an upgrade.
    Provision {
        #[arg(long, value_parser = City::parse)]
        city: City,
        #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// The deployment's secrets directory: connect as `<city>-admin` with its key in
        /// `keys/`, over TLS trusting `pki/ca.crt`. Without it: anonymously, without TLS.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
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
        /// The deployment's secrets directory: connect as `province-admin` with its key in
        /// `keys/`, over TLS trusting `pki/ca.crt`. Without it: anonymously, without TLS.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
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
        /// The deployment's secrets directory: connect as `<city>-staff` with its key in
        /// `keys/`, over TLS trusting `pki/ca.crt`. Without it: anonymously, without TLS.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
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
        /// As for `report`.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
    },
}

fn parse_service(name: &str) -> Result<Service, String> {
    Service::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Service::ALL.iter().map(|s| s.as_str()).collect();
        format!("{name:?} is not a service; the services are {}", known.join(", "))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::City { command: Some(CityCommand::Provision { city, nats, credentials }), .. } => {
            afc::cli::init_logging("warn", cli.log_format);
            cli::city::provision(&nats, credentials.as_deref(), &city).await
        }
        Command::City {
            command: None,
            city: Some(city),
            data: Some(data),
            nats,
            only,
            freeze_after_ms,
            at_risk_margin_ms,
            tracing_rule,
            drill_clock,
            credentials,
        } => {
            afc::cli::init_logging("info", cli.log_format);
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
            let options = CityOptions {
                city,
                nats_url: nats,
                data_dir: data,
                only,
                freeze_after_ms,
                at_risk_margin_ms,
                tracing_rule,
                credentials: credentials.as_deref().map(security::CredentialFiles::of_deployment),
            };
            Ok(run_city(options, clock, shutdown).await?)
        }
        Command::City { .. } => unreachable!("clap requires --city and --data without a subcommand"),
        Command::Case { command } => {
            afc::cli::init_logging("warn", cli.log_format);
            match command {
                CaseCommand::Report { city, nats, file, credentials } => {
                    cli::case::report(&nats, credentials.as_deref(), &city, &file).await
                }
                CaseCommand::Show { city, nats, case_id, json, credentials } => {
                    cli::case::show(&nats, credentials.as_deref(), &city, &case_id, json).await
                }
            }
        }
        Command::Province { command: ProvinceCommand::Provision { hub, cities, credentials } } => {
            afc::cli::init_logging("warn", cli.log_format);
            cli::province::provision(&hub, credentials.as_deref(), &cities).await
        }
    }
}
