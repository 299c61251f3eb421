//! Staff commands: `afc case …` (intake's client) and `afc province …` (hub administration).

pub mod case;
pub mod province;

/// Logs to stderr at `default` level, or as `AFC_LOG` says (an `EnvFilter`, e.g.
/// `AFC_LOG=freezing=debug`).
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AFC_LOG").unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
