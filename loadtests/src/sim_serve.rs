//! `afc-lab sim serve --deployment DIR [--scenario FILE]`: the simulated banks and payment
//! platforms of a local province (`afc-lab up`), as a process of their own. The scenario's
//! world (default: the built-in [`DEFAULT_SCENARIO`]) is built with its start moved so that
//! every report is due now: the crime wave has just happened, the mules whose forwarding is
//! still to come forward on the wall clock. Each of its reports for a city of the deployment
//! is written to `<dir>/reports/<city>-<n>.json`, for `afc case report --file`. Every city's
//! gateways connect as their own identities (`<city>-bank-<bank>`, `<city>-pay-<platform>`)
//! and answer until SIGINT or SIGTERM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use domain::City;
use simulator::{Scenario, Script, generate_script};

use crate::secured;
use crate::up::record::{self, Record};

/// The scenario served when none is given: two cities, four victims.
pub const DEFAULT_SCENARIO: &str = include_str!("../../simulator/scenarios/lab-province.toml");
/// Where [`DEFAULT_SCENARIO`] comes from, for messages.
pub const DEFAULT_SCENARIO_PATH: &str = "simulator/scenarios/lab-province.toml";
/// In a deployment directory: the reports of the served world.
pub const REPORTS_DIR: &str = "reports";
/// In the run directory: written once every gateway is serving, removed on exit.
pub const READY_FILE: &str = "sim.ready";
/// How long before now the last report of the wave fell due.
const LAST_REPORT_AGO: Duration = Duration::from_secs(60);

/// The scenario in `path`, or the built-in one.
pub fn load_scenario(path: Option<&Path>) -> anyhow::Result<Scenario> {
    match path {
        Some(path) => Scenario::load(path).with_context(|| format!("loading the scenario {}", path.display())),
        None => Scenario::parse(DEFAULT_SCENARIO).with_context(|| format!("parsing {DEFAULT_SCENARIO_PATH}")),
    }
}

/// The scenario's script with its start moved so that its last report fell due
/// [`LAST_REPORT_AGO`] before `now_ms`. Fails when none of its cities is in `cities`.
pub fn lab_script(mut scenario: Scenario, cities: &[City], now_ms: u64) -> anyhow::Result<Script> {
    let known: Vec<&City> = scenario.cities.iter().map(|spec| &spec.city).filter(|c| cities.contains(c)).collect();
    anyhow::ensure!(
        !known.is_empty(),
        "the scenario {} files reports in {} but the deployment has {}",
        scenario.name,
        names(scenario.cities.iter().map(|spec| &spec.city)),
        names(cities)
    );
    let first = generate_script(&scenario).context("generating the crime wave")?;
    let last_due = first.reports.iter().map(|report| report.due_at_ms).max().unwrap_or(first.origin_ms);
    let span = last_due.saturating_sub(first.origin_ms) + LAST_REPORT_AGO.as_millis() as u64;
    scenario.start_ms = now_ms.checked_sub(span).context("the scenario is longer than the time since 1970")?;
    generate_script(&scenario).context("generating the crime wave")
}

