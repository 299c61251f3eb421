//! Bounds of the store, in one place.

/// Most operations run in one group-commit transaction. Large enough to amortise the fsync
/// over a burst (a 25-account trail answers in a burst); small enough that one batch's
/// commit does not hold every caller for long.
pub const MAX_BATCH_OPS: usize = 512;

/// Nice value of a [`crate::WriterPriority::Background`] writer thread (0 is normal, 19 the
/// lowest). At 10 the thread gets about a tenth of a core it shares with one normal thread:
/// enough, since a writer that falls behind commits bigger (cheaper) batches.
pub const BACKGROUND_WRITER_NICE: i32 = 10;

/// Shortest time between the starts of two durable commits of a
/// [`crate::WriterPriority::Background`] writer. Bounds its fsyncs to 200 per second; its
/// callers wait up to this much longer for their commit.
pub const BACKGROUND_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(5);

/// Most [`crate::Durability::Deferred`] operations in one batch. They run after every other
/// waiting operation, so this bounds how long a latency-critical write (a report) can wait
/// behind projection writes: about this many small operations.
pub const MAX_DEFERRED_PER_BATCH: usize = 64;

/// Most operations waiting for the writer (per queue: deferred operations have their own). Callers wait (back-pressure) beyond this.
pub const WRITE_QUEUE_DEPTH: usize = 4096;

/// Longest a [`crate::Durability::Deferred`] write waits for an fsync to share. Bounds how
/// long a projection's acknowledgement waits; at most one fsync per this period is spent on
/// deferred writes alone.
pub const DEFERRED_LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// redb's page cache per store file (redb's own default is 1 GiB). A node runs a store per
/// service: the recent log, the outbox and the inbox's index are what writes touch, far
/// below this; a start reads the log once past it, sequentially.
pub const CACHE_BYTES: usize = 128 * 1024 * 1024;
