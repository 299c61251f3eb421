//! Waiting, bounded, for what `afc-lab up` started to be ready, and provisioning the streams
//! in between. Every wait fails early, with the end of its log, when a process it waits for
//! exits.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use domain::CaseId;
use tokio::time::Instant;

use super::process::Started;
use super::record::Record;
use crate::secured::{self, CityRole};

/// Longest wait for every nats-server to answer and every city to be linked to the hub.
pub const SERVERS_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest an `afc city provision` or `afc province provision` may take.
pub const PROVISION_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for every city's intake to answer.
pub const CITIES_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the simulated banks to serve.
pub const SIM_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest one probe (a monitoring request, a request to intake) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between probes.
const POLL: Duration = Duration::from_millis(100);
/// A server's health, JetStream included.
const HEALTHZ: &str = "/healthz?js-enabled-only=true";
/// The hub's leaf connections.
const LEAFZ: &str = "/leafz";
/// A server's JetStream, with a clustered hub's meta leader.
const JSZ: &str = "/jsz";

/// Polls `probe` until it returns `Ok(true)` or `timeout` passes, failing at once when a
/// process of `started` exits. `what` and the last answer name what was not reached.
async fn until<F, Fut>(started: &mut [Started], timeout: Duration, what: &str, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        for process in started.iter_mut() {
            process.check_running().with_context(|| format!("waiting for {what}"))?;
        }
        let last = match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(last)) => last,
            Err(_) => format!("no answer within {PROBE_TIMEOUT:?}"),
        };
        if Instant::now() >= deadline {
            anyhow::bail!("{what} not reached within {timeout:?}; last: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until every server is healthy, a clustered hub's nodes all name the same JetStream
/// meta leader (before that, making the province's stream times out), and the hub (its nodes
/// together) has a leaf link from every city.
pub async fn servers(record: &Record, started: &mut [Started]) -> anyhow::Result<()> {
    let hub_ports: Vec<u16> = record.hub_nodes().map(|node| node.monitor_port).collect();
    let mut ports: Vec<(String, u16)> = hub_ports.iter().map(|port| (format!("hub (:{port})"), *port)).collect();
    ports.extend(record.cities.iter().map(|node| (node.city.to_string(), node.node.monitor_port)));
    let expected = record.cities.len();
    let what = match hub_ports.len() {
        1 => format!("every nats-server healthy and {expected} leaf links on the hub"),
        nodes => {
            format!("every nats-server healthy, the hub's {nodes} nodes agreeing on a leader, {expected} leaf links")
        }
    };
    until(started, SERVERS_TIMEOUT, &what, || {
        let (ports, hub_ports) = (ports.clone(), hub_ports.clone());
        async move {
            for (name, port) in ports {
                testkit::monitor_get(port, HEALTHZ).await.map_err(|e| format!("{name}: {e}"))?;
            }
            if hub_ports.len() > 1 {
                let mut leaders = std::collections::BTreeSet::new();
                for port in &hub_ports {
                    let jsz = testkit::monitor_get(*port, JSZ).await.map_err(|e| format!("hub (:{port}): {e}"))?;
                    let json: serde_json::Value = serde_json::from_str(&jsz).map_err(|e| format!("hub {JSZ}: {e}"))?;
                    let leader = json.pointer("/meta_cluster/leader").and_then(serde_json::Value::as_str);
                    leaders.insert(leader.unwrap_or_default().to_owned());
                }
                if leaders.len() != 1 || leaders.contains("") {
                    return Err(format!("the hub's nodes name the meta leaders {leaders:?}"));
                }
            }
            let mut links = 0;
            for port in hub_ports {
                let leafz = testkit::monitor_get(port, LEAFZ).await.map_err(|e| format!("hub: {e}"))?;
                let json: serde_json::Value = serde_json::from_str(&leafz).map_err(|e| format!("hub {LEAFZ}: {e}"))?;
                // `leafs` is absent or null when there are none.
                links += json.get("leafs").and_then(serde_json::Value::as_array).map_or(0, Vec::len);
            }
            if links == expected { Ok(()) } else { Err(format!("{links} leaf links on the hub")) }
        }
    })
    .await
}

/// Makes each city's stream (`afc city provision`, as `<city>-admin`), then the province's
/// (`afc province provision`, as `province-admin`; on a clustered hub with `--replicas`, one
/// copy per node), with the afc binary, as an operator does.
pub async fn provision(record: &Record, afc: &Path) -> anyhow::Result<()> {
    let secrets = record.secrets.as_os_str();
    for node in &record.cities {
        let args = [
            "city".as_ref(),
            "provision".as_ref(),
            "--city".as_ref(),
            node.city.as_str().as_ref(),
            "--nats".as_ref(),
            node.node.url.as_ref(),
            "--credentials".as_ref(),
            secrets,
        ];
        run(afc, &args, &format!("afc city provision --city {}", node.city)).await?;
    }
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["province".as_ref(), "provision".as_ref(), "--hub".as_ref(), record.hub.url.as_ref()];
    for node in &record.cities {
        args.extend::<[&std::ffi::OsStr; 2]>(["--city".as_ref(), node.city.as_str().as_ref()]);
    }
    args.extend::<[&std::ffi::OsStr; 2]>(["--credentials".as_ref(), secrets]);
    let replicas = (1 + record.hub_peers.len()).to_string();
    if !record.hub_peers.is_empty() {
        args.extend::<[&std::ffi::OsStr; 2]>(["--replicas".as_ref(), replicas.as_ref()]);
    }
    run(afc, &args, "afc province provision").await
}

/// Runs `afc args` to its end, bounded by [`PROVISION_TIMEOUT`]; fails with its stderr.
async fn run(afc: &Path, args: &[&std::ffi::OsStr], what: &str) -> anyhow::Result<()> {
    let child =
        tokio::process::Command::new(afc).args(args).stdin(std::process::Stdio::null()).kill_on_drop(true).output();
    let output = tokio::time::timeout(PROVISION_TIMEOUT, child)
        .await
        .with_context(|| format!("{what} did not finish within {PROVISION_TIMEOUT:?}"))?
        .with_context(|| format!("running {what}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// Waits until every city's intake answers (a `show` of a case nobody filed, as the city's
/// observer `<city>-lab`).
pub async fn cities(record: &Record, started: &mut [Started]) -> anyhow::Result<()> {
    for node in &record.cities {
        let client = secured::connect_city(&record.secrets, &node.city, CityRole::Observer, &node.node.url).await?;
        let probe = CaseId::derive(&node.city, 0);
        let what = format!("{}'s intake answering", node.city);
        until(started, CITIES_TIMEOUT, &what, || {
            let (client, city, probe) = (client.clone(), node.city.clone(), probe.clone());
            async move { afc::client::show(&client, &city, &probe).await.map(|_| ()).map_err(|e| format!("{e:#}")) }
        })
        .await?;
    }
    Ok(())
}

/// Waits until something listens on `address` (`host:port`): a console serving.
pub async fn listening(address: &str, what: &str, started: &mut [Started]) -> anyhow::Result<()> {
    let what = format!("{what} listening on {address}");
    until(started, CITIES_TIMEOUT, &what, || async move {
        tokio::net::TcpStream::connect(address).await.map(drop).map_err(|e| e.to_string())
    })
    .await
}

/// Waits until `path` exists (the simulated banks write it once they serve).
pub async fn file(path: &Path, started: &mut [Started]) -> anyhow::Result<()> {
    let what = format!("the simulated banks serving ({})", path.display());
    until(started, SIM_TIMEOUT, &what, || async move { if path.exists() { Ok(()) } else { Err("not yet".to_owned()) } })
        .await
}
