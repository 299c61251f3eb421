//! How one point prints: its setup, throughput, the latency of the measured cases and its
//! stages, CPU, JetStream and stall probes, and the target's verdict. The sweep's table
//! ([`super::sweep`]) shows the same percentiles through [`percentile_cells`].

use simulator::wave::SINGLE_TRAIL_DEPTH;

use super::PointResult;
use super::point::COMPLETION_TIMEOUT;
use crate::bench::security;
use crate::deployment::CITIES;
use crate::harness::Percentiles;
use crate::setup::{self, Setup};
use crate::targets::{
    LOAD_RATE_PER_S, LOAD_TTF_P99_MS, SIGNAL_DRAIN_TIMEOUT, SIGNALS_GOAL_CASE_RATE_PER_S, SIGNALS_GOAL_PER_S,
    SIGNALS_GOAL_TTF_P99_MS,
};

/// µs as ms.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1_000.0
}

/// p50, p90, p99, p99.9, max in ms, "≥" on those the completion timeout may have cut short.
pub fn percentile_cells(p: &Percentiles) -> [String; 5] {
    let cell = |q: f64, v: u64| {
        let cut = p.count > 0 && (p.censored as f64 / p.count as f64) > 1.0 - q;
        format!("{}{:.1}", if cut { "≥" } else { "" }, ms(v))
    };
    [cell(0.5, p.p50), cell(0.9, p.p90), cell(0.99, p.p99), cell(0.999, p.p999), cell(1.0, p.max)]
}

/// "p50 … max … ms (n=…)", with "≥" on the percentiles a timeout may have cut short.
fn percentiles_ms(p: &Percentiles) -> String {
    let [p50, p90, p99, p999, max] = percentile_cells(p);
    format!("p50 {p50} p90 {p90} p99 {p99} p99.9 {p999} max {max} ms (n={})", p.count)
}

fn city_names(n: usize) -> String {
    CITIES[..n.min(CITIES.len())].join(", ")
}

