//! The `afc` command: run a city's services, file and show cases, check and lift blocks,
//! work the dissuasion queues, administer the province hub. Argument parsing only; the work
//! is in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use domain::calendar::UtcOffset;
use domain::{CaseId, City, DrillClock};

use afc::cli::StaffArgs;
use afc::cli::task::TaskCommand;
use afc::host::run_city;
use afc::{cli, config};

/// mimalloc instead of the system allocator: the services allocate and free many small,
/// short-lived buffers (events, MessagePack, redb pages), where glibc's malloc spent about
/// an eighth of the CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "afc",
    version,
    about = "Anti-fraud center node: intake, tracing and freezing, blocking, dissuasion, restitution"
)]
struct Cli {
    /// Log lines as text (colours only on a terminal; the default) or JSON objects, one a
    /// line (`afc city`: key `logging.format`).
    #[arg(long, global = true, env = "AFC_LOG_FORMAT", value_enum)]
    log_format: Option<cli::LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a city's services (or, `afc city provision`, create its stream). Exits non-zero
    /// when a service fails, for its supervisor to restart it. Settings come from a flag,
    /// else its environment variable, else the `--config` file, else the default.
    #[command(args_conflicts_with_subcommands = true)]
    City {
        #[command(subcommand)]
        command: Option<CityCommand>,
        #[command(flatten)]
        run: Box<CityArgs>,
    },
    /// Check a node's configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// File or show cases.
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// Check, list and lift blocks of scammers' numbers, sites, apps and accounts.
    Block {
        #[command(subcommand)]
        command: BlockCommand,
    },
    /// Work the dissuasion queues: take the next person to call back or visit, report the
    /// outcome, list the tasks and the backlog.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Return frozen money to victims: list and show allocations, object, approve (signed),
    /// allocate an account again by another rule.
    Restitution {
        #[command(subcommand)]
        command: cli::restitution::Command,
    },
    /// The staff console: a web page for every role of a city, or the province's board.
    Console(cli::console::ConsoleArgs),
    /// Provincial hub administration.
    Province {
        #[command(subcommand)]
        command: ProvinceCommand,
    },
}

