//! Connecting with hyper (cargo feature `hyper`): the pinned mTLS connector and the
//! plaintext one, tower `Service<Uri>`s for tonic channels and hyper-util clients.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::CertificateError;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::client::ClientTls;
use super::error::Mismatch;
use super::identity::{PeerIdentity, PeerInfo};
use super::{Conn, InsecurePlaintext, TransportError};

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

impl ClientTls {
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
        let (config, identity) = self.pinned_config(service)?;
        Ok(PinnedConnector {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            service: Arc::from(service),
            identity,
        })
    }
}

/// Connects for one service, requiring its pinned identity: a tower
/// `Service<Uri>` for tonic's `Endpoint::connect_with_connector` and hyper-util's
/// legacy client. Made by [`ClientTls::connector`](super::ClientTls::connector). Cheap to clone.
#[derive(Clone)]
pub struct PinnedConnector {
    pub(super) tls: TlsConnector,
    pub(super) service: Arc<str>,
    pub(super) identity: PeerIdentity,
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