fn names<'a>(cities: impl IntoIterator<Item = &'a City>) -> String {
    cities.into_iter().map(City::as_str).collect::<Vec<_>>().join(", ")
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct SimServeOptions {
    /// The deployment directory (`afc-lab up --dir`).
    pub deployment: PathBuf,
    /// The scenario file (default: the built-in one).
    pub scenario: Option<PathBuf>,
}

/// Serves the deployment's banks and platforms until SIGINT or SIGTERM.
pub async fn serve(options: SimServeOptions) -> anyhow::Result<()> {
    let record = Record::load(&options.deployment)?;
    let cities: Vec<City> = record.cities.iter().map(|node| node.city.clone()).collect();
    let scenario = load_scenario(options.scenario.as_deref())?;
    let bank_answer_ms = (scenario.banks.answer_ms.min + scenario.banks.answer_ms.max) / 2;
    let clock = domain::system_clock();
    let script = lab_script(scenario, &cities, clock.now_ms())?;
    let world = &script.world;
    for bank in &world.banks {
        anyhow::ensure!(record.banks.contains(bank), "the deployment has no gateway identities for the bank {bank}");
    }
    for platform in &world.platforms {
        anyhow::ensure!(
            record.platforms.contains(platform),
            "the deployment has no gateway identities for the platform {platform}"
        );
    }
    let written = write_reports(&record.dir, &script, &cities)?;

    let mut gateways = Vec::new();
    for node in &record.cities {
        let connected = secured::connect_gateways(&record.secrets, &node.city, world, &node.node.url)
            .await
            .with_context(|| format!("connecting {}'s gateways", node.city))?;
        gateways.extend(connected);
    }
    let world = Arc::new(Mutex::new(script.world.clone()));
    let serve_options = simulator::ServeOptions {
        clock: clock.clone(),
        latency: Duration::from_millis(bank_answer_ms),
        fail_every: None,
    };
    let banks = simulator::serve_as(world.clone(), gateways, serve_options).await.context("serving the banks")?;
    let driver = simulator::spawn_driver(world, clock);
    let ready = record.dir.join(record::RUN_DIR).join(READY_FILE);
    std::fs::write(&ready, format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", ready.display()))?;
    eprintln!(
        "afc-lab sim serve: {} ({} reports in {}); banks {}, platforms {} at {}",
        script.name,
        written,
        record.dir.join(REPORTS_DIR).display(),
        script.world.banks.iter().map(|b| b.as_str()).collect::<Vec<_>>().join(", "),
        script.world.platforms.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
        names(&cities),
    );

    let stopped_by = until_stopped().await?;
    eprintln!("afc-lab sim serve: {stopped_by}: stopping");
    driver.shutdown().await;
    banks.shutdown().await;
    let _ = std::fs::remove_file(&ready);
    Ok(())
}

/// Writes each report of a city in `cities` to `<dir>/reports/<city>-<n>.json` (the
/// directory emptied first: the reports of an earlier world do not match this one). Returns
/// how many.
fn write_reports(dir: &Path, script: &Script, cities: &[City]) -> anyhow::Result<usize> {
    let reports = dir.join(REPORTS_DIR);
    if reports.exists() {
        std::fs::remove_dir_all(&reports).with_context(|| format!("emptying {}", reports.display()))?;
    }
    std::fs::create_dir_all(&reports).with_context(|| format!("creating {}", reports.display()))?;
    let mut numbers: BTreeMap<&City, usize> = BTreeMap::new();
    let mut skipped = 0;
    for report in &script.reports {
        if !cities.contains(&report.city) {
            skipped += 1;
            continue;
        }
        let n = numbers.entry(&report.city).or_default();
        *n += 1;
        let path = reports.join(format!("{}-{n}.json", report.city));
        std::fs::write(&path, serde_json::to_vec_pretty(&report.body)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if skipped > 0 {
        eprintln!("afc-lab sim serve: {skipped} reports of cities not in the deployment left out");
    }
    Ok(numbers.values().sum())
}

/// Waits for SIGINT or SIGTERM; returns which.
async fn until_stopped() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cities(names: &[&str]) -> Vec<City> {
        names.iter().map(|name| City::parse(name).unwrap()).collect()
    }

    #[test]
    fn the_built_in_world_has_every_report_due_now_and_fits_one_city() {
        let now = 1_800_000_000_000;
        let script = lab_script(load_scenario(None).unwrap(), &cities(&["hangzhou"]), now).unwrap();
        assert!(!script.reports.is_empty());
        assert!(script.reports.iter().all(|report| report.due_at_ms <= now));
        assert!(script.reports.iter().any(|report| report.city.as_str() == "hangzhou"));
    }

    #[test]
    fn a_world_of_other_cities_is_refused_naming_both() {
        let error = lab_script(load_scenario(None).unwrap(), &cities(&["lishui"]), 1_800_000_000_000).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("hangzhou, wenzhou") && message.contains("lishui"), "{message}");
    }
}
