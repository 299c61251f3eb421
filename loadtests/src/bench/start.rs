//! `afc-lab bench start`: how long freezing takes to start on a long log, and how much memory
//! its state keeps as closed cases pile up.
//!
//! Setup: a freezing store (real redb file) holding a log of `--events` events, written by
//! freezing's own core from synthetic cases — each reported with one payment into a mule
//! account (accounts shared by [`CASES_PER_ACCOUNT`] cases), stopped, traced to the end and
//! frozen: 5 events a case, every case closed. Then, in this process, `--runs` starts: open
//! the store, replay the log into the state, list the requests owed (what `freezing::shell`
//! does before it serves), each timed. The floor, measured in the same run: reading the
//! log's rows without decoding or applying them. Memory: the resident set before and after
//! the state is rebuilt, at a quarter, half and all of the log, and what each closed case
//! adds (flat means: next to nothing).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::report::{Destination, Transfer};
use domain::{AccountRef, CaseId, City, Fen, Service, TimeMs};
use events::Payload;
use freezing::core::{self, Action, CoreConfig, Input, State, Statement, Step};
use freezing::limits::SNAPSHOT_EVERY_EVENTS;
use freezing::shell::snapshot;
use protocol::adapter::{Counterparty, Direction, FreezeReply, FreezeStatus, StatementEntry};
use store::redb::ReadableTable;
use store::{Producer, Store, StoreError, WriteError};

/// Cases whose payments go to one mule account.
pub const CASES_PER_ACCOUNT: u64 = 4;
/// Events appended per commit while the log is written.
const WRITE_BATCH_EVENTS: usize = 4_096;
const EVENTS_PER_CASE: u64 = 5;
const HOUR_MS: u64 = 3_600_000;

#[derive(clap::Args, Debug, Clone)]
pub struct StartBench {
    /// Events in freezing's log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Starts measured.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Internal: rebuild the state of this store's first `--probe-upto` events in this
    /// process and print its resident set (each memory point runs in a process of its own,
    /// so no allocator keeps what an earlier point freed).
    #[arg(long, hide = true, requires = "probe_upto")]
    pub probe_store: Option<std::path::PathBuf>,
    #[arg(long, hide = true)]
    pub probe_upto: Option<u64>,
}

