//! The mTLS transport over real loopback sockets: verified identities reach the
//! handler, certificates from another CA are refused both ways, the client's pin
//! refuses an impostor with a valid certificate, plaintext needs the named opt-in,
//! and bad PEM input is a typed error naming the file.

use palisade::layer::ServerLayer;
use palisade::transport::{
    ClientTls, IdentityKind, Incoming, InsecurePlaintext, InsecurePlaintextConnector, Pem,
    ServerTls, TlsMaterial, TransportError,
};
use palisade::{Chain, ConfigError, OperatorConfig};
use palisade_tests::echo::{EchoClient, EchoRequest};
use palisade_tests::pki::TestCa;
use tonic::transport::Endpoint;

use crate::net::{
    CLIENT_ID, SERVER_ID, SERVICE, client_tls, client_with, eventually, grpc_server, listener,
    material, serve, server_with, transport_error, try_client,
};

fn say(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
    }
}

#[tokio::test]
async fn mtls_call_reaches_the_handler_with_the_verified_identity() {
    let server = server_with(vec![]).await;
    let mut client = client_with(server.addr, vec![]).await;
    let reply = client.say(say("hello")).await.unwrap().into_inner();
    assert_eq!(reply.message, "hello");
    assert_eq!(reply.peer_identity, CLIENT_ID);
    assert_eq!(server.echo.calls(), 1);
    assert_eq!(server.handshakes.accepted(), 1);
    assert_eq!(server.handshakes.refused(), 0);
}

#[tokio::test]
async fn dns_san_is_the_identity_when_there_is_no_uri_san() {
    let server = server_with(vec![]).await;
    let tls = ClientTls::new(&material("billing.internal"))
        .unwrap()
        .pin(SERVICE, SERVER_ID)
        .unwrap();
    let mut client = try_client(&tls, server.addr, vec![]).await.unwrap();
    let reply = client.say(say("hi")).await.unwrap().into_inner();
    assert_eq!(reply.peer_identity, "billing.internal");
}

/// Material whose only SAN is the DNS name `spiffe://demo/admin`, from the trusted CA.
fn dns_san_that_looks_like_a_uri() -> TlsMaterial {
    let issued = crate::net::ca()
        .issue_dns_san("spiffe://demo/admin")
        .unwrap();
    TlsMaterial {
        cert: Pem::bytes(issued.cert_pem),
        key: Pem::bytes(issued.key_pem),
        ca: Pem::bytes(crate::net::ca().cert_pem()),
    }
}

#[tokio::test]
async fn a_dns_san_that_looks_like_a_uri_is_not_a_client_identity() {
    // Decision: the certificate chains to the CA, so the handshake succeeds, but a DNS
    // SAN that is not a valid DNS name names nobody: the caller is anonymous (what
    // rbac and every plugin then see), never the URI identity its text spells.
    let server = server_with(vec![]).await;
    let tls = ClientTls::new(&dns_san_that_looks_like_a_uri())
        .unwrap()
        .pin(SERVICE, SERVER_ID)
        .unwrap();
    let mut client = try_client(&tls, server.addr, vec![]).await.unwrap();
    let reply = client.say(say("as admin?")).await.unwrap().into_inner();
    assert_eq!(reply.peer_identity, "");
    assert_eq!(server.handshakes.accepted(), 1);

    // A valid DNS SAN still is an identity (in lowercase, its canonical form).
    let tls = ClientTls::new(&material("Billing.Internal"))
        .unwrap()
        .pin(SERVICE, SERVER_ID)
        .unwrap();
    let mut client = try_client(&tls, server.addr, vec![]).await.unwrap();
    let reply = client.say(say("hi")).await.unwrap().into_inner();
    assert_eq!(reply.peer_identity, "billing.internal");
}

#[tokio::test]
async fn a_dns_san_that_looks_like_a_uri_does_not_satisfy_a_uri_pin() {
    let impostor = grpc_server(
        &dns_san_that_looks_like_a_uri(),
        ServerLayer::new(Chain::default()),
    )
    .await;
    let tls = ClientTls::new(&material(CLIENT_ID))
        .unwrap()
        .pin(SERVICE, "spiffe://demo/admin")
        .unwrap();
    let error = try_client(&tls, impostor.addr, vec![])
        .await
        .expect_err("a DNS SAN satisfied a URI pin");
    match transport_error(&error) {
        Some(TransportError::IdentityMismatch {
            expected,
            presented,
            ..
        }) => {
            assert_eq!(expected, "spiffe://demo/admin");
            assert_eq!(
                presented,
                &["DNS:spiffe://demo/admin (not a valid DNS name)".to_owned()]
            );
        }
        other => panic!("expected IdentityMismatch, got {other:?} from {error:?}"),
    }
    assert_eq!(impostor.echo.calls(), 0);
}

