//! What can go wrong setting up or using the transport, each naming its culprit.

use std::net::SocketAddr;

/// Why a TLS configuration could not be built, or a connection was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A PEM file could not be read (or is over
    /// [`MAX_PEM_BYTES`](crate::transport::MAX_PEM_BYTES)).
    #[error("cannot read {what} from {origin}: {reason}")]
    Read {
        /// What the file should hold (`certificate chain`, `private key`, `CA bundle`).
        what: &'static str,
        /// The file.
        origin: String,
        /// The operating system's error.
        reason: std::io::Error,
    },
    /// The input is not well-formed PEM.
    #[error("{what} in {origin} is not valid PEM: {reason}")]
    Pem {
        /// What the input should hold.
        what: &'static str,
        /// The file, or `<bytes>`.
        origin: String,
        /// The parser's explanation.
        reason: String,
    },
    /// Well-formed PEM, but without the block this input needs.
    #[error("{origin} holds no {what} (expected a `-----BEGIN {block}-----` block)")]
    Missing {
        /// What the input should hold.
        what: &'static str,
        /// The file, or `<bytes>`.
        origin: String,
        /// The PEM block expected.
        block: &'static str,
    },
    /// A certificate or key was refused (malformed DER, unsupported key type, a CA
    /// certificate that cannot be a trust anchor).
    #[error("{what} in {origin} refused: {reason}")]
    Invalid {
        /// What was refused.
        what: &'static str,
        /// The file, or `<bytes>`.
        origin: String,
        /// rustls' or webpki's explanation.
        reason: String,
    },
    /// The private key is not the key of the certificate chain's first certificate.
    #[error("the private key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch {
        /// Where the certificate chain came from.
        cert: String,
        /// Where the key came from.
        key: String,
    },
    /// A client was asked for a connection to a service with no pinned identity.
    #[error(
        "no pinned identity for service `{service}`: pin the identity its certificate must carry \
         (ClientTls::pin, or [transport.pins] in the config)"
    )]
    NoPin {
        /// The service.
        service: String,
    },
    /// A pinned identity or service name is not acceptable.
    #[error("invalid pin `{service}` = {identity:?}: {reason}")]
    InvalidPin {
        /// The service.
        service: String,
        /// The identity given for it.
        identity: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The address to connect to is not usable (no host or port in the URI).
    #[error("cannot connect to `{uri}`: {reason}")]
    Address {
        /// The URI given.
        uri: String,
        /// What is missing.
        reason: &'static str,
    },
    /// The TCP connection failed.
    #[error("cannot connect to {addr} for service `{service}`: {reason}")]
    Connect {
        /// The address, as given.
        addr: String,
        /// The service.
        service: String,
        /// The operating system's error.
        reason: std::io::Error,
    },
    /// The server presented a certificate from the trusted CA, but for another
    /// identity than the one pinned for the service: a poisoned address, or a
    /// misconfigured server. The connection was closed before any request was sent.
    #[error(
        "server at {addr} is not `{service}`: expected identity {expected}, certificate names {}",
        if presented.is_empty() { "nothing".to_owned() } else { presented.join(", ") }
    )]
    IdentityMismatch {
        /// The address connected to.
        addr: SocketAddr,
        /// The service.
        service: String,
        /// The pinned identity.
        expected: String,
        /// The URI and DNS names in the server's certificate.
        presented: Vec<String>,
    },
    /// The TLS handshake failed (a certificate from an untrusted CA, an expired
    /// certificate, a peer without TLS 1.3, ...).
    #[error("TLS handshake with {addr} for service `{service}` failed: {reason}")]
    Handshake {
        /// The address connected to.
        addr: SocketAddr,
        /// The service.
        service: String,
        /// rustls' explanation.
        reason: std::io::Error,
    },
    /// [`TransportConfig::insecure_plaintext`](crate::transport::TransportConfig::insecure_plaintext)
    /// was asked for, but the configuration does not allow plaintext.
    #[error(
        "plaintext is not allowed: set `[transport] plaintext = \"insecure-allow\"` \
         (development mode only)"
    )]
    PlaintextRefused,
    /// The configuration has no `[transport]` certificate, key and CA.
    #[error("no TLS material configured: set `cert`, `key` and `ca` in `[transport]`")]
    NoTlsMaterial,
}

/// The reason a pinned verifier refused a certificate, carried through rustls'
/// error to [`TransportError::IdentityMismatch`].
#[derive(Debug)]
pub(super) struct Mismatch {
    pub(super) presented: Vec<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "certificate names {:?}, not the pinned identity",
            self.presented
        )
    }
}

impl std::error::Error for Mismatch {}
