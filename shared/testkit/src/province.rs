//! [`Province`]: a hub (JetStream domain `province`: one server, or a JetStream cluster of
//! several) with one leaf [`CityNode`] per city (JetStream domain = the city's name), each
//! linked to the hub through a [`LeafLink`] (one proxy per hub node).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use domain::City;
use tokio::time::Instant;

use crate::server::{ClusterOptions, POLL_INTERVAL, free_ports};
use crate::{LeafLink, NatsServer, ServerOptions, TestkitError};

/// The hub's JetStream domain.
pub const HUB_DOMAIN: &str = "province";

/// The hub's server name; a clustered hub's nodes are `province-hub-1`, `-2`, ….
const HUB_NAME: &str = "province-hub";

/// The name of a clustered hub's cluster.
pub const HUB_CLUSTER: &str = "province";

/// Bound on the hub seeing the expected number of leaf connections.
pub const LEAF_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bound on a clustered hub's nodes agreeing on a JetStream meta leader.
pub const CLUSTER_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a [`Province`] is started.
#[derive(Debug, Clone, Default)]
pub struct ProvinceOptions {
    /// `jetstream.sync_interval: always` on every server, as in production (slower writes).
    pub sync_always: bool,
    /// TLS and accounts on every server (from a deployment's secrets, `security::secrets`);
    /// `None`: anonymous clients and plain links.
    pub security: Option<ProvinceSecurity>,
    /// How many servers the hub is: 0 or 1, one server; more, a JetStream cluster
    /// [`HUB_CLUSTER`] of that many nodes (`province-hub-1`, …), every node with the domain
    /// `province`, the same accounts and a leaf port; each city's leaf remote lists every
    /// node and fails over among them.
    pub hub_cluster: usize,
}

/// What secures a province's servers, as text of their configs ([`ProvinceSecurity::
/// from_secrets`] renders a province's secrets; a test may write its own).
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
    /// Inside a clustered hub's `cluster` block (the routes' `tls`); unused for a city and a
    /// hub of one server.
    pub cluster: String,
}

impl ProvinceSecurity {
    /// The settings for a province's secrets (`security::secrets`): TLS on client connections
    /// and leaf links (the hub verifies each city's certificate), each server's accounts, each
    /// city's leaf link bound to its account on the hub, and a clustered hub's routes on TLS
    /// with the hub's certificate (pinned: only a hub node joins).
    pub fn from_secrets(secrets: &security::secrets::Secrets) -> ProvinceSecurity {
        let hub = NodeSecurity {
            config: format!("{}{}", secrets.tls_block("", &secrets.hub.cert, false), secrets.hub.accounts),
            leaf: secrets.tls_block("  ", &secrets.hub.cert, true),
            cluster: secrets.cluster_tls_block("  "),
        };
        let cities = secrets
            .cities
            .iter()
            .map(|city| {
                let node = NodeSecurity {
                    config: format!("{}{}", secrets.tls_block("", &city.node.cert, false), city.node.accounts),
                    leaf: secrets.leaf_remote(city, "    ", &format!("\"{}\"", city.leaf_seed())),
                    cluster: String::new(),
                };
                (city.city.clone(), node)
            })
            .collect();
        ProvinceSecurity { hub, cities }
    }
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
    /// The proxies between the city's leaf remote and the hub's leaf ports, one per hub node
    /// (the remote's `urls`, in node order). A cut cuts the city off every node.
    pub link: LeafLink,
}

/// A province hub with its city leaf nodes. Dropping it stops every server and link.
#[derive(Debug)]
pub struct Province {
    /// The hub, or a clustered hub's first node (`province-hub-1`): JetStream domain
    /// [`HUB_DOMAIN`], accepting leaf connections.
    pub hub: NatsServer,
    /// A clustered hub's other nodes.
    peers: Vec<NatsServer>,
    cities: BTreeMap<City, CityNode>,
}

