//! Crash gates: points in the store where a test's `afc city` process stops dead, so that
//! the test can SIGKILL it exactly there (`services/afc/tests/crash_before_commit.rs`,
//! `crash_before_outbox_confirm.rs`). Compiled only with the feature `crash-gates`, which
//! only `afc`'s dev-dependency on `store` enables (so `cargo test` builds a gated `afc`,
//! `cargo build` does not); without it the call sites do not exist.
//!
//! A gate is armed by the environment: [`GATE_ENV`] = `<service>:<gate>` (e.g.
//! `freezing:before_commit`). When the armed gate is reached in that service's store, it
//! creates the file named by [`FILE_ENV`] (if set), says so on stderr, and never returns:
//! the writer thread parks, the relay's task waits forever. The rest of the process goes on
//! as it would during a slow commit or a slow confirmation.

use std::sync::OnceLock;

use events::Service;

/// The environment variable naming the armed gate, as `<service>:<gate>`.
pub const GATE_ENV: &str = "AFC_CRASH_GATE";
/// The environment variable naming the file a gate creates when it is reached.
pub const FILE_ENV: &str = "AFC_CRASH_GATE_FILE";

/// Where a process can be stopped dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// In the writer, a batch that appended events has run in its write transaction and is
    /// about to commit: the events were handed to the writer, none of them is durable.
    BeforeCommit,
    /// In the relay's confirmation: JetStream acknowledged the published events, and their
    /// outbox rows are about to be removed.
    BeforeOutboxConfirm,
}

impl Gate {
    pub const fn name(self) -> &'static str {
        match self {
            Gate::BeforeCommit => "before_commit",
            Gate::BeforeOutboxConfirm => "before_outbox_confirm",
        }
    }

    /// The value of [`GATE_ENV`] that arms this gate in `service`'s store.
    pub fn arm(self, service: Service) -> String {
        format!("{service}:{}", self.name())
    }
}

/// Whether `gate` is armed for `service`'s store.
fn armed(gate: Gate, service: Service) -> bool {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var(GATE_ENV).ok());
    armed.as_deref().and_then(|value| value.split_once(':')) == Some((service.as_str(), gate.name()))
}

fn announce(gate: Gate, service: Service) {
    if let Some(path) = std::env::var_os(FILE_ENV) {
        std::fs::write(&path, gate.name()).expect("the crash gate's file can be written");
    }
    eprintln!("crash gate {} reached in {service}'s store; waiting to be killed", gate.name());
}

/// On the writer thread: if `gate` is armed for `service`, announces it and parks forever.
pub(crate) fn hold_thread(gate: Gate, service: Service) {
    if armed(gate, service) {
        announce(gate, service);
        loop {
            std::thread::park();
        }
    }
}

/// On a task: if `gate` is armed for `service`, announces it and never completes.
pub(crate) async fn hold_task(gate: Gate, service: Service) {
    if armed(gate, service) {
        announce(gate, service);
        std::future::pending::<()>().await;
    }
}
