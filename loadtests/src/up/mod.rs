//! `afc-lab up` and `afc-lab down`: a real province on one machine, as separate OS
//! processes started from the configs an installed deployment uses (`afc-lab secure`): a hub
//! nats-server (or a cluster of them, `--hub-cluster 3`), one nats-server and one `afc city` per city, and the simulated banks and
//! payment platforms (`afc-lab sim serve`), all with their own identities over TLS, and a
//! staff console for each city and the province (`afc console`, plain HTTP on loopback, on
//! the port [`CONSOLE_PORT_OFFSET`] above its node's client port).
//!
//! Everything lives in one directory:
//!
//! ```text
//! <dir>/pki/, keys/, nats/      the generated deployment (security::deployment)
//! <dir>/data/nats/<node>/       each nats-server's JetStream store
//! <dir>/data/<city>/            each city's services (afc city --data)
//! <dir>/run/<name>.pid, .log    hub, nats-<city>, afc-<city>, console-<node>, sim
//! <dir>/reports/<city>-<n>.json the served world's reports, to file with afc case report
//! <dir>/deployment.json         URLs, ports, pids (record::Record)
//! ```
//!
//! The processes are detached from the terminal and outlive `afc-lab up`; `afc-lab down`
//! stops them in reverse order and keeps the data (unless `--purge`).

pub mod process;
mod ready;
pub mod record;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::{City, DrillClock};
use security::deployment::{Deployment, DeploymentSpec};

use crate::deployment::CITIES;
use crate::sim_serve;
use process::Started;
use record::{CityNode, Node, Record, StopSignal};

/// Where a node's staff console listens: this far above the node's client port, inside the
/// block of ports the deployment gives the node (its client, leaf, monitoring and route ports
/// take the first four).
pub const CONSOLE_PORT_OFFSET: u16 = 5;

/// The port of the console of the node whose client URL is `url` (`tls://host:port`).
fn console_port(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.parse::<u16>().ok()?.checked_add(CONSOLE_PORT_OFFSET)
}

/// Generates a deployment (`afc-lab secure`, `afc-lab up`): the CA, certificates,
/// identities and nats-server configs, with the grants of afc's services.
pub fn generate(spec: &DeploymentSpec, dir: &Path) -> anyhow::Result<Deployment> {
    security::deployment::generate(spec, dir, &afc::host::service_grants)
        .with_context(|| format!("generating the deployment in {}", dir.display()))
}

/// `afc-lab secure`: generates a deployment and prints where everything is.
pub fn secure(spec: &DeploymentSpec, dir: &Path) -> anyhow::Result<()> {
    let deployment = generate(spec, dir)?;
    for node in &deployment.hub_nodes {
        println!("{}: {} ({})", node.name, node.config.display(), node.client_url);
    }
    for ((city, config), (_, url)) in deployment.city_configs.iter().zip(&deployment.city_client_urls) {
        println!("{city}: {} ({url})", config.display());
    }
    println!("identities (nkey seeds, 0600): {}", dir.join(security::connect::KEYS_DIR).display());
    println!("CA and certificates: {}", dir.join(security::connect::PKI_DIR).display());
    Ok(())
}

/// What `afc-lab up` starts.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The first `cities` of [`CITIES`].
    pub cities: usize,
    pub dir: PathBuf,
    /// The hub takes this port and the next two, each city the next ten.
    pub base_port: u16,
    /// The `afc` binary.
    pub afc: PathBuf,
    /// The `afc-lab` binary (for `afc-lab sim serve`).
    pub lab: PathBuf,
    /// The world the simulated banks serve (default: the built-in one).
    pub scenario: Option<PathBuf>,
    /// 0 or 1: the hub is one nats-server; N > 1: a JetStream cluster of N (the province's
    /// stream with N replicas).
    pub hub_cluster: usize,
    /// Run the cities on this drill clock (`afc-lab sim clock`) for a drill of the deployment
    /// (`afc-lab sim run --deployment`): the drill plays the banks, so `up` starts none, nor consoles.
    pub drill_clock: Option<DrillClock>,
}

/// The `afc` binary beside the running executable (the same target directory).
pub fn afc_beside_this() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    Ok(exe.with_file_name(format!("afc{}", std::env::consts::EXE_SUFFIX)))
}

