//! Freezing's state, saved in its store now and then, so that a start replays only the
//! events after the last snapshot instead of the whole log.
//!
//! The engine saves the state in the same write operation as the events that brought it
//! there ([`store::WriteCtx::save_snapshot`]), so a snapshot is always the fold of a prefix
//! of the log. The encoding is MessagePack of `(SNAPSHOT_FORMAT, State)`; a snapshot of
//! another format, or one that does not decode, is ignored with a warning and the whole log
//! is replayed: the log is the truth, the snapshot only a shortcut.

use std::sync::Arc;

use domain::Service;
use events::Payload;
use runtime::ServiceError;
use store::Store;

use super::cold::ColdTables;
use crate::core::{self, Cold, State};

/// The snapshot's name in freezing's store.
pub const SNAPSHOT: &str = "freezing.state";

/// The encoding of [`State`]. Bump it whenever `State` (or anything it holds) changes shape
/// or meaning: an older snapshot is then ignored instead of misread.
pub const SNAPSHOT_FORMAT: u16 = 5;

/// The state encoded for [`SNAPSHOT`].
pub fn encode(state: &State) -> Vec<u8> {
    rmp_serde::to_vec(&(SNAPSHOT_FORMAT, state)).expect("the state always encodes")
}

/// The state of a snapshot's bytes, if they are of this format.
pub fn decode(bytes: &[u8]) -> Result<State, String> {
    let (format, mut state): (u16, State) = rmp_serde::from_slice(bytes).map_err(|e| e.to_string())?;
    if format != SNAPSHOT_FORMAT {
        return Err(format!("format {format}, this build reads {SNAPSHOT_FORMAT}"));
    }
    // Derived, not saved.
    state.recount_at_risk();
    Ok(state)
}

/// How the state was rebuilt at start.
pub struct Rebuilt {
    /// The last event the snapshot held (0 without one).
    pub snapshot_seq: u64,
    /// Events replayed after it.
    pub replayed: u64,
    /// Where the state's cold part is kept (the state reads it; the engine writes it with
    /// each snapshot).
    pub cold: Arc<ColdTables>,
}

/// Rebuilds the state from the last snapshot (with the cold rows saved with it) and the
/// events after it.
pub fn rebuild(store: &Store) -> Result<(State, Rebuilt), ServiceError> {
    let failed = |step: &str, source: Box<dyn std::error::Error + Send + Sync>| ServiceError::Start {
        service: Service::Freezing,
        step: step.into(),
        source,
    };
    let (mut state, snapshot_seq, usable) =
        match store.snapshot(SNAPSHOT).map_err(|e| failed("read its snapshot", e.into()))? {
            Some((seq, bytes)) => match decode(&bytes) {
                Ok(state) => (state, seq, true),
                Err(reason) => {
                    tracing::warn!(%reason, "freezing's snapshot is not usable; replaying the whole log");
                    (State::default(), 0, false)
                }
            },
            None => (State::default(), 0, true),
        };
    // Holds moved out of memory come back as they were at the snapshot while the events
    // after it are replayed (shell::cold).
    let cold = Arc::new(ColdTables::new(store.clone()));
    cold.replay_from(snapshot_seq, usable);
    state.set_cold(Cold::new(cold.clone()));
    let last = store
        .replay_after(snapshot_seq, |envelope| {
            if let Payload::Freezing(event) = &envelope.payload {
                core::apply(&mut state, event);
            }
        })
        .map_err(|e| failed("replay its log", e.into()))?;
    cold.replayed();
    state.warm_open_hops();
    state.cool_all();
    Ok((state, Rebuilt { snapshot_seq, replayed: last.saturating_sub(snapshot_seq), cold }))
}
