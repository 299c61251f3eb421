//! Times observed by the node's parts, kept with atomics for its `/metrics`: a store's durable
//! commits (`afc_store_commit_seconds`, kept by its writer), and [`Seconds`], the histogram
//! every other time of the node uses (a verb's answers, report to freeze).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets of a durable commit's time, in seconds: an fsync on a fast
/// disk to a stalled one.
pub const COMMIT_SECONDS_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// Times observed, bucketed by fixed upper bounds in seconds, with their count and sum.
#[derive(Debug)]
pub struct Seconds {
    bounds: &'static [f64],
    count: AtomicU64,
    nanos: AtomicU64,
    /// Observations by the first bucket their time fits in (not cumulative).
    buckets: Box<[AtomicU64]>,
}

impl Seconds {
    /// A histogram over `bounds` (ascending upper bounds, in seconds).
    pub fn new(bounds: &'static [f64]) -> Seconds {
        Seconds {
            bounds,
            count: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn record(&self, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        if let Some(bucket) = self.bounds.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Times observed.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Their sum.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Observations per bucket of [`Seconds::bounds`], each in its own bucket only.
    pub fn buckets(&self) -> Vec<u64> {
        self.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)).collect()
    }
}

/// The durable commits of a store since it opened.
#[derive(Debug)]
pub struct CommitStats(Seconds);

impl Default for CommitStats {
    fn default() -> Self {
        CommitStats(Seconds::new(&COMMIT_SECONDS_BUCKETS))
    }
}

impl CommitStats {
    pub(crate) fn record(&self, took: Duration) {
        self.0.record(took);
    }

    /// Durable commits.
    pub fn commits(&self) -> u64 {
        self.0.count()
    }

    /// Their time, summed.
    pub fn total(&self) -> Duration {
        self.0.total()
    }

    /// Commits per bucket of [`COMMIT_SECONDS_BUCKETS`], each in its own bucket only.
    pub fn buckets(&self) -> Vec<u64> {
        self.0.buckets()
    }

    /// The commits' times as a histogram.
    pub fn seconds(&self) -> &Seconds {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_counts_in_the_first_bucket_it_fits_and_in_the_sum() {
        let stats = CommitStats::default();
        stats.record(Duration::from_micros(700));
        stats.record(Duration::from_secs(3));
        assert_eq!((stats.commits(), stats.total()), (2, Duration::from_micros(3_000_700)));
        let mut buckets = vec![0; COMMIT_SECONDS_BUCKETS.len()];
        buckets[1] = 1;
        assert_eq!(stats.buckets(), buckets, "3 s is beyond the last bucket: in the count only");
    }
}
