//! `afc-lab load --security both`: one point run insecure and secured alternately (off, on,
//! off, on, … for `--rounds` rounds), each in a process of its own as a sweep's points are
//! ([`super::sweep::run_point_in_child`], its full report on stdout as it goes), then one
//! [`Comparison`] (printed, and written to `--out`/security.md): each run's CO-corrected
//! time-to-freeze, what it reached, the CPU it took and the floor measured in it (the NATS
//! round trip between two harness connections on the idle deployment, over TLS with the city
//! observer's identity when secured), and p99(on) / p99(off) against the goal.

use std::path::{Path, PathBuf};

use anyhow::Context;
use simulator::wave::SINGLE_TRAIL_ACCOUNTS;

use super::options::{LoadOptions, PointConfig};
use super::report::ms;
use super::{PointResult, write};
use crate::bench::security::{Comparison, Run, Security};
use crate::setup::{self, Setup};

/// Where `--security both` keeps the result of its `index`-th run (from 0).
pub fn point_path(out: &Path, index: usize, point: &PointConfig) -> PathBuf {
    out.join(format!("security-{:02}-{}.json", index + 1, Security::flag(point.secure)))
}

/// The comparison of `results` (the runs of one point, in order).
pub fn comparison(setup: &Setup, options: &LoadOptions, results: &[PointResult]) -> Comparison {
    let first = results.first().map(|r| &r.config);
    let (rate, cities) = first.map_or((0.0, 0), |c| (c.rate, c.cities));
    let cities = if cities == 1 { "1 city".to_owned() } else { format!("{cities} cities") };
    let signals = match options.signals > 0.0 {
        true => format!(" with {} contact signals/s for dissuasion beside them", options.signals),
        false => String::new(),
    };
    Comparison {
        title: "afc-lab load".into(),
        setup: vec![
            format!("machine: {} cpus; {}", setup.cpus, setup.nats_version),
            format!(
                "load: {}, banks answer at once ({} stop-payments a case); open loop, {rate} cases/s round robin over {cities}{signals}, {} s warm-up + {} s measured, seed {}; nats-server sync {}",
                setup::trail(),
                SINGLE_TRAIL_ACCOUNTS,
                options.warmup,
                options.duration,
                options.seed,
                if options.sync_always { "always" } else { "default" }
            ),
            "ttf: intended submission → the last stop holding money, coordinated-omission corrected (ms resolution)".into(),
            "floor, measured in each run on the idle deployment before its load: NATS round trip between two harness connections to the first city's server (the city observer's identity over TLS when secured); CPU in % of one core over the measured window (machine / afc process / nats-servers)".into(),
        ],
        columns: ["completed /s", "not completed", "service ttf p99", "e2e p99", "floor rtt p50 / p99 µs", "CPU machine / afc / nats", "busy before"]
            .into_iter()
            .chain((options.signals > 0.0).then_some("signals achieved /s, backlog at the end"))
            .map(String::from)
            .collect(),
        runs: results.iter().map(|r| row(r, options.signals > 0.0)).collect(),
    }
}

/// A run's row; with `signals`, the signals' cell last.
fn row(r: &PointResult, signals: bool) -> Run {
    let floor = r.floor_rtt_us.map_or("-".to_owned(), |rtt| format!("{} / {}", rtt.p50, rtt.p99));
    let cpu = r.cpu.as_ref().map_or("-".to_owned(), |c| {
        let nats: f64 = c.servers_pct.iter().map(|(_, p)| p).sum();
        format!("{:.0} / {:.0} / {:.0}", c.machine_pct, c.afc_pct, nats)
    });
    let before = r.cpu.as_ref().and_then(|c| c.busy_before_pct).map_or("-".to_owned(), |b| format!("{b:.0}%"));
    let signal_cell = r.signals.as_ref().map_or("-".to_owned(), |s| {
        format!("{:.0} / {}{}", s.achieved_per_s, s.pending_total(), if s.kept_up { "" } else { " (behind)" })
    });
    Run {
        secure: r.config.secure,
        ttf_us: r.ttf_us,
        cells: vec![
            format!("{:.1}", r.load.completed_per_s),
            format!("{} of {}", r.load.incomplete + r.refused, r.load.measured),
            format!("{:.1}", ms(r.service_ttf_us.p99)),
            format!("{:.1}", ms(r.load.latency_us.p99)),
            floor,
            cpu,
            before,
        ]
        .into_iter()
        .chain(signals.then_some(signal_cell))
        .collect(),
    }
}

/// Prints the comparison and writes it to `--out`/security.md.
pub fn write_report(setup: &Setup, options: &LoadOptions, results: &[PointResult]) -> anyhow::Result<()> {
    let md = comparison(setup, options, results).markdown();
    println!();
    println!("{md}");
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    write(&options.out.join("security.md"), &md)?;
    eprintln!("wrote {}/security.md", options.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tests::{options, result};

    #[test]
    fn the_comparison_has_a_row_per_run_in_order() {
        let off = |p99| PointResult {
            config: PointConfig { secure: false, ..result(400.0, p99, 400.0, 0).config },
            ..result(400.0, p99, 400.0, 0)
        };
        let results = [off(40), result(400.0, 44, 400.0, 0)];
        let setup = Setup { cpus: 2, nats_version: "v".into() };
        let md = comparison(&setup, &options(), &results).markdown();
        assert!(md.contains("| 1 | off |") && md.contains("| 2 | on |"), "{md}");
        assert!(md.contains("= **1.10**"), "{md}");
        assert!(md.contains("400 cases/s round robin over 1 city,"), "{md}");
    }
}