/// `afc city`'s settings; each overrides the same key of the `--config` file
/// (docs/operations.md, "Configuration").
#[derive(clap::Args, Debug)]
struct CityArgs {
    /// The node's TOML config file (deploy/afc/city.toml.example).
    #[arg(long, env = "AFC_CONFIG")]
    config: Option<PathBuf>,
    /// The city (key `city`).
    #[arg(long, env = "AFC_CITY")]
    city: Option<String>,
    /// The city's nats-server (key `nats_url`; default nats://127.0.0.1:4222).
    #[arg(long, env = "AFC_NATS_URL")]
    nats: Option<String>,
    /// Directory of the services' redb files (key `data_dir`).
    #[arg(long, env = "AFC_DATA")]
    data: Option<PathBuf>,
    /// Run only this service: intake, freezing or blocking (key `only`).
    #[arg(long, env = "AFC_ONLY")]
    only: Option<String>,
    /// Delay from a stop-payment to its conversion into a freeze, in ms (key
    /// `freeze_after_ms`; well under the 48 h lapse; default 600000).
    #[arg(long, env = "AFC_FREEZE_AFTER_MS")]
    freeze_after_ms: Option<u64>,
    /// How long before its last stop-payment lapses a claim not frozen yet raises the
    /// `freeze_at_risk` alert, in ms (key `at_risk_margin_ms`; default 43200000).
    #[arg(long, env = "AFC_AT_RISK_MARGIN_MS")]
    at_risk_margin_ms: Option<u64>,
    /// How money leaving an account that holds several depositors' money is attributed to
    /// the victims in it: pro-rata (each outflow takes every part of the balance in
    /// proportion) or lowest-intermediate-balance (other money leaves first). Key
    /// `tracing_rule`; see docs/tracing-rule.md.
    #[arg(long, env = "AFC_TRACING_RULE")]
    tracing_rule: Option<String>,
    /// The deployment's secrets directory (from `afc-lab secure`): each service connects as
    /// `<city>-<service>` with its key in `keys/`, over TLS trusting `pki/ca.crt` (key
    /// `credentials.dir`).
    #[arg(long, env = "AFC_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// The directory of the identities' seeds, instead of `<credentials>/keys` (key
    /// `credentials.keys_dir`).
    #[arg(long, env = "AFC_KEYS_DIR")]
    keys_dir: Option<PathBuf>,
    /// The CA certificate to trust, instead of `<credentials>/pki/ca.crt` (key
    /// `credentials.ca_file`).
    #[arg(long, env = "AFC_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Serve /healthz, /readyz and /metrics on this address, e.g. 127.0.0.1:9464 (key
    /// `http`; default: not served).
    #[arg(long, env = "AFC_HTTP")]
    http: Option<String>,
    /// Run on a drill's scaled clock instead of the wall clock (ORIGIN_MS:SCALE:ANCHOR_UNIX_MS,
    /// from `afc-lab sim clock`), for `afc-lab sim run --nats`. Never in production.
    #[arg(long, value_parser = DrillClock::parse)]
    drill_clock: Option<DrillClock>,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Check a city node's config file alone (no environment, no flags): name every problem
    /// with its key and exit non-zero, or print a summary.
    Check { file: PathBuf },
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
        /// Copies of the stream, one per hub node: 3 on a hub of three nodes, 1 on a hub of
        /// one server (1 to 5). Without it: a new stream gets 1 and an existing one keeps
        /// its own, so adding a city never shrinks a replicated stream.
        #[arg(long, value_name = "N", value_parser = cli::province::parse_replicas)]
        replicas: Option<usize>,
    },
    /// Run the province coordinator on the hub until Ctrl-C: it reads AFC_PROVINCE, keeps
    /// the provincial view in its store and answers `afc province report`.
    Coordinator {
        #[arg(long, env = "AFC_HUB_URL", default_value = "nats://127.0.0.1:4222")]
        hub: String,
        /// A city of the province (repeat for each city).
        #[arg(long = "city", value_parser = City::parse, required = true)]
        cities: Vec<City>,
        /// Where its store is kept.
        #[arg(long, env = "AFC_DATA_DIR", default_value = "data/province")]
        data_dir: PathBuf,
        /// The deployment's secrets directory: connect as `province-coordinator`.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
    },
    /// The joint meeting's report: every city's figures over a period, the province's
    /// totals, and the cities to call in.
    Report {
        #[arg(long, env = "AFC_HUB_URL", default_value = "nats://127.0.0.1:4222")]
        hub: String,
        /// `2025-03` (a month), `2025-W10` (an ISO week) or `2025-03-14` (a day), Beijing
        /// time; the current month when absent.
        #[arg(long)]
        period: Option<String>,
        /// Only this city's row.
        #[arg(long, value_parser = City::parse)]
        city: Option<City>,
        /// How far below the province's median (percent) calls a city in.
        #[arg(long, default_value_t = protocol::coordinator::DEFAULT_MARGIN_PERCENT)]
        margin: u8,
        #[arg(long, value_enum, default_value_t = cli::province::Format::Table)]
        format: cli::province::Format,
        /// The deployment's secrets directory: connect as `province-lab`.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
    },
    /// What the coordinator holds: each producer's highest sequence and gaps, the notices
    /// each city is still to hear, events re-sent, refusals.
    Status {
        #[arg(long, env = "AFC_HUB_URL", default_value = "nats://127.0.0.1:4222")]
        hub: String,
        #[arg(long)]
        json: bool,
        /// As for `report`.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CaseCommand {
    /// The city's cases, newest report first, a page at a time, filtered.
    List(cli::cases::ListArgs),
    /// The cases a case id, an account, a phone number or a domain finds.
    Search(cli::cases::SearchArgs),
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
    /// Print a case: its money trail as a tree (each account under the one it was traced
    /// from, with the money traced in and what holds it now), its events in local time with
    /// their offsets from the report, its totals, blocks and returns.
    Show {
        #[arg(long, value_parser = City::parse)]
        city: City,
        #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats: String,
        #[arg(value_parser = CaseId::parse)]
        case_id: CaseId,
        /// Intake's timeline, blocking's and restitution's parts as JSON, for scripts (times
        /// in ms since the epoch, amounts in fen).
        #[arg(long)]
        json: bool,
        /// The clock to show times on: UTC, Asia/Shanghai or a fixed offset such as +08:00.
        #[arg(long, env = "AFC_TZ", default_value = "Asia/Shanghai", value_parser = UtcOffset::parse)]
        tz: UtcOffset,
        /// Every entry of the timeline, not only the events the trail does not show.
        #[arg(long)]
        timeline: bool,
        /// As for `report`.
        #[arg(long, env = "AFC_CREDENTIALS")]
        credentials: Option<PathBuf>,
    },
}

