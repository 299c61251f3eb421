//! The checks of a node's configuration, one function per key: each returns the problem it
//! finds, naming the key, the value and what is accepted.

use std::path::{Path, PathBuf};

use domain::{City, Service};
use freezing::rule::TracingRule;
use security::{CredentialFiles, KeyError};

use super::Problem;
use crate::cli::LogFormat;

/// A stop-payment lapses 48 h after the bank placed it (the banks' rule; a renewal gives
/// one more).
pub const STOP_LAPSE_MS: u64 = 48 * 60 * 60 * 1000;

/// The longest delay from a stop to its conversion into a freeze a node accepts: a quarter
/// of the lapse, leaving the rest for retries, a renewal and the operator's alert. Freezing
/// converts no later than `LAPSE_MARGIN_MS` before the lapse whatever the setting, but a
/// delay near the lapse means every conversion runs at that last moment.
pub const MAX_FREEZE_AFTER_MS: u64 = STOP_LAPSE_MS / 4;

/// `value` as the problem shows it: text quoted, numbers as they are.
fn invalid(key: &str, value: impl std::fmt::Debug, reason: impl Into<String>) -> Problem {
    Problem::Invalid { key: key.to_owned(), value: format!("{value:?}"), reason: reason.into() }
}

pub(super) fn city(name: &str) -> Result<City, Problem> {
    City::parse(name).map_err(|e| invalid("city", name, format!("is not a city name ({e})")))
}

pub(super) fn service(name: &str) -> Result<Service, Problem> {
    Service::parse(name).filter(|service| Service::ALL.contains(service)).ok_or_else(|| {
        let known: Vec<&str> = Service::ALL.iter().map(|s| s.as_str()).collect();
        invalid("only", name, format!("is not a service; accepted: {}", known.join(", ")))
    })
}

/// `[dissuasion]` over dissuasion's defaults: thresholds that order (Medium below High, at
/// least one point), a call capacity and visit capacities above zero, a retention within
/// `MAX_SIGNAL_RETENTION_DAYS`.
pub(super) fn dissuasion(section: super::DissuasionSection) -> Result<dissuasion::Tuning, Vec<Problem>> {
    use dissuasion::limits::MAX_SIGNAL_RETENTION_DAYS;
    let mut tuning = dissuasion::Tuning::default();
    let grading = &mut tuning.grading;
    grading.medium_points = section.medium_points.unwrap_or(grading.medium_points);
    grading.high_points = section.high_points.unwrap_or(grading.high_points);
    grading.repeat_contacts = section.repeat_contacts.unwrap_or(grading.repeat_contacts);
    grading.long_contact_s = section.long_contact_s.unwrap_or(grading.long_contact_s);
    tuning.capacity.calls_per_day = section.calls_per_day.unwrap_or(tuning.capacity.calls_per_day);
    tuning.capacity.visits_per_day = section.visits_per_day.unwrap_or(tuning.capacity.visits_per_day);
    tuning.retention_days = section.retention_days.unwrap_or(tuning.retention_days);
    let mut problems = Vec::new();
    let (grading, capacity) = (&tuning.grading, &tuning.capacity);
    if grading.medium_points == 0 || grading.medium_points >= grading.high_points {
        let value = (grading.medium_points, grading.high_points);
        problems.push(invalid("dissuasion.medium_points", value, "must be at least 1 and below high_points"));
    }
    if grading.repeat_contacts < 2 {
        problems.push(invalid("dissuasion.repeat_contacts", grading.repeat_contacts, "must be at least 2"));
    }
    if grading.long_contact_s == 0 {
        problems.push(invalid("dissuasion.long_contact_s", grading.long_contact_s, "must be at least 1"));
    }
    if capacity.calls_per_day == 0 {
        problems.push(invalid("dissuasion.calls_per_day", capacity.calls_per_day, "must be at least 1"));
    }
    if capacity.visits_per_day.contains(&0) {
        problems.push(invalid("dissuasion.visits_per_day", capacity.visits_per_day, "must each be at least 1"));
    }
    if !(1..=MAX_SIGNAL_RETENTION_DAYS).contains(&tuning.retention_days) {
        let expected = format!("must be 1 to {MAX_SIGNAL_RETENTION_DAYS} days");
        problems.push(invalid("dissuasion.retention_days", tuning.retention_days, expected));
    }
    if problems.is_empty() { Ok(tuning) } else { Err(problems) }
}

