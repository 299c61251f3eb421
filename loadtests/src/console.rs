//! The staff console beside the lab's embedded deployment: one per city (and the province's
//! board on the hub), in this process, each on a port of its own, as `afc console` serves it
//! on a node. What the demo prints the addresses of, the console's tests log in to, and
//! `afc-lab bench console` measures.

use std::net::SocketAddr;

use afc::console::{ConsoleOptions, Scope};
use anyhow::Context as _;
use domain::SharedClock;
use domain::calendar::UtcOffset;
use tokio::net::TcpListener;

use crate::deployment::Embedded;

/// A console serving, until dropped.
#[derive(Debug)]
pub struct RunningConsole {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub console: afc::console::Console,
    _stop: tokio::sync::watch::Sender<bool>,
}

/// Starts the console of `scope` for `deployment` (a secured one) on `listen` (port 0: any
/// free port), with pages on `clock`.
pub async fn start(
    deployment: &Embedded,
    scope: Scope,
    clock: SharedClock,
    listen: SocketAddr,
) -> anyhow::Result<RunningConsole> {
    serve(options(deployment, scope, listen)?, clock).await
}

/// What `afc console` would be told to serve `scope` of `deployment` (a secured one) on
/// `listen`.
pub fn options(deployment: &Embedded, scope: Scope, listen: SocketAddr) -> anyhow::Result<ConsoleOptions> {
    let secrets = deployment.secrets_dir().context("the console needs a secured deployment (identities)")?;
    let nats = match &scope {
        Scope::City(city) => deployment.province.city(city)?.server.url(),
        Scope::Province => deployment.province.hub_url(),
    };
    Ok(ConsoleOptions { scope, nats, deployment: secrets.to_owned(), tz: UtcOffset::CHINA, listen })
}

/// Starts a console on `options`: its tasks (the live hub's subscription, the server) run on
/// the runtime this is called on (`afc-lab bench console` gives it a runtime of its own, to
/// count its CPU apart).
pub async fn serve(options: ConsoleOptions, clock: SharedClock) -> anyhow::Result<RunningConsole> {
    let listen = options.listen;
    let console = afc::console::start(&options, clock).await?;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(afc::console::serve_on(listener, console.clone(), shutdown));
    Ok(RunningConsole { url, console, _stop: stop })
}

/// The seed of identity `who` in the deployment's secrets: what a person pastes to log in.
pub fn seed_of(deployment: &Embedded, who: &str) -> anyhow::Result<String> {
    let dir = deployment.secrets_dir().context("a secured deployment")?;
    let path = security::keys::seed_path(&dir.join(security::connect::KEYS_DIR), who);
    Ok(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?.trim().to_owned())
}
