//! The staff console (`afc console`): a web page for every role of a center, and on the hub
//! the province's board. Served by `afc` itself, its styles and script embedded in the
//! binary; pages are rendered on the server (maud escapes everything they show), and a few
//! lines of script keep them live.
//!
//! The console holds no data and decides nothing: it asks the services through their NATS
//! commands, **as the person logged in**. A login presents the person's identity (its name
//! and nkey seed); the console checks the key against the node's roster
//! (`security::staff::Roster`), then connects to the NATS server with it, and the server
//! checks it again and enforces the person's grant. So a role is enforced twice: here, before
//! any page or action is asked for ([`StaffRole::may`]), and by the server (the same table
//! made into each person's permissions). Every action is logged with who did it and what it
//! touched (target `afc::console::audit`), and the services record the person as its
//! operator or approver; an approval is signed with the person's own key.
//!
//! Forms carry a one-time token of the session ([`sessions`]): a post replayed, forged on
//! another site (the session cookie is `SameSite=Strict` and `HttpOnly`, and a foreign
//! `Origin` is refused), or sent after the session expired changes nothing and says why.
//!
//! Live updates: the console's own identity (`<city>-console`) hears the city's events, and
//! each open page hears, over server-sent events, that something it shows changed
//! ([`live`]); the page then fetches itself again. On the hub the board asks the coordinator
//! whether its figures moved.
//!
//! - [`sessions`], [`labels`], [`graph`], [`view`]: pure (sessions, words, the trail's
//!   drawing, the page frame);
//! - [`auth`]: login, logout, the session and form checks every handler starts with;
//! - [`file`], [`cases`], [`blocks`], [`tasks`], [`returns`], [`province`]: the pages;
//! - [`live`]: the live updates.

// A handler's refusal is the page it answers with, returned at once: its size costs nothing.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod blocks;
pub mod cases;
pub mod cases_list;
pub mod file;
pub mod graph;
pub mod labels;
pub mod limits;
pub mod live;
pub mod province;
pub mod returns;
pub mod sessions;
pub mod tasks;
pub mod view;
pub mod words;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::routing::{get, post};
use domain::calendar::UtcOffset;
use domain::{City, SharedClock, TimeMs};
use security::CredentialFiles;
use security::staff::{self, Roster, StaffRole};
use tokio::net::TcpListener;

use self::sessions::{LoginGuard, Sessions};

/// Which node a console serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    City(City),
    Province,
}

impl Scope {
    /// The roster's name: the city's, or `province`.
    pub fn roster_name(&self) -> String {
        match self {
            Scope::City(city) => city.as_str().to_owned(),
            Scope::Province => staff::PROVINCE_ROSTER.to_owned(),
        }
    }

    /// The inbox prefix person `who` reads replies under.
    pub fn inbox(&self, who: &str) -> String {
        match self {
            Scope::City(city) => protocol::subjects::city_inbox(city, who),
            Scope::Province => protocol::subjects::province_inbox(who),
        }
    }
}

/// What `afc console` is told.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    pub scope: Scope,
    /// The node's NATS server.
    pub nats: String,
    /// The deployment's secrets directory: `pki/ca.crt`, `keys/<city>-console.nk`,
    /// `staff/<city>.json`.
    pub deployment: PathBuf,
    /// The clock pages show times on.
    pub tz: UtcOffset,
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate (PEM, the console's first, then the chain) and key,
    /// rather than plain HTTP behind a TLS proxy.
    pub tls: Option<TlsFiles>,
}

/// The console's own certificate and key (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What a session keeps: the person's own connection, their seed to sign approvals with, and
/// the numbers of the tasks they took (dissuasion tells them once, to whoever claims).
pub struct Desk {
    pub client: async_nats::Client,
    seed: String,
    /// (task, number), oldest first, at most [`limits::NUMBERS_PER_SESSION`].
    numbers: std::collections::VecDeque<(String, String)>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").finish_non_exhaustive()
    }
}

