//! `afc-lab bench console`: the staff console's performance targets (issue 18), on the lab's
//! embedded deployment (secured: the console logs people in with their own identities).
//!
//! 1. The page of a case whose trail has 500 hops: its server time (request to the last byte,
//!    on loopback) p99 ≤ 100 ms, beside its floors measured in the same run: a static asset
//!    and the login page of the same console, and intake's bare `show` round trip ([`page`]).
//! 2. The same page's first contentful paint in headless Chromium ≤ 1 s, a fresh incognito
//!    tab logging in through the form each time ([`page::paints`]).
//! 3. The metrics endpoint scraped every second and the console's live updates under 2% of
//!    one core at 400 cases/s: runs without and with them alternately, the difference of this
//!    process's CPU ([`cost`]).

pub mod cost;
pub mod http;
pub mod page;
pub mod telling;

use std::time::Duration;

use anyhow::Context as _;
use domain::City;

use crate::harness::Percentiles;
use crate::setup::Setup;
use crate::targets::{
    CONSOLE_CASE_HOPS, CONSOLE_COST_PCT, CONSOLE_COST_RATE_PER_S, CONSOLE_FIRST_PAINT_MS, CONSOLE_PAGE_P99_MS,
};
use cost::{CLIENT_THREADS, CONSOLE_THREADS, CostPlan, CostRun};
use page::{MeasuredCase, Paints, ServerTimes, TRAIL_WIDTHS};

/// Events a single-trail case puts into its city's stream, about (docs/benchmarks.md, `load`):
/// what the services' noting is projected to the rate asked for with.
const EVENTS_PER_CASE: f64 = 30.0;
/// Times one event's case is noted at most: where it is published, and in each of the other
/// four services that handles it (each consumes an event once at most).
const NOTES_PER_EVENT: f64 = 5.0;
/// Services the console hears (all but freezing, which intake's timeline tells).
const HEARD_SERVICES: f64 = 4.0;
/// The city every part runs in.
const CITY: &str = "hangzhou";
/// Most page requests one run makes of each kind.
const MAX_REQUESTS: u32 = 100_000;
/// Most browser runs.
const MAX_PAINTS: u32 = 1_000;
/// Most alternations of the cost runs.
const MAX_ROUNDS: u32 = 20;
/// Most pages listening in a run with the console (the console serves 256 connections).
const MAX_LISTENERS: u32 = 200;

/// Options of `afc-lab bench console`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleBench {
    /// Requests of the case page measured (each with one of every floor).
    #[arg(long, default_value_t = 200)]
    pub requests: u32,
    /// Times the page is opened in headless Chromium.
    #[arg(long, default_value_t = 7)]
    pub paints: u32,
    /// Cases per second of the cost runs.
    #[arg(long, default_value_t = CONSOLE_COST_RATE_PER_S)]
    pub rate: f64,
    /// Seconds submitted before each cost run's measured window.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Seconds of each cost run's measured window.
    #[arg(long, default_value_t = 15)]
    pub duration: u64,
    /// Cost runs of each kind (without, with, without, with, ...).
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// Pages listening to the case list in a run with the console (one more listens to a case).
    #[arg(long, default_value_t = 8)]
    pub listeners: u32,
    /// Seed of the generated trails.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Leave out the case page (targets 1 and 2).
    #[arg(long)]
    pub skip_page: bool,
    /// Leave out the cost runs (target 3).
    #[arg(long)]
    pub skip_cost: bool,
}

impl ConsoleBench {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=MAX_REQUESTS).contains(&self.requests), "--requests: 1 to {MAX_REQUESTS}");
        anyhow::ensure!(self.paints <= MAX_PAINTS, "--paints: at most {MAX_PAINTS}");
        anyhow::ensure!((1..=MAX_ROUNDS).contains(&self.rounds), "--rounds: 1 to {MAX_ROUNDS}");
        anyhow::ensure!(self.listeners <= MAX_LISTENERS, "--listeners: at most {MAX_LISTENERS}");
        anyhow::ensure!(self.duration > 0, "--duration: at least 1 s");
        let max_rate = crate::targets::MAX_RATE_PER_S;
        anyhow::ensure!(self.rate > 0.0 && self.rate <= max_rate, "--rate: above 0, at most {max_rate}");
        let cases = self.plan(City::parse(CITY)?).cases() + 1;
        let most = u64::from(simulator::limits::MAX_CASES_PER_CITY);
        anyhow::ensure!(cases <= most, "--rate × (--warmup + --duration) is {cases} cases, at most {most}");
        Ok(())
    }

    fn plan(&self, city: City) -> CostPlan {
        CostPlan {
            city,
            rate: self.rate,
            warmup: Duration::from_secs(self.warmup),
            duration: Duration::from_secs(self.duration),
            listeners: self.listeners,
            seed: self.seed,
        }
    }
}

