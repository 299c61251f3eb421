//! The `check` command over NATS (`afc.<city>.cmd.blocking.check`), open loop, next to the
//! NATS request/reply floor of the same run.
//!
//! Setup: an embedded hangzhou node (hub + city nats-servers, secured as in a center; intake,
//! freezing and blocking in this process, instant banks), `--check-cases` wave reports filed so
//! blocking holds their scammers' numbers and sites. Then the floor (sequential round trips to
//! a bare responder on the city's server, [`crate::bench::floor::measure_rtt`]), then `check`s
//! at `--check-rate` a second for `--check-seconds` (plus [`WARMUP`], left out): half the
//! numbers of the reports (blocked; as the victims wrote them, so normalised by `check`), half
//! numbers blocked nowhere. Latency from each request's due time to its answer
//! (coordinated-omission corrected), in µs.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use domain::{City, Service};
use hdrhistogram::Histogram;
use protocol::Reply;
use protocol::blocking::{CheckReply, CheckRequest, CheckResponse, VERB_CHECK};
use rand::{Rng, SeedableRng};
use simulator::wave::{self, WaveConfig};
use tokio::time::Instant;

use crate::bench::floor;
use crate::deployment::{Embedded, EmbeddedOptions};
use crate::harness::{self, Percentiles, Recorder, Schedule, Warmup};
use crate::submit::{self, Case};
use crate::targets::MEASUREMENT_FREEZE_AFTER_MS;

/// Checks sent first and left out of the results.
pub const WARMUP: Duration = Duration::from_secs(1);
/// Checks in flight at once at most: far above what 20,000 a second with sub-millisecond
/// answers keeps in flight, so only a stalled server makes the driver wait.
const MAX_IN_FLIGHT: usize = 10_000;
/// Rate the wave's reports are filed at.
const REPORT_RATE_PER_S: f64 = 50.0;
/// How long blocking may take to block the reports' numbers.
const BLOCKED_WITHIN: Duration = Duration::from_secs(60);

/// What the run measured.
pub struct CheckFigures {
    /// Numbers of the reports that `check` answered blocked before the load.
    pub blocked_numbers: usize,
    pub floor_us: Histogram<u64>,
    pub check_us: Percentiles,
    pub offered_per_s: f64,
    pub answered_per_s: f64,
    pub errors: u64,
    pub lateness_us_p99: u64,
}

