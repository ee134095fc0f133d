//! The native baseline: the trivial hook's logic as a real `tower::Layer` around a
//! no-op service, the way a service would write it without Palisade.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

/// A refused call.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "built as a real layer would; the benchmark never rejects"
)]
pub(crate) struct Rejected {
    pub(crate) message: String,
}

/// The request the layers see, carrying `metadata`.
pub(crate) fn request(metadata: HeaderMap) -> Request<()> {
    let mut request = Request::new(());
    *request.headers_mut() = metadata;
    request
}

/// The handler: answers at once.
#[derive(Clone, Copy)]
pub(crate) struct Noop;

impl Service<Request<()>> for Noop {
    type Response = Response<()>;
    type Error = Rejected;
    type Future = Ready<Result<Response<()>, Rejected>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Rejected>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        ready(Ok(Response::new(())))
    }
}

/// The layer: rejects calls without `x-request-id`.
#[derive(Clone, Copy)]
pub(crate) struct RequireRequestIdLayer;

impl<S> Layer<S> for RequireRequestIdLayer {
    type Service = RequireRequestId<S>;

    fn layer(&self, inner: S) -> RequireRequestId<S> {
        RequireRequestId { inner }
    }
}

/// The service the layer makes.
#[derive(Clone)]
pub(crate) struct RequireRequestId<S> {
    inner: S,
}

impl RequireRequestId<Noop> {
    /// One layer around the no-op handler.
    pub(crate) fn layered() -> Self {
        RequireRequestIdLayer.layer(Noop)
    }
}

/// Either the inner service's future or an immediate rejection, as tower layers
/// that can short-circuit are written.
pub(crate) enum Checked<F> {
    Inner(F),
    Rejected(Option<Rejected>),
}

impl<F, R> Future for Checked<F>
where
    F: Future<Output = Result<R, Rejected>> + Unpin,
{
    type Output = Result<R, Rejected>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Inner(inner) => Pin::new(inner).poll(cx),
            Self::Rejected(rejected) => match rejected.take() {
                Some(rejected) => Poll::Ready(Err(rejected)),
                None => Poll::Pending,
            },
        }
    }
}

impl<S> Service<Request<()>> for RequireRequestId<S>
where
    S: Service<Request<()>, Response = Response<()>, Error = Rejected>,
    S::Future: Unpin,
{
    type Response = Response<()>;
    type Error = Rejected;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Rejected>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        if request.headers().get("x-request-id").is_some() {
            Checked::Inner(self.inner.call(request))
        } else {
            Checked::Rejected(Some(Rejected {
                message: "x-request-id is required".into(),
            }))
        }
    }
}

/// `n` layers around the no-op handler, as one boxed-free service per depth.
pub(crate) fn stack(n: usize) -> Stack {
    let l = RequireRequestIdLayer;
    match n {
        1 => Stack::One(l.layer(Noop)),
        3 => Stack::Three(l.layer(l.layer(l.layer(Noop)))),
        10 => Stack::Ten(l.layer(
            l.layer(l.layer(l.layer(l.layer(l.layer(l.layer(l.layer(l.layer(l.layer(Noop))))))))),
        )),
        _ => panic!("no stack of {n} layers"),
    }
}

type L<S> = RequireRequestId<S>;

/// A stack of 1, 3 or 10 layers.
pub(crate) enum Stack {
    One(L<Noop>),
    Three(L<L<L<Noop>>>),
    #[allow(
        clippy::type_complexity,
        reason = "the type of ten nested layers is what it is"
    )]
    Ten(L<L<L<L<L<L<L<L<L<L<Noop>>>>>>>>>>),
}

impl Stack {
    /// Calls the stack once (after `poll_ready`, as tower requires).
    pub(crate) async fn call(&mut self, request: Request<()>) -> Result<Response<()>, Rejected> {
        match self {
            Self::One(s) => call(s, request).await,
            Self::Three(s) => call(s, request).await,
            Self::Ten(s) => call(s, request).await,
        }
    }
}

/// `poll_ready`, then `call`.
pub(crate) async fn call<S>(service: &mut S, request: Request<()>) -> Result<S::Response, Rejected>
where
    S: Service<Request<()>, Error = Rejected>,
{
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}
