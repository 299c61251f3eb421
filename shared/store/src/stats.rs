//! How long a store's durable commits take, kept by its writer with atomics for the node's
//! `/metrics` (`afc_store_commit_seconds`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets of a durable commit's time, in seconds: an fsync on a fast
/// disk to a stalled one.
pub const COMMIT_SECONDS_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// The durable commits of a store since it opened.
#[derive(Debug, Default)]
pub struct CommitStats {
    commits: AtomicU64,
    nanos: AtomicU64,
    /// Commits by the first bucket their time fits in (not cumulative).
    buckets: [AtomicU64; COMMIT_SECONDS_BUCKETS.len()],
}

impl CommitStats {
    pub(crate) fn record(&self, took: Duration) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        if let Some(bucket) = COMMIT_SECONDS_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Durable commits.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Their time, summed.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// Commits per bucket of [`COMMIT_SECONDS_BUCKETS`], each in its own bucket only.
    pub fn buckets(&self) -> [u64; COMMIT_SECONDS_BUCKETS.len()] {
        std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
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
        let mut buckets = [0; COMMIT_SECONDS_BUCKETS.len()];
        buckets[1] = 1;
        assert_eq!(stats.buckets(), buckets, "3 s is beyond the last bucket: in the count only");
    }
}
