//! The server side: an mTLS configuration, an accept loop, and a hyper serve helper.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::identity::{PeerIdentity, PeerInfo};
use super::{Conn, InsecurePlaintext, TLS13_ONLY, TlsMaterial, TransportError, pem, provider};

/// How long a client has to complete the TLS handshake. A connection that sends
/// nothing (or too little) is closed after this, so idle sockets cannot pile up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; past this, [`Incoming`] stops accepting until
/// one finishes (the kernel's backlog holds the rest).
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Handshakes in progress at once from one peer: one IPv4 address, or one IPv6
/// /64 (what one host is usually given). A connection past this is closed at once
/// and counted ([`HandshakeStats::over_limit`]), so one slow or hostile host holds
/// at most this many of the [`MAX_PENDING_HANDSHAKES`] slots, each for at most
/// [`HANDSHAKE_TIMEOUT`]: filling them all takes 16 hosts.
pub const MAX_PENDING_HANDSHAKES_PER_PEER: usize = 64;

/// How long [`serve_http`](super::serve_http) waits for an HTTP/1.1 request's headers once it starts
/// reading them, and for the next request on a kept-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`serve_http`](super::serve_http) keeps a connection with no call in flight (HTTP/1.1 or
/// HTTP/2, or one that sent nothing since its handshake) before closing it
/// gracefully.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long accepting pauses after an error such as running out of file descriptors,
/// rather than spinning on it.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// An mTLS server configuration: this service's certificate, and client
/// certificates required and verified against the CA. TLS 1.3 only.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

pub(super) fn key_error(error: rustls::Error, material: &TlsMaterial) -> TransportError {
    match error {
        rustls::Error::InconsistentKeys(_) => TransportError::KeyMismatch {
            cert: material.cert.origin(),
            key: material.key.origin(),
        },
        other => TransportError::Invalid {
            what: "certificate chain or private key",
            origin: format!("{} and {}", material.cert.origin(), material.key.origin()),
            reason: other.to_string(),
        },
    }
}

impl ServerTls {
    /// Reads `material` and builds the configuration. Offers ALPN `h2` and
    /// `http/1.1`.
    pub fn new(material: &TlsMaterial) -> Result<Self, TransportError> {
        let provider = provider();
        let roots = pem::roots(&material.ca)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .map_err(|e| TransportError::Invalid {
                what: "CA bundle",
                origin: material.ca.origin(),
                reason: e.to_string(),
            })?;
        let certs = pem::certificates(&material.cert, "certificate chain")?;
        let key = pem::private_key(&material.key)?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(TLS13_ONLY)
            .map_err(|e| key_error(e, material))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| key_error(e, material))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The accept loop over `listener`: each accepted TCP connection gets `nodelay`
    /// and a TLS handshake (in its own task, at most [`HANDSHAKE_TIMEOUT`]); refused
    /// handshakes are logged and counted, and only verified connections are yielded.
    pub fn incoming(&self, listener: TcpListener) -> Incoming {
        Incoming::new(listener, Some(self.acceptor.clone()))
    }
}

/// Counts of the handshakes an [`Incoming`] has seen. Cheap to clone; clones share.
#[derive(Debug, Clone, Default)]
pub struct HandshakeStats(Arc<HandshakeCounters>);

#[derive(Debug, Default)]
struct HandshakeCounters {
    accepted: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
    over_limit: AtomicU64,
}

impl HandshakeStats {
    /// Connections that completed the handshake (or plaintext connections accepted).
    pub fn accepted(&self) -> u64 {
        self.0.accepted.load(Ordering::Relaxed)
    }

    /// Handshakes that failed: no client certificate, a certificate from another CA,
    /// a client without TLS 1.3, plaintext sent to a TLS port.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// Handshakes not completed within [`HANDSHAKE_TIMEOUT`].
    pub fn timed_out(&self) -> u64 {
        self.0.timed_out.load(Ordering::Relaxed)
    }

    /// Connections closed unread because their peer already had
    /// [`MAX_PENDING_HANDSHAKES_PER_PEER`] handshakes in progress.
    pub fn over_limit(&self) -> u64 {
        self.0.over_limit.load(Ordering::Relaxed)
    }
}

/// Handshakes in progress per peer ([`peer_key`]).
type PendingTable = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One handshake in progress, counted in its peer's entry until dropped (with its
/// task, however that ends).
struct PendingSlot {
    table: PendingTable,
    peer: IpAddr,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = table.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.remove(&self.peer);
            }
        }
    }
}

/// The peer a connection counts against: its IPv4 address (an IPv4-mapped IPv6
/// address counts as IPv4), or its IPv6 /64.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

