//! `afc-lab bench blocking-start`: blocking's start with `--blocks` blocks in its store (ten
//! million by default), against issue 14's goal of under 5 s.
//!
//! Setup: a store written as the engine writes it — each block reported by a case of its own
//! through the core (`core::step`: normalised, blocked, ordered from its carriers; every
//! order confirmed), the events appended to the log and the rows the steps changed written in
//! the same transaction, [`CASES_PER_WRITE`] cases a write — then the index file saved as a
//! clean stop saves it. Identifiers from [`super::generate`] (85% mobile numbers, 12% domains,
//! 2% apps, 1% social accounts), each given as a victim gives it.
//!
//! Measured, `--rounds` times: the store opened (redb) and `blocking::shell::start::open` —
//! what `blocking::shell::run` does before it serves — with the resident set a start adds; then
//! once without the index file (the index built from the rows: a first start, or after a lost
//! file). The floor: reading the index file alone (`Index::load`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use blocking::core::{self, CoreConfig, Input, State};
use blocking::index::Index;
use blocking::normalize::IdentifierKind;
use blocking::shell::rows;
use blocking::shell::start::{self, Indexed};
use domain::report::Contacts;
use domain::{CaseId, City, FraudType, Service, system_clock};
use events::Payload;
use store::{Producer, Store, WriteError};

use super::generate;
use super::measure::resident_bytes;

/// Cases stepped and written in one write.
const CASES_PER_WRITE: u64 = 20_000;
/// Issue 14: start time with ten million blocks in the store.
const GOAL_START: Duration = Duration::from_secs(5);
const T0: u64 = 1_763_946_000_000;

/// Options of `afc-lab bench blocking-start`.
#[derive(Debug, Clone, clap::Args)]
pub struct StartBench {
    /// Blocks in the store, each reported by a case of its own.
    #[arg(long, default_value_t = 10_000_000)]
    pub blocks: u64,
    /// Starts measured with the index file.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Where the store is written (kept); a temporary directory by default (removed).
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Start on the store already in `--data` (written by an earlier run) instead of writing one.
    #[arg(long, requires = "data")]
    pub reuse: bool,
    /// Empty the kernel's page cache before the first start (root only), so that it reads the
    /// store and the index file from the disk, as after a reboot.
    #[arg(long)]
    pub drop_caches: bool,
}

/// What the run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub blocks: u64,
    pub events: u64,
    pub indexed: usize,
    /// Each start in order: the first in fresh process memory (and a cold page cache with
    /// `--drop-caches`), the others after it.
    pub starts: Vec<Duration>,
    pub without_file: Duration,
    pub load_alone: Duration,
    pub resident_added: u64,
    /// Bytes the started index owns (`Index::bytes`).
    pub index_bytes: usize,
}

fn open(path: &Path, city: &City) -> anyhow::Result<Store> {
    let producer = Producer { city: city.clone(), service: Service::Blocking };
    Store::open(path, producer, system_clock()).context("open the store")
}

fn contacts(i: u64, text: &mut String) -> Contacts {
    let kind = generate::value(i, text);
    let mut contacts = Contacts::default();
    match kind {
        IdentifierKind::Phone => contacts.phones.push(text.clone()),
        IdentifierKind::Domain => contacts.urls.push(format!("https://{text}/login")),
        IdentifierKind::App => contacts.apps.push(text.clone()),
        IdentifierKind::Social | IdentifierKind::Ip => contacts.social.push(text.clone()),
    }
    contacts
}

