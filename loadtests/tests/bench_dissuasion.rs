//! `afc-lab bench dissuasion` on a tiny world, run as a user runs it: it states its setup,
//! the rows kept and the memory, the floor, the closed and open loops with their
//! percentiles, the back-matching cases and the goals; it fails if a fresh signal is refused
//! for anything but a re-send or a case leaves a kept signal of its identifiers unmatched.
//! No timing is judged here.

use std::process::Command;

#[test]
fn a_tiny_run_states_setup_floor_percentiles_cases_and_goals() {
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["bench", "dissuasion", "--known", "2000", "--kept", "40000", "--suspects", "2000", "--people", "2000"])
        .args(["--closed", "2000", "--rate", "5000", "--duration", "1", "--warmup", "1"])
        .args(["--cases", "2", "--case-identifiers", "2", "--reach", "300", "--small-reach", "100"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "afc-lab bench dissuasion ended with {}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "setup: ",
        "2000 known identifiers (85% phone, 12% domain, 2% app, 1% social; 1 in 20 ended)",
        "known: 2000 identifiers stepped in",
        "kept: 40000 rows kept (`core::keep`",
        "measuring: machine busy ",
        "floor (what any state must do",
        "closed loop: 2000 signals in ",
        "open loop: 5000 signals/s offered, 5000 measured over ",
        "latency from the due time (CO-corrected), µs: p50 ",
        "open loop, signal to task opened (",
        "ready but waiting for a CPU ",
        "back-matching, 2 cases naming 1 identifier(s) of 100 kept signals each (100 evidence, ",
        "back-matching, 2 cases naming 1 identifier(s) of 300 kept signals each (300 evidence, ",
        "back-matching, 2 cases naming 2 identifier(s) of 300 kept signals each (600 evidence, ",
        "state at the end: ",
        "goals (issue 15, the core alone on one thread; this run: 2000 known, 40000 kept): ",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}
