//! Dissuasion's own tables beside its log, and what a start reads.
//!
//! - [`SIGNALS`]: every signal of the retention window, a [`SignalRecord`] by (time, source,
//!   id). Signals are not events (at tens of thousands a second the log and the city stream
//!   would hold every one, and a subscriber's number must not leave this store): each step's
//!   record is written in the transaction of its events, and a start keeps every row again
//!   before it replays the log, which gives the state the live one had
//!   (`core::tests::check` proves the same on every core test).
//! - [`NUMBERS`] and [`NUMBERS_BY_TIME`]: each person's number by [`PersonKey`], with the last
//!   time a signal named them: what the SMS order and the report filed for a person who has
//!   paid read. A number whose last signal left the window is forgotten unless the person
//!   has an open task.
//! - [`META`]: the node's [`PersonSecret`], drawn when the store is created.
//!
//! Personal data: the numbers are in this store only, never in an event, a log line or an
//! answer beyond `next` and `claim` (the operator calls the person).

use std::time::Instant;

use domain::{Service, TimeMs};
use events::Payload;
use events::dissuasion::{PersonId, PersonKey, SignalRecord};
use runtime::ServiceError;
use store::redb::{ReadableTable, TableDefinition, WriteTransaction};
use store::{Store, StoreError, WriteError};

use crate::core::{self, PersonSecret, State};

/// (at_ms, source, signal id) → the [`SignalRecord`], MessagePack.
pub const SIGNALS: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("signals");
/// Person key → (number, last signal's time).
pub const NUMBERS: TableDefinition<u128, (&str, u64)> = TableDefinition::new("numbers");
/// (last signal's time, person key): the numbers in the order they leave the window.
pub const NUMBERS_BY_TIME: TableDefinition<(u64, u128), ()> = TableDefinition::new("numbers_by_time");
/// `person_secret` → 16 bytes.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("dissuasion_meta");

const SECRET_KEY: &str = "person_secret";

