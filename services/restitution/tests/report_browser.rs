//! The fund-flow report in a real browser: a 4-level, 25-account trail of 3 victims
//! rendered, opened by headless Chromium, its DOM read back (the SVG graph with its 25
//! account nodes, the totals) and a screenshot taken.
//!
//! Chromium is `AFC_CHROMIUM`, else `chromium` on PATH; `cargo xtask test` installs Debian's
//! package when it is missing (`cargo xtask install-chromium`). Without it this test fails,
//! saying so: a report nobody checked in a browser is not checked. Set `AFC_REPORT_OUT` to a
//! directory to keep the page and the screenshot there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use restitution::report::{example, render_html};

/// How long Chromium may take to load and print the page before the test gives up, s: it
/// starts in about a second; a loaded CI machine is given a hundred times that.
const CHROMIUM_TIMEOUT_S: &str = "120";

/// Chromium, as the test kit finds it; failing the test, saying how to install it, without.
fn chromium() -> PathBuf {
    testkit::chromium_binary().unwrap_or_else(|error| panic!("{error}"))
}

/// Runs headless Chromium on `page` with `args`, its profile in `profile`, bounded in time.
fn run_chromium(profile: &Path, page: &Path, args: &[&str]) -> Output {
    let output = Command::new("timeout")
        .arg(CHROMIUM_TIMEOUT_S)
        .arg(chromium())
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (through timeout) starts");
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn chromium_draws_the_trail_and_shows_the_totals() {
    let report = example::fund_flow(&[1, 4, 8, 12], 3);
    let totals = report.allocations[0].totals();
    assert!(totals.adds_up);
    let html = render_html(&report);
    let dir = tempfile::tempdir().unwrap();
    let out = std::env::var_os("AFC_REPORT_OUT").map_or_else(|| dir.path().to_path_buf(), PathBuf::from);
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("fund-flow.html");
    std::fs::write(&page, &html).unwrap();
    let profile = dir.path().join("profile");

    let dom = run_chromium(&profile, &page, &["--dump-dom"]);
    let dom = String::from_utf8(dom.stdout).expect("the DOM is UTF-8");
    assert_eq!(dom.matches("<svg").count(), 1, "one graph");
    assert_eq!(dom.matches("class=\"node account").count(), 25, "the 25 accounts, each once");
    assert_eq!(dom.matches("class=\"node victim").count(), 3, "the 3 victims");
    assert!(dom.contains("¥18,703.69"), "the frozen money");
    assert!(dom.contains("✓ 平衡 adds up"), "the totals' verdict");
    assert!(!dom.contains("does not add up"));

    let screenshot = out.join("fund-flow.png");
    run_chromium(&profile, &page, &[&format!("--screenshot={}", screenshot.display()), "--window-size=1400,2000"]);
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 50_000, "a page, not a blank: {} bytes", png.len());
}