/// Runs the `check` measurement.
pub async fn measure(rate: f64, seconds: u64, cases: u32, seed: u64) -> anyhow::Result<CheckFigures> {
    let config = WaveConfig { cases_per_city: cases, ..WaveConfig::single_trail(seed) };
    let city = config.cities.first().context("the single trail names its city")?.clone();
    let wave = wave::generate(&config, domain::system_clock().now_ms()).context("generating the reports")?;
    let mut phones = Vec::new();
    let mut reports = Vec::new();
    for report in &wave.reports {
        let body = serde_json::to_value(&report.body)?;
        let listed = body["contacts"]["phones"].as_array().cloned().unwrap_or_default();
        phones.extend(listed.iter().filter_map(|p| p.as_str().map(str::to_owned)));
        reports.push(Case { city: report.city.clone(), body: serde_json::to_vec(&report.body)? });
    }
    eprintln!("afc-lab bench blocking: starting hub + {city}, filing {} reports", reports.len());
    let options = EmbeddedOptions { freeze_after_ms: MEASUREMENT_FREEZE_AFTER_MS, ..EmbeddedOptions::default() };
    let deployment = Embedded::start(std::slice::from_ref(&city), wave.world, options).await?;
    let client = deployment.client(&city).clone();
    let clients = HashMap::from([(city.clone(), client.clone())]);
    for submission in submit::submit(&submit::schedule(REPORT_RATE_PER_S)?, reports, &clients).await? {
        submission.outcome.map_err(|refusal| anyhow::anyhow!("report {}: {refusal}", submission.index))?;
    }
    let blocked = blocked_numbers(&client, &city, &phones).await?;
    anyhow::ensure!(!blocked.is_empty(), "blocking blocked none of the reports' {} numbers", phones.len());

    eprintln!("measuring the floor: {} round trips", floor::RTT_SAMPLES);
    let floor_us = floor::measure_rtt(&deployment.connector(), &city).await.context("measuring the round trip")?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let count = (rate * (WARMUP + Duration::from_secs(seconds)).as_secs_f64()).round() as u64;
    let bodies: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            let value = if i % 2 == 0 {
                blocked[rng.random_range(0..blocked.len())].clone()
            } else {
                format!("+86 139 {:04} {:04}", rng.random_range(0..10_000), rng.random_range(0..10_000))
            };
            serde_json::to_vec(&CheckRequest { kind: "phone".into(), value })
        })
        .collect::<Result<_, _>>()?;
    eprintln!("checking: {count} checks at {rate}/s");
    let schedule = Schedule::new(Instant::now() + Duration::from_millis(100), rate)?;
    let subject = protocol::subjects::command(&city, Service::Blocking, VERB_CHECK);
    let mut bodies = bodies.into_iter();
    let sent = harness::drive(&schedule, count, MAX_IN_FLIGHT, |_| {
        let (client, subject) = (client.clone(), subject.clone());
        let body = bodies.next().unwrap_or_default();
        async move {
            let answer = client.request(subject, body.into()).await;
            let ok = answer.is_ok_and(|a| matches!(serde_json::from_slice(&a.payload), Ok(CheckResponse::Ok(_))));
            (Instant::now(), ok)
        }
    })
    .await?;
    deployment.stop().await;

    let mut recorder = Recorder::new(schedule.start(), Warmup::Time(WARMUP))?;
    let mut lateness = Histogram::<u64>::new(3)?;
    let (mut errors, mut last) = (0, schedule.start());
    for request in &sent {
        let (answered, ok) = request.output;
        last = last.max(answered);
        if !recorder.is_warmup(request.index, request.due) {
            lateness.record(harness::recorder::micros(request.lateness()))?;
        }
        if ok {
            recorder.record(request.index, request.due, answered);
        } else {
            errors += 1;
        }
    }
    let span = last.duration_since(schedule.start()).as_secs_f64();
    Ok(CheckFigures {
        blocked_numbers: blocked.len(),
        floor_us,
        check_us: recorder.percentiles(),
        offered_per_s: rate,
        answered_per_s: (sent.len() as u64 - errors) as f64 / span,
        errors,
        lateness_us_p99: lateness.value_at_quantile(0.99),
    })
}

/// The reports' numbers `check` answers blocked, once blocking has screened the reports.
async fn blocked_numbers(client: &async_nats::Client, city: &City, phones: &[String]) -> anyhow::Result<Vec<String>> {
    let by = Instant::now() + BLOCKED_WITHIN;
    loop {
        let mut blocked = Vec::new();
        for phone in phones {
            let request = serde_json::to_vec(&CheckRequest { kind: "phone".into(), value: phone.clone() })?;
            let answer = afc::client::ask(client, city, Service::Blocking, VERB_CHECK, request).await?;
            // A number blocking refuses (not a valid number) is answered with its problem: it is
            // left out.
            match serde_json::from_slice::<CheckResponse>(&answer) {
                Ok(Reply::Ok(CheckReply { blocked: true, .. })) => blocked.push(phone.clone()),
                Ok(Reply::Ok(_) | Reply::Error(_)) => {}
                Err(e) => anyhow::bail!("check {phone:?}: unreadable answer {e}"),
            }
        }
        // Every number of the last report blocked: blocking has screened them all.
        if phones.last().is_some_and(|last| blocked.last() == Some(last)) || Instant::now() >= by {
            return Ok(blocked);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
