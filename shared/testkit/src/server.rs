//! One `nats-server` process: its generated config, free loopback ports, JetStream store and
//! log file, all in a temp dir that lives as long as the [`NatsServer`].

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::time::Instant;

use crate::{TestkitError, http, nats_server_binary};

/// Bound on a server becoming healthy after it is spawned.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Bound on a graceful stop before the process is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Delay between a leaf remote's reconnect attempts (`leafnodes.reconnect`, whole seconds).
pub const LEAF_RECONNECT: Duration = Duration::from_secs(1);

/// `lame_duck_duration` of the generated configs (only used when the server is sent `ldm`;
/// the server rejects less than 30 s).
pub const LAME_DUCK_DURATION: Duration = Duration::from_secs(30);

/// `lame_duck_grace_period`: must be shorter than [`LAME_DUCK_DURATION`].
const LAME_DUCK_GRACE: Duration = Duration::from_secs(10);

/// Interval between readiness / exit probes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Monitoring path that answers 200 once JetStream is up.
const HEALTHZ_PATH: &str = "/healthz?js-enabled-only=true";

/// How much of the end of the log goes into an error.
const LOG_TAIL_BYTES: u64 = 4096;

/// Starts of one server at most, each on ports picked anew, when a picked port was taken
/// before the server could bind it.
const MAX_START_ATTEMPTS: u32 = 5;
/// What nats-server logs when a port it was given is taken.
const PORT_TAKEN: &str = "address already in use";

/// Loopback address everything listens on.
const LOOPBACK: &str = "127.0.0.1";

/// What kind of server to start.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `server_name`; also names the server in errors. Letters, digits, `-` and `_`.
    pub server_name: String,
    /// `jetstream.domain`, if any. Letters, digits, `-` and `_`.
    pub jetstream_domain: Option<String>,
    /// Accept leaf connections on a free loopback port (`leafnodes.listen`).
    pub leaf_listen: bool,
    /// Connect as a leaf to this URL, e.g. `nats-leaf://127.0.0.1:7422`.
    pub leaf_remote: Option<String>,
    /// Further URLs of the same leaf remote (the other nodes of a clustered hub): the remote
    /// lists them after `leaf_remote` in its `urls` and fails over to them.
    pub leaf_remote_failover: Vec<String>,
    /// Member of a cluster (`cluster { name, listen, routes }`), e.g. a node of a 3-node hub.
    pub cluster: Option<ClusterOptions>,
    /// `jetstream.sync_interval: always` (fsync every write), as in production.
    pub sync_always: bool,
    /// Configuration appended as it is (e.g. the `accounts` block of a secured server,
    /// rendered by the `security` crate).
    pub extra_config: Option<String>,
    /// Lines added inside the `leafnodes` block (e.g. the hub's `tls` for its leaf port).
    pub leaf_listen_extra: Option<String>,
    /// Lines added inside the leaf remote (e.g. the local `account`, the `nkey` seed and the
    /// `tls` of a city's link to the hub).
    pub leaf_remote_extra: Option<String>,
}

/// A server's `cluster` block: its name, the port it takes routes on and the route ports of
/// every member (its own included: the server skips itself).
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// `cluster.name`. Letters, digits, `-` and `_`.
    pub name: String,
    /// The loopback port this server takes routes on (picked by the caller, who hands every
    /// member's port to every member).
    pub port: u16,
    /// The route ports of the members, dialled as `nats-route://127.0.0.1:<port>`.
    pub routes: Vec<u16>,
    /// Lines added inside the `cluster` block (e.g. the `tls` of the routes).
    pub extra: Option<String>,
}

impl ServerOptions {
    /// Options for a plain JetStream server named `server_name`: no domain, no leaf nodes,
    /// default sync.
    pub fn new(server_name: impl Into<String>) -> Self {
        ServerOptions { server_name: server_name.into(), ..ServerOptions::default() }
    }
}

