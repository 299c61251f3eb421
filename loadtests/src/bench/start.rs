//! `afc-lab bench start`: how long freezing takes to start on a long log, and whether the
//! memory its state keeps grows with the cases it closed.
//!
//! Setup: a freezing store (real redb file) holding a log of `--events` events, written by
//! freezing's own core from synthetic cases — each reported with one payment into a mule
//! account (accounts shared by [`CASES_PER_ACCOUNT`] cases), stopped, traced to the end and
//! frozen: 5 events a case, every case closed — moving the state's cold part out every
//! [`EVICT_EVERY_EVENTS`] events and saving a snapshot every [`SNAPSHOT_EVERY_EVENTS`], as
//! the engine does.
//! Memory: after each quarter of the log, a process of its own starts on it (snapshot, cold
//! rows, the events after the snapshot) and prints the resident set that adds; flat means
//! closed cases leave memory. Then `--runs` starts in this process, each timed: open the
//! store, rebuild the state, list the requests owed (what `freezing::shell` does before it
//! serves). The floor, measured in the same run: reading the log's rows without decoding or
//! applying them.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::report::{Destination, Transfer};
use domain::{AccountRef, CaseId, City, Fen, Service, TimeMs};
use events::Payload;
use freezing::core::{self, Action, Cold, CoreConfig, Input, State, Statement, Step};
use freezing::limits::{EVICT_EVERY_EVENTS, SNAPSHOT_EVERY_EVENTS};
use freezing::shell::{Chores, Upkeep, snapshot};
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
    /// Events in freezing's log (by default just short of two snapshot intervals: a start
    /// then replays nearly a whole interval, the worst case).
    #[arg(long, default_value_t = 2 * SNAPSHOT_EVERY_EVENTS - 10_000)]
    pub events: u64,
    /// Starts measured.
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
    /// Internal: start on this store (snapshot, cold rows, tail) in this process and print
    /// the resident set the state adds (each memory point runs in a process of its own, so
    /// no allocator keeps what an earlier point freed).
    #[arg(long, hide = true)]
    pub probe_store: Option<std::path::PathBuf>,
}

pub async fn start(options: StartBench) -> anyhow::Result<()> {
    if let Some(path) = &options.probe_store {
        return probe_memory(path);
    }
    anyhow::ensure!(options.events >= 4 * EVENTS_PER_CASE, "--events must be at least {}", 4 * EVENTS_PER_CASE);
    anyhow::ensure!(options.runs >= 1, "--runs must be at least 1");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("freezing.redb");
    let city = City::parse("hangzhou")?;
    let producer = Producer { city: city.clone(), service: Service::Freezing };
    let cases = options.events / EVENTS_PER_CASE;

    // The log is written in quarters, each by a start on the store as a restart would make
    // (snapshot, cold rows, tail) that then records cases as the engine does; after each,
    // what the running state keeps in memory. Flat means: not growing with the cases closed.
    println!("memory (the state as the engine keeps it, after each quarter of the log):");
    let written = Instant::now();
    let mut writer = LogWriter::new(&city);
    for quarter in 1..=4 {
        let store = Store::open(&path, producer.clone(), domain::system_clock())?;
        writer.write(&store, cases * quarter / 4).await?;
        let state = &writer.state;
        println!(
            "  {:>9} events, {:>7} cases closed: in memory {} holds, {} closed ids, {} cases open; the state encoded {:.2} MB",
            cases * quarter / 4 * EVENTS_PER_CASE,
            cases * quarter / 4,
            state.holds.len(),
            state.closed.len(),
            state.cases.len(),
            snapshot::encode(state).len() as f64 / 1e6
        );
    }
    let file_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    println!(
        "setup: freezing log of {} events ({cases} cases, {} mule accounts, every case closed), cold part moved out every {EVICT_EVERY_EVENTS} events, a snapshot every {SNAPSHOT_EVERY_EVENTS}, redb file {file_mb:.0} MB, written in {:.1} s",
        cases * EVENTS_PER_CASE,
        cases.div_ceil(CASES_PER_ACCOUNT),
        written.elapsed().as_secs_f64()
    );
    // A start, in a process of its own: until its first write moves them out, it holds
    // what the events since the last snapshot left.
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "start", "--probe-store"])
        .arg(&path)
        .output()?;
    anyhow::ensure!(output.status.success(), "the memory probe failed: {}", String::from_utf8_lossy(&output.stderr));
    let line = String::from_utf8(output.stdout)?;
    let fields: Vec<f64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    let [mb, holds, closed, open, replayed] = fields[..] else { anyhow::bail!("the memory probe said {line:?}") };
    println!(
        "  a start on the whole log adds {mb:.1} MB resident: {replayed} events replayed after the snapshot, {holds} holds, {closed} closed ids, {open} cases open in memory until its first write"
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
    Ok(())
}