/// Starts a province in `options.dir` and prints how to use it. Refuses a directory whose
/// deployment is up. On failure, stops what it started (the logs stay).
pub async fn up(options: UpOptions) -> anyhow::Result<Record> {
    anyhow::ensure!(
        (1..=CITIES.len()).contains(&options.cities),
        "--cities {}: a local province has 1 to {} cities",
        options.cities,
        CITIES.len()
    );
    anyhow::ensure!(
        options.afc.is_file(),
        "no afc binary at {}: build it (cargo build -p afc) or name it with --afc",
        options.afc.display()
    );
    let nats_server = testkit::nats_server_binary().context("finding nats-server")?;
    std::fs::create_dir_all(&options.dir).with_context(|| format!("creating {}", options.dir.display()))?;
    let dir = options.dir.canonicalize().with_context(|| format!("resolving {}", options.dir.display()))?;
    refuse_if_up(&dir)?;
    let cities: Vec<City> = CITIES[..options.cities].iter().map(|name| City::parse(name)).collect::<Result<_, _>>()?;
    // The world is checked (its cities, its banks) before anything starts.
    let scenario = sim_serve::load_scenario(options.scenario.as_deref())?;
    let script = sim_serve::lab_script(scenario, &cities, domain::Clock::now_ms(&domain::SystemClock))?;
    let spec = DeploymentSpec {
        cities: cities.clone(),
        host: "localhost".into(),
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        base_port: options.base_port,
        data: dir.join("data").join("nats"),
        banks: script.world.banks.clone(),
        platforms: script.world.platforms.clone(),
        carriers: script.world.carriers.clone(),
        hub_cluster: options.hub_cluster,
        hub_hosts: Vec::new(),
    };
    let deployment = generate(&spec, &dir)?;
    ports_free(&deployment)?;
    let run = dir.join(record::RUN_DIR);
    std::fs::create_dir_all(&run).with_context(|| format!("creating {}", run.display()))?;
    let node = |url: &str, monitor_port: u16, config: &Path| Node {
        url: url.to_owned(),
        monitor_port,
        config: config.to_owned(),
    };
    let mut record = Record {
        dir: dir.clone(),
        secrets: dir.clone(),
        hub: node(&deployment.hub_client_url, deployment.hub_monitor_port, &deployment.hub_config),
        hub_peers: deployment.hub_nodes[1..]
            .iter()
            .map(|hub| node(&hub.client_url, hub.monitor_port, &hub.config))
            .collect(),
        cities: cities
            .iter()
            .enumerate()
            .map(|(i, city)| CityNode {
                city: city.clone(),
                node: node(
                    &deployment.city_client_urls[i].1,
                    deployment.city_monitor_ports[i].1,
                    &deployment.city_configs[i].1,
                ),
                data: dir.join("data").join(city.as_str()),
            })
            .collect(),
        banks: spec.banks.clone(),
        platforms: spec.platforms.clone(),
        processes: Vec::new(),
        consoles: Vec::new(),
    };
    record.save()?;
    let mut started = Vec::new();
    match start_all(&mut record, &mut started, &nats_server, &options).await {
        Ok(()) => {
            print_summary(&record, &options);
            Ok(record)
        }
        Err(error) => {
            eprintln!("afc-lab up failed; stopping what it started (logs in {})", run.display());
            if let Err(down) = stop_all(&record) {
                eprintln!("afc-lab up: stopping: {down:#}");
            }
            Err(error)
        }
    }
}

/// Starts the servers, provisions the streams, starts the cities' services and the banks,
/// recording each process as it starts.
async fn start_all(
    record: &mut Record,
    started: &mut Vec<Started>,
    nats_server: &Path,
    options: &UpOptions,
) -> anyhow::Result<()> {
    let dir = record.dir.clone();
    let config = record.hub.config.clone();
    start(record, started, "hub", nats_server, &["-c".as_ref(), config.as_os_str()], StopSignal::Term)?;
    for (index, peer) in record.hub_peers.clone().iter().enumerate() {
        let name = format!("hub-{}", index + 2);
        start(record, started, &name, nats_server, &["-c".as_ref(), peer.config.as_os_str()], StopSignal::Term)?;
    }
    for node in record.cities.clone() {
        let name = format!("nats-{}", node.city);
        start(record, started, &name, nats_server, &["-c".as_ref(), node.node.config.as_os_str()], StopSignal::Term)?;
    }
    ready::servers(record, started).await?;
    ready::provision(record, &options.afc).await?;
    let secrets = record.secrets.clone();
    let clock = options.drill_clock.map(|clock| clock.to_string());
    for node in record.cities.clone() {
        let mut args: Vec<&OsStr> = vec![
            "city".as_ref(),
            "--city".as_ref(),
            node.city.as_str().as_ref(),
            "--nats".as_ref(),
            node.node.url.as_ref(),
            "--data".as_ref(),
            node.data.as_os_str(),
            "--credentials".as_ref(),
            secrets.as_os_str(),
        ];
        if let Some(clock) = &clock {
            args.extend::<[&OsStr; 2]>(["--drill-clock".as_ref(), clock.as_ref()]);
        }
        start(record, started, &format!("afc-{}", node.city), &options.afc, &args, StopSignal::Int)?;
    }
    ready::cities(record, started).await?;
    if options.drill_clock.is_some() {
        // The drill plays the banks and platforms, on its own world; nobody works a desk
        // (and the consoles read the wall clock, not the drill's).
        return Ok(());
    }
    start_consoles(record, started, &options.afc).await?;
    let mut args: Vec<&OsStr> = vec!["sim".as_ref(), "serve".as_ref(), "--deployment".as_ref(), dir.as_os_str()];
    if let Some(scenario) = &options.scenario {
        args.extend::<[&OsStr; 2]>(["--scenario".as_ref(), scenario.as_os_str()]);
    }
    let ready_file = dir.join(record::RUN_DIR).join(sim_serve::READY_FILE);
    let _ = std::fs::remove_file(&ready_file);
    start(record, started, "sim", &options.lab, &args, StopSignal::Term)?;
    ready::file(&ready_file, started).await
}

