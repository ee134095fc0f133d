//! Forwarding: what the chain let through goes to the upstream, and the upstream's
//! answer comes back, headers, streamed bodies and trailers untouched.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade::layer::{is_grpc_content_type, strip_untrusted_headers};
use palisade::transport::PeerInfo;

use super::State;

/// How long connecting to the upstream may take before the call fails with
/// `UNAVAILABLE` (gRPC) or 502.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The header that carries the verified caller to the upstream, on every request
/// (empty when the caller has none). The server layer removes every
/// `x-palisade-*` header that came from the network (and `_` spellings of them),
/// the proxy removes them from request trailers, and plugins cannot write them, so
/// this one is the proxy's alone.
pub(super) const PEER_IDENTITY: HeaderName = HeaderName::from_static("x-palisade-peer-identity");

/// The body of a proxied response: the upstream's, streamed, or one the proxy made.
pub(super) type ProxyBody = Either<Incoming, Full<Bytes>>;

/// The innermost service: forwards a request to the upstream.
#[derive(Clone)]
pub(super) struct Proxy {
    /// gRPC: HTTP/2 with prior knowledge (the upstream is plaintext, so no ALPN).
    h2: Client<HttpConnector, Outbound>,
    /// Everything else: HTTP/1.1, which every HTTP server speaks.
    h1: Client<HttpConnector, Outbound>,
    scheme: Scheme,
    authority: Authority,
    state: Arc<State>,
}

impl Proxy {
    pub(super) fn new(upstream: &Uri, state: Arc<State>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let h2 = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector.clone());
        let h1 = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            h2,
            h1,
            scheme: upstream.scheme().cloned().unwrap_or(Scheme::HTTP),
            // The config refuses an upstream without a host.
            authority: upstream
                .authority()
                .cloned()
                .unwrap_or_else(|| Authority::from_static("127.0.0.1")),
            state,
        }
    }
}

impl tower_service::Service<Request<Incoming>> for Proxy {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let proxy = self.clone();
        Box::pin(async move { Ok(proxy.forward(req).await) })
    }
}

/// The layer's test, so that what was judged as gRPC goes over HTTP/2.
fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| is_grpc_content_type(v.as_bytes()))
}

/// A request body on its way to the upstream: the client's, frame by frame, with
/// the headers the layer strips from requests
/// ([`strip_untrusted_headers`]) removed from its trailers too (an HTTP/2 request
/// trailer `x-palisade-peer-identity` would otherwise reach the upstream).
pub(super) struct Outbound(Incoming);

impl Body for Outbound {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.0).poll_frame(cx));
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| match frame.into_trailers() {
                Ok(mut trailers) => {
                    strip_untrusted_headers(&mut trailers);
                    Frame::trailers(trailers)
                }
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1), which describe one connection
/// and must not be forwarded; `te: trailers` stays (gRPC needs it).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    let te_trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    headers.remove(header::TE);
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

impl Proxy {
    async fn forward(self, req: Request<Incoming>) -> Response<ProxyBody> {
        let grpc = is_grpc(req.headers());
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = match Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
        {
            Ok(uri) => uri,
            Err(error) => {
                tracing::warn!(%error, "cannot build the upstream URI");
                return failure(grpc, StatusCode::BAD_REQUEST, "bad request URI");
            }
        };
        strip_hop_by_hop(&mut parts.headers);
        // The client sets `host` (HTTP/1.1) or `:authority` (HTTP/2) from the URI.
        parts.headers.remove(header::HOST);
        // Always set, empty for a caller without an identity: the upstream never
        // sees a request without it, so it never falls back on another header
        // (`x_palisade_peer_identity`, which the layer drops anyway).
        let identity = parts
            .extensions
            .get::<PeerInfo>()
            .and_then(PeerInfo::identity)
            .and_then(|id| HeaderValue::from_str(id.as_str()).ok())
            .unwrap_or_else(|| HeaderValue::from_static(""));
        parts.headers.insert(PEER_IDENTITY, identity);
        let client = if grpc {
            parts.version = Version::HTTP_2;
            &self.h2
        } else {
            parts.version = Version::HTTP_11;
            &self.h1
        };
        match client
            .request(Request::from_parts(parts, Outbound(body)))
            .await
        {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Either::Left(body))
            }
            Err(error) => {
                self.state
                    .counters
                    .upstream_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(upstream = %self.authority, error = %error, "upstream call failed");
                failure(grpc, StatusCode::BAD_GATEWAY, "upstream unavailable")
            }
        }
    }
}

/// A response the proxy makes itself: a trailers-only gRPC `UNAVAILABLE` (14), or
/// `status` for plain HTTP.
fn failure(grpc: bool, status: StatusCode, message: &'static str) -> Response<ProxyBody> {
    let (status, content_type, body) = if grpc {
        (StatusCode::OK, "application/grpc", Bytes::new())
    } else {
        (
            status,
            "text/plain; charset=utf-8",
            Bytes::from_static(message.as_bytes()),
        )
    };
    let mut response = Response::new(Either::Right(Full::new(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if grpc {
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        headers.insert("grpc-message", HeaderValue::from_static(message));
    }
    response
}
