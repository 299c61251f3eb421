//! The measurements of `afc-lab bench dissuasion`: the stream of signals through
//! `core::step`, closed loop (as fast as one thread goes) and open loop at a rate
//! (coordinated-omission corrected); the floor (validating a signal and naming its person,
//! what any state must do); and back-matching cases against the kept signals.

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use dissuasion::core::{self, CoreConfig, Input, Order, Rejection, State, Step};
use dissuasion::events::DissuasionEvent;
use domain::{CaseId, FraudType, TimeMs};
use hdrhistogram::Histogram;
use identifiers::Identifier;

use super::generate::{Arrival, SECRET};
use crate::bench::blocking::measure::thread_cpu;
use crate::load::cpu;

/// How long after its order a carrier confirms an SMS warning, in simulated ms: delivery
/// receipts come back within seconds.
pub const SMS_ANSWER_DELAY_MS: u64 = 2_000;
/// One SMS in this many is not delivered (the phone off, the number gone): the task moves
/// to a call.
pub const SMS_UNDELIVERED_EVERY: u64 = 100;
/// Largest value a latency histogram tracks, ns (a minute); larger ones are recorded as it.
const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;

pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3)?)
}

fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    histogram.saturating_record((elapsed.as_nanos() as u64).clamp(1, HISTOGRAM_MAX_NS));
}

/// What the inputs of a run caused.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub signals: u64,
    pub kept: u64,
    pub evidence: u64,
    pub opened: u64,
    pub escalated: u64,
    pub closed: u64,
    pub sms_orders: u64,
    pub answers: u64,
    /// Refusals by kind (`duplicate`, a signal's reason, `queue_full`, ...).
    pub refused: BTreeMap<String, u64>,
}

impl Tally {
    fn count(&mut self, step: &Result<Step, Rejection>) {
        match step {
            Ok(step) => {
                self.kept += u64::from(step.signal.is_some());
                for event in &step.events {
                    match event {
                        DissuasionEvent::EvidenceAdded { .. } => self.evidence += 1,
                        DissuasionEvent::TaskOpened { .. } => self.opened += 1,
                        DissuasionEvent::TaskEscalated { .. } => self.escalated += 1,
                        DissuasionEvent::TaskClosed { .. } => self.closed += 1,
                        _ => {}
                    }
                }
                self.sms_orders += step.orders.len() as u64;
            }
            Err(rejection) => *self.refused.entry(kind(rejection)).or_insert(0) += 1,
        }
    }

    pub fn refusals(&self) -> String {
        if self.refused.is_empty() {
            return "none".into();
        }
        self.refused.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
    }
}

fn kind(rejection: &Rejection) -> String {
    match rejection {
        Rejection::Signal(problem) => format!("{:?}", problem.reason),
        Rejection::DuplicateSignal { .. } => "duplicate".into(),
        Rejection::QueueFull { .. } => "queue_full".into(),
        other => format!("{other:?}").split([' ', '{', '(']).next().unwrap_or("other").to_owned(),
    }
}

fn opened_a_task(step: &Result<Step, Rejection>) -> bool {
    step.as_ref().is_ok_and(|s| s.events.iter().any(|e| matches!(e, DissuasionEvent::TaskOpened { .. })))
}

/// The carriers' answers to the SMS orders, in the order they are due.
#[derive(Default)]
pub struct Answers {
    due: VecDeque<(TimeMs, String)>,
    sent: u64,
}

impl Answers {
    fn ordered(&mut self, orders: &[Order], now_ms: TimeMs) {
        for Order::Sms { request_id, .. } in orders {
            self.due.push_back((now_ms + SMS_ANSWER_DELAY_MS, request_id.clone()));
        }
    }

    /// The next answer due at `now_ms`, as an input.
    fn next_due(&mut self, now_ms: TimeMs) -> Option<Input> {
        if self.due.front().is_none_or(|(at, _)| *at > now_ms) {
            return None;
        }
        let (_, request_id) = self.due.pop_front()?;
        self.sent += 1;
        Some(Input::SmsAnswered { request_id, delivered: !self.sent.is_multiple_of(SMS_UNDELIVERED_EVERY) })
    }

    /// Answers every order still awaited, at `now_ms` (between measurements, not timed).
    pub fn drain(&mut self, state: &mut State, config: &CoreConfig, now_ms: TimeMs, tally: &mut Tally) {
        while let Some((_, request_id)) = self.due.pop_front() {
            self.sent += 1;
            let input = Input::SmsAnswered { request_id, delivered: true };
            let step = core::step(state, config, input, now_ms);
            if let Ok(step) = &step {
                self.ordered(&step.orders, now_ms);
            }
            tally.count(&step);
            tally.answers += 1;
        }
    }

