//! Style checks on the workspace's files, run by `cargo xtask tidy`, by `cargo xtask test`
//! before anything else, and as a test of this crate (so the test suite fails when the
//! shape drifts). Each check is a rule docs/ARCHITECTURE.md states:
//!
//! - every Rust file opens with a `//!` comment saying its role;
//! - no Rust file has more than [`MAX_LINES_BEFORE_TESTS`] lines before its `#[cfg(test)]`
//!   block (split such a file by concern);
//! - a NATS subject is spelled only in `shared/protocol/src/subjects.rs`: no string literal
//!   anywhere else starts with `afc.`;
//! - production crates (every crate in `services/` and `shared/` but the test kit) have no
//!   normal dependency on the test kit, `tempfile`, the simulator or the lab, and do not
//!   compile the build machine's paths (`CARGO_MANIFEST_DIR`) into themselves.

use std::fs;
use std::path::{Path, PathBuf};

/// Directories whose Rust files are checked.
pub const RUST_DIRS: &[&str] = &["services", "shared", "simulator", "loadtests", "xtask"];
/// Longest a file may be before its tests: beyond it, it holds more than one concern.
pub const MAX_LINES_BEFORE_TESTS: usize = 600;
/// The one file allowed to spell subjects.
const SUBJECTS_FILE: &str = "shared/protocol/src/subjects.rs";
/// The start of a subject literal (built from pieces, so this file does not contain it).
const SUBJECT_LITERAL: &str = concat!('"', "afc", ".");
/// Directories of production crates: every crate directly below them.
const PRODUCTION_DIRS: &[&str] = &["services", "shared"];
/// Crates below [`PRODUCTION_DIRS`] that are not production code.
const NOT_PRODUCTION: &[&str] = &["shared/testkit"];
/// What production crates must not depend on outside `[dev-dependencies]`.
const TEST_ONLY_CRATES: &[&str] = &["testkit", "tempfile", "simulator", "loadtests"];
/// What makes a binary carry the build machine's paths.
const BUILD_PATH_MACRO: &str = "CARGO_MANIFEST_DIR";

/// One broken rule: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offense {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for Offense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Every offense in the workspace at `root`, sorted by path.
pub fn check(root: &Path) -> Vec<Offense> {
    let mut offenses = Vec::new();
    let mut files = Vec::new();
    for dir in RUST_DIRS {
        collect(&root.join(dir), "rs", &mut files);
    }
    files.sort();
    for path in &files {
        let relative = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        let Ok(text) = fs::read_to_string(path) else {
            offenses.push(Offense { path: relative, message: "unreadable".into() });
            continue;
        };
        offenses.extend(check_rust(&relative, &text));
    }
    for dir in PRODUCTION_DIRS {
        let Ok(entries) = fs::read_dir(root.join(dir)) else { continue };
        let mut crates: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.join("Cargo.toml").is_file()).collect();
        crates.sort();
        for krate in crates {
            let relative = krate.strip_prefix(root).unwrap_or(&krate).to_path_buf();
            if NOT_PRODUCTION.iter().any(|n| Path::new(n) == relative) {
                continue;
            }
            let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap_or_default();
            offenses.extend(check_production_manifest(&relative.join("Cargo.toml"), &manifest));
            let mut sources = Vec::new();
            collect(&krate.join("src"), "rs", &mut sources);
            sources.sort();
            for source in sources {
                let text = fs::read_to_string(&source).unwrap_or_default();
                if text.contains(BUILD_PATH_MACRO) {
                    offenses.push(Offense {
                        path: source.strip_prefix(root).unwrap_or(&source).to_path_buf(),
                        message: format!(
                            "production code must not compile the build machine's paths ({BUILD_PATH_MACRO})"
                        ),
                    });
                }
            }
        }
    }
    offenses.sort_by(|a, b| a.path.cmp(&b.path));
    offenses
}

/// The rules on one Rust file, `path` relative to the workspace root.
pub fn check_rust(path: &Path, text: &str) -> Vec<Offense> {
    let mut offenses = Vec::new();
    let offense = |message: String| Offense { path: path.to_path_buf(), message };
    if !text.trim_start().starts_with("//!") {
        offenses.push(offense("does not open with a `//!` comment saying its role".into()));
    }
    let before_tests = text.lines().take_while(|line| line.trim() != "#[cfg(test)]").count();
    if before_tests > MAX_LINES_BEFORE_TESTS {
        offenses.push(offense(format!(
            "{before_tests} lines before its tests, more than {MAX_LINES_BEFORE_TESTS}: split it by concern"
        )));
    }
    if path != Path::new(SUBJECTS_FILE) {
        for (number, line) in text.lines().enumerate() {
            if line.contains(SUBJECT_LITERAL) {
                offenses.push(offense(format!(
                    "line {}: a subject spelled outside {SUBJECTS_FILE}; build it with protocol::subjects",
                    number + 1
                )));
            }
        }
    }
    offenses
}

/// The dependency rule on a production crate's manifest.
pub fn check_production_manifest(path: &Path, manifest: &str) -> Vec<Offense> {
    let mut offenses = Vec::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let normal =
            section == "[dependencies]" || section.starts_with("[target.") && section.ends_with(".dependencies]");
        if !normal {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        if TEST_ONLY_CRATES.contains(&name) {
            offenses.push(Offense {
                path: path.to_path_buf(),
                message: format!("`{name}` is a normal dependency of production code; make it a dev-dependency"),
            });
        }
    }
    offenses
}

fn collect(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let name = entry.file_name();
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                collect(&path, extension, out);
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(offenses: Vec<Offense>) -> Vec<String> {
        offenses.into_iter().map(|o| o.message).collect()
    }

    #[test]
    fn the_workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is one level below the root");
        let offenses = check(root);
        let listed: Vec<String> = offenses.iter().map(Offense::to_string).collect();
        assert!(offenses.is_empty(), "tidy:\n{}", listed.join("\n"));
    }

    #[test]
    fn a_file_without_its_role_too_long_or_spelling_a_subject_is_named() {
        let long = format!("//! A role.\n{}#[cfg(test)]\n", "fn f() {}\n".repeat(MAX_LINES_BEFORE_TESTS));
        assert!(messages(check_rust(Path::new("a.rs"), &long))[0].contains("601 lines before its tests"));
        let tests_after =
            format!("//! A role.\n{}#[cfg(test)]\n{}", "fn f() {}\n".repeat(10), "fn t() {}\n".repeat(700));
        assert!(check_rust(Path::new("a.rs"), &tests_after).is_empty(), "tests do not count");
        let found =
            messages(check_rust(Path::new("a.rs"), &format!("fn f() {{ let s = {SUBJECT_LITERAL}x.evt.>\"; }}\n")));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`//!`") && found[1].starts_with("line 1: a subject"));
        let subjects = format!("//! Subjects.\nconst S: &str = {SUBJECT_LITERAL}x\";\n");
        assert!(check_rust(Path::new(SUBJECTS_FILE), &subjects).is_empty());
    }

    #[test]
    fn a_test_only_crate_among_normal_dependencies_is_named_and_among_dev_dependencies_is_not() {
        let manifest = "[package]\nname = \"x\"\n\n[dependencies]\ntokio.workspace = true\ntestkit = { path = \"../testkit\" }\ntempfile.workspace = true\n\n[dev-dependencies]\nsimulator.workspace = true\n";
        let found = messages(check_production_manifest(Path::new("x/Cargo.toml"), manifest));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`testkit`") && found[1].contains("`tempfile`"));
    }
}
