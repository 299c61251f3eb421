//! The few HTTP/1.1 requests `afc-lab bench console` makes of a console on loopback, over a
//! plain TCP connection each (`Connection: close`), so the time measured is the server's and
//! the loopback's, not a client library's: a page, a login, a live stream read until told to
//! stop, a metrics scrape.

use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest one request may take before the benchmark gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// An answer: its status, its session cookie if it set one, its body's length.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub session: Option<String>,
    pub body: Vec<u8>,
    /// From the connection's opening to the last byte of the answer.
    pub took: Duration,
}

/// `host:port` of `url` (`http://host:port`).
pub fn host(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}

/// Percent-encodes a form value (also the console's tests' forms).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request's head: `method path`, the cookie, our own origin (the console refuses a post
/// from another one).
fn head(method: &str, url: &str, path: &str, cookie: Option<&str>) -> String {
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nOrigin: {url}\r\n", host(url));
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    request
}

/// Sends `request` and reads the whole answer.
async fn exchange(url: &str, request: String) -> anyhow::Result<Answer> {
    let started = Instant::now();
    let work = async {
        let mut stream = TcpStream::connect(host(url)).await.with_context(|| format!("connecting to {url}"))?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(REQUEST_TIMEOUT, work).await.context("no answer in time")??;
    let took = started.elapsed();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("an answer without a head")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).context("no status")?;
    let session = lines
        .filter_map(|l| l.split_once(": "))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, value)| value.strip_prefix("afc_session="))
        .map(|value| format!("afc_session={}", value.split(';').next().unwrap_or_default()));
    Ok(Answer { status, session, body: raw[split + 4..].to_vec(), took })
}

/// `GET path`, with `cookie`.
pub async fn get(url: &str, path: &str, cookie: Option<&str>) -> anyhow::Result<Answer> {
    let mut request = head("GET", url, path, cookie);
    request.push_str("\r\n");
    exchange(url, request).await
}

/// Logs `who` in with `seed`: the session cookie.
pub async fn login(url: &str, who: &str, seed: &str) -> anyhow::Result<String> {
    let body = format!("name={}&key={}", encode(who), encode(seed));
    let mut request = head("POST", url, "/login", None);
    request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let answer = exchange(url, request).await?;
    anyhow::ensure!(answer.status == 303, "{who}'s login answered {}", answer.status);
    answer.session.with_context(|| format!("{who}'s login set no session"))
}

/// What a listening page did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listened {
    /// `changed` events it was told.
    pub told: u64,
    /// Times it fetched itself again, as the console's script does when told.
    pub fetched: u64,
}

/// Listens to `/live?topic=…` for the page at `page` until `stop`, fetching the page again
/// (as the console's script does: one fetch at a time, the changes told meanwhile answered by
/// the next) each time it is told.
pub async fn listen(
    url: String,
    page: String,
    topic: String,
    cookie: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Listened> {
    let mut stream = TcpStream::connect(host(&url)).await.with_context(|| format!("connecting to {url}"))?;
    let mut request = head("GET", &url, &format!("/live?topic={topic}"), Some(&cookie));
    request.push_str("Accept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let (mut listened, mut buffer) = (Listened::default(), vec![0u8; 16 * 1024]);
    let mut carried = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(listened),
            read = stream.read(&mut buffer) => {
                let read = read?;
                anyhow::ensure!(read > 0, "the console closed the live stream of {topic}");
                carried.extend_from_slice(&buffer[..read]);
                let told = carried.windows(14).filter(|w| w == b"event: changed").count() as u64;
                // Keep a tail that may hold the start of the next event's name.
                let keep = carried.len().saturating_sub(13);
                carried.drain(..keep);
                if told > 0 {
                    listened.told += told;
                    let mut again = head("GET", &url, &page, Some(&cookie));
                    again.push_str("X-Afc-Live: 1\r\n\r\n");
                    let answer = exchange(&url, again).await?;
                    anyhow::ensure!(answer.status == 200, "{page} fetched again answered {}", answer.status);
                    listened.fetched += 1;
                }
            }
        }
    }
}
