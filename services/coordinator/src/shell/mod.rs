//! The coordinator's shell, on the hub: reads the province stream `AFC_PROVINCE` in order
//! from the sequence after its last snapshot (an ordered consumer: no durable state on the
//! server, the snapshot is the coordinator's position), absorbs each envelope into the pure
//! core, dead-letters what the core refuses (`afc.province.dlq.coordinator`, with the reason
//! and the stream sequence), keeps the latest notices, writes a snapshot every
//! [`SNAPSHOT_EVERY_MESSAGES`] messages or [`SNAPSHOT_EVERY`], and answers its commands
//! from memory.
//!
//! Accounts and identifiers with nothing for a year leave the cross-city memory once an hour
//! (`core::forget_before`, by the wall clock; the figures stay).
//!
//! The notices the core raises wait in the state's outbox (so in the snapshot) until their
//! city answers; [`deliver`] sends them.
//!
//! Gaps and a stalled tail of a producer are asked for from the producer's own log and put
//! back into the province stream ([`resend`]).

mod commands;
mod deliver;
mod resend;
pub mod store;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer};
use bus::{HEADER_DLQ_REASON, HEADER_DLQ_STREAM_SEQ, HEADER_DLQ_SUBJECT, Shutdown, stopped};
use domain::City;
use futures::StreamExt;
use protocol::subjects;
use tokio::sync::{Notify, Semaphore};

use crate::core::{self, Absorbed, Notice, State};
use crate::limits::{
    COMMANDS_IN_FLIGHT, FORGET_EVERY, NOTICES_KEPT, SNAPSHOT_COST_RATIO, SNAPSHOT_EVERY, SNAPSHOT_EVERY_MESSAGES,
};
use store::{SnapshotStore, StoreError};

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The province's cities (a snapshot's cities are kept, these added).
    pub cities: Vec<City>,
    /// Where its store is (`coordinator.redb`).
    pub data_dir: PathBuf,
    /// How often it looks for gaps and stalled tails to ask producers for
    /// ([`crate::limits::RESEND_EVERY`]; shorter in tests).
    pub resend_every: std::time::Duration,
}