impl Province {
    /// Starts the hub (one server, or [`ProvinceOptions::hub_cluster`] nodes, waiting until
    /// they agree on a meta leader, bounded by [`CLUSTER_WAIT_TIMEOUT`]), then each city
    /// (duplicates ignored) as a leaf of the hub through its own [`LeafLink`], and waits until
    /// the hub sees every city's leaf connection (bounded by [`LEAF_WAIT_TIMEOUT`]).
    pub async fn start(cities: &[City], opts: ProvinceOptions) -> Result<Province, TestkitError> {
        let security = opts.security.as_ref();
        let nodes = opts.hub_cluster.max(1);
        let route_ports = if nodes > 1 { free_ports(nodes)? } else { Vec::new() };
        let mut hubs = Vec::new();
        for index in 0..nodes {
            let cluster = (nodes > 1).then(|| ClusterOptions {
                name: HUB_CLUSTER.into(),
                port: route_ports[index],
                routes: route_ports.clone(),
                extra: security.map(|s| s.hub.cluster.clone()).filter(|extra| !extra.is_empty()),
            });
            let server_name = if nodes > 1 { format!("{HUB_NAME}-{}", index + 1) } else { HUB_NAME.into() };
            hubs.push(
                NatsServer::start(ServerOptions {
                    server_name,
                    jetstream_domain: Some(HUB_DOMAIN.into()),
                    leaf_listen: true,
                    sync_always: opts.sync_always,
                    extra_config: security.map(|s| s.hub.config.clone()),
                    leaf_listen_extra: security.map(|s| s.hub.leaf.clone()),
                    cluster,
                    ..ServerOptions::default()
                })
                .await?,
            );
        }
        let hub_leaf_ports = hubs
            .iter()
            .map(|hub| {
                hub.leaf_port().ok_or_else(|| TestkitError::InvalidOption {
                    what: "leaf_listen",
                    value: format!("{} started without a leaf port", hub.name()),
                })
            })
            .collect::<Result<Vec<u16>, _>>()?;
        let mut hubs = hubs.into_iter();
        let hub = hubs.next().ok_or_else(|| TestkitError::InvalidOption { what: "hub_cluster", value: "0".into() })?;
        let mut province = Province { hub, peers: hubs.collect(), cities: BTreeMap::new() };
        if nodes > 1 {
            province.wait_hub_cluster(nodes).await?;
        }

        for city in cities.iter().collect::<BTreeSet<_>>() {
            let secured = match security {
                None => None,
                Some(security) => Some(security.cities.get(city).ok_or_else(|| TestkitError::InvalidOption {
                    what: "security",
                    value: format!("no security settings for {city}"),
                })?),
            };
            let link = LeafLink::start_to(&hub_leaf_ports).await?;
            let mut urls = link.leaf_urls();
            let first = urls.remove(0);
            let server = NatsServer::start(ServerOptions {
                server_name: city.as_str().into(),
                jetstream_domain: Some(city.as_str().into()),
                leaf_listen: false,
                leaf_remote: Some(first),
                leaf_remote_failover: urls,
                sync_always: opts.sync_always,
                extra_config: secured.map(|s| s.config.clone()),
                leaf_remote_extra: secured.map(|s| s.leaf.clone()),
                ..ServerOptions::default()
            })
            .await?;
            province.cities.insert(city.clone(), CityNode { server, link });
        }

        province.wait_leaf_count(province.cities.len()).await?;
        Ok(province)
    }

    /// The hub's nodes, in order (one for a hub of one server; [`Province::hub`] first).
    pub fn hub_nodes(&self) -> impl Iterator<Item = &NatsServer> {
        std::iter::once(&self.hub).chain(&self.peers)
    }

    /// How many servers the hub is.
    pub fn hub_size(&self) -> usize {
        1 + self.peers.len()
    }

    /// The hub node at `index` (0-based, in [`Province::hub_nodes`] order), to stop or
    /// start it again.
    pub fn hub_node_mut(&mut self, index: usize) -> Result<&mut NatsServer, TestkitError> {
        let size = self.hub_size();
        match index {
            0 => Ok(&mut self.hub),
            _ => self.peers.get_mut(index - 1).ok_or_else(|| TestkitError::InvalidOption {
                what: "hub node",
                value: format!("{index} of a hub of {size} nodes"),
            }),
        }
    }

    /// The index of the hub node named `name` (a server name, as `/jsz` reports leaders).
    pub fn hub_node_index(&self, name: &str) -> Option<usize> {
        self.hub_nodes().position(|node| node.name() == name)
    }

    /// Every hub node's client URL, in node order: give them all to a client that must
    /// outlive one node.
    pub fn hub_urls(&self) -> Vec<String> {
        self.hub_nodes().map(NatsServer::url).collect()
    }

    /// Waits until `running` hub nodes answer their monitoring port and all name the same
    /// JetStream meta leader, one of them (polling `/jsz`, bounded by
    /// [`CLUSTER_WAIT_TIMEOUT`]). Returns the leader's server name.
    pub async fn wait_hub_cluster(&self, running: usize) -> Result<String, TestkitError> {
        const JSZ_PATH: &str = "/jsz";
        let deadline = Instant::now() + CLUSTER_WAIT_TIMEOUT;
        loop {
            let mut answered = Vec::new();
            let mut leaders = BTreeSet::new();
            for node in self.hub_nodes() {
                let Ok(body) = node.monitor_get(JSZ_PATH).await else { continue };
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let leader = json.pointer("/meta_cluster/leader").and_then(serde_json::Value::as_str).unwrap_or("");
                leaders.insert(leader.to_owned());
                answered.push(node.name().to_owned());
            }
            let last = match leaders.iter().next() {
                Some(leader) if answered.len() == running && leaders.len() == 1 && answered.contains(leader) => {
                    return Ok(leader.clone());
                }
                _ => format!("nodes answering: {answered:?}, meta leaders they name: {leaders:?}"),
            };
            if Instant::now() >= deadline {
                return Err(TestkitError::Timeout {
                    what: format!("{running} hub nodes agreeing on a meta leader"),
                    timeout: CLUSTER_WAIT_TIMEOUT,
                    last,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
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

    /// How many leaf connections the hub has now (from its `/leafz`; a clustered hub's
    /// summed over the nodes that answer: a stopped node has none).
    pub async fn leaf_count(&self) -> Result<usize, TestkitError> {
        const LEAFZ_PATH: &str = "/leafz";
        let mut count = 0;
        for node in self.hub_nodes() {
            let body = match node.monitor_get(LEAFZ_PATH).await {
                Ok(body) => body,
                Err(_) if !self.peers.is_empty() => continue,
                Err(e) => return Err(e),
            };
            let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| TestkitError::Monitoring {
                url: format!("http://127.0.0.1:{}{LEAFZ_PATH}", node.monitor_port()),
                detail: format!("not JSON: {e}"),
            })?;
            // `leafs` is absent or null when there are none.
            count += json.get("leafs").and_then(serde_json::Value::as_array).map_or(0, Vec::len);
        }
        Ok(count)
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
