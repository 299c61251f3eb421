//! One tab of the browser: a page a test drives as a member of staff would, and reads back.
//!
//! Navigations are awaited by the `load` lifecycle event of the navigation's own loader (not
//! any load event, which could be an earlier page's). Conditions are awaited in the page
//! itself ([`Tab::wait_for`]): one promise re-checks the condition on every DOM mutation and
//! every [`RECHECK_MS`], so a test sees a change as soon as the page makes it, and a
//! navigation during the wait is followed onto the new document.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::cdp::{Connection, Event, next_event};
use super::{BrowserError, COMMAND_TIMEOUT, NAVIGATION_TIMEOUT, PAINT_TIMEOUT, VIEWPORT};

/// How often, ms, a waiting condition is re-checked in the page when no mutation prompts it
/// (for what mutations do not show: styles, scroll, timers' effects on properties).
pub const RECHECK_MS: u64 = 50;

/// How much of a script is quoted in an error.
const SCRIPT_QUOTED_CHARS: usize = 120;

/// A cookie of the tab's browser context that applies to its page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The domain it was set for.
    pub domain: String,
    /// The path it was set for.
    pub path: String,
    /// Hidden from the page's script.
    pub http_only: bool,
    /// Sent over HTTPS only.
    pub secure: bool,
}

/// A tab: its target, and the session on the browser's connection that drives it.
pub struct Tab {
    /// The browser's DevTools connection.
    connection: Arc<Connection>,
    /// The tab's target id (also its main frame's id).
    target: String,
    /// The flattened session attached to the target.
    session: String,
    /// The incognito browser context the tab was opened in, disposed of on close.
    context: Option<String>,
}

impl std::fmt::Debug for Tab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tab").field("target", &self.target).field("context", &self.context).finish_non_exhaustive()
    }
}

