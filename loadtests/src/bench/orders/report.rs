//! How `afc-lab bench blocking-orders` tallies a [`Run`] — every order matched to the case
//! whose contact it is, each case's first and last order against its intended submission —
//! and prints it: setup, counts, percentiles, floor, goal.

use std::collections::{HashMap, HashSet};

use domain::Carrier;
use hdrhistogram::Histogram;
use protocol::subjects::carrier_verb;
use tokio::time::Instant;

use super::{GOAL_P99_MS, GOAL_RATE_PER_S, OrdersBench, Run};
use crate::bench::security::describe;
use crate::harness::limits::HISTOGRAM_SIGFIG;
use crate::harness::recorder::micros;
use crate::harness::{Percentiles, Recorder, Warmup};
use crate::setup::Setup;
use crate::targets::KEPT_UP_SHARE;

/// Orders named when some are missing or unexpected.
const NAMED: usize = 5;

/// What a run measured.
#[derive(Debug)]
pub struct Figures {
    /// Cases submitted (all accepted: a refusal fails the run earlier), and of them measured.
    pub cases: u64,
    pub measured: u64,
    /// Block orders the contacts call for, and of them arrived at their carrier.
    pub orders_expected: u64,
    pub orders_arrived: u64,
    /// Orders that arrived again under the same carrier and target (a re-send).
    pub repeats: u64,
    /// Requests no contact calls for (another verb, another carrier, another target, or a
    /// body that did not parse), with the first few named.
    pub unexpected: u64,
    pub unexpected_named: Vec<String>,
    /// Expected orders that never arrived, the first few named, and the cases they leave
    /// incomplete.
    pub missing: u64,
    pub missing_named: Vec<String>,
    pub cases_incomplete: u64,
    /// Intended submission → first / last order of the case, µs (measured cases).
    pub first_us: Percentiles,
    pub last_us: Percentiles,
    /// Intake's acceptance reaching the submitter → first / last order, µs.
    pub accepted_first_us: Percentiles,
    pub accepted_last_us: Percentiles,
    /// Cases whose first order arrived before intake's acceptance reached the submitter.
    pub ordered_before_acceptance: u64,
    /// The observer hearing `case_reported` → last order, µs, and cases it did not hear.
    pub reported_last_us: Percentiles,
    pub reported_unheard: u64,
    /// Intended submission → intake's acceptance, µs.
    pub acceptance_us: Percentiles,
    pub lateness_p99_us: u64,
    /// Cases a second the submitter sent, and orders a second that arrived in the window.
    pub achieved_rate: f64,
    pub orders_per_s: f64,
    pub rtt_us: Percentiles,
    pub commit_us: Percentiles,
}

