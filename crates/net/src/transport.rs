//! Stage 7, **transport**: mutual TLS for the layers, so that the peer identity the
//! plugins see was verified by a certificate, never claimed by a header.
//!
//! - TLS 1.3 only, with the `ring` provider named explicitly in every configuration
//!   (never the process-default provider, which is ambiguous when another crate in the
//!   program enables a second one).
//! - [`ServerTls`]: client certificates are **required** and must chain to the
//!   configured CA ([`WebPkiClientVerifier`](rustls::server::WebPkiClientVerifier));
//!   there is no option to make them optional. [`ServerTls::incoming`] is an accept
//!   loop (TCP with `nodelay`, handshakes in parallel and bounded in time) that
//!   yields [`ServerIo`] connections carrying a [`PeerInfo`]: usable with tonic's
//!   `Server::serve_with_incoming` (as its `ConnectInfo`) and with [`serve_http`] for
//!   hyper or axum services.
//! - [`ClientTls`]: the server must chain to the configured CA **and** present the
//!   identity pinned for the service being called ([`ClientTls::pin`]); a server with
//!   a valid certificate for another identity (an address handed out by a poisoned
//!   registry) is refused with [`TransportError::IdentityMismatch`] before any request
//!   is sent. The host name in the URI is used for TCP and SNI only: the pin replaces
//!   host-name verification. [`ClientTls::connector`] makes a tower
//!   `Service<Uri>` for tonic's `Endpoint::connect_with_connector` or hyper-util's
//!   client.
//! - The identity of a verified certificate is its first URI SAN (a SPIFFE ID such
//!   as `spiffe://demo/frontend`), or else its first DNS SAN that is a valid DNS
//!   name ([`PeerIdentity`]). The two namespaces stay apart: an identity knows its
//!   [`IdentityKind`], a DNS SAN whose text looks like a URI names nothing, and a
//!   pin on a URI is satisfied only by a URI SAN.
//! - Plaintext exists only through [`InsecurePlaintext`], a visibly named opt-in
//!   logged at `WARN`; an operator config yields one only when it says
//!   `[transport] plaintext = "insecure-allow"`, which lockdown refuses. See
//!   the manual (`palisade::manual`, "Transport and lockdown").

mod client;
#[cfg(feature = "hyper")]
mod connect;
mod error;
mod identity;
mod pem;
#[cfg(feature = "hyper")]
mod serve;
mod server;

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::crypto::CryptoProvider;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use self::client::ClientTls;
#[cfg(feature = "hyper")]
pub use self::connect::{ClientIo, InsecurePlaintextConnector, PinnedConnector};
pub use self::error::TransportError;
pub use self::identity::{IdentityKind, PeerIdentity, PeerInfo};
pub use self::pem::{MAX_PEM_BYTES, Pem};
#[cfg(feature = "hyper")]
pub use self::serve::{HttpTimeouts, serve_http, serve_http_with};
pub use self::server::{
    HANDSHAKE_TIMEOUT, HEADER_READ_TIMEOUT, HandshakeStats, IDLE_TIMEOUT, Incoming,
    MAX_PENDING_HANDSHAKES, MAX_PENDING_HANDSHAKES_PER_PEER, ServerIo, ServerTls,
};

/// The one crypto provider every configuration is built with.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The only protocol version offered or accepted.
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// This service's certificate chain and private key, and the CA bundle the peer's
/// certificate must chain to. One set serves both directions: a service's
/// certificate should carry both the `serverAuth` and `clientAuth` extended key
/// usages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// The certificate chain, leaf first.
    pub cert: Pem,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Pem,
    /// The trusted CA certificates.
    pub ca: Pem,
}

impl TlsMaterial {
    /// Material from three PEM files.
    pub fn files(
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
        ca: impl Into<std::path::PathBuf>,
    ) -> Self {
        Self {
            cert: Pem::file(cert),
            key: Pem::file(key),
            ca: Pem::file(ca),
        }
    }
}

