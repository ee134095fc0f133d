//! Stage 8, **layer**: the [`Chain`] around real calls, as tower layers for tonic
//! and for plain HTTP services (hyper, axum) alike.
//!
//! ```text
//!  network ─▶ transport (mTLS: PeerInfo) ─▶ ServerLayer ─▶ handler
//!                                           │ strip x-palisade-*
//!                                           │ on_request (in order)  ─▶ reject / respond here
//!                                           │ on_response (reverse) on the response headers
//!  caller ─▶ ClientLayer ─▶ Channel ─▶ PinnedConnector (mTLS, pinned identity) ─▶ network
//! ```
//!
//! [`ServerLayer`] wraps a server's service (tonic's `Server::builder().layer(..)`, or
//! any `Service<http::Request<B>>`); [`ClientLayer`] wraps a client (a tonic
//! `Channel`, a hyper-util client). Both run the chain on the request's headers
//! before the inner service sees the request, and on the response's headers before
//! the caller sees the response. Metadata is the request's or response's own
//! `HeaderMap`, changed in place: changes reach the handler (or upstream), and
//! response changes reach the caller. Bodies pass through frame by frame, never
//! buffered; plugins never see them.
//!
//! # What plugins see
//!
//! | | gRPC ([`is_grpc_content_type`]) | plain HTTP (any other content type) |
//! |---|---|---|
//! | `service` | `pkg.Service` from the path `/pkg.Service/Method`, exactly as sent (the whole dotted name, case kept) | server side: the name given to [`ServerLayer::http_service`] (`orders.internal`; the sidecar's `[serve] service`), else empty, never the client's `Host`; client side: that name, else the host of the authority the request goes to |
//! | `method` | `Method` | the HTTP method and the path, without query: `GET/orders/42` (so rbac rules read `orders.internal/GET/orders/*`) |
//! | `authority` | `:authority` (or `Host`): on the server side, whatever the client sent | the same |
//! | `deadline` | from `grpc-timeout` | from `grpc-timeout`, if sent |
//! | `peer-identity` | server side: the client's verified identity ([`PeerInfo`](crate::transport::PeerInfo) in the request's extensions, put there by the [`transport`](crate::transport)); client side: the server identity pinned for the channel ([`ClientLayer::server_identity`]) | the same |
//! | response `status` | `grpc-status` of a trailers-only response; for a response with messages, `Ok` on its headers, or its final `grpc-status` on its trailers with [`ResponseHooks::FinalStatus`] | the HTTP status mapped to a code (below) |
//!
//! The protocol is the request's media type, parsed: `application/grpc` (or
//! `grpc-web`, `grpc-web-text`) in any case, with an optional `+proto`/`+json`
//! suffix and parameters. Any other content type is plain HTTP, whatever the path
//! looks like: `POST /orders.v1.Orders/DeleteOrder` with `application/json` (as the
//! Connect protocol sends it) is judged as `orders.internal/POST/orders.v1.Orders/DeleteOrder`,
//! so an upstream that serves a method over both protocols needs rules for both.
//!
//! gRPC's `service` is the full name in the path, matched exactly by the plugins:
//! `billing.v1.Orders` and `orders.v1.Orders` are two services. An upstream that
//! dispatches on less than the full name (the last dotted part, as go-micro does,
//! or without case) would serve `orders.v1.Orders`'s handler to a call judged as
//! `billing.v1.Orders`: write rules on full names only, never a package prefix
//! such as `billing.v1.*`, for such an upstream.
//!
//! # The request judged is the request forwarded
//!
//! Before any plugin runs, on both sides:
//!
//! - **The path must be canonical**, or the call is refused with `InvalidArgument`
//!   (HTTP 400, gRPC status 3) and a message saying which rule it broke: it starts
//!   with `/`; it has no dot segment (`.`, `..`), no empty segment (`//`; a
//!   trailing `/` is allowed), no backslash and no `;`; its percent-escapes encode
//!   only bytes that need escaping (not `.`, `/`, `\`, `;`, `%`, a control
//!   character or an unreserved character such as `A` or `~`), and are well formed;
//!   a gRPC path is exactly `/package.Service/Method`. Nothing is rewritten, so the
//!   path plugins judge is byte for byte the path the inner service (or the
//!   upstream) receives, and an upstream that normalises or decodes it gets the
//!   same path back. The query is passed on as it is and not judged. Refused, so
//!   also `OPTIONS *` and `CONNECT`'s authority form. Not covered: an upstream
//!   that matches paths without case.
//!
//! On the server side, also before any plugin runs:
//!
//! - **Headers that claim an identity are removed**
//!   ([`is_untrusted_identity_header`]): every `x-palisade-*` (the host owns that
//!   prefix), `x-forwarded-client-cert`, `forwarded` and `x-spiffe-id` (the
//!   direct peer is the client, so these are its own claims), and any name that
//!   reads as one of those once `_` is taken for `-` (`x_palisade_peer_identity`:
//!   WSGI, CGI and some ASGI servers fold `_` into `-`). The identity therefore
//!   cannot be claimed by a header: it comes from the TLS connection only, and a
//!   layer used without the transport sees no identity at all. On the client side
//!   the same names are removed from responses and their trailers. The layer
//!   cannot reach request trailers without changing the request's body type:
//!   handlers must not read an identity from them (the sidecar proxy strips them
//!   as they stream, with [`strip_untrusted_headers`]).
//! - **Hop-by-hop headers named by `Connection`** are removed, and only `close`,
//!   `keep-alive` and `upgrade` stay in it, so that a client's
//!   `Connection: x-user-role` cannot have a later hop remove a header a plugin set.
//!
//! # Decisions on the wire
//!
//! - `Continue`: the call goes on, with the plugins' metadata changes.
//! - `Reject { code, message }`: gRPC gets a trailers-only response (HTTP 200,
//!   `content-type: application/grpc`, `grpc-status`, `grpc-message`
//!   percent-encoded); plain HTTP gets the status below with the message as
//!   `text/plain`. A response hook's rejection replaces the response (its body is
//!   dropped unread). A plugin that fails closed rejects with `Unavailable`.
//! - `Respond(reply)`: the plugin's reply. gRPC: the body as one length-prefixed
//!   message and `grpc-status` in trailers (trailers-only when the body is empty);
//!   HTTP: the code's status and the body as is. Reserved or invalid reply headers
//!   are dropped.
//!
//! On the server side, [`ErrorDetail`] decides who reads the messages: by default
//! only callers with a verified identity; others get the code alone.
//!
//! | code | HTTP | | code | HTTP |
//! |---|---|---|---|---|
//! | `Ok` | 200 | | `PermissionDenied` | 403 |
//! | `Cancelled` | 499 | | `ResourceExhausted` | 429 |
//! | `Unknown`, `Internal`, `DataLoss` | 500 | | `FailedPrecondition`, `OutOfRange` | 400 |
//! | `InvalidArgument` | 400 | | `Aborted`, `AlreadyExists` | 409 |
//! | `DeadlineExceeded` | 504 | | `Unimplemented` | 501 |
//! | `NotFound` | 404 | | `Unavailable` | 503 |
//! | `Unauthenticated` | 401 | | | |
//!
//! Response statuses map back the same way for response hooks (any 1xx–3xx is `Ok`,
//! other 4xx `FailedPrecondition`, other 5xx `Internal`); a gRPC response with an
//! HTTP status other than 200 maps as the gRPC spec says (404 → `Unimplemented`,
//! 503 → `Unavailable`, ...).
//!
//! # Calls no plugin has work for
//!
//! A call still gets the checks above, but when no plugin of the chain runs a hook
//! on it (the chain is empty, or each plugin's [routes](palisade_types::Routes)
//! leave it out, or its hooks are off or it said they are unimplemented), nothing
//! else is done and nothing is allocated: the [`LayerFuture`] is the inner
//! service's future. When no plugin runs a response hook on it, the response is
//! passed on as it is (no walk, no trailer hook). Routes are matched on the
//! canonical path only, so a path cannot be spelled to leave a route.
//!
//! # Streaming
//!
//! Hooks run once per call in each direction: on the request headers, and on the
//! response headers or, with [`ResponseHooks::FinalStatus`], on the trailers of a
//! gRPC response with messages (where its final status is). Messages pass through
//! untouched: the contract has no message-level hook yet.

