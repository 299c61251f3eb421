//! CPU use over a point's measured window, read from `/proc`: this process by thread group,
//! each nats-server of the deployment, the whole machine, and how busy the machine was
//! before the point. A point that something else disturbed says so, and `--quiet-wait` waits
//! for an idle machine before it starts.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::City;
use tokio::time::Instant;

use crate::deployment::Embedded;
use crate::harness::Window;

/// How long the machine's load is sampled before a point's deployment starts.
pub const QUIET_SAMPLE: Duration = Duration::from_secs(1);

/// CPU (% of one core) used by something else, before a point or during its measured window,
/// above which the point counts as disturbed.
pub const DISTURBED_PCT: f64 = 25.0;

/// Clock ticks per second of `/proc` CPU times when `getconf CLK_TCK` cannot say.
const DEFAULT_CLK_TCK: f64 = 100.0;

/// CPU use over the measured window, in % of one core (200% = both cores of a 2-core
/// machine).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuUse {
    /// This process: services, simulated banks, leaf-link proxies and the harness.
    pub afc_pct: f64,
    /// This process by thread group (tokio workers and blocking pool, redb writers, ...).
    /// Threads that ended inside the window are missing here but counted in `afc_pct`.
    pub afc_threads_pct: BTreeMap<String, f64>,
    /// Each nats-server, by name (hub, then the cities).
    pub servers_pct: Vec<(String, f64)>,
    /// The whole machine: busy share of all cores × cores, in % of one core.
    pub machine_pct: f64,
    /// Cores the machine has (the most `machine_pct` can be is 100 × this).
    pub cores: usize,
    /// The machine's busy share just before the deployment started (nothing of the run
    /// running yet), same unit.
    pub busy_before_pct: Option<f64>,
}

impl CpuUse {
    /// Why the point's figures are not the afc deployment's alone, if they are not.
    pub fn disturbed(&self) -> Option<String> {
        if let Some(before) = self.busy_before_pct.filter(|b| *b > DISTURBED_PCT) {
            return Some(format!("the machine was {before:.0}% busy before the point started"));
        }
        let others = self.others_pct();
        (others > DISTURBED_PCT).then(|| format!("other processes used {others:.0}% during the measured window"))
    }

    /// Everything else on the machine: the machine minus this process and its nats-servers.
    pub fn others_pct(&self) -> f64 {
        let nats: f64 = self.servers_pct.iter().map(|(_, p)| p).sum();
        (self.machine_pct - self.afc_pct - nats).max(0.0)
    }
}

/// Cumulative CPU ticks at one moment.
struct CpuSnapshot {
    afc: u64,
    threads: BTreeMap<String, u64>,
    servers: Vec<(String, u64)>,
    /// (busy, total) of /proc/stat's `cpu` line.
    machine: (u64, u64),
}

/// The nats-server processes of the deployment: (name, pid).
pub fn server_processes(deployment: &Embedded, cities: &[City]) -> Vec<(String, u32)> {
    let mut wanted: Vec<(String, String)> =
        vec![("hub".into(), deployment.province.hub.config_path().display().to_string())];
    for city in cities {
        if let Ok(node) = deployment.province.city(city) {
            wanted.push((city.to_string(), node.server.config_path().display().to_string()));
        }
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Some(stat) = read_stat(&format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat.ppid != me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if let Some((name, _)) = wanted.iter().find(|(_, config)| cmdline.contains(config.as_str())) {
            found.push((name.clone(), pid));
        }
    }
    found.sort_by_key(|(name, _)| wanted.iter().position(|(n, _)| n == name));
    found
}

/// The fields of `/proc/<pid>/stat` this harness reads.
struct Stat {
    comm: String,
    ppid: u32,
    /// utime + stime, in clock ticks.
    ticks: u64,
}

fn read_stat(path: &str) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// The fields of a `/proc/<pid>/stat` line; the comm may hold spaces and parentheses, so it
/// runs from the first `(` to the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the comm: state (3), ppid (4), ..., utime (14), stime (15).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat { comm, ppid, ticks: utime + stime })
}

/// The group a thread of this process is counted in, by its name.
/// The main thread's name: the executable's.
const LAB_MAIN_THREAD: &str = "afc-lab";

fn thread_group(comm: &str) -> String {
    if comm.starts_with("store-") {
        "redb writer threads".into()
    } else if comm.starts_with("afc-load") {
        // The stall probes' own threads (`afc-load-probe`, `afc-load-disk`), not a city.
        "stall probe threads".into()
    } else if comm == super::signals::PUBLISHER_THREAD {
        "signal publisher (the lab's carriers)".into()
    } else if comm == LAB_MAIN_THREAD {
        "main thread".into()
    } else if let Some(city) = comm.strip_prefix("afc-") {
        format!("{city} runtime (its services)")
    } else if comm.starts_with("tokio-r") {
        "main runtime (banks, leaf links, harness)".into()
    } else {
        comm.to_owned()
    }
}

