//! A small driver of headless Chromium over the Chrome DevTools Protocol, for end-to-end
//! tests of what staff see in a browser (the web console): open a page, fill a form, click,
//! wait for what the page shows, read it back, take a screenshot.
//!
//! - [`Browser::launch`] starts Chromium (found by [`chromium_binary`]) in its own temp
//!   profile, on a DevTools port it picks itself, and connects to it over one WebSocket;
//!   dropping the [`Browser`] kills Chromium and every process it started.
//! - [`Browser::new_tab`] opens a tab in the default browser context;
//!   [`Browser::new_context_tab`] opens one in a fresh incognito context with its own
//!   cookies and storage, so one test can have two members of staff logged in at once.
//! - [`Tab`] drives one page: [`Tab::goto`], [`Tab::fill`], [`Tab::click`],
//!   [`Tab::submit_and_wait`], [`Tab::wait_for`], [`Tab::text`], [`Tab::eval`],
//!   [`Tab::screenshot`]...
//!
//! Waits are driven by what the browser reports (load events, DOM mutations), never by
//! sleeps, and each is bounded by a named constant below: a step that does not happen fails
//! the test naming what it waited for.
//!
//! ```no_run
//! # async fn example() -> Result<(), testkit::BrowserError> {
//! use std::time::Duration;
//!
//! let browser = testkit::Browser::launch().await?;
//! let tab = browser.new_tab().await?;
//! tab.goto("http://127.0.0.1:8080/login").await?;
//! tab.fill("#operator", "alice").await?;
//! tab.submit_and_wait("button[type=submit]").await?;
//! tab.wait_for("document.querySelectorAll('#cases li').length === 3", Duration::from_secs(10)).await?;
//! assert_eq!(tab.text("h1").await?, "Cases");
//! # Ok(())
//! # }
//! ```

mod cdp;
mod error;
mod tab;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use cdp::Connection;
pub use error::BrowserError;
pub use tab::{Cookie, Tab};

/// Environment variable naming the Chromium binary to use.
pub const CHROMIUM_ENV: &str = "AFC_CHROMIUM";

/// The names Chromium goes by on `PATH` (Debian's, then Ubuntu's and others').
const CHROMIUM_NAMES: [&str; 2] = ["chromium", "chromium-browser"];

/// How long Chromium may take to start and print its DevTools address: about a second on
/// an idle machine; a loaded CI machine sharing two cores is given thirty times that.
pub const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one DevTools command may take to be answered (not counting what it awaits in
/// the page: a wait's own bound is added to it).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a navigation may take until the new page's `load` event: a loopback server
/// answers in milliseconds; this is for a loaded machine.
pub const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a page may take to paint something after it loaded, for
/// [`Tab::first_contentful_paint_ms`].
pub const PAINT_TIMEOUT: Duration = Duration::from_secs(10);

/// Events kept for a waiter that has not read them yet. A tab produces a handful of events
/// per navigation (only the Page domain is enabled); a waiter this far behind fails.
pub const EVENT_BUFFER: usize = 1024;

/// Every tab's viewport, CSS pixels (width, height): a laptop's screen, set on each tab so
/// that screenshots and layouts do not depend on the window's decorations.
pub const VIEWPORT: (u32, u32) = (1280, 900);

/// Lines of Chromium's stderr kept to explain a failed start.
const STDERR_TAIL_LINES: usize = 40;

/// Chromium's command line, after the binary: headless, no sandbox (tests run as root in
/// containers), no GPU, and no throttling of timers in tabs that are not in front, so two
/// tabs of one test run alike.
const CHROMIUM_ARGS: [&str; 12] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
];

/// What Chromium prints on stderr before the browser's DevTools WebSocket URL.
const LISTENING: &str = "DevTools listening on ";

/// Finds the Chromium binary: the path in `AFC_CHROMIUM` (an error if it is set but names
/// no file), else `chromium` or `chromium-browser` on `PATH`.
pub fn chromium_binary() -> Result<PathBuf, BrowserError> {
    if let Some(path) = std::env::var_os(CHROMIUM_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(BrowserError::BadChromiumEnv { path }) };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| CHROMIUM_NAMES.map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| BrowserError::ChromiumNotFound {
            tried: format!("${CHROMIUM_ENV} (unset), {} on PATH", CHROMIUM_NAMES.join(" or ")),
        })
}

/// A headless Chromium, its profile, and the DevTools connection to it.
///
/// Dropping it kills Chromium's whole process group (browser, renderers, GPU and utility
/// processes) and removes the profile.
pub struct Browser {
    /// The DevTools connection, shared with the tabs.
    connection: Arc<Connection>,
    /// The Chromium processes; killed on drop, before the profile goes.
    chromium: Chromium,
    /// The last lines Chromium wrote to stderr, kept by a task draining the pipe.
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The user data directory; removed on drop, after Chromium is killed.
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("pid", &self.chromium.child.id()).finish_non_exhaustive()
    }
}