/// A running (or stopped, between [`stop`](NatsServer::stop) and
/// [`start_again`](NatsServer::start_again)) `nats-server`. Drop kills it and removes its
/// temp dir.
#[derive(Debug)]
pub struct NatsServer {
    name: String,
    binary: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    store_dir: PathBuf,
    client_port: u16,
    monitor_port: u16,
    leaf_port: Option<u16>,
    child: Option<Child>,
    // Last field: removed after the process is killed.
    dir: TempDir,
}

impl NatsServer {
    /// One JetStream server without domain or leaf nodes, for simple tests.
    pub async fn single() -> Result<NatsServer, TestkitError> {
        NatsServer::start(ServerOptions::new("single")).await
    }

    /// Writes the config for `opts` in a new temp dir, spawns the server and waits until its
    /// JetStream is healthy (bounded by [`READY_TIMEOUT`]).
    pub async fn start(opts: ServerOptions) -> Result<NatsServer, TestkitError> {
        validate(&opts)?;
        let binary = nats_server_binary()?;
        let mut attempt = 1;
        loop {
            match NatsServer::start_once(&opts, &binary).await {
                // A port found free was taken before the server bound it (other tests pick
                // ports at the same time): pick others.
                Err(TestkitError::Exited { tail, .. }) if tail.contains(PORT_TAKEN) && attempt < MAX_START_ATTEMPTS => {
                    tracing::debug!(server = %opts.server_name, attempt, "a port was taken meanwhile; picking others");
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn start_once(opts: &ServerOptions, binary: &Path) -> Result<NatsServer, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("afc-nats-{}-", opts.server_name))
            .tempdir()
            .map_err(TestkitError::io("creating the server's temp dir"))?;
        let store_dir = dir.path().join("jetstream");
        std::fs::create_dir_all(&store_dir).map_err(TestkitError::io(format!("creating {}", store_dir.display())))?;

        let ports = free_ports(if opts.leaf_listen { 3 } else { 2 })?;
        let (client_port, monitor_port) = (ports[0], ports[1]);
        let leaf_port = ports.get(2).copied();

        let config = render_config(opts, &store_dir, client_port, monitor_port, leaf_port);
        let config_path = dir.path().join("nats-server.conf");
        std::fs::write(&config_path, config).map_err(TestkitError::io(format!("writing {}", config_path.display())))?;

        let mut server = NatsServer {
            name: opts.server_name.clone(),
            binary: binary.to_owned(),
            log_path: dir.path().join("nats-server.log"),
            config_path,
            store_dir,
            client_port,
            monitor_port,
            leaf_port,
            child: None,
            dir,
        };
        server.start_again().await?;
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`, for clients.
    pub fn url(&self) -> String {
        format!("nats://{LOOPBACK}:{}", self.client_port)
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The leaf-node listen port, when started with `leaf_listen`.
    pub fn leaf_port(&self) -> Option<u16> {
        self.leaf_port
    }

    /// `nats-leaf://127.0.0.1:PORT` of the leaf-node listen port, when started with
    /// `leaf_listen`.
    pub fn leaf_url(&self) -> Option<String> {
        self.leaf_port.map(|port| format!("nats-leaf://{LOOPBACK}:{port}"))
    }

    /// The HTTP monitoring port.
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// The server's log file (stdout and stderr, appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The generated config file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temp dir holding config, store and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process is running (it may have exited by itself).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// The end of the server's log, for diagnosing a failure.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }

    /// Stops the server gracefully (`nats-server --signal quit=PID`, flushing JetStream) and
    /// waits for it to exit; kills it if it has not within [`STOP_TIMEOUT`]. A no-op when
    /// stopped.
    pub async fn stop(&mut self) -> Result<(), TestkitError> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        if child.try_wait().map_err(TestkitError::io("probing nats-server"))?.is_none() {
            let signalled = Command::new(&self.binary)
                .arg("--signal")
                .arg(format!("quit={}", child.id()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|status| status.success())
                .unwrap_or(false);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while signalled && Instant::now() < deadline {
                if child.try_wait().map_err(TestkitError::io("probing nats-server"))?.is_some() {
                    break;
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        self.kill_hard();
        Ok(())
    }

    /// Kills the server at once (SIGKILL, like a crash) and reaps it. A no-op when stopped.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Either fails only when the process is already gone and reaped.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again with the same config, ports and store, and waits until it is
    /// healthy. A no-op when it is running.
    pub async fn start_again(&mut self) -> Result<(), TestkitError> {
        if self.is_running() {
            return Ok(());
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(TestkitError::io(format!("opening {}", self.log_path.display())))?;
        let log_err = log.try_clone().map_err(TestkitError::io("duplicating the log file handle"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(TestkitError::io(format!("spawning {}", self.binary.display())))?;
        tracing::debug!(server = %self.name, pid = child.id(), url = %self.url(), "nats-server spawned");
        self.child = Some(child);
        self.wait_ready().await
    }

    /// Stops the server gracefully and starts it again with the same config, ports and store.
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop().await?;
        self.start_again().await
    }

    /// Polls `/healthz?js-enabled-only=true` until it answers 200, the process exits, or
    /// [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> Result<(), TestkitError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().map_err(TestkitError::io("probing nats-server"))?,
                None => None,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(TestkitError::Exited {
                    server: self.name.clone(),
                    status: status.to_string(),
                    log: self.log_path.clone(),
                    tail: self.log_tail(),
                });
            }
            let last = match http::get(self.monitor_port, HEALTHZ_PATH).await {
                Ok(response) if response.status == 200 => return Ok(()),
                Ok(response) => format!("HTTP {}: {}", response.status, response.body.trim()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(TestkitError::NotReady {
                    server: self.name.clone(),
                    timeout: READY_TIMEOUT,
                    last,
                    log: self.log_path.clone(),
                    tail: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `GET` a monitoring path (e.g. `/leafz`) and return the body of a 200 answer.
    pub async fn monitor_get(&self, path: &str) -> Result<String, TestkitError> {
        http::monitor_get(self.monitor_port, path).await
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// Rejects names and URLs that would break out of their quoted config string.
fn validate(opts: &ServerOptions) -> Result<(), TestkitError> {
    let is_name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !is_name(&opts.server_name) {
        return Err(TestkitError::InvalidOption { what: "server_name", value: opts.server_name.clone() });
    }
    if let Some(domain) = opts.jetstream_domain.as_deref().filter(|d| !is_name(d)) {
        return Err(TestkitError::InvalidOption { what: "jetstream_domain", value: domain.into() });
    }
    if let Some(url) = opts
        .leaf_remote
        .iter()
        .chain(&opts.leaf_remote_failover)
        .find(|u| u.is_empty() || u.bytes().any(|b| b == b'"' || b == b'\\' || b.is_ascii_control()))
    {
        return Err(TestkitError::InvalidOption { what: "leaf_remote", value: url.clone() });
    }
    if opts.leaf_remote.is_none() && !opts.leaf_remote_failover.is_empty() {
        return Err(TestkitError::InvalidOption {
            what: "leaf_remote_failover",
            value: "without a leaf_remote".into(),
        });
    }
    if let Some(cluster) = opts.cluster.as_ref().filter(|c| !is_name(&c.name)) {
        return Err(TestkitError::InvalidOption { what: "cluster.name", value: cluster.name.clone() });
    }
    Ok(())
}

/// The first port of a run of `count` consecutive ports all free now (for configs that hand
/// ports out from a base, e.g. a generated deployment). Tried from a point that depends on
/// the process, so tests running at once start apart.
pub fn free_port_range(count: u16) -> u16 {
    (0..50u16)
        .map(|attempt| 20_000 + (std::process::id() as u16 % 400) * 70 + attempt * 23)
        .find(|base| {
            let bound: Vec<_> =
                (0..count).filter_map(|offset| TcpListener::bind(("0.0.0.0", base + offset)).ok()).collect();
            bound.len() == usize::from(count)
        })
        .expect("a free range of ports")
}

/// Picks `n` distinct free loopback ports by binding port 0 (all bound at once, then freed).
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, TestkitError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((LOOPBACK, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TestkitError::io("binding a free loopback port"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TestkitError::io("reading a bound port"))
}

/// The server config: the settings of a generated deployment's configs (`afc-lab secure`,
/// `security::deployment`; deploy/nats/README.md lists them), on loopback and test ports.
fn render_config(
    opts: &ServerOptions,
    store_dir: &Path,
    client_port: u16,
    monitor_port: u16,
    leaf_port: Option<u16>,
) -> String {
    let mut c = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(c, "# Generated by afc testkit; the settings of a generated deployment's configs.");
    let _ = writeln!(c, "server_name: \"{}\"", opts.server_name);
    let _ = writeln!(c, "listen: \"{LOOPBACK}:{client_port}\"");
    let _ = writeln!(c, "http: \"{LOOPBACK}:{monitor_port}\"");
    let _ = writeln!(c, "lame_duck_duration: \"{}s\"", LAME_DUCK_DURATION.as_secs());
    let _ = writeln!(c, "lame_duck_grace_period: \"{}s\"", LAME_DUCK_GRACE.as_secs());
    let _ = writeln!(c, "jetstream {{");
    let _ = writeln!(c, "  store_dir: \"{}\"", quote_escape(&store_dir.display().to_string()));
    if let Some(domain) = &opts.jetstream_domain {
        let _ = writeln!(c, "  domain: \"{domain}\"");
    }
    if opts.sync_always {
        let _ = writeln!(c, "  sync_interval: always");
    }
    let _ = writeln!(c, "}}");
    if leaf_port.is_some() || opts.leaf_remote.is_some() {
        let _ = writeln!(c, "leafnodes {{");
        if let Some(port) = leaf_port {
            let _ = writeln!(c, "  listen: \"{LOOPBACK}:{port}\"");
            // Leaf remotes would otherwise learn this URL from INFO and reconnect to it
            // directly, around any proxy (a LeafLink, a load balancer) they were given.
            let _ = writeln!(c, "  no_advertise: true");
            if let Some(extra) = &opts.leaf_listen_extra {
                c.push_str(extra);
            }
        }
        if let Some(url) = &opts.leaf_remote {
            let _ = writeln!(c, "  reconnect: \"{}s\"", LEAF_RECONNECT.as_secs());
            let urls = if opts.leaf_remote_failover.is_empty() {
                format!("url: \"{url}\"")
            } else {
                let all: Vec<String> =
                    std::iter::once(url).chain(&opts.leaf_remote_failover).map(|u| format!("\"{u}\"")).collect();
                format!("urls: [{}]", all.join(", "))
            };
            match &opts.leaf_remote_extra {
                None => {
                    let _ = writeln!(c, "  remotes: [ {{ {urls} }} ]");
                }
                Some(extra) => {
                    let _ = writeln!(c, "  remotes: [ {{\n    {urls}\n{extra}  }} ]");
                }
            }
        }
        let _ = writeln!(c, "}}");
    }
    if let Some(cluster) = &opts.cluster {
        let _ = writeln!(c, "cluster {{");
        let _ = writeln!(c, "  name: \"{}\"", cluster.name);
        let _ = writeln!(c, "  listen: \"{LOOPBACK}:{}\"", cluster.port);
        let routes: Vec<String> =
            cluster.routes.iter().map(|port| format!("\"nats-route://{LOOPBACK}:{port}\"")).collect();
        let _ = writeln!(c, "  routes: [{}]", routes.join(", "));
        if let Some(extra) = &cluster.extra {
            c.push_str(extra);
        }
        let _ = writeln!(c, "}}");
    }
    if let Some(extra) = &opts.extra_config {
        c.push_str(extra);
    }
    c
}

fn quote_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The last [`LOG_TAIL_BYTES`] of a log file, or why it could not be read.
fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_for_a_city_leaf() {
        let opts = ServerOptions {
            server_name: "hangzhou".into(),
            jetstream_domain: Some("hangzhou".into()),
            leaf_listen: false,
            leaf_remote: Some("nats-leaf://127.0.0.1:7422".into()),
            sync_always: true,
            ..ServerOptions::default()
        };
        let c = render_config(&opts, Path::new("/tmp/x"), 4222, 8222, None);
        assert!(c.contains("domain: \"hangzhou\""));
        assert!(c.contains("sync_interval: always"));
        assert!(c.contains("remotes: [ { url: \"nats-leaf://127.0.0.1:7422\" } ]"));
        assert!(!c.contains("listen: \"127.0.0.1:7422\""));
    }

    /// `nats-server -t` (config test, pedantic) accepts the generated hub and city configs.
    #[test]
    fn generated_configs_pass_the_servers_config_test() {
        let binary = nats_server_binary().expect("nats-server binary (see TestkitError)");
        let dir = tempfile::tempdir().unwrap();
        let hub = ServerOptions {
            jetstream_domain: Some("province".into()),
            leaf_listen: true,
            sync_always: true,
            ..ServerOptions::new("hub")
        };
        let city = ServerOptions {
            jetstream_domain: Some("hangzhou".into()),
            leaf_remote: Some("nats-leaf://127.0.0.1:7422".into()),
            ..ServerOptions::new("hangzhou")
        };
        let hub_node = ServerOptions {
            jetstream_domain: Some("province".into()),
            leaf_listen: true,
            cluster: Some(ClusterOptions {
                name: "province".into(),
                port: 6222,
                routes: vec![6222, 6223, 6224],
                extra: None,
            }),
            ..ServerOptions::new("hub-1")
        };
        let failover_city = ServerOptions {
            jetstream_domain: Some("wenzhou".into()),
            leaf_remote: Some("nats-leaf://127.0.0.1:7422".into()),
            leaf_remote_failover: vec!["nats-leaf://127.0.0.1:7423".into(), "nats-leaf://127.0.0.1:7424".into()],
            ..ServerOptions::new("wenzhou")
        };
        let clustered = render_config(&hub_node, dir.path(), 4222, 8222, Some(7422));
        assert!(clustered.contains("routes: [\"nats-route://127.0.0.1:6222\", "), "{clustered}");
        let failover = render_config(&failover_city, dir.path(), 4222, 8222, None);
        assert!(
            failover.contains("urls: [\"nats-leaf://127.0.0.1:7422\", \"nats-leaf://127.0.0.1:7423\""),
            "{failover}"
        );
        for (opts, leaf) in [(hub, Some(7422)), (city, None), (hub_node, Some(7422)), (failover_city, None)] {
            let path = dir.path().join(format!("{}.conf", opts.server_name));
            std::fs::write(&path, render_config(&opts, dir.path(), 4222, 8222, leaf)).unwrap();
            let out = Command::new(&binary).arg("-c").arg(&path).arg("-t").output().unwrap();
            assert!(out.status.success(), "{}: {}", opts.server_name, String::from_utf8_lossy(&out.stderr));
        }
    }

    #[test]
    fn rejects_names_that_break_the_config() {
        assert!(validate(&ServerOptions::new("ok-name_1")).is_ok());
        assert!(validate(&ServerOptions::new("bad\"name")).is_err());
        assert!(validate(&ServerOptions::new("")).is_err());
        let opts = ServerOptions { leaf_remote: Some("x\"y".into()), ..ServerOptions::new("a") };
        assert!(validate(&opts).is_err());
    }
}
