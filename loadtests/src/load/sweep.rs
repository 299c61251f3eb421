//! A sweep: `afc-lab load --sweep` runs each point of a grid of rates and city counts as
//! `afc-lab load --result-json FILE` in a process of its own and reads the result back, so a
//! point starts from the same state whatever ran before it (no heap, threads or runtime left
//! by the previous point), as a single run does. Then the table (`sweep.md`) and the knee
//! chart (`sweep.svg`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use simulator::wave::{SINGLE_TRAIL_ACCOUNTS, SINGLE_TRAIL_DEPTH};

use super::options::{LoadOptions, PointConfig};
use super::point::COMPLETION_TIMEOUT;
use super::report::{ms, percentile_cells};
use super::{PointResult, Verdict, write};
use crate::bench::security::{self, Security};
use crate::harness::chart::{self, Panel, Scale, Series, Stroke};
use crate::setup::Setup;
use crate::targets::{LOAD_RATE_PER_S, LOAD_TTF_P99_MS};

/// Where a sweep keeps the result of its `index`-th point (from 0).
pub fn point_path(out: &Path, index: usize, point: &PointConfig) -> PathBuf {
    out.join(format!("point-{:02}-{}-cities-{}-per-s.json", index + 1, point.cities, point.rate))
}

/// Prints the sweep's table and writes it and the knee chart into `--out`.
pub fn write_report(setup: &Setup, options: &LoadOptions, results: &[PointResult]) -> anyhow::Result<()> {
    let table = sweep_markdown(setup, options, results);
    println!("{table}");
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    write(&options.out.join("sweep.md"), &table)?;
    write(&options.out.join("sweep.svg"), &sweep_chart(results)?)?;
    eprintln!("wrote {0}/sweep.md and {0}/sweep.svg", options.out.display());
    Ok(())
}

/// Runs one point as `afc-lab load` in a process of its own (this executable), so that no point
/// inherits another's heap, threads or page cache, and reads its result back from `path`.
/// Its report goes to this process's stdout when `report` (`--security both`), else nowhere
/// (the sweep prints the table); its warnings to stderr.
pub async fn run_point_in_child(point: &PointConfig, path: &Path, report: bool) -> anyhow::Result<PointResult> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let exe = std::env::current_exe().context("locating the afc-lab executable")?;
    let mut command = tokio::process::Command::new(&exe);
    command
        .arg("load")
        .args(["--rate", &point.rate.to_string()])
        .args(["--cities", &point.cities.to_string()])
        .args(["--duration", &point.duration.as_secs().to_string()])
        .args(["--warmup", &point.warmup.as_secs().to_string()])
        .args(["--seed", &point.seed.to_string()])
        .args(["--security", Security::flag(point.secure)])
        .args(["--signals", &point.signals_per_s.to_string()])
        .arg("--result-json")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if !report {
        command.stdout(std::process::Stdio::null());
    }
    if point.sync_always {
        command.arg("--sync-always");
    }
    let status = command.status().await.with_context(|| format!("running {}", exe.display()))?;
    anyhow::ensure!(status.success(), "the point's process ended with {status}");
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let result: PointResult = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(result.config.secure == point.secure, "the point at {} was not the one asked for", path.display());
    Ok(result)
}

/// The sweep's report: setup, one table row per point, the verdict.
pub fn sweep_markdown(setup: &Setup, options: &LoadOptions, results: &[PointResult]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# afc-lab load --sweep\n");
    let _ = writeln!(
        md,
        "Machine: {} cpus; {}; nats-server sync {}; security {}. Trail: {SINGLE_TRAIL_DEPTH} levels, {SINGLE_TRAIL_ACCOUNTS} accounts, \
         banks answer at once. Each point: a fresh deployment in a process of its own, {} s warm-up + {} s measured, open loop, \
         seed {}. Time-to-freeze (ttf, judged) = intended submission → last stop holding money \
         (CO-corrected); e2e = intended submission → TraceCompleted seen (CO-corrected); service ttf = \
         intake receipt → last stop. ms. \"≥\": cut short by the {} s completion timeout. Intake timeline \
         backlog: freezing events intake had not yet projected at the window's end. CPU in % of one core over \
         the measured window (\"before\": the machine in the second before the deployment started).\n",
        setup.cpus,
        setup.nats_version,
        if options.sync_always { "always" } else { "default" },
        security::describe(options.security == Security::On),
        options.warmup,
        options.duration,
        options.seed,
        COMPLETION_TIMEOUT.as_secs()
    );
    let signals = options.signals > 0.0;
    if signals {
        let _ = writeln!(
            md,
            "Signals: {} contact signals/s for dissuasion beside the cases, open loop; \"signals\": achieved /s,              dissuasion's backlog at the window's end (signals).\n",
            options.signals
        );
    }
    let _ = writeln!(
        md,
        "| cities | offered /s | submitted /s | completed /s | stops /s | ttf p50 | p90 | p99 | p99.9 | max | e2e p50 | e2e p99 | service ttf p99 | not completed | intake timeline backlog | CPU before / machine / afc / nats / others |{} target |",
        if signals { " signals |" } else { "" }
    );
    let _ = writeln!(
        md,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|{}---|",
        if signals { "---|" } else { "" }
    );
    for r in results {
        let l = &r.load;
        let t = percentile_cells(&r.ttf_us);
        let e = percentile_cells(&l.latency_us);
        let service = percentile_cells(&r.service_ttf_us);
        let cpu = r.cpu.as_ref().map_or("-".to_owned(), |c| {
            let nats: f64 = c.servers_pct.iter().map(|(_, p)| p).sum();
            let before = c.busy_before_pct.map_or("-".to_owned(), |b| format!("{b:.0}"));
            format!("{before} / {:.0} / {:.0} / {:.0} / {:.0}", c.machine_pct, c.afc_pct, nats, c.others_pct())
        });
        let backlog = r.streams.as_ref().map_or("-".to_owned(), |s| {
            s.backlog_at_end.iter().map(|(_, _, timeline)| timeline).sum::<u64>().to_string()
        });
        let signal_cell = match (signals, &r.signals) {
            (false, _) => String::new(),
            (true, Some(s)) => format!(" {:.0} / {} |", s.achieved_per_s, s.pending_total()),
            (true, None) => " - |".to_owned(),
        };
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.1} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} of {} | {} | {} |{} {} |",
            r.config.cities,
            l.offered_per_s,
            l.submitted_per_s,
            l.completed_per_s,
            r.stops_per_s,
            t[0],
            t[1],
            t[2],
            t[3],
            t[4],
            e[0],
            e[2],
            service[2],
            l.incomplete + r.refused,
            l.measured,
            backlog,
            cpu,
            signal_cell,
            r.verdict().as_str()
        );
    }
    let _ = writeln!(
        md,
        "\nTarget: {LOAD_RATE_PER_S} cases/s ({} stop-payments/s) sustained with time-to-freeze p99 (CO-corrected) under {LOAD_TTF_P99_MS} ms: **{}**",
        LOAD_RATE_PER_S * f64::from(SINGLE_TRAIL_ACCOUNTS),
        Verdict::overall(results).as_str()
    );
    md
}