#[tokio::test]
async fn a_dns_pin_is_satisfied_only_by_a_dns_san() {
    // A server whose URI SAN reads like a host name cannot meet a DNS pin either way
    // round: `dns://orders.internal` is a URI, not the DNS name `orders.internal`.
    let server = grpc_server(
        &material("dns://orders.internal"),
        ServerLayer::new(Chain::default()),
    )
    .await;
    let tls = ClientTls::new(&material(CLIENT_ID))
        .unwrap()
        .pin(SERVICE, "orders.internal")
        .unwrap();
    let error = try_client(&tls, server.addr, vec![]).await.unwrap_err();
    assert!(
        matches!(
            transport_error(&error),
            Some(TransportError::IdentityMismatch { presented, .. })
                if presented == &["URI:dns://orders.internal".to_owned()]
        ),
        "{error:?}"
    );
    // The real DNS SAN meets it, in any case.
    let server = grpc_server(
        &material("Orders.Internal"),
        ServerLayer::new(Chain::default()),
    )
    .await;
    let mut client = try_client(&tls, server.addr, vec![]).await.unwrap();
    client.say(say("hello")).await.unwrap();
}

#[test]
fn a_pin_is_a_uri_or_a_valid_dns_name() {
    let tls = client_tls()
        .pin("a", "spiffe://demo/admin")
        .unwrap()
        .pin("b", "Orders.Internal")
        .unwrap();
    assert_eq!(tls.pinned("a").unwrap().kind(), IdentityKind::Uri);
    assert_eq!(tls.pinned("b").unwrap().kind(), IdentityKind::Dns);
    assert_eq!(tls.pinned("b").unwrap().as_str(), "orders.internal");
    for (identity, reason) in [
        (
            "spiffe//demo/admin",
            "the identity must be a URI (`spiffe://trust-domain/path`) or a valid DNS name",
        ),
        (
            "-orders.internal",
            "the identity must be a URI (`spiffe://trust-domain/path`) or a valid DNS name",
        ),
        (
            "1spiffe://demo/admin",
            "a URI identity needs a scheme of letters, digits, `+`, `-` or `.` before its `:` (`spiffe://trust-domain/path`)",
        ),
    ] {
        let error = client_tls().pin("orders.v1.Orders", identity).unwrap_err();
        assert!(
            matches!(&error, TransportError::InvalidPin { reason: r, .. } if *r == reason),
            "{identity}: {error}"
        );
    }
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let server = server_with(vec![]).await;
    // A client with a certificate from a CA the server does not trust (it trusts the
    // server's CA itself, so only the server can refuse).
    let rogue = TestCa::new("rogue CA").unwrap().issue(CLIENT_ID).unwrap();
    let tls = ClientTls::new(&TlsMaterial {
        cert: Pem::bytes(rogue.cert_pem),
        key: Pem::bytes(rogue.key_pem),
        ca: Pem::bytes(crate::net::ca().cert_pem()),
    })
    .unwrap()
    .pin(SERVICE, SERVER_ID)
    .unwrap();
    // In TLS 1.3 the server checks the client's certificate after the client has
    // finished its side, so the refusal surfaces at connect or at the first call.
    let outcome = match try_client(&tls, server.addr, vec![]).await {
        Err(error) => Err(error.to_string()),
        Ok(mut client) => client
            .say(say("let me in"))
            .await
            .map(|_| ())
            .map_err(|s| s.to_string()),
    };
    assert!(
        outcome.is_err(),
        "a foreign client certificate was accepted"
    );
    assert!(eventually(|| server.handshakes.refused() == 1).await);
    assert_eq!(server.echo.calls(), 0);
    assert_eq!(server.handshakes.accepted(), 0);

    // The positive control, against the same server.
    let mut client = client_with(server.addr, vec![]).await;
    client.say(say("hello")).await.unwrap();
    assert_eq!(server.echo.calls(), 1);
}

#[tokio::test]
async fn client_without_a_certificate_is_refused() {
    use std::sync::Arc;
    let server = server_with(vec![]).await;
    // A raw rustls client that presents no certificate.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("echo").unwrap();
    if let Ok(mut tls) = connector.connect(name, tcp).await {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        let mut buf = [0u8; 64];
        // The server's alert (or a closed connection) is all that comes back.
        assert!(!matches!(tls.read(&mut buf).await, Ok(n) if n > 0));
    }
    assert!(eventually(|| server.handshakes.refused() == 1).await);
    assert_eq!(server.echo.calls(), 0);
}

