//! `afc-lab bench dissuasion`: dissuasion's pure core (`dissuasion::core`) with 1 million
//! known scam identifiers and 10 million signals kept over the retention window, against
//! issue 15's goals: ingest and matching at 50,000 signals a second with p99 from a signal to
//! its task ≤ 50 ms, and back-matching a new case against the kept signals ≤ 100 ms.
//!
//! Setup ([`generate`]): `--known` identifiers stepped in through `core::step`
//! (`Input::ScamIdentifierKnown`, one in [`ENDED_EVERY`] then ended), then `--kept` rows kept
//! through `core::keep` in (time, key) order, as a start keeps the store's rows (timed: the
//! core's part of a start). The rows name suspects nobody has reported (so keeping them
//! without matching leaves the state `step` would have left) and the identifiers the
//! back-matching cases will name, `--reach` rows each. Resident memory before and after each.
//!
//! Then, on one thread (the core is one `&mut State`):
//! - the floor ([`measure::floor`]): validating a signal and naming its person, what any
//!   state must do, and the state's first reads;
//! - `--closed` fresh signals stepped one after another as fast as the thread goes: the
//!   core's throughput;
//! - `--warmup` + `--duration` s of fresh signals open loop at `--rate`: signal `i` due at
//!   `start + i / rate`, the thread sleeping when none is due (at least
//!   [`measure::IDLE_SLEEP`], as an engine waits for a batch), each measured from its due time
//!   (coordinated-omission corrected: a slow step makes the next ones late and their
//!   lateness counts), for every signal and for those whose step opened a task;
//! - back-matching ([`measure::back_matching`]): `--cases` cases naming one identifier with
//!   `--small-reach` kept signals (unless 0), then `--cases` naming one identifier, then
//!   `--cases` naming `--case-identifiers`, each identifier with `--reach` kept signals; each
//!   case's step timed, against reading those signals alone. Every kept signal of a named
//!   identifier must become evidence, or the run fails.
//!
//! Both the stream and the cases answer the SMS orders they cause as the carriers would
//! (delivered [`measure::SMS_ANSWER_DELAY_MS`] later, one in
//! [`measure::SMS_UNDELIVERED_EVERY`] not), so the SMS queue stays as a node's would.
//! Simulated time runs with the schedule; nothing here waits on a clock but the open loop.

pub mod generate;
pub mod measure;

use std::time::{Duration, Instant};

use dissuasion::core::{self, CoreConfig, Input, State};
use dissuasion::limits::{DAY_MS, MAX_IDENTIFIERS_PER_CASE, MAX_SIGNALS_PER_IDENTIFIER};
use domain::{City, FraudType, TimeMs};
use hdrhistogram::Histogram;

use crate::bench::blocking::measure::resident_bytes;
use crate::load::options::MAX_QUIET_WAIT_S;
use generate::{KeptRows, Sizes, Stream, World};
use measure::Answers;

/// Issue 15: signals a second a city node ingests and matches...
pub const GOAL_SIGNALS_PER_S: f64 = 50_000.0;
/// ...with p99 from a signal to its task at most this many ms below that rate.
pub const GOAL_P99_MS: f64 = 50.0;
/// Issue 15: back-matching a new case's identifiers against the kept signals, ms.
pub const GOAL_BACK_MATCH_MS: f64 = 100.0;
/// One known identifier in this many is ended after it is known (a block lifted or expired):
/// contacts after the end are nobody's evidence.
pub const ENDED_EVERY: u64 = 20;
/// Share of the open loop's window the stepping thread may wait for a CPU others have before
/// the run says it was disturbed: past it, its latencies are the machine's as much as the
/// core's (1% of the signals may have come during a wait: a p99 may be the waits' alone).
const DISTURBED_WAITING: f64 = 0.01;
/// When the benchmark's world stands: a Monday in November 2025, 09:00 in Beijing.
const T_BASE: TimeMs = 1_763_946_000_000;
/// How long before [`T_BASE`] the known identifiers became known: blocks last months.
const KNOWN_SPAN_MS: u64 = 180 * DAY_MS;
/// How far past the window's edge at the end of the stream the cases' signals start, so the
/// window has forgotten none of them when the cases come.
const TARGETS_AFTER_EDGE_MS: u64 = 60_000;
/// Fresh signals made at most (closed and open loop together): bounds the memory of the
/// generated stream (~200 B a signal).
const MAX_STREAM_SIGNALS: u64 = 50_000_000;
/// Highest `--rate`: one thread reading the clock between signals schedules at best a signal
/// every ~100 ns.
const MAX_RATE: f64 = 5_000_000.0;

