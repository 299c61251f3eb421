//! `afc-lab bench province`: the province coordinator against issue 17's goals — consume
//! ≥ 50,000 events/s from the province stream, and a monthly report over 10 million events
//! in ≤ 200 ms.
//!
//! Setup: `--events` envelopes of `--cities` cities over one month (March 2025, Beijing
//! time), in the mix a case makes (one `case_reported`, 25 `account_stopped` of which one in
//! eight on an account another city's case also stopped, 12 `account_frozen`, one
//! `trace_completed`, 5 `identifier_blocked`, 3 dissuasion tasks opened, one return), each
//! producer's sequence contiguous. Measured:
//! 1. **the core**, one thread: each envelope encoded as the relay sends it, then decoded
//!    (the floor: what any consumer of the stream must do) and absorbed; the rates of the
//!    floor and of decode + absorb;
//! 2. **the report**: the month's, a week's and a day's report over everything absorbed,
//!    `--reports` times each, p50 / p99 / max; and the state's snapshot (size, time);
//! 3. **the shell** on a real nats-server: `--stream-events` of them published into a stream
//!    named `AFC_PROVINCE`, then the coordinator started on it, timed from its start to the
//!    last message absorbed (its `status`).

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use coordinator::core::{FlagMargin, Period, State, absorb, report};
use domain::{AccountRef, CaseId, City, Fen, FraudType, TimeMs};
use events::dissuasion::{Admission, Grade, PersonId, PersonKey, TaskId, TaskKind};
use events::{BlockingEvent, DissuasionEvent, Envelope, FreezingEvent, IntakeEvent, Payload, RestitutionEvent};
use hdrhistogram::Histogram;
use identifiers::Identifier;

/// Issue 17: events consumed per second from the province stream.
pub const GOAL_EVENTS_PER_S: f64 = 50_000.0;
/// Issue 17: a monthly report over 10 million events, ms.
pub const GOAL_REPORT_MS: f64 = 200.0;
/// Envelopes a case makes in the generated mix.
const PER_CASE: u64 = 48;
/// 00:00 on 1 March 2025, Beijing time.
const MARCH_1: TimeMs = 1_740_758_400_000;
const MONTH_MS: u64 = 31 * 24 * 3_600_000;

/// Options of `afc-lab bench province`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProvinceBench {
    /// Envelopes absorbed by the core.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Cities of the province (the first N of the lab's city names, then `city<n>`).
    #[arg(long, default_value_t = 11)]
    pub cities: usize,
    /// Times each report is made.
    #[arg(long, default_value_t = 200)]
    pub reports: u32,
    /// Envelopes published into a real stream for the shell (0: no shell part).
    #[arg(long, default_value_t = 500_000)]
    pub stream_events: u64,
}

