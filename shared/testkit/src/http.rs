//! A minimal HTTP/1.0 GET over a plain TCP stream, for the server's monitoring endpoints
//! and an afc node's own (`/healthz`, `/readyz`, `/metrics`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TestkitError;

/// Bound on one monitoring request (connect, send, read all).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound on a monitoring response's size.
const MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;

/// An HTTP response: status code and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// `GET http://127.0.0.1:{port}{path}` with HTTP/1.0 (the server closes after answering),
/// whatever its status.
pub async fn get(port: u16, path: &str) -> Result<Response, TestkitError> {
    let url = format!("http://127.0.0.1:{port}{path}");
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange(port, path)).await {
        Ok(Ok(raw)) => parse(&raw).map_err(|detail| TestkitError::Monitoring { url, detail }),
        Ok(Err(e)) => Err(TestkitError::Monitoring { url, detail: e.to_string() }),
        Err(_) => {
            Err(TestkitError::Monitoring { url, detail: format!("no complete answer within {REQUEST_TIMEOUT:?}") })
        }
    }
}

async fn exchange(port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    (&mut stream).take(MAX_RESPONSE_BYTES).read_to_end(&mut raw).await?;
    Ok(raw)
}

/// `GET http://127.0.0.1:{port}{path}` of a server's monitoring port and return the body of
/// a 200 answer (e.g. `/leafz`, `/healthz`), for servers the kit did not start itself.
pub async fn monitor_get(port: u16, path: &str) -> Result<String, TestkitError> {
    let response = get(port, path).await?;
    if response.status == 200 {
        Ok(response.body)
    } else {
        Err(TestkitError::Monitoring {
            url: format!("http://127.0.0.1:{port}{path}"),
            detail: format!("HTTP {}: {}", response.status, response.body.trim()),
        })
    }
}

fn parse(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("response has no header end")?;
    let status_line = head.lines().next().ok_or("empty response")?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    Ok(Response { status, body: body.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\":\"ok\"}").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "{\"status\":\"ok\"}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"nonsense").is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
