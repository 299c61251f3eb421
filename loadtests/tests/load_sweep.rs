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
