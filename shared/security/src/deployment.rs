//! A whole deployment's secrets and nats-server configs, generated into one directory: the
//! development CA and every node's certificate, every process's identity, and for the hub
//! and each city the server config, its accounts file and (a city) the file holding its leaf
//! identity's seed. An operator's own PKI replaces `pki/` (the configs name the paths).
//!
//! ```text
//! <dir>/pki/ca.crt, ca.key, hub.crt, hub.key, <city>.crt, <city>.key
//! <dir>/keys/<identity>.nk                      (0600: one per process)
//! <dir>/nats/hub.conf, hub.accounts.conf         (a hub of one server)
//! <dir>/nats/hub-1.conf … hub-N.conf              (a hub cluster of N nodes, sharing
//!                                                  hub.accounts.conf and the hub certificate)
//! <dir>/nats/<city>.conf, <city>.accounts.conf, <city>.leaf.conf (0600: the leaf seed)
//! ```
//!
//! The identities are [`crate::secrets`]'s. The services' grants come from the caller (each
//! service states its own), so this module depends on none.

use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use domain::{BankId, Carrier, City, PlatformId};
use protocol::subjects;

use crate::grant::Grant;
use crate::secrets::{self, CitySecrets, Secrets, SecretsSpec};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DeploymentSpec {
    pub cities: Vec<City>,
    /// The host every node is reached at (certificates name it; cities dial the hub there).
    pub host: String,
    /// The address peers dial (an IP SAN; loopback for a deployment on one machine).
    pub address: IpAddr,
    /// Ports are handed out from here: the hub takes the first three (client, leaf, monitoring),
    /// each city the next [`PORTS_PER_CITY`].
    pub base_port: u16,
    /// Where each server keeps its JetStream store (`<data>/<node>`).
    pub data: PathBuf,
    /// Banks and payment platforms each city serves (gateways connect at the city).
    pub banks: Vec<BankId>,
    pub platforms: Vec<PlatformId>,
    /// Carriers each city orders blocks from (gateways connect at the city).
    pub carriers: Vec<Carrier>,
    /// 0 or 1: the hub is one server (`hub.conf`). N > 1: a JetStream cluster
    /// [`HUB_CLUSTER`] of N nodes (`hub-1.conf` …), routes on TLS with the hub's certificate
    /// (pinned), every city's leaf remote listing every node. The first node takes the hub's
    /// ports (and the next one for its routes), node k > 1 the [`PORTS_PER_CITY`] after the
    /// last city's block plus (k - 2) blocks: client, leaf, monitoring, routes.
    pub hub_cluster: usize,
    /// The host of each hub node, when the nodes run on hosts of their own (as many as the
    /// nodes); empty: every node on `host`. The hub's certificate names each, routes and the
    /// cities' leaf remotes dial each node at its host.
    pub hub_hosts: Vec<String>,
}

/// The cluster name of a clustered hub.
pub const HUB_CLUSTER: &str = "province";

/// Ports a city's server takes (client, monitoring).
pub const PORTS_PER_CITY: u16 = 10;

/// The grants of a city's services, by service name: what each service states of itself
/// (`intake::grant`, `freezing::grant`).
pub type ServiceGrants = dyn Fn(&City) -> Vec<(&'static str, Grant)>;

/// Why a deployment could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountsError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no city to deploy")]
    NoCity,
    #[error("base port {0} leaves no room for {1} cities below 65536")]
    Ports(u16, usize),
    #[error("{hosts} hub hosts for a hub of {nodes} nodes: name one host per node, or none")]
    HubHosts { hosts: usize, nodes: usize },
}

/// A generated deployment: where its files are.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub dir: PathBuf,
    /// The hub's config (a clustered hub's first node's; every node in `hub_nodes`).
    pub hub_config: PathBuf,
    /// Every node of the hub, one for a hub of one server.
    pub hub_nodes: Vec<HubNode>,
    pub city_configs: Vec<(City, PathBuf)>,
    pub hub_client_url: String,
    pub city_client_urls: Vec<(City, String)>,
    /// The hub's monitoring port (HTTP on loopback: `/healthz`, `/leafz`).
    pub hub_monitor_port: u16,
    /// The port the hub takes the cities' leaf links on.
    pub hub_leaf_port: u16,
    /// Each city server's monitoring port, in city order.
    pub city_monitor_ports: Vec<(City, u16)>,
}

/// One node of the hub.
#[derive(Debug, Clone)]
pub struct HubNode {
    /// `province-hub`, or `province-hub-<k>` in a cluster.
    pub name: String,
    pub config: PathBuf,
    pub client_url: String,
    pub leaf_port: u16,
    pub monitor_port: u16,
    /// The port it takes routes on (a cluster's node).
    pub route_port: Option<u16>,
}

