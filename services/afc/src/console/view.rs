//! The frame of every console page (header, the role's menu, the language switch, logout),
//! the styles and the live-update script (embedded in the binary), and small formatters.
//! Pure: a page is a function of what the handler fetched.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::calendar::{UtcOffset, since};
use domain::{Fen, TimeMs};
use maud::{DOCTYPE, Markup, html};
use security::staff::StaffRole;

use super::labels::Lang;
use super::live::Live;
use super::role_key;

/// Who is looking at a page, and what the frame needs of them.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub who: String,
    pub role: StaffRole,
    pub lang: Lang,
    pub tz: UtcOffset,
}

/// A page: its title, what its live updates listen to (`/live?topic=…&after=…`), its body.
pub fn page(viewer: Option<&Viewer>, lang: Lang, title: &str, live: Option<Live>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if lang == Lang::Zh { "zh-CN" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(live) = &live {
                    meta name="afc-live" content=(live.url());
                }
                title { (title) " · " (lang.t("console")) }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { (lang.t(if viewer.is_some_and(|v| v.role == StaffRole::Province) { "province_console" } else { "console" })) }
                    @if let Some(viewer) = viewer {
                        nav { @for (href, key) in menu(viewer.role) { a href=(href) { (lang.t(key)) } } }
                        span.who { (viewer.who) " · " (lang.t(&role_key(viewer.role))) " · " (viewer.tz) }
                        form.inline method="post" action="/logout" {
                            button type="submit" { (lang.t("logout")) }
                        }
                    }
                    a.lang href={"/lang?to=" (lang.other().as_str())} { (lang.t("language")) }
                    @if live.is_some() { span.live title=(lang.t("live")) { "●" } }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The pages a role's menu links to.
pub fn menu(role: StaffRole) -> Vec<(&'static str, &'static str)> {
    match role {
        StaffRole::Province => vec![("/province", "province_board")],
        StaffRole::Intake => vec![("/file", "file_report"), ("/cases", "cases"), ("/blocks", "blocks")],
        StaffRole::BankLiaison => vec![("/cases", "cases"), ("/returns", "returns"), ("/blocks", "blocks")],
        StaffRole::CarrierLiaison => vec![("/cases", "cases"), ("/blocks", "blocks")],
        StaffRole::Dissuasion => vec![("/cases", "cases"), ("/tasks", "tasks")],
        StaffRole::Approver => vec![("/cases", "cases"), ("/returns", "returns")],
    }
}

/// A message box: `ok`, `error` or `info`.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { p class={"notice " (kind)} role=(if kind == "error" { "alert" } else { "status" }) { (text) } }
}

/// An HTML response with `status`.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// `2025-03-14 09:00:12` on `tz`'s clock.
pub fn local(tz: UtcOffset, at_ms: TimeMs) -> String {
    tz.local(at_ms).to_string()
}

/// `2025-03-14 09:00:12 (+2m13s)`: local time and the offset from `from_ms`.
pub fn local_since(tz: UtcOffset, from_ms: TimeMs, at_ms: TimeMs) -> String {
    format!("{} ({})", local(tz, at_ms), since(from_ms, at_ms))
}

/// `¥1,234.56`.
pub fn money(fen: Fen) -> String {
    fen.grouped().to_string()
}

const CSS: &str = r#"
:root { color-scheme: dark; --bg:#14171c; --panel:#1d2229; --line:#2f3640; --text:#e6e9ee; --dim:#9aa4b1;
  --accent:#5aa9ff; --ok:#4cc38a; --warn:#f0b440; --bad:#ff5d5d; --queued:#8f8cff; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; gap:1rem; align-items:center; padding:.6rem 1rem; background:var(--panel); border-bottom:1px solid var(--line); flex-wrap:wrap; }
header .brand { font-weight:600; color:var(--text); text-decoration:none; }
header nav { display:flex; gap:.8rem; }
header .who { margin-left:auto; color:var(--dim); }
header .live { color:var(--ok); }
a { color:var(--accent); }
main { padding:1rem 1.2rem; max-width:1400px; }
h1 { font-size:1.3rem; margin:.2rem 0 1rem; }
h2 { font-size:1.05rem; margin:1.4rem 0 .5rem; color:var(--dim); }
table { border-collapse:collapse; width:100%; margin:.4rem 0; }
th, td { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--dim); font-weight:500; white-space:nowrap; }
td.num { text-align:right; font-variant-numeric: tabular-nums; }
table.backlog { width:auto; min-width:36rem; }
/* Headers of the columns of figures, over their right-aligned figures. */
table.backlog th:nth-child(n+2):nth-child(-n+4), table.report th:not(:first-child),
table.shares th:nth-child(n+2):nth-child(-n+3), table.convergence th:nth-child(n+2):nth-child(-n+3),
table.hops th:nth-child(1), table.hops th:nth-child(3), table.allocations th:nth-child(n+6), table.allocations th:nth-child(4) { text-align:right; }
table.report tbody tr:last-child { font-weight:600; }
.phone { font-weight:600; font-variant-numeric: tabular-nums; }
form.inline { display:inline; margin:0; }
input, select, textarea, button { font:inherit; color:var(--text); background:#0f1216; border:1px solid var(--line); border-radius:4px; padding:.3rem .5rem; }
button { background:#24406a; border-color:#35598f; cursor:pointer; }
button.danger { background:#6a2424; border-color:#8f3535; }
.notice { padding:.5rem .8rem; border-radius:4px; border:1px solid var(--line); }
.notice.error { border-color:var(--bad); color:#ffd0d0; }
.notice.ok { border-color:var(--ok); }
.figures { display:flex; gap:1.5rem; flex-wrap:wrap; margin:.5rem 0 1rem; }
.figures div { background:var(--panel); padding:.5rem .8rem; border-radius:4px; min-width:9rem; }
.figures b { display:block; font-size:1.2rem; }
.graph { overflow:auto; max-height:70vh; background:var(--panel); border:1px solid var(--line); border-radius:4px; }
svg.trail text { fill:var(--text); font-size:12px; }
svg.trail text.small, svg.trail text.amount { fill:var(--dim); font-size:11px; }
svg.trail .edge { fill:none; stroke:#56606d; stroke-width:1.2; }
svg.trail rect { fill:#232a33; stroke:#56606d; }
svg.trail .victim rect { stroke:var(--accent); }
svg.trail .stopped rect { stroke:var(--warn); }
svg.trail .frozen rect { stroke:var(--ok); fill:#17301f; }
svg.trail .queued rect { stroke:var(--queued); }
svg.trail .at-risk rect, svg.trail .failed rect, svg.trail .released rect { stroke:var(--bad); fill:#3a1a1a; }
svg.trail .cashed-out rect { stroke:#777; stroke-dasharray:4 3; }
svg.chart rect { fill:var(--accent); }
svg.chart text { fill:var(--text); font-size:12px; }
.alarm { color:var(--bad); font-weight:600; }
.dim { color:var(--dim); }
"#;

const JS: &str = r#"
(function () {
  var meta = document.querySelector('meta[name="afc-live"]');
  if (!meta || !window.EventSource) return;
  var busy = false, again = false, seen = false;
  function typing() {
    var el = document.activeElement;
    return el && el.closest && el.closest('main') && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) && el.type !== 'hidden';
  }
  function refresh() {
    if (busy || typing()) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { 'X-Afc-Live': '1' } })
      .then(function (r) { if (r.redirected || !r.ok) { location.reload(); return null; } return r.text(); })
      .then(function (text) {
        if (text === null) return;
        var fresh = new DOMParser().parseFromString(text, 'text/html').querySelector('main');
        var old = document.querySelector('main');
        if (fresh && old) {
          old.replaceWith(fresh);
          document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || 0) + 1));
        }
      })
      .catch(function () {})
      .finally(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  document.addEventListener('focusout', function () { if (again) { again = false; setTimeout(refresh, 0); } });
  var source = new EventSource(meta.content);
  source.addEventListener('changed', refresh);
  source.addEventListener('open', function () { if (seen) refresh(); seen = true; });
})();
"#;

pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    response
}
