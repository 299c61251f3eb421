//! The lab's province runs secured, as a center's does: every process connects with an
//! identity of its own, over TLS trusting the deployment's CA, and the servers let each do
//! only what its grant says. The secrets come from `security::secrets` (the generator of an
//! installed deployment's), the servers are the testkit's on ports of their own.
//!
//! Who connects as whom: each city's services as `<city>-<service>` (`afc city
//! --credentials`), the harness's reading and filing as `<city>-lab` (the observer: reads the
//! city's stream, hears its events, files and shows cases), the city's stream made by
//! `<city>-admin`, the simulated banks and platforms as their gateways `<city>-bank-<bank>` /
//! `<city>-pay-<platform>`, the province's stream made by `province-admin` and read by
//! `province-lab`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use domain::{BankId, Carrier, City, PlatformId};
use protocol::subjects;
use security::roles::{OBSERVER, carrier_gateway_name};
use security::secrets::{self, Secrets, SecretsSpec, city_identity, province_identity};
use security::{CredentialFiles, Credentials};
use simulator::Serves;
use testkit::ProvinceSecurity;

/// Generates a province's secrets for `cities` into `dir` (the CA there is kept), with
/// gateways for `banks`, `platforms` and the three carriers at every city.
pub fn generate(dir: &Path, cities: &[City], banks: &[BankId], platforms: &[PlatformId]) -> anyhow::Result<Secrets> {
    let spec = SecretsSpec {
        cities: cities.to_vec(),
        host: "localhost".into(),
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        banks: banks.to_vec(),
        platforms: platforms.to_vec(),
        carriers: Carrier::ALL.to_vec(),
        hub_hosts: Vec::new(),
    };
    secrets::generate(&spec, dir, &afc::host::service_grants)
        .with_context(|| format!("generating the province's secrets in {}", dir.display()))
}

/// The settings of the testkit's servers for `secrets` ([`ProvinceSecurity::from_secrets`]).
pub fn province_security(secrets: &Secrets) -> ProvinceSecurity {
    ProvinceSecurity::from_secrets(secrets)
}

/// Connects to `url` as `identity` of the deployment in `dir`, its replies under `inbox`.
pub async fn connect(dir: &Path, identity: &str, inbox: String, url: &str) -> anyhow::Result<async_nats::Client> {
    let credentials: Credentials = CredentialFiles::of_deployment(dir)
        .credentials(identity, inbox)
        .with_context(|| format!("loading the identity {identity}"))?;
    credentials.options().connect(url).await.with_context(|| format!("connecting to {url} as {identity}"))
}

/// Who connects to a city (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CityRole {
    Observer,
    Admin,
}

/// Connects to `city`'s server at `url` as its observer or provisioner.
pub async fn connect_city(dir: &Path, city: &City, role: CityRole, url: &str) -> anyhow::Result<async_nats::Client> {
    let who = match role {
        CityRole::Observer => OBSERVER,
        CityRole::Admin => "admin",
    };
    connect(dir, &city_identity(city, who), subjects::city_inbox(city, who), url).await
}

/// Connects to the hub at `url` as the province's observer or provisioner.
pub async fn connect_province(dir: &Path, role: CityRole, url: &str) -> anyhow::Result<async_nats::Client> {
    let who = match role {
        CityRole::Observer => OBSERVER,
        CityRole::Admin => "admin",
    };
    connect(dir, &province_identity(who), subjects::province_inbox(who), url).await
}

/// Connects to the hub at `url` as the province coordinator.
pub async fn connect_coordinator(dir: &Path, url: &str) -> anyhow::Result<async_nats::Client> {
    let who = security::hub::COORDINATOR;
    let credentials: Credentials = CredentialFiles::of_deployment(dir)
        .credentials(&province_identity(who), subjects::province_inbox(who))
        .with_context(|| format!("loading the identity {who}"))?;
    // It runs the link watcher, which must hear the hub back quickly after a restart.
    let options = credentials.options().reconnect_delay_callback(bus::province::reconnect_delay);
    options.connect(url).await.with_context(|| format!("connecting to {url} as {who}"))
}