impl DeploymentSpec {
    fn hub_ports(&self) -> (u16, u16, u16) {
        (self.base_port, self.base_port + 1, self.base_port + 2)
    }

    /// How many servers the hub is.
    fn hub_size(&self) -> usize {
        self.hub_cluster.max(1)
    }

    /// The host hub node `index` (0-based) is reached at.
    fn hub_host(&self, index: usize) -> &str {
        self.hub_hosts.get(index).map_or(self.host.as_str(), String::as_str)
    }

    /// Node `index`'s (0-based) client, leaf, monitoring and route ports.
    fn hub_node_ports(&self, index: usize) -> (u16, u16, u16, u16) {
        let base = match index {
            0 => self.base_port,
            _ => self.base_port + PORTS_PER_CITY * (self.cities.len() + index) as u16,
        };
        (base, base + 1, base + 2, base + 3)
    }

    fn city_ports(&self, index: usize) -> (u16, u16) {
        let base = self.base_port + PORTS_PER_CITY * (index as u16 + 1);
        (base, base + 2)
    }
}

/// Generates the deployment `spec` describes into `dir` (a CA already there is used, never
/// replaced: certificates it issued stay trusted). `services` gives each city's services'
/// grants.
pub fn generate(spec: &DeploymentSpec, dir: &Path, services: &ServiceGrants) -> Result<Deployment, DeploymentError> {
    if spec.cities.is_empty() {
        return Err(DeploymentError::NoCity);
    }
    let blocks = spec.cities.len() + spec.hub_size();
    let last = u32::from(spec.base_port) + u32::from(PORTS_PER_CITY) * blocks as u32;
    if last > u32::from(u16::MAX) {
        return Err(DeploymentError::Ports(spec.base_port, spec.cities.len()));
    }
    if !spec.hub_hosts.is_empty() && spec.hub_hosts.len() != spec.hub_size() {
        return Err(DeploymentError::HubHosts { hosts: spec.hub_hosts.len(), nodes: spec.hub_size() });
    }
    let secrets = secrets::generate(
        &SecretsSpec {
            cities: spec.cities.clone(),
            host: spec.host.clone(),
            address: spec.address,
            banks: spec.banks.clone(),
            platforms: spec.platforms.clone(),
            carriers: spec.carriers.clone(),
            hub_hosts: spec.hub_hosts.clone(),
        },
        dir,
        services,
    )?;
    let nats = dir.join("nats");
    std::fs::create_dir_all(&nats).map_err(|source| DeploymentError::Io { path: nats.clone(), source })?;
    let (hub_client, hub_leaf, hub_http) = spec.hub_ports();
    let hub_leaves: Vec<(&str, u16)> =
        (0..spec.hub_size()).map(|index| (spec.hub_host(index), spec.hub_node_ports(index).1)).collect();
    let mut city_configs = Vec::new();
    let mut city_client_urls = Vec::new();
    let mut city_monitor_ports = Vec::new();
    for (index, city) in secrets.cities.iter().enumerate() {
        let name = &city.city;
        write(&nats.join(format!("{name}.accounts.conf")), &city.node.accounts, 0o644)?;
        write(&nats.join(format!("{name}.leaf.conf")), &format!("LEAF_SEED: \"{}\"\n", city.leaf_seed()), 0o600)?;
        let (client, http) = spec.city_ports(index);
        let config = city_config(spec, &secrets, city, client, http, &hub_leaves);
        let path = nats.join(format!("{name}.conf"));
        write(&path, &config, 0o644)?;
        city_configs.push((name.clone(), path));
        city_client_urls.push((name.clone(), format!("tls://{}:{client}", spec.host)));
        city_monitor_ports.push((name.clone(), http));
    }
    write(&nats.join("hub.accounts.conf"), &secrets.hub.accounts, 0o644)?;
    let mut hub_nodes = Vec::new();
    for index in 0..spec.hub_size() {
        let (client, leaf, http, route) = spec.hub_node_ports(index);
        let (name, file, route_port) = match spec.hub_cluster {
            0 | 1 => ("province-hub".to_owned(), "hub".to_owned(), None),
            _ => (format!("province-hub-{}", index + 1), format!("hub-{}", index + 1), Some(route)),
        };
        let config = nats.join(format!("{file}.conf"));
        let text = hub_config_text(spec, &secrets, &name, &file, (client, leaf, http, route_port));
        write(&config, &text, 0o644)?;
        let client_url = format!("tls://{}:{client}", spec.hub_host(index));
        hub_nodes.push(HubNode { name, config, client_url, leaf_port: leaf, monitor_port: http, route_port });
    }
    Ok(Deployment {
        dir: dir.to_owned(),
        hub_config: hub_nodes[0].config.clone(),
        hub_nodes,
        city_configs,
        hub_client_url: format!("tls://{}:{hub_client}", spec.hub_host(0)),
        city_client_urls,
        hub_monitor_port: hub_http,
        hub_leaf_port: hub_leaf,
        city_monitor_ports,
    })
}

