//! `afc-lab bench blocking`: lookups in the blocked-identifier index (`blocking::index`) with
//! `--blocks` identifiers loaded (ten million by default), next to the floor measured in the
//! same run.
//!
//! Setup: the index is built as a start builds it from the store's rows — each identifier's
//! canonical text fingerprinted and inserted — from [`generate`]d identifiers (85% Chinese
//! mobile numbers, 12% domains, 2% apps, 1% social accounts), made in chunks so the text is
//! never all in memory; the time to fingerprint and insert (the index's part of a start) is
//! timed apart from making the text. Memory: the process's resident set before and after the
//! build, and the bytes the index owns. Then `--queries` values, `--hit-percent` of them
//! blocked and the rest not, each normalised as a `check` normalises its value, are looked up
//! on one thread, `--passes` times over per round: lookups per second, each round. A separate
//! pass times every [`SAMPLE_EVERY`]-th lookup alone (hdrhistogram, ns) for p50/p99.
//!
//! The floor: one core reading 8 random bytes at a time from an array as large as the index
//! (the memory-bound cost any hash index pays at least once a lookup), and fingerprinting the
//! queries without reading the table (the compute part of a lookup).
//!
//! The index is then saved to a file in a temporary directory and loaded back
//! ([`Index::save`], [`Index::load`]): the time of each, the file's size, and a sample of
//! lookups answered alike by both.
//!
//! Then `check` over NATS ([`nats`]): p50/p99 at `--check-rate` a second against the NATS
//! request/reply floor of the same run (`--check-rate 0` leaves it out).

pub mod generate;
pub(crate) mod measure;
pub mod nats;
pub mod start;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use blocking::index::{Facts, Index};
use blocking::normalize::{Identifier, IdentifierKind};
use rand::{Rng, SeedableRng};

use measure::{Floor, Latency, Saved};

/// Lookups timed alone in the latency pass: one in this many (timing each would measure the
/// clock as much as the lookup).
pub const SAMPLE_EVERY: usize = 8;
/// Queries handed to [`Index::get_many`] at once (it reads the table for
/// [`blocking::limits::LOOKUP_BATCH`] of them at a time): a carrier's list of numbers.
const BATCH: usize = 256;
const BATCHED: &str = "in lists of 256 (get_many, as a carrier's list)";
/// Identifiers made and inserted at a time while the index is built.
const BUILD_CHUNK: usize = 65_536;
/// Issue goals (issue 14): lookups per second on one core with ten million blocks, resident
/// memory for them, and the start with ten million blocks (the index's part of it).
const GOAL_LOOKUPS_PER_S: f64 = 5e6;
const GOAL_MEMORY_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;
const GOAL_START: Duration = Duration::from_secs(5);
/// Issue goal: `check` over NATS at 20,000 a second, p99 within this factor of the floor's.
const GOAL_CHECK_FLOOR_FACTOR: f64 = 1.2;
/// Highest `--check-rate`: the harness's bound on an open-loop schedule.
const MAX_CHECK_RATE: f64 = crate::harness::limits::MAX_RATE_PER_S;

/// Options of `afc-lab bench blocking`.
#[derive(Debug, Clone, clap::Args)]
pub struct BlockingBench {
    /// Blocked identifiers loaded into the index.
    #[arg(long, default_value_t = 10_000_000)]
    pub blocks: u64,
    /// Distinct values looked up (normalised before the clock starts).
    #[arg(long, default_value_t = 1 << 19)]
    pub queries: usize,
    /// Of the queries, the percentage that are blocked (the rest are not in the index).
    #[arg(long, default_value_t = 50)]
    pub hit_percent: u8,
    /// Passes over the queries in one round.
    #[arg(long, default_value_t = 16)]
    pub passes: u32,
    /// Rounds of lookups measured.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Seed of the queries and of the reports filed for `check`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `check` commands a second over NATS (open loop); 0: no NATS measurement.
    #[arg(long, default_value_t = 20_000.0)]
    pub check_rate: f64,
    /// Seconds of `check`s measured (after a second of warm-up).
    #[arg(long, default_value_t = 10)]
    pub check_seconds: u64,
    /// Reports filed before the `check`s, whose scammers' numbers blocking then holds.
    #[arg(long, default_value_t = 200)]
    pub check_cases: u32,
}