/// Waits until the machine is idle (busy under [`DISTURBED_PCT`] over
/// [`QUIET_SAMPLE`]) or `patience` has passed.
pub async fn wait_quiet(patience: Duration) {
    if patience.is_zero() {
        return;
    }
    let deadline = Instant::now() + patience;
    loop {
        match machine_busy_before(QUIET_SAMPLE).await {
            Some(busy) if busy > DISTURBED_PCT && Instant::now() < deadline => {
                eprintln!("waiting for the machine to be idle: {busy:.0}% busy");
            }
            _ => return,
        }
    }
}

/// The machine's busy share over `span` before the run, in % of one core: what else is
/// running (a build, another benchmark) would disturb the measurement.
pub async fn machine_busy_before(span: Duration) -> Option<f64> {
    let before = machine_ticks()?;
    tokio::time::sleep(span).await;
    let after = machine_ticks()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some(busy_pct(before, after, cores))
}

/// (busy, total) ticks of all cores, from /proc/stat's `cpu` line.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...; idle and iowait are not busy.
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

pub fn busy_pct(before: (u64, u64), after: (u64, u64), cores: usize) -> f64 {
    let (busy, total) = (after.0.saturating_sub(before.0), after.1.saturating_sub(before.1));
    if total == 0 { 0.0 } else { busy as f64 / total as f64 * 100.0 * cores as f64 }
}

fn snapshot(servers: &[(String, u32)]) -> Option<CpuSnapshot> {
    let afc = read_stat("/proc/self/stat")?.ticks;
    let mut threads = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some(stat) = read_stat(&format!("{}/stat", entry.path().display())) {
            *threads.entry(thread_group(&stat.comm)).or_insert(0) += stat.ticks;
        }
    }
    let servers = servers
        .iter()
        .map(|(name, pid)| (name.clone(), read_stat(&format!("/proc/{pid}/stat")).map_or(0, |s| s.ticks)));
    Some(CpuSnapshot { afc, threads, servers: servers.collect(), machine: machine_ticks()? })
}

/// Samples CPU ticks at the start and the end of `window` and returns the use in between.
pub async fn measure_cpu(window: Window, servers: Vec<(String, u32)>) -> Option<CpuUse> {
    tokio::time::sleep_until(window.start).await;
    let before = snapshot(&servers)?;
    let started = Instant::now();
    tokio::time::sleep_until(window.end).await;
    let after = snapshot(&servers)?;
    let seconds = started.elapsed().as_secs_f64();
    let per_s = clock_ticks_per_s() * seconds / 100.0;
    let pct = |b: u64, a: u64| a.saturating_sub(b) as f64 / per_s;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some(CpuUse {
        afc_pct: pct(before.afc, after.afc),
        afc_threads_pct: after
            .threads
            .iter()
            .map(|(group, &a)| (group.clone(), pct(before.threads.get(group).copied().unwrap_or(0), a)))
            .collect(),
        servers_pct: after
            .servers
            .iter()
            .zip(&before.servers)
            .map(|((name, a), (_, b))| (name.clone(), pct(*b, *a)))
            .collect(),
        machine_pct: busy_pct(before.machine, after.machine, cores),
        cores,
        busy_before_pct: None,
    })
}

fn clock_ticks_per_s() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(DEFAULT_CLK_TCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_comm_parent_and_cpu_ticks() {
        let line = "4242 (tokio-r (x)) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3";
        let stat = parse_stat(line).unwrap();
        assert_eq!((stat.comm.as_str(), stat.ppid, stat.ticks), ("tokio-r (x)", 17, 300));
        assert!(parse_stat("4242 no comm").is_none());
    }

    #[test]
    fn threads_group_by_what_runs_on_them() {
        assert_eq!(thread_group("store-intake"), "redb writer threads");
        assert_eq!(thread_group("afc-hangzhou"), "hangzhou runtime (its services)");
        assert_eq!(thread_group("tokio-runtime-w"), "main runtime (banks, leaf links, harness)");
        assert_eq!(thread_group("nats-probe"), "nats-probe");
        assert_eq!(thread_group("afc-load-disk"), "stall probe threads", "a probe is not a city");
        assert_eq!(thread_group("afc-lab"), "main thread", "nor is the main thread");
        assert_eq!(thread_group("lab-signals"), "signal publisher (the lab's carriers)");
    }

    #[test]
    fn busy_share_is_in_percent_of_one_core() {
        // Half of all ticks busy on 2 cores: one core's worth.
        assert_eq!(busy_pct((100, 1_000), (600, 2_000), 2), 100.0);
        assert_eq!(busy_pct((0, 0), (0, 0), 2), 0.0);
    }
}
