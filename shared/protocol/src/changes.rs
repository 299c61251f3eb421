//! What a service tells whoever shows its state (the staff console) about what changed:
//! `afc.<city>.changed.<service>`, a core NATS message (not stored), at most one every
//! [`CHANGES_EVERY`](crate::limits::CHANGES_EVERY) while the service changes anything.
//!
//! A city publishes ~30 events a case, ~12,000 a second at 400 cases/s; a page shows one case
//! or one list. Hearing every event to learn which case moved would cost a console more than
//! the pages it serves, so each service gathers the cases its events and its folds touched and
//! tells them together: a few messages a second per service, whatever the load.

use domain::CaseId;
use serde::{Deserialize, Serialize};

/// The cases one service changed since its last message (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The cases whose state at the service changed, at most [`MAX_CHANGES_CASES`](crate::limits::MAX_CHANGES_CASES).
    pub cases: Vec<CaseId>,
    /// Something of no case changed too (a province block, a contact signal's task).
    #[serde(default)]
    pub uncased: bool,
    /// More cases changed than [`MAX_CHANGES_CASES`](crate::limits::MAX_CHANGES_CASES): take every case as changed.
    #[serde(default)]
    pub overflow: bool,
}