impl Options {
    pub fn new(cities: Vec<City>, data_dir: PathBuf) -> Options {
        Options { cities, data_dir, resend_every: crate::limits::RESEND_EVERY }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error(transparent)]
    Config(#[from] core::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the province stream: {0}")]
    Stream(String),
    #[error("its commands: {0}")]
    Commands(String),
}

/// What the consumer has done, for `status`.
#[derive(Debug, Default)]
struct Progress {
    absorbed_seq: u64,
    refused: BTreeMap<&'static str, u64>,
    notices: VecDeque<Notice>,
    /// Events producers re-sent from their logs, put into the province stream.
    resent: u64,
}

/// The state and the progress, shared by the consumer (writes) and the commands (read).
struct Shared {
    state: RwLock<State>,
    progress: Mutex<Progress>,
}

/// Runs the coordinator on `client` (connected to the hub) until shutdown.
pub async fn run(client: async_nats::Client, options: Options, mut shutdown: Shutdown) -> Result<(), CoordinatorError> {
    std::fs::create_dir_all(&options.data_dir)
        .map_err(|e| StoreError::Redb { path: options.data_dir.display().to_string(), source: e.into() })?;
    let store = Arc::new(SnapshotStore::open(&options.data_dir.join("coordinator.redb"))?);
    let loaded = match store.load() {
        Ok(loaded) => loaded,
        // The province stream is the log: a snapshot this build cannot read (written by an
        // older one) is rebuilt from it.
        Err(StoreError::Corrupt { source, .. }) => {
            tracing::warn!(error = %source, "the snapshot does not decode; the state is rebuilt from the province stream");
            None
        }
        Err(error) => return Err(error.into()),
    };
    let (state, seq) = match loaded {
        Some((mut state, seq)) => {
            state.admit_cities(options.cities.iter().cloned())?;
            (state, seq)
        }
        None => (State::new(options.cities.iter().cloned())?, 0),
    };
    tracing::info!(from_stream_seq = seq + 1, "coordinator starts");
    let shared = Arc::new(Shared {
        state: RwLock::new(state),
        progress: Mutex::new(Progress { absorbed_seq: seq, ..Progress::default() }),
    });
    let commands = serve(client.clone(), shared.clone(), shutdown.clone()).await?;
    let wake = Arc::new(Notify::new());
    let sender = tokio::spawn(deliver::run(client.clone(), shared.clone(), wake.clone(), shutdown.clone()));
    let mender = tokio::spawn(resend::run(client.clone(), shared.clone(), options.resend_every, shutdown.clone()));
    // The link watcher: a city's events reach AFC_PROVINCE within about a second of its link
    // healing or the hub restarting, not after nats-server's source retry backoff.
    let hub = jetstream::new(client.clone());
    let watcher =
        tokio::spawn(bus::province::watch_links(client.clone(), hub, options.cities.clone(), shutdown.clone()));
    let consumed = consume(client, shared, store, seq, &wake, &mut shutdown).await;
    commands.abort();
    sender.abort();
    mender.abort();
    watcher.abort();
    consumed
}

/// Answers the commands until shutdown, in a task of its own.
async fn serve(
    client: async_nats::Client,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
) -> Result<tokio::task::JoinHandle<()>, CoordinatorError> {
    let mut requests = client
        .queue_subscribe(subjects::coordinator_commands(), "coordinator".into())
        .await
        .map_err(|e| CoordinatorError::Commands(e.to_string()))?;
    let slots = Arc::new(Semaphore::new(COMMANDS_IN_FLIGHT));
    Ok(tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                () = stopped(&mut shutdown) => return,
                request = requests.next() => match request { Some(r) => r, None => return },
            };
            let Some(reply) = request.reply.clone() else { continue };
            let permit = slots.clone().acquire_owned().await.expect("the semaphore never closes");
            let (client, shared) = (client.clone(), shared.clone());
            tokio::spawn(async move {
                let verb = subjects::command_verb(request.subject.as_str()).to_owned();
                let body = request.payload.clone();
                let answer = tokio::task::spawn_blocking(move || commands::answer(&shared, &verb, &body))
                    .await
                    .expect("commands do not panic");
                if let Err(error) = client.publish(reply, answer.into()).await {
                    tracing::warn!(%error, "a command's answer was not sent");
                }
                drop(permit);
            });
        }
    }))
}

/// Consumes the province stream from `after + 1` until shutdown, with a snapshot at the end.
async fn consume(
    client: async_nats::Client,
    shared: Arc<Shared>,
    store: Arc<SnapshotStore>,
    after: u64,
    wake: &Notify,
    shutdown: &mut Shutdown,
) -> Result<(), CoordinatorError> {
    let js = jetstream::new(client.clone());
    let failed = |step: &str, e: &dyn std::fmt::Display| CoordinatorError::Stream(format!("{step}: {e}"));
    let stream = js.get_stream(subjects::PROVINCE_STREAM).await.map_err(|e| failed("find it", &e))?;
    let deliver_policy = match after {
        0 => consumer::DeliverPolicy::All,
        seq => consumer::DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
    };
    let config = consumer::pull::OrderedConfig { deliver_policy, ..Default::default() };
    let ordered = stream.create_consumer(config).await.map_err(|e| failed("create an ordered consumer", &e))?;
    let mut messages = ordered.messages().await.map_err(|e| failed("read it", &e))?;
    let (mut since_snapshot, mut snapshot_at, mut snapshot_seq) = (0u64, Instant::now(), after);
    // A snapshot holds the state's read lock while it is made (1.7 s at 10 million envelopes
    // of 11 cities): the next waits at least SNAPSHOT_COST_RATIO times as long.
    let mut snapshot_gap = SNAPSHOT_EVERY;
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    let mut forgot_at = Instant::now();
    loop {
        let message = tokio::select! {
            () = stopped(shutdown) => break,
            _ = tick.tick() => {
                if forgot_at.elapsed() >= FORGET_EVERY {
                    let now = domain::system_clock().now_ms();
                    core::forget_before(&mut shared.state.write().expect("no panic holds the state"), now);
                    forgot_at = Instant::now();
                }
                if since_snapshot > 0 && snapshot_at.elapsed() >= snapshot_gap {
                    let took;
                    (snapshot_seq, took) = snapshot(&shared, &store).await?;
                    (since_snapshot, snapshot_at) = (0, Instant::now());
                    snapshot_gap = SNAPSHOT_EVERY.max(took * SNAPSHOT_COST_RATIO);
                }
                continue;
            }
            message = messages.next() => match message {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    tracing::warn!(%error, "reading the province stream failed; the ordered consumer starts again");
                    continue;
                }
                None => return Err(failed("read it", &"the consumer ended")),
            },
        };
        let stream_seq =
            message.info().map(|info| info.stream_sequence).map_err(|e| failed("read a message's sequence", &e))?;
        if absorb(&client, &shared, &message, stream_seq).await {
            wake.notify_one();
        }
        since_snapshot += 1;
        if since_snapshot >= SNAPSHOT_EVERY_MESSAGES && snapshot_at.elapsed() >= snapshot_gap {
            let took;
            (snapshot_seq, took) = snapshot(&shared, &store).await?;
            (since_snapshot, snapshot_at) = (0, Instant::now());
            snapshot_gap = SNAPSHOT_EVERY.max(took * SNAPSHOT_COST_RATIO);
        }
    }
    if shared.progress.lock().expect("no panic holds the progress").absorbed_seq > snapshot_seq {
        snapshot(&shared, &store).await?;
    }
    Ok(())
}

