//! The services the layers make, and the one function both run per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};

use super::body::LayerBody;
use super::rescue::{self, Protocol};
use super::{ErrorDetail, ResponseHooks, Shared};
use crate::transport::{PeerIdentity, PeerInfo};
use palisade_host::{Chain, Walk};
use palisade_types::{CallInfo, Code, Decision, Hooks, Verdict};

/// The boxed future of a call whose walk waits for a plugin's free instance.
type Waiting<B, E> = Pin<Box<dyn Future<Output = Result<Response<LayerBody<B>>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of a layered call (`F` is the inner service's future, `B` its
    /// response body). A call no plugin has a hook for (none in the chain, or none
    /// whose routes take it) is the inner future itself. A call the chain has work
    /// for runs its request hooks in `call` (a hook is synchronous once its plugin
    /// has a free instance), then the inner future, then the response hooks when it
    /// completes: nothing is boxed. Only a walk that must wait for a plugin at its
    /// concurrency limit goes on in a boxed future.
    pub struct LayerFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Direct { #[pin] inner: F, strip_response: bool },
        Ready { response: Option<Response<LayerBody<B>>> },
        Calling { #[pin] inner: F, after: Option<After> },
        Waiting { future: Waiting<B, E> },
    }
}

impl<F, B, E> Future for LayerFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    E: Send + 'static,
{
    type Output = Result<Response<LayerBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut kind = self.project().kind;
        loop {
            let next = match kind.as_mut().project() {
                KindProj::Direct {
                    inner,
                    strip_response,
                } => {
                    let (mut parts, body) = std::task::ready!(inner.poll(cx))?.into_parts();
                    if *strip_response {
                        rescue::strip_reserved(&mut parts.headers);
                    }
                    return Poll::Ready(Ok(Response::from_parts(parts, LayerBody::inner(body))));
                }
                KindProj::Ready { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("a LayerFuture is not polled after it completed")));
                }
                KindProj::Calling { inner, after } => {
                    let response = std::task::ready!(inner.poll(cx))?;
                    let after = after
                        .take()
                        .expect("a LayerFuture is not polled after it completed");
                    match after.respond(response) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(waiting) => Kind::Waiting { future: waiting },
                    }
                }
                KindProj::Waiting { future } => return future.as_mut().poll(cx),
            };
            kind.set(next);
        }
    }
}

impl<F, B, E> std::fmt::Debug for LayerFuture<F, B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerFuture").finish_non_exhaustive()
    }
}

macro_rules! layered_service {
    ($(#[$doc:meta])* $name:ident, $side:expr) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name<S> {
            inner: S,
            shared: Arc<Shared>,
        }

        impl<S> std::fmt::Debug for $name<S> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        impl<S> $name<S> {
            pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
                Self { inner, shared }
            }

            /// The wrapped service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The wrapped service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// Unwraps the service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }

        impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for $name<S>
        where
            S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
                + Clone
                + Send
                + 'static,
            S::Future: Send,
            S::Error: Send,
            ReqBody: Send + 'static,
            ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        {
            type Response = Response<LayerBody<ResBody>>;
            type Error = S::Error;
            type Future = LayerFuture<S::Future, ResBody, S::Error>;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
                let side = $side;
                let protocol = Protocol::of(req.headers());
                // The path plugins judge is the path forwarded, byte for byte: one
                // that an upstream could read as another (`..`, `%2F`, `//`, ...) is
                // refused, not rewritten. Route scoping relies on this too: a
                // canonical path has one spelling, so none can dodge a route.
                if let Some(problem) = rescue::path_problem(req.uri().path(), protocol) {
                    tracing::info!(
                        target: "palisade::access",
                        decision = "reject",
                        code = %Code::InvalidArgument,
                        problem,
                        path = %palisade_types::Untrusted(req.uri().path()),
                        "call refused: non-canonical path"
                    );
                    let response = rescue::reject(protocol, Code::InvalidArgument, problem);
                    return LayerFuture {
                        kind: Kind::Ready { response: Some(response) },
                    };
                }
                // The chain current now serves this call to its end, even if it is
                // replaced.
                let chain = self.shared.chain.current();
                let hooks = chain.hooks_for(rescue::route(&req, protocol));
                if !hooks.request && !hooks.response {
                    // No plugin has work for this call: the inner future, as is.
                    if side == Side::Server {
                        rescue::strip_connection_listed(req.headers_mut());
                        rescue::strip_reserved(req.headers_mut());
                    }
                    return LayerFuture {
                        kind: Kind::Direct {
                            inner: self.inner.call(req),
                            strip_response: side == Side::Client,
                        },
                    };
                }
                let (info, detail) = begin(&self.shared, side, protocol, &mut req);
                let after = After {
                    chain,
                    call: info,
                    hooks,
                    protocol,
                    side,
                    detail,
                    response_hooks: self.shared.response_hooks,
                };
                if hooks.request {
                    match after.chain.on_request_now(&after.call, req.headers_mut()) {
                        Walk::Done(verdict) => {
                            if let Some(response) = settle(verdict, protocol, detail, &after.call) {
                                return LayerFuture {
                                    kind: Kind::Ready { response: Some(response) },
                                };
                            }
                        }
                        Walk::Waiting(waiting) => {
                            // The service polled ready is the one that must take the
                            // call; a clone stays behind for the next one (tower's rule
                            // for services called from a future).
                            let clone = self.inner.clone();
                            let inner = std::mem::replace(&mut self.inner, clone);
                            return LayerFuture {
                                kind: Kind::Waiting {
                                    future: Box::pin(resume_request(after, waiting, inner, req)),
                                },
                            };
                        }
                    }
                }
                LayerFuture {
                    kind: Kind::Calling {
                        inner: self.inner.call(req),
                        after: Some(after),
                    },
                }
            }
        }
    };
}

