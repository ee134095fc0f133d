//! Loopback gRPC servers and clients over real mutual TLS, for the transport and
//! layer tests: one test CA for the whole binary, certificates made at run time.

use std::net::SocketAddr;
use std::sync::OnceLock;

use palisade::layer::{ClientLayer, ClientService, ServerLayer};
use palisade::transport::{
    ClientTls, HandshakeStats, Incoming, ServerTls, TlsMaterial, TransportError,
};
use palisade::{Chain, Plugin};
use palisade_tests::echo::{EchoClient, EchoService};
use palisade_tests::pki::TestCa;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint, Server};
use tower::Layer;

/// The service every test calls, and the identities on each end.
pub(crate) const SERVICE: &str = "echo.v1.Echo";
pub(crate) const SERVER_ID: &str = "spiffe://test/echo";
pub(crate) const CLIENT_ID: &str = "spiffe://test/frontend";

/// The CA both ends trust.
pub(crate) fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa::new("palisade test CA").unwrap())
}

/// Material for `identity` from the shared CA.
pub(crate) fn material(identity: &str) -> TlsMaterial {
    ca().material(identity).unwrap()
}

/// A client configuration for [`CLIENT_ID`], pinning [`SERVICE`] to [`SERVER_ID`].
pub(crate) fn client_tls() -> ClientTls {
    ClientTls::new(&material(CLIENT_ID))
        .unwrap()
        .pin(SERVICE, SERVER_ID)
        .unwrap()
}

/// A tonic echo server on a loopback port, stopped when dropped.
pub(crate) struct GrpcServer {
    pub(crate) addr: SocketAddr,
    pub(crate) echo: EchoService,
    pub(crate) handshakes: HandshakeStats,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// An mTLS echo server presenting `material`, its handler wrapped in `layer`.
pub(crate) async fn grpc_server(material: &TlsMaterial, layer: ServerLayer) -> GrpcServer {
    let incoming = ServerTls::new(material).unwrap().incoming(listener().await);
    serve(incoming, layer)
}

/// An echo server on `incoming`, its handler wrapped in `layer`.
pub(crate) fn serve(incoming: Incoming, layer: ServerLayer) -> GrpcServer {
    let addr = incoming.local_addr().unwrap();
    let handshakes = incoming.stats();
    let echo = EchoService::default();
    let service = echo.server();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    GrpcServer {
        addr,
        echo,
        handshakes,
        stop: Some(stop),
    }
}

/// The usual server: [`SERVER_ID`], with `plugins` as its chain.
pub(crate) async fn server_with(plugins: Vec<Plugin>) -> GrpcServer {
    grpc_server(&material(SERVER_ID), ServerLayer::new(Chain::new(plugins))).await
}

pub(crate) type Client = EchoClient<ClientService<Channel>>;

/// A connected echo client for [`SERVICE`] at `addr`, with `plugins` as its chain.
pub(crate) async fn try_client(
    tls: &ClientTls,
    addr: SocketAddr,
    plugins: Vec<Plugin>,
) -> Result<Client, tonic::transport::Error> {
    let connector = tls.connector(SERVICE).unwrap();
    let layer = ClientLayer::new(Chain::new(plugins)).server_identity(connector.identity());
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .connect_with_connector(connector)
        .await?;
    Ok(EchoClient::new(layer.layer(channel)))
}

/// The usual client: [`CLIENT_ID`], pinning the server, with `plugins` as its chain.
pub(crate) async fn client_with(addr: SocketAddr, plugins: Vec<Plugin>) -> Client {
    try_client(&client_tls(), addr, plugins).await.unwrap()
}

/// The [`TransportError`] somewhere in `error`'s source chain.
pub(crate) fn transport_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a TransportError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<TransportError>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// Waits (a bounded number of short sleeps: a liveness bound, not a timing
/// assertion) until `done` holds.
pub(crate) async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    done()
}