pub async fn start(options: StartBench) -> anyhow::Result<()> {
    if let (Some(path), Some(upto)) = (&options.probe_store, options.probe_upto) {
        return probe_memory(path, upto);
    }
    anyhow::ensure!(options.events >= 4 * EVENTS_PER_CASE, "--events must be at least {}", 4 * EVENTS_PER_CASE);
    anyhow::ensure!(options.runs >= 1, "--runs must be at least 1");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("freezing.redb");
    let city = City::parse("hangzhou")?;
    let producer = Producer { city: city.clone(), service: Service::Freezing };
    let cases = options.events / EVENTS_PER_CASE;

    let written = Instant::now();
    {
        let store = Store::open(&path, producer.clone(), domain::system_clock())?;
        write_log(&store, &city, cases).await?;
    }
    let file_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    println!(
        "setup: freezing log of {} events ({cases} cases, {} mule accounts, every case closed), redb file {file_mb:.0} MB, written in {:.1} s",
        cases * EVENTS_PER_CASE,
        cases.div_ceil(CASES_PER_ACCOUNT),
        written.elapsed().as_secs_f64()
    );

    let store = Store::open(&path, producer, domain::system_clock())?;
    let mut floor = Vec::new();
    let mut starts = Vec::new();
    let mut whole = Vec::new();
    let mut replayed = 0;
    for _ in 0..options.runs {
        floor.push(timed(|| read_rows(&store))?.0);
        let (took, (state, owed, rebuilt)) = timed(|| -> anyhow::Result<_> {
            let (state, rebuilt) = snapshot::rebuild(&store)?;
            let owed = core::pending_actions(&state, 0).len();
            Ok((state, owed, rebuilt))
        })?;
        anyhow::ensure!(owed == 0 && state.cases.is_empty(), "a closed log owes nothing and keeps no case");
        replayed = rebuilt.replayed;
        starts.push(took);
        whole.push(timed(|| rebuild(&store, u64::MAX))?.0);
    }
    println!(
        "start (snapshot + {replayed} events after it + requests owed), {} runs: p50 {} ms, max {} ms",
        options.runs,
        percentile(&mut starts, 50),
        percentile(&mut starts, 100),
    );
    println!(
        "  replay of the whole log instead: p50 {} ms; floor (read every row, no decoding): p50 {} ms",
        percentile(&mut whole, 50),
        percentile(&mut floor, 50)
    );

    drop(store);
    println!(
        "memory (resident set added by reading the log and rebuilding the state, MB; each point in a process of its own):"
    );
    let mut points = Vec::new();
    // The first point replays the log and applies nothing: redb's cache and the decoding,
    // the baseline of the others.
    for part in [0, 4, 2, 1] {
        let upto = (cases * EVENTS_PER_CASE).checked_div(part).unwrap_or(0);
        let output = std::process::Command::new(std::env::current_exe()?)
            .args(["bench", "start", "--probe-store"])
            .arg(&path)
            .args(["--probe-upto", &upto.to_string()])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "the memory probe failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8(output.stdout)?;
        let fields: Vec<f64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
        let [mb, closed, holds, open] = fields[..] else { anyhow::bail!("the memory probe said {line:?}") };
        let state = mb - points.first().map_or(mb, |(_, baseline)| *baseline);
        println!(
            "  {upto:>9} events: {closed:>7} closed cases, {holds:>6} holds, {open} cases open: {mb:.1} MB, the state {state:.1} MB"
        );
        points.push((closed, mb));
    }
    if let (Some((c0, m0)), Some((c1, m1))) = (points.get(1), points.last()) {
        let per_case = (m1 - m0) * 1e6 / (c1 - c0).max(1.0);
        println!(
            "  each closed case adds {per_case:.0} bytes: its id, and its share of the holds ({CASES_PER_ACCOUNT} cases an account)"
        );
    }
    Ok(())
}

/// Prints the resident set the state of `path`'s first `upto` events adds, and its size.
fn probe_memory(path: &std::path::Path, upto: u64) -> anyhow::Result<()> {
    let city = City::parse("hangzhou")?;
    let store = Store::open(path, Producer { city, service: Service::Freezing }, domain::system_clock())?;
    let before = resident_mb()?;
    let state = rebuild(&store, upto)?;
    let after = resident_mb()?;
    println!("{} {} {} {}", after - before, state.closed.len(), state.holds.len(), state.cases.len());
    Ok(())
}

/// The state rebuilt from the log's first `upto` events.
fn rebuild(store: &Store, upto: u64) -> Result<State, StoreError> {
    let mut state = State::default();
    let mut seen = 0;
    store.replay(|envelope| {
        seen += 1;
        if seen <= upto
            && let Payload::Freezing(event) = &envelope.payload
        {
            core::apply(&mut state, event);
        }
    })?;
    Ok(state)
}

fn read_rows(store: &Store) -> Result<u64, StoreError> {
    store.read_blocking(|tx| {
        let table = tx.open_table(store::EVENTS)?;
        let mut bytes = 0u64;
        for row in table.iter()? {
            bytes += row?.1.value().len() as u64;
        }
        Ok(bytes)
    })
}

fn timed<R, E: Into<anyhow::Error>>(f: impl FnOnce() -> Result<R, E>) -> anyhow::Result<(Duration, R)> {
    let began = Instant::now();
    let result = f().map_err(Into::into)?;
    Ok((began.elapsed(), result))
}

fn percentile(values: &mut [Duration], p: usize) -> u128 {
    values.sort_unstable();
    let index = (values.len() * p / 100).min(values.len() - 1);
    values[index].as_millis()
}

/// This process's resident set, from `/proc/self/statm`.
fn resident_mb() -> anyhow::Result<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm (Linux only)")?;
    let pages: f64 = statm.split_whitespace().nth(1).context("statm has a resident field")?.parse()?;
    Ok(pages * 4096.0 / 1e6)
}

