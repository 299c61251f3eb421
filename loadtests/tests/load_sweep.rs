//! `afc-lab load --sweep` runs each point as `afc-lab load --result-json` in a process of its
//! own and builds its table from what those processes wrote: run as a user runs it, on a
//! tiny grid.

use std::process::Command;

use loadtests::load::PointResult;

#[test]
fn a_sweep_runs_each_point_in_a_process_of_its_own_and_tabulates_their_results() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["load", "--sweep", "--rates", "10", "--cities-list", "1,2", "--duration", "1", "--warmup", "0"])
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "afc-lab load --sweep ended with {status}");

    // One result file per point, written by the point's process, in sweep order.
    let mut files: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for (file, cities) in files.iter().zip([1, 2]) {
        let result: PointResult = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert_eq!((result.config.rate, result.config.cities), (10.0, cities));
        // 10 cases/s for 1 s, no warm-up: ten cases measured, each answered and completed.
        assert_eq!(result.load.measured, 10);
        assert_eq!((result.load.incomplete, result.refused), (0, 0));
        assert_eq!(result.ttf_us.count, 10);
    }

    let table = std::fs::read_to_string(out.path().join("sweep.md")).unwrap();
    assert!(table.contains("in a process of its own"), "{table}");
    for cities in ["| 1 | 10 |", "| 2 | 10 |"] {
        assert_eq!(table.lines().filter(|l| l.starts_with(cities)).count(), 1, "{cities} in\n{table}");
    }
    assert!(out.path().join("sweep.svg").is_file());
}

/// `afc-lab load --security both` runs the point insecure, then secured, each in a process of
/// its own (with the options given, `--signals` here), and prints one comparison stating both
/// runs (no timing is judged here: speed is measured by the benchmark, not by tests).
#[test]
fn security_both_runs_the_point_insecure_and_secured_and_compares_them() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["load", "--rate", "10", "--duration", "1", "--warmup", "0", "--security", "both", "--rounds", "1"])
        .args(["--signals", "100"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "afc-lab load --security both ended with {}: {stdout}", output.status);

    // Each run's own report, then the comparison with a row for each, in order.
    let reports: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with("security ")).collect();
    assert_eq!(reports.len(), 2, "{stdout}");
    assert!(reports[0].contains("off: anonymous") && reports[1].contains("on: every process its own nkey identity"));
    assert!(stdout.contains("afc-lab load: security on vs off"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("| 1 | off |")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("| 2 | on |")), "{stdout}");
    assert!(stdout.contains("p99(on) / p99(off) ="), "{stdout}");
    assert!(stdout.contains("| signals achieved /s, backlog at the end |"), "{stdout}");
    assert_eq!(std::fs::read_to_string(out.path().join("security.md")).unwrap().trim(), {
        let start = stdout.find("## afc-lab load: security on vs off").unwrap();
        stdout[start..].trim()
    });

    for (file, secure) in [("security-01-off.json", false), ("security-02-on.json", true)] {
        let result: PointResult =
            serde_json::from_str(&std::fs::read_to_string(out.path().join(file)).unwrap()).unwrap();
        assert_eq!(result.config.secure, secure, "{file}");
        assert_eq!((result.load.measured, result.load.incomplete, result.refused), (10, 0, 0), "{file}");
        // --signals went to each run's process: 100 signals/s for its 1 s, each acknowledged.
        let signals = result.signals.unwrap_or_else(|| panic!("{file} has no signals"));
        assert_eq!((result.config.signals_per_s, signals.published, signals.failed), (100.0, 100, 0), "{file}");
    }
}

#[test]
fn a_sweep_refuses_security_both_naming_what_to_do_instead() {
    let output = Command::new(env!("CARGO_BIN_EXE_afc-lab"))
        .args(["load", "--sweep", "--rates", "10", "--security", "both"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--security both compares one point"), "{stderr}");
}