    pub fn awaited(&self) -> usize {
        self.due.len()
    }
}

/// Steps the SMS answers due at `now_ms`, each timed into `histogram`.
fn answer_due(
    state: &mut State,
    config: &CoreConfig,
    answers: &mut Answers,
    now_ms: TimeMs,
    histogram: &mut Histogram<u64>,
    tally: &mut Tally,
) {
    while let Some(input) = answers.next_due(now_ms) {
        let began = Instant::now();
        let step = core::step(state, config, input, now_ms);
        record(histogram, began.elapsed());
        if let Ok(step) = &step {
            answers.ordered(&step.orders, now_ms);
        }
        tally.count(&step);
        tally.answers += 1;
    }
}

/// Signals stepped one after another as fast as one thread goes.
pub struct ClosedLoop {
    pub signals: u64,
    pub elapsed: Duration,
    /// Share of the wall time the thread was on a CPU.
    pub on_cpu: f64,
    /// One step each, ns.
    pub step_ns: Histogram<u64>,
    pub answer_ns: Histogram<u64>,
    pub tally: Tally,
}

impl ClosedLoop {
    pub fn per_s(&self) -> f64 {
        self.signals as f64 / self.elapsed.as_secs_f64()
    }
}

pub fn closed_loop(
    state: &mut State,
    config: &CoreConfig,
    arrivals: Vec<Arrival>,
    answers: &mut Answers,
) -> anyhow::Result<ClosedLoop> {
    let mut run = ClosedLoop {
        signals: arrivals.len() as u64,
        elapsed: Duration::ZERO,
        on_cpu: 0.0,
        step_ns: histogram()?,
        answer_ns: histogram()?,
        tally: Tally::default(),
    };
    let cpu_before = thread_cpu()?;
    let began = Instant::now();
    for Arrival { now_ms, signal } in arrivals {
        answer_due(state, config, answers, now_ms, &mut run.answer_ns, &mut run.tally);
        let started = Instant::now();
        let step = core::step(state, config, Input::Signal(signal), now_ms);
        record(&mut run.step_ns, started.elapsed());
        if let Ok(step) = &step {
            answers.ordered(&step.orders, now_ms);
        }
        run.tally.signals += 1;
        run.tally.count(&step);
    }
    run.elapsed = began.elapsed();
    run.on_cpu = (thread_cpu()? - cpu_before).as_secs_f64() / run.elapsed.as_secs_f64();
    Ok(run)
}

/// Signals stepped at their due times, open loop.
pub struct OpenLoop {
    pub rate: f64,
    pub measured: u64,
    pub warmup: u64,
    /// From each measured signal's due time to its step's end, ns (CO-corrected).
    pub latency_ns: Histogram<u64>,
    /// The same, for the signals whose step opened a task.
    pub opened_ns: Histogram<u64>,
    /// Each step alone, ns.
    pub step_ns: Histogram<u64>,
    pub answer_ns: Histogram<u64>,
    /// Start of the step after its due time, ns (the lateness the steps before caused).
    pub late_ns: Histogram<u64>,
    /// Of the measured window's wall time: stepping (signals and answers), the thread on a
    /// CPU (stepping, and waking from its sleeps), and the thread ready to run but waiting
    /// for a CPU others had (the run delay of /proc/thread-self/schedstat).
    pub busy: f64,
    pub on_cpu: f64,
    pub waiting: f64,
    /// Others' use of the machine during the measured window, % of one core.
    pub others_pct: Option<f64>,
    /// Direct compactions the kernel stalled an allocation for during the window, on the
    /// whole machine (`compact_stall` of /proc/vmstat): a huge page found only by moving
    /// others can stop a thread for tens of ms.
    pub compaction_stalls: Option<u64>,
    pub elapsed: Duration,
    pub tally: Tally,
}

/// When the measured window began: the time, the thread's schedstat, the machine's CPU ticks
/// and the compaction stalls then.
type WindowStart = (Instant, Schedstat, Option<(u64, u64)>, Option<u64>);

