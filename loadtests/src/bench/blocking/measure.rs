//! The measurements of `afc-lab bench blocking` besides throughput: one lookup's latency
//! (sampled, hdrhistogram), the floor, saving and loading the index, and the resident set.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use blocking::index::Index;
use blocking::normalize::Identifier;
use hdrhistogram::Histogram;

/// Percentiles of one lookup timed alone, ns.
pub struct Latency {
    pub samples: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// Reading the clock twice with nothing between, p50: part of every sample.
    pub clock_ns: u64,
}

impl Latency {
    /// Times every `every`-th lookup of one pass over `queries` alone.
    pub fn measure(index: &Index, queries: &[Identifier], every: usize) -> anyhow::Result<Latency> {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
        let mut clock = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
        for (n, query) in queries.iter().enumerate() {
            if n % every != 0 {
                black_box(index.get(query));
                continue;
            }
            let began = Instant::now();
            black_box(index.get(query));
            histogram.record((began.elapsed().as_nanos() as u64).max(1))?;
            let began = Instant::now();
            clock.record((black_box(began).elapsed().as_nanos() as u64).max(1))?;
        }
        Ok(Latency {
            samples: histogram.len(),
            p50_ns: histogram.value_at_quantile(0.50),
            p90_ns: histogram.value_at_quantile(0.90),
            p99_ns: histogram.value_at_quantile(0.99),
            max_ns: histogram.max(),
            clock_ns: clock.value_at_quantile(0.50),
        })
    }
}

/// What one core does at best, measured in the same run.
pub struct Floor {
    /// Independent random 8-byte reads a second over an array as large as the index.
    pub reads_per_s: f64,
    /// Fingerprints of the queries a second, no table read.
    pub keys_per_s: f64,
}

impl Floor {
    pub fn measure(index: &Index, queries: &[Identifier], count: u64) -> anyhow::Result<Floor> {
        let words = (index.bytes() / 8).next_power_of_two();
        // Written, so every page is resident as the index's are.
        let array: Vec<u64> = (0..words as u64).collect();
        let mask = words as u64 - 1;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut sum = 0u64;
        let began = Instant::now();
        for _ in 0..count {
            // xorshift64*: a few cycles, so the reads dominate.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let at = state.wrapping_mul(0x2545_f491_4f6c_dd1d) & mask;
            sum = sum.wrapping_add(array[at as usize]);
        }
        let reads_per_s = count as f64 / began.elapsed().as_secs_f64();
        black_box(sum);
        drop(array);

        let passes = count.div_ceil(queries.len() as u64);
        let began = Instant::now();
        for _ in 0..passes {
            for query in queries {
                black_box(index.key(query));
            }
        }
        let keys_per_s = (passes * queries.len() as u64) as f64 / began.elapsed().as_secs_f64();
        Ok(Floor { reads_per_s, keys_per_s })
    }
}

/// The index saved to a file and loaded back (what a start would read instead of
/// fingerprinting the store's rows).
pub struct Saved {
    /// Writing the file: encoding, writing, fsync, rename, directory fsync.
    pub save: Duration,
    pub file_bytes: u64,
    /// Reading it back from the page cache (it was just written) and checking it whole.
    pub load: Duration,
    /// Queries looked up in both indexes, all alike.
    pub checked: usize,
}

/// The log sequence the benchmark saves its index with (and checks it gets back).
const SAVED_SEQ: u64 = 0x5eed;

impl Saved {
    /// Saves `index` in a new temporary directory, loads it back, and checks that the loaded
    /// index answers every `every`-th of `queries` as `index` does.
    pub fn measure(index: &Index, queries: &[Identifier], every: usize) -> anyhow::Result<Saved> {
        let dir = tempfile::tempdir().context("a temporary directory for the index file")?;
        let path = dir.path().join("blocking.index");
        let began = Instant::now();
        index.save(&path, SAVED_SEQ).context("saving the index")?;
        let save = began.elapsed();
        let file_bytes = std::fs::metadata(&path)?.len();
        let began = Instant::now();
        let (loaded, seq) = Index::load(&path).context("loading the index")?;
        let load = began.elapsed();
        anyhow::ensure!(seq == SAVED_SEQ && loaded.len() == index.len(), "the loaded index is not the saved one");
        let mut checked = 0;
        for query in queries.iter().step_by(every) {
            anyhow::ensure!(loaded.get(query) == index.get(query), "the loaded index answers {query} otherwise");
            checked += 1;
        }
        Ok(Saved { save, file_bytes, load, checked })
    }
}

/// Time this thread has spent on a CPU, from `/proc/thread-self/schedstat` (ns): set against
/// the wall time, it shows how much of a round other processes took on a busy machine.
pub fn thread_cpu() -> anyhow::Result<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").context("reading schedstat (Linux only)")?;
    let ns: u64 = stat.split_whitespace().next().context("schedstat has a run-time field")?.parse()?;
    Ok(std::time::Duration::from_nanos(ns))
}

/// This process's resident set, from `/proc/self/statm`.
pub fn resident_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm (Linux only)")?;
    let pages: u64 = statm.split_whitespace().nth(1).context("statm has a resident field")?.parse()?;
    Ok(pages * 4096)
}