mod body;
mod rescue;
mod service;

use std::sync::{Arc, PoisonError, RwLock};

pub use self::body::LayerBody;
pub use self::rescue::{is_grpc_content_type, is_untrusted_identity_header};
pub use self::service::{ClientService, LayerFuture, ServerService};
use crate::transport::PeerIdentity;
use palisade_host::Chain;
use palisade_types::Name;

/// Removes from `headers` every name [`is_untrusted_identity_header`] matches, as
/// the server layer does to each request's headers before any plugin runs. For
/// what the layer cannot reach, such as a request's trailers (the sidecar proxy
/// strips them with this as they stream).
pub fn strip_untrusted_headers(headers: &mut http::HeaderMap) {
    rescue::strip_reserved(headers);
}

/// When response hooks run on a gRPC response that streams (one with messages, whose
/// status comes in its trailers). Either way they run once per call; trailers-only
/// gRPC responses and plain HTTP responses have their status in their headers and
/// are hooked there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseHooks {
    /// On the response headers, before any message is sent: changes go into the
    /// headers, a rejection replaces the whole response, and the status the hooks see
    /// is `Ok` (the call has not failed so far). The default.
    #[default]
    Headers,
    /// On the trailers, when the final status is known: the hooks see that status
    /// and the trailers as metadata; changes go into the trailers (tonic's unary
    /// clients merge them into the response metadata), and a rejection or a reply
    /// replaces the trailers' `grpc-status` (messages already sent stay sent). A
    /// response that ends without trailers is not hooked. Costs one allocation per
    /// streamed call.
    FinalStatus,
}

