//! A city node's configuration: one TOML file per node (`afc city --config FILE`), the
//! environment and the command line, merged in that order of precedence — a flag overrides
//! its environment variable, which overrides the file, which overrides the built-in default
//! — and checked as a whole before anything starts, naming every problem by its key.
//!
//! | key | flag | environment | default |
//! |---|---|---|---|
//! | `city` | `--city` | `AFC_CITY` | (required) |
//! | `nats_url` | `--nats` | `AFC_NATS_URL` | `nats://127.0.0.1:4222` |
//! | `data_dir` | `--data` | `AFC_DATA` | (required) |
//! | `only` | `--only` | `AFC_ONLY` | every service |
//! | `freeze_after_ms` | `--freeze-after-ms` | `AFC_FREEZE_AFTER_MS` | 600000 |
//! | `at_risk_margin_ms` | `--at-risk-margin-ms` | `AFC_AT_RISK_MARGIN_MS` | 43200000 |
//! | `tracing_rule` | `--tracing-rule` | `AFC_TRACING_RULE` | `pro-rata` |
//! | `credentials.dir` | `--credentials` | `AFC_CREDENTIALS` | none: anonymous, no TLS |
//! | `credentials.keys_dir` | `--keys-dir` | `AFC_KEYS_DIR` | `<dir>/keys` |
//! | `credentials.ca_file` | `--ca-file` | `AFC_CA_FILE` | `<dir>/pki/ca.crt` |
//! | `http` | `--http` | `AFC_HTTP` | none: no `/healthz`, `/readyz`, `/metrics` |
//! | `logging.level` | — | `AFC_LOG` | `info` |
//! | `logging.format` | `--log-format` | `AFC_LOG_FORMAT` | `text` |

mod check;

use std::path::{Path, PathBuf};

use domain::Service;
use freezing::rule::TracingRule;
use security::CredentialFiles;
use serde::Deserialize;

use crate::cli::LogFormat;
use crate::host::CityOptions;

pub use check::{MAX_FREEZE_AFTER_MS, STOP_LAPSE_MS, check_files};

/// The default NATS URL (a server on the same host).
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The default log level (an `EnvFilter` directive; `AFC_LOG` overrides it).
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// The largest config file read (a node's file is a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// A node's config file as written: every key optional, because the environment or a flag
/// may give it. Unknown keys are refused, so a misspelt key is not silently ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityFile {
    /// The city this node serves (its NATS token, JetStream domain and stream).
    pub city: Option<String>,
    /// The city's nats-server (`tls://…` with credentials).
    pub nats_url: Option<String>,
    /// Where the services keep their redb files.
    pub data_dir: Option<PathBuf>,
    /// Run only this service.
    pub only: Option<String>,
    /// Delay from a stop-payment to its conversion into a freeze, in ms.
    pub freeze_after_ms: Option<u64>,
    /// How long before its last stop lapses an unfrozen claim raises `freeze_at_risk`, in ms.
    pub at_risk_margin_ms: Option<u64>,
    /// `pro-rata` or `lowest-intermediate-balance` (docs/tracing-rule.md).
    pub tracing_rule: Option<String>,
    /// Where the node serves `/healthz`, `/readyz` and `/metrics` (`HOST:PORT`).
    pub http: Option<String>,
    pub credentials: Option<CredentialsSection>,
    pub logging: Option<LoggingSection>,
    pub dissuasion: Option<DissuasionSection>,
    pub restitution: Option<RestitutionSection>,
}

/// `[restitution]`: the notice period in which victims may object to an allocation
/// (docs/restitution.md, "The process"), and the center's roster of approvers: each name with
/// the public key (`U…`, an nkey) their signed approvals are checked against.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestitutionSection {
    pub notice_days: Option<u64>,
    /// The notice in minutes instead of days: drills and demos, whose time runs fast.
    pub notice_minutes: Option<u64>,
    /// The notice in seconds: a drill on the wall clock (a test, a demo).
    pub notice_seconds: Option<u64>,
    pub approvers: Option<std::collections::BTreeMap<String, String>>,
}

