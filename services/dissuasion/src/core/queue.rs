//! The order staff work a queue in: higher risk first, then the person reached earliest (the
//! closest to paying), then the earliest deadline, then the oldest task.

use super::state::{State, Status, Task};
use crate::events::TaskKind;

/// The ready tasks of `queue`, in the order staff take them (at most `limit`).
pub fn queue(state: &State, queue: TaskKind, limit: usize) -> Vec<&Task> {
    let mut tasks: Vec<&Task> = state
        .open
        .get(&queue)
        .into_iter()
        .flatten()
        .filter_map(|id| state.tasks.get(id))
        .filter(|task| matches!(task.status, Status::Ready { .. }))
        .collect();
    tasks.sort_by_key(|task| {
        let due = match task.status {
            Status::Ready { due_at_ms } => due_at_ms,
            _ => u64::MAX,
        };
        (std::cmp::Reverse(task.grade), task.first_contact_ms, due, task.id)
    });
    tasks.truncate(limit);
    tasks
}

/// The task `operator` should take next in `queue`: one they hold already, or the first
/// nobody holds.
pub fn next<'s>(state: &'s State, queue_kind: TaskKind, operator: &str) -> Option<&'s Task> {
    let tasks = queue(state, queue_kind, usize::MAX);
    let mine = tasks.iter().find(|t| t.claimed_by.as_deref() == Some(operator));
    mine.or_else(|| tasks.iter().find(|t| t.claimed_by.is_none())).copied()
}
