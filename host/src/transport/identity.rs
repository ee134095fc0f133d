//! The verified identity of a peer, read from the subject alternative names of the
//! certificate rustls has just verified, and handed to the layers as a request
//! extension.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

/// A peer identity verified by mutual TLS: the first URI SAN of the peer's
/// certificate (a SPIFFE ID such as `spiffe://demo/frontend`), or else its first DNS
/// SAN. Only the transport makes one, from a certificate that chained to the
/// configured CA; no header can.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PeerIdentity(Arc<str>);

impl PeerIdentity {
    /// The identity as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An identity named in configuration (a pin), not read from a certificate.
    pub(crate) fn from_pin(identity: &str) -> Self {
        Self(Arc::from(identity))
    }

    /// The identity of a verified leaf certificate, if it names one.
    pub(crate) fn of_verified(cert: &CertificateDer<'_>) -> Option<Self> {
        let names = san_names(cert);
        let chosen = names
            .iter()
            .find(|n| matches!(n, San::Uri(_)))
            .or_else(|| names.iter().find(|n| matches!(n, San::Dns(_))))?;
        Some(Self(Arc::from(chosen.as_str())))
    }
}

impl fmt::Debug for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One subject alternative name of the kinds Palisade reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum San {
    Uri(String),
    Dns(String),
}

impl San {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Uri(s) | Self::Dns(s) => s,
        }
    }
}

/// The URI and DNS SANs of `cert`, in certificate order; empty when the certificate
/// cannot be parsed or has none (rustls has parsed and verified it before this runs).
pub(crate) fn san_names(cert: &CertificateDer<'_>) -> Vec<San> {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(San::Uri((*uri).to_owned())),
            GeneralName::DNSName(dns) => Some(San::Dns((*dns).to_owned())),
            _ => None,
        })
        .collect()
}

/// What the transport established about the other end of a connection. The
/// server-side transport puts it into every request's extensions (tonic's
/// `ConnectInfo`, or [`serve_http`](crate::transport::serve_http)), where the
/// [`ServerLayer`](crate::layer::ServerLayer) reads the peer identity.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    remote_addr: Option<SocketAddr>,
    identity: Option<PeerIdentity>,
    tls: bool,
}

impl PeerInfo {
    pub(crate) fn new(
        remote_addr: Option<SocketAddr>,
        identity: Option<PeerIdentity>,
        tls: bool,
    ) -> Self {
        Self {
            remote_addr,
            identity,
            tls,
        }
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// The verified identity; `None` over plaintext, or when the verified
    /// certificate names no URI or DNS SAN.
    pub fn identity(&self) -> Option<&PeerIdentity> {
        self.identity.as_ref()
    }

    /// Whether the connection is mutual TLS (false only through
    /// [`InsecurePlaintext`](crate::transport::InsecurePlaintext)).
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}
