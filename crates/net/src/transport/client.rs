//! The client side: an mTLS configuration that pins the server identity per
//! service, and connectors for tonic and hyper-util.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use zeroize::Zeroizing;

use super::identity::{IdentityKind, PeerIdentity, PeerInfo, san_names};
use super::server::key_error;
use super::{
    Conn, InsecurePlaintext, TLS13_ONLY, TlsMaterial, TransportError, check_pin, pem, provider,
};

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

    /// A connector for `service`: TCP to the URI's host and port, then TLS 1.3
    /// presenting this service's certificate and requiring the server to present the
    /// identity pinned for `service` ([`TransportError::NoPin`] if none is). Offers
    /// ALPN `h2` and `http/1.1`.
    ///
    /// ```no_run
    /// # async fn demo(tls: palisade_net::transport::ClientTls) -> Result<(), Box<dyn std::error::Error>> {
    /// let connector = tls.connector("orders.v1.Orders")?;
    /// let channel = tonic::transport::Endpoint::from_static("https://10.0.0.7:50051")
    ///     .connect_with_connector(connector)
    ///     .await?;
    /// # let _ = channel; Ok(()) }
    /// # let _ = demo;
    /// ```
    pub fn connector(&self, service: &str) -> Result<PinnedConnector, TransportError> {
        let identity = self
            .inner
            .pins
            .get(service)
            .ok_or_else(|| TransportError::NoPin {
                service: service.to_owned(),
            })?
            .clone();
        let config = self.inner.config(identity.clone(), service.to_owned())?;
        Ok(PinnedConnector {
            tls: TlsConnector::from(Arc::new(config)),
            service: Arc::from(service),
            identity,
        })
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

/// The reason a pinned verifier refused a certificate, carried through rustls'
/// error to [`TransportError::IdentityMismatch`].
#[derive(Debug)]
struct Mismatch {
    presented: Vec<String>,
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

/// Host and port of `uri`, the host without IPv6 brackets.
fn host_port(uri: &Uri) -> Result<(String, u16), TransportError> {
    let error = |reason| TransportError::Address {
        uri: uri.to_string(),
        reason,
    };
    let host = uri.host().ok_or_else(|| error("no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = match (uri.port_u16(), uri.scheme_str()) {
        (Some(port), _) => port,
        (None, Some("https")) => 443,
        (None, Some("http")) => 80,
        (None, _) => return Err(error("no port")),
    };
    Ok((host, port))
}

async fn tcp(uri: &Uri, service: &str) -> Result<(TcpStream, String), TransportError> {
    let (host, port) = host_port(uri)?;
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|reason| TransportError::Connect {
            addr: format!("{host}:{port}"),
            service: service.to_owned(),
            reason,
        })?;
    // Small gRPC frames must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    Ok((stream, host))
}

/// Connects for one service, requiring its pinned identity: a tower
/// `Service<Uri>` for tonic's `Endpoint::connect_with_connector` and hyper-util's
/// legacy client. Made by [`ClientTls::connector`]. Cheap to clone.
#[derive(Clone)]
pub struct PinnedConnector {
    tls: TlsConnector,
    service: Arc<str>,
    identity: PeerIdentity,
}

impl std::fmt::Debug for PinnedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedConnector")
            .field("service", &self.service)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl PinnedConnector {
    /// The identity every server this connector reaches has proven: pass it to
    /// [`ClientLayer::server_identity`](crate::layer::ClientLayer::server_identity).
    pub fn identity(&self) -> &PeerIdentity {
        &self.identity
    }

    /// The service it connects for.
    pub fn service(&self) -> &str {
        &self.service
    }

    async fn connect(self, uri: Uri) -> Result<ClientIo, TransportError> {
        let (tcp, host) = tcp(&uri, &self.service).await?;
        let addr = tcp
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        // SNI only: the pinned identity, not this name, is what is verified.
        let server_name = ServerName::try_from(host).unwrap_or(ServerName::IpAddress(
            std::net::Ipv4Addr::UNSPECIFIED.into(),
        ));
        let tls = self
            .tls
            .connect(server_name, tcp)
            .await
            .map_err(|reason| self.classify(addr, reason))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok(ClientIo {
            io: TokioIo::new(Conn::Tls(Box::new(tls))),
            info: PeerInfo::new(Some(addr), Some(self.identity.clone()), true),
            h2,
        })
    }

    fn classify(&self, addr: SocketAddr, reason: io::Error) -> TransportError {
        let mismatch = reason
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .and_then(|e| match e {
                rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                    other.0.downcast_ref::<Mismatch>()
                }
                _ => None,
            });
        match mismatch {
            Some(mismatch) => TransportError::IdentityMismatch {
                addr,
                service: self.service.to_string(),
                expected: self.identity.to_string(),
                presented: mismatch.presented.clone(),
            },
            None => TransportError::Handshake {
                addr,
                service: self.service.to_string(),
                reason,
            },
        }
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = Result<ClientIo, TransportError>> + Send>>;

impl tower_service::Service<Uri> for PinnedConnector {
    type Response = ClientIo;
    type Error = TransportError;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

/// Connects over plain TCP, for development against a plaintext server. Made only
/// from an [`InsecurePlaintext`] opt-in; logged at `WARN` when made.
#[derive(Debug, Clone)]
pub struct InsecurePlaintextConnector(());

impl InsecurePlaintextConnector {
    /// A plaintext connector.
    pub fn new(_opt_in: InsecurePlaintext) -> Self {
        tracing::warn!("INSECURE: plaintext connector; servers are not authenticated");
        Self(())
    }
}

impl tower_service::Service<Uri> for InsecurePlaintextConnector {
    type Response = ClientIo;
    type Error = TransportError;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let (tcp, _) = tcp(&uri, "<plaintext>").await?;
            let addr = tcp.peer_addr().ok();
            Ok(ClientIo {
                io: TokioIo::new(Conn::Plain(tcp)),
                info: PeerInfo::new(addr, None, false),
                h2: false,
            })
        })
    }
}

/// A client connection made by [`PinnedConnector`] or
/// [`InsecurePlaintextConnector`]: hyper's `Read`/`Write`, and hyper-util's
/// `Connection` (which puts its [`PeerInfo`] into each response's extensions).
pub struct ClientIo {
    io: TokioIo<Conn<TlsStream<TcpStream>>>,
    info: PeerInfo,
    h2: bool,
}

impl std::fmt::Debug for ClientIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIo")
            .field("info", &self.info)
            .field("h2", &self.h2)
            .finish_non_exhaustive()
    }
}

impl ClientIo {
    /// What the transport established about the server.
    pub fn peer_info(&self) -> &PeerInfo {
        &self.info
    }
}

impl hyper::rt::Read for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

impl Connection for ClientIo {
    fn connected(&self) -> Connected {
        let connected = Connected::new().extra(self.info.clone());
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}
