//! The lab's targets, and the settings every measurement judged against them shares: what
//! `afc-lab bench freeze` and `afc-lab load` aim for (docs/benchmarks.md gives the results),
//! the highest rate they accept, and the freeze delay of their runs. The reports print the
//! targets from here, so a target changes in one place.

/// `bench freeze`, target 1: the time-to-freeze p50 within this factor of the floor
/// (depth × (round trip p50 + commit p50)): bounds what afc adds on top of the round trips
/// and commits a trace cannot do without.
pub const BENCH_TTF_P50_FLOOR_FACTOR: f64 = 3.0;

/// `bench freeze`, target 2: the time-to-freeze p99 under this many ms at
/// [`BENCH_RATE_PER_S`]: with banks answering at once, the tail is afc's own queueing.
pub const BENCH_TTF_P99_MS: u64 = 50;

/// `bench freeze`, target 2: the rate, cases per second, at which [`BENCH_TTF_P99_MS`] is
/// judged: a light load, so the tail is not one of saturation.
pub const BENCH_RATE_PER_S: f64 = 50.0;

/// `load`'s target: this many cases per second sustained (a case is one trail of
/// stop-payments, so 5,000 stop-payments/s) on the 2-core lab machine...
pub const LOAD_RATE_PER_S: f64 = 200.0;

/// ...with the p99 time-to-freeze, CO-corrected (from the intended submission to the last
/// stop holding money), under this many ms.
pub const LOAD_TTF_P99_MS: u64 = 100;

/// Share of a rate a run must reach to count as having kept up with it (bench: the
/// submitter's achieved rate; load: the completion rate): below it, something fell behind
/// and the latency was not measured at the rate asked for.
pub const KEPT_UP_SHARE: f64 = 0.95;

/// Highest rate `bench freeze` and `load` accept, cases per second: ten times the load
/// target, far past any knee the lab machine has shown.
pub const MAX_RATE_PER_S: f64 = 10.0 * LOAD_RATE_PER_S;

/// Delay from a stop-payment to its freeze in a measurement run: 24 h, far beyond any run,
/// so freezes do not compete with the traces being measured.
pub const MEASUREMENT_FREEZE_AFTER_MS: u64 = 24 * 60 * 60 * 1000;

/// Issue 15's third performance goal: freezing's load at this many cases per second...
pub const SIGNALS_GOAL_CASE_RATE_PER_S: f64 = 400.0;

/// ...keeps its time-to-freeze p99 (CO-corrected) under this many ms...
pub const SIGNALS_GOAL_TTF_P99_MS: u64 = 50;

/// ...with dissuasion consuming this many contact signals per second beside it (the whole
/// deployment's, `afc-lab load --signals`).
pub const SIGNALS_GOAL_PER_S: f64 = 10_000.0;

/// Highest `--signals` rate `load` accepts, signals per second: ten times the goal's, and the
/// harness schedule's own ceiling.
pub const MAX_SIGNAL_RATE_PER_S: f64 = 10.0 * SIGNALS_GOAL_PER_S;

/// Signals published and not yet acknowledged by the signal stream, at most, over the whole
/// deployment: beyond it the publisher waits for an acknowledgement and sends late (its
/// lateness is reported). At the goal's rate it is 0.4 s of signals.
pub const MAX_SIGNALS_IN_FLIGHT: usize = 4_096;

/// After the measured window, how long a point waits for dissuasion's signal consumer to
/// catch up (nothing pending), at most.
pub const SIGNAL_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `bench console`, target 1: the case page of a trail of [`CONSOLE_CASE_HOPS`] hops served in
/// under this many ms at p99 (request to full answer, on loopback).
pub const CONSOLE_PAGE_P99_MS: u64 = 100;

/// `bench console`: the hops of the case whose page is measured.
pub const CONSOLE_CASE_HOPS: u32 = 500;

/// `bench console`, target 2: that page's first contentful paint in headless Chromium, ms.
pub const CONSOLE_FIRST_PAINT_MS: u64 = 1_000;

/// `bench console`, target 3: what the metrics endpoint scraped every second and the
/// console's live updates (its subscription to the city's events, open pages told of
/// changes) cost together, in % of one core, at [`CONSOLE_COST_RATE_PER_S`]...
pub const CONSOLE_COST_PCT: f64 = 2.0;

/// ...cases per second.
pub const CONSOLE_COST_RATE_PER_S: f64 = 400.0;