/// The cities of the bench.
fn cities(n: usize) -> anyhow::Result<Vec<City>> {
    (0..n)
        .map(|i| match crate::deployment::CITIES.get(i) {
            Some(name) => City::parse(name),
            None => City::parse(&format!("city{i}")),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("a bench city: {e}"))
}

/// The generator: envelope `n` of the whole run, in order of each producer's sequence.
struct Mix {
    cities: Vec<City>,
    /// Next sequence per (city, service index).
    seqs: Vec<[u64; 5]>,
}

impl Mix {
    fn new(cities: Vec<City>) -> Mix {
        let seqs = vec![[0; 5]; cities.len()];
        Mix { cities, seqs }
    }

    fn envelope(&mut self, n: u64, total: u64) -> Envelope {
        let case_no = n / PER_CASE;
        let part = n % PER_CASE;
        let c = (case_no % self.cities.len() as u64) as usize;
        let city = self.cities[c].clone();
        let at = MARCH_1 + (n.saturating_mul(MONTH_MS) / total.max(1));
        let case_id = CaseId::derive(&city, case_no);
        let mule = |k: u64| {
            // One in eight stops lands on an account shared across cities.
            let shared = k.is_multiple_of(8);
            let number =
                if shared { 6_222_000_000_000_000 + (case_no / 16) % 10_000 } else { 6_228_000_000_000_000 + n };
            AccountRef::parse(&format!("icbc:{number}")).expect("a generated account parses")
        };
        let (service, payload) = match part {
            0 => (
                0,
                Payload::Intake(IntakeEvent::CaseReported {
                    case_id,
                    received_at_ms: at,
                    fraud_type: FraudType::PigButchering,
                    transfers: Vec::new(),
                    contacts: Default::default(),
                    reported_loss_fen: Fen::new(1_000_000 + case_no % 1_000),
                }),
            ),
            1..=25 => (
                1,
                Payload::Freezing(FreezingEvent::AccountStopped {
                    case_id,
                    hop: part as u32,
                    account: mule(part),
                    stop_no: 1,
                    held_fen: Fen::new(30_000),
                    claim_fen: Fen::new(30_000),
                    onward: Vec::new(),
                    cashed_out_fen: Fen::ZERO,
                    stopped_at_ms: at,
                    expires_at_ms: at + 48 * 3_600_000,
                    answered_in_ms: Some(40),
                    first_onward_hop: None,
                    depth: Some(1),
                }),
            ),
            26..=37 => (
                1,
                Payload::Freezing(FreezingEvent::AccountFrozen {
                    case_id,
                    account: mule(part - 25),
                    frozen_fen: Fen::new(30_000),
                    frozen_at_ms: at,
                    expires_at_ms: at + 180 * 24 * 3_600_000,
                }),
            ),
            38 => (
                1,
                Payload::Freezing(FreezingEvent::TraceCompleted {
                    case_id,
                    completed_at_ms: at,
                    accounts_stopped: 25,
                    claimed_fen: Fen::new(750_000),
                    cashed_out_fen: Fen::ZERO,
                    untraced_fen: Fen::ZERO,
                    time_to_freeze_ms: Some(20_000 + case_no % 600_000),
                }),
            ),
            39..=43 => (
                2,
                Payload::Blocking(BlockingEvent::IdentifierBlocked {
                    identifier: Identifier::parse(&format!("phone:+86170{:08}", (case_no * 5 + part) % 100_000_000))
                        .expect("a generated number parses"),
                    generation: 1,
                    case_id,
                    fraud_type: FraudType::PigButchering,
                    blocked_at_ms: at,
                    expires_at_ms: at + 90 * 24 * 3_600_000,
                    carriers: Vec::new(),
                    looks_like: None,
                    province: None,
                }),
            ),
            44..=46 => {
                let task = self.seqs[c][3];
                (
                    3,
                    Payload::Dissuasion(DissuasionEvent::TaskOpened {
                        task: TaskId(task),
                        person: PersonId { key: PersonKey(u128::from(n)), carrier: None },
                        grade: Grade::Low,
                        kind: TaskKind::Sms,
                        opened_at_ms: at,
                        first_contact_ms: at,
                        admission: Admission::Ready { day: 0, due_at_ms: at + 3_600_000 },
                        sms_request: None,
                    }),
                )
            }
            _ => (
                4,
                Payload::Restitution(RestitutionEvent::ReturnConfirmed {
                    allocation: case_no,
                    case_id,
                    amount_fen: Fen::new(300_000),
                    transfer_id: format!("rt-{case_no}"),
                    executed_at_ms: at,
                    at_ms: at,
                }),
            ),
        };
        self.seqs[c][service] += 1;
        Envelope::new(city, self.seqs[c][service], at, payload)
    }
}

fn rate(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

pub async fn run(options: ProvinceBench) -> anyhow::Result<()> {
    anyhow::ensure!(options.events >= PER_CASE, "--events must be at least {PER_CASE} (one case)");
    anyhow::ensure!((1..=64).contains(&options.cities), "--cities must be 1 to 64");
    anyhow::ensure!((1..=100_000).contains(&options.reports), "--reports must be 1 to 100000");
    let cities = cities(options.cities)?;
    println!(
        "setup: {} envelopes of {} cities over March 2025 ({PER_CASE} a case: 1 report, 25 stops (1 in 8 on an account shared across cities), 12 freezes, 1 trace completed, 5 blocks, 3 SMS tasks, 1 return)",
        options.events, options.cities
    );
    let busy = crate::load::cpu::machine_busy_before(Duration::from_secs(1)).await;
    println!(
        "measuring: machine busy {} over the second before",
        busy.map_or("unknown".into(), |b| format!("{b:.0}% of one core"))
    );

    // 1. The core.
    let mut state = State::new(cities.iter().cloned())?;
    let mut mix = Mix::new(cities.clone());
    let (mut decode_time, mut absorb_time, mut bytes_total) = (Duration::ZERO, Duration::ZERO, 0u64);
    let mut notices = 0u64;
    for n in 0..options.events {
        let bytes = events::encode(&mix.envelope(n, options.events))?;
        bytes_total += bytes.len() as u64;
        let started = Instant::now();
        let envelope = events::decode(&bytes)?;
        let decoded = Instant::now();
        let absorbed =
            absorb(&mut state, &envelope).map_err(|refusal| anyhow::anyhow!("envelope {n} refused: {refusal}"))?;
        absorb_time += decoded.elapsed();
        decode_time += decoded - started;
        if let coordinator::core::Absorbed::New { notices: raised, .. } = absorbed {
            notices += raised.len() as u64;
        }
    }
    let both = decode_time + absorb_time;
    println!(
        "core, one thread: {} envelopes ({:.0} bytes each); floor (decode only) {:.0}/s; decode + absorb {:.0}/s ({:.2} µs each, absorb {:.2} µs); {notices} cross-city notices",
        options.events,
        bytes_total as f64 / options.events as f64,
        rate(options.events, decode_time),
        rate(options.events, both),
        both.as_secs_f64() * 1e6 / options.events as f64,
        absorb_time.as_secs_f64() * 1e6 / options.events as f64,
    );

    // 2. Reports and the snapshot.
    let margin =
        FlagMargin::percent(protocol::coordinator::DEFAULT_MARGIN_PERCENT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut month_us = 0.0;
    for text in ["2025-03", "2025-W11", "2025-03-14"] {
        let period = Period::parse(text)?;
        let mut histogram = Histogram::<u64>::new(3)?;
        for _ in 0..options.reports {
            let started = Instant::now();
            let made = report(&state, period, margin).map_err(|e| anyhow::anyhow!("{e}"))?;
            histogram.record(started.elapsed().as_micros() as u64)?;
            std::hint::black_box(made);
        }
        println!(
            "report {text}: {} times, µs p50 {} p99 {} max {}",
            options.reports,
            histogram.value_at_quantile(0.5),
            histogram.value_at_quantile(0.99),
            histogram.max()
        );
        if text == "2025-03" {
            month_us = histogram.value_at_quantile(0.99) as f64;
        }
    }
    let started = Instant::now();
    let snapshot = state.to_snapshot();
    println!("snapshot: {} bytes in {:.1} ms", snapshot.len(), started.elapsed().as_secs_f64() * 1e3);

    // 3. The shell on a real stream.
    let shell_rate = match options.stream_events {
        0 => None,
        n => Some(shell(&cities, n).await?),
    };
    let core_rate = rate(options.events, both);
    println!("goals (issue 17):");
    println!(
        "  consume ≥ {GOAL_EVENTS_PER_S:.0} events/s: core {core_rate:.0}/s {}; shell on a real stream {}",
        if core_rate >= GOAL_EVENTS_PER_S { "met" } else { "NOT met" },
        shell_rate.map_or("not measured".to_owned(), |r| format!(
            "{r:.0}/s {}",
            if r >= GOAL_EVENTS_PER_S { "met" } else { "NOT met" }
        ))
    );
    println!(
        "  monthly report over {} events ≤ {GOAL_REPORT_MS:.0} ms: p99 {:.3} ms {}",
        options.events,
        month_us / 1e3,
        if month_us / 1e3 <= GOAL_REPORT_MS { "met" } else { "NOT met" }
    );
    Ok(())
}

/// Publishes `count` envelopes into a stream `AFC_PROVINCE` on a fresh nats-server, then
/// times the coordinator reading them all; returns its rate.
async fn shell(cities: &[City], count: u64) -> anyhow::Result<f64> {
    let server = testkit::NatsServer::start(testkit::ServerOptions::new("province-bench")).await?;
    let client = async_nats::connect(server.url()).await?;
    let js = jetstream::new(client.clone());
    js.create_stream(jetstream::stream::Config {
        name: protocol::subjects::PROVINCE_STREAM.to_owned(),
        subjects: cities.iter().map(protocol::subjects::city_events).collect(),
        ..Default::default()
    })
    .await?;
    let mut mix = Mix::new(cities.to_vec());
    let started = Instant::now();
    let mut acks = Vec::with_capacity(1_024);
    for n in 0..count {
        let envelope = mix.envelope(n, count);
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.id.as_str());
        let subject = protocol::subjects::event(&envelope.city, envelope.service, envelope.payload.name());
        acks.push(js.publish_with_headers(subject, headers, events::encode(&envelope)?.into()).await?);
        if acks.len() == 1_024 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks {
        ack.await?;
    }
    println!(
        "shell: {count} envelopes published into AFC_PROVINCE on one nats-server in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let data = tempfile::tempdir()?;
    let options = coordinator::shell::Options::new(cities.to_vec(), data.path().to_owned());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    tokio::spawn(coordinator::shell::run(client.clone(), options, shutdown));
    loop {
        let answer = client.request(protocol::subjects::coordinator_command("status"), "{}".into()).await;
        if let Ok(answer) = answer {
            let status: protocol::Reply<protocol::coordinator::Status, protocol::coordinator::CoordinatorError> =
                serde_json::from_slice(&answer.payload)?;
            if status.into_result().map_err(|e| anyhow::anyhow!("{e}"))?.absorbed_stream_seq >= count {
                break;
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the coordinator did not read the stream in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let shell_rate = rate(count, took);
    println!(
        "shell: the coordinator read and absorbed them in {:.2} s: {shell_rate:.0} envelopes/s (from its start, connection and consumer included)",
        took.as_secs_f64()
    );
    Ok(shell_rate)
}