/// Options of `afc-lab bench dissuasion`.
#[derive(Debug, Clone, clap::Args)]
pub struct DissuasionBench {
    /// Known scam identifiers (blocking's mirror), stepped in at setup.
    #[arg(long, default_value_t = 1_000_000)]
    pub known: u64,
    /// Signals kept over the retention window (rows, kept as a start keeps them).
    #[arg(long, default_value_t = 10_000_000)]
    pub kept: u64,
    /// Suspects the kept and fresh signals name (identifiers nobody has reported).
    #[arg(long, default_value_t = 1_000_000)]
    pub suspects: u64,
    /// People the suspects' kept signals reach (each identifier a case names reaches `--reach`
    /// people of its own besides).
    #[arg(long, default_value_t = 1_000_000)]
    pub people: u64,
    /// Fresh signals stepped closed loop (one after another, as fast as one thread goes).
    #[arg(long, default_value_t = 500_000)]
    pub closed: u64,
    /// Signals a second offered open loop.
    #[arg(long, default_value_t = GOAL_SIGNALS_PER_S)]
    pub rate: f64,
    /// Seconds measured open loop, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds of signals stepped open loop first and left out of the figures.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Back-matching cases of each shape (one identifier; `--case-identifiers`).
    #[arg(long, default_value_t = 20)]
    pub cases: u32,
    /// Identifiers the second shape of case names.
    #[arg(long, default_value_t = 5)]
    pub case_identifiers: usize,
    /// Kept signals of each identifier a case names: the people it reached in the window.
    #[arg(long, default_value_t = 10_000)]
    pub reach: u64,
    /// Kept signals of the identifier a first, smaller shape of case names (a gang number that
    /// reached fewer people); 0 leaves that shape out.
    #[arg(long, default_value_t = 1_000)]
    pub small_reach: u64,
    /// Seed of the signals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// After the setup, wait up to this many seconds for the machine to be idle (busy under
    /// 25% of one core for a second) before measuring; 0 measures at once.
    #[arg(long, default_value_t = 0)]
    pub quiet_wait: u64,
}

