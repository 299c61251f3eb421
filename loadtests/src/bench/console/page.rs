//! Targets 1 and 2 of `afc-lab bench console`: the page of a case whose trail has
//! [`CONSOLE_CASE_HOPS`] hops, asked for again and again over HTTP and opened in headless
//! Chromium, beside its floors measured in the same run.
//!
//! The case is real: one report filed with intake on the embedded deployment, its trail
//! ([`TRAIL_WIDTHS`], five levels) traced by freezing through the simulated banks, projected
//! into intake's timeline; the page is rendered from intake's `show` answer over NATS, as the
//! intake officer logged in asks for it. The floors, interleaved with the page's requests: a
//! static asset and the login page of the same console (what any answer of the console
//! costs), and the bare `show` round trip over NATS as the same officer, its answer decoded
//! (what the page waits for before it renders anything).

use std::time::Duration;

use anyhow::Context as _;
use domain::{CaseId, City};
use hdrhistogram::Histogram;
use protocol::intake::TimelineKind;
use simulator::wave::{self, WaveConfig};
use testkit::Browser;
use tokio::time::Instant;

use super::http;
use crate::completions::Completions;
use crate::console::{RunningConsole, seed_of};
use crate::deployment::{Embedded, EmbeddedOptions};
use crate::harness::Percentiles;
use crate::harness::limits::HISTOGRAM_SIGFIG;
use crate::harness::recorder::micros;
use crate::targets::CONSOLE_CASE_HOPS;

/// Mules on each level of the measured case's trail, level 1 first: 500 accounts.
pub const TRAIL_WIDTHS: [u32; 5] = [2, 8, 30, 120, 340];
const _: () = {
    let (mut level, mut accounts) = (0, 0);
    while level < TRAIL_WIDTHS.len() {
        accounts += TRAIL_WIDTHS[level];
        level += 1;
    }
    assert!(accounts == CONSOLE_CASE_HOPS, "the trail's widths must add up to the hops measured");
};
/// The victim's loss, in yuan: enough for every one of the 340 leaves to hold more than the
/// ¥1 freezing follows.
const LOSS_YUAN: std::ops::Range<u32> = 5_000_000..6_000_000;
/// Who asks for the page: the intake officer, whose role reads cases.
pub const OFFICER: &str = "intake-1";
/// How long the case may take to be traced and projected into intake's timeline.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The timeline counts as settled when its entries did not change for this long.
const SETTLED_FOR: Duration = Duration::from_secs(3);
/// Requests of each kind made and left out before measuring.
const WARMUP_REQUESTS: u32 = 20;

/// The measured case, as intake shows it.
#[derive(Debug, Clone)]
pub struct MeasuredCase {
    pub case_id: CaseId,
    /// Hops traced (`traced` entries that open a hop).
    pub hops: usize,
    pub entries: usize,
    /// Bytes of intake's `show` answer (JSON).
    pub show_bytes: usize,
    /// Bytes of the case page, and boxes drawn in its graph.
    pub page_bytes: usize,
    pub drawn: usize,
    /// From the report to its timeline settled.
    pub settled_in: Duration,
}

/// The server-time figures, µs.
#[derive(Debug, Clone)]
pub struct ServerTimes {
    pub requests: u32,
    pub page: Percentiles,
    pub asset: Percentiles,
    pub login: Percentiles,
    pub show: Percentiles,
}

/// The browser's figures, ms.
#[derive(Debug, Clone)]
pub struct Paints {
    pub first_paint_ms: Vec<f64>,
    /// The navigation's `responseEnd` (the last byte of the page), ms after it started.
    pub response_end_ms: Vec<f64>,
    /// Its `loadEventEnd`.
    pub load_ms: Vec<f64>,
}

/// The wave of one report whose trail is [`TRAIL_WIDTHS`] wide, in `city`.
pub fn wave(city: &City, seed: u64) -> anyhow::Result<wave::Wave> {
    let config = WaveConfig {
        cities: vec![city.clone()],
        layer_widths: TRAIL_WIDTHS.to_vec(),
        amount_yuan: LOSS_YUAN,
        ..WaveConfig::single_trail(seed)
    };
    wave::generate(&config, domain::system_clock().now_ms()).context("generating the 500-hop trail")
}

/// The deployment the page is measured on: secured (the console logs people in with their
/// identities), stops converted into freezes after a second, as in the demo.
pub async fn deploy(city: &City, wave: &wave::Wave) -> anyhow::Result<Embedded> {
    let options = EmbeddedOptions { coordinator: false, ..EmbeddedOptions::default() };
    Embedded::start(std::slice::from_ref(city), wave.world.clone(), options).await
}