impl Tab {
    /// Turns on the page events the waits rely on and sets the [`VIEWPORT`], for a tab just
    /// attached.
    pub(super) async fn attach(
        connection: Arc<Connection>,
        target: String,
        session: String,
        context: Option<String>,
    ) -> Result<Tab, BrowserError> {
        let tab = Tab { connection, target, session, context };
        tab.call("Page.enable", json!({}), COMMAND_TIMEOUT).await?;
        tab.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true }), COMMAND_TIMEOUT).await?;
        let (width, height) = VIEWPORT;
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        tab.call("Emulation.setDeviceMetricsOverride", metrics, COMMAND_TIMEOUT).await?;
        Ok(tab)
    }

    /// Opens `url` and waits for its `load` event (all of the page's scripts, styles and
    /// images loaded), at most [`NAVIGATION_TIMEOUT`].
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + NAVIGATION_TIMEOUT;
        let mut events = self.connection.subscribe();
        let navigated = self.call("Page.navigate", json!({ "url": url }), NAVIGATION_TIMEOUT).await?;
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str).filter(|e| !e.is_empty()) {
            return Err(BrowserError::Navigation { url: url.to_owned(), error: error.to_owned() });
        }
        let Some(loader) = navigated.get("loaderId").and_then(Value::as_str) else {
            // A same-document navigation (a fragment): nothing to load.
            return Ok(());
        };
        let what = format!("{url} to load");
        self.loaded(&mut events, loader, deadline, &what).await
    }

    /// Clicks the element `selector` matches and waits for the page it leads to (a form's
    /// answer, a link's target) to load, at most [`NAVIGATION_TIMEOUT`].
    pub async fn submit_and_wait(&self, selector: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + NAVIGATION_TIMEOUT;
        let mut events = self.connection.subscribe();
        self.click(selector).await?;
        let what = format!("the page after clicking {selector:?} to load");
        let frame = next_event(&mut events, deadline, NAVIGATION_TIMEOUT, &what, |event| {
            let frame = &event.params["frame"];
            (self.concerns(event, "Page.frameNavigated") && frame.get("parentId").is_none()).then(|| frame.clone())
        })
        .await?;
        if let Some(url) = frame.get("unreachableUrl").and_then(Value::as_str) {
            // Chromium shows its error page; the load to wait for is not the one asked for.
            return Err(BrowserError::Navigation { url: url.to_owned(), error: "unreachable".to_owned() });
        }
        let Some(loader) = frame["loaderId"].as_str() else {
            return Err(BrowserError::Unexpected {
                method: "Page.frameNavigated".to_owned(),
                detail: format!("no loaderId in {frame}"),
            });
        };
        self.loaded(&mut events, loader, deadline, &what).await
    }

    /// Runs `script` (an expression; a promise is awaited) in the page and returns its value
    /// as JSON (`null` for `undefined`). A thrown exception is [`BrowserError::Script`].
    pub async fn eval(&self, script: &str) -> Result<Value, BrowserError> {
        self.evaluate(script, COMMAND_TIMEOUT).await
    }

    /// Waits until `condition` (a JavaScript expression) is truthy in the page, at most
    /// `timeout`.
    ///
    /// The waiting happens in the page: one promise checks the condition at once, then on
    /// every DOM mutation and every [`RECHECK_MS`]. A condition that throws counts as false
    /// (`document.querySelector('#x').textContent` before `#x` exists) and its last error is
    /// reported on timeout. When the page navigates during the wait, the wait goes on in the
    /// new document, within the same `timeout`.
    pub async fn wait_for(&self, condition: &str, timeout: Duration) -> Result<(), BrowserError> {
        let deadline = Instant::now() + timeout;
        let what = format!("`{}` to hold on the page", quoted(condition));
        let timed_out = |last: String| BrowserError::Timeout { what: what.clone(), timeout, last };
        let mut navigated = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let last = if navigated { "the page was navigating" } else { "not checked" };
                return Err(timed_out(last.to_owned()));
            }
            let mut events = self.connection.subscribe();
            let script = wait_script(condition, remaining);
            match self.evaluate(&script, remaining + COMMAND_TIMEOUT).await {
                Ok(outcome) if outcome["met"].as_bool() == Some(true) => return Ok(()),
                Ok(outcome) => {
                    let last = outcome["last"].as_str().map_or_else(|| "false".to_owned(), str::to_owned);
                    return Err(timed_out(last));
                }
                Err(error) if error.is_document_gone() => {
                    navigated = true;
                    // Try again once the new document shows a sign of life: one event per
                    // try, so a page that never settles cannot make this spin.
                    let settling = format!("{what} (the page navigated away)");
                    next_event(&mut events, deadline, timeout, &settling, |event| {
                        (event.session.as_deref() == Some(&self.session)
                            && event.method.starts_with("Page.")
                            && event.params["frame"].get("parentId").is_none())
                        .then_some(())
                    })
                    .await?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Types `value` into the input, textarea or select `selector` matches: sets its value
    /// and fires `input` and `change`, as typing would.
    pub async fn fill(&self, selector: &str, value: &str) -> Result<(), BrowserError> {
        let value = serde_json::to_string(value).expect("a string is JSON");
        let body = format!(
            "(() => {{ el.focus(); \
               const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value')?.set; \
               if (setter) setter.call(el, {value}); else el.value = {value}; \
               el.dispatchEvent(new Event('input', {{ bubbles: true }})); \
               el.dispatchEvent(new Event('change', {{ bubbles: true }})); }})()"
        );
        self.on_element(selector, &body).await.map(drop)
    }

    /// Clicks the element `selector` matches (`el.click()`: a button submits its form, a
    /// link is followed). Does not wait for what the click starts; see
    /// [`Tab::submit_and_wait`] and [`Tab::wait_for`].
    pub async fn click(&self, selector: &str) -> Result<(), BrowserError> {
        self.on_element(selector, "el.click()").await.map(drop)
    }

    /// The rendered text (`innerText`) of the element `selector` matches.
    pub async fn text(&self, selector: &str) -> Result<String, BrowserError> {
        let text = self.on_element(selector, "el.innerText").await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The page's URL (`location.href`).
    pub async fn url(&self) -> Result<String, BrowserError> {
        let href = self.eval("location.href").await?;
        Ok(href.as_str().unwrap_or_default().to_owned())
    }

    /// Writes a PNG of the visible part of the page ([`VIEWPORT`]) to `path`.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<(), BrowserError> {
        const METHOD: &str = "Page.captureScreenshot";
        let path = path.as_ref();
        let shot = self.call(METHOD, json!({ "format": "png" }), COMMAND_TIMEOUT).await?;
        let data = shot.get("data").and_then(Value::as_str).unwrap_or_default();
        let png = base64::engine::general_purpose::STANDARD.decode(data).map_err(|error| BrowserError::Unexpected {
            method: METHOD.to_owned(),
            detail: format!("data is not base64: {error}"),
        })?;
        tokio::fs::write(path, png).await.map_err(BrowserError::io(format!("write the screenshot {}", path.display())))
    }

    /// When the page first painted text or an image, ms after its navigation started (the
    /// `first-contentful-paint` performance entry), waiting at most [`PAINT_TIMEOUT`] for it.
    pub async fn first_contentful_paint_ms(&self) -> Result<f64, BrowserError> {
        const ENTRY: &str = "performance.getEntriesByName('first-contentful-paint')";
        self.wait_for(&format!("{ENTRY}.length > 0"), PAINT_TIMEOUT).await?;
        let start = self.eval(&format!("{ENTRY}[0].startTime")).await?;
        start.as_f64().ok_or_else(|| BrowserError::Unexpected {
            method: "Runtime.evaluate".to_owned(),
            detail: format!("first-contentful-paint startTime is {start}"),
        })
    }

    /// The cookies of the tab's browser context that apply to its page, `HttpOnly` ones too.
    pub async fn cookies(&self) -> Result<Vec<Cookie>, BrowserError> {
        const METHOD: &str = "Network.getCookies";
        let mut answer = self.call(METHOD, json!({}), COMMAND_TIMEOUT).await?;
        serde_json::from_value(answer["cookies"].take())
            .map_err(|error| BrowserError::Unexpected { method: METHOD.to_owned(), detail: error.to_string() })
    }

    /// Closes the tab, and disposes of its incognito context if it had one.
    pub async fn close(self) -> Result<(), BrowserError> {
        let browser = |method, params| self.connection.call(None, method, params, COMMAND_TIMEOUT);
        browser("Target.closeTarget", json!({ "targetId": self.target })).await?;
        if let Some(context) = &self.context {
            browser("Target.disposeBrowserContext", json!({ "browserContextId": context })).await?;
        }
        Ok(())
    }

    async fn call(&self, method: &str, params: Value, timeout: Duration) -> Result<Value, BrowserError> {
        self.connection.call(Some(&self.session), method, params, timeout).await
    }

    /// Whether `event` is `method` of this tab.
    fn concerns(&self, event: &Event, method: &str) -> bool {
        event.session.as_deref() == Some(&self.session) && event.method == method
    }

    /// Waits on `events` for the `load` lifecycle event of the document `loader` loads.
    async fn loaded(
        &self,
        events: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
        loader: &str,
        deadline: Instant,
        what: &str,
    ) -> Result<(), BrowserError> {
        next_event(events, deadline, NAVIGATION_TIMEOUT, what, |event| {
            (self.concerns(event, "Page.lifecycleEvent")
                && event.params["name"] == "load"
                && event.params["loaderId"] == loader)
                .then_some(())
        })
        .await
    }

    /// `Runtime.evaluate`, awaiting a promise and returning the value by value.
    async fn evaluate(&self, script: &str, timeout: Duration) -> Result<Value, BrowserError> {
        let params = json!({
            "expression": script,
            "awaitPromise": true,
            "returnByValue": true,
            "userGesture": true,
        });
        let mut answer = self.call("Runtime.evaluate", params, timeout).await?;
        if let Some(details) = answer.get("exceptionDetails") {
            let exception = &details["exception"];
            let message = exception["description"]
                .as_str()
                .or_else(|| exception["value"].as_str())
                .or_else(|| details["text"].as_str())
                .unwrap_or("an exception without text");
            return Err(BrowserError::Script { script: quoted(script), message: message.to_owned() });
        }
        Ok(answer["result"]["value"].take())
    }

    /// Runs `body` with `el` bound to the element `selector` matches, and returns its value;
    /// [`BrowserError::NoElement`] when none does.
    async fn on_element(&self, selector: &str, body: &str) -> Result<Value, BrowserError> {
        let literal = serde_json::to_string(selector).expect("a string is JSON");
        let script = format!(
            "((el) => el === null ? {{ found: false }} : {{ found: true, value: {body} }})(document.querySelector({literal}))"
        );
        let mut outcome = self.eval(&script).await?;
        if outcome["found"].as_bool() != Some(true) {
            let url = self.url().await.unwrap_or_else(|error| format!("(url unknown: {error})"));
            return Err(BrowserError::NoElement { selector: selector.to_owned(), url });
        }
        Ok(outcome["value"].take())
    }
}

/// The in-page wait for `condition`: resolves `{met: true}` as soon as it holds, or
/// `{met: false, last}` after `remaining`, `last` being the condition's last error if it
/// threw.
fn wait_script(condition: &str, remaining: Duration) -> String {
    let remaining_ms = remaining.as_millis();
    format!(
        r#"new Promise((resolve) => {{
  const condition = () => (
{condition}
  );
  let done = false, last = null, recheck = null, observer = null;
  const finish = (met) => {{
    if (done) return;
    done = true;
    if (observer) observer.disconnect();
    clearTimeout(recheck);
    clearTimeout(giveUp);
    resolve({{ met, last }});
  }};
  const check = () => {{
    if (done) return;
    try {{
      if (condition()) finish(true);
    }} catch (error) {{
      last = String(error);
    }}
  }};
  const giveUp = setTimeout(() => finish(false), {remaining_ms});
  const tick = () => {{
    check();
    if (!done) recheck = setTimeout(tick, {RECHECK_MS});
  }};
  observer = new MutationObserver(check);
  observer.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
  tick();
}})"#
    )
}

/// `script` shortened to [`SCRIPT_QUOTED_CHARS`], for an error.
fn quoted(script: &str) -> String {
    let mut chars = script.chars();
    let mut quoted: String = chars.by_ref().take(SCRIPT_QUOTED_CHARS).collect();
    if chars.next().is_some() {
        quoted.push('…');
    }
    quoted
}
