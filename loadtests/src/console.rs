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
    Ok(ConsoleOptions { scope, nats, deployment: secrets.to_owned(), tz: UtcOffset::CHINA, listen, tls: None })
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

/// A console for each of `cities` and the province's board, on free ports; what the demo
/// prints, with whom to log in as.
pub async fn start_all(
    deployment: &Embedded,
    cities: &[domain::City],
) -> anyhow::Result<Vec<(String, RunningConsole)>> {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let mut consoles = Vec::new();
    for city in cities {
        let console = start(deployment, Scope::City(city.clone()), deployment.clock.clone(), any).await?;
        consoles.push((city.as_str().to_owned(), console));
    }
    let board = start(deployment, Scope::Province, deployment.clock.clone(), any).await?;
    consoles.push((security::staff::PROVINCE_ROSTER.to_owned(), board));
    Ok(consoles)
}

/// The lines the demo prints about `consoles`: each one's address and the people who may log
/// in there (the key of each is `<secrets>/keys/<identity>.nk`).
pub fn describe(deployment: &Embedded, consoles: &[(String, RunningConsole)]) -> Vec<String> {
    let Some(dir) = deployment.secrets_dir() else { return Vec::new() };
    let urls: Vec<(String, String)> =
        consoles.iter().map(|(node, console)| (node.clone(), console.url.clone())).collect();
    describe_at(dir, &urls)
}

/// Where each console (node, URL) of the deployment whose secrets are in `dir` is, and who
/// may log in at it (`afc-lab demo`, `afc-lab up`).
pub fn describe_at(dir: &std::path::Path, consoles: &[(String, String)]) -> Vec<String> {
    let mut lines = vec![format!(
        "staff console: log in with an identity and the contents of its key file, {}/keys/<identity>.nk",
        dir.display()
    )];
    for (node, url) in consoles {
        let roster = security::staff::Roster::load(&security::staff::Roster::path(dir, node));
        let people: Vec<String> =
            roster.map(|r| r.members.iter().map(|m| format!("{} ({})", m.name, m.role)).collect()).unwrap_or_default();
        lines.push(format!("  {node:<9} {url}  {}", people.join(", ")));
    }
    lines
}
