//! Stall probes for `afc-lab load`: small loops that should wake or answer every
//! [`PROBE_PERIOD`] and record how much later they did, over the measured window. They say
//! which part of the machine stalled when the latency tail grows: the tokio runtime of the
//! harness and the simulated banks, an OS thread of its own (CPU scheduling), a
//! nats-server (a PING answered late), or the disk (a small write and `fdatasync` beside
//! the redb files, answered late).

use std::time::Duration;

use crate::harness::Window;
use tokio::time::Instant;

/// How often each probe wakes (or pings).
pub const PROBE_PERIOD: Duration = Duration::from_millis(2);
/// How often the disk probe writes and syncs: less often than the others, so that its own
/// syncs (100/s) stay a small share of the services' (~1,000/s at 200 cases/s).
pub const DISK_PROBE_PERIOD: Duration = Duration::from_millis(10);
/// Bytes the disk probe writes each time (one page).
const DISK_PROBE_BYTES: usize = 4096;
/// Worst delays kept per probe for the report.
pub const WORST_KEPT: usize = 5;
/// Delays per probe kept for percentiles: the window at [`PROBE_PERIOD`], bounded.
const MAX_SAMPLES: usize = 100_000;

/// What one probe saw over the measured window.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StallProbe {
    pub name: String,
    pub samples: usize,
    /// Delay beyond the period (late wake-up), or the PING round trip, µs.
    pub p99_us: u64,
    pub max_us: u64,
    /// The worst delays: (seconds into the window, µs), worst first.
    pub worst: Vec<(f64, u64)>,
}

impl StallProbe {
    fn from_samples(name: &str, window: &Window, mut samples: Vec<(Instant, u64)>) -> StallProbe {
        let mut delays: Vec<u64> = samples.iter().map(|(_, d)| *d).collect();
        delays.sort_unstable();
        let p99_us = delays.get((delays.len().saturating_sub(1)) * 99 / 100).copied().unwrap_or(0);
        samples.sort_unstable_by_key(|s| std::cmp::Reverse(s.1));
        let worst = samples
            .iter()
            .take(WORST_KEPT)
            .map(|(at, delay)| (at.saturating_duration_since(window.start).as_secs_f64(), *delay))
            .collect();
        StallProbe {
            name: name.to_owned(),
            samples: delays.len(),
            p99_us,
            max_us: delays.last().copied().unwrap_or(0),
            worst,
        }
    }
}

/// Sleeps [`PROBE_PERIOD`] again and again on the runtime it is spawned on and records how
/// late each wake-up was.
pub async fn probe_runtime(name: String, window: Window) -> StallProbe {
    tokio::time::sleep_until(window.start).await;
    let mut samples = Vec::new();
    while Instant::now() < window.end && samples.len() < MAX_SAMPLES {
        let asked = Instant::now();
        tokio::time::sleep(PROBE_PERIOD).await;
        let woke = Instant::now();
        let late = woke.saturating_duration_since(asked + PROBE_PERIOD);
        samples.push((woke, u64::try_from(late.as_micros()).unwrap_or(u64::MAX)));
    }
    StallProbe::from_samples(&name, &window, samples)
}

/// [`probe_runtime`] on another runtime (a city node's).
pub async fn probe_runtime_on(runtime: tokio::runtime::Handle, name: String, window: Window) -> StallProbe {
    let fallback = name.clone();
    runtime
        .spawn(probe_runtime(name, window))
        .await
        .unwrap_or_else(|_| StallProbe::from_samples(&fallback, &window, Vec::new()))
}

/// The same on an OS thread of its own: how late the scheduler runs a thread that wants the
/// CPU for a moment every [`PROBE_PERIOD`].
pub async fn probe_thread(window: Window) -> StallProbe {
    on_thread("afc-load-probe", "OS thread (sleep 2 ms)", window, move || {
        std::thread::sleep(window.start.saturating_duration_since(Instant::now()));
        let mut samples = Vec::new();
        while Instant::now() < window.end && samples.len() < MAX_SAMPLES {
            let asked = std::time::Instant::now();
            std::thread::sleep(PROBE_PERIOD);
            let late = asked.elapsed().saturating_sub(PROBE_PERIOD);
            samples.push((Instant::now(), u64::try_from(late.as_micros()).unwrap_or(u64::MAX)));
        }
        samples
    })
    .await
}

