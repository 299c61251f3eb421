//! `afc-lab bench freeze --security both` runs the benchmark on the insecure deployment, then
//! on the secured one, each in a process of its own, and prints one comparison stating both
//! runs with the floor each measured: run as a user runs it, on a tiny load. No timing is
//! judged here (speed is measured by the benchmark, not by tests).

use std::process::Command;

#[test]
fn security_both_runs_off_then_on_and_compares_them_with_their_floors() {
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args([
            "bench",
            "freeze",
            "--rate",
            "20",
            "--cases",
            "5",
            "--warmup",
            "1",
            "--security",
            "both",
            "--rounds",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "afc-lab bench freeze --security both ended with {}: {stdout}", output.status);

    // Each run's own report (its setup names its security), then the comparison.
    let reports: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with("security ")).collect();
    assert_eq!(reports.len(), 2, "{stdout}");
    assert!(reports[0].contains("off: anonymous") && reports[1].contains("on: every process its own nkey identity"));
    assert_eq!(stdout.matches("NATS round trip, µs").count(), 2, "each run measures its floor: {stdout}");
    assert!(stdout.contains("afc-lab bench freeze: security on vs off"), "{stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| 1 |") || l.starts_with("| 2 |")).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[0].starts_with("| 1 | off |") && rows[1].starts_with("| 2 | on |"), "{rows:?}");
    // ttf p50, p90, p99, max, reached rate, rtt, commit, floor, ratio, busy before.
    assert!(rows.iter().all(|r| r.matches('|').count() == 13), "{rows:?}");
    assert!(stdout.contains("p99(on) / p99(off) ="), "{stdout}");
}