/// Files the wave's report and waits until freezing completed its trace and intake's
/// timeline stopped changing.
pub async fn file_case(deployment: &Embedded, city: &City, wave: &wave::Wave) -> anyhow::Result<MeasuredCase> {
    let report = wave.reports.first().context("the wave has no report")?;
    let mut completions = Completions::watch(deployment, std::slice::from_ref(city)).await?;
    let started = Instant::now();
    let accepted = afc::client::report(deployment.client(city), city, serde_json::to_vec(&report.body)?)
        .await?
        .into_result()
        .context("intake refused the report")?;
    let case_id = accepted.case_id;
    anyhow::ensure!(
        completions.wait_for(1, started + SETTLE_TIMEOUT).await == 1,
        "the trace of {case_id} did not complete within {SETTLE_TIMEOUT:?}"
    );
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let answer = afc::client::ask(
            deployment.client(city),
            city,
            domain::Service::Intake,
            protocol::intake::VERB_SHOW,
            serde_json::to_vec(&protocol::intake::ShowRequest { case_id: case_id.clone() })?,
        )
        .await?;
        let reply: protocol::intake::ShowResponse = serde_json::from_slice(&answer)?;
        let timeline = reply.into_result().context("intake's show")?;
        if timeline.entries.len() != last {
            (last, since) = (timeline.entries.len(), Instant::now());
        } else if since.elapsed() >= SETTLED_FOR {
            let hops = timeline
                .entries
                .iter()
                .filter(|e| e.kind == TimelineKind::Traced && e.hop.is_some())
                .filter_map(|e| e.hop)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            return Ok(MeasuredCase {
                case_id,
                hops,
                entries: last,
                show_bytes: answer.len(),
                page_bytes: 0,
                drawn: 0,
                settled_in: started.elapsed() - SETTLED_FOR,
            });
        }
        anyhow::ensure!(started.elapsed() < SETTLE_TIMEOUT, "the timeline of {case_id} did not settle in time");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, HISTOGRAM_SIGFIG)?)
}

/// `requests` of the case page, each followed by one of the static asset, one of the login
/// page and one bare `show` round trip, as the officer; the case's page size and drawing are
/// filled into `case`.
pub async fn server_times(
    deployment: &Embedded,
    console: &RunningConsole,
    city: &City,
    case: &mut MeasuredCase,
    requests: u32,
) -> anyhow::Result<ServerTimes> {
    let who = format!("{city}-{OFFICER}");
    let cookie = http::login(&console.url, &who, &seed_of(deployment, &who)?).await?;
    let secrets = deployment.secrets_dir().context("a secured deployment")?;
    let url = deployment.province.city(city)?.server.url();
    let desk = crate::secured::connect(secrets, &who, protocol::subjects::city_inbox(city, &who), &url).await?;
    let path = format!("/case/{}", case.case_id);
    let (mut page, mut asset, mut login, mut show) = (histogram()?, histogram()?, histogram()?, histogram()?);
    for round in 0..WARMUP_REQUESTS + requests {
        let measured = round >= WARMUP_REQUESTS;
        let answer = http::get(&console.url, &path, Some(&cookie)).await?;
        anyhow::ensure!(answer.status == 200, "{path} answered {}", answer.status);
        if round == 0 {
            let body = String::from_utf8_lossy(&answer.body);
            (case.page_bytes, case.drawn) = (answer.body.len(), body.matches(" data-hop=").count());
        }
        let css = http::get(&console.url, "/assets/console.css", None).await?;
        anyhow::ensure!(css.status == 200, "the style sheet answered {}", css.status);
        let form = http::get(&console.url, "/login", None).await?;
        anyhow::ensure!(form.status == 200, "the login page answered {}", form.status);
        let asked = Instant::now();
        let timeline = afc::client::show(&desk, city, &case.case_id).await?.into_result()?;
        let asked = asked.elapsed();
        anyhow::ensure!(timeline.entries.len() >= case.entries, "intake showed fewer entries than before");
        if measured {
            page.record(micros(answer.took))?;
            asset.record(micros(css.took))?;
            login.record(micros(form.took))?;
            show.record(micros(asked))?;
        }
    }
    let of = |h: &Histogram<u64>| Percentiles::of(h);
    Ok(ServerTimes { requests, page: of(&page), asset: of(&asset), login: of(&login), show: of(&show) })
}

/// `runs` times, in a fresh incognito tab of headless Chromium: the login form filled and
/// sent, then the case page opened; its first contentful paint.
pub async fn paints(
    deployment: &Embedded,
    console: &RunningConsole,
    city: &City,
    case_id: &CaseId,
    runs: u32,
) -> anyhow::Result<Paints> {
    let who = format!("{city}-{OFFICER}");
    let seed = seed_of(deployment, &who)?;
    let browser = Browser::launch()
        .await
        .context("starting headless Chromium (AFC_CHROMIUM, or `cargo xtask install-chromium`)")?;
    let mut paints = Paints { first_paint_ms: Vec::new(), response_end_ms: Vec::new(), load_ms: Vec::new() };
    for _ in 0..runs {
        let tab = browser.new_context_tab().await?;
        tab.goto(&format!("{}/login", console.url)).await?;
        tab.fill("input[name=name]", &who).await?;
        tab.fill("input[name=key]", &seed).await?;
        tab.submit_and_wait("button[type=submit]").await?;
        tab.goto(&format!("{}/case/{case_id}", console.url)).await?;
        paints.first_paint_ms.push(tab.first_contentful_paint_ms().await?);
        let timing = |field: &str| format!("performance.getEntriesByType('navigation')[0].{field}");
        let number = |value: serde_json::Value| value.as_f64().unwrap_or(f64::NAN);
        paints.response_end_ms.push(number(tab.eval(&timing("responseEnd")).await?));
        paints.load_ms.push(number(tab.eval(&timing("loadEventEnd")).await?));
        let drawn = tab.eval("document.querySelectorAll('svg.trail g.node[data-hop]').length").await?;
        anyhow::ensure!(drawn.as_u64().unwrap_or(0) > 0, "the browser shows no trail: {drawn}");
        tab.close().await?;
    }
    Ok(paints)
}