/// Writes the events of `cases` synthetic cases, each decided by freezing's core as it
/// would be live, into `store`'s log.
async fn write_log(store: &Store, city: &City, cases: u64) -> anyhow::Result<()> {
    let config = CoreConfig::default();
    let mut state = State::default();
    let mut balances = std::collections::BTreeMap::<u64, u64>::new();
    let mut batch = Vec::with_capacity(WRITE_BATCH_EVENTS);
    let mut since_snapshot = 0;
    for n in 0..cases {
        let now: TimeMs = 1_700_000_000_000 + n * 1_000;
        let case_id = CaseId::derive(city, n);
        let mule = n / CASES_PER_ACCOUNT;
        let account = AccountRef::parse(&format!("icbc:62220202{mule:08}"))?;
        let amount = 10_000 + (n % 97) * 1_000;
        let balance = balances.entry(mule).or_insert(0);
        *balance += amount;
        let transfers =
            vec![Transfer { to: Destination::Account(account.clone()), amount: Fen::new(amount), at_ms: now - 60_000 }];
        let reported = Input::CaseReported {
            case_id: case_id.clone(),
            reported_at_ms: now,
            transfers,
            reported_loss: Fen::new(amount),
        };
        let Step { events, actions } = core::step(&mut state, &config, reported, now)?;
        batch.extend(events);
        let hop = match &actions[..] {
            [Action::Stop { hop, .. } | Action::Read { hop, .. }] => *hop,
            other => anyhow::bail!("one stop or read per case, got {other:?}"),
        };
        let entry = StatementEntry {
            transfer_id: format!("v{n}"),
            at_ms: now - 60_000,
            direction: Direction::In,
            amount_fen: Fen::new(amount),
            counterparty: Counterparty::Account(AccountRef::parse("abc:6228480000000001")?),
            balance_after_fen: Fen::new(*balance),
        };
        let first = n % CASES_PER_ACCOUNT == 0;
        let statement = Statement {
            stop_no: u8::from(first),
            held: Fen::new(*balance),
            expires_at_ms: if first { now + 48 * HOUR_MS } else { 0 },
            since_ms: now - 60_000 - freezing::rule::ARRIVAL_WINDOW_MS,
            entries: vec![entry],
        };
        let answered =
            Input::AccountAnswered { case_id: case_id.clone(), hop, asked_at_ms: now, result: Ok(statement) };
        batch.extend(core::step(&mut state, &config, answered, now)?.events);
        let frozen = FreezeReply {
            status: FreezeStatus::Frozen,
            frozen_fen: Fen::new(amount),
            expires_at_ms: now + 180 * 24 * HOUR_MS,
            frozen_at_ms: now,
            queued_behind: None,
        };
        let request_id = core::awaited_freeze(&state, &case_id, &account).context("the claim awaits its freeze")?;
        let answer = Input::FreezeAnswered { case_id, account, request_id, result: Ok(frozen) };
        batch.extend(core::step(&mut state, &config, answer, now)?.events);
        if batch.len() >= WRITE_BATCH_EVENTS || n + 1 == cases {
            let events = std::mem::take(&mut batch);
            // As the engine does: the state goes with the events every so many.
            since_snapshot += events.len() as u64;
            let snapshot = (since_snapshot >= SNAPSHOT_EVERY_EVENTS).then(|| {
                since_snapshot = 0;
                snapshot::encode(&state)
            });
            store
                .write_deferred(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                    for event in events {
                        let case_id = event.case_id().clone();
                        ctx.append(Some(case_id), None, Payload::Freezing(event))?;
                    }
                    if let Some(bytes) = &snapshot {
                        ctx.save_snapshot(snapshot::SNAPSHOT, bytes)?;
                    }
                    Ok(())
                })
                .await
                .map_err(|e| anyhow::anyhow!("writing the log: {e}"))?;
        }
    }
    anyhow::ensure!(state.cases.is_empty(), "every synthetic case closes");
    Ok(())
}
