//! `afc config check FILE`: a node's config file checked as `afc city --config FILE` would
//! read it, but alone (no environment, no flags), so that what an operator checks is what
//! the file says.

use std::path::Path;

use crate::config::{self, CitySettings, Overrides};

/// Prints a summary of the settings `file` gives, or fails naming every problem by its key.
pub fn check(file: &Path) -> anyhow::Result<()> {
    let settings = config::load(file, Overrides::default())?;
    super::out::line(summary(file, &settings))
}

/// One line per setting that matters to an operator.
pub fn summary(file: &Path, settings: &CitySettings) -> String {
    let o = &settings.options;
    let services = o.only.map_or_else(|| "intake, freezing, blocking".to_owned(), |s| s.as_str().to_owned());
    let credentials = match &o.credentials {
        Some(files) => format!("keys in {}, CA {}", files.keys_dir.display(), files.ca_file.display()),
        None => "none: anonymous, without TLS (a development server only)".to_owned(),
    };
    format!(
        "ok: {}\n  city {} ({services}) on {}\n  data {}\n  credentials: {credentials}\n  freeze after {} ms, at-risk margin {} ms, tracing rule {}\n  logging {} as {:?}",
        file.display(),
        o.city,
        o.nats_url,
        o.data_dir.display(),
        o.freeze_after_ms,
        o.at_risk_margin_ms,
        o.tracing_rule.name(),
        settings.log_level,
        settings.log_format,
    )
}
