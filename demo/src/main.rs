//! Palisade demo, from a fresh clone: makes a development CA and certificates, a
//! publisher key with which it signs the example plugins, and a lockdown operator
//! config; starts a tonic orders service behind the plugin chain over mutual TLS on
//! loopback; then calls it as two clients and prints each outcome with its gRPC
//! status. Finally it shows a plaintext attempt refused twice (at the TLS port, and
//! at config check) and what happens to two hostile plugins.
//!
//! Run it with `scripts/demo.sh` (or `cargo run -p palisade-demo`).

mod orders;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use palisade::LoadConfig;
use palisade::layer::ServerLayer;
use palisade::transport::{ClientTls, TlsMaterial};
use palisade::{
    CallInfo, Chain, Decision, FailurePolicy, Grants, Host, HostConfig, KeyRing, Limits,
    OperatorConfig, PluginSource, PluginSpec, SigningKey, Verdict,
};
use palisade_tests::guests;
use palisade_tests::packages::sign_example;
use palisade_tests::pki::TestCa;
use sha2::Sha256;
use tonic::transport::{Channel, Endpoint, Server};

use crate::orders::{DeleteOrderRequest, GetOrderRequest, OrderStore, OrdersClient, OrdersServer};

/// The demo's HMAC secret. It lives in the host's key ring; plugins only name it.
const DEMO_SECRET: &[u8] = b"demo secret: plugins never see these bytes";

const SERVICE: &str = "orders.v1.Orders";
const SERVER_ID: &str = "spiffe://demo/orders";
const FRONTEND: &str = "spiffe://demo/frontend";
const ADMIN: &str = "spiffe://demo/admin";

/// The example plugins, in chain order: authentication, then authorization, then
/// rate limiting (a call refused earlier spends no tokens), then a header.
const PLUGINS: [(&str, &str); 4] = [
    ("hmac-auth", guests::HMAC_AUTH),
    ("rbac", guests::RBAC),
    ("rate-limit", guests::RATE_LIMIT),
    ("add-header", guests::ADD_HEADER),
];