/// `[dissuasion]`: the grading rule's thresholds (docs/dissuasion.md, "Grading"), each staffed
/// queue's daily capacity, and how long signals are kept.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DissuasionSection {
    pub medium_points: Option<u32>,
    pub high_points: Option<u32>,
    pub repeat_contacts: Option<u32>,
    pub long_contact_s: Option<u32>,
    pub calls_per_day: Option<u32>,
    /// City bureau, district bureau, police station, community.
    pub visits_per_day: Option<[u32; 4]>,
    pub retention_days: Option<u64>,
}

/// `[credentials]`: where the identities' seeds and the CA are.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSection {
    /// A deployment's secrets directory (`keys/<identity>.nk`, `pki/ca.crt`).
    pub dir: Option<PathBuf>,
    /// Overrides `<dir>/keys`: the directory of the identities' seed files.
    pub keys_dir: Option<PathBuf>,
    /// Overrides `<dir>/pki/ca.crt`: the CA the server's certificate must chain to.
    pub ca_file: Option<PathBuf>,
}

/// `[logging]`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSection {
    /// An `EnvFilter` directive: `info`, `warn,freezing=debug`, …
    pub level: Option<String>,
    /// `text` or `json`.
    pub format: Option<String>,
}

/// What the command line and the environment gave (clap reads a flag, else its variable);
/// `None` leaves the key to the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub city: Option<String>,
    pub nats_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub only: Option<String>,
    pub freeze_after_ms: Option<u64>,
    pub at_risk_margin_ms: Option<u64>,
    pub tracing_rule: Option<String>,
    pub credentials_dir: Option<PathBuf>,
    pub keys_dir: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub http: Option<String>,
    /// `AFC_LOG`.
    pub log_level: Option<String>,
    pub log_format: Option<LogFormat>,
}

/// One problem of a configuration, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{path}: not TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{key}: unknown key ({message})")]
    Unknown { key: String, message: String },
    #[error("{key}: wrong type ({message})")]
    Type { key: String, message: String },
    #[error("{key}: {value} {reason}")]
    /// `value` as written (text quoted).
    Invalid { key: String, value: String, reason: String },
    #[error("{key}: missing; {hint}")]
    Missing { key: String, hint: &'static str },
    #[error("{key}: {path}: {reason}")]
    File { key: String, path: PathBuf, reason: String },
}

impl Problem {
    /// The key the problem is about (the file's path for a file that cannot be read).
    pub fn key(&self) -> &str {
        match self {
            Problem::Syntax { path: key, .. } | Problem::Unreadable { path: key, .. } => key,
            Problem::Unknown { key, .. }
            | Problem::Type { key, .. }
            | Problem::Invalid { key, .. }
            | Problem::Missing { key, .. }
            | Problem::File { key, .. } => key,
        }
    }
}

/// A configuration that was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Problems(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    format!("{} problem(s) in the configuration:\n{}", problems.len(), lines.join("\n"))
}

/// A city node's settings, merged and checked.
#[derive(Debug, Clone)]
pub struct CitySettings {
    pub options: CityOptions,
    pub log_level: String,
    pub log_format: LogFormat,
}

/// Reads the config file `path` under `overrides` (flags and environment) and checks the
/// merged settings (see [`resolve`]). Every problem is named, those of the file's keys
/// (unknown, wrong type) and those of the merged values alike.
pub fn load(path: &Path, overrides: Overrides) -> Result<CitySettings, Problems> {
    let (file, mut problems) = read_file(path).map_err(|p| Problems(vec![p]))?;
    match resolve(file, overrides) {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(Problems(problems)),
        Err(Problems(more)) => {
            // A key refused for its type is missing from the merged settings: say it once.
            let said: Vec<String> = problems.iter().map(|p| p.key().to_owned()).collect();
            problems.extend(
                more.into_iter()
                    .filter(|p| !(matches!(p, Problem::Missing { .. }) && said.iter().any(|k| k == p.key()))),
            );
            Err(Problems(problems))
        }
    }
}