/// Who may read the message of a rejection (server side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorDetail {
    /// Callers with a verified identity get the message; others only the code (with
    /// a generic message), so that unauthenticated probes learn nothing about the
    /// policy. The default.
    #[default]
    VerifiedPeers,
    /// Every caller gets the message.
    Always,
}

/// A chain that can be replaced while calls run, for reloading a configuration: each
/// call takes the chain current when it starts and keeps it to its end (request and
/// response hooks alike), so in-flight calls finish on the old set. Cheap to clone;
/// clones share. Give one to [`ServerLayer::shared`] or [`ClientLayer::shared`].
#[derive(Clone, Default)]
pub struct SharedChain(Arc<RwLock<Arc<Chain>>>);

impl SharedChain {
    /// Starts with `chain`.
    pub fn new(chain: Chain) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(chain))))
    }

    /// The chain new calls get.
    pub fn current(&self) -> Arc<Chain> {
        // No writer can panic while holding the lock (it only assigns), so a
        // poisoned lock still holds a whole chain.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes `chain` the one new calls get, returning the previous one (calls
    /// already running keep it until they end).
    pub fn replace(&self, chain: Chain) -> Arc<Chain> {
        let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, Arc::new(chain))
    }
}

impl std::fmt::Debug for SharedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedChain").field(&self.current()).finish()
    }
}

#[derive(Clone)]
struct Shared {
    chain: SharedChain,
    detail: ErrorDetail,
    response_hooks: ResponseHooks,
    server_identity: Option<Name>,
    /// The `service` of plain HTTP calls ([`ServerLayer::http_service`]).
    http_service: Option<Name>,
}

impl Shared {
    fn new(chain: SharedChain, detail: ErrorDetail) -> Arc<Self> {
        Arc::new(Self {
            chain,
            detail,
            response_hooks: ResponseHooks::default(),
            server_identity: None,
            http_service: None,
        })
    }

    /// A copy of `self` changed by `change`.
    fn with(self: &Arc<Self>, change: impl FnOnce(&mut Self)) -> Arc<Self> {
        let mut shared = Self::clone(self);
        change(&mut shared);
        Arc::new(shared)
    }
}

/// Runs a [`Chain`]'s server hooks around a service: a tower `Layer`.
///
/// ```no_run
/// # use palisade_host::Chain;
/// # fn demo(chain: Chain) {
/// use palisade_net::layer::ServerLayer;
/// let router = tonic::transport::Server::builder().layer(ServerLayer::new(chain));
/// # let _ = router; }
/// # let _ = demo;
/// ```
#[derive(Clone)]
pub struct ServerLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerLayer")
            .field("chain", &self.shared.chain)
            .field("detail", &self.shared.detail)
            .field("response_hooks", &self.shared.response_hooks)
            .finish()
    }
}

