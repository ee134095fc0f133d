//! # Palisade on the wire
//!
//! Where a [`Chain`](palisade_host::Chain) of verified plugins meets real calls:
//!
//! - [`transport`]: mutual TLS 1.3 (rustls, `ring`), the verified peer identity
//!   plugins see, and the pinned server identity a client requires;
//! - [`layer`]: [`ServerLayer`](layer::ServerLayer) and
//!   [`ClientLayer`](layer::ClientLayer), tower layers that run the chain around
//!   tonic and plain HTTP calls, on the request's headers before the inner service
//!   and on the response's headers before the caller.
//!
//! The layers read the transport's [`PeerInfo`](transport::PeerInfo); the transport
//! knows nothing of plugins.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "unit tests"))]

pub mod layer;
pub mod transport;
