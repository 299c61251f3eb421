//! The tables every store has. Services add their own projection tables beside these.

use redb::{TableDefinition, WriteTransaction};

/// The event log: seq → encoded envelope. Append-only, contiguous from 1.
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// Events not yet confirmed by JetStream: seq → ().
pub const OUTBOX: TableDefinition<u64, ()> = TableDefinition::new("outbox");
/// Ids of consumed messages → time consumed (ms).
pub const INBOX: TableDefinition<&str, u64> = TableDefinition::new("inbox");
/// The inbox by time: (time consumed, id) → (). Pruning reads the oldest rows from here
/// instead of scanning the whole inbox on the writer thread.
pub const INBOX_BY_TIME: TableDefinition<(u64, &str), ()> = TableDefinition::new("inbox_by_time");
/// Timers: (due ms, key) → action bytes (service-defined).
pub const TIMERS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("timers");
/// Timer key → due ms, to cancel or reschedule a timer by key.
pub const TIMER_KEYS: TableDefinition<&str, u64> = TableDefinition::new("timer_keys");

/// Snapshots of a service's in-memory state: name → the sequence number of the last event
/// folded into it (8 bytes, little-endian), then the service's encoding of the state.
pub const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");

pub(crate) fn create_all(tx: &WriteTransaction) -> Result<(), redb::TableError> {
    tx.open_table(EVENTS)?;
    tx.open_table(OUTBOX)?;
    tx.open_table(INBOX)?;
    tx.open_table(INBOX_BY_TIME)?;
    tx.open_table(TIMERS)?;
    tx.open_table(TIMER_KEYS)?;
    tx.open_table(SNAPSHOTS)?;
    Ok(())
}
