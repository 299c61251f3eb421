//! What a start reads before blocking serves: the state's rows as the store holds them (built
//! again from the log when they are of another format), and the index of blocked identifiers
//! from its file, caught up with the store.
//!
//! The rows are the fold of the committed log (`shell::rows`), so a start reads nothing of
//! the log in the normal case: it opens the tables and builds the index. A store without rows
//! of this format (a store from before them, or after [`super::rows::ROWS_FORMAT`] changed) is
//! folded again from the whole log first, into memory, and written in one write: the log is
//! the truth, the rows a view of it.
//!
//! The index is the file the engine saved beside the store (`blocking.index`, at each clean
//! stop and every `INDEX_SAVE_EVERY_EVENTS`) with the sequence number of the log it reflects:
//! the events after it are followed onto the index ([`Index::follow`] reads each touched
//! identifier's facts from the rows, which are already past them, so it ends where the rows
//! are). Without a usable file, or one too far behind (`INDEX_CATCH_UP_MAX_EVENTS`), the index
//! is built from the rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::Service;
use events::Payload;
use runtime::ServiceError;
use store::{Store, StoreError, WriteError};

use super::rows::{self, ROWS_FORMAT, StoreRows};
use crate::core::{self, State};
use crate::index::{Index, IndexFileError};
use crate::limits::INDEX_CATCH_UP_MAX_EVENTS;

/// What a start found.
pub struct Started {
    pub state: State,
    pub rows: Arc<StoreRows>,
    pub index: Index,
    /// The last event of the log (and of the rows).
    pub seq: u64,
    /// Events folded again into rows of this format (none: the rows were there).
    pub refolded: Option<u64>,
    pub indexed: Indexed,
}

/// Where the index came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indexed {
    /// The index file, saved at `saved_at`, caught up with `followed` events after it.
    File { saved_at: u64, followed: u64 },
    /// Built from the rows, because of `why`.
    Rows { why: String },
}

/// The index file of `store`: beside it, `blocking.index`.
pub fn index_path(store: &Store) -> PathBuf {
    store.path().with_extension("index")
}

fn failed(step: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ServiceError {
    ServiceError::Start { service: Service::Blocking, step: step.into(), source: source.into() }
}

/// Opens the state's rows in `store` (folding the log again when they are not of this format)
/// and builds its index.
pub async fn open(store: &Store) -> Result<Started, ServiceError> {
    let rows = Arc::new(StoreRows::new(store.clone()));
    let meta = rows::meta(store).map_err(|e| failed("read its rows' format", e))?;
    let (mut seq, refold) = match meta {
        Some((ROWS_FORMAT, seq)) => (seq, false),
        other => {
            match other {
                // A new store: its rows start with its log, nothing to warn of.
                None => tracing::debug!(expected = ROWS_FORMAT, "blocking's rows are new"),
                Some((found, _)) => tracing::warn!(
                    found,
                    expected = ROWS_FORMAT,
                    "blocking's rows are not of this build's format; folding them again from the log"
                ),
            }
            store
                .write(|ctx| -> Result<(), WriteError<std::convert::Infallible>> { Ok(rows::clear(ctx.tx())?) })
                .await
                .map_err(|e| failed("clear its rows", StoreError::from(e)))?;
            rows.refresh();
            (0, true)
        }
    };
    let mut state = State::in_store(rows.clone());
    // Events after the rows' last: only when the rows are folded again (the rows are written
    // in their events' transaction, so otherwise there are none).
    let city = store.producer().city.clone();
    let mut folded = 0u64;
    let last = identifiers::read_stored(|| {
        store.replay_after(seq, |envelope| {
            if let Payload::Blocking(event) = &envelope.payload {
                core::apply(&mut state, &city, event);
            }
            folded += 1;
        })
    })
    .map_err(|e| failed("read its log", e))?;
    if last != seq {
        let changed = state.take_rows(1);
        store
            .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
                Ok(rows::write(ctx.tx(), &changed, last)?)
            })
            .await
            .map_err(|e| failed("write its rows", StoreError::from(e)))?;
        rows.refresh();
        state.committed(1);
        if !refold {
            tracing::warn!(rows_seq = seq, log_seq = last, "blocking's rows were behind its log; folded the rest");
        }
        seq = last;
    }
    let (index, indexed) = index(store, &state, seq, &index_path(store))?;
    Ok(Started { state, rows, index, seq, refolded: (refold || folded > 0).then_some(folded), indexed })
}

/// The index of `state`, whose rows hold the log up to `seq`: its file caught up, or built.
fn index(store: &Store, state: &State, seq: u64, path: &Path) -> Result<(Index, Indexed), ServiceError> {
    let why = match Index::load(path) {
        Ok((mut index, saved_at)) if saved_at <= seq && seq - saved_at <= INDEX_CATCH_UP_MAX_EVENTS => {
            let mut followed = Ok(0u64);
            identifiers::read_stored(|| {
                store.replay_after(saved_at, |envelope| {
                    if let (Ok(n), Payload::Blocking(event)) = (&mut followed, &envelope.payload) {
                        match index.follow(state, event) {
                            Ok(()) => *n += 1,
                            Err(full) => followed = Err(full),
                        }
                    }
                })
            })
            .map_err(|e| failed("read its log", e))?;
            let followed = followed.map_err(|e| failed("index its blocks", e))?;
            return Ok((index, Indexed::File { saved_at, followed }));
        }
        Ok((_, saved_at)) if saved_at > seq => {
            format!("the index file is of event {saved_at}, the store's last is {seq}")
        }
        Ok((_, saved_at)) => format!("the index file is {} events behind the store", seq - saved_at),
        Err(IndexFileError::Missing { .. }) => "no index file".to_owned(),
        Err(error) => error.to_string(),
    };
    tracing::info!(reason = %why, "building blocking's index from its rows");
    let index = Index::build(state).map_err(|e| failed("index its blocks", e))?;
    Ok((index, Indexed::Rows { why }))
}
