//! The browser driver against a tiny console served by axum: a login form that posts back
//! and sets a cookie, a list that appears when a fetch answers, links to other pages.
//!
//! The fetch's answer is held by the server until the test lets it go, so "not there yet"
//! and "there once the answer came" are both observed, never guessed with a sleep.
//! Chromium is `AFC_CHROMIUM`, else `chromium` on PATH (`cargo xtask install-chromium`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use testkit::browser::{BrowserError, Cookie, VIEWPORT};
use testkit::{Browser, Tab};
use tokio::sync::Semaphore;

/// Bound on what the page shows once it has what it needs: a loaded machine's worst case.
const SHOWN: Duration = Duration::from_secs(10);

/// Bound on what must not happen while the server holds its answer: long enough for a page
/// to have shown it if it were not held.
const NOT_SHOWN: Duration = Duration::from_millis(300);

const HOME: &str = r#"<!doctype html>
<html><head><title>console</title></head><body>
<h1 id="title">Anti-fraud console</h1>
<form method="post" action="/login">
  <input id="operator" name="operator">
  <button id="login" type="submit">Log in</button>
</form>
<button id="load" onclick="fetch('/cases').then((r) => r.text()).then((t) => {
  const p = document.createElement('p'); p.id = 'cases'; p.textContent = t; document.body.append(p);
})">Load cases</button>
<a id="next" href="/next">next</a>
</body></html>"#;

/// The test console: its address and the gate holding `/cases`' answer.
struct Console {
    /// `http://127.0.0.1:<port>`.
    base: String,
    /// One permit lets one `/cases` answer go.
    gate: Arc<Semaphore>,
}

