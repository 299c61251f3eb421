//! Open-loop load measurement, independent of what is being loaded.
//!
//! - [`schedule`]: request `i` is due at `start + i / rate` and is sent at its due time by a
//!   task of its own, without waiting for earlier requests ([`schedule::drive`]); the actual
//!   send time is kept, so the lateness of the sender is visible.
//! - [`recorder`]: latencies in an HdrHistogram, **measured from the intended (due) send
//!   time**, not from the actual one. A stalled sender or a queue in front of the system
//!   therefore shows up in the latency instead of being hidden (coordinated omission). Warm-up
//!   requests are left out by count or by time.
//! - [`window`]: the measured window after the warm-up, and rates (submissions/s,
//!   completions/s) counted inside it.
//! - [`LoadResult`]: what one run at one offered rate measured.
//! - [`chart`]: a hand-written SVG line chart (latency and throughput against offered rate).
//!
//! Every bound is in [`limits`].

pub mod chart;
pub mod limits;
pub mod recorder;
pub mod schedule;
pub mod window;

pub use recorder::{Percentiles, Recorder, Warmup};
pub use schedule::{Schedule, Sent, drive};
pub use window::Window;

/// What one open-loop run at one offered rate measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadResult {
    /// Requests per second the schedule offered.
    pub offered_per_s: f64,
    /// Requests actually sent per second inside the measured window.
    pub submitted_per_s: f64,
    /// Requests completed per second inside the measured window (whatever request they
    /// belong to): the throughput the system sustained.
    pub completed_per_s: f64,
    /// Requests due in the measured window (after the warm-up).
    pub measured: u64,
    /// Requests left out as warm-up.
    pub warmup_excluded: u64,
    /// Measured requests that did not complete within the timeout.
    pub incomplete: u64,
    /// Latency from the intended send time to completion (coordinated-omission corrected), µs.
    pub latency_us: Percentiles,
    /// Send lateness (actual send time minus due time) of the measured requests, µs.
    pub lateness_us: Percentiles,
}