/// `[restitution]` over restitution's defaults: a notice period of 1 to 365 days (or, for
/// drills, in minutes or seconds: one of the three), and approvers each named by 1 to 64 letters, digits,
/// `-` or `_` with a user public key (`U…`, 56 characters).
pub(super) fn restitution(section: super::RestitutionSection) -> Result<restitution::Tuning, Vec<Problem>> {
    use restitution::limits::{DAY_MS, MINUTE_MS};
    let mut tuning = restitution::Tuning::default();
    let mut problems = Vec::new();
    match (section.notice_days, section.notice_minutes, section.notice_seconds) {
        (Some(days), None, None) if (1..=365).contains(&days) => tuning.notice_ms = days * DAY_MS,
        (Some(days), None, None) => problems.push(invalid("restitution.notice_days", days, "must be 1 to 365")),
        (None, Some(minutes), None) if (1..=365 * 24 * 60).contains(&minutes) => tuning.notice_ms = minutes * MINUTE_MS,
        (None, Some(minutes), None) => {
            problems.push(invalid("restitution.notice_minutes", minutes, "must be 1 to 525600"))
        }
        (None, None, Some(seconds)) if (1..=86_400).contains(&seconds) => tuning.notice_ms = seconds * 1_000,
        (None, None, Some(seconds)) => {
            problems.push(invalid("restitution.notice_seconds", seconds, "must be 1 to 86400"))
        }
        (None, None, None) => {}
        _ => problems.push(invalid(
            "restitution.notice_days",
            (section.notice_days, section.notice_minutes, section.notice_seconds),
            "one of notice_days, notice_minutes and notice_seconds, not more",
        )),
    }
    for (name, key) in section.approvers.unwrap_or_default() {
        let name_ok =
            (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            problems.push(invalid(
                "restitution.approvers",
                &name,
                "an approver's name is 1 to 64 letters, digits, - or _",
            ));
            continue;
        }
        if !(key.len() == 56 && key.starts_with('U') && nkeys::KeyPair::from_public_key(&key).is_ok()) {
            let shown = format!("restitution.approvers.{name}");
            problems.push(invalid(
                &shown,
                &key,
                "a user public key: U and 55 more characters, as `afc-lab secure` writes",
            ));
            continue;
        }
        tuning.approvers.insert(name, key);
    }
    if problems.is_empty() { Ok(tuning) } else { Err(problems) }
}

pub(super) fn tracing_rule(name: &str) -> Result<TracingRule, Problem> {
    name.parse().map_err(|_| {
        invalid("tracing_rule", name, "is not a tracing rule; accepted: pro-rata, lowest-intermediate-balance")
    })
}

pub(super) fn log_format(name: &str) -> Result<LogFormat, Problem> {
    match name {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(invalid("logging.format", name, "is not a log format; accepted: text, json")),
    }
}

pub(super) fn log_level(level: &str) -> Option<Problem> {
    let error = tracing_subscriber::EnvFilter::try_new(level).err()?;
    Some(invalid("logging.level", level, format!("is not a log filter ({error}); e.g. info, warn,freezing=debug")))
}

pub(super) fn freeze_after(ms: u64) -> Option<Problem> {
    (ms > MAX_FREEZE_AFTER_MS).then(|| {
        invalid(
            "freeze_after_ms",
            ms,
            format!(
                "is not well under the {STOP_LAPSE_MS} ms (48 h) lapse of a stop-payment; at most {MAX_FREEZE_AFTER_MS}"
            ),
        )
    })
}

pub(super) fn at_risk_margin(ms: u64) -> Option<Problem> {
    (ms == 0 || ms >= STOP_LAPSE_MS).then(|| {
        invalid(
            "at_risk_margin_ms",
            ms,
            format!("is out of range; accepted: more than 0 and less than the {STOP_LAPSE_MS} ms lapse"),
        )
    })
}