/// Where a staff command connects: as for `afc case`.
#[derive(Subcommand, Debug)]
enum BlockCommand {
    /// Is VALUE blocked, since when, why (case count, fraud types), and in the pool?
    Check {
        #[command(flatten)]
        staff: StaffArgs,
        value: String,
        /// phone, url, domain, app or social (guessed from VALUE when not given).
        #[arg(long)]
        kind: Option<String>,
        /// The clock to show times on: UTC, Asia/Shanghai or a fixed offset such as +08:00.
        #[arg(long, env = "AFC_TZ", default_value = "Asia/Shanghai", value_parser = UtcOffset::parse)]
        tz: UtcOffset,
        #[arg(long)]
        json: bool,
    },
    /// The active blocks started at or after --since, oldest first: a page (every page with
    /// --all), then where the next page starts.
    List {
        #[command(flatten)]
        staff: StaffArgs,
        /// A date or time on the --tz clock (2025-03-14, 2025-03-14 09:00), or ms since the
        /// epoch; every active block when not given.
        #[arg(long)]
        since: Option<String>,
        /// Start after this block (the `more: --after` of the previous page).
        #[arg(long, value_name = "CURSOR", value_parser = cli::block::parse_cursor)]
        after: Option<protocol::blocking::ListCursor>,
        /// Blocks a page (at most 200, the default).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// Only blocks of this kind of identifier: phone, domain, ip, app or social.
        #[arg(long, value_parser = cli::block::parse_kind)]
        kind: Option<domain::IdentifierKind>,
        /// Every page to the end.
        #[arg(long)]
        all: bool,
        /// The clock to show times on: UTC, Asia/Shanghai or a fixed offset such as +08:00.
        #[arg(long, env = "AFC_TZ", default_value = "Asia/Shanghai", value_parser = UtcOffset::parse)]
        tz: UtcOffset,
        /// Each block as one JSON line (times in ms since the epoch).
        #[arg(long)]
        json: bool,
    },
    /// Lift VALUE's block (an appeal): the carriers are asked to lift it.
    Lift {
        #[command(flatten)]
        staff: StaffArgs,
        value: String,
        #[arg(long)]
        kind: Option<String>,
        /// Why (the appeal's outcome).
        #[arg(long)]
        reason: String,
        /// The operator deciding, as the center's staff directory names them.
        #[arg(long)]
        operator: String,
    },
}

