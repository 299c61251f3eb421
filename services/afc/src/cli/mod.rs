//! Staff and admin commands: `afc case …` (intake's client), `afc block …` (blocking's),
//! `afc task …` (dissuasion's), `afc restitution …` (restitution's), `afc city provision` and `afc province …` (stream
//! administration), and how each connects.

pub mod block;
pub mod case;
pub mod cases;
pub mod city;
pub mod config;
pub mod console;
pub mod out;
pub mod province;
pub mod restitution;
pub mod task;
pub mod trail;

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use security::CredentialFiles;

/// Connects to `nats` as identity `name`, reading replies under `inbox`, with the key and CA
/// of the deployment directory `credentials` (`keys/<name>.nk`, `pki/ca.crt`) over TLS; or,
/// without credentials, anonymously as before (a development server).
pub async fn connect(
    nats: &str,
    credentials: Option<&Path>,
    name: &str,
    inbox: String,
) -> anyhow::Result<async_nats::Client> {
    let options = options(credentials, name, inbox)?;
    options.connect(nats).await.with_context(|| format!("connecting to {nats} as {name}"))
}

/// [`connect`], reconnecting within [`bus::limits::PROVINCE_WATCHER_RECONNECT_MAX`] of the
/// server coming back (the province's link watcher, which must see a restarted hub at once;
/// the client's default waits up to 4 s between attempts).
pub async fn connect_watcher(
    nats: &str,
    credentials: Option<&Path>,
    name: &str,
    inbox: String,
) -> anyhow::Result<async_nats::Client> {
    let options = options(credentials, name, inbox)?.reconnect_delay_callback(bus::province::reconnect_delay);
    options.connect(nats).await.with_context(|| format!("connecting to {nats} as {name}"))
}

/// The connection options of identity `name` (see [`connect`]).
fn options(credentials: Option<&Path>, name: &str, inbox: String) -> anyhow::Result<async_nats::ConnectOptions> {
    let options = match credentials {
        None => async_nats::ConnectOptions::new(),
        Some(dir) => CredentialFiles::of_deployment(dir)
            .credentials(name, inbox)
            .with_context(|| format!("the identity {name} in {}", dir.display()))?
            .options(),
    };
    Ok(options.name(format!("afc {name}")))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text an event; colours only when stderr is a terminal (a log file or a
    /// journal gets no escape codes).
    #[default]
    Text,
    /// One JSON object a line (time, level, target, message, fields), for log shipping.
    Json,
}

/// Logs to stderr at `default` level, or as `AFC_LOG` says (an `EnvFilter`, e.g.
/// `AFC_LOG=freezing=debug`), in `format`.
pub fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AFC_LOG").unwrap_or_else(|_| default.into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// Where a staff command connects: the city, its nats-server, the deployment's secrets.
#[derive(clap::Args, Debug)]
pub struct StaffArgs {
    #[arg(long, value_parser = domain::City::parse)]
    pub city: domain::City,
    #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// As for `afc case report`: connect as `<city>-staff`.
    #[arg(long, env = "AFC_CREDENTIALS")]
    pub credentials: Option<std::path::PathBuf>,
}