impl ServerLayer {
    /// A layer running `chain`'s hooks, with [`ErrorDetail::VerifiedPeers`].
    pub fn new(chain: Chain) -> Self {
        Self::shared(SharedChain::new(chain))
    }

    /// A layer running whatever chain `chain` holds when each call starts.
    pub fn shared(chain: SharedChain) -> Self {
        Self {
            shared: Shared::new(chain, ErrorDetail::default()),
        }
    }

    /// Who reads rejection messages.
    pub fn error_detail(self, detail: ErrorDetail) -> Self {
        Self {
            shared: self.shared.with(|s| s.detail = detail),
        }
    }

    /// When response hooks run on streamed gRPC responses.
    pub fn response_hooks(self, when: ResponseHooks) -> Self {
        Self {
            shared: self.shared.with(|s| s.response_hooks = when),
        }
    }

    /// The `service` plugins see for plain HTTP calls: the name of the service this
    /// layer protects (`orders.internal`), so that rules read
    /// `orders.internal/GET/orders/*`. Without it, plain HTTP calls have an empty
    /// service. Never taken from the request: its `Host`/`:authority` is the
    /// client's choice (plugins still read it as `authority`).
    pub fn http_service(self, service: impl Into<String>) -> Self {
        let service = Name::from(service.into());
        Self {
            shared: self.shared.with(|s| s.http_service = Some(service)),
        }
    }

    /// The chain, replaceable while calls run.
    pub fn chain(&self) -> &SharedChain {
        &self.shared.chain
    }
}

impl<S> tower_layer::Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerService::new(inner, Arc::clone(&self.shared))
    }
}

/// Runs a [`Chain`]'s client hooks around a client (a tonic `Channel`, a hyper-util
/// client): a tower `Layer`. Rejections are answered locally, as the server would
/// have: the request is never sent.
///
/// ```no_run
/// # use palisade_host::Chain;
/// # async fn demo(chain: Chain, tls: palisade_net::transport::ClientTls) -> Result<(), Box<dyn std::error::Error>> {
/// use palisade_net::layer::ClientLayer;
/// use tower_layer::Layer;
/// let connector = tls.connector("orders.v1.Orders")?;
/// let layer = ClientLayer::new(chain).server_identity(connector.identity());
/// let channel = tonic::transport::Endpoint::from_static("https://10.0.0.7:50051")
///     .connect_with_connector(connector)
///     .await?;
/// let channel = layer.layer(channel); // give this to the generated client's `new`
/// # let _ = channel; Ok(()) }
/// # let _ = demo;
/// ```
#[derive(Clone)]
pub struct ClientLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ClientLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLayer")
            .field("chain", &self.shared.chain)
            .field("server_identity", &self.shared.server_identity)
            .field("response_hooks", &self.shared.response_hooks)
            .finish()
    }
}

impl ClientLayer {
    /// A layer running `chain`'s client hooks. Plugins see no peer identity until
    /// [`server_identity`](Self::server_identity) is set.
    pub fn new(chain: Chain) -> Self {
        Self::shared(SharedChain::new(chain))
    }

    /// A layer running whatever chain `chain` holds when each call starts.
    pub fn shared(chain: SharedChain) -> Self {
        Self {
            shared: Shared::new(chain, ErrorDetail::Always),
        }
    }

    /// When response hooks run on streamed gRPC responses.
    pub fn response_hooks(self, when: ResponseHooks) -> Self {
        Self {
            shared: self.shared.with(|s| s.response_hooks = when),
        }
    }

    /// The identity plugins see as the peer: the one the channel's
    /// [`PinnedConnector`](crate::transport::PinnedConnector) requires of every
    /// server it reaches, so that no request reaches another.
    pub fn server_identity(self, identity: &PeerIdentity) -> Self {
        Self {
            shared: self
                .shared
                .with(|s| s.server_identity = Some(identity.name())),
        }
    }

    /// The chain, replaceable while calls run.
    pub fn chain(&self) -> &SharedChain {
        &self.shared.chain
    }
}

impl<S> tower_layer::Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientService::new(inner, Arc::clone(&self.shared))
    }
}