/// Runs the benchmark and prints its report on stdout.
pub async fn run(options: ConsoleBench) -> anyhow::Result<()> {
    options.validate()?;
    let setup = Setup::probe();
    let city = City::parse(CITY)?;
    println!("afc-lab bench console — the staff console (issue 18)");
    println!(
        "setup: {} cores, {}; one city ({city}) of the lab's embedded deployment, secured (identities, \
         permissions, TLS), this process running its services, the simulated banks and the console",
        setup.cpus, setup.nats_version
    );
    let mut passed = true;
    if !options.skip_page {
        passed &= page_part(&options, &city).await?;
    }
    if !options.skip_cost {
        passed &= cost_part(&options, &city).await?;
    }
    anyhow::ensure!(passed, "a target was missed (see above)");
    Ok(())
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

fn row(what: &str, p: &Percentiles) -> String {
    format!("| {what} | {} | {} | {} | {} | {} |", p.count, ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max))
}

/// Targets 1 and 2.
async fn page_part(options: &ConsoleBench, city: &City) -> anyhow::Result<bool> {
    let wave = page::wave(city, options.seed)?;
    eprintln!("case page: starting the deployment, filing a case of {CONSOLE_CASE_HOPS} hops");
    let deployment = page::deploy(city, &wave).await?;
    let mut case = page::file_case(&deployment, city, &wave).await?;
    let listen = "127.0.0.1:0".parse()?;
    let console =
        crate::console::start(&deployment, afc::console::Scope::City(city.clone()), deployment.clock.clone(), listen)
            .await?;
    eprintln!("case page: {} requests of each kind, interleaved", options.requests);
    let times = page::server_times(&deployment, &console, city, &mut case, options.requests).await?;
    let paints = match options.paints {
        0 => None,
        runs => {
            eprintln!("case page: {runs} first paints in headless Chromium");
            Some(page::paints(&deployment, &console, city, &case.case_id, runs).await?)
        }
    };
    drop(console);
    deployment.stop().await;
    Ok(print_page(&case, &times, paints.as_ref()))
}

