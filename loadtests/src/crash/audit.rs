//! What the crash drill counts in a city's stream and in the services' logs: events
//! published twice, the same logical event committed twice, sequence numbers missing from
//! the stream, and the cases that were reported, traced and completed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use domain::{AccountRef, CaseId, City, Fen, Service};
use events::{BlockingEvent, Envelope, FreezingEvent, IntakeEvent, Payload, RestitutionEvent};
use futures::StreamExt;

/// Messages read back from one city's stream at most.
const MAX_MESSAGES_READ: u64 = 5_000_000;
/// Longest wait for the next message when reading a stream back.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Examples of each finding kept for the report.
const MAX_EXAMPLES: usize = 5;

/// One city's stream, counted.
#[derive(Debug, Default)]
pub struct StreamAudit {
    /// Messages read.
    pub messages: u64,
    /// Messages that did not decode as an event (dead letters).
    pub undecoded: u64,
    /// Messages whose envelope id was in the stream before: published twice.
    pub republished: u64,
    /// Logical events committed more than once (a second `trace_started` for a case, a second
    /// `account_stopped` for a case's hop, …), by kind.
    pub doubled_by_kind: BTreeMap<&'static str, u64>,
    /// The highest sequence number seen per service.
    pub last_seq: BTreeMap<Service, u64>,
    /// Sequence numbers below a service's highest that the stream does not hold.
    pub missing_seqs: BTreeMap<Service, u64>,
    /// Cases intake reported (`case_reported`).
    pub reported: BTreeSet<CaseId>,
    /// Cases whose trace completed (`trace_completed`).
    pub completed: BTreeSet<CaseId>,
    /// What each case claims on each account (its `account_stopped` claims together).
    pub claims: BTreeMap<(CaseId, AccountRef), Fen>,
    /// Blocks blocking started (`identifier_blocked`), each generation of an identifier once.
    pub blocks: u64,
    /// A few of the findings, for the log.
    pub examples: Vec<String>,
}

impl StreamAudit {
    /// Logical events committed twice, all kinds.
    pub fn doubled(&self) -> u64 {
        self.doubled_by_kind.values().sum::<u64>() + self.republished
    }

    fn note(&mut self, finding: String) {
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(finding);
        }
    }
}

/// What makes an event unique: its kind and what it is about. A second event with the same
/// key is the same thing recorded twice.
fn logical_key(envelope: &Envelope) -> Option<(&'static str, String)> {
    let key = match &envelope.payload {
        Payload::Intake(IntakeEvent::CaseReported { case_id, .. }) => ("case_reported", case_id.to_string()),
        Payload::Freezing(event) => match event {
            FreezingEvent::TraceStarted { case_id, .. } => (FreezingEvent::TRACE_STARTED, case_id.to_string()),
            FreezingEvent::TraceCompleted { case_id, .. } => (FreezingEvent::TRACE_COMPLETED, case_id.to_string()),
            FreezingEvent::HopOpened { case_id, hop, .. } => (FreezingEvent::HOP_OPENED, format!("{case_id} {hop:?}")),
            FreezingEvent::OrderResolved { case_id, hop, .. } => {
                (FreezingEvent::ORDER_RESOLVED, format!("{case_id} {hop:?}"))
            }
            FreezingEvent::AccountStopped { case_id, hop, .. } => {
                (FreezingEvent::ACCOUNT_STOPPED, format!("{case_id} {hop:?}"))
            }
            FreezingEvent::HopEnded { case_id, hop, .. } => (FreezingEvent::HOP_ENDED, format!("{case_id} {hop:?}")),
            FreezingEvent::HopRetrying { case_id, hop, attempt, .. } => {
                (FreezingEvent::HOP_RETRYING, format!("{case_id} {hop:?} {attempt}"))
            }
            // A case may freeze an account again (the rest of a claim frozen in part, or
            // under a renewed stop), but each bank answer is recorded once: a freeze's answer
            // carries the moment the bank applied it, the same when a re-sent request is
            // answered from the bank's record.
            FreezingEvent::AccountFrozen { case_id, account, frozen_at_ms, .. } => {
                (FreezingEvent::ACCOUNT_FROZEN, format!("{case_id} {account} {frozen_at_ms}"))
            }
            FreezingEvent::FreezeQueued { case_id, account, queued_at_ms, .. } => {
                (FreezingEvent::FREEZE_QUEUED, format!("{case_id} {account} {queued_at_ms}"))
            }
            FreezingEvent::FreezeFailed { case_id, account, .. } => {
                (FreezingEvent::FREEZE_FAILED, format!("{case_id} {account}"))
            }
            FreezingEvent::StopRenewed { case_id, account, stop_no, .. } => {
                (FreezingEvent::STOP_RENEWED, format!("{case_id} {account} {stop_no}"))
            }
            FreezingEvent::ClaimRevised { case_id, account, by_case, by_hop, .. } => {
                (FreezingEvent::CLAIM_REVISED, format!("{case_id} {account} {by_case} {by_hop}"))
            }
            // Alerts and retries may repeat by design.
            _ => return None,
        },
        Payload::Blocking(event) => match event {
            BlockingEvent::CaseScreened { case_id, .. } => (BlockingEvent::CASE_SCREENED, case_id.to_string()),
            BlockingEvent::IdentifierBlocked { identifier, generation, .. } => {
                (BlockingEvent::IDENTIFIER_BLOCKED, format!("{identifier} {generation}"))
            }
            BlockingEvent::OrderConfirmed { request_id, .. } => (BlockingEvent::ORDER_CONFIRMED, request_id.clone()),
            BlockingEvent::PoolEntered { subject, generation, .. } => {
                (BlockingEvent::POOL_ENTERED, format!("{subject} {generation}"))
            }
            // Extensions, retries and the rest may repeat by design, or are keyed by what they
            // follow (a case screened once is extended once per identifier).
            _ => return None,
        },
        // Dissuasion's events are keyed by task and step, which the audit does not score.
        Payload::Dissuasion(_) => return None,
        // A return instructed or confirmed twice would be money paid twice.
        Payload::Restitution(event) => match event {
            RestitutionEvent::AllocationProposed { allocation, .. } => ("allocation_proposed", allocation.to_string()),
            RestitutionEvent::ReturnInstructed { allocation, case_id, .. } => {
                ("return_instructed", format!("{allocation} {case_id}"))
            }
            RestitutionEvent::ReturnConfirmed { allocation, case_id, .. } => {
                ("return_confirmed", format!("{allocation} {case_id}"))
            }
            _ => return None,
        },
    };
    Some(key)
}

