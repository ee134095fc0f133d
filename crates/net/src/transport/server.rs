//! The server side: an mTLS configuration, an accept loop, and a hyper serve helper.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use std::time::Instant;

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

/// How long [`serve_http`] waits for an HTTP/1.1 request's headers once it starts
/// reading them, and for the next request on a kept-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`serve_http`] keeps a connection with no call in flight (HTTP/1.1 or
/// HTTP/2, or one that sent nothing since its handshake) before closing it
/// gracefully.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often [`serve_http`] pings an HTTP/2 client, and how long it waits for the
/// answer before closing the connection: a peer that vanished does not hold its
/// calls open.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

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

impl tonic::transport::server::Connected for ServerIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

/// Inserts the connection's [`PeerInfo`] into each request, as tonic does with its
/// `ConnectInfo`.
#[derive(Clone)]
struct WithPeerInfo<S> {
    inner: S,
    info: PeerInfo,
}

impl<S, B> tower_service::Service<http::Request<B>> for WithPeerInfo<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.info.clone());
        self.inner.call(req)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The time limits [`serve_http_with`] puts on a connection. Lower them to shed
/// slow clients sooner; [`serve_http`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpTimeouts {
    /// [`HEADER_READ_TIMEOUT`] by default.
    pub header_read: Duration,
    /// [`IDLE_TIMEOUT`] by default.
    pub idle: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            header_read: HEADER_READ_TIMEOUT,
            idle: IDLE_TIMEOUT,
        }
    }
}

impl HttpTimeouts {
    /// The given limits.
    pub fn new(header_read: Duration, idle: Duration) -> Self {
        Self { header_read, idle }
    }
}

/// Serves a tower `service` (a hyper or axum service, wrapped in a
/// [`ServerLayer`](crate::layer::ServerLayer) or not) on every connection of
/// `incoming`, HTTP/1.1 or HTTP/2 as the client speaks, with each request's
/// [`PeerInfo`] in its extensions. When `shutdown` completes, accepting stops and the
/// open connections are closed gracefully (in-flight requests finish); then it
/// returns. Slow and idle clients are bounded by [`HttpTimeouts::default`]: an
/// HTTP/1.1 request's headers must arrive within [`HEADER_READ_TIMEOUT`], and a
/// connection with no call in flight for [`IDLE_TIMEOUT`] is closed.
pub async fn serve_http<S, B>(
    incoming: Incoming,
    service: S,
    shutdown: impl Future<Output = ()> + Send,
) where
    S: tower_service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_http_with(incoming, service, shutdown, HttpTimeouts::default()).await;
}

/// [`serve_http`] with other [`HttpTimeouts`].
pub async fn serve_http_with<S, B>(
    incoming: Incoming,
    service: S,
    shutdown: impl Future<Output = ()> + Send,
    timeouts: HttpTimeouts,
) where
    S: tower_service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    let mut incoming = std::pin::pin!(incoming);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Finished connections leave the set as they go.
        while connections.try_join_next().is_some() {}
        let next =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(incoming.as_mut(), cx));
        let io = tokio::select! {
            io = next => io,
            () = &mut shutdown => break,
        };
        let io = match io {
            Some(Ok(io)) => io,
            Some(Err(error)) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
            None => break,
        };
        let activity = Arc::new(Activity::new());
        let service = TowerToHyperService::new(Tracked {
            inner: WithPeerInfo {
                inner: service.clone(),
                info: io.info.clone(),
            },
            activity: Arc::clone(&activity),
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let mut stopped = stopped.clone();
        let idle = timeouts.idle;
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut closing = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(error = %error, "connection ended with an error");
                        }
                        return;
                    }
                    _ = stopped.wait_for(|stop| *stop), if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = activity.idle_for(idle), if !closing => {
                        tracing::debug!(?idle, "closing a connection with no call in flight");
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        });
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// Calls in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    since: Instant,
    /// Milliseconds from `since` to the end of the last call (or the start).
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            since: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Completes once no call has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let quiet = Duration::from_millis(
                self.now_ms()
                    .saturating_sub(self.last.load(Ordering::Relaxed)),
            );
            let busy = self.in_flight.load(Ordering::Relaxed) > 0;
            if !busy && quiet >= idle {
                return;
            }
            let wait = if busy { idle } else { idle - quiet };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

/// One call in flight, from its request to the end (or drop) of its response body.
struct CallGuard(Arc<Activity>);

impl CallGuard {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.last.store(self.0.now_ms(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a connection's calls in flight, for its idle timeout.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Tracked<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<TrackedBody<R>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        TrackedFuture {
            guard: Some(CallGuard::new(&self.activity)),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// A tracked call's response future: hands its guard to the response body.
    struct TrackedFuture<F> {
        #[pin]
        inner: F,
        guard: Option<CallGuard>,
    }
}

impl<F, R, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<TrackedBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let guard = this.guard.take();
        Poll::Ready(result.map(|response| response.map(|body| TrackedBody { body, guard })))
    }
}

pin_project_lite::pin_project! {
    /// A tracked call's response body: the call is in flight until it ends.
    struct TrackedBody<B> {
        #[pin]
        body: B,
        guard: Option<CallGuard>,
    }
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.body.poll_frame(cx));
        if frame.is_none() {
            *this.guard = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