/// Reads `path` as a node's config file: its well-formed keys, and a problem for each
/// other key (unknown, wrong type). A file that cannot be read or is not TOML is one problem.
pub fn read_file(path: &Path) -> Result<(CityFile, Vec<Problem>), Problem> {
    let shown = path.display().to_string();
    let unreadable = |message: String| Problem::Unreadable { path: shown.clone(), message };
    let size = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(unreadable(format!("{size} bytes; a config file has at most {MAX_CONFIG_BYTES}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    parse(&text).map_err(|message| Problem::Syntax { path: shown, message })
}

/// Parses a config file's text into its well-formed keys and a problem for each other key.
/// Serde stops at the first problem, so when the whole file does not deserialize, each key
/// is tried alone, and the file is read again without the keys that failed. Err: not TOML.
pub fn parse(text: &str) -> Result<(CityFile, Vec<Problem>), String> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| syntax(&e, text))?;
    if let Ok(file) = toml::Value::Table(table.clone()).try_into::<CityFile>() {
        return Ok((file, Vec::new()));
    }
    let mut problems = Vec::new();
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let is_section = matches!(key.as_str(), "credentials" | "logging" | "dissuasion" | "restitution");
        if let (true, Some(toml::Value::Table(section))) = (is_section, table.get_mut(&key)) {
            let inner_keys: Vec<String> = section.keys().cloned().collect();
            for inner in inner_keys {
                let mut one = toml::Table::new();
                one.insert(inner.clone(), section[&inner].clone());
                let mut outer = toml::Table::new();
                outer.insert(key.clone(), toml::Value::Table(one));
                if let Some(problem) = try_key(&format!("{key}.{inner}"), outer) {
                    problems.push(problem);
                    section.remove(&inner);
                }
            }
        } else {
            let mut one = toml::Table::new();
            one.insert(key.clone(), table[&key].clone());
            if let Some(problem) = try_key(&key, one) {
                problems.push(problem);
                table.remove(&key);
            }
        }
    }
    // Every key left deserializes alone, so the rest does as a whole.
    let file = toml::Value::Table(table).try_into::<CityFile>().unwrap_or_default();
    Ok((file, problems))
}

/// The problem with `key` alone in a file (`one` holds only it), if any.
fn try_key(key: &str, one: toml::Table) -> Option<Problem> {
    let error = toml::Value::Table(one).try_into::<CityFile>().err()?;
    let message = error.message().trim().to_owned();
    Some(if message.starts_with("unknown field") {
        Problem::Unknown { key: key.to_owned(), message }
    } else {
        Problem::Type { key: key.to_owned(), message }
    })
}

fn syntax(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message.to_owned(),
    }
}