impl Console {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn spawn_console() -> Console {
    let gate = Arc::new(Semaphore::new(0));
    let app = axum::Router::new()
        .route("/", get(|| async { Html(HOME) }))
        .route("/login", post(login))
        .route("/whoami", get(whoami))
        .route("/cases", get(cases))
        .route("/next", get(|| async { Html(r#"<!doctype html><p id="here">the next page</p>"#) }))
        .with_state(gate.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Console { base, gate }
}

/// `operator=NAME` in, a session cookie and a redirect to `/whoami` out.
async fn login(body: String) -> impl IntoResponse {
    let operator: String = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("operator="))
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    ([(header::SET_COOKIE, format!("operator={operator}; Path=/; HttpOnly"))], Redirect::to("/whoami"))
}

async fn whoami(headers: HeaderMap) -> Html<String> {
    let operator = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split("; "))
        .find_map(|pair| pair.strip_prefix("operator="))
        .unwrap_or("nobody")
        .to_owned();
    Html(format!(r#"<!doctype html><p id="who">{operator}</p>"#))
}

async fn cases(State(gate): State<Arc<Semaphore>>) -> &'static str {
    gate.acquire().await.expect("the gate is never closed").forget();
    "3 open cases"
}

async fn log_in(tab: &Tab, console: &Console, operator: &str) {
    tab.goto(&console.url("/")).await.unwrap();
    tab.fill("#operator", operator).await.unwrap();
    tab.submit_and_wait("#login").await.unwrap();
}

#[tokio::test]
async fn a_form_posts_back_and_the_next_page_shows_who_logged_in() {
    let console = spawn_console().await;
    let browser = Browser::launch().await.unwrap();
    let tab = browser.new_tab().await.unwrap();

    tab.goto(&console.url("/")).await.unwrap();
    assert_eq!(tab.url().await.unwrap(), console.url("/"));
    assert_eq!(tab.text("#title").await.unwrap(), "Anti-fraud console");
    let paint_ms = tab.first_contentful_paint_ms().await.unwrap();
    assert!(paint_ms > 0.0 && paint_ms < SHOWN.as_secs_f64() * 1000.0, "first contentful paint at {paint_ms} ms");

    tab.fill("#operator", "alice").await.unwrap();
    assert_eq!(tab.eval("document.querySelector('#operator').value").await.unwrap(), "alice");
    tab.submit_and_wait("#login").await.unwrap();
    assert_eq!(tab.url().await.unwrap(), console.url("/whoami"), "the post's redirect was followed");
    assert_eq!(tab.text("#who").await.unwrap(), "alice");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whoami.png");
    tab.screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), VIEWPORT, "the header's width and height: the whole viewport");
}

#[tokio::test]
async fn wait_for_sees_what_a_fetch_adds_and_names_what_never_came() {
    let console = spawn_console().await;
    let browser = Browser::launch().await.unwrap();
    let tab = browser.new_tab().await.unwrap();
    tab.goto(&console.url("/")).await.unwrap();

    tab.click("#load").await.unwrap();
    let held = tab.wait_for("document.querySelector('#cases').textContent !== ''", NOT_SHOWN).await.unwrap_err();
    let BrowserError::Timeout { what, last, .. } = &held else { panic!("a timeout, not {held}") };
    assert!(what.contains("#cases"), "names the condition: {what}");
    assert!(last.contains("TypeError"), "the condition's last error: {last}");
    assert_eq!(tab.eval("document.querySelector('#cases')").await.unwrap(), serde_json::Value::Null);

    console.gate.add_permits(1);
    tab.wait_for("document.querySelector('#cases')?.textContent === '3 open cases'", SHOWN).await.unwrap();
    assert_eq!(tab.text("#cases").await.unwrap(), "3 open cases");
}

#[tokio::test]
async fn wait_for_follows_the_page_onto_its_next_document() {
    let console = spawn_console().await;
    let browser = Browser::launch().await.unwrap();
    let tab = browser.new_tab().await.unwrap();
    tab.goto(&console.url("/")).await.unwrap();

    // The first check, on the home page, follows the link: the wait started there must end
    // on the next page, where `#here` is.
    let condition = "document.querySelector('#here') !== null \
                     || (window.followed || (window.followed = true, document.querySelector('#next').click()), false)";
    tab.wait_for(condition, SHOWN).await.unwrap();
    assert_eq!(tab.url().await.unwrap(), console.url("/next"));
    assert_eq!(tab.text("#here").await.unwrap(), "the next page");
}

#[tokio::test]
async fn two_contexts_keep_their_own_cookies() {
    let console = spawn_console().await;
    let browser = Browser::launch().await.unwrap();
    let alice = browser.new_context_tab().await.unwrap();
    let bob = browser.new_context_tab().await.unwrap();

    log_in(&alice, &console, "alice").await;
    bob.goto(&console.url("/whoami")).await.unwrap();
    assert_eq!(bob.text("#who").await.unwrap(), "nobody", "alice's cookie is not bob's");
    log_in(&bob, &console, "bob").await;
    alice.goto(&console.url("/whoami")).await.unwrap();
    assert_eq!(alice.text("#who").await.unwrap(), "alice", "bob's login did not replace alice's");
    assert_eq!(bob.text("#who").await.unwrap(), "bob");

    let operator = |cookies: Vec<Cookie>| -> Vec<(String, bool)> {
        cookies.into_iter().filter(|c| c.name == "operator").map(|c| (c.value, c.http_only)).collect()
    };
    assert_eq!(operator(alice.cookies().await.unwrap()), [("alice".to_owned(), true)]);
    assert_eq!(operator(bob.cookies().await.unwrap()), [("bob".to_owned(), true)]);
    let default = browser.new_tab().await.unwrap();
    default.goto(&console.url("/whoami")).await.unwrap();
    assert_eq!(default.text("#who").await.unwrap(), "nobody", "the default context has neither");
    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

#[tokio::test]
async fn each_failure_names_what_failed() {
    let console = spawn_console().await;
    let browser = Browser::launch().await.unwrap();
    let tab = browser.new_tab().await.unwrap();
    tab.goto(&console.url("/")).await.unwrap();

    assert_eq!(tab.eval("Promise.resolve({ cases: 1 + 2 })").await.unwrap(), serde_json::json!({ "cases": 3 }));
    let thrown = tab.eval("(() => { throw new Error('no such case') })()").await.unwrap_err();
    assert!(matches!(&thrown, BrowserError::Script { message, .. } if message.contains("no such case")), "{thrown}");

    let missing = tab.click("#delete").await.unwrap_err();
    assert!(
        matches!(&missing, BrowserError::NoElement { selector, url } if selector == "#delete" && *url == console.url("/")),
        "{missing}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nowhere = format!("http://{closed}/");
    tab.eval(&format!("document.querySelector('#next').href = {nowhere:?}")).await.unwrap();
    let unreachable = tab.submit_and_wait("#next").await.unwrap_err();
    assert!(matches!(&unreachable, BrowserError::Navigation { url, .. } if *url == nowhere), "{unreachable}");
    let refused = tab.goto(&nowhere).await.unwrap_err();
    assert!(
        matches!(&refused, BrowserError::Navigation { error, .. } if error.contains("ERR_CONNECTION_REFUSED")),
        "{refused}"
    );
}