/// Accepts any server certificate: the test is about the server refusing us.
#[derive(Debug)]
struct AcceptAnyServer;

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[tokio::test]
async fn pinning_refuses_an_impostor_with_a_valid_certificate() {
    // Same CA, another identity: what a poisoned registry entry would point at.
    let impostor = grpc_server(
        &material("spiffe://test/impostor"),
        ServerLayer::new(Chain::default()),
    )
    .await;
    let error = try_client(&client_tls(), impostor.addr, vec![])
        .await
        .expect_err("the impostor was accepted");
    match transport_error(&error) {
        Some(TransportError::IdentityMismatch {
            service,
            expected,
            presented,
            ..
        }) => {
            assert_eq!(service, SERVICE);
            assert_eq!(expected, SERVER_ID);
            assert_eq!(presented, &["URI:spiffe://test/impostor".to_owned()]);
        }
        other => panic!("expected IdentityMismatch, got {other:?} from {error:?}"),
    }
    assert!(
        transport_error(&error)
            .unwrap()
            .to_string()
            .contains("is not `echo.v1.Echo`: expected identity spiffe://test/echo")
    );
    assert_eq!(impostor.echo.calls(), 0);

    // The same client reaches the real server.
    let server = server_with(vec![]).await;
    let mut client = client_with(server.addr, vec![]).await;
    client.say(say("hello")).await.unwrap();
}

#[tokio::test]
async fn server_certificate_from_another_ca_is_refused() {
    let rogue = TestCa::new("rogue CA").unwrap();
    // The right identity, signed by the wrong CA.
    let server = grpc_server(
        &rogue.material(SERVER_ID).unwrap(),
        ServerLayer::new(Chain::default()),
    )
    .await;
    let error = try_client(&client_tls(), server.addr, vec![])
        .await
        .expect_err("a server from another CA was accepted");
    match transport_error(&error) {
        Some(error @ TransportError::Handshake { service, .. }) => {
            assert_eq!(service, SERVICE);
            assert!(error.to_string().contains("UnknownIssuer"), "{error}");
        }
        other => panic!("expected Handshake, got {other:?} from {error:?}"),
    }
    assert_eq!(server.echo.calls(), 0);
}