/// Connects every gateway of `city` (one per bank, platform and carrier) to its server at `url`.
pub async fn connect_gateways(
    dir: &Path,
    city: &City,
    world: &simulator::World,
    url: &str,
) -> anyhow::Result<Vec<(async_nats::Client, Serves)>> {
    let (banks, platforms) = (&world.banks, &world.platforms);
    let mut gateways = Vec::new();
    for bank in banks {
        let who = format!("bank-{bank}");
        let client = connect(dir, &city_identity(city, &who), subjects::city_inbox(city, &who), url).await?;
        gateways.push((client, Serves::Bank(bank.clone())));
    }
    for platform in platforms {
        let who = format!("pay-{platform}");
        let client = connect(dir, &city_identity(city, &who), subjects::city_inbox(city, &who), url).await?;
        gateways.push((client, Serves::Platform(platform.clone())));
    }
    for carrier in &world.carriers {
        let who = carrier_gateway_name(*carrier);
        let client = connect(dir, &city_identity(city, &who), subjects::city_inbox(city, &who), url).await?;
        gateways.push((client, Serves::Carrier(*carrier)));
    }
    Ok(gateways)
}

/// How the harness opens connections of its own to a deployment's servers (a watcher, a
/// probe): as the observers on a secured deployment, anonymously on an open one.
#[derive(Debug, Clone)]
pub struct Connector {
    /// The secrets directory of a secured deployment.
    pub secrets: Option<std::path::PathBuf>,
    pub hub_url: String,
    pub city_urls: BTreeMap<City, String>,
}

impl Connector {
    /// A new connection to `city`'s server.
    pub async fn city(&self, city: &City) -> anyhow::Result<async_nats::Client> {
        let url = self.city_urls.get(city).with_context(|| format!("{city} is not in the deployment"))?;
        match &self.secrets {
            Some(dir) => connect_city(dir, city, CityRole::Observer, url).await,
            None => async_nats::connect(url).await.with_context(|| format!("connecting to {city} at {url}")),
        }
    }

    /// A new connection to `city`'s server as its provisioner (reads the state of its streams
    /// and their consumers), anonymous on an open deployment.
    pub async fn city_admin(&self, city: &City) -> anyhow::Result<async_nats::Client> {
        let url = self.city_urls.get(city).with_context(|| format!("{city} is not in the deployment"))?;
        match &self.secrets {
            Some(dir) => connect_city(dir, city, CityRole::Admin, url).await,
            None => async_nats::connect(url).await.with_context(|| format!("connecting to {city} at {url}")),
        }
    }

    /// A new connection to `city`'s server as `carrier`'s gateway there (publishes the
    /// carrier's contact signals for the city, `afc.<city>.sig.<carrier>`, and nothing of
    /// another carrier's), anonymous on an open deployment.
    pub async fn carrier(&self, city: &City, carrier: Carrier) -> anyhow::Result<async_nats::Client> {
        let url = self.city_urls.get(city).with_context(|| format!("{city} is not in the deployment"))?;
        match &self.secrets {
            Some(dir) => {
                let who = carrier_gateway_name(carrier);
                connect(dir, &city_identity(city, &who), subjects::city_inbox(city, &who), url).await
            }
            None => async_nats::connect(url).await.with_context(|| format!("connecting to {city} at {url}")),
        }
    }

    /// A new connection to the hub.
    pub async fn hub(&self) -> anyhow::Result<async_nats::Client> {
        match &self.secrets {
            Some(dir) => connect_province(dir, CityRole::Observer, &self.hub_url).await,
            None => async_nats::connect(&self.hub_url)
                .await
                .with_context(|| format!("connecting to the hub at {}", self.hub_url)),
        }
    }
}