/// Writes `blocks` blocks into the store at `path` as the engine does, and saves the index file.
fn write_store(path: &Path, city: &City, blocks: u64, runtime: &tokio::runtime::Runtime) -> anyhow::Result<u64> {
    let store = open(path, city)?;
    let config = CoreConfig::new(city.clone());
    let opened = runtime.block_on(start::open(&store)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut state, source): (State, _) = (opened.state, opened.rows);
    let mut text = String::new();
    let started = Instant::now();
    let mut events_written = 0;
    for (write_no, first) in (1..).zip((0..blocks).step_by(CASES_PER_WRITE as usize)) {
        let mut events = Vec::new();
        for i in first..(first + CASES_PER_WRITE).min(blocks) {
            let at = T0 + i;
            let input = Input::CaseReported {
                case_id: CaseId::derive(city, i),
                reported_at_ms: at,
                fraud_type: FraudType::ALL[(i % FraudType::ALL.len() as u64) as usize],
                contacts: contacts(i, &mut text),
            };
            let step = core::step(&mut state, &config, input, at).map_err(|e| anyhow::anyhow!("case {i}: {e}"))?;
            events.extend(step.events);
            for order in step.orders {
                let answered = Input::OrderAnswered { request_id: order.request_id, result: Ok(()) };
                events.extend(
                    core::step(&mut state, &config, answered, at + 500).map_err(|e| anyhow::anyhow!("{e}"))?.events,
                );
            }
        }
        events_written += events.len() as u64;
        let changed = state.take_rows(write_no);
        runtime
            .block_on(store.write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                for event in events {
                    ctx.append(event.case_id().cloned(), None, Payload::Blocking(event))?;
                }
                rows::write(ctx.tx(), &changed, ctx.last_seq())?;
                Ok(())
            }))
            .context("write a chunk")?;
        source.refresh();
        state.committed(write_no);
        let done = (first + CASES_PER_WRITE).min(blocks);
        if done.is_multiple_of(1_000_000) || done == blocks {
            eprintln!("  {done} blocks written ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    // A clean stop's save of the index.
    let opened = runtime.block_on(start::open(&store)).map_err(|e| anyhow::anyhow!("{e}"))?;
    opened.index.save(&start::index_path(&store), opened.seq).context("save the index")?;
    Ok(events_written)
}

/// One start, timed.
struct Started {
    took: Duration,
    indexed: Indexed,
    /// Identifiers indexed, and the bytes the index owns.
    len: usize,
    bytes: usize,
    /// The resident set the start added to the process.
    added: u64,
}

/// Opens the store and starts on it, timed.
fn timed_start(path: &Path, city: &City, runtime: &tokio::runtime::Runtime) -> anyhow::Result<Started> {
    let before = resident_bytes()?;
    let started = Instant::now();
    let store = open(path, city)?;
    let opened = runtime.block_on(start::open(&store)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = started.elapsed();
    let added = resident_bytes()?.saturating_sub(before);
    Ok(Started { took, indexed: opened.indexed, len: opened.index.len(), added, bytes: opened.index.bytes() })
}

/// Writes the store, then measures the starts (see the module documentation).
pub fn measure(options: &StartBench) -> anyhow::Result<Measured> {
    anyhow::ensure!(
        (1..=generate::MAX_GENERATED).contains(&options.blocks),
        "--blocks must be 1 to {}",
        generate::MAX_GENERATED
    );
    anyhow::ensure!((1..=20).contains(&options.rounds), "--rounds must be 1 to 20");
    let city = City::parse("hangzhou").expect("a known city");
    let temporary = tempfile::tempdir()?;
    let dir = options.data.clone().unwrap_or_else(|| temporary.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("blocking.redb");
    let index_file = path.with_extension("index");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let events = if options.reuse {
        let store = open(&path, &city)?;
        rows::meta(&store)?.context("no rows in the store to reuse")?.1
    } else {
        anyhow::ensure!(!path.exists(), "{} exists: give an empty --data directory, or --reuse", path.display());
        write_store(&path, &city, options.blocks, &runtime)?
    };
    if options.drop_caches {
        let synced = std::process::Command::new("sync").status().context("sync")?;
        anyhow::ensure!(synced.success(), "sync failed");
        std::fs::write("/proc/sys/vm/drop_caches", "3").context("drop the page cache (root only)")?;
    }
    let mut starts = Vec::new();
    let (mut indexed, mut resident_added, mut index_bytes) = (0, 0, 0);
    for round in 0..options.rounds {
        let started = timed_start(&path, &city, &runtime)?;
        let from = &started.indexed;
        anyhow::ensure!(matches!(from, Indexed::File { followed: 0, .. }), "the start did not load the file: {from:?}");
        starts.push(started.took);
        (indexed, index_bytes) = (started.len, started.bytes);
        if round == 0 {
            resident_added = started.added;
        }
    }
    let loaded = Instant::now();
    let (index, _) = Index::load(&index_file).context("load the index file")?;
    let load_alone = loaded.elapsed();
    drop(index);
    let aside = dir.join("blocking.index.aside");
    std::fs::rename(&index_file, &aside)?;
    let built = timed_start(&path, &city, &runtime);
    std::fs::rename(&aside, &index_file)?;
    let built = built?;
    let (from, len) = (&built.indexed, built.len);
    anyhow::ensure!(matches!(from, Indexed::Rows { .. }) && len == indexed, "{from:?}, {len} against {indexed}");
    let without_file = built.took;
    Ok(Measured {
        blocks: options.blocks,
        events,
        indexed,
        starts,
        without_file,
        load_alone,
        resident_added,
        index_bytes,
    })
}

pub async fn run(options: StartBench) -> anyhow::Result<()> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let drop_caches = options.drop_caches;
    let measured = tokio::task::spawn_blocking(move || measure(&options)).await??;
    let first = measured.starts[0];
    let mut starts = measured.starts.clone();
    starts.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    println!("afc-lab bench blocking-start");
    println!("setup");
    println!("  machine                 {cores} cores, load average {load} before the run");
    println!(
        "  store                   {} blocks, each reported by a case of its own through the core, every carrier order confirmed; {} events in the log",
        measured.blocks, measured.events
    );
    println!("  index file              saved as a clean stop saves it; {} identifiers", measured.indexed);
    println!("start (store opened + blocking::shell::start::open)");
    let cache = if drop_caches { "page cache emptied before it" } else { "page cache as the run left it" };
    println!(
        "  first start             {:.0} ms ({cache}); resident set added {} MiB (less when the process reuses memory it freed), the index owns {} MiB",
        ms(&first),
        measured.resident_added >> 20,
        measured.index_bytes >> 20
    );
    println!(
        "  with the index file     p50 {:.0} ms, max {:.0} ms over {} starts",
        ms(&starts[starts.len() / 2]),
        ms(starts.last().expect("rounds ≥ 1")),
        starts.len()
    );
    println!("  without it (from rows)  {:.0} ms", ms(&measured.without_file));
    println!("floor (same run)");
    println!("  Index::load alone       {:.0} ms (after the starts)", ms(&measured.load_alone));
    let worst = *starts.last().expect("rounds ≥ 1");
    let verdict = if worst < GOAL_START { "met" } else { "NOT MET" };
    println!(
        "goal (issue 14): start with 10 million blocks in the store < 5 s: {verdict} at {} blocks (worst start {:.2} s)",
        measured.blocks,
        worst.as_secs_f64()
    );
    Ok(())
}