impl BlockingBench {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=generate::MAX_GENERATED / 2).contains(&self.blocks),
            "--blocks must be 1 to {} (the misses are made past them)",
            generate::MAX_GENERATED / 2
        );
        anyhow::ensure!(self.queries >= SAMPLE_EVERY, "--queries must be at least {SAMPLE_EVERY}");
        anyhow::ensure!(self.hit_percent <= 100, "--hit-percent must be 0 to 100");
        anyhow::ensure!(self.passes >= 1 && self.rounds >= 1, "--passes and --rounds must be at least 1");
        anyhow::ensure!(
            self.check_rate == 0.0
                || (self.check_rate.is_finite() && (1.0..=MAX_CHECK_RATE).contains(&self.check_rate)),
            "--check-rate must be 0 or 1 to {MAX_CHECK_RATE}"
        );
        anyhow::ensure!((1..=600).contains(&self.check_seconds), "--check-seconds must be 1 to 600");
        anyhow::ensure!(
            (1..=simulator::limits::MAX_CASES_PER_CITY).contains(&self.check_cases),
            "--check-cases must be 1 to {}",
            simulator::limits::MAX_CASES_PER_CITY
        );
        Ok(())
    }
}

/// Runs the benchmark and prints its report on stdout.
pub async fn run(options: BlockingBench) -> anyhow::Result<()> {
    options.validate()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("afc-lab bench blocking");
    println!(
        "setup: {} cores, load average {} before the run; one thread; {} blocked identifiers ({}); {} queries, {}% blocked, {} passes a round, {} rounds, seed {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.join(" "),
        options.blocks,
        generate::MIX_PERCENT.iter().map(|(kind, p)| format!("{p}% {kind}")).collect::<Vec<_>>().join(", "),
        options.queries,
        options.hit_percent,
        options.passes,
        options.rounds,
        options.seed
    );

    let before = measure::resident_bytes()?;
    let (index, built) = build(options.blocks)?;
    let after = measure::resident_bytes()?;
    let per = |bytes: f64| bytes / options.blocks as f64;
    println!(
        "build: {:.2} s to fingerprint and insert {} identifiers ({:.1} M/s; making their text took {:.2} s more), longest probe {} slots",
        built.insert.as_secs_f64(),
        index.len(),
        index.len() as f64 / built.insert.as_secs_f64() / 1e6,
        built.generate.as_secs_f64(),
        index.longest_probe()
    );
    let (resident, owned) = ((after - before) as f64, index.bytes() as f64);
    println!(
        "memory: resident set +{:.0} MiB ({:.1} B an identifier); the index owns {:.0} MiB ({:.1} B an identifier)",
        resident / 1048576.0,
        per(resident),
        owned / 1048576.0,
        per(owned)
    );

    let queries = queries(&options)?;
    let expected_hits = queries.iter().filter(|(_, blocked)| *blocked).count() as u64;
    let queries: Vec<Identifier> = queries.into_iter().map(|(id, _)| id).collect();
    let lookups = queries.len() as u64 * u64::from(options.passes);
    let expected = expected_hits * u64::from(options.passes);
    let one = rounds(&options, lookups, expected, || lookup_passes(&index, &queries, options.passes))?;
    let many = rounds(&options, lookups, expected, || lookup_batches(&index, &queries, options.passes))?;
    for (how, rates) in [("one at a time (get, as a check asks)", &one), (BATCHED, &many)] {
        println!(
            "lookups {how}: {lookups} a round ({}% hits), one thread: {} lookups/s by round (the thread on a CPU that share of the time), median {:.2} M/s",
            options.hit_percent,
            rates
                .iter()
                .map(|r| format!("{:.2} M ({:.0}%)", r.per_s / 1e6, 100.0 * r.on_cpu))
                .collect::<Vec<_>>()
                .join(", "),
            median(rates) / 1e6
        );
    }
    let (one, many) = (median(&one), median(&many));
    let latency = Latency::measure(&index, &queries, SAMPLE_EVERY)?;
    println!(
        "latency of one lookup alone, ns ({} samples, one in {SAMPLE_EVERY}): p50 {}, p90 {}, p99 {}, max {} (reading the clock twice: p50 {} ns, included)",
        latency.samples, latency.p50_ns, latency.p90_ns, latency.p99_ns, latency.max_ns, latency.clock_ns
    );
    let floor = Floor::measure(&index, &queries, lookups)?;
    println!(
        "floor: random 8-byte reads over {:.0} MiB (the index's size), one thread: {:.2} M/s ({:.1} ns each); fingerprinting the queries alone: {:.2} M/s ({:.1} ns each)",
        owned / 1048576.0,
        floor.reads_per_s / 1e6,
        1e9 / floor.reads_per_s,
        floor.keys_per_s / 1e6,
        1e9 / floor.keys_per_s
    );
    println!(
        "against the floor: one at a time {:.0} ns a lookup, in batches {:.0} ns, where a random read costs {:.1} ns and a fingerprint {:.1} ns",
        1e9 / one,
        1e9 / many,
        1e9 / floor.reads_per_s,
        1e9 / floor.keys_per_s
    );
    let saved = Saved::measure(&index, &queries, SAMPLE_EVERY)?;
    println!(
        "index file: saved in {:.2} s ({:.0} MiB, {:.0} MiB/s, fsync included), loaded back in {:.2} s from the page cache, checked whole (target < 1 s); {} lookups sampled answer alike",
        saved.save.as_secs_f64(),
        saved.file_bytes as f64 / 1048576.0,
        saved.file_bytes as f64 / 1048576.0 / saved.save.as_secs_f64(),
        saved.load.as_secs_f64(),
        saved.checked
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let memory = resident.max(owned);
    println!(
        "goals (issue 14, at 10,000,000 blocks; this run has {}): >= 5 M lookups/s on one core: one at a time {:.2} M/s, {}; in batches {:.2} M/s, {}; memory <= 1 GiB: {:.0} MiB, {}; the index's part of a start < 5 s: {:.2} s, {}",
        options.blocks,
        one / 1e6,
        verdict(one >= GOAL_LOOKUPS_PER_S),
        many / 1e6,
        verdict(many >= GOAL_LOOKUPS_PER_S),
        memory / 1048576.0,
        verdict(memory <= GOAL_MEMORY_BYTES),
        built.insert.as_secs_f64(),
        verdict(built.insert < GOAL_START)
    );
    drop(index);
    drop(queries);
    if options.check_rate == 0.0 {
        println!("check over NATS: not measured (--check-rate 0)");
        return Ok(());
    }
    let check = nats::measure(options.check_rate, options.check_seconds, options.check_cases, options.seed).await?;
    let floor_p99 = check.floor_us.value_at_quantile(0.99);
    println!(
        "check over NATS (secured hangzhou node, {} report numbers blocked, half the checks on them): offered {}/s, answered {:.0}/s, {} errors; latency from the due time, µs: p50 {}, p90 {}, p99 {}, max {} ({} checks measured, send lateness p99 {} µs)",
        check.blocked_numbers,
        check.offered_per_s,
        check.answered_per_s,
        check.errors,
        check.check_us.p50,
        check.check_us.p90,
        check.check_us.p99,
        check.check_us.max,
        check.check_us.count,
        check.lateness_us_p99
    );
    println!(
        "check floor (NATS request/reply to a bare responder, sequential, same run), µs: p50 {}, p99 {}; check p99 / floor p99 = {:.2} (goal <= {GOAL_CHECK_FLOOR_FACTOR} at 20,000/s: {})",
        check.floor_us.value_at_quantile(0.5),
        floor_p99,
        check.check_us.p99 as f64 / floor_p99.max(1) as f64,
        verdict(check.check_us.p99 as f64 <= GOAL_CHECK_FLOOR_FACTOR * floor_p99 as f64 && check.errors == 0)
    );
    Ok(())
}

struct Built {
    /// Fingerprinting and inserting.
    insert: Duration,
    /// Making the identifiers' text (the store's rows stand-in).
    generate: Duration,
}

/// The index of the first `blocks` generated identifiers.
fn build(blocks: u64) -> anyhow::Result<(Index, Built)> {
    let blocks_usize = usize::try_from(blocks)?;
    let mut index = Index::with_capacity(blocks_usize);
    let mut built = Built { insert: Duration::ZERO, generate: Duration::ZERO };
    let mut chunk: Vec<(IdentifierKind, String)> = vec![(IdentifierKind::Phone, String::new()); BUILD_CHUNK];
    let mut next = 0u64;
    while next < blocks {
        let n = (blocks - next).min(BUILD_CHUNK as u64) as usize;
        let began = Instant::now();
        for (offset, (kind, text)) in chunk[..n].iter_mut().enumerate() {
            *kind = generate::value(next + offset as u64, text);
        }
        built.generate += began.elapsed();
        let began = Instant::now();
        for (kind, text) in &chunk[..n] {
            index.insert(index.stored_key(*kind, text), facts(next)).context("indexing")?;
        }
        built.insert += began.elapsed();
        next += n as u64;
    }
    anyhow::ensure!(index.len() as u64 == blocks, "{} identifiers indexed of {blocks}: two alike", index.len());
    Ok((index, built))
}

/// What a block of the benchmark holds: blocked in 2025, a case or two, one fraud type.
fn facts(n: u64) -> Facts {
    let since_ms = 1_735_689_600_000 + n % 31_536_000_000;
    let fraud_type = domain::FraudType::ALL[(n % domain::FraudType::ALL.len() as u64) as usize];
    Facts {
        blocked: Some(blocking::index::Blocked {
            since_ms,
            expires_at_ms: since_ms + 180 * 86_400_000,
            case_count: 1 + (n % 3) as u32,
            fraud_types: std::iter::once(fraud_type).collect(),
        }),
        pool_cards: 0,
    }
}

/// The queries, each normalised from its text, and whether it is blocked.
fn queries(options: &BlockingBench) -> anyhow::Result<Vec<(Identifier, bool)>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    (0..options.queries)
        .map(|_| {
            let blocked = rng.random_range(0..100u8) < options.hit_percent;
            let i = if blocked {
                rng.random_range(0..options.blocks)
            } else {
                options.blocks + rng.random_range(0..options.blocks)
            };
            let identifier = generate::identifier(i).with_context(|| format!("generated identifier {i}"))?;
            Ok((identifier, blocked))
        })
        .collect()
}

