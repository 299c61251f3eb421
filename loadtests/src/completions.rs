//! The completion watcher of `afc-lab bench freeze` and `afc-lab load`: on connections of
//! its own (so it queues behind nothing the submitter does), it subscribes to each city's
//! `trace_started` and `trace_completed` events and records the first of each per case (a
//! re-sent event changes nothing), ticking a watch channel on each newly completed case.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::{CaseId, City};
use events::FreezingEvent;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::deployment::{Embedded, on_freezing_events};

/// A case's first `TraceStarted`.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// When intake received the report (system clock, ms).
    pub reported_at_ms: u64,
    /// When freezing recorded `TraceStarted` (its envelope's time).
    pub started_ms: u64,
}

impl Started {
    /// From intake's receipt to the freezing batch that recorded `TraceStarted` (intake's
    /// commit, its outbox relay, JetStream, freezing's consumer), ms.
    pub fn handoff_ms(&self) -> u64 {
        self.started_ms.saturating_sub(self.reported_at_ms)
    }
}

/// A case's first `TraceCompleted`.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    /// When the message arrived here (tokio clock).
    pub observed_at: Instant,
    /// The same moment on the system clock, ms since the epoch.
    pub seen_ms: u64,
    /// When freezing recorded the `TraceCompleted` event (its envelope's time).
    pub committed_ms: u64,
    /// The service's own time-to-freeze: intake's receipt to the last stop holding money.
    pub time_to_freeze_ms: Option<u64>,
    pub accounts_stopped: u32,
}

/// What the watcher saw, per case.
#[derive(Debug, Default)]
pub struct Observed {
    pub started: HashMap<CaseId, Started>,
    pub completions: HashMap<CaseId, Completion>,
}

/// A running watcher. Dropping it stops it.
#[derive(Debug)]
pub struct Completions {
    observed: Arc<Mutex<Observed>>,
    /// Cases completed so far; ticks on each newly completed case.
    completed: watch::Receiver<usize>,
    task: JoinHandle<()>,
}

impl Drop for Completions {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Completions {
    /// Connects to each city's nats-server and subscribes; the subscriptions are in place
    /// when this returns.
    pub async fn watch(deployment: &Embedded, cities: &[City]) -> anyhow::Result<Completions> {
        let mut sources = Vec::with_capacity(cities.len());
        let connector = deployment.connector();
        for city in cities {
            sources.push((connector.city(city).await?, city.clone()));
        }
        let observed: Arc<Mutex<Observed>> = Arc::default();
        let (tick, completed) = watch::channel(0usize);
        let sink = observed.clone();
        let kinds = [FreezingEvent::TRACE_STARTED, FreezingEvent::TRACE_COMPLETED];
        let task = on_freezing_events(&sources, &kinds, move |message| {
            let seen_ms = domain::system_clock().now_ms();
            let mut sink = sink.lock().expect("observed lock");
            match message.event {
                FreezingEvent::TraceStarted { case_id, reported_at_ms, .. } => {
                    sink.started.entry(case_id).or_insert(Started { reported_at_ms, started_ms: message.time_ms });
                }
                FreezingEvent::TraceCompleted { case_id, time_to_freeze_ms, accounts_stopped, .. } => {
                    let before = sink.completions.len();
                    sink.completions.entry(case_id).or_insert(Completion {
                        observed_at: Instant::from_std(message.observed_at),
                        seen_ms,
                        committed_ms: message.time_ms,
                        time_to_freeze_ms,
                        accounts_stopped,
                    });
                    let seen = sink.completions.len();
                    drop(sink);
                    if seen > before {
                        tick.send_replace(seen);
                    }
                }
                _ => {}
            }
        })
        .await?;
        Ok(Completions { observed, completed, task })
    }

    /// Waits until `expected` cases have completed or `deadline` has passed; returns how many
    /// have completed.
    pub async fn wait_for(&mut self, expected: usize, deadline: Instant) -> usize {
        loop {
            let completed = *self.completed.borrow_and_update();
            if completed >= expected {
                return completed;
            }
            match tokio::time::timeout_at(deadline, self.completed.changed()).await {
                Ok(Ok(())) => {}
                // The deadline passed, or the watcher ended: what was seen is all there is.
                Ok(Err(_)) | Err(_) => return *self.completed.borrow(),
            }
        }
    }

    /// Stops watching and returns what was seen.
    pub fn finish(self) -> Observed {
        self.task.abort();
        std::mem::take(&mut *self.observed.lock().expect("observed lock"))
    }
}
