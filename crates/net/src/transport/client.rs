//! The client side: an mTLS configuration that pins the server identity per
//! service. The connectors made from it are in `connect` (cargo feature `hyper`).

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use zeroize::Zeroizing;

use super::error::Mismatch;
use super::identity::{IdentityKind, PeerIdentity, san_names};
use super::server::key_error;
use super::{TLS13_ONLY, TlsMaterial, TransportError, check_pin, pem, provider};

/// An mTLS client configuration: this service's certificate (presented to servers),
/// the CA servers must chain to, and the identity each service's server must
/// present. TLS 1.3 only. Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    certs: Vec<CertificateDer<'static>>,
    /// Wiped when dropped (rustls holds its own copy, in its signing key).
    key: Zeroizing<PrivateKeyDer<'static>>,
    material: TlsMaterial,
    pins: BTreeMap<String, PeerIdentity>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("pins", &self.inner.pins)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Reads `material` and checks that the key belongs to the certificate. No
    /// service is pinned yet: [`pin`](Self::pin) each one.
    pub fn new(material: &TlsMaterial) -> Result<Self, TransportError> {
        let inner = ClientInner {
            provider: provider(),
            roots: pem::roots(&material.ca)?,
            certs: pem::certificates(&material.cert, "certificate chain")?,
            key: Zeroizing::new(pem::private_key(&material.key)?),
            material: material.clone(),
            pins: BTreeMap::new(),
        };
        // Build one configuration now, so that a key that does not match its
        // certificate is reported here rather than at the first call.
        inner.config(PeerIdentity::new(IdentityKind::Dns, "check"), String::new())?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Pins `identity` (a URI SAN such as `spiffe://demo/orders`, or a DNS SAN) for
    /// `service`: connections made for `service` are refused unless the server's
    /// verified certificate names exactly that identity, in the same namespace: a
    /// pin on a URI (text with a scheme and `:`) is satisfied only by a URI SAN, a
    /// pin on a DNS name only by a DNS SAN (compared in lowercase).
    pub fn pin(
        self,
        service: impl Into<String>,
        identity: impl Into<String>,
    ) -> Result<Self, TransportError> {
        let (service, identity) = (service.into(), identity.into());
        let pinned = check_pin(&service, &identity)?;
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.pins.insert(service, pinned);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The identity pinned for `service`.
    pub fn pinned(&self, service: &str) -> Option<&PeerIdentity> {
        self.inner.pins.get(service)
    }

    /// The rustls configuration for calling `service`, and the identity its server
    /// must present ([`TransportError::NoPin`] when none is pinned).
    #[cfg(feature = "hyper")]
    pub(super) fn pinned_config(
        &self,
        service: &str,
    ) -> Result<(ClientConfig, PeerIdentity), TransportError> {
        let identity = self
            .inner
            .pins
            .get(service)
            .ok_or_else(|| TransportError::NoPin {
                service: service.to_owned(),
            })?
            .clone();
        let config = self.inner.config(identity.clone(), service.to_owned())?;
        Ok((config, identity))
    }
}

impl Clone for ClientInner {
    fn clone(&self) -> Self {
        Self {
            provider: Arc::clone(&self.provider),
            roots: Arc::clone(&self.roots),
            certs: self.certs.clone(),
            key: Zeroizing::new(self.key.clone_key()),
            material: self.material.clone(),
            pins: self.pins.clone(),
        }
    }
}

impl ClientInner {
    fn config(
        &self,
        expected: PeerIdentity,
        service: String,
    ) -> Result<ClientConfig, TransportError> {
        let verifier = PinnedVerifier {
            provider: Arc::clone(&self.provider),
            roots: Arc::clone(&self.roots),
            expected,
            service,
        };
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(TLS13_ONLY)
            .map_err(|e| key_error(e, &self.material))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(self.certs.clone(), self.key.clone_key())
            .map_err(|e| key_error(e, &self.material))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Verifies the server's chain against the CA as webpki does for any server, then
/// requires the pinned identity among its URI and DNS SANs, of the pin's kind,
/// instead of the host name.
#[derive(Debug)]
struct PinnedVerifier {
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    expected: PeerIdentity,
    service: String,
}

impl std::fmt::Debug for ClientInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInner").finish_non_exhaustive()
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // 1. The chain, to the configured CA, with the serverAuth usage.
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        // 2. The pinned identity, in place of the host name: same kind, same name
        //    (a DNS SAN never satisfies a URI pin, whatever its text).
        let names = san_names(end_entity);
        if names.iter().any(|n| self.expected.is_named_by(n)) {
            return Ok(ServerCertVerified::assertion());
        }
        let presented: Vec<String> = names.iter().map(ToString::to_string).collect();
        tracing::warn!(
            service = %self.service,
            expected = %format_args!("{}:{}", self.expected.kind(), self.expected),
            presented = ?presented,
            "server identity does not match the pin; connection refused"
        );
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(Mismatch { presented })),
        )))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
