//! Staff commands: `afc case …` (intake's client) and `afc province …` (hub administration).

pub mod case;
pub mod province;

use std::io::IsTerminal as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text an event; colours only when stderr is a terminal (a log file or a
    /// journal gets no escape codes).
    #[default]
    Text,
    /// One JSON object a line (time, level, target, message, fields), for log shipping.
    Json,
}

/// Logs to stderr at `default` level, or as `AFC_LOG` says (an `EnvFilter`, e.g.
/// `AFC_LOG=freezing=debug`), in `format`.
pub fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AFC_LOG").unwrap_or_else(|_| default.into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
}