/// Prints the resident set a start on `path` adds (snapshot, cold rows, tail), and what the
/// state keeps in memory.
fn probe_memory(path: &std::path::Path) -> anyhow::Result<()> {
    let city = City::parse("hangzhou")?;
    let store = Store::open(path, Producer { city, service: Service::Freezing }, domain::system_clock())?;
    let before = resident_mb()?;
    let (state, rebuilt) = snapshot::rebuild(&store)?;
    let after = resident_mb()?;
    println!(
        "{} {} {} {} {}",
        after - before,
        state.holds.len(),
        state.closed.len(),
        state.cases.len(),
        rebuilt.replayed
    );
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

/// Writes synthetic cases, each decided by freezing's core as it would be live, into a
/// store's log, with snapshots that move the state's cold part out as the engine's do.
struct LogWriter {
    config: CoreConfig,
    state: State,
    city: City,
    balances: std::collections::BTreeMap<u64, u64>,
    written: u64,
}

impl LogWriter {
    fn new(city: &City) -> LogWriter {
        LogWriter {
            config: CoreConfig::default(),
            state: State::default(),
            city: city.clone(),
            balances: std::collections::BTreeMap::new(),
            written: 0,
        }
    }

    /// Starts on `store` as freezing would (snapshot, cold rows, tail) and writes cases up to
    /// the `upto`-th into it, moving the cold part out and saving snapshots as the engine does.
    async fn write(&mut self, store: &Store, upto: u64) -> anyhow::Result<()> {
        let (state, rebuilt) = snapshot::rebuild(store)?;
        self.state = state;
        let mut upkeep = Upkeep::new(rebuilt.cold.clone(), SNAPSHOT_EVERY_EVENTS, EVICT_EVERY_EVENTS, rebuilt.replayed);
        let mut batch = Vec::with_capacity(WRITE_BATCH_EVENTS);
        while self.written < upto {
            let n = self.written;
            self.written += 1;
            batch.extend(self.case(n)?);
            if batch.len() < WRITE_BATCH_EVENTS && self.written < upto {
                continue;
            }
            let events = std::mem::take(&mut batch);
            let chores = upkeep.after(&mut self.state, events.len() as u64);
            let receipt = chores.as_ref().map(Chores::receipt);
            store
                .write_deferred(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                    for event in events {
                        let case_id = event.case_id().cloned();
                        ctx.append(case_id, None, Payload::Freezing(event))?;
                    }
                    if let Some(chores) = &chores {
                        chores.write(ctx)?;
                    }
                    Ok(())
                })
                .await
                .map_err(|e| anyhow::anyhow!("writing the log: {e}"))?;
            if let Some(receipt) = receipt {
                receipt.committed();
            }
        }
        anyhow::ensure!(self.state.cases.is_empty(), "every synthetic case closes");
        // The store closes when its last handle goes: the state's is one.
        self.state.set_cold(Cold::default());
        Ok(())
    }

    /// The events of synthetic case `n`: reported, its mule stopped (or read), frozen.
    fn case(&mut self, n: u64) -> anyhow::Result<Vec<events::FreezingEvent>> {
        let (config, state) = (&self.config, &mut self.state);
        let now: TimeMs = 1_700_000_000_000 + n * 1_000;
        let case_id = CaseId::derive(&self.city, n);
        let mule = n / CASES_PER_ACCOUNT;
        let account = AccountRef::parse(&format!("icbc:62220202{mule:08}"))?;
        let amount = 10_000 + (n % 97) * 1_000;
        let balance = self.balances.entry(mule).or_insert(0);
        *balance += amount;
        let transfers = vec![Transfer {
            from_account: None,
            to: Destination::Account(account.clone()),
            amount: Fen::new(amount),
            at_ms: now - 60_000,
        }];
        let reported = Input::CaseReported {
            case_id: case_id.clone(),
            reported_at_ms: now,
            transfers,
            reported_loss: Fen::new(amount),
        };
        let Step { mut events, actions } = core::step(state, config, reported, now)?;
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
        let first = n.is_multiple_of(CASES_PER_ACCOUNT);
        let statement = Statement {
            stop_no: u8::from(first),
            held: Fen::new(*balance),
            expires_at_ms: if first { now + 48 * HOUR_MS } else { 0 },
            since_ms: now - 60_000 - freezing::rule::ARRIVAL_WINDOW_MS,
            entries: vec![entry],
        };
        let answered =
            Input::AccountAnswered { case_id: case_id.clone(), hop, asked_at_ms: now, result: Ok(statement) };
        events.extend(core::step(state, config, answered, now)?.events);
        let frozen = FreezeReply {
            status: FreezeStatus::Frozen,
            frozen_fen: Fen::new(amount),
            expires_at_ms: now + 180 * 24 * HOUR_MS,
            frozen_at_ms: now,
            queued_behind: None,
        };
        let request_id = core::awaited_freeze(state, &case_id, &account).context("the claim awaits its freeze")?;
        let answer = Input::FreezeAnswered { case_id, account, request_id, result: Ok(frozen) };
        events.extend(core::step(state, config, answer, now)?.events);
        Ok(events)
    }
}