/// On an OS thread of its own, rewrites one page of a file in `dir` and `fdatasync`s it
/// every [`DISK_PROBE_PERIOD`], and records how long each write and sync took: what a redb
/// commit in the same directory waits for at least, whatever else the disk is doing.
pub async fn probe_disk(dir: std::path::PathBuf, window: Window) -> StallProbe {
    on_thread("afc-load-disk", "disk (4 KiB write + fdatasync beside the redb files)", window, move || {
        use std::os::unix::fs::FileExt as _;
        let path = dir.join("disk-probe");
        let file = match std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path) {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "could not open the disk probe's file");
                return Vec::new();
            }
        };
        let page = [0u8; DISK_PROBE_BYTES];
        let mut samples = Vec::new();
        std::thread::sleep(window.start.saturating_duration_since(Instant::now()));
        while Instant::now() < window.end && samples.len() < MAX_SAMPLES {
            let asked = std::time::Instant::now();
            if file.write_all_at(&page, 0).and_then(|()| file.sync_data()).is_err() {
                break;
            }
            let took = asked.elapsed();
            samples.push((Instant::now(), u64::try_from(took.as_micros()).unwrap_or(u64::MAX)));
            std::thread::sleep(DISK_PROBE_PERIOD.saturating_sub(took));
        }
        let _ = std::fs::remove_file(&path);
        samples
    })
    .await
}

/// Runs a probe's sampling loop on an OS thread named `thread` (off every runtime) and
/// summarises its samples as `name`; no samples if the thread cannot start or dies.
async fn on_thread(
    thread: &str,
    name: &'static str,
    window: Window,
    sample: impl FnOnce() -> Vec<(Instant, u64)> + Send + 'static,
) -> StallProbe {
    let (done, result) = tokio::sync::oneshot::channel();
    if let Err(error) = std::thread::Builder::new().name(thread.into()).spawn(move || {
        let _ = done.send(sample());
    }) {
        tracing::warn!(%error, probe = name, "could not start the probe's thread");
    }
    StallProbe::from_samples(name, &window, result.await.unwrap_or_default())
}

/// PINGs a nats-server on a connection of its own every [`PROBE_PERIOD`] and records each
/// round trip.
pub async fn probe_nats(
    name: String,
    connect: impl std::future::Future<Output = anyhow::Result<async_nats::Client>>,
    window: Window,
) -> StallProbe {
    let client = match connect.await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), probe = %name, "could not connect the nats probe");
            return StallProbe::from_samples(&name, &window, Vec::new());
        }
    };
    tokio::time::sleep_until(window.start).await;
    let mut samples = Vec::new();
    let mut next = Instant::now();
    while Instant::now() < window.end && samples.len() < MAX_SAMPLES {
        let asked = Instant::now();
        if client.flush().await.is_err() {
            break;
        }
        samples.push((asked, u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX)));
        next += PROBE_PERIOD;
        tokio::time::sleep_until(next.max(Instant::now())).await;
    }
    StallProbe::from_samples(&name, &window, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reports_its_worst_delays_worst_first_with_their_time_in_the_window() {
        let start = Instant::now();
        let window = Window { start, end: start + Duration::from_secs(10) };
        let at = |ms: u64| start + Duration::from_millis(ms);
        let samples = (0..200).map(|i| (at(i * 10), 100)).chain([(at(1500), 90_000), (at(7250), 40_000)]).collect();
        let probe = StallProbe::from_samples("x", &window, samples);
        assert_eq!(probe.samples, 202);
        assert_eq!(probe.max_us, 90_000);
        assert_eq!(probe.p99_us, 100);
        assert_eq!(probe.worst[0], (1.5, 90_000));
        assert_eq!(probe.worst[1], (7.25, 40_000));
        assert_eq!(probe.worst.len(), WORST_KEPT);
    }
}