/// The explicit opt-in to plaintext connections, which carry no peer identity and
/// no confidentiality. Every constructor that makes a plaintext listener or
/// connector takes one. Audit every use.
#[derive(Debug, Clone, Copy)]
pub struct InsecurePlaintext(());

impl InsecurePlaintext {
    /// Allows plaintext, logging a warning. For tests and local development; a
    /// program driven by an operator config should use
    /// [`TransportConfig::insecure_plaintext`], which lockdown refuses.
    pub fn insecure_allow() -> Self {
        tracing::warn!(
            "INSECURE: plaintext transport allowed; calls carry no verified identity and no \
             confidentiality (refused in lockdown mode)"
        );
        Self(())
    }
}

/// The `[transport]` section of an operator config, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportConfig {
    /// The certificate, key and CA (`cert`, `key`, `ca`), paths resolved against the
    /// config's directory.
    pub tls: Option<TlsMaterial>,
    /// Service name to the identity its server must present (`[transport.pins]`).
    pub pins: BTreeMap<String, String>,
    plaintext: bool,
}

impl TransportConfig {
    /// mTLS with `tls` (none: no listener or client can be made), and the identity
    /// each service's server must present (`pins`). Plaintext is refused.
    pub fn new(tls: Option<TlsMaterial>, pins: BTreeMap<String, String>) -> Self {
        Self {
            tls,
            pins,
            plaintext: false,
        }
    }

    /// Allows plaintext (`plaintext = "insecure-allow"`): development only; an
    /// operator config in lockdown never calls this.
    pub fn insecure_allow_plaintext(mut self) -> Self {
        self.plaintext = true;
        self
    }

    /// Whether the config says `plaintext = "insecure-allow"` (development mode only).
    pub fn plaintext_allowed(&self) -> bool {
        self.plaintext
    }

    /// The plaintext opt-in, if the config allows it; otherwise
    /// [`TransportError::PlaintextRefused`].
    pub fn insecure_plaintext(&self) -> Result<InsecurePlaintext, TransportError> {
        if self.plaintext {
            Ok(InsecurePlaintext::insecure_allow())
        } else {
            Err(TransportError::PlaintextRefused)
        }
    }

    /// The mTLS server configuration.
    pub fn server_tls(&self) -> Result<ServerTls, TransportError> {
        ServerTls::new(self.tls.as_ref().ok_or(TransportError::NoTlsMaterial)?)
    }

    /// The mTLS client configuration, with every pin.
    pub fn client_tls(&self) -> Result<ClientTls, TransportError> {
        let mut client = ClientTls::new(self.tls.as_ref().ok_or(TransportError::NoTlsMaterial)?)?;
        for (service, identity) in &self.pins {
            client = client.pin(service, identity)?;
        }
        Ok(client)
    }
}

/// Checks a pin: a non-empty service name, and an identity that is a URI
/// (`scheme:...`, such as `spiffe://demo/orders`) or a valid DNS name, without spaces
/// or control characters. Returns the identity, which knows its kind.
pub fn check_pin(service: &str, identity: &str) -> Result<PeerIdentity, TransportError> {
    let invalid = |reason| TransportError::InvalidPin {
        service: service.to_owned(),
        identity: identity.to_owned(),
        reason,
    };
    if service.is_empty() || service.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "the service name must be non-empty, without spaces",
        ));
    }
    if identity.is_empty()
        || identity
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid("the identity must be non-empty, without spaces"));
    }
    if identity.contains('*') {
        return Err(invalid(
            "a pin is one exact identity; wildcards are not accepted",
        ));
    }
    PeerIdentity::from_pin(identity).map_err(invalid)
}

/// A TCP connection, with or without TLS.
pub(crate) enum Conn<T> {
    Tls(Box<T>),
    Plain(TcpStream),
}

impl<T: AsyncRead + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tls(s) => s.is_write_vectored(),
            Self::Plain(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