/// Absorbs one message of the province stream; a refusal is dead-lettered. Whether it raised
/// notices.
async fn absorb(client: &async_nats::Client, shared: &Shared, message: &jetstream::Message, stream_seq: u64) -> bool {
    let outcome = match events::decode(&message.payload) {
        Ok(envelope) => {
            let absorbed = core::absorb(&mut shared.state.write().expect("no panic holds the state"), &envelope);
            absorbed.map_err(|refusal| (refusal.kind(), refusal.to_string()))
        }
        Err(error) => Err(("undecodable", format!("not an event envelope: {error}"))),
    };
    let mut raised = false;
    let refused = {
        let mut progress = shared.progress.lock().expect("no panic holds the progress");
        progress.absorbed_seq = stream_seq;
        match outcome {
            Ok(Absorbed::New { notices, .. }) => {
                for notice in notices {
                    raised = true;
                    tracing::info!(notice = ?notice, "cross-city notice");
                    if progress.notices.len() == NOTICES_KEPT {
                        progress.notices.pop_front();
                    }
                    progress.notices.push_back(notice);
                }
                None
            }
            Ok(Absorbed::Duplicate | Absorbed::Unverified) => None,
            Err((kind, reason)) => {
                *progress.refused.entry(kind).or_default() += 1;
                Some((kind, reason))
            }
        }
    };
    if let Some((kind, reason)) = refused {
        tracing::warn!(stream_seq, kind, %reason, "province stream message refused");
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_DLQ_REASON, reason.as_str());
        headers.insert(HEADER_DLQ_SUBJECT, message.subject.as_str());
        headers.insert(HEADER_DLQ_STREAM_SEQ, stream_seq.to_string().as_str());
        let sent = client.publish_with_headers(subjects::coordinator_dead_letter(), headers, message.payload.clone());
        if let Err(error) = sent.await {
            tracing::warn!(%error, stream_seq, "a refused message was not dead-lettered (it stays in the province stream)");
        }
    }
    raised
}

/// Writes the state's snapshot with the stream sequence it covers; returns that sequence and
/// how long it took.
async fn snapshot(
    shared: &Arc<Shared>,
    store: &Arc<SnapshotStore>,
) -> Result<(u64, std::time::Duration), CoordinatorError> {
    let (shared, store) = (shared.clone(), store.clone());
    let started = Instant::now();
    let saved = tokio::task::spawn_blocking(move || {
        let (seq, bytes) = {
            let state = shared.state.read().expect("no panic holds the state");
            let seq = shared.progress.lock().expect("no panic holds the progress").absorbed_seq;
            (seq, state.to_snapshot())
        };
        store.save(seq, &bytes).map(|()| seq)
    });
    let seq = saved.await.expect("a snapshot does not panic")?;
    Ok((seq, started.elapsed()))
}
