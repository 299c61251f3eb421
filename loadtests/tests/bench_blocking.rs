//! `afc-lab bench blocking` on a tiny index, run as a user runs it: it states its setup, the
//! build, the memory, the lookups, the percentiles, the floor and the goals, and finds every
//! blocked query and no other (it fails otherwise); then `check` over NATS on an embedded
//! node, beside its floor. No timing is judged here.

use std::process::Command;

#[test]
fn a_tiny_run_states_setup_percentiles_floor_and_goals() {
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["bench", "blocking", "--blocks", "2000", "--queries", "512", "--passes", "2", "--rounds", "1"])
        .args(["--check-rate", "200", "--check-seconds", "1", "--check-cases", "5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "afc-lab bench blocking ended with {}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "setup: ",
        "2000 blocked identifiers (85% phone, 12% domain, 2% app, 1% social)",
        "build: ",
        "fingerprint and insert 2000 identifiers",
        "memory: resident set",
        "lookups one at a time (get, as a check asks): 1024 a round (50% hits)",
        "lookups in lists of 256 (get_many, as a carrier's list): 1024 a round (50% hits)",
        "latency of one lookup alone, ns (64 samples, one in 8): p50 ",
        "floor: random 8-byte reads",
        "goals (issue 14",
        "check over NATS (secured hangzhou node, ",
        "0 errors; latency from the due time, µs: p50 ",
        "check floor (NATS request/reply to a bare responder, sequential, same run), µs: p50 ",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
}

/// `afc-lab bench blocking-start` on a small store: every start loads the index file and
/// indexes every block, the one without it builds the same index from the rows (it fails
/// otherwise), and it states setup, starts, floor and goal. No timing is judged here.
#[test]
fn a_small_start_bench_states_its_starts_floor_and_goal() {
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["bench", "blocking-start", "--blocks", "3000", "--rounds", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "afc-lab bench blocking-start ended with {}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "store                   3000 blocks, each reported by a case of its own",
        "index file              saved as a clean stop saves it; 3000 identifiers",
        "with the index file     p50 ",
        "over 2 starts",
        "without it (from rows)  ",
        "Index::load alone       ",
        "goal (issue 14): start with 10 million blocks in the store < 5 s: ",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}