/// The settings every server has (docs/ARCHITECTURE.md, "NATS topology as built").
fn common(name: &str, domain: &str, client: u16, http: u16, store: &Path) -> String {
    format!(
        "server_name: \"{name}\"\nlisten: \"0.0.0.0:{client}\"\nhttp: \"127.0.0.1:{http}\"\nlame_duck_duration: \"30s\"\nlame_duck_grace_period: \"10s\"\n\njetstream {{\n  store_dir: \"{}\"\n  domain: \"{domain}\"\n  sync_interval: always\n}}\n\n",
        store.display()
    )
}

/// A hub node's config: `ports` = client, leaf, monitoring and (a cluster's node) routes.
fn hub_config_text(
    spec: &DeploymentSpec,
    secrets: &Secrets,
    name: &str,
    store: &str,
    ports: (u16, u16, u16, Option<u16>),
) -> String {
    let (client, leaf, http, route) = ports;
    let cert = &secrets.hub.cert;
    let mut text = String::from("# afc province hub. Generated by the security crate; regenerate, do not edit.\n");
    text.push_str(&common(name, subjects::PROVINCE_DOMAIN, client, http, &spec.data.join(store)));
    text.push_str("# Clients use TLS and an nkey of hub.accounts.conf; there is no anonymous user.\n");
    text.push_str(&secrets.tls_block("", cert, false));
    text.push_str("\ninclude \"hub.accounts.conf\"\n\n");
    text.push_str(&format!("leafnodes {{\n  listen: \"0.0.0.0:{leaf}\"\n  no_advertise: true\n"));
    text.push_str("  # A city authenticates with the nkey of its leaf user, which binds the link to its account;\n");
    text.push_str("  # it must present a certificate of the CA.\n");
    text.push_str(&secrets.tls_block("  ", cert, true));
    text.push_str("}\n");
    if let Some(route) = route {
        let routes: Vec<String> = (0..spec.hub_size())
            .map(|index| (index, spec.hub_node_ports(index).3))
            .map(|(index, port)| format!("\"nats-route://{}:{port}\"", spec.hub_host(index)))
            .collect();
        text.push_str(&format!(
            "\n# One of {} nodes: the province stream keeps a replica on each and goes on while one is down.\n",
            spec.hub_size()
        ));
        text.push_str(&format!("cluster {{\n  name: \"{HUB_CLUSTER}\"\n  listen: \"0.0.0.0:{route}\"\n"));
        text.push_str(&format!("  routes: [{}]\n", routes.join(", ")));
        text.push_str("  # Routes present the hub's certificate, verify the peer's and accept only the hub's key.\n");
        text.push_str(&secrets.cluster_tls_block("  "));
        text.push_str("}\n");
    }
    text
}

fn city_config(
    spec: &DeploymentSpec,
    secrets: &Secrets,
    node: &CitySecrets,
    client: u16,
    http: u16,
    hub_leaves: &[(&str, u16)],
) -> String {
    let city = &node.city;
    let mut text = format!("# afc city node {city}. Generated by the security crate; regenerate, do not edit.\n");
    text.push_str(&common(city.as_str(), city.as_str(), client, http, &spec.data.join(city.as_str())));
    text.push_str("# Clients use TLS and an nkey of the accounts file; there is no anonymous user.\n");
    text.push_str(&secrets.tls_block("", &node.node.cert, false));
    text.push_str(&format!("\ninclude \"{city}.accounts.conf\"\n"));
    text.push_str(&format!("# LEAF_SEED: this city's identity on the hub (0600).\ninclude \"{city}.leaf.conf\"\n\n"));
    let urls: Vec<String> = hub_leaves.iter().map(|(host, port)| format!("\"tls://{host}:{port}\"")).collect();
    if urls.len() > 1 {
        text.push_str("# Every node of the hub: the link fails over to another when its node goes.\n");
    }
    text.push_str(&format!(
        "leafnodes {{\n  reconnect: \"1s\"\n  remotes: [\n    {{\n      urls: [{}]\n",
        urls.join(", ")
    ));
    text.push_str(&secrets.leaf_remote(node, "      ", "$LEAF_SEED"));
    text.push_str("    }\n  ]\n}\n");
    text
}

/// Writes `text` to `path` with `mode` from its creation.
fn write(path: &Path, text: &str, mode: u32) -> Result<(), DeploymentError> {
    let io = |source| DeploymentError::Io { path: path.to_owned(), source };
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path).map_err(io)?;
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode)).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}