/// Steps `arrivals` at `rate` a second from now, signal `i` due at `start + i / rate`, each
/// measured from its due time (a step that runs late makes the next ones late, and their
/// lateness counts); the first `warmup` are stepped but not recorded.
pub fn open_loop(
    state: &mut State,
    config: &CoreConfig,
    arrivals: Vec<Arrival>,
    rate: f64,
    warmup: u64,
    answers: &mut Answers,
) -> anyhow::Result<OpenLoop> {
    let mut run = OpenLoop {
        rate,
        measured: (arrivals.len() as u64).saturating_sub(warmup),
        warmup,
        latency_ns: histogram()?,
        opened_ns: histogram()?,
        step_ns: histogram()?,
        answer_ns: histogram()?,
        late_ns: histogram()?,
        busy: 0.0,
        on_cpu: 0.0,
        waiting: 0.0,
        others_pct: None,
        compaction_stalls: None,
        elapsed: Duration::ZERO,
        tally: Tally::default(),
    };
    let mut busy = Duration::ZERO;
    let mut window_start: Option<WindowStart> = None;
    let start = Instant::now() + Duration::from_millis(10);
    for (i, Arrival { now_ms, signal }) in arrivals.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if now < due {
            std::thread::sleep((due - now).max(IDLE_SLEEP));
        }
        let measured = i as u64 >= warmup;
        if measured && window_start.is_none() {
            window_start = Some((Instant::now(), Schedstat::read()?, cpu::machine_ticks(), compaction_stalls()));
        }
        let began = Instant::now();
        if measured {
            record(&mut run.late_ns, began - due);
        }
        answer_due(state, config, answers, now_ms, &mut run.answer_ns, &mut run.tally);
        let stepped = Instant::now();
        let step = core::step(state, config, Input::Signal(signal), now_ms);
        let done = Instant::now();
        if let Ok(step) = &step {
            answers.ordered(&step.orders, now_ms);
        }
        run.tally.signals += 1;
        run.tally.count(&step);
        if measured {
            busy += done - began;
            record(&mut run.step_ns, done - stepped);
            record(&mut run.latency_ns, done - due);
            if opened_a_task(&step) {
                record(&mut run.opened_ns, done - due);
            }
        }
    }
    if let Some((began, sched_before, machine_before, stalls_before)) = window_start {
        run.compaction_stalls = stalls_before.zip(compaction_stalls()).map(|(b, a)| a.saturating_sub(b));
        run.elapsed = began.elapsed();
        let wall = run.elapsed.as_secs_f64();
        run.busy = busy.as_secs_f64() / wall;
        let sched = Schedstat::read()?;
        let on_cpu = (sched.on_cpu - sched_before.on_cpu).as_secs_f64();
        run.on_cpu = on_cpu / wall;
        run.waiting = (sched.waiting - sched_before.waiting).as_secs_f64() / wall;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        run.others_pct = machine_before
            .zip(cpu::machine_ticks())
            .map(|(before, after)| (cpu::busy_pct(before, after, cores) - 100.0 * on_cpu / wall).max(0.0));
    }
    Ok(run)
}

/// When no signal is due, the stepping thread sleeps at least this long, as an engine
/// waits for its next batch: what comes meanwhile is stepped when it wakes, and the wait
/// counts in those signals' latency. Sleeping rather than spinning leaves the core to others
/// while there is nothing to do (a spinning thread is the first the scheduler takes a shared
/// core from); a shorter sleep would be within the timer's slack (50 µs) anyway.
pub const IDLE_SLEEP: Duration = Duration::from_micros(500);

/// This thread's time on a CPU and time ready but waiting for one, from
/// /proc/thread-self/schedstat (Linux).
#[derive(Clone, Copy)]
struct Schedstat {
    on_cpu: Duration,
    waiting: Duration,
}

impl Schedstat {
    fn read() -> anyhow::Result<Schedstat> {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
        let mut fields = stat.split_whitespace().map(str::parse::<u64>);
        let mut next = || -> anyhow::Result<Duration> {
            Ok(Duration::from_nanos(fields.next().ok_or_else(|| anyhow::anyhow!("a short schedstat"))??))
        };
        Ok(Schedstat { on_cpu: next()?, waiting: next()? })
    }
}

/// The machine's `compact_stall` count (/proc/vmstat), if it can be read.
fn compaction_stalls() -> Option<u64> {
    let vmstat = std::fs::read_to_string("/proc/vmstat").ok()?;
    vmstat.lines().find_map(|line| line.strip_prefix("compact_stall ")).and_then(|n| n.trim().parse().ok())
}

/// What a step must do whatever the state: validate the signal (two numbers normalised by
/// libphonenumber for a call, its identifier by its kind) and name its person (a keyed
/// SipHash of the number); and the state's first read, the key in the dedup table.
pub struct Floor {
    pub validate_ns: Histogram<u64>,
    pub validate_mean_ns: f64,
    pub person_mean_ns: f64,
    pub seen_mean_ns: f64,
    pub scam_mean_ns: f64,
}

