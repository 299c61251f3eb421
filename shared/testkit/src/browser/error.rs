//! The browser driver's error type: one kind per way a browser test's step can fail, each
//! naming what it did or waited for, so a failed end-to-end test says which step broke.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting Chromium or driving one of its tabs.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// No Chromium binary was found.
    #[error(
        "chromium not found (looked at: {tried}): run `cargo xtask install-chromium` \
         (apt-get install -y chromium fonts-wqy-microhei) or set AFC_CHROMIUM to a chromium binary"
    )]
    ChromiumNotFound {
        /// The places looked at, in order.
        tried: String,
    },

    /// `AFC_CHROMIUM` is set but does not name a file.
    #[error("AFC_CHROMIUM={path} does not name a file")]
    BadChromiumEnv {
        /// The value of the variable.
        path: PathBuf,
    },

    /// Chromium did not start, or did not say where its DevTools endpoint is.
    #[error("chromium {binary} did not start: {detail}; its stderr ends with:\n{stderr}")]
    Launch {
        /// The binary started.
        binary: PathBuf,
        /// What went wrong.
        detail: String,
        /// The last lines Chromium wrote to stderr.
        stderr: String,
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

    /// The DevTools WebSocket could not be opened, or closed while in use.
    #[error("devtools connection {url}: {detail}")]
    Connection {
        /// The WebSocket URL.
        url: String,
        /// What went wrong.
        detail: String,
    },

    /// Chromium answered a DevTools command with an error.
    #[error("devtools {method} failed ({code}): {message}")]
    Protocol {
        /// The command, e.g. `Page.navigate`.
        method: String,
        /// The protocol's error code.
        code: i64,
        /// The protocol's error message.
        message: String,
    },

    /// Chromium could not load a page (no server, refused, DNS...).
    #[error("navigation to {url} failed: {error}")]
    Navigation {
        /// The URL asked for.
        url: String,
        /// Chromium's reason, e.g. `net::ERR_CONNECTION_REFUSED`.
        error: String,
    },

    /// Script run in the page threw.
    #[error("script threw: {message} (script: {script})")]
    Script {
        /// The script, shortened.
        script: String,
        /// The exception's text, with its stack when it has one.
        message: String,
    },

    /// No element matches a selector.
    #[error("no element matches {selector:?} on {url}")]
    NoElement {
        /// The CSS selector.
        selector: String,
        /// The page's URL.
        url: String,
    },

    /// Something awaited did not happen within its bound.
    #[error("timed out after {timeout:?} waiting for {what} (last: {last})")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        timeout: Duration,
        /// The last observed state.
        last: String,
    },

    /// Chromium answered something this driver cannot use.
    #[error("unexpected devtools answer to {method}: {detail}")]
    Unexpected {
        /// The command answered.
        method: String,
        /// What was wrong.
        detail: String,
    },
}

impl BrowserError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrowserError {
        let what = what.into();
        move |source| BrowserError::Io { what, source }
    }

    /// Whether this is the protocol's answer to script whose document went away (the page
    /// navigated, or its new document is not ready yet): the script can be run again on the
    /// next document.
    pub(crate) fn is_document_gone(&self) -> bool {
        const GONE: [&str; 4] = [
            "Execution context was destroyed",
            "Inspected target navigated or closed",
            "Cannot find default execution context",
            "Cannot find context with specified id",
        ];
        matches!(self, BrowserError::Protocol { message, .. } if GONE.iter().any(|gone| message.contains(gone)))
    }
}