/// Starts a console for each city and the province's board on the hub, and waits until each
/// takes connections.
async fn start_consoles(record: &mut Record, started: &mut Vec<Started>, afc: &Path) -> anyhow::Result<()> {
    let nodes: Vec<(String, String, Vec<String>)> = record
        .cities
        .iter()
        .map(|node| {
            (node.city.as_str().to_owned(), node.node.url.clone(), vec!["--city".into(), node.city.to_string()])
        })
        .chain([(security::staff::PROVINCE_ROSTER.to_owned(), record.hub.url.clone(), vec!["--province".into()])])
        .collect();
    let secrets = record.secrets.clone();
    for (name, url, scope) in nodes {
        let port = console_port(&url).with_context(|| format!("{name}: no port in {url}"))?;
        let listen = format!("127.0.0.1:{port}");
        let mut args: Vec<&OsStr> = vec!["console".as_ref()];
        args.extend(scope.iter().map(OsStr::new));
        args.extend::<[&OsStr; 6]>([
            "--nats".as_ref(),
            url.as_ref(),
            "--credentials".as_ref(),
            secrets.as_os_str(),
            "--listen".as_ref(),
            listen.as_ref(),
        ]);
        start(record, started, &format!("console-{name}"), afc, &args, StopSignal::Int)?;
        ready::listening(&listen, &format!("{name}'s console"), started).await?;
        record.consoles.push((name, format!("http://{listen}")));
        record.save()?;
    }
    Ok(())
}

/// Starts a process of the deployment, records it and saves the record.
fn start(
    record: &mut Record,
    started: &mut Vec<Started>,
    name: &str,
    program: &Path,
    args: &[&OsStr],
    stop: StopSignal,
) -> anyhow::Result<()> {
    let process = process::spawn(&record.dir, name, program, args, stop)?;
    record.processes.push(process.process.clone());
    started.push(process);
    record.save()
}

/// Fails, naming it, when a port the deployment's servers listen on is taken (a server
/// that cannot bind exits, but a server already there would answer in its place).
fn ports_free(deployment: &Deployment) -> anyhow::Result<()> {
    let port_of = |url: &str| url.rsplit(':').next().and_then(|port| port.parse::<u16>().ok());
    let mut ports = Vec::new();
    for hub in &deployment.hub_nodes {
        ports.push(("a hub node's client port", port_of(&hub.client_url)));
        ports.push(("a hub node's leaf port", Some(hub.leaf_port)));
        ports.push(("a hub node's monitoring port", Some(hub.monitor_port)));
        if let Some(route) = hub.route_port {
            ports.push(("a hub node's route port", Some(route)));
        }
    }
    for ((_, url), (_, monitor)) in deployment.city_client_urls.iter().zip(&deployment.city_monitor_ports) {
        ports.push(("a city's client port", port_of(url)));
        ports.push(("a city's monitoring port", Some(*monitor)));
        ports.push(("a city's console port", console_port(url)));
    }
    ports.push(("the province's console port", console_port(&deployment.hub_client_url)));
    for (what, port) in ports {
        let port = port.with_context(|| format!("{what}: no port in the generated deployment"))?;
        std::net::TcpListener::bind(("0.0.0.0", port))
            .with_context(|| format!("{what} {port} is taken: choose another range with --base-port"))?;
    }
    Ok(())
}

