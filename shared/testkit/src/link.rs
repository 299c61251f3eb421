//! [`LeafLink`]: a TCP proxy between a city's leaf remote and the hub's leaf port (one per
//! hub node when the hub is a cluster), that a test can cut (to simulate a partition) and
//! restore.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::TestkitError;

/// Loopback address the proxy listens on and connects to.
const LOOPBACK: &str = "127.0.0.1";

/// Back-off after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// TCP proxies `127.0.0.1:<port>` → `127.0.0.1:<upstream>`, one per upstream (a hub node),
/// forwarding bytes both ways.
///
/// [`cut`](LeafLink::cut) closes every proxied connection of every upstream and makes the
/// proxies close new ones at once, until [`restore`](LeafLink::restore): the city is cut off
/// the whole hub, whichever node it was linked to. Dropping the link stops the proxies.
#[derive(Debug)]
pub struct LeafLink {
    proxies: Vec<Proxy>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct Proxy {
    port: u16,
    upstream_port: u16,
    accept_task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    cut: bool,
    connections: Vec<JoinHandle<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent even if a holder panicked: a flag and a list of handles.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LeafLink {
    /// Starts a proxy on a free loopback port towards `127.0.0.1:upstream_port`.
    pub async fn start(upstream_port: u16) -> Result<LeafLink, TestkitError> {
        LeafLink::start_to(&[upstream_port]).await
    }

    /// Starts one proxy per upstream port (e.g. each hub node's leaf port), each on a free
    /// loopback port, all cut and restored together.
    pub async fn start_to(upstream_ports: &[u16]) -> Result<LeafLink, TestkitError> {
        if upstream_ports.is_empty() {
            return Err(TestkitError::InvalidOption { what: "upstream_ports", value: "none".into() });
        }
        let state = Arc::new(Mutex::new(State::default()));
        let mut proxies = Vec::new();
        for &upstream_port in upstream_ports {
            let listener =
                TcpListener::bind((LOOPBACK, 0)).await.map_err(TestkitError::io("binding the leaf link's port"))?;
            let port = listener.local_addr().map_err(TestkitError::io("reading the leaf link's port"))?.port();
            let accept_task = tokio::spawn(accept_loop(listener, upstream_port, Arc::clone(&state)));
            proxies.push(Proxy { port, upstream_port, accept_task });
        }
        Ok(LeafLink { proxies, state })
    }

    /// The port the (first) proxy listens on.
    pub fn port(&self) -> u16 {
        self.proxies[0].port
    }

    /// The port the (first) proxy forwards to.
    pub fn upstream_port(&self) -> u16 {
        self.proxies[0].upstream_port
    }

    /// `nats-leaf://127.0.0.1:<port>` of the (first) proxy, for a leaf remote.
    pub fn leaf_url(&self) -> String {
        format!("nats-leaf://{LOOPBACK}:{}", self.port())
    }

    /// `nats-leaf://127.0.0.1:<port>` of every proxy, in the order of the upstreams: the
    /// `urls` of one leaf remote, which fails over from one to the next.
    pub fn leaf_urls(&self) -> Vec<String> {
        self.proxies.iter().map(|proxy| format!("nats-leaf://{LOOPBACK}:{}", proxy.port)).collect()
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        lock(&self.state).cut
    }

    /// Cuts the link: closes every proxied connection (both sides) and closes new ones as
    /// soon as they are accepted, until [`restore`](LeafLink::restore). When this returns,
    /// every connection's sockets are closed.
    pub async fn cut(&self) {
        let connections = {
            let mut state = lock(&self.state);
            state.cut = true;
            std::mem::take(&mut state.connections)
        };
        for connection in connections {
            connection.abort();
            // Completes once the task, and so its sockets, are dropped. Cancelled is expected.
            let _ = connection.await;
        }
    }

    /// Restores the link: new connections are forwarded again.
    pub fn restore(&self) {
        lock(&self.state).cut = false;
    }
}

impl Drop for LeafLink {
    fn drop(&mut self) {
        for proxy in &self.proxies {
            proxy.accept_task.abort();
        }
        for connection in lock(&self.state).connections.drain(..) {
            connection.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream_port: u16, state: Arc<Mutex<State>>) {
    loop {
        let inbound = match listener.accept().await {
            Ok((inbound, _)) => inbound,
            Err(e) => {
                // E.g. out of file descriptors: keep serving, the peer retries.
                tracing::warn!(error = %e, "leaf link accept failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let mut guard = lock(&state);
        guard.connections.retain(|c| !c.is_finished());
        if guard.cut {
            drop(inbound);
            continue;
        }
        // Spawned under the lock so that `cut` cannot miss it.
        guard.connections.push(tokio::spawn(forward(inbound, upstream_port)));
    }
}

async fn forward(mut inbound: TcpStream, upstream_port: u16) {
    let mut upstream = match TcpStream::connect((LOOPBACK, upstream_port)).await {
        Ok(upstream) => upstream,
        Err(e) => {
            tracing::debug!(error = %e, upstream_port, "leaf link upstream connect failed");
            return;
        }
    };
    if let Err(e) = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await {
        tracing::debug!(error = %e, "leaf link connection ended");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Bound on each step of these tests.
    const STEP_TIMEOUT: Duration = Duration::from_secs(5);

    /// An echo server on a free port; returns its port.
    async fn echo_server() -> u16 {
        let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        port
    }

    async fn roundtrip(stream: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
        stream.write_all(msg).await.unwrap();
        let mut buf = vec![0; msg.len()];
        tokio::time::timeout(STEP_TIMEOUT, stream.read_exact(&mut buf)).await.unwrap().unwrap();
        buf
    }

    /// Reads until EOF or error: what a closed proxy connection gives.
    async fn assert_closed(stream: &mut TcpStream) {
        let mut buf = [0u8; 16];
        let read =
            tokio::time::timeout(STEP_TIMEOUT, stream.read(&mut buf)).await.expect("closed connection answers at once");
        assert!(matches!(read, Ok(0) | Err(_)), "expected EOF or reset, got {read:?}");
    }

    #[tokio::test]
    async fn forwards_cuts_and_restores() {
        let link = LeafLink::start(echo_server().await).await.unwrap();

        let mut a = TcpStream::connect((LOOPBACK, link.port())).await.unwrap();
        assert_eq!(roundtrip(&mut a, b"hello").await, b"hello");
        let mut b = TcpStream::connect((LOOPBACK, link.port())).await.unwrap();
        assert_eq!(roundtrip(&mut b, b"world").await, b"world");

        link.cut().await;
        assert!(link.is_cut());
        assert_closed(&mut a).await;
        assert_closed(&mut b).await;

        // New connections are closed at once while cut.
        let mut c = TcpStream::connect((LOOPBACK, link.port())).await.unwrap();
        assert_closed(&mut c).await;

        link.restore();
        let mut d = TcpStream::connect((LOOPBACK, link.port())).await.unwrap();
        assert_eq!(roundtrip(&mut d, b"again").await, b"again");
    }

    #[tokio::test]
    async fn a_link_to_several_upstreams_is_cut_and_restored_as_one() {
        let link = LeafLink::start_to(&[echo_server().await, echo_server().await]).await.unwrap();
        let ports: Vec<u16> =
            link.leaf_urls().iter().map(|url| url.rsplit(':').next().unwrap().parse().unwrap()).collect();
        assert_eq!(ports.len(), 2);
        let mut streams = Vec::new();
        for port in &ports {
            let mut stream = TcpStream::connect((LOOPBACK, *port)).await.unwrap();
            assert_eq!(roundtrip(&mut stream, b"hello").await, b"hello");
            streams.push(stream);
        }
        link.cut().await;
        for stream in &mut streams {
            assert_closed(stream).await;
        }
        link.restore();
        for port in ports {
            let mut stream = TcpStream::connect((LOOPBACK, port)).await.unwrap();
            assert_eq!(roundtrip(&mut stream, b"again").await, b"again");
        }
    }
}
