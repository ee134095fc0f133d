//! The verified identity of a peer, read from the subject alternative names of the
//! certificate rustls has just verified, and handed to the layers as a request
//! extension.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, DnsName};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use palisade_types::Untrusted;

/// Which namespace an identity is in. A URI SAN and a DNS SAN never stand for each
/// other, even when their text is the same: a certificate whose DNS SAN reads
/// `spiffe://demo/admin` does not name the SPIFFE ID `spiffe://demo/admin` (and is
/// not a valid DNS name either, so it names nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityKind {
    /// A URI SAN, such as a SPIFFE ID (`spiffe://demo/frontend`).
    Uri,
    /// A DNS SAN (`billing.internal`), valid as a DNS name, in lowercase.
    Dns,
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uri => "URI",
            Self::Dns => "DNS",
        })
    }
}

/// A peer identity verified by mutual TLS: the first URI SAN of the peer's
/// certificate (a SPIFFE ID such as `spiffe://demo/frontend`), or else its first DNS
/// SAN that is a valid DNS name (lowercased). It knows its [`kind`](Self::kind):
/// a pin on a URI identity is satisfied only by a URI SAN, a pin on a DNS name
/// only by a DNS SAN. Only the transport makes one, from a certificate that
/// chained to the configured CA; no header can.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    kind: IdentityKind,
    name: Arc<str>,
}

impl PeerIdentity {
    /// The identity as text (without its kind: what plugins see as the peer).
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The identity as a [`Name`] sharing this one's text (no copy per call).
    pub(crate) fn name(&self) -> palisade_types::Name {
        palisade_types::Name::from(Arc::clone(&self.name))
    }

    /// Whether it is a URI or a DNS name.
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    pub(crate) fn new(kind: IdentityKind, name: &str) -> Self {
        Self {
            kind,
            name: Arc::from(name),
        }
    }

    /// An identity named in configuration (a pin), not read from a certificate: a
    /// URI if it has a scheme (`scheme:`), else a DNS name; the reason otherwise.
    pub(crate) fn from_pin(identity: &str) -> Result<Self, &'static str> {
        match San::classify(identity) {
            Some(San::Uri(uri)) => Ok(Self::new(IdentityKind::Uri, &uri)),
            Some(San::Dns(dns)) => Ok(Self::new(IdentityKind::Dns, &dns)),
            _ if identity.contains(':') => Err(
                "a URI identity needs a scheme of letters, digits, `+`, `-` or `.` before its `:` (`spiffe://trust-domain/path`)",
            ),
            _ => {
                Err("the identity must be a URI (`spiffe://trust-domain/path`) or a valid DNS name")
            }
        }
    }

    /// Whether the certificate name `san` is this identity: same kind, same text
    /// (DNS names are compared in lowercase, which is how both are held).
    pub(crate) fn is_named_by(&self, san: &San) -> bool {
        match (self.kind, san) {
            (IdentityKind::Uri, San::Uri(uri)) => *self.name == **uri,
            (IdentityKind::Dns, San::Dns(dns)) => *self.name == **dns,
            _ => false,
        }
    }

    /// The identity of a verified leaf certificate, if it names one.
    pub(crate) fn of_verified(cert: &CertificateDer<'_>) -> Option<Self> {
        let names = san_names(cert);
        names
            .iter()
            .find(|n| matches!(n, San::Uri(_)))
            .or_else(|| names.iter().find(|n| matches!(n, San::Dns(_))))
            .and_then(San::identity)
    }
}

impl fmt::Debug for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.name, f)
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// One subject alternative name of the kinds Palisade reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum San {
    /// A URI SAN with a well-formed scheme.
    Uri(String),
    /// A DNS SAN that is a valid DNS name, lowercased.
    Dns(String),
    /// A DNS SAN that is not a valid DNS name (`spiffe://demo/admin`, say): it names
    /// no identity, and is kept only to be reported.
    InvalidDns(String),
}

impl San {
    /// A URI if `text` starts with a scheme and `:`, else a DNS name (valid or not).
    /// `None` for a URI without a well-formed scheme, or text with spaces or
    /// control characters.
    fn classify(text: &str) -> Option<Self> {
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        match text.split_once(':') {
            Some((scheme, rest)) => {
                let mut chars = scheme.chars();
                let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                    && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                    && !rest.is_empty();
                well_formed.then(|| Self::Uri(text.to_owned()))
            }
            None => Some(Self::dns(text)),
        }
    }

    /// A DNS SAN, checked by `rustls-pki-types`' DNS name rules (the ones rustls
    /// verifies server names with), not by a hand-written test.
    fn dns(text: &str) -> Self {
        match DnsName::try_from(text) {
            // Lowercase, without the trailing dot of an absolute name: one text per name.
            Ok(name) => {
                let name = name.as_ref();
                Self::Dns(name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase())
            }
            Err(_) => Self::InvalidDns(text.to_owned()),
        }
    }

    fn identity(&self) -> Option<PeerIdentity> {
        match self {
            Self::Uri(uri) => Some(PeerIdentity::new(IdentityKind::Uri, uri)),
            Self::Dns(dns) => Some(PeerIdentity::new(IdentityKind::Dns, dns)),
            Self::InvalidDns(_) => None,
        }
    }
}

impl fmt::Display for San {
    /// `URI:...`, `DNS:...` or `DNS:... (not a valid DNS name)`, the certificate
    /// text escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uri(uri) => write!(f, "URI:{}", Untrusted(uri)),
            Self::Dns(dns) => write!(f, "DNS:{}", Untrusted(dns)),
            Self::InvalidDns(dns) => write!(f, "DNS:{} (not a valid DNS name)", Untrusted(dns)),
        }
    }
}

/// The URI and DNS SANs of `cert`, in certificate order; empty when the certificate
/// cannot be parsed or has none (rustls has parsed and verified it before this runs).
/// A URI SAN without a well-formed scheme is left out.
pub(crate) fn san_names(cert: &CertificateDer<'_>) -> Vec<San> {
    let Ok(parsed) = Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some((_critical, SubjectAltName(names)))) =
        parsed.tbs_certificate.get::<SubjectAltName>()
    else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => match San::classify(uri.as_str()) {
                Some(uri @ San::Uri(_)) => Some(uri),
                _ => None,
            },
            GeneralName::DnsName(dns) => Some(San::dns(dns.as_str())),
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
    /// certificate names no URI SAN and no DNS SAN that is a valid DNS name.
    pub fn identity(&self) -> Option<&PeerIdentity> {
        self.identity.as_ref()
    }

    /// Whether the connection is mutual TLS (false only through
    /// [`InsecurePlaintext`](crate::transport::InsecurePlaintext)).
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}