layered_service!(
    /// A service wrapped by a [`ServerLayer`](super::ServerLayer).
    ServerService,
    Side::Server
);

layered_service!(
    /// A service wrapped by a [`ClientLayer`](super::ClientLayer).
    ClientService,
    Side::Client
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// Shown instead of a rejection's message to callers that may not read it.
const WITHHELD: &str = "refused by policy";

/// A call the chain has work for, from its request hooks on: what the response
/// needs once the inner service answers.
pub(crate) struct After {
    chain: Arc<Chain>,
    call: CallInfo,
    /// The hooks some plugin runs on it.
    hooks: Hooks,
    protocol: Protocol,
    side: Side,
    /// Whether a rejection's message reaches the caller.
    detail: bool,
    response_hooks: ResponseHooks,
}

/// Describes the call for the chain, and cleans its request first on the server
/// side. Returns the call and whether rejection messages reach the caller.
fn begin<B>(
    shared: &Shared,
    side: Side,
    protocol: Protocol,
    req: &mut Request<B>,
) -> (CallInfo, bool) {
    let mut info = rescue::call_info(
        req,
        protocol,
        side == Side::Client,
        shared.http_service.as_ref(),
    );
    match side {
        Side::Server => {
            // Before the chain: what the client's `Connection` names goes now, so
            // that no later hop-by-hop pass removes what a plugin set.
            rescue::strip_connection_listed(req.headers_mut());
            rescue::strip_reserved(req.headers_mut());
            info.peer_identity = req
                .extensions()
                .get::<PeerInfo>()
                .and_then(PeerInfo::identity)
                .map(PeerIdentity::name);
        }
        Side::Client => info.peer_identity.clone_from(&shared.server_identity),
    }
    let detail = side == Side::Client
        || shared.detail == ErrorDetail::Always
        || info.peer_identity.is_some();
    (info, detail)
}

/// The rest of a call whose request walk waits for a plugin at its concurrency
/// limit.
async fn resume_request<S, ReqBody, ResBody>(
    after: After,
    waiting: palisade_host::Waiting,
    mut inner: S,
    mut req: Request<ReqBody>,
) -> Result<Response<LayerBody<ResBody>>, S::Error>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    S::Error: Send + 'static,
{
    let verdict = after
        .chain
        .resume(waiting, &after.call, req.headers_mut())
        .await;
    if let Some(response) = settle(verdict, after.protocol, after.detail, &after.call) {
        return Ok(response);
    }
    let response = inner.call(req).await?;
    match after.respond(response) {
        Ok(response) => Ok(response),
        Err(waiting) => waiting.await,
    }
}

impl After {
    /// The response hooks on the inner service's `response`: run now, or a future
    /// when a plugin must wait for a free instance.
    fn respond<B, E>(self, response: Response<B>) -> Result<Response<LayerBody<B>>, Waiting<B, E>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        E: Send + 'static,
    {
        let (mut parts, body) = response.into_parts();
        if self.side == Side::Client {
            rescue::strip_reserved(&mut parts.headers);
        }
        if !self.hooks.response {
            // No plugin hooks this call's response: neither a walk nor a wrapper.
            return Ok(Response::from_parts(parts, LayerBody::inner(body)));
        }
        if self.response_hooks == ResponseHooks::FinalStatus
            && self.protocol == Protocol::Grpc
            && !rescue::is_trailers_only(&parts.headers)
        {
            // The status comes in the trailers: the hooks run there.
            let hook = TrailerHook {
                from_network: self.side == Side::Client,
                chain: self.chain,
                call: self.call,
                detail: self.detail,
            };
            return Ok(Response::from_parts(parts, LayerBody::hooked(body, hook)));
        }
        let status = rescue::response_code(self.protocol, parts.status, &parts.headers);
        match self
            .chain
            .on_response_now(&self.call, status, &mut parts.headers)
        {
            Walk::Done(verdict) => Ok(self.finish(verdict, parts, body)),
            Walk::Waiting(waiting) => Err(Box::pin(async move {
                let verdict = self
                    .chain
                    .resume(waiting, &self.call, &mut parts.headers)
                    .await;
                Ok(self.finish(verdict, parts, body))
            })),
        }
    }

    fn finish<B>(
        &self,
        verdict: Verdict,
        parts: http::response::Parts,
        body: B,
    ) -> Response<LayerBody<B>> {
        // A rejection drops the inner body unread: for a stream, that cancels it.
        settle(verdict, self.protocol, self.detail, &self.call)
            .unwrap_or_else(|| Response::from_parts(parts, LayerBody::inner(body)))
    }
}

/// The response hooks of one call, waiting for its trailers
/// ([`ResponseHooks::FinalStatus`]).
pub(crate) struct TrailerHook {
    chain: Arc<Chain>,
    call: CallInfo,
    detail: bool,
    /// Client side: the trailers come from the network, and lose `x-palisade-*`.
    from_network: bool,
}

/// The boxed future of a trailer walk that waits for a plugin's free instance.
pub(crate) type TrailerFuture = Pin<Box<dyn Future<Output = HeaderMap> + Send>>;

impl TrailerHook {
    /// Runs the hooks on `trailers` with their `grpc-status`; a rejection or a reply
    /// replaces that status (the messages already sent stay sent). The trailers now,
    /// or a future when a plugin must wait for a free instance.
    pub(crate) fn run(self, mut trailers: HeaderMap) -> Result<HeaderMap, TrailerFuture> {
        if self.from_network {
            rescue::strip_reserved(&mut trailers);
        }
        let status = rescue::response_code(Protocol::Grpc, http::StatusCode::OK, &trailers);
        match self
            .chain
            .on_response_now(&self.call, status, &mut trailers)
        {
            Walk::Done(verdict) => Ok(self.apply(verdict, trailers)),
            Walk::Waiting(waiting) => Err(Box::pin(async move {
                let verdict = self.chain.resume(waiting, &self.call, &mut trailers).await;
                self.apply(verdict, trailers)
            })),
        }
    }

    fn apply(&self, verdict: Verdict, mut trailers: HeaderMap) -> HeaderMap {
        let plugin = verdict.decided_by.as_deref();
        let (code, message) = match verdict.decision {
            Decision::Continue => return trailers,
            Decision::Reject { code, message } => {
                let message = if self.detail {
                    message
                } else {
                    WITHHELD.to_owned()
                };
                (code, Some(message))
            }
            Decision::Respond(reply) => {
                tracing::warn!(
                    plugin,
                    "a reply on trailers cannot replace messages already sent; only its status is used"
                );
                (reply.code, None)
            }
        };
        rescue::set_status(&mut trailers, code, message.as_deref());
        trailers
    }
}

/// The response a verdict makes, unless the call goes on.
fn settle<B>(
    verdict: Verdict,
    protocol: Protocol,
    detail: bool,
    call: &CallInfo,
) -> Option<Response<LayerBody<B>>> {
    let plugin = verdict.decided_by.as_deref();
    match verdict.decision {
        Decision::Continue => None,
        Decision::Reject { code, message } => {
            // The access line of a refused call (a failed plugin that fails closed
            // refuses too, as Unavailable): at info, so that it is on by default; an
            // operator turns it down with `palisade::access=warn`.
            tracing::info!(
                target: "palisade::access",
                plugin,
                decision = "reject",
                %code,
                service = %call.service,
                method = %call.method,
                peer = call.peer_identity.as_deref().unwrap_or("-"),
                failures = verdict.failures.len(),
                reason = %palisade_types::Untrusted(&message),
                "call refused"
            );
            let message = if detail { message.as_str() } else { WITHHELD };
            Some(rescue::reject(protocol, code, message))
        }
        Decision::Respond(reply) => {
            tracing::info!(
                target: "palisade::access",
                plugin,
                decision = "respond",
                code = %reply.code,
                service = %call.service,
                method = %call.method,
                peer = call.peer_identity.as_deref().unwrap_or("-"),
                "call answered by a plugin"
            );
            Some(rescue::reply(protocol, reply, plugin))
        }
    }
}