/// Merges `file` under `overrides` (flags, then the environment) over the defaults, and
/// checks the result as a whole, files on disk included; every problem is returned.
pub fn resolve(file: CityFile, overrides: Overrides) -> Result<CitySettings, Problems> {
    let mut problems = Vec::new();
    let credentials_file = file.credentials.unwrap_or_default();
    let logging = file.logging.unwrap_or_default();

    let city = match overrides.city.or(file.city) {
        None => {
            problems.push(Problem::Missing { key: "city".into(), hint: "set it in the file, --city or AFC_CITY" });
            None
        }
        Some(name) => check::city(&name).map_err(|p| problems.push(p)).ok(),
    };
    let data_dir = overrides.data_dir.or(file.data_dir);
    if data_dir.is_none() {
        problems.push(Problem::Missing { key: "data_dir".into(), hint: "set it in the file, --data or AFC_DATA" });
    }
    let only = overrides.only.or(file.only).and_then(|name| check::service(&name).map_err(|p| problems.push(p)).ok());
    let freeze_after_ms =
        overrides.freeze_after_ms.or(file.freeze_after_ms).unwrap_or(freezing::limits::DEFAULT_FREEZE_AFTER_MS);
    problems.extend(check::freeze_after(freeze_after_ms));
    let at_risk_margin_ms =
        overrides.at_risk_margin_ms.or(file.at_risk_margin_ms).unwrap_or(freezing::limits::DEFAULT_AT_RISK_MARGIN_MS);
    problems.extend(check::at_risk_margin(at_risk_margin_ms));
    let tracing_rule = match overrides.tracing_rule.or(file.tracing_rule) {
        None => Some(TracingRule::default()),
        Some(name) => check::tracing_rule(&name).map_err(|p| problems.push(p)).ok(),
    };
    let nats_url = overrides.nats_url.or(file.nats_url).unwrap_or_else(|| DEFAULT_NATS_URL.to_owned());
    problems.extend(check::nats_url(&nats_url));
    let credentials_dir = overrides.credentials_dir.or(credentials_file.dir);
    let credentials = credential_files(
        credentials_dir.clone(),
        overrides.keys_dir.or(credentials_file.keys_dir),
        overrides.ca_file.or(credentials_file.ca_file),
    )
    .map_err(|p| problems.push(p))
    .ok()
    .flatten();
    let http = match overrides.http.or(file.http) {
        None => Some(None),
        Some(addr) => check::http(&addr).map(Some).map_err(|p| problems.push(p)).ok(),
    };
    let log_level = overrides.log_level.or(logging.level).unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
    problems.extend(check::log_level(&log_level));
    let log_format = match (overrides.log_format, logging.format) {
        (Some(format), _) => Some(format),
        (None, None) => Some(LogFormat::Text),
        (None, Some(name)) => check::log_format(&name).map_err(|p| problems.push(p)).ok(),
    };

    if let Some(files) = &credentials {
        let services: Vec<Service> = only.map_or_else(|| Service::ALL.to_vec(), |only| vec![only]);
        problems.extend(check_files(city.as_ref(), &services, files));
    }
    if let Some(dir) = &data_dir {
        problems.extend(check::data_dir(dir));
    }
    let dissuasion = check::dissuasion(file.dissuasion.unwrap_or_default()).map_err(|p| problems.extend(p)).ok();
    let mut restitution = check::restitution(file.restitution.unwrap_or_default()).map_err(|p| problems.extend(p)).ok();
    if let (Some(tuning), Some(dir), Some(city)) = (&mut restitution, &credentials_dir, &city) {
        problems.extend(check::staff_approvers(tuning, dir, city));
    }
    match (city, data_dir, tracing_rule, log_format, dissuasion, restitution, http) {
        (
            Some(city),
            Some(data_dir),
            Some(tracing_rule),
            Some(log_format),
            Some(dissuasion),
            Some(restitution),
            Some(http),
        ) if problems.is_empty() => {
            let options = CityOptions {
                city,
                nats_url,
                data_dir,
                only,
                freeze_after_ms,
                at_risk_margin_ms,
                tracing_rule,
                dissuasion,
                restitution,
                credentials,
                http,
            };
            Ok(CitySettings { options, log_level, log_format })
        }
        _ => Err(Problems(problems)),
    }
}

/// The credential files `dir`, `keys_dir` and `ca_file` name: none at all means no
/// credentials; the two paths without a directory must both be given.
fn credential_files(
    dir: Option<PathBuf>,
    keys_dir: Option<PathBuf>,
    ca_file: Option<PathBuf>,
) -> Result<Option<CredentialFiles>, Problem> {
    let defaults = dir.as_deref().map(CredentialFiles::of_deployment);
    match (defaults, keys_dir, ca_file) {
        (None, None, None) => Ok(None),
        (Some(d), keys, ca) => {
            Ok(Some(CredentialFiles { keys_dir: keys.unwrap_or(d.keys_dir), ca_file: ca.unwrap_or(d.ca_file) }))
        }
        (None, Some(keys_dir), Some(ca_file)) => Ok(Some(CredentialFiles { keys_dir, ca_file })),
        (None, Some(_), None) => Err(Problem::Missing {
            key: "credentials.ca_file".into(),
            hint: "keys_dir without dir needs ca_file too (or set credentials.dir)",
        }),
        (None, None, Some(_)) => Err(Problem::Missing {
            key: "credentials.keys_dir".into(),
            hint: "ca_file without dir needs keys_dir too (or set credentials.dir)",
        }),
    }
}

#[cfg(test)]
mod tests;