fn failed(step: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ServiceError {
    ServiceError::Start { service: Service::Dissuasion, step: step.into(), source: source.into() }
}

/// What a start found.
pub struct Started {
    pub state: State,
    pub secret: PersonSecret,
    /// Signals kept from the rows.
    pub kept: u64,
    /// The log's last event.
    pub seq: u64,
    pub start_ms: u64,
}

/// Reads the secret (drawing it for a new store), keeps every signal row, replays the log.
pub async fn open(store: &Store) -> Result<Started, ServiceError> {
    let started = Instant::now();
    let secret = secret(store).await?;
    let store_for_read = store.clone();
    let (state, kept, seq) = tokio::task::spawn_blocking(move || -> Result<(State, u64, u64), StoreError> {
        let mut state = State::default();
        let kept = store_for_read.read_blocking(|tx| {
            let mut kept = 0;
            let table = match tx.open_table(SIGNALS) {
                Ok(table) => table,
                // A new store: no signal kept yet.
                Err(store::redb::TableError::TableDoesNotExist(_)) => return Ok(0),
                Err(e) => return Err(e.into()),
            };
            for row in table.iter()? {
                let (_, bytes) = row?;
                let record: SignalRecord = rmp_serde::from_slice(bytes.value())
                    .map_err(|e| StoreError::Corrupt(format!("a signal row does not decode: {e}")))?;
                core::keep(&mut state, &record);
                kept += 1;
            }
            Ok(kept)
        })?;
        let seq = store_for_read.replay(|envelope| {
            if let Payload::Dissuasion(event) = &envelope.payload {
                core::apply(&mut state, event);
            }
        })?;
        Ok((state, kept, seq))
    })
    .await
    .map_err(|e| failed("read its store", e))?
    .map_err(|e| failed("read its store", e))?;
    Ok(Started { state, secret, kept, seq, start_ms: started.elapsed().as_millis() as u64 })
}

/// The node's secret: read, or drawn and written once.
async fn secret(store: &Store) -> Result<PersonSecret, ServiceError> {
    let stored = store
        .read(|tx| match tx.open_table(META) {
            Ok(table) => Ok(table.get(SECRET_KEY)?.map(|v| v.value().to_vec())),
            Err(store::redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await
        .map_err(|e| failed("read its secret", e))?;
    let bytes = match stored {
        Some(bytes) => bytes,
        None => {
            let drawn: [u8; 16] = rand::random();
            let write = store.write(move |ctx| -> Result<Vec<u8>, WriteError<std::convert::Infallible>> {
                let mut table = ctx.tx().open_table(META)?;
                // Two starts racing: the first one's secret stays.
                if let Some(existing) = table.get(SECRET_KEY)?.map(|v| v.value().to_vec()) {
                    return Ok(existing);
                }
                table.insert(SECRET_KEY, drawn.as_slice())?;
                Ok(drawn.to_vec())
            });
            write.await.map_err(|e| failed("draw its secret", e.to_string()))?
        }
    };
    let bytes: [u8; 16] = bytes.try_into().map_err(|_| failed("read its secret", "the secret is not 16 bytes"))?;
    let (a, b) = bytes.split_at(8);
    Ok(PersonSecret(
        u64::from_be_bytes(a.try_into().expect("8 bytes")),
        u64::from_be_bytes(b.try_into().expect("8 bytes")),
    ))
}

/// Writes kept signals and their people's numbers (in the transaction of their events), each
/// table opened once for the lot.
pub fn write_signals(tx: &WriteTransaction, records: &[SignalRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut signals = tx.open_table(SIGNALS)?;
    let mut numbers = tx.open_table(NUMBERS)?;
    let mut by_time = tx.open_table(NUMBERS_BY_TIME)?;
    let mut bytes = Vec::new();
    for record in records {
        bytes.clear();
        rmp_serde::encode::write_named(&mut bytes, record).expect("records encode");
        let source = record.key.source.to_string();
        signals.insert((record.at_ms, source.as_str(), record.key.id.as_str()), bytes.as_slice())?;
        let person = record.person.key.0;
        let last = numbers.get(person)?.map(|v| v.value().1);
        let seen = last.map_or(record.at_ms, |last| last.max(record.at_ms));
        if last != Some(seen) {
            if let Some(last) = last {
                by_time.remove((last, person))?;
            }
            by_time.insert((seen, person), ())?;
        }
        numbers.insert(person, (record.subscriber.expose(), seen))?;
    }
    Ok(())
}

/// What one [`forget`] pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub signals: usize,
    pub numbers: usize,
    /// Nothing older than the edge is left: the pass stayed under both batch bounds.
    pub complete: bool,
}

/// Deletes the signal rows older than `before_ms` and the numbers of people with no signal
/// since (at most [`FORGET_BATCH`] and [`NUMBER_SWEEP_BATCH`] per call: the rest at the next
/// pass). The number of a person with an open task is kept: its time becomes `now_ms`, so
/// it is looked at again a window later.
pub fn forget(
    tx: &WriteTransaction,
    before_ms: TimeMs,
    now_ms: TimeMs,
    has_open_task: impl Fn(PersonId) -> bool,
) -> Result<Forgotten, StoreError> {
    use crate::limits::{FORGET_BATCH, NUMBER_SWEEP_BATCH};
    let mut signals = tx.open_table(SIGNALS)?;
    let old: Vec<(u64, String, String)> = signals
        .range(..(before_ms, "", ""))?
        .take(FORGET_BATCH)
        .map(|row| {
            row.map(|(k, _)| {
                let (at, s, i) = k.value();
                (at, s.to_owned(), i.to_owned())
            })
        })
        .collect::<Result<_, _>>()?;
    for (at, source, id) in &old {
        signals.remove((*at, source.as_str(), id.as_str()))?;
    }
    let mut by_time = tx.open_table(NUMBERS_BY_TIME)?;
    let leaving: Vec<(u64, u128)> = by_time
        .range(..(before_ms, 0))?
        .take(NUMBER_SWEEP_BATCH)
        .map(|row| row.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    let complete = old.len() < FORGET_BATCH && leaving.len() < NUMBER_SWEEP_BATCH;
    let mut numbers = tx.open_table(NUMBERS)?;
    let mut forgotten = 0;
    for (seen, person) in leaving {
        by_time.remove((seen, person))?;
        let Some(number) = numbers.get(person)?.map(|v| v.value().0.to_owned()) else { continue };
        let id = PersonId { key: PersonKey(person), carrier: domain::Carrier::issuing(&number) };
        if has_open_task(id) {
            numbers.insert(person, (number.as_str(), now_ms))?;
            by_time.insert((now_ms, person), ())?;
            continue;
        }
        numbers.remove(person)?;
        forgotten += 1;
    }
    Ok(Forgotten { signals: old.len(), numbers: forgotten, complete })
}

/// The number of `person`, if it is kept.
pub fn number(tx: &store::redb::ReadTransaction, person: PersonKey) -> Result<Option<String>, StoreError> {
    match tx.open_table(NUMBERS) {
        Ok(table) => Ok(table.get(person.0)?.map(|v| v.value().0.to_owned())),
        Err(store::redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