/// The knee chart: latency (p50 dashed, p99 solid, log scale) and completed rate against the
/// offered rate, one colour per city count.
pub fn sweep_chart(results: &[PointResult]) -> anyhow::Result<String> {
    let mut counts: Vec<usize> = results.iter().map(|r| r.config.cities).collect();
    counts.sort_unstable();
    counts.dedup();
    let rates = || results.iter().map(|r| r.config.rate);
    let (lo, hi) = (rates().fold(f64::INFINITY, f64::min), rates().fold(f64::NEG_INFINITY, f64::max));
    let mut latency = vec![Series {
        name: format!("target p99 {LOAD_TTF_P99_MS} ms"),
        color: 7,
        stroke: Stroke::Dotted,
        points: vec![(lo, LOAD_TTF_P99_MS as f64), (hi, LOAD_TTF_P99_MS as f64)],
    }];
    let mut throughput =
        vec![Series { name: "offered".into(), color: 7, stroke: Stroke::Dotted, points: vec![(lo, lo), (hi, hi)] }];
    for (color, &n) in counts.iter().enumerate() {
        let of_n: Vec<&PointResult> = results.iter().filter(|r| r.config.cities == n).collect();
        let label = if n == 1 { "1 city".to_owned() } else { format!("{n} cities") };
        // A latency below the chart's resolution still needs a place on a log axis.
        let y = |us: u64| ms(us).max(0.001);
        latency.push(Series {
            name: format!("{label} p50"),
            color,
            stroke: Stroke::Dashed,
            points: of_n.iter().map(|r| (r.config.rate, y(r.ttf_us.p50))).collect(),
        });
        latency.push(Series {
            name: format!("{label} p99"),
            color,
            stroke: Stroke::Solid,
            points: of_n.iter().map(|r| (r.config.rate, y(r.ttf_us.p99))).collect(),
        });
        throughput.push(Series {
            name: label,
            color,
            stroke: Stroke::Solid,
            points: of_n.iter().map(|r| (r.config.rate, r.load.completed_per_s)).collect(),
        });
    }
    let panels = [
        Panel {
            title: "afc-lab load: time-to-freeze, intended submission to last stop (CO-corrected)".into(),
            x_label: format!("offered load, cases/s ({SINGLE_TRAIL_ACCOUNTS} stop-payments each)"),
            y_label: "latency, ms (log)".into(),
            y_scale: Scale::Log10,
            series: latency,
        },
        Panel {
            title: "afc-lab load: throughput in the measured window".into(),
            x_label: "offered load, cases/s".into(),
            y_label: "completed cases/s".into(),
            y_scale: Scale::Linear,
            series: throughput,
        },
    ];
    Ok(chart::render(&panels)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tests::{options, result};

    #[test]
    fn a_sweep_with_signals_has_their_column() {
        use crate::load::tests::with_signals;
        let results = [with_signals(result(400.0, 40, 400.0, 0), 10_000.0, 9_990.0, 1_234)];
        let setup = Setup { cpus: 2, nats_version: "v".into() };
        let md = sweep_markdown(&setup, &LoadOptions { signals: 10_000.0, ..options() }, &results);
        assert!(md.contains("| signals | target |"), "{md}");
        assert!(md.contains("| 9990 / 1234 | PASS |"), "{md}");
        let plain = sweep_markdown(&setup, &options(), &[result(50.0, 10, 50.0, 0)]);
        assert!(!plain.contains("signals"), "{plain}");
    }

    #[test]
    fn the_sweep_chart_has_a_line_per_city_count_and_percentile() {
        let results = [result(50.0, 10, 50.0, 0), result(200.0, 300, 150.0, 0)];
        let svg = sweep_chart(&results).unwrap();
        assert!(svg.contains("<title>1 city p99: x=200, y=300</title>"));
        assert!(svg.contains("<title>1 city: x=200, y=150</title>"));
        let md = sweep_markdown(&Setup { cpus: 2, nats_version: "v".into() }, &options(), &results);
        assert_eq!(md.lines().filter(|l| l.starts_with("| 1 |")).count(), 2);
        assert!(md.contains("**FAIL**"));
    }
}