/// Reads every message of `city`'s stream through `js` (the city's JetStream domain) and
/// counts it.
pub async fn read_stream(js: &jetstream::Context, city: &City) -> anyhow::Result<StreamAudit> {
    let stream = js.get_stream(city.stream_name()).await.with_context(|| format!("opening {city}'s stream"))?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await
        .with_context(|| format!("reading {city}'s stream back"))?;
    let mut messages = consumer.messages().await?;
    let mut audit = StreamAudit::default();
    let mut ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut seqs: BTreeMap<Service, BTreeSet<u64>> = BTreeMap::new();
    while audit.messages < MAX_MESSAGES_READ {
        let Ok(next) = tokio::time::timeout(READ_BACK_TIMEOUT, messages.next()).await else {
            anyhow::ensure!(audit.messages == 0, "reading {city}'s stream stalled after {} messages", audit.messages);
            break;
        };
        let Some(message) = next else { break };
        let message = message.map_err(|e| anyhow::anyhow!("reading {city}'s stream: {e}"))?;
        audit.messages += 1;
        let pending = message.info().map_err(|e| anyhow::anyhow!("{e}"))?.pending;
        match events::decode(&message.payload) {
            Ok(envelope) => count(&mut audit, &mut ids, &mut keys, &mut seqs, envelope),
            Err(_) => audit.undecoded += 1,
        }
        if pending == 0 {
            break;
        }
    }
    for (service, seen) in seqs {
        let last = seen.last().copied().unwrap_or(0);
        let missing = last - seen.len() as u64;
        audit.last_seq.insert(service, last);
        if missing > 0 {
            audit.note(format!("{city} {service:?}: {missing} of seqs 1..={last} not in the stream"));
            audit.missing_seqs.insert(service, missing);
        }
    }
    Ok(audit)
}

fn count(
    audit: &mut StreamAudit,
    ids: &mut BTreeSet<String>,
    keys: &mut BTreeSet<(&'static str, String)>,
    seqs: &mut BTreeMap<Service, BTreeSet<u64>>,
    envelope: Envelope,
) {
    if !ids.insert(envelope.id.clone()) {
        audit.republished += 1;
        audit.note(format!("{} published twice", envelope.id));
        return;
    }
    seqs.entry(envelope.service).or_default().insert(envelope.seq);
    match &envelope.payload {
        Payload::Intake(IntakeEvent::CaseReported { case_id, .. }) => {
            audit.reported.insert(case_id.clone());
        }
        Payload::Freezing(FreezingEvent::TraceCompleted { case_id, .. }) => {
            audit.completed.insert(case_id.clone());
        }
        Payload::Freezing(FreezingEvent::AccountStopped { case_id, account, claim_fen, .. }) => {
            let claim = audit.claims.entry((case_id.clone(), account.clone())).or_default();
            *claim = claim.saturating_add(*claim_fen);
        }
        Payload::Blocking(BlockingEvent::IdentifierBlocked { .. }) => audit.blocks += 1,
        Payload::Freezing(_) | Payload::Blocking(_) | Payload::Dissuasion(_) | Payload::Restitution(_) => {}
    }
    if let Some(key) = logical_key(&envelope)
        && !keys.insert(key.clone())
    {
        *audit.doubled_by_kind.entry(key.0).or_default() += 1;
        audit.note(format!("{} ({}) recorded twice, again as {}", key.0, key.1, envelope.id));
    }
}

/// The last sequence number of each service's log in `data` (a stopped node's directory).
pub fn logged_seqs(data: &Path, city: &City) -> anyhow::Result<BTreeMap<Service, u64>> {
    let mut last = BTreeMap::new();
    let logs = [
        (Service::Intake, intake::RECORDS.name),
        (Service::Freezing, freezing::STORE.name),
        (Service::Blocking, blocking::STORE.name),
    ];
    for (service, name) in logs {
        let path = data.join(format!("{name}.redb"));
        let producer = store::Producer { city: city.clone(), service };
        let store = store::Store::open(&path, producer, domain::system_clock())
            .with_context(|| format!("opening {}", path.display()))?;
        let logged = store.replay(|_| {}).with_context(|| format!("replaying {}", path.display()))?;
        last.insert(service, logged);
    }
    Ok(last)
}
