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
use crate::transport::PeerInfo;
use palisade_host::Chain;
use palisade_types::{CallInfo, Code, Decision, Hooks, Verdict};

/// The boxed future of a call the chain has work for.
type Intercepted<B, E> = Pin<Box<dyn Future<Output = Result<Response<LayerBody<B>>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of a layered call (`F` is the inner service's future, `B` its
    /// response body). A call no plugin has a hook for (none in the chain, or none
    /// whose routes take it) is the inner future itself, with nothing allocated; a
    /// call the chain has work for runs the request hooks, the inner call and the
    /// response hooks in one boxed future (the hooks are async).
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
        Intercepted { future: Intercepted<B, E> },
    }
}

impl<F, B, E> Future for LayerFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<LayerBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Direct {
                inner,
                strip_response,
            } => {
                let (mut parts, body) = std::task::ready!(inner.poll(cx))?.into_parts();
                if *strip_response {
                    rescue::strip_reserved(&mut parts.headers);
                }
                Poll::Ready(Ok(Response::from_parts(parts, LayerBody::inner(body))))
            }
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("a LayerFuture is not polled after it completed"))),
            KindProj::Intercepted { future } => future.as_mut().poll(cx),
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
                    tracing::debug!(problem, "request refused: non-canonical path");
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
                // The service polled ready is the one that must take the call; a
                // clone stays behind for the next one (tower's rule for services
                // that call their inner service from a future).
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let call = Call { chain, hooks, protocol, side };
                LayerFuture {
                    kind: Kind::Intercepted {
                        future: Box::pin(intercept(Arc::clone(&self.shared), call, inner, req)),
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

/// What `call` decided about a call the chain has work for.
struct Call {
    chain: Arc<Chain>,
    /// The hooks some plugin runs on it.
    hooks: Hooks,
    protocol: Protocol,
    side: Side,
}

/// One call through the chain (its path already found canonical).
async fn intercept<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    call: Call,
    mut inner: S,
    mut req: Request<ReqBody>,
) -> Result<Response<LayerBody<ResBody>>, S::Error>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    let Call {
        chain,
        hooks,
        protocol,
        side,
    } = call;
    let mut info = rescue::call_info(
        &req,
        protocol,
        side == Side::Client,
        shared.http_service.as_deref(),
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
                .map(|id| id.as_str().to_owned());
        }
        Side::Client => info.peer_identity.clone_from(&shared.server_identity),
    }
    let detail = side == Side::Client
        || shared.detail == ErrorDetail::Always
        || info.peer_identity.is_some();
    let call = Arc::new(info);

    if hooks.request {
        let verdict = chain.on_request(&call, req.headers_mut()).await;
        if let Some(response) = settle(verdict, protocol, detail, &call) {
            return Ok(response);
        }
    }

    let (mut parts, body) = inner.call(req).await?.into_parts();
    if side == Side::Client {
        rescue::strip_reserved(&mut parts.headers);
    }
    if !hooks.response {
        // No plugin hooks this call's response: neither a walk nor a wrapper.
        return Ok(Response::from_parts(parts, LayerBody::inner(body)));
    }
    if shared.response_hooks == ResponseHooks::FinalStatus
        && protocol == Protocol::Grpc
        && !rescue::is_trailers_only(&parts.headers)
    {
        // The status comes in the trailers: the hooks run there.
        let hook = TrailerHook {
            chain,
            call,
            detail,
            from_network: side == Side::Client,
        };
        return Ok(Response::from_parts(parts, LayerBody::hooked(body, hook)));
    }
    let status = rescue::response_code(protocol, parts.status, &parts.headers);
    let verdict = chain.on_response(&call, status, &mut parts.headers).await;
    if let Some(response) = settle(verdict, protocol, detail, &call) {
        // The inner body is dropped unread: for a stream, that cancels it.
        return Ok(response);
    }
    Ok(Response::from_parts(parts, LayerBody::inner(body)))
}

/// The response hooks of one call, waiting for its trailers
/// ([`ResponseHooks::FinalStatus`]).
pub(crate) struct TrailerHook {
    chain: Arc<Chain>,
    call: Arc<CallInfo>,
    detail: bool,
    /// Client side: the trailers come from the network, and lose `x-palisade-*`.
    from_network: bool,
}

impl TrailerHook {
    /// Runs the hooks on `trailers` with their `grpc-status`; a rejection or a reply
    /// replaces that status (the messages already sent stay sent).
    pub(crate) async fn run(self, mut trailers: HeaderMap) -> HeaderMap {
        if self.from_network {
            rescue::strip_reserved(&mut trailers);
        }
        let status = rescue::response_code(Protocol::Grpc, http::StatusCode::OK, &trailers);
        let verdict = self
            .chain
            .on_response(&self.call, status, &mut trailers)
            .await;
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
            tracing::debug!(
                plugin,
                service = %call.service,
                method = %call.method,
                ?code,
                message = %palisade_types::Untrusted(&message),
                "call rejected"
            );
            let message = if detail { message.as_str() } else { WITHHELD };
            Some(rescue::reject(protocol, code, message))
        }
        Decision::Respond(reply) => {
            tracing::debug!(
                plugin,
                service = %call.service,
                method = %call.method,
                code = ?reply.code,
                "call answered by a plugin"
            );
            Some(rescue::reply(protocol, reply, plugin))
        }
    }
}
