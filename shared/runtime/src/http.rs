//! A node's HTTP endpoints, for its supervisor and its operators' monitoring:
//!
//! - `/healthz`: `200 ok` while the process runs;
//! - `/readyz`: `200 ready` when every hosted service runs, is connected to NATS, holds each
//!   of its consumers and gets its outbox out; else `503` and one line per thing not ready,
//!   naming its service;
//! - `/metrics`: the services' counters in the Prometheus text format (`crate::metrics`).
//!
//! Plain text, and names and counts only: nothing a victim or a member of staff wrote. At
//! most [`HTTP_CONNECTIONS`] connections are served at once; a connection beyond waits to
//! be accepted. A connection that reads and writes nothing for [`HTTP_IDLE_TIMEOUT`] is closed,
//! so idle or stalled clients cannot hold every slot. [`serve_router`] serves any router so
//! (the staff console, with bounds of its own).

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::{HTTP_CONNECTIONS, HTTP_IDLE_TIMEOUT};
use crate::vitals::NodeVitals;
use crate::{Shutdown, stopped};

const TEXT: &str = "text/plain; charset=utf-8";

/// The endpoints over `vitals`.
pub(crate) fn router(vitals: NodeVitals) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { ([(header::CONTENT_TYPE, TEXT)], "ok\n") }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(vitals)
}

async fn readyz(State(vitals): State<NodeVitals>) -> impl IntoResponse {
    let lines = vitals.not_ready().await;
    if lines.is_empty() {
        (StatusCode::OK, [(header::CONTENT_TYPE, TEXT)], "ready\n".to_owned())
    } else {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, TEXT)], body)
    }
}

async fn metrics(State(vitals): State<NodeVitals>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], crate::metrics::render(&vitals).await)
}

/// Serves the endpoints on `listener` until `shutdown`.
pub(crate) async fn serve(listener: TcpListener, vitals: NodeVitals, shutdown: Shutdown) -> io::Result<()> {
    let bounds = Bounds { connections: HTTP_CONNECTIONS, idle: HTTP_IDLE_TIMEOUT };
    serve_router(listener, router(vitals), bounds, shutdown).await
}

/// How many connections a server holds at once, and how long one may read and write nothing.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub connections: usize,
    pub idle: std::time::Duration,
}

/// Serves `router` on `listener` within `bounds` until `shutdown` (the node's endpoints; the
/// staff console).
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    bounds: Bounds,
    mut shutdown: Shutdown,
) -> io::Result<()> {
    let listener = Bounded { listener, slots: Arc::new(Semaphore::new(bounds.connections)), idle: bounds.idle };
    axum::serve(listener, router).with_graceful_shutdown(async move { stopped(&mut shutdown).await }).await
}

/// Serves `router` over TLS (`tls`: the server's certificate and key) on `listener`, within
/// `bounds`, until `shutdown`. Each handshake runs on a task of its own, bounded by
/// [`TLS_HANDSHAKE_TIMEOUT`] and holding its connection's slot, so a client that stalls in
/// its handshake neither holds up the others nor keeps a slot.
pub async fn serve_router_tls(
    listener: TcpListener,
    tls: TlsConfig,
    router: axum::Router,
    bounds: Bounds,
    mut shutdown: Shutdown,
) -> io::Result<()> {
    let address = listener.local_addr()?;
    let (ready, handshaken) = tokio::sync::mpsc::channel(TLS_HANDSHAKES_QUEUED);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(bounds.connections));
    let accepting = tokio::spawn(accept_tls(listener, acceptor, slots, bounds.idle, ready));
    let listener = TlsBounded { handshaken, address };
    let served =
        axum::serve(listener, router).with_graceful_shutdown(async move { stopped(&mut shutdown).await }).await;
    accepting.abort();
    served
}

/// A TLS server's settings: its certificate and key ([`tls_config`]).
pub type TlsConfig = Arc<tokio_rustls::rustls::ServerConfig>;