/// The accepted connections of a listener, as a `Stream` of
/// `Result<ServerIo, io::Error>` (the error arm is never used: failures are logged,
/// counted and skipped, and the stream ends only when dropped).
///
/// For tonic: `Server::builder().serve_with_incoming(incoming)`; the handlers and
/// layers then find a [`PeerInfo`] in each request's extensions.
pub struct Incoming {
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    handshakes: JoinSet<Option<ServerIo>>,
    pending: PendingTable,
    paused: Option<Pin<Box<tokio::time::Sleep>>>,
    stats: HandshakeStats,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("tls", &self.acceptor.is_some())
            .field("pending_handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl Incoming {
    fn new(listener: TcpListener, acceptor: Option<TlsAcceptor>) -> Self {
        Self {
            listener,
            acceptor,
            handshakes: JoinSet::new(),
            pending: PendingTable::default(),
            paused: None,
            stats: HandshakeStats::default(),
        }
    }

    /// Plaintext connections from `listener`, each with a [`PeerInfo`] that has no
    /// identity. Logged at `WARN`.
    pub fn insecure_plaintext(listener: TcpListener, _opt_in: InsecurePlaintext) -> Self {
        tracing::warn!(
            addr = ?listener.local_addr().ok(),
            "INSECURE: plaintext listener; callers have no verified identity"
        );
        Self::new(listener, None)
    }

    /// The handshake counters (clone before handing the stream to a server).
    pub fn stats(&self) -> HandshakeStats {
        self.stats.clone()
    }

    /// The listener's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handshake slot for a connection from `addr`, unless its peer already
    /// holds [`MAX_PENDING_HANDSHAKES_PER_PEER`].
    fn reserve(&self, addr: SocketAddr) -> Option<PendingSlot> {
        let peer = peer_key(addr.ip());
        let mut table = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let count = table.entry(peer).or_insert(0);
        if *count >= MAX_PENDING_HANDSHAKES_PER_PEER {
            return None;
        }
        *count += 1;
        Some(PendingSlot {
            table: Arc::clone(&self.pending),
            peer,
        })
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    addr: SocketAddr,
    stats: HandshakeStats,
    slot: PendingSlot,
) -> Option<ServerIo> {
    // Counted until the handshake ends, whichever way.
    let _slot = slot;
    let counters = &stats.0;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let identity = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(<[_]>::first)
                .and_then(PeerIdentity::of_verified);
            if identity.is_none() {
                tracing::warn!(
                    peer = %addr,
                    "verified client certificate names no URI or DNS SAN; its calls are anonymous"
                );
            }
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            Some(ServerIo {
                conn: Conn::Tls(Box::new(tls)),
                info: PeerInfo::new(Some(addr), identity, true),
            })
        }
        Ok(Err(error)) => {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %addr, %error, "TLS handshake refused");
            None
        }
        Err(_) => {
            counters.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %addr, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
            None
        }
    }
}

/// Errors that concern one connection only; accepting goes on at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

impl futures_core::Stream for Incoming {
    type Item = Result<ServerIo, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Accept whatever is waiting, starting a handshake for each.
        loop {
            if let Some(pause) = &mut this.paused {
                if pause.as_mut().poll(cx).is_pending() {
                    break;
                }
                this.paused = None;
            }
            if this.handshakes.len() >= MAX_PENDING_HANDSHAKES {
                break;
            }
            match this.listener.poll_accept(cx) {
                Poll::Ready(Ok((tcp, addr))) => {
                    // Small gRPC frames must not wait for Nagle.
                    let _ = tcp.set_nodelay(true);
                    match &this.acceptor {
                        Some(acceptor) => {
                            let Some(slot) = this.reserve(addr) else {
                                // Closed unread: this peer holds enough slots.
                                this.stats.0.over_limit.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(peer = %addr, limit = MAX_PENDING_HANDSHAKES_PER_PEER, "too many pending handshakes from this peer; connection closed");
                                drop(tcp);
                                continue;
                            };
                            this.handshakes.spawn(handshake(
                                acceptor.clone(),
                                tcp,
                                addr,
                                this.stats.clone(),
                                slot,
                            ));
                        }
                        None => {
                            this.stats.0.accepted.fetch_add(1, Ordering::Relaxed);
                            return Poll::Ready(Some(Ok(ServerIo {
                                conn: Conn::Plain(tcp),
                                info: PeerInfo::new(Some(addr), None, false),
                            })));
                        }
                    }
                }
                Poll::Ready(Err(error)) if is_connection_error(&error) => {}
                Poll::Ready(Err(error)) => {
                    tracing::warn!(%error, pause = ?ACCEPT_ERROR_PAUSE, "accept failed; pausing");
                    this.paused = Some(Box::pin(tokio::time::sleep(ACCEPT_ERROR_PAUSE)));
                }
                Poll::Pending => break,
            }
        }
        // Hand out the connections whose handshake completed.
        loop {
            match this.handshakes.poll_join_next(cx) {
                Poll::Ready(Some(Ok(Some(io)))) => return Poll::Ready(Some(Ok(io))),
                Poll::Ready(Some(Ok(None))) => {}
                Poll::Ready(Some(Err(error))) => {
                    tracing::warn!(%error, "TLS handshake task failed");
                }
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// One accepted connection: TLS (verified) or, through [`InsecurePlaintext`], plain
/// TCP. Its [`PeerInfo`] is tonic's `ConnectInfo` for it.
pub struct ServerIo {
    conn: Conn<TlsStream<TcpStream>>,
    info: PeerInfo,
}

impl std::fmt::Debug for ServerIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIo")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl ServerIo {
    /// What the transport established about the peer.
    pub fn peer_info(&self) -> &PeerInfo {
        &self.info
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().conn).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().conn).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().conn).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.conn.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().conn).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().conn).poll_shutdown(cx)
    }
}

#[cfg(feature = "tonic")]
impl tonic::transport::server::Connected for ServerIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}