/// Prints one point's report on stdout.
pub fn print_point(setup: &Setup, r: &PointResult) {
    let c = &r.config;
    let l = &r.load;
    let row = |name: &str, value: String| println!("  {name:<34} {value}");
    println!();
    println!("afc-lab load");
    println!("setup");
    row("machine (nproc)", format!("{} cpus", setup.cpus));
    row("nats-server", setup.nats_version.clone());
    row(
        "nats-server sync",
        if c.sync_always { "sync_interval: always".into() } else { "default (JetStream fsyncs every 2 min)".into() },
    );
    row("security", security::describe(c.secure).to_owned());
    row("cities", format!("{} ({})", c.cities, city_names(c.cities)));
    row("trail", format!("{}, banks answer at once, no freeze in the run", setup::trail()));
    row(
        "load",
        format!(
            "open loop, {} cases/s round robin over the cities, {} s warm-up + {} s measured, seed {}",
            c.rate,
            c.warmup.as_secs(),
            c.duration.as_secs(),
            c.seed
        ),
    );
    if c.signals_per_s > 0.0 {
        row(
            "signals",
            format!(
                "open loop, {} contact signals/s round robin over the cities for dissuasion, through each city's carriers",
                c.signals_per_s
            ),
        );
    }
    row("cases", format!("{} measured + {} warm-up", l.measured, l.warmup_excluded));
    println!("throughput (measured window)");
    row("offered", format!("{:.1} cases/s", l.offered_per_s));
    row("submitted", format!("{:.1} cases/s", l.submitted_per_s));
    row("completed (TraceCompleted seen)", format!("{:.1} cases/s", l.completed_per_s));
    row("accounts stopped", format!("{:.0} /s", r.stops_per_s));
    row("submission lateness (sent - due)", percentiles_ms(&l.lateness_us));
    println!("latency of the measured cases");
    row("time-to-freeze, CO-corrected", percentiles_ms(&r.ttf_us));
    row("  (intended submission -> last stop holding money)", String::new());
    row("end to end, CO-corrected", percentiles_ms(&l.latency_us));
    row("  (intended submission -> TraceCompleted seen)", String::new());
    println!("  its stages (system clock, ms resolution)");
    row("  intended submission -> intake receipt", percentiles_ms(&r.to_receipt_us));
    row("  receipt -> freezing TraceStarted", percentiles_ms(&r.handoff_us));
    row(&format!("  TraceStarted -> last stop ({SINGLE_TRAIL_DEPTH} levels)"), percentiles_ms(&r.levels_us));
    row("  last stop -> TraceCompleted recorded", percentiles_ms(&r.finish_us));
    row("  recorded -> seen (relay, JetStream)", percentiles_ms(&r.publish_us));
    row("service time-to-freeze", percentiles_ms(&r.service_ttf_us));
    row("  (intake receipt -> last stop)", String::new());
    row("intake reply to a submission", percentiles_ms(&r.intake_reply_us));
    row(
        &format!("not completed within {} s", COMPLETION_TIMEOUT.as_secs()),
        format!(
            "{} of {} (refused or unanswered submissions {}, completed without ttf {})",
            l.incomplete, l.measured, r.refused, r.without_ttf
        ),
    );
    if let Some(cpu) = &r.cpu {
        println!("cpu over the measured window (% of one core; {} cores = {}%)", cpu.cores, cpu.cores * 100);
        if let Some(before) = cpu.busy_before_pct {
            row("machine before the run (1 s)", format!("{before:.0}%"));
        }
        row("machine, all processes", format!("{:.0}%", cpu.machine_pct));
        row("everything else (other processes, kernel)", format!("{:.0}%", cpu.others_pct()));
        row("afc process", format!("{:.0}%", cpu.afc_pct));
        for (group, pct) in cpu.afc_threads_pct.iter().filter(|(_, p)| **p >= 0.5) {
            row(&format!("  {group}"), format!("{pct:.0}%"));
        }
        for (name, pct) in &cpu.servers_pct {
            row(&format!("nats-server {name}"), format!("{pct:.0}%"));
        }
    }
    if let Some(streams) = &r.streams {
        println!("jetstream over the measured window");
        for (city, per_s) in &streams.city_events_per_s {
            let per_case = if l.completed_per_s > 0.0 { per_s / l.completed_per_s * c.cities as f64 } else { 0.0 };
            row(
                &format!("events into AFC_{}", city.to_uppercase()),
                format!("{per_s:.0} /s (~{per_case:.0} per case)"),
            );
        }
        row("events sourced by the province", format!("{:.0} /s", streams.province_events_per_s));
        for (city, freezing, timeline) in &streams.backlog_at_end {
            row(
                &format!("backlog at the end, {city}"),
                format!("freezing consumer {freezing}, intake timeline consumer {timeline} messages"),
            );
        }
    }
    if let Some(s) = &r.signals {
        println!("signals for dissuasion (from the warm-up's start to the window's end)");
        row("offered", format!("{:.0} signals/s", s.offered_per_s));
        row(
            "published (acknowledged)",
            format!(
                "{} of {} scheduled; failed {}, unsent at the window's end {}",
                s.published, s.scheduled, s.failed, s.not_sent
            ),
        );
        if let Some(failure) = &s.first_failure {
            row("  first failure", failure.clone());
        }
        row("achieved (acknowledged in the window)", format!("{:.0} signals/s", s.achieved_per_s));
        row("send lateness (sent - due)", percentiles_ms(&s.lateness_us));
        row(
            "what they said",
            format!("{} named the reports' identifiers, {} transfer instructions", s.matching, s.transfers),
        );
        let per_city: Vec<String> = s.pending_at_end.iter().map(|(city, n)| format!("{city} {n}")).collect();
        row(
            "dissuasion's backlog at the window's end",
            match per_city.is_empty() {
                true => "unread".to_owned(),
                false => format!(
                    "{} signals ({}): {}",
                    s.pending_total(),
                    per_city.join(", "),
                    if s.kept_up { "kept up (under 1 s of signals)" } else { "BEHIND (1 s of signals or more)" }
                ),
            },
        );
        row(
            "dissuasion consumed (acknowledged in the window)",
            s.consumed_per_s.map_or("unread".to_owned(), |per_s| format!("{per_s:.0} signals/s")),
        );
        for (city, intake, blocking) in &s.events_pending_at_end {
            row(
                &format!("  its event consumers, {city}"),
                format!("intake's cases {intake}, blocking's events {blocking} messages (taken before signals)"),
            );
        }
        row(
            "  drained (nothing pending)",
            s.drained_after_ms.map_or_else(
                || format!("not within {} s after the publisher finished", SIGNAL_DRAIN_TIMEOUT.as_secs()),
                |ms| format!("{:.1} s after the window's end", ms as f64 / 1_000.0),
            ),
        );
        row("tasks dissuasion opened", s.tasks_opened.to_string());
    }
    if !r.stalls.is_empty() {
        println!(
            "stall probes over the measured window (late wake-ups every 2 ms; PING round trips; disk write + sync every 10 ms)"
        );
        for probe in &r.stalls {
            let worst: Vec<String> =
                probe.worst.iter().map(|(at, us)| format!("{:.0} ms at {at:.1} s", *us as f64 / 1000.0)).collect();
            row(
                &format!("  {}", probe.name),
                format!(
                    "p99 {:.1} ms, max {:.1} ms (n={}); worst: {}",
                    ms(probe.p99_us),
                    ms(probe.max_us),
                    probe.samples,
                    worst.join(", ")
                ),
            );
        }
    }
    if let Some(rtt) = &r.floor_rtt_us {
        println!("floor (idle deployment, before the load)");
        row(
            "NATS round trip, µs",
            format!("p50 {} p90 {} p99 {} max {} µs (n={})", rtt.p50, rtt.p90, rtt.p99, rtt.max, rtt.count),
        );
    }
    println!("target");
    row(
        &format!("{LOAD_RATE_PER_S} cases/s, p99 < {LOAD_TTF_P99_MS} ms"),
        format!(
            "{} (time-to-freeze p99 {:.1} ms; e2e p99 {:.1} ms, service ttf p99 {:.1} ms, completed {:.1}/s, not completed {})",
            r.verdict().as_str(),
            ms(r.ttf_us.p99),
            ms(l.latency_us.p99),
            ms(r.service_ttf_us.p99),
            l.completed_per_s,
            l.incomplete
        ),
    );
    if let Some(s) = &r.signals {
        row(
            &format!(
                "issue 15: {SIGNALS_GOAL_CASE_RATE_PER_S} cases/s, p99 < {SIGNALS_GOAL_TTF_P99_MS} ms beside {SIGNALS_GOAL_PER_S} signals/s"
            ),
            format!(
                "{} (time-to-freeze p99 {:.1} ms at {} cases/s; signals {:.0}/s of {:.0}, {}, backlog {})",
                r.signals_verdict().as_str(),
                ms(r.ttf_us.p99),
                c.rate,
                s.achieved_per_s,
                s.offered_per_s,
                if s.failed + s.not_sent == 0 {
                    "all sent".to_owned()
                } else {
                    format!("{} failed or unsent", s.failed + s.not_sent)
                },
                if s.kept_up { "kept up" } else { "behind" }
            ),
        );
    }
}
