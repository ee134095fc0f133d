//! The response body of a layered service: the inner one, untouched, or one the
//! layer made for a rejection or a plugin's reply.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

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
    }
}

impl<B> LayerBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
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
            Kind::Local { data, trailers } => data.is_none() && trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Local { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
