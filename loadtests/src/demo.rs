//! `afc-lab demo`: a province hub and three city nodes with simulated banks; a small wave of
//! reports with layered money trails; per case the accounts stopped and frozen, the money
//! held and the time-to-freeze; then a summary. Then the frozen money goes back: restitution
//! runs with a notice of [`DEMO_NOTICE_MS`] (real time), two lab approvers approve every
//! allocation once it ends, and the banks return each victim's share; per case the money
//! returned and the (masked) account it went to.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use domain::{CaseId, City, Fen};
use events::{BlockingEvent, FreezingEvent, Payload};
use hdrhistogram::Histogram;
use protocol::Reply;
use simulator::wave::{self, SINGLE_TRAIL_ACCOUNTS, SINGLE_TRAIL_DEPTH, WaveConfig, WaveReport};

use crate::deployment::{CITIES, Embedded, EmbeddedOptions, Watch, freezes_settled};
use crate::drill::restitution::watch::RestitutionWatch;
use crate::drill::restitution::{Approvers, LabApprovers};
use crate::harness::limits::HISTOGRAM_SIGFIG;
use afc::client;

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub cases_per_city: u32,
    pub keep: bool,
}

/// Longest the demo waits for every trace and freeze.
const DEMO_TIMEOUT: Duration = Duration::from_secs(120);
/// Cities of the demo's province: the first this many of [`CITIES`], enough to show the
/// province stream sourcing more than one city.
const DEMO_CITIES: usize = 3;
/// Longest the demo waits for the province stream to catch up with the cities.
const PROVINCE_CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the demo waits for blocking to screen every case and pool every account that held
/// victim money.
const BLOCKING_CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two looks at the province stream (or blocking's events) while it catches up.
const PROVINCE_POLL: Duration = Duration::from_millis(200);
/// Restitution's notice period in the demo, in real ms: the rules' 30 days, shortened to a
/// few seconds so that the returns show (an allocation reopened by a later freeze waits it
/// again).
pub const DEMO_NOTICE_MS: u64 = 3_000;

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let cities: Vec<City> =
        CITIES[..DEMO_CITIES].iter().map(|name| City::parse(name)).collect::<Result<_, _>>().context("a demo city")?;
    let now = domain::system_clock().now_ms();
    let wave = wave::generate(&WaveConfig::typical(options.seed, cities.clone(), options.cases_per_city), now)?;
    println!(
        "afc-lab demo: province hub + {} cities, {} reports (seed {}), trails of {SINGLE_TRAIL_DEPTH} levels / {SINGLE_TRAIL_ACCOUNTS} accounts, \
         30% paid through payment orders, 20% of leaf mules cashed out, 30% of last forwards still pending",
        cities.len(),
        wave.reports.len(),
        options.seed
    );
    let approvers = std::sync::Arc::new(LabApprovers::generate());
    let embedded = EmbeddedOptions { restitution: approvers.tuning(DEMO_NOTICE_MS), ..EmbeddedOptions::default() };
    let deployment = Embedded::start(&cities, wave.world.clone(), embedded).await?;
    if let Some(secrets) = deployment.secrets_dir() {
        println!(
            "security on: every process connects with its own nkey identity over TLS; the servers enforce each one's \
             permissions. Credentials (removed when the demo ends): {} (keys/<identity>.nk, pki/ca.crt)",
            secrets.display()
        );
    }
    let consoles = match deployment.secrets_dir() {
        Some(_) => crate::console::start_all(&deployment, &cities).await?,
        None => Vec::new(),
    };
    for line in crate::console::describe(&deployment, &consoles) {
        println!("{line}");
    }
    let mut watches = BTreeMap::new();
    for city in &cities {
        watches.insert(city.clone(), Watch::start(deployment.client(city), city).await?);
    }
    let desks: BTreeMap<City, async_nats::Client> =
        cities.iter().map(|city| (city.clone(), deployment.client(city).clone())).collect();
    let sources: Vec<_> = desks.iter().map(|(city, client)| (client.clone(), city.clone())).collect();
    let returns = RestitutionWatch::start(&sources).await?;
    let approving = Approvers::start(approvers, desks, deployment.clock.clone(), 0);

    let mut cases: Vec<(CaseId, &WaveReport)> = Vec::new();
    for report in &wave.reports {
        let body = serde_json::to_vec(&report.body)?;
        match client::report(deployment.client(&report.city), &report.city, body).await? {
            Reply::Ok(accepted) => cases.push((accepted.case_id, report)),
            Reply::Error(error) => anyhow::bail!("report refused: {error}"),
        }
    }
    for city in &cities {
        let ids: Vec<CaseId> = cases.iter().filter(|(_, r)| &r.city == city).map(|(c, _)| c.clone()).collect();
        watches
            .get_mut(city)
            .expect("watched")
            .until(DEMO_TIMEOUT, |events| ids.iter().all(|id| events.get(id).is_some_and(|e| freezes_settled(e))))
            .await
            .with_context(|| format!("waiting for {city}'s traces and freezes"))?;
    }

    println!();
    println!(
        "{:<26} {:<9} {:<26} {:>13} {:>7} {:>6} {:>13} {:>13} {:>13} {:>9}",
        "case", "city", "fraud type", "reported", "stopped", "frozen", "held", "in trail", "cashed out", "ttf ms"
    );
    let mut ttf = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
    let (mut total_loss, mut total_held, mut total_recoverable) = (Fen::ZERO, Fen::ZERO, Fen::ZERO);
    for (case_id, report) in &cases {
        let events = watches[&report.city].events(case_id);
        let stopped = events.iter().filter(|e| matches!(e, FreezingEvent::AccountStopped { .. })).count();
        let frozen = events.iter().filter(|e| matches!(e, FreezingEvent::AccountFrozen { .. })).count();
        let Some(FreezingEvent::TraceCompleted { claimed_fen, time_to_freeze_ms, .. }) =
            events.iter().find(|e| matches!(e, FreezingEvent::TraceCompleted { .. }))
        else {
            anyhow::bail!("{case_id} has no completed trace");
        };
        let recoverable = report.truth.recoverable()?;
        total_loss = total_loss.checked_add(report.truth.loss)?;
        total_held = total_held.checked_add(*claimed_fen)?;
        total_recoverable = total_recoverable.checked_add(recoverable)?;
        if let Some(ms) = time_to_freeze_ms {
            ttf.record(*ms)?;
        }
        println!(
            "{:<26} {:<9} {:<26} {:>13} {:>7} {:>6} {:>13} {:>13} {:>13} {:>9}",
            case_id.as_str(),
            report.city.as_str(),
            report.truth.fraud_type.as_str(),
            report.truth.loss.to_string(),
            stopped,
            frozen,
            claimed_fen.to_string(),
            recoverable.to_string(),
            report.truth.cashed_out.to_string(),
            time_to_freeze_ms.map_or("-".into(), |ms| ms.to_string()),
        );
    }
    println!();
    println!(
        "summary: {} cases, {} reported lost, {} still in the trails at report time, {} held ({:.1}% of reported, {:.1}% of what was still there)",
        cases.len(),
        total_loss,
        total_recoverable,
        total_held,
        percent(total_held, total_loss),
        percent(total_held, total_recoverable)
    );
    println!(
        "time-to-freeze (report received -> last stop-payment holding money), ms: p50 {} p90 {} p99 {} max {}",
        ttf.value_at_quantile(0.5),
        ttf.value_at_quantile(0.9),
        ttf.value_at_quantile(0.99),
        ttf.max()
    );
    for city in &cities {
        let ids: Vec<&CaseId> = cases.iter().filter(|(_, r)| &r.city == city).map(|(c, _)| c).collect();
        let pooled = ids
            .iter()
            .flat_map(|id| watches[city].events(id))
            .filter_map(|e| match e {
                FreezingEvent::AccountStopped { case_id, account, claim_fen, .. } if !claim_fen.is_zero() => {
                    Some((case_id, account))
                }
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        println!("{}", blocking_line(&deployment, city, ids.len(), pooled).await?);
    }
    returns.until_settled(&watches.iter().collect::<Vec<_>>()).await;
    let approved = approving.stop().await?;
    let frozen =
        cases.iter().flat_map(|(case_id, report)| watches[&report.city].events(case_id)).filter_map(|e| match e {
            FreezingEvent::AccountFrozen { frozen_fen, .. } => Some(frozen_fen),
            _ => None,
        });
    returns_table(&deployment, &cases, approved.approvals, Fen::sum(frozen)?)?;
    let province = province_count(&deployment).await?;
    println!("province stream AFC_PROVINCE holds {province} events sourced from the cities");
    println!();
    let month = coordinator::core::Period::month_of(domain::system_clock().now_ms()).to_string();
    let report = deployment.province_report(&month).await?;
    let mut out = std::io::stdout().lock();
    afc::cli::province::write_table(&mut out, &report)?;
    drop(out);

    if options.keep {
        println!();
        println!("left running (Ctrl-C to stop):");
        println!("  hub       {}", deployment.province.hub_url());
        for city in &cities {
            println!("  {:<9} {}", city.as_str(), deployment.province.city(city)?.server.url());
        }
        let first = &cases[0];
        let url = deployment.province.city(&first.1.city)?.server.url();
        let (credentials, nats_auth) = match deployment.secrets_dir() {
            Some(dir) => {
                let files = security::CredentialFiles::of_deployment(dir);
                let observer = security::secrets::province_identity(security::roles::OBSERVER);
                let seed = security::keys::seed_path(&files.keys_dir, &observer);
                let nats = format!(" --nkey {} --tlsca {}", seed.display(), files.ca_file.display());
                (format!(" --credentials {}", dir.display()), nats)
            }
            None => (String::new(), String::new()),
        };
        println!();
        println!("  afc case show --city {} --nats {url}{credentials} {}", first.1.city, first.0);
        println!("  afc case report --city {} --nats {url}{credentials} --file report.json", first.1.city);
        println!("  nats --server {}{nats_auth} stream info AFC_PROVINCE", deployment.province.hub_url());
        for line in crate::console::describe(&deployment, &consoles) {
            println!("{line}");
        }
        tokio::signal::ctrl_c().await?;
    }
    deployment.stop().await;
    Ok(())
}

/// Per case, what the banks returned to the victim and into which of their accounts (masked);
/// then the total against what was frozen.
fn returns_table(
    deployment: &Embedded,
    cases: &[(CaseId, &WaveReport)],
    approvals: u64,
    frozen: Fen,
) -> anyhow::Result<()> {
    let executed = simulator::world::lock(&deployment.world).ledger.returns_executed();
    println!();
    println!(
        "returns: restitution's notice {} s, {approvals} approvals signed by two lab approvers, banks returning at once",
        DEMO_NOTICE_MS / 1_000
    );
    println!("{:<26} {:<9} {:>13} {:>8}  to the victim's own account", "case", "city", "returned", "returns");
    let mut total = Fen::ZERO;
    for (case_id, report) in cases {
        let mine: Vec<_> = executed.iter().filter(|r| &r.case_id == case_id).collect();
        let returned = Fen::sum(mine.iter().map(|r| r.amount))?;
        total = total.checked_add(returned)?;
        let mut to: Vec<String> = mine.iter().map(|r| masked(&r.to)).collect();
        to.dedup();
        let own = if mine.iter().all(|r| r.to == report.truth.victim_account) { "" } else { " (not the victim's!)" };
        println!(
            "{:<26} {:<9} {:>13} {:>8}  {}{own}",
            case_id.as_str(),
            report.city.as_str(),
            returned.to_string(),
            mine.len(),
            if to.is_empty() { "-".to_owned() } else { to.join(", ") }
        );
    }
    println!("returned {total} of {frozen} frozen ({:.1}%) in {} returns", percent(total, frozen), executed.len());
    Ok(())
}

/// An account as a statement prints it: the bank and the last four digits.
fn masked(account: &domain::AccountRef) -> String {
    let text = account.to_string();
    let (bank, number) = text.split_once(':').unwrap_or(("", text.as_str()));
    let shown = number.len().saturating_sub(4);
    format!("{bank}:{}{}", "*".repeat(shown), &number[shown..])
}

fn percent(part: Fen, whole: Fen) -> f64 {
    if whole.is_zero() { 0.0 } else { part.get() as f64 * 100.0 / whole.get() as f64 }
}

/// What blocking did in `city`, once it has screened the city's `cases` and put the `pooled`
/// (case, account) stops holding money in the pool (bounded wait): one line.
async fn blocking_line(deployment: &Embedded, city: &City, cases: usize, pooled: usize) -> anyhow::Result<String> {
    let js = async_nats::jetstream::new(deployment.client(city).clone());
    let deadline = tokio::time::Instant::now() + BLOCKING_CATCH_UP_TIMEOUT;
    loop {
        let (mut screened, mut blocked, mut confirmed, mut entered, mut involved) = (0, 0, 0, 0, 0);
        for envelope in crate::drill::streams::read_back(&js, city, events::Service::Blocking).await? {
            match envelope.payload {
                Payload::Blocking(BlockingEvent::CaseScreened { .. }) => screened += 1,
                Payload::Blocking(BlockingEvent::IdentifierBlocked { .. }) => blocked += 1,
                Payload::Blocking(BlockingEvent::OrderConfirmed { .. }) => confirmed += 1,
                Payload::Blocking(BlockingEvent::PoolEntered { .. }) => entered += 1,
                Payload::Blocking(BlockingEvent::PoolInvolved { .. }) => involved += 1,
                _ => {}
            }
        }
        let caught_up = screened >= cases && entered + involved >= pooled;
        if caught_up || tokio::time::Instant::now() > deadline {
            let late = if caught_up { "" } else { " (blocking had not caught up)" };
            return Ok(format!(
                "blocking  {:<9} {blocked} identifiers blocked ({confirmed} carrier and bank orders confirmed), \
                 {entered} accounts in the high-risk pool{late}",
                city.as_str()
            ));
        }
        tokio::time::sleep(PROVINCE_POLL).await;
    }
}

/// Messages in the province stream, once it has caught up with the cities (bounded wait).
async fn province_count(deployment: &Embedded) -> anyhow::Result<u64> {
    let js = async_nats::jetstream::new(deployment.hub.clone());
    let mut expected = 0;
    for (city, _) in deployment.province.cities() {
        let city_js = async_nats::jetstream::new(deployment.client(city).clone());
        let mut stream = city_js.get_stream(city.stream_name()).await?;
        expected += stream.info().await?.state.messages;
    }
    let deadline = tokio::time::Instant::now() + PROVINCE_CATCH_UP_TIMEOUT;
    loop {
        let mut stream = js.get_stream(protocol::subjects::PROVINCE_STREAM).await?;
        let count = stream.info().await?.state.messages;
        if count >= expected || tokio::time::Instant::now() > deadline {
            return Ok(count);
        }
        tokio::time::sleep(PROVINCE_POLL).await;
    }
}
