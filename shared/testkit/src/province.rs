//! [`Province`]: a hub server (JetStream domain `province`) with one leaf [`CityNode`] per
//! city (JetStream domain = the city's name), each linked to the hub through a [`LeafLink`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use domain::City;
use tokio::time::Instant;

use crate::server::POLL_INTERVAL;
use crate::{LeafLink, NatsServer, ServerOptions, TestkitError};

/// The hub's JetStream domain.
pub const HUB_DOMAIN: &str = "province";

/// The hub's server name.
const HUB_NAME: &str = "province-hub";

/// Bound on the hub seeing the expected number of leaf connections.
pub const LEAF_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a [`Province`] is started.
#[derive(Debug, Clone, Default)]
pub struct ProvinceOptions {
    /// `jetstream.sync_interval: always` on every server, as in production (slower writes).
    pub sync_always: bool,
    /// TLS and accounts on every server (from a deployment's secrets, `security::secrets`);
    /// `None`: anonymous clients and plain links.
    pub security: Option<ProvinceSecurity>,
}

/// What secures a province's servers, as text of their configs: the testkit knows nothing
/// of identities or certificates, only where their settings go.
#[derive(Debug, Clone, Default)]
pub struct ProvinceSecurity {
    pub hub: NodeSecurity,
    /// Every city's; a city missing here is refused at start.
    pub cities: BTreeMap<City, NodeSecurity>,
}

/// One server's security settings.
#[derive(Clone, Default)]
pub struct NodeSecurity {
    /// Top-level settings: the `tls` block and the `accounts` block.
    pub config: String,
    /// Inside the hub's `leafnodes` block (its `tls`, verifying the cities), or inside a
    /// city's leaf remote (its account, nkey and `tls`).
    pub leaf: String,
}

impl std::fmt::Debug for NodeSecurity {
    /// Without the text: a city's holds its leaf seed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSecurity").finish_non_exhaustive()
    }
}

/// A city's leaf server and its link to the hub.
#[derive(Debug)]
pub struct CityNode {
    /// The city's server: JetStream domain = the city's name, leaf remote = `link`.
    pub server: NatsServer,
    /// The proxy between the city's leaf remote and the hub's leaf port.
    pub link: LeafLink,
}

/// A province hub with its city leaf nodes. Dropping it stops every server and link.
#[derive(Debug)]
pub struct Province {
    /// The hub: JetStream domain [`HUB_DOMAIN`], accepting leaf connections.
    pub hub: NatsServer,
    cities: BTreeMap<City, CityNode>,
}

impl Province {
    /// Starts the hub, then each city (duplicates ignored) as a leaf of the hub through its own
    /// [`LeafLink`], and waits until the hub sees every city's leaf connection (bounded by
    /// [`LEAF_WAIT_TIMEOUT`]).
    pub async fn start(cities: &[City], opts: ProvinceOptions) -> Result<Province, TestkitError> {
        let security = opts.security.as_ref();
        let hub = NatsServer::start(ServerOptions {
            server_name: HUB_NAME.into(),
            jetstream_domain: Some(HUB_DOMAIN.into()),
            leaf_listen: true,
            leaf_remote: None,
            sync_always: opts.sync_always,
            extra_config: security.map(|s| s.hub.config.clone()),
            leaf_listen_extra: security.map(|s| s.hub.leaf.clone()),
            ..ServerOptions::default()
        })
        .await?;
        let hub_leaf_port = hub.leaf_port().ok_or_else(|| TestkitError::InvalidOption {
            what: "leaf_listen",
            value: "hub started without a leaf port".into(),
        })?;

        let mut nodes = BTreeMap::new();
        for city in cities.iter().collect::<BTreeSet<_>>() {
            let secured = match security {
                None => None,
                Some(security) => Some(security.cities.get(city).ok_or_else(|| TestkitError::InvalidOption {
                    what: "security",
                    value: format!("no security settings for {city}"),
                })?),
            };
            let link = LeafLink::start(hub_leaf_port).await?;
            let server = NatsServer::start(ServerOptions {
                server_name: city.as_str().into(),
                jetstream_domain: Some(city.as_str().into()),
                leaf_listen: false,
                leaf_remote: Some(link.leaf_url()),
                sync_always: opts.sync_always,
                extra_config: secured.map(|s| s.config.clone()),
                leaf_remote_extra: secured.map(|s| s.leaf.clone()),
                ..ServerOptions::default()
            })
            .await?;
            nodes.insert(city.clone(), CityNode { server, link });
        }

        let province = Province { hub, cities: nodes };
        province.wait_leaf_count(province.cities.len()).await?;
        Ok(province)
    }

    /// The hub's client URL.
    pub fn hub_url(&self) -> String {
        self.hub.url()
    }

    /// A city's node.
    pub fn city(&self, city: &City) -> Result<&CityNode, TestkitError> {
        self.cities.get(city).ok_or_else(|| TestkitError::UnknownCity(city.to_string()))
    }

    /// A city's node, mutable (to stop or restart its server).
    pub fn city_mut(&mut self, city: &City) -> Result<&mut CityNode, TestkitError> {
        self.cities.get_mut(city).ok_or_else(|| TestkitError::UnknownCity(city.to_string()))
    }

    /// Every city and its node, in city order.
    pub fn cities(&self) -> impl Iterator<Item = (&City, &CityNode)> {
        self.cities.iter()
    }

    /// How many leaf connections the hub has now (from its `/leafz`).
    pub async fn leaf_count(&self) -> Result<usize, TestkitError> {
        const LEAFZ_PATH: &str = "/leafz";
        let body = self.hub.monitor_get(LEAFZ_PATH).await?;
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| TestkitError::Monitoring {
            url: format!("http://127.0.0.1:{}{LEAFZ_PATH}", self.hub.monitor_port()),
            detail: format!("not JSON: {e}"),
        })?;
        // `leafs` is absent or null when there are none.
        Ok(json.get("leafs").and_then(serde_json::Value::as_array).map_or(0, Vec::len))
    }

    /// Waits until the hub has exactly `expected` leaf connections, polling `/leafz`, bounded
    /// by [`LEAF_WAIT_TIMEOUT`]. Use after [`LeafLink::cut`] / [`LeafLink::restore`].
    pub async fn wait_leaf_count(&self, expected: usize) -> Result<(), TestkitError> {
        let deadline = Instant::now() + LEAF_WAIT_TIMEOUT;
        loop {
            let last = match self.leaf_count().await {
                Ok(n) if n == expected => return Ok(()),
                Ok(n) => format!("{n} leaf connections"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(TestkitError::Timeout {
                    what: format!("{expected} leaf connections on the hub"),
                    timeout: LEAF_WAIT_TIMEOUT,
                    last,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}
