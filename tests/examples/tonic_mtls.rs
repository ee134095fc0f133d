//! Wrapping a tonic service, both ends, over mutual TLS: the example the README
//! shows. Run it with `cargo run -p palisade-tests --example tonic_mtls`.
//!
//! It makes a throwaway CA, starts the echo service with the `add-header` plugin on
//! its server side, and calls it through a client pinned to the server's identity.

use palisade::layer::{ClientLayer, ServerLayer};
use palisade::transport::{ClientTls, ServerTls};
use palisade::{Chain, Grants, Host, HostConfig, PluginSource, PluginSpec};
use palisade_tests::echo::{EchoClient, EchoRequest, EchoService};
use palisade_tests::guests::ADD_HEADER;
use palisade_tests::pki::TestCa;
use tonic::transport::{Endpoint, Server};
use tower::Layer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ca = TestCa::new("example CA")?;

    // The chain, as anywhere else.
    let host = Host::new(HostConfig::default())?;
    let add_header = host
        .load(
            PluginSpec::new("add-header", PluginSource::File(ADD_HEADER.into()))
                .grants(Grants::none().config())
                .config([("name", "x-tenant"), ("value", "blue")]),
        )
        .await?;
    let chain = Chain::new([add_header]);

    // Server: mTLS (client certificates required), the chain around the handler.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = ServerTls::new(&ca.material("spiffe://example/echo")?)?.incoming(listener);
    tokio::spawn(
        Server::builder()
            .layer(ServerLayer::new(chain))
            .add_service(EchoService::default().server())
            .serve_with_incoming(incoming),
    );

    // Client: its own certificate, and the identity the echo server must present.
    let tls = ClientTls::new(&ca.material("spiffe://example/frontend")?)?
        .pin("echo.v1.Echo", "spiffe://example/echo")?;
    let connector = tls.connector("echo.v1.Echo")?;
    let layer = ClientLayer::new(Chain::default()).server_identity(connector.identity());
    let channel = Endpoint::from_shared(format!("https://{addr}"))?
        .connect_with_connector(connector)
        .await?;
    let mut client = EchoClient::new(layer.layer(channel));

    let reply = client
        .say(EchoRequest {
            message: "hello".into(),
        })
        .await?
        .into_inner();
    println!(
        "{} (the handler saw {:?}, peer {})",
        reply.message, reply.headers, reply.peer_identity
    );
    Ok(())
}