fn print_page(case: &MeasuredCase, times: &ServerTimes, paints: Option<&Paints>) -> bool {
    let widths: Vec<String> = TRAIL_WIDTHS.iter().map(u32::to_string).collect();
    println!();
    println!("## The case page of a {CONSOLE_CASE_HOPS}-hop trail");
    println!(
        "case {}: trail of {} levels ({}), {} hops traced, {} timeline entries, settled {:.1} s after the report; \
         intake's show answer {} KiB, the page {} KiB with {} boxes in its graph",
        case.case_id,
        TRAIL_WIDTHS.len(),
        widths.join(", "),
        case.hops,
        case.entries,
        case.settled_in.as_secs_f64(),
        case.show_bytes / 1024,
        case.page_bytes / 1024,
        case.drawn
    );
    println!(
        "{} requests of each, one after another, interleaved (page, asset, login page, show), after 20 of each \
         left out; a new TCP connection each on loopback; ms, from connecting to the last byte:",
        times.requests
    );
    println!();
    println!("| what | n | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    println!("{}", row("`GET /case/{id}` as the intake officer", &times.page));
    println!("{}", row("floor: `GET /assets/console.css`", &times.asset));
    println!("{}", row("floor: `GET /login` (a page rendered, no session)", &times.login));
    println!("{}", row("floor: intake `show` over NATS as the officer (TLS), answer decoded", &times.show));
    let page_ok = times.page.p99 <= CONSOLE_PAGE_P99_MS * 1000;
    println!();
    println!(
        "target 1, server time p99 ≤ {CONSOLE_PAGE_P99_MS} ms: {} ms — {}",
        ms(times.page.p99),
        if page_ok { "met" } else { "MISSED" }
    );
    let Some(paints) = paints else { return page_ok };
    let fcp = summary(&paints.first_paint_ms);
    println!();
    println!(
        "headless Chromium, {} times in a fresh incognito tab (login form, then the case page), ms after the navigation started:",
        paints.first_paint_ms.len()
    );
    println!();
    println!("| what | p50 | max | all |");
    println!("|---|---|---|---|");
    for (what, values) in [
        ("first contentful paint", &paints.first_paint_ms),
        ("response end (last byte of the page)", &paints.response_end_ms),
        ("load event end", &paints.load_ms),
    ] {
        let s = summary(values);
        let all: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
        println!("| {what} | {:.0} | {:.0} | {} |", s.0, s.1, all.join(", "));
    }
    let paint_ok = fcp.1 <= CONSOLE_FIRST_PAINT_MS as f64;
    println!();
    println!(
        "target 2, first paint ≤ {CONSOLE_FIRST_PAINT_MS} ms: worst {:.0} ms — {}",
        fcp.1,
        if paint_ok { "met" } else { "MISSED" }
    );
    page_ok && paint_ok
}

/// (median, max) of `values`.
fn summary(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    (median, sorted.last().copied().unwrap_or(f64::NAN))
}

/// Target 3.
async fn cost_part(options: &ConsoleBench, city: &City) -> anyhow::Result<bool> {
    let plan = options.plan(city.clone());
    let mut runs: Vec<CostRun> = Vec::new();
    for round in 0..options.rounds {
        for with_console in [false, true] {
            let busy = crate::load::cpu::machine_busy_before(crate::load::cpu::QUIET_SAMPLE).await;
            eprintln!(
                "cost: round {}, {} the console, {} cases at {} cases/s (machine {:.0}% busy before)",
                round + 1,
                if with_console { "with" } else { "without" },
                plan.cases(),
                plan.rate,
                busy.unwrap_or(f64::NAN)
            );
            let mut run = cost::run(&plan, with_console).await.context("a cost run")?;
            run.cpu.busy_before_pct = busy;
            runs.push(run);
        }
    }
    Ok(print_cost(options, &runs))
}

fn print_cost(options: &ConsoleBench, runs: &[CostRun]) -> bool {
    println!();
    println!("## The metrics endpoint and the live updates at {} cases/s", options.rate);
    println!(
        "each run a fresh deployment, single-trail cases (25 accounts) open loop, {} s warm-up then {} s measured; \
         with: /metrics scraped every {} s, the console hearing what the city's services changed, {} pages on \
         /live?topic=cases and one on a case, each fetching itself again when told; CPU in % of one core over the measured window, from /proc:",
        options.warmup,
        options.duration,
        cost::SCRAPE_EVERY.as_secs(),
        options.listeners
    );
    println!();
    println!(
        "| run | console | this process | console threads | client threads | city nats-server | machine | \
         submitted /s | completed /s | events /s | told | fetched | scrapes | busy before |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, run) in runs.iter().enumerate() {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.0} | {} | {} | {} | {:.0} |",
            i + 1,
            if run.with_console { "with" } else { "without" },
            run.cpu.afc_pct,
            run.threads_pct(CONSOLE_THREADS),
            run.threads_pct(CLIENT_THREADS),
            run.city_server_pct(),
            run.cpu.machine_pct,
            run.submitted_per_s,
            run.completed_per_s,
            run.events_per_s,
            run.told,
            run.fetched,
            run.scrapes,
            run.cpu.busy_before_pct.unwrap_or(f64::NAN)
        );
    }
    let of = |with: bool, f: &dyn Fn(&CostRun) -> f64| -> Vec<f64> {
        runs.iter().filter(|r| r.with_console == with).map(f).collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let spread = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min);
    let process = |r: &CostRun| r.cpu.afc_pct;
    let (without, with) = (of(false, &process), of(true, &process));
    let difference = mean(&with) - mean(&without);
    let console = mean(&of(true, &|r| r.threads_pct(CONSOLE_THREADS)));
    let server = mean(&of(true, &|r| r.city_server_pct())) - mean(&of(false, &|r| r.city_server_pct()));
    println!();
    println!(
        "this process: {:.1}% without, {:.1}% with: difference {difference:+.1}% of one core; runs of one kind \
         differ by up to {:.1}% (without) and {:.1}% (with)",
        mean(&without),
        mean(&with),
        spread(&without),
        spread(&with)
    );
    println!(
        "measured directly: the console's own threads {console:.1}% of one core; the city's nats-server \
         {server:+.1}% (its delivery of what changed, and of the pages' requests)"
    );
    // The console hears at most one message per service every CHANGES_EVERY, of at
    // most MAX_CHANGES_CASES cases, whatever the rate; the services note each event's case
    // once where it is published and once in each other service that handles it.
    let telling = telling::measure();
    let heard_per_s = HEARD_SERVICES * (1.0 / protocol::limits::CHANGES_EVERY.as_secs_f64());
    let hearing = heard_per_s * telling.full_message_us / 10_000.0;
    let noting = options.rate * EVENTS_PER_CASE * NOTES_PER_EVENT * telling.note_ns / 10_000_000.0;
    println!(
        "measured in this run: a service notes an event's case in {:.0} ns; the console reads a message of \
         {} cases ({} bytes) and asks it of {} pages in {:.0} µs",
        telling.note_ns,
        protocol::limits::MAX_CHANGES_CASES,
        telling.full_message_bytes,
        telling::PAGES,
        telling.full_message_us
    );
    let projected = console + hearing + noting;
    println!(
        "at {} cases/s, at most: the console's threads {console:.1}% (measured, the pages fetching themselves \
         included) + hearing {heard_per_s:.0} full messages a second {hearing:.2}% + the services noting \
         {EVENTS_PER_CASE} events a case × {NOTES_PER_EVENT} {noting:.2}% = {projected:.2}% of one core",
        options.rate
    );
    let met = console <= CONSOLE_COST_PCT && projected <= CONSOLE_COST_PCT;
    println!(
        "target 3, under {CONSOLE_COST_PCT}% of one core: the console's threads {console:.1}% measured, \
         {projected:.2}% at most at {} cases/s — {}",
        options.rate,
        if met { "met" } else { "MISSED" }
    );
    met
}
