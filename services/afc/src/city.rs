//! Hosts a city's services. Each service gets its own redb file and its own NATS
//! connection; they share nothing but NATS, whether they run in one process or one each.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use domain::{City, SharedClock};
use events::Service;
use freezing::core::CoreConfig;
use store::{Producer, Store, WriterPriority};

/// The services a city node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CityService {
    Intake,
    Freezing,
}

/// How to run a city.
#[derive(Debug, Clone)]
pub struct CityOptions {
    pub city: City,
    pub nats_url: String,
    pub data_dir: PathBuf,
    /// Run only this service; all of them when `None`.
    pub only: Option<CityService>,
    /// Delay from stop-payment to freeze.
    pub freeze_after_ms: u64,
}

/// Opens a service's store in the city's data directory.
pub fn open_store(options: &CityOptions, service: Service, clock: SharedClock) -> anyhow::Result<Store> {
    // Freezing sends its requests before its commits, so nothing on the time-to-freeze path
    // waits for its writer; intake answers a report only after its commit.
    let priority = match service {
        Service::Freezing => WriterPriority::Background,
        _ => WriterPriority::Normal,
    };
    open_file(options, &format!("{service}.redb"), service, clock, priority)
}

/// Opens intake's two stores: its records and its timeline projection (written by a
/// background writer: nobody waits for it on the time-to-freeze path).
pub fn open_intake_stores(options: &CityOptions, clock: SharedClock) -> anyhow::Result<intake::Stores> {
    let records = open_store(options, Service::Intake, clock.clone())?;
    let timeline = open_file(
        options,
        &format!("{}-timeline.redb", Service::Intake),
        Service::Intake,
        clock,
        WriterPriority::Background,
    )?;
    Ok(intake::Stores { records, timeline })
}

fn open_file(
    options: &CityOptions,
    file: &str,
    service: Service,
    clock: SharedClock,
    priority: WriterPriority,
) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating data directory {}", options.data_dir.display()))?;
    let path = options.data_dir.join(file);
    Store::open_with(&path, Producer { city: options.city.clone(), service }, clock, priority)
        .with_context(|| format!("opening {}", path.display()))
}

async fn connect(options: &CityOptions, service: Service) -> anyhow::Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .name(format!("afc-{}-{service}", options.city))
        .retry_on_initial_connect()
        .connect(&options.nats_url)
        .await
        .with_context(|| format!("connecting {service} to {}", options.nats_url))
}

/// Runs the city's services until shutdown or the first one fails.
pub async fn run_city(options: CityOptions, clock: SharedClock, shutdown: bus::Shutdown) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let wants = |service| options.only.is_none_or(|only| only == service);
    if wants(CityService::Intake) {
        let stores = open_intake_stores(&options, clock.clone())?;
        let client = connect(&options, Service::Intake).await?;
        let config = intake::Config { city: options.city.clone() };
        let (clock, shutdown) = (clock.clone(), shutdown.clone());
        tasks.spawn(async move { intake::run(config, client, stores, clock, shutdown).await.context("intake") });
    }
    if wants(CityService::Freezing) {
        let store = open_store(&options, Service::Freezing, clock.clone())?;
        let client = connect(&options, Service::Freezing).await?;
        let config = freezing::Config {
            city: options.city.clone(),
            core: CoreConfig { freeze_after_ms: options.freeze_after_ms, ..CoreConfig::default() },
        };
        let (clock, shutdown) = (clock.clone(), shutdown.clone());
        tasks.spawn(async move { freezing::run(config, client, store, clock, shutdown).await.context("freezing") });
    }
    while let Some(result) = tasks.join_next().await {
        result.context("service task panicked")??;
    }
    Ok(())
}

/// How long a graceful stop waits for the services to drain their outboxes and return.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a kill waits for the runtime's threads to let go of their tasks.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// A city node on a runtime of its own, as it would run in a process of its own: every task
/// its services spawn lives on that runtime. [`CityProcess::stop`] shuts it down gracefully;
/// [`CityProcess::kill`] drops every task at once, as a crash would, after which the redb
/// files are closed and the node can start again on them. Dropping it kills it.
pub struct CityProcess {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: tokio::sync::watch::Sender<bool>,
    done: Option<tokio::sync::oneshot::Receiver<anyhow::Result<()>>>,
}

impl std::fmt::Debug for CityProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CityProcess").field("running", &self.runtime.is_some()).finish()
    }
}

impl CityProcess {
    /// Starts the city's services on a new runtime with as many workers as the machine has
    /// cores.
    pub fn start(options: CityOptions, clock: SharedClock) -> anyhow::Result<CityProcess> {
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(format!("afc-{}", options.city))
            .enable_all()
            .build()
            .context("building the city's runtime")?;
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        let (report, done) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let _ = report.send(run_city(options, clock, signal).await);
        });
        Ok(CityProcess { runtime: Some(runtime), shutdown, done: Some(done) })
    }

    /// The node's runtime, while it runs (for probes that must run beside the services).
    pub fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|runtime| runtime.handle().clone())
    }

    /// Signals shutdown, waits (up to [`STOP_TIMEOUT`]) for the services to drain and
    /// return, then drops what is left. Returns the services' outcome.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let outcome = match self.done.take() {
            Some(done) => match tokio::time::timeout(STOP_TIMEOUT, done).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(anyhow::anyhow!("the city's services ended without a result")),
                Err(_) => Err(anyhow::anyhow!("the city's services did not stop within {STOP_TIMEOUT:?}")),
            },
            None => Ok(()),
        };
        self.kill().await;
        outcome
    }

    /// Drops every task of the city at once and waits until the runtime has let go of them
    /// (and so of the redb files).
    pub async fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            let _ = tokio::task::spawn_blocking(move || runtime.shutdown_timeout(KILL_TIMEOUT)).await;
        }
    }
}

impl Drop for CityProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
