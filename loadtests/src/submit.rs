//! The open-loop submitter of `afc-lab bench freeze` and `afc-lab load`: files case `i`'s
//! report with its city's intake at `schedule.due(i)` ([`crate::harness::drive`]), without
//! waiting for earlier cases, and returns what each submission saw. Latencies are measured
//! from the due time, so a submitter that falls behind shows in them instead of hiding
//! queueing (coordinated omission).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use domain::{CaseId, City};
use protocol::Reply;
use protocol::intake::IntakeError;
use tokio::time::Instant;

use crate::harness::{Schedule, drive};
use afc::client;

/// From building the schedule to the first case's due time: room to start what runs beside
/// the submitter (watchers, probes, samplers) before the first case is due.
pub const START_DELAY: Duration = Duration::from_millis(200);

/// Submissions awaiting intake's reply at once; a submission beyond it is sent late, and its
/// lateness counts in its latency.
pub const MAX_IN_FLIGHT: usize = 10_000;

/// A report to file: the city whose intake takes it and its body (JSON bytes).
#[derive(Debug, Clone)]
pub struct Case {
    pub city: City,
    pub body: Vec<u8>,
}

/// What one submission saw. Instants are on the tokio clock.
#[derive(Debug)]
pub struct Submission {
    /// The case's position in the schedule.
    pub index: u64,
    /// When the schedule wanted it sent: where its latencies start.
    pub due: Instant,
    /// When its task actually sent it.
    pub sent: Instant,
    /// When intake's answer (or the failure to get one) came back.
    pub replied: Instant,
    /// The case id intake gave it, or why there is none.
    pub outcome: Result<CaseId, Refusal>,
}

impl Submission {
    /// Actual send time minus due time: how far the submitter fell behind.
    pub fn lateness(&self) -> Duration {
        self.sent.saturating_duration_since(self.due)
    }

    /// Intake's reply time.
    pub fn reply(&self) -> Duration {
        self.replied.saturating_duration_since(self.sent)
    }
}

/// Why a submission has no case id.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Intake answered with an error; nothing was recorded.
    #[error("report refused: {0}")]
    Refused(IntakeError),
    /// No usable answer: no responder, a timeout ([`client::COMMAND_TIMEOUT`]), an
    /// unreadable reply.
    #[error("report not answered: {0:#}")]
    Unanswered(anyhow::Error),
}

/// The schedule of a run at `rate_per_s` cases per second starting [`START_DELAY`] from now.
pub fn schedule(rate_per_s: f64) -> anyhow::Result<Schedule> {
    Ok(Schedule::new(Instant::now() + START_DELAY, rate_per_s)?)
}

/// Files `cases[i]` at `schedule.due(i)` through its city's connection in `clients`, open
/// loop, at most [`MAX_IN_FLIGHT`] at once. Returns every submission, in case order, once
/// each has its answer (each waits at most [`client::COMMAND_TIMEOUT`]).
pub async fn submit(
    schedule: &Schedule,
    cases: Vec<Case>,
    clients: &HashMap<City, async_nats::Client>,
) -> anyhow::Result<Vec<Submission>> {
    let count = u64::try_from(cases.len())?;
    let mut requests = Vec::with_capacity(cases.len());
    for Case { city, body } in cases {
        let client = clients.get(&city).with_context(|| format!("no connection to {city}"))?.clone();
        requests.push((client, city, body));
    }
    let mut requests = requests.into_iter();
    let sent = drive(schedule, count, MAX_IN_FLIGHT, |_index| {
        let (client, city, body) = requests.next().expect("drive asks for each case once, in order");
        async move {
            let outcome = match client::report(&client, &city, body).await {
                Ok(Reply::Ok(accepted)) => Ok(accepted.case_id),
                Ok(Reply::Error(error)) => Err(Refusal::Refused(error)),
                Err(error) => Err(Refusal::Unanswered(error)),
            };
            (outcome, Instant::now())
        }
    })
    .await?;
    Ok(sent
        .into_iter()
        .map(|s| Submission { index: s.index, due: s.due, sent: s.sent, replied: s.output.1, outcome: s.output.0 })
        .collect())
}
