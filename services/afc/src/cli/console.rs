//! `afc console`: serves the staff console of a city (`--city`) or the province's board on the
//! hub (`--province`), until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use domain::City;
use domain::calendar::UtcOffset;

use crate::console::{ConsoleOptions, Scope, TlsFiles, serve};

#[derive(clap::Args, Debug)]
pub struct ConsoleArgs {
    /// The city whose staff the console serves.
    #[arg(long, value_parser = City::parse, required_unless_present = "province", conflicts_with = "province")]
    pub city: Option<City>,
    /// Serve the province's board (on the hub) instead.
    #[arg(long)]
    pub province: bool,
    /// The node's NATS server (the city's, or the hub's).
    #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// The deployment's secrets directory: the CA (`pki/ca.crt`), the console's identity
    /// (`keys/<city>-console.nk`) and the roster of staff (`staff/<city>.json`).
    #[arg(long, env = "AFC_CREDENTIALS")]
    pub credentials: PathBuf,
    /// Where the console listens.
    #[arg(long, env = "AFC_CONSOLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate (PEM: the console's, then its chain) instead of
    /// plain HTTP behind the center's TLS proxy; with --tls-key.
    #[arg(long, env = "AFC_CONSOLE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM, readable by the console's user only).
    #[arg(long, env = "AFC_CONSOLE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The clock pages show times on: UTC, Asia/Shanghai or a fixed offset such as +08:00.
    #[arg(long, env = "AFC_TZ", default_value = "Asia/Shanghai", value_parser = UtcOffset::parse)]
    pub tz: UtcOffset,
}

/// Serves the console until Ctrl-C.
pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let scope = match args.city {
        Some(city) => Scope::City(city),
        None => Scope::Province,
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let options =
        ConsoleOptions { scope, nats: args.nats, deployment: args.credentials, tz: args.tz, listen: args.listen, tls };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    serve(options, domain::system_clock(), shutdown).await
}