/// How long a TLS handshake may take before its connection is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Handshaken connections waiting to be served (each holds its slot meanwhile).
const TLS_HANDSHAKES_QUEUED: usize = 64;

/// Accepts connections while a slot is free, and hands each to `ready` once its handshake is
/// done (a failed or slow one is dropped, and its slot with it).
async fn accept_tls(
    mut listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    slots: Arc<Semaphore>,
    idle: std::time::Duration,
    ready: tokio::sync::mpsc::Sender<(Connection<tokio_rustls::server::TlsStream<TcpStream>>, SocketAddr)>,
) {
    loop {
        let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        let (stream, peer) = axum::serve::Listener::accept(&mut listener).await;
        let (acceptor, handing) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let idle_timer = Box::pin(tokio::time::sleep(idle));
                    let connection = Connection { stream, idle: idle_timer, timeout: idle, _slot: slot };
                    let _ = handing.send((connection, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake took too long"),
            }
        });
        if ready.is_closed() {
            return;
        }
    }
}

/// The handshaken connections of [`serve_router_tls`].
struct TlsBounded {
    handshaken: tokio::sync::mpsc::Receiver<(Connection<tokio_rustls::server::TlsStream<TcpStream>>, SocketAddr)>,
    address: SocketAddr,
}

impl axum::serve::Listener for TlsBounded {
    type Io = Connection<tokio_rustls::server::TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        match self.handshaken.recv().await {
            Some(connection) => connection,
            // The accepting task ended (only with the server): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.address)
    }
}

/// The server side of TLS from PEM files: the certificate chain (the server's first) and its
/// private key.
pub fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> io::Result<TlsConfig> {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", what.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, &e))?;
    if chain.is_empty() {
        return Err(invalid(cert, &"no certificate in it"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(cert, &e))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| invalid(key, &e))?;
    Ok(Arc::new(config))
}

/// A listener that holds a slot per open connection.
struct Bounded {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    idle: std::time::Duration,
}

impl axum::serve::Listener for Bounded {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        let slot = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        let (stream, peer) = axum::serve::Listener::accept(&mut self.listener).await;
        let idle = Box::pin(tokio::time::sleep(self.idle));
        (Connection { stream, idle, timeout: self.idle, _slot: slot }, peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection and its slot, freed when the connection closes.
struct Connection<S = TcpStream> {
    stream: S,
    /// When the connection is closed unless it reads or writes something first.
    idle: Pin<Box<tokio::time::Sleep>>,
    timeout: std::time::Duration,
    _slot: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Connection<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(read) => {
                self.moved();
                Poll::Ready(read)
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S> Connection<S> {
    /// Something was read or written: the connection is not idle.
    fn moved(&mut self) {
        let deadline = tokio::time::Instant::now() + self.timeout;
        self.idle.as_mut().reset(deadline);
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Connection<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt as _;

    use super::*;

    #[test]
    fn a_certificate_or_key_that_cannot_be_used_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("console.crt"), dir.path().join("console.key"));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let error = tls_config(&cert, &key).unwrap_err().to_string();
        assert!(error.contains("console.crt") && error.contains("no certificate"), "{error}");
        let error = tls_config(&dir.path().join("missing.crt"), &key).unwrap_err().to_string();
        assert!(error.contains("missing.crt"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_reads_nothing_is_closed_after_the_idle_timeout_and_frees_its_slot() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let mut bounded = Bounded { listener, slots: Arc::new(Semaphore::new(1)), idle: HTTP_IDLE_TIMEOUT };
        let (mut connection, _) = axum::serve::Listener::accept(&mut bounded).await;
        assert_eq!(bounded.slots.available_permits(), 0);
        let started = tokio::time::Instant::now();
        let read = connection.read(&mut [0u8; 16]).await;
        assert_eq!(read.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), HTTP_IDLE_TIMEOUT);
        drop(connection);
        assert_eq!(bounded.slots.available_permits(), 1, "the slot is free again");
    }
}
