//! `<dir>/deployment.json`: what `afc-lab up` started and where, written again after every
//! process it starts (so `afc-lab down` can stop what a failed `up` left running), read by
//! `afc-lab down`, `afc-lab sim serve` and whoever wants to connect.

use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::{BankId, City, PlatformId};
use serde::{Deserialize, Serialize};

/// The record's file in a deployment directory.
pub const RECORD_FILE: &str = "deployment.json";
/// The directory of pid files and logs in a deployment directory.
pub const RUN_DIR: &str = "run";

/// A local province as `afc-lab up` started it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The deployment directory.
    pub dir: PathBuf,
    /// The secrets directory (`--credentials` of `afc` and the lab): `pki/` and `keys/`.
    pub secrets: PathBuf,
    /// The hub, or a clustered hub's first node.
    pub hub: Node,
    /// A clustered hub's other nodes (`afc-lab up --hub-cluster N`).
    #[serde(default)]
    pub hub_peers: Vec<Node>,
    pub cities: Vec<CityNode>,
    /// Banks and payment platforms with a gateway identity at every city.
    pub banks: Vec<BankId>,
    pub platforms: Vec<PlatformId>,
    /// Every process started, in start order (`down` stops them in reverse).
    pub processes: Vec<Process>,
    /// The staff consoles: each city's and the province's board, with its URL.
    #[serde(default)]
    pub consoles: Vec<(String, String)>,
}

/// A nats-server of the deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    /// Its client URL (TLS).
    pub url: String,
    /// Its monitoring port (HTTP, loopback).
    pub monitor_port: u16,
    /// Its config file.
    pub config: PathBuf,
}

/// A city: its nats-server and the data directory of its services.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CityNode {
    pub city: City,
    #[serde(flatten)]
    pub node: Node,
    /// `afc city --data`.
    pub data: PathBuf,
}

/// The signal a process is told to stop with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    /// `afc city` drains its outboxes on SIGINT.
    Int,
    Term,
}

/// A process `up` started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Process {
    /// `hub` (a cluster's `hub`, `hub-2`, …), `nats-<city>`, `afc-<city>`, `sim`: names its
    /// pid file and log.
    pub name: String,
    pub pid: u32,
    pub stop: StopSignal,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Record {
    /// How the lab connects to this deployment's servers as its identities.
    pub fn connector(&self) -> crate::secured::Connector {
        crate::secured::Connector {
            secrets: Some(self.secrets.clone()),
            hub_url: self.hub.url.clone(),
            city_urls: self.cities.iter().map(|node| (node.city.clone(), node.node.url.clone())).collect(),
        }
    }

    /// The record of the deployment in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Record> {
        let path = dir.join(RECORD_FILE);
        let text = std::fs::read(&path)
            .with_context(|| format!("reading {} (is a deployment up in {}?)", path.display(), dir.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes the record to `<dir>/deployment.json` (through a temporary file, so a reader
    /// never sees half of it).
    pub fn save(&self) -> anyhow::Result<()> {
        let path = self.dir.join(RECORD_FILE);
        let partial = self.dir.join(format!("{RECORD_FILE}.partial"));
        std::fs::write(&partial, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Every node of the hub, the first one first.
    pub fn hub_nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.hub).chain(&self.hub_peers)
    }

    /// A city's node.
    pub fn city(&self, city: &City) -> anyhow::Result<&CityNode> {
        self.cities.iter().find(|node| &node.city == city).with_context(|| format!("{city} is not in the deployment"))
    }
}

/// `<dir>/run/<name>.pid`.
pub fn pid_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(RUN_DIR).join(format!("{name}.pid"))
}

/// `<dir>/run/<name>.log`.
pub fn log_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(RUN_DIR).join(format!("{name}.log"))
}
