//! The test kit's error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting, probing or stopping test servers.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// No `nats-server` binary was found in any of the places looked at.
    #[error(
        "nats-server binary not found (looked at: {tried}). Install it with `cargo xtask test` \
         or `cargo xtask demo` (they install it under <workspace>/.tools/nats-server/), \
         or set AFC_NATS_SERVER to the path of a nats-server binary"
    )]
    BinaryNotFound {
        /// The places looked at, in order.
        tried: String,
    },

    /// `AFC_NATS_SERVER` is set but does not name a file.
    #[error("AFC_NATS_SERVER={path} does not name a file")]
    BadBinaryEnv {
        /// The value of the variable.
        path: PathBuf,
    },

    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The server process exited while it was expected to run.
    #[error("nats-server {server} exited ({status}); log {log}:\n{tail}")]
    Exited {
        /// The server's name.
        server: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },

    /// The server did not become healthy in time.
    #[error("nats-server {server} not ready within {timeout:?} (last: {last}); log {log}:\n{tail}")]
    NotReady {
        /// The server's name.
        server: String,
        /// How long we waited.
        timeout: Duration,
        /// The last probe's outcome.
        last: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },

    /// A condition was not reached within its bound.
    #[error("timed out after {timeout:?} waiting for {what} (last: {last})")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        timeout: Duration,
        /// The last observed state.
        last: String,
    },

    /// A monitoring endpoint answered something we cannot use.
    #[error("monitoring {url}: {detail}")]
    Monitoring {
        /// The URL requested.
        url: String,
        /// What was wrong.
        detail: String,
    },

    /// A city was asked for that the province was not started with.
    #[error("city {0} is not part of this province")]
    UnknownCity(String),

    /// A city's name makes an invalid server config (never for a valid `City`).
    #[error("invalid server option {what}: {value:?}")]
    InvalidOption {
        /// Which option.
        what: &'static str,
        /// Its value.
        value: String,
    },
}

impl TestkitError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
        let what = what.into();
        move |source| TestkitError::Io { what, source }
    }
}
