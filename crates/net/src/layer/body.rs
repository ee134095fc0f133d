//! The response body of a layered service: the inner one, untouched (or with the
//! response hooks run on its trailers), or one the layer made for a rejection or a
//! plugin's reply.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use super::service::{TrailerFuture, TrailerHook};

pin_project_lite::pin_project! {
    /// The body of a response that passed through a [`ServerLayer`](super::ServerLayer)
    /// or [`ClientLayer`](super::ClientLayer): the inner service's body frame by
    /// frame (never buffered), or a body the layer made (a rejection, a plugin's
    /// reply, gRPC trailers).
    pub struct LayerBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Local { data: Option<Bytes>, trailers: Option<HeaderMap> },
        Hooked { #[pin] body: B, hook: Option<TrailerHook>, running: Option<TrailerFuture> },
    }
}

impl<B> LayerBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// The inner body, with `hook` run on its trailers (which it replaces).
    pub(crate) fn hooked(body: B, hook: TrailerHook) -> Self {
        Self {
            kind: Kind::Hooked {
                body,
                hook: Some(hook),
                running: None,
            },
        }
    }

    /// A body of `data` (if any, and not empty) followed by `trailers` (if any).
    pub(crate) fn local(data: Option<Bytes>, trailers: Option<HeaderMap>) -> Self {
        Self {
            kind: Kind::Local {
                data: data.filter(|d| !d.is_empty()),
                trailers,
            },
        }
    }

    /// An empty body.
    pub(crate) fn empty() -> Self {
        Self::local(None, None)
    }
}

impl<B> std::fmt::Debug for LayerBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("LayerBody::Inner"),
            Kind::Hooked { .. } => f.write_str("LayerBody::Hooked"),
            Kind::Local { data, trailers } => f
                .debug_struct("LayerBody::Local")
                .field("data_len", &data.as_ref().map_or(0, Bytes::len))
                .field("trailers", trailers)
                .finish(),
        }
    }
}

impl<B> Body for LayerBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Hooked {
                mut body,
                hook,
                running,
            } => loop {
                if let Some(future) = running {
                    let trailers = std::task::ready!(future.as_mut().poll(cx));
                    *running = None;
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                let frame = std::task::ready!(body.as_mut().poll_frame(cx));
                match (frame, hook.take()) {
                    (Some(Ok(frame)), Some(run)) if frame.is_trailers() => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        match run.run(trailers) {
                            Ok(trailers) => {
                                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                            }
                            Err(waiting) => *running = Some(waiting),
                        }
                    }
                    (frame, run) => {
                        *hook = run;
                        return Poll::Ready(frame);
                    }
                }
            },
            KindProj::Local { data, trailers } => Poll::Ready(
                data.take()
                    .map(Frame::data)
                    .or_else(|| trailers.take().map(Frame::trailers))
                    .map(Ok),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Hooked { body, running, .. } => running.is_none() && body.is_end_stream(),
            Kind::Local { data, trailers } => data.is_none() && trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } | Kind::Hooked { body, .. } => body.size_hint(),
            Kind::Local { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
