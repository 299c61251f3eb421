//! A city node on a runtime of its own, as it would run in a process of its own: what the
//! embedded deployment runs each city on, so that killing a node drops every task of it at
//! once, as a crash would.

use std::time::Duration;

use afc::host::{CityOptions, run_city};
use anyhow::Context;
use domain::SharedClock;

/// How long a graceful stop waits for the services to drain their outboxes and return.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a kill waits for the runtime's threads to let go of their tasks.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// A city node on a runtime of its own, as it would run in a process of its own: every task
/// its services spawn lives on that runtime. [`CityProcess::stop`] shuts it down gracefully;
/// [`CityProcess::kill`] drops every task at once, as a crash would, after which the redb
/// files are closed and the node can start again on them. Dropping it kills it.
pub struct CityProcess {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: tokio::sync::watch::Sender<bool>,
    done: Option<tokio::sync::oneshot::Receiver<anyhow::Result<()>>>,
}

impl std::fmt::Debug for CityProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CityProcess").field("running", &self.runtime.is_some()).finish()
    }
}

impl CityProcess {
    /// Starts the city's services on a new runtime with as many workers as the machine has
    /// cores.
    pub fn start(options: CityOptions, clock: SharedClock) -> anyhow::Result<CityProcess> {
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(format!("afc-{}", options.city))
            .enable_all()
            .build()
            .context("building the city's runtime")?;
        let (shutdown, signal) = tokio::sync::watch::channel(false);
        let (report, done) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let _ = report.send(run_city(options, clock, signal).await.map_err(anyhow::Error::from));
        });
        Ok(CityProcess { runtime: Some(runtime), shutdown, done: Some(done) })
    }

    /// The node's runtime, while it runs (for probes that must run beside the services).
    pub fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|runtime| runtime.handle().clone())
    }

    /// Signals shutdown, waits (up to [`STOP_TIMEOUT`]) for the services to drain and
    /// return, then drops what is left. Returns the services' outcome.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let outcome = match self.done.take() {
            Some(done) => match tokio::time::timeout(STOP_TIMEOUT, done).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(anyhow::anyhow!("the city's services ended without a result")),
                Err(_) => Err(anyhow::anyhow!("the city's services did not stop within {STOP_TIMEOUT:?}")),
            },
            None => Ok(()),
        };
        self.kill().await;
        outcome
    }

    /// Drops every task of the city at once and waits until the runtime has let go of them
    /// (and so of the redb files).
    pub async fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            let _ = tokio::task::spawn_blocking(move || runtime.shutdown_timeout(KILL_TIMEOUT)).await;
        }
    }
}

impl Drop for CityProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
