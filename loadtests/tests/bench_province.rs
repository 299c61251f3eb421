//! `afc-lab bench province` on a tiny run, as a user runs it: it states its setup, the core's
//! floor and rate, each report's percentiles, the snapshot, the shell reading a real stream,
//! and the goals. No timing is judged here.

use std::process::Command;

#[test]
fn a_tiny_run_states_setup_floor_rates_reports_and_goals() {
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["bench", "province", "--events", "4800", "--cities", "3", "--reports", "5", "--stream-events", "960"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "afc-lab bench province ended with {}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "setup: 4800 envelopes of 3 cities over March 2025",
        "measuring: machine busy ",
        "core, one thread: 4800 envelopes (",
        "floor (decode only) ",
        "report 2025-03: 5 times, µs p50 ",
        "report 2025-W11: 5 times",
        "report 2025-03-14: 5 times",
        "snapshot: ",
        "shell: 960 envelopes published into AFC_PROVINCE",
        "shell: the coordinator read and absorbed them in ",
        "goals (issue 17):",
        "consume ≥ 50000 events/s: core ",
        "monthly report over 4800 events ≤ 200 ms: p99 ",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // Cross-city accounts are in the mix: 1 stop in 8 lands on an account shared across cities.
    let notices = stdout.split(" cross-city notices").next().unwrap().rsplit("; ").next().unwrap();
    assert!(notices.parse::<u64>().unwrap() > 0, "{stdout}");
}