/// The address of the node's HTTP endpoints: an IP address and a port.
pub(super) fn http(addr: &str) -> Result<std::net::SocketAddr, Problem> {
    addr.parse().map_err(|_| invalid("http", addr, "is not an address; accepted: IP:PORT, e.g. 127.0.0.1:9464"))
}

pub(super) fn nats_url(url: &str) -> Option<Problem> {
    let scheme = url.split_once("://").map(|(scheme, rest)| (scheme, rest.is_empty()));
    match scheme {
        Some(("nats" | "tls" | "ws" | "wss", false)) => None,
        _ => Some(invalid(
            "nats_url",
            url,
            "is not a NATS URL; accepted: nats://HOST:PORT, tls://HOST:PORT (ws://, wss://)",
        )),
    }
}

/// The credential files of `services` of `city` (when the city is known): each identity's
/// seed, present and readable by its user only, and the CA.
pub fn check_files(city: Option<&City>, services: &[Service], files: &CredentialFiles) -> Vec<Problem> {
    let mut problems = Vec::new();
    for service in services.iter().filter(|_| city.is_some()) {
        let city = city.expect("filtered");
        let name = format!("{city}-{service}");
        let path = security::keys::seed_path(&files.keys_dir, &name);
        let reason = match security::Identity::load(&files.keys_dir, &name) {
            Ok(_) => continue,
            Err(KeyError::Exposed { mode, .. }) => {
                format!("the seed of {name} may be read by others (mode {mode:o}); chmod 600 it")
            }
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                format!("no seed of the identity {name} (generated by afc-lab secure, or by the province)")
            }
            Err(error) => format!("the seed of {name}: {error}"),
        };
        problems.push(Problem::File { key: "credentials.keys_dir".into(), path, reason });
    }
    match std::fs::metadata(&files.ca_file) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => problems.push(file_problem("credentials.ca_file", &files.ca_file, "not a file")),
        Err(error) => {
            problems.push(file_problem("credentials.ca_file", &files.ca_file, &format!("the CA certificate: {error}")))
        }
    }
    problems
}

/// The approvers of the city's roster of staff (`<dir>/staff/<city>.json`, when the
/// deployment has one) join restitution's roster, so that they approve in the console with the
/// key they log in with; an approver the config names keeps the config's key.
pub(super) fn staff_approvers(tuning: &mut restitution::Tuning, dir: &Path, city: &City) -> Option<Problem> {
    use security::staff::Roster;
    let path = Roster::path(dir, city.as_str());
    if !path.exists() {
        return None;
    }
    match Roster::load(&path) {
        Ok(roster) => {
            for (name, key) in roster.approvers() {
                tuning.approvers.entry(name.to_owned()).or_insert_with(|| key.to_owned());
            }
            None
        }
        Err(error) => Some(file_problem("credentials.dir", &path, &format!("the roster of staff: {error}"))),
    }
}

fn file_problem(key: &str, path: &Path, reason: &str) -> Problem {
    Problem::File { key: key.to_owned(), path: path.to_owned(), reason: reason.to_owned() }
}

/// The data directory exists and is a writable directory, or can be created. Tried, not
/// guessed (permissions, a read-only mount, `/proc`): a probe directory is made in it, or
/// in its nearest existing ancestor, and removed again.
pub(super) fn data_dir(dir: &Path) -> Option<Problem> {
    let key = "data_dir";
    if dir.is_relative() {
        return Some(file_problem(
            key,
            dir,
            "a relative path; give an absolute one (a service's working directory varies)",
        ));
    }
    let mut existing: PathBuf = dir.to_owned();
    while std::fs::symlink_metadata(&existing).is_err() {
        existing = existing.parent()?.to_owned();
    }
    if !existing.is_dir() {
        let reason = format!("cannot be created: {} is not a directory", existing.display());
        return Some(file_problem(key, dir, &reason));
    }
    let probe = existing.join(format!(".afc-config-check-{}", std::process::id()));
    match std::fs::create_dir(&probe) {
        Ok(()) => {
            let _ = std::fs::remove_dir(&probe);
            None
        }
        Err(error) if existing == dir => Some(file_problem(key, dir, &format!("is not writable ({error})"))),
        Err(error) => Some(file_problem(key, dir, &format!("cannot be created in {} ({error})", existing.display()))),
    }
}