impl DissuasionBench {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.known >= 1 && self.suspects >= 1 && self.people >= 1,
            "--known, --suspects and --people must be at least 1"
        );
        anyhow::ensure!(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE,
            "--rate must be above 0 and at most {MAX_RATE}"
        );
        anyhow::ensure!((1..=600).contains(&self.duration), "--duration must be 1 to 600 s");
        anyhow::ensure!(self.warmup <= 600, "--warmup must be at most 600 s");
        anyhow::ensure!(
            self.closed + self.open_signals() <= MAX_STREAM_SIGNALS,
            "--closed plus --rate × (--warmup + --duration) must be at most {MAX_STREAM_SIGNALS} signals"
        );
        anyhow::ensure!(self.cases >= 1, "--cases must be at least 1");
        anyhow::ensure!(self.quiet_wait <= MAX_QUIET_WAIT_S, "--quiet-wait must be at most {MAX_QUIET_WAIT_S} seconds");
        anyhow::ensure!(
            (1..=MAX_IDENTIFIERS_PER_CASE).contains(&self.case_identifiers),
            "--case-identifiers must be 1 to {MAX_IDENTIFIERS_PER_CASE}"
        );
        anyhow::ensure!(
            (1..=MAX_SIGNALS_PER_IDENTIFIER as u64).contains(&self.reach),
            "--reach must be 1 to {MAX_SIGNALS_PER_IDENTIFIER} (signals kept per identifier)"
        );
        anyhow::ensure!(
            self.small_reach <= MAX_SIGNALS_PER_IDENTIFIER as u64,
            "--small-reach must be 0 to {MAX_SIGNALS_PER_IDENTIFIER} (signals kept per identifier)"
        );
        let targeted: u64 = self.target_reach().iter().sum();
        anyhow::ensure!(
            targeted <= self.kept / 2,
            "--kept must be at least twice the cases' signals: --cases × (--small-reach + (1 + --case-identifiers) × --reach) = {targeted}"
        );
        Ok(())
    }

    fn open_signals(&self) -> u64 {
        (self.rate * (self.warmup + self.duration) as f64).round() as u64
    }

    /// The shapes of case, in the order they run: identifiers a case names, and the kept
    /// signals of each.
    fn shapes(&self) -> Vec<(usize, u64)> {
        let small = (self.small_reach > 0).then_some((1, self.small_reach));
        small.into_iter().chain([(1, self.reach), (self.case_identifiers, self.reach)]).collect()
    }

    /// The kept signals of each identifier the cases name, in the order the cases name them.
    fn target_reach(&self) -> Vec<u64> {
        let cases = self.cases as usize;
        self.shapes().into_iter().flat_map(|(per_case, reach)| std::iter::repeat_n(reach, cases * per_case)).collect()
    }

    /// Identifiers the cases name.
    fn targets(&self) -> u64 {
        self.target_reach().len() as u64
    }
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / 1048576.0
}

fn us(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1e3
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1e6
}

/// p50 / p99 / p99.9 / max of a histogram of ns, in µs.
fn percentiles_us(histogram: &Histogram<u64>) -> String {
    format!(
        "p50 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}",
        us(histogram, 0.5),
        us(histogram, 0.99),
        us(histogram, 0.999),
        histogram.max() as f64 / 1e3
    )
}

