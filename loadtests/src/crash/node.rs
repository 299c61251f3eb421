//! `afc city` as an operator runs it, an OS process of its own, for the crash drill: started
//! on a drill clock and a data directory that outlive it, killed with SIGKILL, started
//! again on the same data with the same clock, stopped with SIGINT at the end.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use domain::{City, DrillClock};
use tokio::process::{Child, Command};

/// Longest wait for a killed process to be reaped (SIGKILL cannot be refused).
const KILL_REAP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a node told to stop (SIGINT) to drain its outboxes and exit.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The nodes' log filter by default: warnings only, or a month-long drill writes gigabytes.
pub const LOG_FILTER: &str = "warn";

/// One city's `afc city` process. Dropping it kills the process.
#[derive(Debug)]
pub struct CityNode {
    /// The city the node runs.
    city: City,
    /// The `afc` binary.
    binary: PathBuf,
    /// The city's own nats-server.
    nats_url: String,
    /// The services' redb files, kept across kills.
    data: PathBuf,
    /// The clock every start gets: the same simulated time before and after a kill.
    clock: DrillClock,
    /// The deployment's secrets directory: the services connect as their identities.
    credentials: PathBuf,
    /// stdout and stderr of every start, appended.
    log: PathBuf,
    /// Its `AFC_LOG` filter.
    log_filter: String,
    /// The running process, if any.
    child: Option<Child>,
    /// Times the process exited without being killed or told to stop (a service failed).
    pub exits_on_its_own: u32,
}

impl CityNode {
    /// Starts `afc city` for `city`.
    pub fn start(
        city: City,
        binary: &Path,
        nats_url: String,
        data: PathBuf,
        (clock, credentials): (DrillClock, PathBuf),
        (log, log_filter): (PathBuf, String),
    ) -> anyhow::Result<CityNode> {
        let mut node = CityNode {
            city,
            binary: binary.to_owned(),
            nats_url,
            data,
            clock,
            credentials,
            log,
            log_filter,
            child: None,
            exits_on_its_own: 0,
        };
        node.spawn()?;
        Ok(node)
    }

    /// The city.
    pub fn city(&self) -> &City {
        &self.city
    }

    /// The services' data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Spawns the process on the node's data directory and clock.
    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let log_err = log.try_clone().context("duplicating the log file handle")?;
        let child = Command::new(&self.binary)
            .arg("city")
            .args(["--city", self.city.as_str(), "--nats", &self.nats_url, "--data"])
            .arg(&self.data)
            .args(["--drill-clock", &self.clock.to_string()])
            .arg("--credentials")
            .arg(&self.credentials)
            .env("AFC_LOG", &self.log_filter)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} city --city {}", self.binary.display(), self.city))?;
        self.child = Some(child);
        Ok(())
    }

    /// Restarts the process if it exited on its own (as its supervisor would), counting it.
    pub fn restart_if_exited(&mut self) -> anyhow::Result<bool> {
        let exited = match self.child.as_mut() {
            Some(child) => child.try_wait().context("probing afc city")?,
            None => return Ok(false),
        };
        if let Some(status) = exited {
            tracing::warn!(city = %self.city, %status, "afc city exited on its own; restarting it");
            self.exits_on_its_own += 1;
            self.spawn()?;
        }
        Ok(exited.is_some())
    }

    /// Kills the process with SIGKILL, as a crash or an OOM kill would, and waits until it
    /// is gone (its redb files closed by the kernel), then starts it again on the same data
    /// and clock.
    pub async fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            // start_kill sends SIGKILL on unix; it fails only when the process is already
            // reaped.
            let _ = child.start_kill();
            tokio::time::timeout(KILL_REAP_TIMEOUT, child.wait())
                .await
                .with_context(|| format!("afc city ({}) not reaped {KILL_REAP_TIMEOUT:?} after SIGKILL", self.city))?
                .context("waiting for afc city")?;
        }
        self.spawn()
    }

    /// Tells the process to stop (SIGINT: it drains its outboxes) and waits for it; kills it
    /// after [`STOP_TIMEOUT`]. Returns how it exited.
    pub async fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            anyhow::bail!("afc city ({}) is not running", self.city);
        };
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        let pid = child.id().and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            rustix::process::kill_process(pid, rustix::process::Signal::INT)
                .with_context(|| format!("sending SIGINT to afc city ({})", self.city))?;
        }
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                anyhow::bail!("afc city ({}) did not stop within {STOP_TIMEOUT:?} of SIGINT", self.city)
            }
        }
    }
}