impl Figures {
    pub fn tally(options: &OrdersBench, run: &Run) -> anyhow::Result<Figures> {
        let expected = &run.expected;
        // Each case's first and last order, by case index.
        let mut span: HashMap<u64, (Instant, Instant, u32)> = HashMap::new();
        let mut seen: HashSet<(Carrier, &str)> = HashSet::new();
        let (mut repeats, mut unexpected, mut unexpected_named) = (0, 0, Vec::new());
        for arrival in &run.arrivals {
            let matched =
                arrival.request.as_ref().filter(|_| arrival.verb == carrier_verb::BLOCK).and_then(|(_, target)| {
                    expected.orders.get(&(arrival.carrier, target.clone())).map(|case| (*case, target))
                });
            let Some((case, target)) = matched else {
                unexpected += 1;
                if unexpected_named.len() < NAMED {
                    unexpected_named.push(format!("{} {} {:?}", arrival.carrier, arrival.verb, arrival.request));
                }
                continue;
            };
            if !seen.insert((arrival.carrier, target.as_str())) {
                repeats += 1;
                continue;
            }
            let entry = span.entry(case).or_insert((arrival.at, arrival.at, 0));
            entry.0 = entry.0.min(arrival.at);
            entry.1 = entry.1.max(arrival.at);
            entry.2 += 1;
        }
        let mut missing_named: Vec<String> = expected
            .orders
            .keys()
            .filter(|(carrier, target)| !seen.contains(&(*carrier, target.as_str())))
            .map(|(carrier, target)| format!("{carrier} {target}"))
            .collect();
        let missing = missing_named.len() as u64;
        missing_named.sort();
        missing_named.truncate(NAMED);

        let start = run.window.start;
        let recorder = || Recorder::new(start, Warmup::None);
        let (mut first, mut last) = (recorder()?, recorder()?);
        let (mut accepted_first, mut accepted_last, mut reported_last, mut acceptance) =
            (recorder()?, recorder()?, recorder()?, recorder()?);
        let mut lateness = Histogram::<u64>::new(HISTOGRAM_SIGFIG)?;
        let (mut measured, mut cases_incomplete, mut before_acceptance, mut unheard) = (0, 0, 0, 0);
        for submission in &run.submissions {
            let complete = span
                .get(&submission.index)
                .filter(|(_, _, n)| Some(*n) == expected.orders_per_case.get(submission.index as usize).copied());
            if complete.is_none() {
                cases_incomplete += 1;
            }
            if submission.due < start {
                continue;
            }
            measured += 1;
            lateness.record(micros(submission.lateness()))?;
            let (index, due) = (submission.index, submission.due);
            acceptance.record(index, due, submission.replied);
            let Some(&(first_at, last_at, _)) = complete else { continue };
            first.record(index, due, first_at);
            last.record(index, due, last_at);
            accepted_first.record(index, submission.replied, first_at);
            accepted_last.record(index, submission.replied, last_at);
            if first_at < submission.replied {
                before_acceptance += 1;
            }
            match submission.outcome.as_ref().ok().and_then(|case_id| run.reported.get(case_id)) {
                Some(heard) => {
                    reported_last.record(index, *heard, last_at);
                }
                None => unheard += 1,
            }
        }
        let sent = run.submissions.iter().map(|s| s.sent);
        let span_s = match (sent.clone().min(), sent.max()) {
            (Some(a), Some(b)) if b > a => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let achieved_rate = if span_s > 0.0 { (run.submissions.len() - 1) as f64 / span_s } else { options.rate };
        Ok(Figures {
            cases: run.submissions.len() as u64,
            measured,
            orders_expected: expected.total(),
            orders_arrived: seen.len() as u64,
            repeats,
            unexpected,
            unexpected_named,
            missing,
            missing_named,
            cases_incomplete,
            first_us: first.percentiles(),
            last_us: last.percentiles(),
            accepted_first_us: accepted_first.percentiles(),
            accepted_last_us: accepted_last.percentiles(),
            ordered_before_acceptance: before_acceptance,
            reported_last_us: reported_last.percentiles(),
            reported_unheard: unheard,
            acceptance_us: acceptance.percentiles(),
            lateness_p99_us: lateness.value_at_quantile(0.99),
            achieved_rate,
            orders_per_s: run.window.rate(run.arrivals.iter().map(|a| a.at)),
            rtt_us: Percentiles::of(&run.rtt_us),
            commit_us: Percentiles::of(&run.commit_us),
        })
    }

    /// Fails when an order is missing or unexpected, or a case incomplete.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.missing == 0 && self.unexpected == 0 && self.cases_incomplete == 0,
            "orders wrong: {} of {} expected orders missing ({}), {} cases without all their orders, {} unexpected requests ({})",
            self.missing,
            self.orders_expected,
            self.missing_named.join(", "),
            self.cases_incomplete,
            self.unexpected,
            self.unexpected_named.join(", ")
        );
        Ok(())
    }

    /// Whether the goal is met (`Some`), or `None` when the run does not judge it: a rate
    /// below the goal's, or a submitter that fell behind it.
    pub fn goal_met(&self, options: &OrdersBench) -> Option<bool> {
        let met = self.last_us.p99 as f64 <= GOAL_P99_MS * 1000.0 && self.missing == 0;
        let reached = options.rate >= GOAL_RATE_PER_S && self.achieved_rate >= GOAL_RATE_PER_S * KEPT_UP_SHARE;
        (reached && (met || options.rate <= GOAL_RATE_PER_S)).then_some(met)
    }

    pub fn print(&self, options: &OrdersBench, setup: &Setup, run: &Run) {
        let row = |name: &str, value: String| println!("  {name:<44} {value}");
        let per_case = if self.cases == 0 { 0.0 } else { self.orders_arrived as f64 / self.cases as f64 };
        let expected = &run.expected;
        println!();
        println!("afc-lab bench blocking-orders");
        println!("setup");
        row("machine", format!("{} cpus, load average {} before the run", setup.cpus, run.load_average));
        if let Some(busy) = run.busy_before_pct {
            row("machine busy over 1 s before the run", format!("{busy:.0}% of one core"));
        }
        row("nats-server", setup.nats_version.clone());
        row("deployment", format!("embedded {} node, security {}", run.city, describe(true)));
        row("carriers", "the lab's, in this process: stamp each order on arrival, answer at once".into());
        row("trail", format!("{}, banks answer at once", options.trail.describe()));
        row(
            "contacts",
            format!(
                "{} new numbers (139/186/189: one carrier each) and {} sites (all three carriers) over {} cases",
                expected.phones, expected.sites, self.cases
            ),
        );
        row(
            "load",
            format!(
                "open loop, {} cases/s, {} s warm-up + {} s measured, seed {}",
                options.rate, options.warmup, options.duration, options.seed
            ),
        );
        println!("counts");
        row("cases submitted / measured", format!("{} / {} (all accepted)", self.cases, self.measured));
        row(
            "block orders arrived / expected",
            format!("{} / {} ({per_case:.2} a case)", self.orders_arrived, self.orders_expected),
        );
        row("missing / unexpected / repeated", format!("{} / {} / {}", self.missing, self.unexpected, self.repeats));
        row("cases without all their orders", self.cases_incomplete.to_string());
        row(
            "achieved",
            format!("{:.1} cases/s sent, {:.0} orders/s arrived in the window", self.achieved_rate, self.orders_per_s),
        );
        row("submission lateness p99", format!("{:.2} ms", ms(self.lateness_p99_us)));
        println!("latency, ms (CO-corrected: from each case's intended submission)");
        row("intended submission -> first order", pct(&self.first_us));
        row("intended submission -> last order", pct(&self.last_us));
        row("intended submission -> intake's acceptance", pct(&self.acceptance_us));
        row("intake's acceptance -> first order", pct(&self.accepted_first_us));
        row("intake's acceptance -> last order", pct(&self.accepted_last_us));
        row(
            "case_reported heard -> last order",
            format!("{} ({} cases not heard)", pct(&self.reported_last_us), self.reported_unheard),
        );
        row(
            "first order before intake's acceptance arrived",
            format!("{} cases (acceptance figures count those as 0)", self.ordered_before_acceptance),
        );
        println!("floor (same run, same deployment, idle, before the load)");
        row("NATS request/reply round trip", pct(&self.rtt_us));
        row("redb Immediate commit", pct(&self.commit_us));
        let path = 2.0 * ms(self.rtt_us.p50) + ms(self.commit_us.p50);
        row("path floor ≈ 2 × rtt p50 + commit p50", format!("{path:.2} ms (four one-way hops and intake's commit)"));
        if let Some(cpu) = &run.cpu {
            let nats: Vec<String> = cpu.servers_pct.iter().map(|(n, p)| format!("{n} {p:.0}%")).collect();
            row(
                "CPU in the window, % of one core",
                format!(
                    "machine {:.0}% of {}, afc-lab {:.0}%, nats-servers {}, others {:.0}%",
                    cpu.machine_pct,
                    100 * cpu.cores,
                    cpu.afc_pct,
                    nats.join(" + "),
                    cpu.others_pct()
                ),
            );
        }
        println!(
            "goal (issue 14): from case_reported to carrier order sent, p99 ≤ {GOAL_P99_MS} ms at {GOAL_RATE_PER_S} cases/s"
        );
        let judged = |p99: u64| if p99 as f64 <= GOAL_P99_MS * 1000.0 { "within" } else { "over" };
        let verdict = match self.goal_met(options) {
            Some(true) => "MET".to_owned(),
            Some(false) => "NOT MET".to_owned(),
            None => format!("not judged (judged at {GOAL_RATE_PER_S} cases/s sent)"),
        };
        row("every order of a case (last), from intended", format!("p99 {:.2} ms: {verdict}", ms(self.last_us.p99)));
        row(
            "first order of a case, from intended",
            format!("p99 {:.2} ms ({} the goal)", ms(self.first_us.p99), judged(self.first_us.p99)),
        );
        row(
            "last order, from case_reported heard",
            format!("p99 {:.2} ms ({} the goal)", ms(self.reported_last_us.p99), judged(self.reported_last_us.p99)),
        );
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn pct(p: &Percentiles) -> String {
    format!(
        "p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} (n={})",
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.p999),
        ms(p.max),
        p.count
    )
}