/// Lookups a second in each of `--rounds` rounds of `pass`, which must find `expected` hits.
fn rounds(
    options: &BlockingBench,
    lookups: u64,
    expected: u64,
    mut pass: impl FnMut() -> u64,
) -> anyhow::Result<Vec<Round>> {
    (0..options.rounds)
        .map(|_| {
            let (began, cpu) = (Instant::now(), measure::thread_cpu()?);
            let hits = pass();
            let (took, on_cpu) = (began.elapsed(), measure::thread_cpu()? - cpu);
            anyhow::ensure!(hits == expected, "{hits} hits where {expected} were blocked");
            Ok(Round { per_s: lookups as f64 / took.as_secs_f64(), on_cpu: on_cpu.as_secs_f64() / took.as_secs_f64() })
        })
        .collect()
}

/// One round of lookups.
struct Round {
    /// Lookups a second of wall time.
    per_s: f64,
    /// Share of the wall time the thread was on a CPU (the rest, others ran on its core).
    on_cpu: f64,
}

fn median(rounds: &[Round]) -> f64 {
    let mut sorted: Vec<f64> = rounds.iter().map(|r| r.per_s).collect();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Looks every query up `passes` times, in batches ([`Index::get_many`]); returns the hits.
fn lookup_batches(index: &Index, queries: &[Identifier], passes: u32) -> u64 {
    let mut hits = 0u64;
    let mut facts = Vec::with_capacity(BATCH);
    for _ in 0..passes {
        for batch in queries.chunks(BATCH) {
            index.get_many(batch, &mut facts);
            hits += facts.iter().filter(|f| f.is_some_and(|f| f.blocked.is_some())).count() as u64;
        }
    }
    std::hint::black_box(hits)
}

/// Looks every query up `passes` times, one after another; returns the hits.
fn lookup_passes(index: &Index, queries: &[Identifier], passes: u32) -> u64 {
    let mut hits = 0u64;
    for _ in 0..passes {
        for query in queries {
            if let Some(facts) = index.get(query) {
                hits += u64::from(facts.blocked.is_some());
            }
        }
    }
    std::hint::black_box(hits)
}