/// Times print on the city's clock (UTC+8) with how far from now; `--json` prints the
/// service's answer as it is. Only `next` and `claim` print the person's number.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let log_format = cli.log_format.unwrap_or_default();
    match cli.command {
        Command::City { command: Some(CityCommand::Provision { city, nats, credentials }), .. } => {
            afc::cli::init_logging("warn", log_format);
            cli::city::provision(&nats, credentials.as_deref(), &city).await
        }
        Command::City { command: None, run } => {
            let drill_clock = run.drill_clock;
            let settings = city_settings(*run, cli.log_format)?;
            afc::cli::init_logging(&settings.log_level, settings.log_format);
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
            Ok(run_city(settings.options, clock, shutdown).await?)
        }
        Command::Config { command: ConfigCommand::Check { file } } => cli::config::check(&file),
        Command::Case { command } => {
            afc::cli::init_logging("warn", log_format);
            match command {
                CaseCommand::List(args) => cli::cases::list(args).await,
                CaseCommand::Search(args) => cli::cases::search(args).await,
                CaseCommand::Report { city, nats, file, credentials } => {
                    cli::case::report(&nats, credentials.as_deref(), &city, &file).await
                }
                CaseCommand::Show { city, nats, case_id, json, tz, timeline, credentials } => {
                    let view = cli::case::View { tz, timeline, colour: cli::out::colours() };
                    cli::case::show(&nats, credentials.as_deref(), &city, &case_id, json, view).await
                }
            }
        }
        Command::Block { command } => {
            afc::cli::init_logging("warn", log_format);
            match command {
                BlockCommand::Check { staff, value, kind, tz, json } => {
                    let StaffArgs { city, nats, credentials } = staff;
                    cli::block::check(&nats, credentials.as_deref(), &city, &value, kind.as_deref(), tz, json).await
                }
                BlockCommand::List { staff, since, after, limit, kind, all, tz, json } => {
                    let since_ms = match since {
                        None => 0,
                        Some(text) => cli::block::parse_since(&text, tz).map_err(anyhow::Error::msg)?,
                    };
                    let args = cli::block::ListArgs { since_ms, after, limit, kind, all, tz, json };
                    cli::block::list(&staff.nats, staff.credentials.as_deref(), &staff.city, args).await
                }
                BlockCommand::Lift { staff, value, kind, reason, operator } => {
                    let StaffArgs { city, nats, credentials } = staff;
                    let credentials = credentials.as_deref();
                    cli::block::lift(&nats, credentials, &city, &value, kind.as_deref(), &reason, &operator).await
                }
            }
        }
        Command::Task { command } => {
            afc::cli::init_logging("warn", log_format);
            cli::task::run(command).await
        }
        Command::Restitution { command } => {
            afc::cli::init_logging("warn", log_format);
            cli::restitution::run(command).await
        }
        Command::Province { command: ProvinceCommand::Provision { hub, cities, credentials, replicas } } => {
            afc::cli::init_logging("warn", log_format);
            cli::province::provision(&hub, credentials.as_deref(), &cities, replicas).await
        }
        Command::Console(args) => {
            afc::cli::init_logging("info", log_format);
            cli::console::run(args).await
        }
        Command::Province { command: ProvinceCommand::Coordinator { hub, cities, data_dir, credentials } } => {
            afc::cli::init_logging("info", log_format);
            let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = shutdown_tx.send(true);
            });
            cli::province::coordinator(&hub, credentials.as_deref(), cities, data_dir, shutdown).await
        }
        Command::Province { command: ProvinceCommand::Report { hub, period, city, margin, format, credentials } } => {
            afc::cli::init_logging("warn", log_format);
            let request = cli::province::ReportArgs { period, city, margin, format };
            cli::province::report(&hub, credentials.as_deref(), request).await
        }
        Command::Province { command: ProvinceCommand::Status { hub, json, credentials } } => {
            afc::cli::init_logging("warn", log_format);
            cli::province::status(&hub, credentials.as_deref(), json).await
        }
    }
}

/// `afc city`'s settings: its flags and environment over its config file, checked.
fn city_settings(run: CityArgs, log_format: Option<cli::LogFormat>) -> Result<config::CitySettings, config::Problems> {
    let overrides = config::Overrides {
        city: run.city,
        nats_url: run.nats,
        data_dir: run.data,
        only: run.only,
        freeze_after_ms: run.freeze_after_ms,
        at_risk_margin_ms: run.at_risk_margin_ms,
        tracing_rule: run.tracing_rule,
        credentials_dir: run.credentials,
        keys_dir: run.keys_dir,
        ca_file: run.ca_file,
        http: run.http,
        log_level: std::env::var("AFC_LOG").ok(),
        log_format,
    };
    match &run.config {
        Some(path) => config::load(path, overrides),
        None => config::resolve(config::CityFile::default(), overrides),
    }
}