impl Desk {
    pub fn new(client: async_nats::Client, seed: String) -> Desk {
        Desk { client, seed, numbers: std::collections::VecDeque::new() }
    }

    /// Keeps the number of `task`, which the person just took.
    pub fn keep_number(&mut self, task: &str, number: &str) {
        self.numbers.retain(|(kept, _)| kept != task);
        if self.numbers.len() >= limits::NUMBERS_PER_SESSION {
            self.numbers.pop_front();
        }
        self.numbers.push_back((task.to_owned(), number.to_owned()));
    }

    /// The number of `task`, if the person took it in this session.
    pub fn number(&self, task: &str) -> Option<&str> {
        self.numbers.iter().find(|(kept, _)| kept == task).map(|(_, number)| number.as_str())
    }

    /// Signs `statement` with the person's key: hex of the ed25519 signature.
    pub fn sign(&self, statement: &str) -> anyhow::Result<String> {
        let pair = nkeys::KeyPair::from_seed(&self.seed).context("the session's key")?;
        Ok(domain::hex::encode(&pair.sign(statement.as_bytes()).context("signing")?))
    }
}

/// The console's state, shared by every handler.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    scope: Scope,
    nats: String,
    ca: PathBuf,
    /// The roster as last read, and its file: read again at each login, so a person added to
    /// it (or removed) counts without a restart of the console.
    roster: Mutex<Roster>,
    roster_path: PathBuf,
    tz: UtcOffset,
    clock: SharedClock,
    sessions: Mutex<Sessions<Desk>>,
    logins: Mutex<LoginGuard>,
    live: live::Hub,
    /// HTTPS on the console's own listener (cookies are then always `Secure`).
    tls: Option<runtime::http::TlsConfig>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("scope", &self.inner.scope).finish_non_exhaustive()
    }
}

impl Console {
    pub fn scope(&self) -> &Scope {
        &self.inner.scope
    }

    pub fn tz(&self) -> UtcOffset {
        self.inner.tz
    }

    pub fn now_ms(&self) -> TimeMs {
        self.inner.clock.now_ms()
    }

    /// The city a city console serves.
    pub fn city(&self) -> Option<&City> {
        match &self.inner.scope {
            Scope::City(city) => Some(city),
            Scope::Province => None,
        }
    }

    /// The roster, read again from its file (a login asks): the last one read when the file
    /// cannot be read now, which is logged.
    pub fn roster(&self) -> Roster {
        let mut roster = self.inner.roster.lock().expect("roster lock");
        match Roster::load(&self.inner.roster_path) {
            Ok(read) => *roster = read,
            Err(error) => tracing::warn!(%error, "the roster could not be read again; the last one read stands"),
        }
        roster.clone()
    }

    /// Whether the console serves HTTPS itself.
    pub fn tls(&self) -> bool {
        self.inner.tls.is_some()
    }

    pub fn live(&self) -> &live::Hub {
        &self.inner.live
    }

    /// The connection of some province officer logged in (what the board's live updates ask
    /// the coordinator with), if one is.
    pub fn any_province_desk(&self) -> Option<async_nats::Client> {
        let sessions = self.inner.sessions.lock().expect("sessions lock");
        sessions.any(|session| session.role == StaffRole::Province).map(|session| session.desk.client.clone())
    }
}