/// Fails when a process of the deployment in `dir` is alive.
fn refuse_if_up(dir: &Path) -> anyhow::Result<()> {
    let run = dir.join(record::RUN_DIR);
    let Ok(entries) = std::fs::read_dir(&run) else {
        return Ok(());
    };
    let mut paths = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("listing {}", run.display()))?;
    paths.sort();
    for path in paths {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".pid")) else {
            continue;
        };
        if let Some(pid) = process::read_pid(dir, name)?
            && process::is_ours(pid, dir)
        {
            anyhow::bail!(
                "{} is already up ({name} runs as pid {pid}); stop it first with: afc-lab down --dir {}",
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Stops every process of `record` in reverse start order.
fn stop_all(record: &Record) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for process in record.processes.iter().rev() {
        match process::stop(&record.dir, process) {
            Ok(process::Stopped::NotRunning) => {}
            Ok(how) => eprintln!("{}: {} (pid {})", process.name, stopped_word(how), process.pid),
            Err(error) => failures.push(format!("{}: {error:#}", process.name)),
        }
    }
    anyhow::ensure!(failures.is_empty(), "could not stop everything: {}", failures.join("; "));
    Ok(())
}

fn stopped_word(how: process::Stopped) -> &'static str {
    match how {
        process::Stopped::NotRunning => "not running",
        process::Stopped::Stopped => "stopped",
        process::Stopped::Killed => "killed (it did not stop in time)",
    }
}

/// `afc-lab down`: stops the deployment in `dir` in reverse order; with `purge`, removes its
/// data (the servers' stores and the services' files). The secrets, configs and logs stay.
pub fn down(dir: &Path, purge: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        dir.join(record::RECORD_FILE).is_file(),
        "nothing to stop: {} holds no {} (from afc-lab up)",
        dir.display(),
        record::RECORD_FILE
    );
    let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
    let record = Record::load(&dir)?;
    stop_all(&record)?;
    let _ = std::fs::remove_file(dir.join(record::RUN_DIR).join(sim_serve::READY_FILE));
    if purge {
        let data = dir.join("data");
        if data.exists() {
            std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
        }
        println!("{} is down; its data is removed", dir.display());
    } else {
        println!("{} is down; its data stays in {}", dir.display(), dir.join("data").display());
    }
    Ok(())
}

/// Prints the URLs, where the credentials are, how to file a report and how to stop.
fn print_summary(record: &Record, options: &UpOptions) {
    let dir = record.dir.display();
    println!("a province of {} cities is up in {dir}", record.cities.len());
    for (index, hub) in record.hub_nodes().enumerate() {
        let name = if record.hub_peers.is_empty() { "hub".to_owned() } else { format!("hub-{}", index + 1) };
        println!("  {name:<10} {}  (monitoring http://127.0.0.1:{})", hub.url, hub.monitor_port);
    }
    for node in &record.cities {
        println!(
            "  {:<10} {}  (monitoring http://127.0.0.1:{})",
            node.city.as_str(),
            node.node.url,
            node.node.monitor_port
        );
    }
    println!(
        "credentials: {}  (CA and certificates in pki/, one nkey seed per identity in keys/)",
        record.secrets.display()
    );
    for line in crate::console::describe_at(&record.secrets, &record.consoles) {
        println!("{line}");
    }
    println!(
        "logs and pid files: {}; everything started: {}",
        record.dir.join(record::RUN_DIR).display(),
        record.dir.join(record::RECORD_FILE).display()
    );
    if let Some(clock) = &options.drill_clock {
        let scenario = options.scenario.as_deref().map_or("SCENARIO".into(), |s| s.display().to_string());
        println!("the cities run on the drill clock {clock}; no banks are served: the drill plays them:");
        println!("  afc-lab sim run {scenario} --deployment {dir} --drill-clock {clock} --out DIR");
    } else if let Some(node) = record.cities.first() {
        let reports = record.dir.join(sim_serve::REPORTS_DIR);
        println!("file a report (the served world's are in {}):", reports.display());
        println!(
            "  afc case report --city {} --nats {} --credentials {} --file {}",
            node.city,
            node.node.url,
            record.secrets.display(),
            reports.join(format!("{}-1.json", node.city)).display()
        );
        println!(
            "  afc case show --city {} --nats {} --credentials {} CASE_ID",
            node.city,
            node.node.url,
            record.secrets.display()
        );
    }
    println!("stop it: afc-lab down --dir {dir}");
}