fn main() -> ExitCode {
    match tokio::runtime::Runtime::new()
        .context("cannot start the tokio runtime")
        .and_then(|rt| rt.block_on(run()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A directory for the demo's files, removed at the end.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// The operator config: lockdown, the publisher's key, mTLS, the four plugins.
fn config_text(publisher: &str, transport_extra: &str) -> String {
    format!(
        r#"mode = "lockdown"
audit_log = "audit.jsonl"

[trust]
keys = ["{publisher}"]

[transport]
cert = "orders.pem"
key = "orders.key"
ca = "ca.pem"
{transport_extra}
[[plugins]]
name = "hmac-auth"
package = "hmac-auth.pkg"
grants = {{ config = {{}}, clock = {{}}, kv = {{ quota_bytes = 16384 }}, crypto = {{ keys = {{ "hmac-auth" = "verify" }} }} }}

[[plugins]]
name = "rbac"
package = "rbac.pkg"
grants = {{ config = {{}}, log = {{}} }}
config = {{ rules = "allow {FRONTEND} {SERVICE}/Get*\nallow {ADMIN} {SERVICE}/*" }}

[[plugins]]
name = "rate-limit"
package = "rate-limit.pkg"
grants = {{ kv = {{ quota_bytes = 16384 }}, clock = {{}}, config = {{}} }}
config = {{ capacity = "2", refill_per_sec = "0.5" }}

[[plugins]]
name = "add-header"
package = "add-header.pkg"
grants = {{ config = {{}} }}
config = {{ name = "x-checked-by", value = "palisade" }}
"#
    )
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("palisade=error")
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();

    // 1. A development CA with certificates for the service and two callers.
    let dir = WorkDir(std::env::temp_dir().join(format!("palisade-demo-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).context("cannot create the demo directory")?;
    let ca = TestCa::new("palisade demo CA")?;
    let server = ca.issue(SERVER_ID)?;
    write(&dir.0, "ca.pem", ca.cert_pem())?;
    write(&dir.0, "orders.pem", &server.cert_pem)?;
    write(&dir.0, "orders.key", &server.key_pem)?;
    println!("==> development CA and certificates ({SERVER_ID}, {FRONTEND}, {ADMIN})");

    // 2. A publisher key (random, not a development key) signs the example plugins.
    // Wiped when dropped (a plain `fill(0)` of a dead buffer may be optimised away).
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let publisher = SigningKey::from_bytes(&seed);
    drop(seed);
    for (name, component) in PLUGINS {
        let package = sign_example(name, component, &publisher)
            .map_err(|e| anyhow::anyhow!("cannot sign {name}: {e}"))?;
        write(&dir.0, &format!("{name}.pkg"), package)?;
    }
    println!(
        "==> signed {} plugins with publisher key {}",
        PLUGINS.len(),
        publisher.key_id()
    );

    // 3. A lockdown config trusting that key; every package is verified at load.
    let publisher_hex = hex::encode(publisher.public_key().to_bytes());
    write(&dir.0, "palisade.toml", config_text(&publisher_hex, ""))?;
    let config = OperatorConfig::from_file(dir.0.join("palisade.toml"))?;
    let mut keys = KeyRing::new();
    keys.add_hmac_key("hmac-auth", DEMO_SECRET)?;
    let host = Host::with_keys(HostConfig::default(), keys)?;
    let chain = host.load_config(&config).await?;
    println!(
        "==> lockdown config: {} packages verified and loaded",
        chain.plugins().len()
    );

    // 4. The orders service behind the chain, over mTLS on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = config.transport.server_tls()?.incoming(listener);
    let handshakes = incoming.stats();
    tokio::spawn(
        Server::builder()
            .layer(ServerLayer::new(chain))
            .add_service(OrdersServer::new(OrderStore))
            .serve_with_incoming(incoming),
    );
    println!("==> {SERVICE} on {addr} (mTLS, client certificates required)\n");

    println!("chain: hmac-auth -> rbac -> rate-limit -> add-header\n");
    let frontend = client(&ca.material(FRONTEND)?, addr).await?;
    let admin = client(&ca.material(ADMIN)?, addr).await?;
    let calls = [
        (
            "frontend reads an order",
            FRONTEND,
            &frontend,
            "GetOrder",
            Signature::Good,
        ),
        (
            "frontend tries to delete",
            FRONTEND,
            &frontend,
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "admin deletes (1st call)",
            ADMIN,
            &admin,
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "admin deletes (2nd call)",
            ADMIN,
            &admin,
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "admin deletes (3rd call)",
            ADMIN,
            &admin,
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "forged signature",
            ADMIN,
            &admin,
            "GetOrder",
            Signature::Forged,
        ),
        (
            "no signature",
            FRONTEND,
            &frontend,
            "GetOrder",
            Signature::Missing,
        ),
    ];
    for (label, identity, client, method, signature) in calls {
        let outcome = call(client.clone(), method, signature).await?;
        println!("{label:<26} {identity:<24} {method:<12} => {outcome}");
    }

    println!("\nplaintext:");
    let refused_before = handshakes.refused();
    let code = match plaintext_call(addr).await {
        Ok(()) => anyhow::bail!("a plaintext call reached the service"),
        Err(code) => code,
    };
    // The server counts the refusal in its handshake task: wait for it (bounded).
    for _ in 0..500 {
        if handshakes.refused() > refused_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "  plaintext call to the TLS port     => {code}: the server refused the TLS handshake ({} refused); no call was made",
        handshakes.refused() - refused_before
    );
    let insecure = config_text(&publisher_hex, "plaintext = \"insecure-allow\"\n");
    match OperatorConfig::from_str(&insecure, &dir.0) {
        Ok(_) => anyhow::bail!("lockdown accepted plaintext"),
        Err(error) => {
            println!("  lockdown config allowing plaintext => refused at config check: {error}")
        }
    }

    println!("\nhostile plugins:");
    hostile(&host).await?;
    Ok(())
}

async fn client(
    material: &TlsMaterial,
    addr: std::net::SocketAddr,
) -> anyhow::Result<OrdersClient<Channel>> {
    let connector = ClientTls::new(material)?
        .pin(SERVICE, SERVER_ID)?
        .connector(SERVICE)?;
    let channel = Endpoint::from_shared(format!("https://{addr}"))?
        .connect_with_connector(connector)
        .await?;
    Ok(OrdersClient::new(channel))
}

#[derive(Clone, Copy)]
enum Signature {
    Good,
    Forged,
    Missing,
}

/// `x-timestamp`, `x-nonce` and `x-signature` as hmac-auth expects them, with a
/// fresh random nonce for every call (hmac-auth refuses a nonce it has seen).
fn sign<T>(
    request: &mut tonic::Request<T>,
    method: &str,
    signature: Signature,
) -> anyhow::Result<()> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)?
        .as_millis()
        .to_string();
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random)
        .map_err(|e| anyhow::anyhow!("no randomness for a nonce: {e}"))?;
    let nonce = hex::encode(random);
    let secret: &[u8] = match signature {
        Signature::Forged => b"a guess",
        _ => DEMO_SECRET,
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)?;
    mac.update(format!("{SERVICE}/{method}\n{timestamp}\n{nonce}").as_bytes());
    let tag = hex::encode(mac.finalize().into_bytes());
    let metadata = request.metadata_mut();
    metadata.insert("x-timestamp", timestamp.parse()?);
    metadata.insert("x-nonce", nonce.parse()?);
    if !matches!(signature, Signature::Missing) {
        metadata.insert("x-signature", tag.parse()?);
    }
    Ok(())
}

/// One call, described with its gRPC status.
async fn call(
    mut client: OrdersClient<Channel>,
    method: &str,
    signature: Signature,
) -> anyhow::Result<String> {
    let status = |status: tonic::Status| format!("{:?}: {}", status.code(), status.message());
    Ok(match method {
        "GetOrder" => {
            let mut request = tonic::Request::new(GetOrderRequest { id: 42 });
            sign(&mut request, method, signature)?;
            match client.get_order(request).await {
                Ok(reply) => {
                    let order = reply.into_inner();
                    format!(
                        "Ok: order {} {:?} (handler saw x-checked-by: {})",
                        order.id, order.item, order.checked_by
                    )
                }
                Err(e) => status(e),
            }
        }
        _ => {
            let mut request = tonic::Request::new(DeleteOrderRequest { id: 42 });
            sign(&mut request, method, signature)?;
            match client.delete_order(request).await {
                Ok(_) => "Ok: deleted".to_owned(),
                Err(e) => status(e),
            }
        }
    })
}

/// A call over a plaintext HTTP/2 connection to the TLS port: what it ends with.
async fn plaintext_call(addr: std::net::SocketAddr) -> Result<(), String> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect_lazy();
    let mut client = OrdersClient::new(channel);
    match client.get_order(GetOrderRequest { id: 42 }).await {
        Ok(_) => Ok(()),
        Err(status) => Err(format!("{:?}", status.code())),
    }
}

fn spec(name: &str, path: &str) -> PluginSpec {
    PluginSpec::new(name, PluginSource::File(path.into()))
}

async fn hostile(host: &Host) -> anyhow::Result<()> {
    match host
        .load(spec("read-file", guests::HOSTILE_READ_FILE).grants(Grants::none().log().clock()))
        .await
    {
        Ok(_) => anyhow::bail!("a plugin importing wasi:filesystem was loaded"),
        Err(e) => println!("  read-file     refused at load: {e}"),
    }
    let looping = host
        .load(
            spec("loop-forever", guests::HOSTILE_LOOP_FOREVER)
                .limits(Limits::default().with_call_timeout(Duration::from_millis(50)))
                .failure_policy(FailurePolicy::FailClosed),
        )
        .await?;
    let chain = Chain::new([looping]);
    let call = std::sync::Arc::new(CallInfo::server(SERVICE, "GetOrder"));
    let mut metadata = http::HeaderMap::new();
    metadata.insert("x-attack", http::HeaderValue::from_static("1"));
    let verdict = chain.on_request(&call, &mut metadata).await;
    println!("  loop-forever  {}", describe(&verdict));
    Ok(())
}

fn describe(verdict: &Verdict) -> String {
    let by = verdict
        .decided_by
        .as_deref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    match &verdict.decision {
        Decision::Continue => "CONTINUE".to_owned(),
        Decision::Reject { code, message } => format!("REJECT {code:?}{by} {message}"),
        Decision::Respond(reply) => format!("RESPOND {:?}{by}", reply.code),
    }
}