/// Times the floor's parts over `arrivals` (not consumed).
pub fn floor(state: &State, config: &CoreConfig, arrivals: &[Arrival]) -> anyhow::Result<Floor> {
    let mut validate_ns = histogram()?;
    let mut signals = Vec::with_capacity(arrivals.len());
    let began = Instant::now();
    for Arrival { now_ms, signal } in arrivals {
        let started = Instant::now();
        let valid = core::validate(signal, *now_ms, config.signal_retention_ms);
        record(&mut validate_ns, started.elapsed());
        if let Ok(valid) = valid {
            signals.push(valid);
        }
    }
    let validate_mean_ns = began.elapsed().as_nanos() as f64 / arrivals.len().max(1) as f64;
    let n = signals.len().max(1) as f64;
    let began = Instant::now();
    for signal in &signals {
        black_box(SECRET.person(&signal.subscriber));
    }
    let person_mean_ns = began.elapsed().as_nanos() as f64 / n;
    let began = Instant::now();
    for signal in &signals {
        black_box(state.seen.contains_key(&signal.key));
    }
    let seen_mean_ns = began.elapsed().as_nanos() as f64 / n;
    let identifiers: Vec<&Identifier> = signals
        .iter()
        .filter_map(|s| match &s.body {
            dissuasion::events::SignalBody::Contact { identifier, .. } => Some(identifier),
            _ => None,
        })
        .collect();
    let began = Instant::now();
    for identifier in &identifiers {
        black_box(state.scam.get(*identifier));
    }
    let scam_mean_ns = began.elapsed().as_nanos() as f64 / identifiers.len().max(1) as f64;
    Ok(Floor { validate_ns, validate_mean_ns, person_mean_ns, seen_mean_ns, scam_mean_ns })
}

/// Back-matching: each case names `per_case` identifiers nobody knew, each with the kept
/// signals it reached.
pub struct Cases {
    pub per_case: usize,
    /// One case's step (decide and apply), ns.
    pub case_ns: Histogram<u64>,
    /// The thread's time on a CPU during it, ns: the rest, others had its core.
    pub case_cpu_ns: Histogram<u64>,
    /// Reading the named identifiers' kept signals alone (no evidence made), ns: the floor.
    pub scan_ns: Histogram<u64>,
    pub evidence_per_case: f64,
    pub tasks_per_case: f64,
    pub tally: Tally,
}

/// Steps `cases` cases of `per_case` identifiers each from `targets` (consumed from the
/// front), at `now_ms`; between cases (untimed) the carriers confirm every SMS the case
/// ordered, as they would within seconds.
#[allow(clippy::too_many_arguments)]
pub fn back_matching(
    state: &mut State,
    config: &CoreConfig,
    targets: &mut std::vec::IntoIter<Identifier>,
    cases: u32,
    per_case: usize,
    first_case: u64,
    now_ms: TimeMs,
    answers: &mut Answers,
) -> anyhow::Result<Cases> {
    let mut run = Cases {
        per_case,
        case_ns: histogram()?,
        case_cpu_ns: histogram()?,
        scan_ns: histogram()?,
        evidence_per_case: 0.0,
        tasks_per_case: 0.0,
        tally: Tally::default(),
    };
    let city = config.city.clone();
    let mut drained = Tally::default();
    for c in 0..u64::from(cases) {
        let identifiers: Vec<Identifier> = targets.by_ref().take(per_case).collect();
        anyhow::ensure!(identifiers.len() == per_case, "not enough target identifiers for the cases");
        let began = Instant::now();
        let mut read = 0u64;
        for identifier in &identifiers {
            for kept in state.seen.filed_under(identifier) {
                read = read.wrapping_add(kept.at_ms ^ u64::from(kept.matched));
            }
        }
        black_box(read);
        record(&mut run.scan_ns, began.elapsed());
        let input = Input::CaseReported {
            case_id: CaseId::derive(&city, first_case + c),
            fraud_type: FraudType::PigButchering,
            reported_at_ms: now_ms,
            identifiers,
        };
        let (began, cpu) = (Instant::now(), thread_cpu()?);
        let step = core::step(state, config, input, now_ms);
        record(&mut run.case_ns, began.elapsed());
        record(&mut run.case_cpu_ns, thread_cpu()? - cpu);
        if let Ok(step) = &step {
            answers.ordered(&step.orders, now_ms);
        }
        run.tally.count(&step);
        if let Err(rejection) = step {
            anyhow::bail!("case {c} refused: {rejection}");
        }
        answers.drain(state, config, now_ms, &mut drained);
    }
    run.evidence_per_case = run.tally.evidence as f64 / f64::from(cases);
    run.tasks_per_case = run.tally.opened as f64 / f64::from(cases);
    Ok(run)
}