/// Runs the benchmark and prints its report on stdout; fails when a fresh signal is refused
/// for anything but being a re-sent one, or a case leaves a kept signal of its identifiers
/// unmatched.
pub async fn run(options: DissuasionBench) -> anyhow::Result<()> {
    options.validate()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let busy_before = crate::load::cpu::machine_busy_before(Duration::from_secs(1)).await;
    let config = CoreConfig::new(City::parse("wuhan")?, generate::SECRET);
    let retention_ms = config.signal_retention_ms;
    println!("afc-lab bench dissuasion");
    println!(
        "setup: {} cores, load average {} before the run, machine busy {} over the second before; one thread (the core is one `&mut State`); {} known identifiers ({}; 1 in {ENDED_EVERY} ended); {} signals kept over {} days ({} of them from the {} identifiers the cases name, {} each, each reaching people of its own), the rest naming {} suspects and reaching {} people; seed {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.join(" "),
        busy_before.map_or("unknown".into(), |b| format!("{b:.0}% of one core")),
        options.known,
        crate::bench::blocking::generate::MIX_PERCENT
            .iter()
            .map(|(kind, p)| format!("{p}% {kind}"))
            .collect::<Vec<_>>()
            .join(", "),
        options.kept,
        retention_ms / DAY_MS,
        options.target_reach().iter().sum::<u64>(),
        options.targets(),
        options.shapes().iter().map(|(_, reach)| reach.to_string()).collect::<Vec<_>>().join(" or "),
        options.suspects,
        options.people,
        options.seed
    );

    let resident = || resident_bytes().map(|b| b as i64);
    let start_rss = resident()?;
    let began = Instant::now();
    let sizes = Sizes {
        known: options.known,
        suspects: options.suspects,
        people: options.people,
        reach: options.target_reach(),
    };
    let world = World::make(&sizes)?;
    println!(
        "world: {} identifiers normalised and {} people named in {:.1} s (resident set +{:.0} MiB: the benchmark's, not the core's)",
        options.known + options.suspects + options.targets(),
        world.people.len(),
        began.elapsed().as_secs_f64(),
        mib(resident()? - start_rss)
    );

    let mut state = State::default();
    let before_known = resident()?;
    let setup_now = T_BASE - retention_ms;
    let began = Instant::now();
    for (n, identifier) in world.known.iter().enumerate() {
        let n = n as u64;
        let since_ms = setup_now - KNOWN_SPAN_MS + n * KNOWN_SPAN_MS / options.known;
        let fraud_type = FraudType::ALL[(n % FraudType::ALL.len() as u64) as usize];
        let input =
            Input::ScamIdentifierKnown { identifier: identifier.clone(), since_ms, fraud_types: vec![fraud_type] };
        core::step(&mut state, &config, input, setup_now)?;
        if n % ENDED_EVERY == ENDED_EVERY - 1 {
            let until_ms = since_ms + (setup_now - since_ms) / 2;
            core::step(
                &mut state,
                &config,
                Input::ScamIdentifierEnded { identifier: identifier.clone(), until_ms },
                setup_now,
            )?;
        }
    }
    let known_took = began.elapsed();
    let after_known = resident()?;
    println!(
        "known: {} identifiers stepped in (`Input::ScamIdentifierKnown`, {} ended) in {:.2} s ({:.0}/s); resident set +{:.0} MiB ({:.0} B an identifier)",
        options.known,
        options.known / ENDED_EVERY,
        known_took.as_secs_f64(),
        options.known as f64 / known_took.as_secs_f64(),
        mib(after_known - before_known),
        (after_known - before_known) as f64 / options.known as f64
    );

    let rows = KeptRows {
        kept: options.kept,
        // The window's edge when the stream starts: it forgets the oldest as it goes.
        from_ms: T_BASE - retention_ms,
        targets_from_ms: T_BASE - retention_ms + stream_span_ms(&options) + TARGETS_AFTER_EDGE_MS,
        to_ms: T_BASE,
        retention_ms,
        seed: options.seed,
    };
    let began = Instant::now();
    let mut keeping = Duration::ZERO;
    rows.each(&world, |record| {
        let started = Instant::now();
        core::keep(&mut state, record);
        keeping += started.elapsed();
    });
    let kept_took = began.elapsed();
    let after_kept = resident()?;
    println!(
        "kept: {} rows kept (`core::keep`, in time order as a start keeps them) in {:.1} s of which `keep` {:.1} s ({:.2} M/s): the core's part of a start; resident set +{:.0} MiB ({:.0} B a kept signal)",
        options.kept,
        kept_took.as_secs_f64(),
        keeping.as_secs_f64(),
        options.kept as f64 / keeping.as_secs_f64() / 1e6,
        mib(after_kept - after_known),
        (after_kept - after_known) as f64 / options.kept as f64
    );

    let closed_stream = Stream { rate: options.rate, start_ms: T_BASE, first_id: options.kept, seed: options.seed };
    let closed_arrivals = closed_stream.make(&world, options.closed);
    let open_stream = Stream {
        rate: options.rate,
        start_ms: closed_stream.arrival_ms(options.closed) + 1,
        first_id: options.kept + options.closed,
        seed: options.seed ^ 1,
    };
    let open_arrivals = open_stream.make(&world, options.open_signals());

    crate::load::cpu::wait_quiet(Duration::from_secs(options.quiet_wait)).await;
    let busy = crate::load::cpu::machine_busy_before(Duration::from_secs(1)).await;
    println!(
        "measuring: machine busy {} over the second before{}",
        busy.map_or("unknown".into(), |b| format!("{b:.0}% of one core")),
        if options.quiet_wait > 0 {
            format!(" (waited up to {} s for it to be idle)", options.quiet_wait)
        } else {
            String::new()
        }
    );
    let floor = measure::floor(&state, &config, &closed_arrivals)?;
    println!(
        "floor (what any state must do, over the closed loop's {} signals): validate p50 {:.2} µs, p99 {:.2} µs, mean {:.2} µs; naming the person (keyed SipHash) {:.0} ns; the state's first reads: the signal's key in the dedup table {:.0} ns, its identifier among the known {:.0} ns",
        closed_arrivals.len(),
        us(&floor.validate_ns, 0.5),
        us(&floor.validate_ns, 0.99),
        floor.validate_mean_ns / 1e3,
        floor.person_mean_ns,
        floor.seen_mean_ns,
        floor.scam_mean_ns
    );

    let mut answers = Answers::default();
    let closed = measure::closed_loop(&mut state, &config, closed_arrivals, &mut answers)?;
    println!(
        "closed loop: {} signals in {:.2} s: {:.0} signals/s ({:.1} µs a signal; the thread on a CPU {:.0}% of the time); one step, µs: {}; SMS answers stepped between ({}): {}; caused {} evidence, {} tasks opened, {} escalated, {} closed; refused: {}",
        closed.signals,
        closed.elapsed.as_secs_f64(),
        closed.per_s(),
        1e6 / closed.per_s(),
        100.0 * closed.on_cpu,
        percentiles_us(&closed.step_ns),
        closed.answer_ns.len(),
        percentiles_us(&closed.answer_ns),
        closed.tally.evidence,
        closed.tally.opened,
        closed.tally.escalated,
        closed.tally.closed,
        closed.tally.refusals()
    );
    check_refusals(&closed.tally)?;

    let warmup = (options.rate * options.warmup as f64).round() as u64;
    let open = measure::open_loop(&mut state, &config, open_arrivals, options.rate, warmup, &mut answers)?;
    println!(
        "open loop: {} signals/s offered, {} measured over {:.2} s after {} of warm-up; latency from the due time (CO-corrected), µs: p50 {:.1}, p90 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}",
        options.rate,
        open.measured,
        open.elapsed.as_secs_f64(),
        open.warmup,
        us(&open.latency_ns, 0.5),
        us(&open.latency_ns, 0.9),
        us(&open.latency_ns, 0.99),
        us(&open.latency_ns, 0.999),
        open.latency_ns.max() as f64 / 1e3
    );
    println!(
        "open loop, signal to task opened ({} signals whose step opened a task), µs: {}; one step alone: {}; start lateness: {}; SMS answers ({}): {}",
        open.opened_ns.len(),
        percentiles_us(&open.opened_ns),
        percentiles_us(&open.step_ns),
        percentiles_us(&open.late_ns),
        open.answer_ns.len(),
        percentiles_us(&open.answer_ns)
    );
    println!(
        "open loop, the thread: stepping {:.0}% of the window (the core's share of one core at this rate), on a CPU {:.0}% (it sleeps at least {} µs when nothing is due), ready but waiting for a CPU {:.1}%; others used {} of the machine meanwhile, {} compaction stalls on the machine; caused {} evidence, {} tasks opened, {} escalated, {} closed; refused: {}",
        100.0 * open.busy,
        100.0 * open.on_cpu,
        measure::IDLE_SLEEP.as_micros(),
        100.0 * open.waiting,
        open.others_pct.map_or("unknown".into(), |p| format!("{p:.0}% of one core")),
        open.compaction_stalls.map_or("unknown".into(), |n| n.to_string()),
        open.tally.evidence,
        open.tally.opened,
        open.tally.escalated,
        open.tally.closed,
        open.tally.refusals()
    );
    check_refusals(&open.tally)?;

    let now_ms = open_stream.arrival_ms(options.open_signals()) + 1;
    let mut drained = measure::Tally::default();
    answers.drain(&mut state, &config, now_ms, &mut drained);
    let mut targets = world.targets.clone().into_iter();
    let mut worst_ms = 0.0f64;
    for (shape, (per_case, reach)) in options.shapes().into_iter().enumerate() {
        let first_case = shape as u64 * u64::from(options.cases);
        let cases = measure::back_matching(
            &mut state,
            &config,
            &mut targets,
            options.cases,
            per_case,
            first_case,
            now_ms,
            &mut answers,
        )?;
        let expected = per_case as u64 * reach;
        anyhow::ensure!(
            cases.tally.evidence == expected * u64::from(options.cases),
            "back-matching made {} evidence where the named identifiers kept {} signals",
            cases.tally.evidence,
            expected * u64::from(options.cases)
        );
        worst_ms = worst_ms.max(cases.case_ns.max() as f64 / 1e6);
        println!(
            "back-matching, {} cases naming {per_case} identifier(s) of {} kept signals each ({} evidence, {:.0} tasks opened a case): one case's step, ms: p50 {:.2}, p99 {:.2}, max {:.2} ({:.1} µs a person found, at p50), of which the thread on a CPU p50 {:.2}, max {:.2}; reading those signals alone (the floor): p50 {:.3} ms, max {:.3}",
            options.cases,
            reach,
            expected,
            cases.tasks_per_case,
            ms(&cases.case_ns, 0.5),
            ms(&cases.case_ns, 0.99),
            cases.case_ns.max() as f64 / 1e6,
            ms(&cases.case_ns, 0.5) * 1e3 / expected as f64,
            ms(&cases.case_cpu_ns, 0.5),
            cases.case_cpu_ns.max() as f64 / 1e6,
            ms(&cases.scan_ns, 0.5),
            cases.scan_ns.max() as f64 / 1e6
        );
    }
    let end_rss = resident()?;
    println!(
        "state at the end: {} people, {} tasks ({} open), {} scam identifiers, {} signals in the dedup table; process resident {:.0} MiB",
        state.people.len(),
        state.tasks.len(),
        state.open.values().map(|o| o.len()).sum::<usize>(),
        state.scam.len(),
        state.seen.len(),
        mib(end_rss)
    );

    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let p99_ms = ms(&open.latency_ns, 0.99);
    let opened_p99_ms = ms(&open.opened_ns, 0.99);
    println!(
        "goals (issue 15, the core alone on one thread; this run: {} known, {} kept): >= {GOAL_SIGNALS_PER_S} signals/s: closed loop {:.0}/s, {}; p99 signal -> task <= {GOAL_P99_MS} ms at {} signals/s: {:.3} ms ({:.3} for all signals), {}; back-matching <= {GOAL_BACK_MATCH_MS} ms: worst case {:.1} ms, {}",
        options.known,
        options.kept,
        closed.per_s(),
        verdict(closed.per_s() >= GOAL_SIGNALS_PER_S),
        options.rate,
        opened_p99_ms,
        p99_ms,
        verdict(options.rate >= GOAL_SIGNALS_PER_S && opened_p99_ms <= GOAL_P99_MS && p99_ms <= GOAL_P99_MS),
        worst_ms,
        verdict(worst_ms <= GOAL_BACK_MATCH_MS)
    );
    if open.waiting > DISTURBED_WAITING {
        println!(
            "disturbed: the stepping thread waited for a CPU {:.1}% of the open loop's window (others used {}): its latencies are the machine's as much as the core's",
            100.0 * open.waiting,
            open.others_pct.map_or("unknown".into(), |p| format!("{p:.0}% of one core"))
        );
    }
    println!(
        "not measured here: the shell's part of a signal (the NATS consumer, the row's write to redb, the events' append) on the node's other core"
    );
    Ok(())
}

/// Simulated time the closed and open loops span.
fn stream_span_ms(options: &DissuasionBench) -> u64 {
    ((options.closed + options.open_signals()) as f64 * 1000.0 / options.rate).ceil() as u64
}

/// Fresh signals are valid: anything refused but a re-sent signal, a full queue (a node
/// redelivers the input later) or a carrier's answer to an SMS no longer awaited (new evidence
/// moved its task on to a call first) is the benchmark's error.
fn check_refusals(tally: &measure::Tally) -> anyhow::Result<()> {
    let unexpected: Vec<String> = tally
        .refused
        .iter()
        .filter(|(kind, _)| !matches!(kind.as_str(), "duplicate" | "queue_full" | "NotAwaited"))
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    anyhow::ensure!(unexpected.is_empty(), "fresh signals refused: {}", unexpected.join(", "));
    Ok(())
}
