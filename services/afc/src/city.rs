//! Hosts a city's services. Each service gets its own redb file and its own NATS
//! connection; they share nothing but NATS, whether they run in one process or one each.

use std::path::PathBuf;

use anyhow::Context;
use domain::{City, SharedClock};
use events::Service;
use freezing::core::CoreConfig;
use store::{Producer, Store};

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
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating data directory {}", options.data_dir.display()))?;
    let path = options.data_dir.join(format!("{service}.redb"));
    Store::open(&path, Producer { city: options.city.clone(), service }, clock)
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
        let store = open_store(&options, Service::Intake, clock.clone())?;
        let client = connect(&options, Service::Intake).await?;
        let config = intake::Config { city: options.city.clone() };
        let (clock, shutdown) = (clock.clone(), shutdown.clone());
        tasks.spawn(async move { intake::run(config, client, store, clock, shutdown).await.context("intake") });
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
