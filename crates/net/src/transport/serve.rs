//! Serving HTTP over the transport's connections with hyper (cargo feature `hyper`):
//! [`serve_http`] and its time limits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::identity::PeerInfo;
use super::server::{HEADER_READ_TIMEOUT, IDLE_TIMEOUT, Incoming};

/// How often [`serve_http`] pings an HTTP/2 client, and how long it waits for the
/// answer before closing the connection: a peer that vanished does not hold its
/// calls open.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

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
                info: io.peer_info().clone(),
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