/// The console's routes over `console`.
pub fn router(console: Console) -> axum::Router {
    axum::Router::new()
        .route("/", get(cases::home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/lang", get(auth::switch_lang))
        .route("/file", get(file::page).post(file::file))
        .route("/cases", get(cases::list))
        .route("/case/{case_id}", get(cases::show))
        .route("/blocks", get(blocks::page))
        .route("/blocks/lift", post(blocks::lift))
        .route("/tasks", get(tasks::page))
        .route("/tasks/next", post(tasks::next))
        .route("/tasks/claim", post(tasks::claim))
        .route("/tasks/complete", post(tasks::complete))
        .route("/returns", get(returns::list))
        .route("/returns/{allocation}", get(returns::show))
        .route("/returns/{allocation}/approve", post(returns::approve))
        .route("/returns/{allocation}/object", post(returns::object))
        .route("/report", get(returns::report))
        .route("/province", get(province::board))
        .route("/live", get(live::stream))
        .route("/assets/console.css", get(view::css))
        .route("/assets/console.js", get(view::js))
        .layer(axum::extract::DefaultBodyLimit::max(limits::MAX_FORM_BYTES))
        .with_state(console)
}

/// A console over `options`, its live hub started: what [`serve`] serves, and what a test or
/// the lab serves on a listener of its own.
pub async fn start(options: &ConsoleOptions, clock: SharedClock) -> anyhow::Result<Console> {
    let files = CredentialFiles::of_deployment(&options.deployment);
    let roster_path = Roster::path(&options.deployment, &options.scope.roster_name());
    let roster = Roster::load(&roster_path)?;
    let tls = match &options.tls {
        Some(files) => Some(runtime::http::tls_config(&files.cert, &files.key).context("the console's TLS")?),
        None => None,
    };
    let live = live::Hub::default();
    let ear = match &options.scope {
        Scope::City(city) => {
            let name = security::secrets::city_identity(city, staff::CONSOLE);
            let credentials = files
                .credentials(&name, protocol::subjects::city_inbox(city, staff::CONSOLE))
                .with_context(|| format!("the console's identity {name}"))?;
            let (hub, who) = (live.clone(), name.clone());
            let heard = credentials.options().name(format!("afc {name}")).event_callback(move |event| {
                let (hub, who) = (hub.clone(), who.clone());
                async move {
                    match event {
                        // Connected again: what the services told meanwhile was not heard.
                        async_nats::Event::Connected => hub.tell_everything(),
                        async_nats::Event::ServerError(error) => {
                            tracing::warn!(identity = %who, %error, "the server refused");
                        }
                        _ => {}
                    }
                }
            });
            Some(heard.connect(&options.nats).await?)
        }
        Scope::Province => None,
    };
    let console = Console {
        inner: Arc::new(Inner {
            scope: options.scope.clone(),
            nats: options.nats.clone(),
            ca: files.ca_file.clone(),
            roster: Mutex::new(roster),
            roster_path,
            tz: options.tz,
            clock,
            sessions: Mutex::new(Sessions::default()),
            logins: Mutex::new(LoginGuard::default()),
            live,
            tls,
        }),
    };
    match (&options.scope, ear) {
        (Scope::City(city), Some(ear)) => live::hear_city(console.live().clone(), ear, city.clone()).await?,
        _ => live::watch_province(console.clone()),
    }
    Ok(console)
}

/// Serves `console` on `listener` until `shutdown`, within the console's bounds.
pub async fn serve_on(
    listener: TcpListener,
    console: Console,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let bounds = runtime::http::Bounds { connections: limits::CONSOLE_CONNECTIONS, idle: limits::CONSOLE_IDLE_TIMEOUT };
    match console.inner.tls.clone() {
        Some(tls) => runtime::http::serve_router_tls(listener, tls, router(console), bounds, shutdown).await,
        None => runtime::http::serve_router(listener, router(console), bounds, shutdown).await,
    }
}

/// Serves the console on `options.listen` until `shutdown`.
pub async fn serve(
    options: ConsoleOptions,
    clock: SharedClock,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let console = start(&options, clock).await?;
    let listener =
        TcpListener::bind(options.listen).await.with_context(|| format!("listening on {}", options.listen))?;
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %listener.local_addr()?, scope = ?options.scope, scheme, "the staff console serves");
    serve_on(listener, console, shutdown).await?;
    Ok(())
}

/// The label of a role.
pub fn role_key(role: StaffRole) -> String {
    format!("role_{}", role.as_str())
}