/// The process started, leader of its own process group: Debian's `chromium` is a shell
/// script that runs the browser as its child, and the browser starts renderers and helpers,
/// so killing the one process started would leave the others running. Dropping this kills
/// the group, whether the launch succeeded or not.
struct Chromium {
    /// The process started; `kill_on_drop`, so that the runtime reaps it.
    child: Child,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|pid| rustix::process::Pid::from_raw(pid.cast_signed())) {
            // Already gone is fine.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Browser {
    /// Starts headless Chromium on `about:blank` and connects to it.
    pub async fn launch() -> Result<Browser, BrowserError> {
        let binary = chromium_binary()?;
        let profile = tempfile::Builder::new()
            .prefix("afc-chromium-")
            .tempdir()
            .map_err(BrowserError::io("create chromium's profile directory"))?;
        let child = Command::new(&binary)
            .args(CHROMIUM_ARGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(BrowserError::io(format!("start {}", binary.display())))?;
        let mut chromium = Chromium { child };
        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let mut lines = BufReader::new(chromium.child.stderr.take().expect("stderr is piped")).lines();
        let launch_failed =
            |detail: String| BrowserError::Launch { binary: binary.clone(), detail, stderr: tail(&stderr) };
        let url = match tokio::time::timeout(LAUNCH_TIMEOUT, devtools_url(&mut lines, &stderr)).await {
            Ok(Ok(Some(url))) => url,
            Ok(Ok(None)) => {
                let status = chromium.child.wait().await.map_or_else(|e| e.to_string(), |status| status.to_string());
                return Err(launch_failed(format!("it exited ({status}) without a devtools address")));
            }
            Ok(Err(error)) => return Err(launch_failed(format!("reading its stderr: {error}"))),
            Err(_) => return Err(launch_failed(format!("no devtools address within {LAUNCH_TIMEOUT:?}"))),
        };
        // Chromium blocks once the pipe is full: keep reading it, keeping the end.
        tokio::spawn({
            let stderr = stderr.clone();
            async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    remember(&stderr, line);
                }
            }
        });
        let connection = Connection::open(&url, LAUNCH_TIMEOUT).await?;
        Ok(Browser { connection: Arc::new(connection), chromium, stderr, _profile: profile })
    }

    /// Opens a tab on `about:blank` in the default browser context: its cookies and storage
    /// are shared with every other tab from `new_tab`.
    pub async fn new_tab(&self) -> Result<Tab, BrowserError> {
        self.open_tab(None).await
    }

    /// Opens a tab on `about:blank` in a new incognito browser context: its own cookies,
    /// storage and cache, shared with no other tab. Closing the tab disposes of the context.
    pub async fn new_context_tab(&self) -> Result<Tab, BrowserError> {
        let created = self
            .connection
            .call(None, "Target.createBrowserContext", json!({ "disposeOnDetach": true }), COMMAND_TIMEOUT)
            .await?;
        let context = string_field(&created, "Target.createBrowserContext", "browserContextId")?;
        self.open_tab(Some(context)).await
    }

    /// The last lines Chromium wrote to stderr, to explain a failure.
    pub fn stderr_tail(&self) -> String {
        tail(&self.stderr)
    }

    async fn open_tab(&self, context: Option<String>) -> Result<Tab, BrowserError> {
        let mut params = json!({ "url": "about:blank" });
        if let Some(context) = &context {
            params["browserContextId"] = Value::from(context.as_str());
        }
        let created = self.connection.call(None, "Target.createTarget", params, COMMAND_TIMEOUT).await?;
        let target = string_field(&created, "Target.createTarget", "targetId")?;
        let attached = self
            .connection
            .call(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }), COMMAND_TIMEOUT)
            .await?;
        let session = string_field(&attached, "Target.attachToTarget", "sessionId")?;
        Tab::attach(self.connection.clone(), target, session, context).await
    }
}

/// Reads Chromium's stderr until it names its DevTools WebSocket URL; `None` when it ends
/// first (Chromium exited).
async fn devtools_url(
    lines: &mut Lines<BufReader<ChildStderr>>,
    stderr: &Mutex<VecDeque<String>>,
) -> std::io::Result<Option<String>> {
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.trim().strip_prefix(LISTENING) {
            return Ok(Some(url.to_owned()));
        }
        remember(stderr, line);
    }
    Ok(None)
}

fn remember(stderr: &Mutex<VecDeque<String>>, line: String) {
    let mut kept = stderr.lock().expect("no panic while holding the stderr lock");
    if kept.len() == STDERR_TAIL_LINES {
        kept.pop_front();
    }
    kept.push_back(line);
}

fn tail(stderr: &Mutex<VecDeque<String>>) -> String {
    let kept = stderr.lock().expect("no panic while holding the stderr lock");
    kept.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
}

/// The string `field` of a command's `result`.
fn string_field(result: &Value, method: &str, field: &str) -> Result<String, BrowserError> {
    result.get(field).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| BrowserError::Unexpected {
        method: method.to_owned(),
        detail: format!("no {field} in {result}"),
    })
}