#[tokio::test]
async fn a_service_without_a_pin_gets_no_connector() {
    let error = client_tls().connector("orders.v1.Orders").unwrap_err();
    assert!(matches!(&error, TransportError::NoPin { service } if service == "orders.v1.Orders"));
    let error = client_tls()
        .pin("orders.v1.Orders", "spiffe://test/*")
        .unwrap_err();
    assert!(
        matches!(error, TransportError::InvalidPin { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn plaintext_to_a_tls_server_is_refused() {
    let server = server_with(vec![]).await;
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_with_connector(InsecurePlaintextConnector::new(
            InsecurePlaintext::insecure_allow(),
        ))
        .await;
    let outcome = match channel {
        Err(error) => Err(error.to_string()),
        Ok(channel) => EchoClient::new(channel)
            .say(say("over plaintext"))
            .await
            .map(|_| ())
            .map_err(|s| s.to_string()),
    };
    assert!(outcome.is_err(), "plaintext reached a TLS server");
    assert!(eventually(|| server.handshakes.refused() == 1).await);
    assert_eq!(server.echo.calls(), 0);
}

#[tokio::test]
async fn plaintext_works_only_through_the_named_opt_in() {
    let opt_in = InsecurePlaintext::insecure_allow();
    let server = serve(
        Incoming::insecure_plaintext(listener().await, opt_in),
        ServerLayer::new(Chain::default()),
    );
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_with_connector(InsecurePlaintextConnector::new(opt_in))
        .await
        .unwrap();
    let reply = EchoClient::new(channel)
        .say(say("in the clear"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message, "in the clear");
    // No TLS, no identity.
    assert_eq!(reply.peer_identity, "");

    // A TLS client refuses the plaintext server.
    assert!(
        try_client(&client_tls(), server.addr, vec![])
            .await
            .is_err()
    );
}

#[test]
fn plaintext_opt_in_from_config_only_in_development() {
    let development = OperatorConfig::from_str(
        "mode = \"development\"\n[transport]\nplaintext = \"insecure-allow\"\n",
        ".",
    )
    .unwrap();
    assert!(development.transport.plaintext_allowed());
    development.transport.insecure_plaintext().unwrap();

    let lockdown = OperatorConfig::from_str(
        "mode = \"lockdown\"\n[trust]\nkeys = [\"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"]\n\
         [transport]\nplaintext = \"insecure-allow\"\n",
        ".",
    )
    .unwrap_err();
    assert!(
        matches!(&lockdown, ConfigError::Lockdown { setting, .. } if setting == "transport.plaintext = \"insecure-allow\""),
        "{lockdown}"
    );

    // Without the setting, no opt-in, in either mode.
    let default = OperatorConfig::from_str("mode = \"development\"\n", ".").unwrap();
    assert!(matches!(
        default.transport.insecure_plaintext(),
        Err(TransportError::PlaintextRefused)
    ));
    assert!(matches!(
        default.transport.server_tls(),
        Err(TransportError::NoTlsMaterial)
    ));
}

/// A fresh directory for PEM files.
fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("palisade-transport-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn config_files_make_both_ends_and_pins() {
    let dir = temp_dir("files");
    let server = crate::net::ca().issue(SERVER_ID).unwrap();
    let client = crate::net::ca().issue(CLIENT_ID).unwrap();
    std::fs::write(dir.join("ca.pem"), crate::net::ca().cert_pem()).unwrap();
    std::fs::write(dir.join("server.pem"), &server.cert_pem).unwrap();
    std::fs::write(dir.join("server.key"), &server.key_pem).unwrap();
    std::fs::write(dir.join("client.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.join("client.key"), &client.key_pem).unwrap();
    let config = |name: &str| {
        let text = format!(
            "mode = \"development\"\n[transport]\ncert = \"{name}.pem\"\nkey = \"{name}.key\"\nca = \"ca.pem\"\n\
             [transport.pins]\n\"{SERVICE}\" = \"{SERVER_ID}\"\n"
        );
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
        OperatorConfig::from_file(dir.join(format!("{name}.toml"))).unwrap()
    };
    let server_config = config("server");
    let client_config = config("client");
    let incoming = server_config
        .transport
        .server_tls()
        .unwrap()
        .incoming(listener().await);
    let server = serve(incoming, ServerLayer::new(Chain::default()));
    let tls = client_config.transport.client_tls().unwrap();
    assert_eq!(tls.pinned(SERVICE).unwrap().as_str(), SERVER_ID);
    let mut client = try_client(&tls, server.addr, vec![]).await.unwrap();
    let reply = client.say(say("from files")).await.unwrap().into_inner();
    assert_eq!(reply.peer_identity, CLIENT_ID);
}

#[test]
fn bad_pem_input_is_a_typed_error_naming_the_input() {
    let dir = temp_dir("bad-pem");
    let good = crate::net::ca().issue(SERVER_ID).unwrap();
    let other = crate::net::ca().issue(SERVER_ID).unwrap();
    let ca = Pem::bytes(crate::net::ca().cert_pem());

    // A file that does not exist: named, with the OS error.
    let missing = dir.join("nope.pem");
    let error = ServerTls::new(&TlsMaterial {
        cert: Pem::file(&missing),
        key: Pem::bytes(good.key_pem.clone()),
        ca: ca.clone(),
    })
    .unwrap_err();
    assert!(
        matches!(
            &error,
            TransportError::Read {
                what: "certificate chain",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );

    // A key file holding a certificate: no private key in it.
    let key_path = dir.join("server.key");
    std::fs::write(&key_path, &good.cert_pem).unwrap();
    let error = ServerTls::new(&TlsMaterial {
        cert: Pem::bytes(good.cert_pem.clone()),
        key: Pem::file(&key_path),
        ca: ca.clone(),
    })
    .unwrap_err();
    assert!(
        matches!(
            &error,
            TransportError::Missing {
                what: "private key",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("server.key"), "{error}");

    // A CA bundle that is not PEM at all.
    let error = ClientTls::new(&TlsMaterial {
        cert: Pem::bytes(good.cert_pem.clone()),
        key: Pem::bytes(good.key_pem.clone()),
        ca: Pem::bytes("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
    })
    .unwrap_err();
    assert!(
        matches!(
            &error,
            TransportError::Pem {
                what: "CA bundle",
                ..
            }
        ),
        "{error}"
    );

    // Another certificate's key.
    for error in [
        ServerTls::new(&TlsMaterial {
            cert: Pem::bytes(good.cert_pem.clone()),
            key: Pem::bytes(other.key_pem.clone()),
            ca: ca.clone(),
        })
        .unwrap_err(),
        ClientTls::new(&TlsMaterial {
            cert: Pem::bytes(good.cert_pem.clone()),
            key: Pem::bytes(other.key_pem.clone()),
            ca: ca.clone(),
        })
        .unwrap_err(),
    ] {
        assert!(
            matches!(error, TransportError::KeyMismatch { .. }),
            "{error}"
        );
    }
}
