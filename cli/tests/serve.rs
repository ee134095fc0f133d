//! `palisade serve` in-process, in front of a plain tonic echo service on loopback
//! that knows nothing of Palisade: real signed packages, real mTLS on the proxy's
//! side, real sockets on both.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use palisade::TrustError;
use palisade::transport::{ClientTls, Incoming, InsecurePlaintext, TlsMaterial};
use palisade::{Error, Mode, SigningKey, VerifyError};
use palisade_cli::serve::{ReloadError, Serve};
use palisade_tests::echo::{EchoClient, EchoRequest, EchoService, StreamRequest};
use palisade_tests::guests::{ADD_HEADER, RBAC};
use palisade_tests::packages::sign_example;
use palisade_tests::pki::TestCa;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::{Channel, Endpoint, Server};

const SERVICE: &str = "echo.v1.Echo";
const PROXY_ID: &str = "spiffe://test/proxy";
const CLIENT_ID: &str = "spiffe://test/frontend";

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(test: &str) -> TempDir {
    TempDir(palisade_tests::temp_dir("serve", test))
}

/// The plain echo service the proxy protects: no TLS, no layer.
struct Upstream {
    addr: SocketAddr,
    echo: EchoService,
    _stop: oneshot::Sender<()>,
}

async fn upstream() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = Incoming::insecure_plaintext(listener, InsecurePlaintext::insecure_allow());
    let echo = EchoService::default();
    let service = echo.server();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Upstream {
        addr,
        echo,
        _stop: stop,
    }
}

/// Everything a proxy needs on disk: CA and certificates, a publisher key and the
/// packages it signed, and the config file.
struct Setup {
    dir: TempDir,
    ca: TestCa,
    key: SigningKey,
    upstream: Upstream,
}

/// What the config says, beyond the fixed parts.
struct Options<'a> {
    reload: Option<&'a str>,
    rules: &'a str,
    tenant: &'a str,
    /// `[serve] service`.
    service: Option<&'a str>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            reload: Some("verified"),
            rules: "allow spiffe://test/frontend echo.v1.Echo/Say",
            tenant: "blue",
            service: None,
        }
    }
}

impl Setup {
    async fn new(test: &str) -> Self {
        let dir = temp_dir(test);
        let ca = TestCa::new("serve test CA").unwrap();
        let issued = ca.issue(PROXY_ID).unwrap();
        std::fs::write(dir.0.join("ca.pem"), ca.cert_pem()).unwrap();
        std::fs::write(dir.0.join("proxy.pem"), issued.cert_pem).unwrap();
        std::fs::write(dir.0.join("proxy.key"), issued.key_pem).unwrap();
        let key = SigningKey::from_bytes(&[42; 32]);
        for (plugin, component) in [("rbac", RBAC), ("add-header", ADD_HEADER)] {
            let package = sign_example(plugin, component, &key).unwrap();
            std::fs::write(dir.0.join(format!("{plugin}.pkg")), package).unwrap();
        }
        Self {
            dir,
            ca,
            key,
            upstream: upstream().await,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.0.join("palisade.toml")
    }

    fn write_config(&self, options: &Options<'_>) -> PathBuf {
        self.write_config_to(options, self.upstream.addr)
    }

    fn write_config_to(&self, options: &Options<'_>, upstream: SocketAddr) -> PathBuf {
        let mut reload = options
            .reload
            .map(|r| format!("reload = \"{r}\"\n"))
            .unwrap_or_default();
        if let Some(service) = options.service {
            reload.push_str(&format!("service = \"{service}\"\n"));
        }
        let text = format!(
            r#"mode = "lockdown"
audit_log = "audit.jsonl"

[trust]
keys = ["{key}"]

[transport]
cert = "proxy.pem"
key = "proxy.key"
ca = "ca.pem"

[serve]
listen = "127.0.0.1:0"
upstream = "http://{upstream}"
metrics = "127.0.0.1:0"
{reload}
[[plugins]]
name = "rbac"
package = "rbac.pkg"
grants = {{ config = {{}}, log = {{}} }}
config = {{ rules = "{rules}" }}
# The machine running the tests may be loaded (and compiling the new chain during a
# reload): the deadline is not what these tests are about.
limits = {{ call_timeout_ms = 10000 }}

[[plugins]]
name = "add-header"
package = "add-header.pkg"
grants = {{ config = {{}} }}
config = {{ name = "x-tenant", value = "{tenant}" }}
limits = {{ call_timeout_ms = 10000 }}
"#,
            key = hex::encode(self.key.public_key().to_bytes()),
            upstream = upstream,
            rules = options.rules,
            tenant = options.tenant,
        );
        std::fs::write(self.path(), text).unwrap();
        self.path()
    }

    /// The audit log's events, as JSON values.
    fn audit_events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.0.join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The events of kind `event`.
    fn audited(&self, event: &str) -> Vec<serde_json::Value> {
        self.audit_events()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    fn client_material(&self) -> TlsMaterial {
        self.ca.material(CLIENT_ID).unwrap()
    }
}

/// A started proxy, serving until dropped.
struct Running {
    addr: SocketAddr,
    metrics: SocketAddr,
    reloader: palisade_cli::serve::Reloader,
    chain: palisade::layer::SharedChain,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap();
    }
}

async fn start(path: &Path) -> Running {
    let serve = Serve::start(path).await.unwrap();
    let addr = serve.local_addr().unwrap();
    let metrics = serve.metrics_addr().unwrap();
    let reloader = serve.reloader();
    let chain = serve.chain();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        metrics,
        reloader,
        chain,
        stop: Some(stop),
        task,
    }
}

async fn client(material: &TlsMaterial, addr: SocketAddr) -> EchoClient<Channel> {
    let connector = ClientTls::new(material)
        .unwrap()
        .pin(SERVICE, PROXY_ID)
        .unwrap()
        .connector(SERVICE)
        .unwrap();
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .connect_with_connector(connector)
        .await
        .unwrap();
    EchoClient::new(channel)
}

fn say(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
    }
}

/// The value of `x-tenant` as the upstream saw it.
fn tenant(headers: &[String]) -> Option<&str> {
    headers.iter().find_map(|h| h.strip_prefix("x-tenant="))
}

#[tokio::test]
async fn serve_forwards_an_allowed_call_with_plugin_metadata_and_the_verified_caller() {
    let setup = Setup::new("allowed").await;
    let proxy = start(&setup.write_config(&Options::default())).await;
    let mut client = client(&setup.client_material(), proxy.addr).await;
    let mut request = tonic::Request::new(say("hello"));
    // A caller cannot claim an identity: the layer drops this before anything runs.
    request.metadata_mut().insert(
        "x-palisade-peer-identity",
        "spiffe://test/admin".parse().unwrap(),
    );
    let response = client.say(request).await.unwrap();
    let handled_by = response.metadata().get("x-handled-by").cloned();
    let reply = response.into_inner();
    assert_eq!(reply.message, "hello");
    assert_eq!(tenant(&reply.headers), Some("blue"), "{:?}", reply.headers);
    assert!(
        reply
            .headers
            .contains(&format!("x-palisade-peer-identity={CLIENT_ID}")),
        "{:?}",
        reply.headers
    );
    // The upstream's own response metadata comes back.
    assert_eq!(handled_by.unwrap(), "echo");
    assert_eq!(setup.upstream.echo.calls(), 1);

    // A failing upstream status passes through as it is.
    let status = client.say(say("fail:9")).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    proxy.stop().await;
}

#[tokio::test]
async fn serve_denied_call_never_reaches_the_upstream() {
    let setup = Setup::new("denied").await;
    let proxy = start(&setup.write_config(&Options::default())).await;
    let mut client = client(&setup.client_material(), proxy.addr).await;
    let status = client
        .stream(StreamRequest {
            message: "hi".into(),
            count: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("rbac"), "{status:?}");
    assert_eq!(setup.upstream.echo.calls(), 0);

    // A caller from another CA is refused at the handshake: no call at all.
    let other = TestCa::new("another CA").unwrap();
    let material = TlsMaterial {
        ca: setup.client_material().ca,
        ..other.material(CLIENT_ID).unwrap()
    };
    let connector = ClientTls::new(&material)
        .unwrap()
        .pin(SERVICE, PROXY_ID)
        .unwrap()
        .connector(SERVICE)
        .unwrap();
    let refused = async {
        let channel = Endpoint::from_shared(format!("https://{}", proxy.addr))
            .unwrap()
            .connect_with_connector(connector)
            .await?;
        EchoClient::new(channel)
            .say(say("hello"))
            .await
            .map_err(|s| Box::new(s) as Box<dyn std::error::Error + Send + Sync>)
            .map(|_| ())
    };
    let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = refused.await;
    assert!(result.is_err());
    assert_eq!(setup.upstream.echo.calls(), 0);
    proxy.stop().await;
}

#[tokio::test]
async fn serve_lockdown_refuses_reload_unless_the_config_allows_it() {
    let setup = Setup::new("reload-off").await;
    let path = setup.write_config(&Options {
        reload: None,
        ..Options::default()
    });
    let proxy = start(&path).await;
    let before = proxy.chain.current();
    // Even a valid new file is not read.
    setup.write_config(&Options {
        reload: None,
        tenant: "green",
        ..Options::default()
    });
    match proxy.reloader.reload().await {
        Err(ReloadError::Disabled { mode }) => assert_eq!(mode, Mode::Lockdown),
        other => panic!("not refused: {other:?}"),
    }
    assert!(Arc::ptr_eq(&before, &proxy.chain.current()));
    let mut client = client(&setup.client_material(), proxy.addr).await;
    let reply = client.say(say("hello")).await.unwrap().into_inner();
    assert_eq!(tenant(&reply.headers), Some("blue"));
    let refused = setup.audited("reload_failed");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["outcome"], "refused");
    assert!(setup.audited("reloaded").is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn serve_failed_reload_keeps_the_old_chain() {
    let setup = Setup::new("reload-failed").await;
    let proxy = start(&setup.write_config(&Options::default())).await;
    let before = proxy.chain.current();

    // A package re-signed by a key the config does not trust, under a new file that
    // would change the tenant: nothing of it may be swapped in.
    let stranger = SigningKey::from_bytes(&[7; 32]);
    std::fs::write(
        setup.dir.0.join("add-header.pkg"),
        sign_example("add-header", ADD_HEADER, &stranger).unwrap(),
    )
    .unwrap();
    setup.write_config(&Options {
        tenant: "green",
        ..Options::default()
    });
    match proxy.reloader.reload().await {
        Err(ReloadError::Load(Error::Verify { plugin, reason })) => {
            assert_eq!(plugin, "add-header");
            assert!(
                matches!(
                    reason,
                    VerifyError::Trust(TrustError::ThresholdNotMet { .. })
                ),
                "{reason:?}"
            );
        }
        other => panic!("not refused by verification: {other:?}"),
    }
    // A tampered component (one byte flipped after signing) fails too.
    let mut package = sign_example("add-header", ADD_HEADER, &setup.key).unwrap();
    let last = package.len() - 100;
    package[last] ^= 0x01;
    std::fs::write(setup.dir.0.join("add-header.pkg"), package).unwrap();
    assert!(matches!(
        proxy.reloader.reload().await,
        Err(ReloadError::Load(Error::Verify { .. }))
    ));
    assert!(Arc::ptr_eq(&before, &proxy.chain.current()));
    let mut client = client(&setup.client_material(), proxy.addr).await;
    let reply = client.say(say("hello")).await.unwrap().into_inner();
    assert_eq!(tenant(&reply.headers), Some("blue"));

    // Once the package is good again, the same reload goes through.
    std::fs::write(
        setup.dir.0.join("add-header.pkg"),
        sign_example("add-header", ADD_HEADER, &setup.key).unwrap(),
    )
    .unwrap();
    let plugins = proxy.reloader.reload().await.unwrap();
    assert_eq!(plugins, ["rbac", "add-header"]);
    let reply = client.say(say("hello")).await.unwrap().into_inner();
    assert_eq!(tenant(&reply.headers), Some("green"));

    // The audit trail: both failures, the plugin refusals behind them, then the
    // reload with each plugin's previous and new component.
    let failed = setup.audited("reload_failed");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().all(|e| e["outcome"] == "failed"));
    let refused = setup.audited("refused");
    assert!(refused.len() >= 2 && refused.iter().all(|e| e["plugin"] == "add-header"));
    let reloaded = setup.audited("reloaded");
    let plugins: Vec<&str> = reloaded
        .iter()
        .map(|e| e["plugin"].as_str().unwrap())
        .collect();
    assert_eq!(plugins, ["rbac", "add-header"]);
    assert_eq!(reloaded[1]["version"], "0.1.0");
    assert_eq!(
        reloaded[1]["previous_sha256"],
        reloaded[1]["component_sha256"]
    );

    let metrics = scrape(proxy.metrics).await;
    assert_eq!(
        sample(&metrics, "palisade_reloads_total{outcome=\"failed\"}"),
        2
    );
    assert_eq!(
        sample(&metrics, "palisade_reloads_total{outcome=\"ok\"}"),
        1
    );
    proxy.stop().await;
}

/// `compiled_cache` in the config: the proxy stores each plugin's native code there
/// (so a restart skips the compiler), and a reload that would move it is refused.
#[tokio::test]
async fn serve_compiled_cache_is_filled_and_needs_a_restart_to_change() {
    let setup = Setup::new("compiled-cache").await;
    let path = setup.write_config(&Options::default());
    let with_cache = |dir: &str| {
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace(
            "audit_log = \"audit.jsonl\"\n",
            &format!("audit_log = \"audit.jsonl\"\ncompiled_cache = \"{dir}\"\n"),
        );
        std::fs::write(&path, text).unwrap();
    };
    with_cache("cache");
    let proxy = start(&path).await;
    let entries = std::fs::read_dir(setup.dir.0.join("cache"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "cwasm")
        })
        .count();
    assert_eq!(entries, 2, "one entry per plugin (rbac, add-header)");

    setup.write_config(&Options::default());
    with_cache("elsewhere");
    match proxy.reloader.reload().await {
        Err(ReloadError::NeedsRestart { setting }) => assert_eq!(setting, "compiled_cache"),
        other => panic!("not refused: {other:?}"),
    }
    proxy.stop().await;
}

/// Concurrent clients call without pause while the chain is reloaded: every call
/// gets OK, each saw one chain or the other whole, and every call started after the
/// reload returned sees the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_reload_under_load_loses_no_call() {
    const CLIENTS: usize = 16;
    const CALLS_AFTER: usize = 20;
    let setup = Setup::new("reload-load").await;
    let proxy = start(&setup.write_config(&Options::default())).await;
    let reloaded = Arc::new(AtomicBool::new(false));
    let material = setup.client_material();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = client(&material, proxy.addr).await;
        let reloaded = Arc::clone(&reloaded);
        tasks.push(tokio::spawn(async move {
            let (mut blue, mut green, mut after) = (0usize, 0usize, 0usize);
            // Until the reload is done, then CALLS_AFTER more.
            while after < CALLS_AFTER {
                let started_after = reloaded.load(Ordering::Acquire);
                let reply = client.say(say("load")).await;
                let reply = match reply {
                    Ok(reply) => reply.into_inner(),
                    Err(status) => panic!("a call failed during the reload: {status:?}"),
                };
                match tenant(&reply.headers) {
                    Some("blue") => {
                        assert!(!started_after, "a call after the reload saw the old chain");
                        blue += 1;
                    }
                    Some("green") => green += 1,
                    other => panic!("neither chain: {other:?}"),
                }
                if started_after {
                    after += 1;
                }
            }
            (blue, green)
        }));
    }
    // Let the clients get calls going on the old chain first (a liveness bound, not
    // a timing assertion).
    for _ in 0..100_000 {
        if setup.upstream.echo.calls() >= (CLIENTS * 5) as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(setup.upstream.echo.calls() >= (CLIENTS * 5) as u64);
    setup.write_config(&Options {
        tenant: "green",
        ..Options::default()
    });
    proxy.reloader.reload().await.unwrap();
    reloaded.store(true, Ordering::Release);
    let (mut blue, mut green) = (0, 0);
    for task in tasks {
        let (b, g) = task.await.unwrap();
        blue += b;
        green += g;
    }
    assert!(blue >= CLIENTS * 5, "blue {blue}");
    assert!(green >= CLIENTS * CALLS_AFTER, "green {green}");
    // Every call answered reached the upstream exactly once.
    assert_eq!(setup.upstream.echo.calls(), (blue + green) as u64);
    proxy.stop().await;
}

/// `GET /metrics`, as text.
async fn scrape(addr: SocketAddr) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nhost: metrics\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

/// The value of the sample named `series` (name and labels, as exposed).
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse::<f64>().ok())?
        })
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

#[tokio::test]
async fn serve_metrics_count_the_plugins_calls() {
    let setup = Setup::new("metrics").await;
    let proxy = start(&setup.write_config(&Options::default())).await;
    let before = scrape(proxy.metrics).await;
    assert_eq!(
        sample(&before, "palisade_plugin_calls_total{plugin=\"rbac\"}"),
        0
    );
    assert_eq!(sample(&before, "palisade_chain_plugins"), 2);

    let mut client = client(&setup.client_material(), proxy.addr).await;
    for _ in 0..3 {
        client.say(say("hello")).await.unwrap();
    }
    let denied = client
        .stream(StreamRequest {
            message: "hi".into(),
            count: 1,
        })
        .await;
    assert!(denied.is_err());

    let after = scrape(proxy.metrics).await;
    // rbac ran on all four requests; add-header on the three it let through, on
    // both request and response.
    assert_eq!(
        sample(&after, "palisade_plugin_calls_total{plugin=\"rbac\"}"),
        4
    );
    assert_eq!(
        sample(&after, "palisade_plugin_calls_total{plugin=\"add-header\"}"),
        6
    );
    assert_eq!(
        sample(&after, "palisade_plugin_traps_total{plugin=\"rbac\"}"),
        0
    );
    assert_eq!(sample(&after, "palisade_upstream_errors_total"), 0);
    proxy.stop().await;
}

#[tokio::test]
async fn serve_shutdown_stops_accepting() {
    let setup = Setup::new("shutdown").await;
    let proxy = start(&setup.write_config(&Options::default())).await;
    let addr = proxy.addr;
    let mut client = client(&setup.client_material(), addr).await;
    client.say(say("hello")).await.unwrap();
    proxy.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The real binary: SIGHUP reloads (refused here: lockdown without `reload`), SIGTERM
/// shuts down cleanly with exit status 0.
#[tokio::test]
async fn serve_binary_handles_sighup_and_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let setup = Setup::new("binary").await;
    let path = setup.write_config(&Options {
        reload: None,
        ..Options::default()
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    let mut child = KillOnDrop(child);
    let (lines, received) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // Bounded: a sidecar that hangs without logging fails the test in a minute
    // instead of hanging it (the guard below kills the child on any failure).
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match received.recv_timeout(left) {
                Ok(line) if line.contains('\x1b') => {
                    panic!("a colour code in a log that is not a terminal: {line:?}")
                }
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no log line with {needle:?} within 60 s")
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the log ended before {needle:?}")
                }
            }
        }
    };
    wait_for("accepting calls");
    let signal = |name: &str| {
        let status = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(status.success());
    };
    signal("-HUP");
    let line = wait_for("reload:");
    assert!(
        line.contains("refused") && line.contains("kept the old chain"),
        "{line}"
    );
    signal("-TERM");
    wait_for("shutting down");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// `--log-format json`: every line on stderr is one JSON object, and a refused call
/// leaves one access line naming the plugin, the decision, the code and the peer.
#[tokio::test]
async fn serve_binary_logs_json_and_one_access_line_per_refused_call() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let setup = Setup::new("json-logs").await;
    let path = setup.write_config(&Options::default());
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--log-format", "json", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _child = KillOnDrop(child);
    let (lines, received) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wait_for = |message: &str| -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = received
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line {message:?} within 60 s"));
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            if event["message"] == message {
                return event;
            }
        }
    };
    let loaded = wait_for("palisade serve: chain loaded");
    assert_eq!(loaded["plugins"], "rbac -> add-header", "{loaded}");
    assert_eq!(loaded["reload"], "verified", "Display, not Debug: {loaded}");
    let accepting = wait_for("palisade serve: accepting calls");
    let addr: SocketAddr = accepting["addr"].as_str().unwrap().parse().unwrap();

    let mut client = client(&setup.client_material(), addr).await;
    let status = client
        .stream(StreamRequest {
            message: "hi".into(),
            count: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let refused = wait_for("call refused");
    assert_eq!(refused["target"], "palisade::access", "{refused}");
    assert_eq!(refused["plugin"], "rbac", "{refused}");
    assert_eq!(refused["decision"], "reject", "{refused}");
    assert_eq!(refused["code"], "PermissionDenied", "{refused}");
    assert_eq!(refused["peer"], CLIENT_ID, "{refused}");
    assert_eq!(refused["level"], "INFO", "{refused}");
    assert!(
        refused["reason"].as_str().unwrap().contains("rbac"),
        "{refused}"
    );
}

/// A child process killed when the test is done with it, also when it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.1 upstream (hyper), counting its hits and answering with the
/// `x-` headers and the path it saw.
async fn http_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    use http_body_util::Full;
    use hyper_util::rt::TokioIo;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let mut seen: Vec<String> = req
                        .headers()
                        .iter()
                        .filter(|(name, _)| {
                            name.as_str().starts_with('x') || name.as_str() == "forwarded"
                        })
                        .map(|(name, value)| format!("{name}={}", value.to_str().unwrap_or("?")))
                        .collect();
                    seen.sort();
                    seen.push(format!("path={} version={:?}", req.uri(), req.version()));
                    async move {
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            bytes::Bytes::from(seen.join("\n")),
                        )))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service),
            );
        }
    });
    (addr, hits)
}

#[tokio::test]
async fn serve_proxies_plain_http_to_an_http1_upstream() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let setup = Setup::new("http").await;
    let (upstream, hits) = http_upstream().await;
    let path = setup.write_config_to(
        &Options {
            rules: "allow spiffe://test/frontend orders.internal/GET/orders/*",
            service: Some("orders.internal"),
            ..Options::default()
        },
        upstream,
    );
    let proxy = start(&path).await;
    let connector = ClientTls::new(&setup.client_material())
        .unwrap()
        .pin("orders.internal", PROXY_ID)
        .unwrap()
        .connector("orders.internal")
        .unwrap();
    let client: Client<_, Full<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let port = proxy.addr.port();
    let get = |path: &str| {
        let request = http::Request::get(format!("https://localhost:{port}{path}"))
            .body(Full::default())
            .unwrap();
        client.request(request)
    };

    let response = get("/orders/42?verbose=1").await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("x-tenant=blue"), "{body}");
    assert!(
        body.contains(&format!("x-palisade-peer-identity={CLIENT_ID}")),
        "{body}"
    );
    assert!(
        body.contains("path=/orders/42?verbose=1 version=HTTP/1.1"),
        "{body}"
    );
    assert_eq!(hits.load(Ordering::Relaxed), 1);

    // Denied: 403 from the proxy, nothing reaches the upstream.
    let response = get("/admin").await.unwrap();
    assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
    assert_eq!(hits.load(Ordering::Relaxed), 1);
    proxy.stop().await;
}

#[tokio::test]
async fn serve_streams_replies_and_passes_the_final_status_in_trailers() {
    let setup = Setup::new("stream").await;
    let proxy = start(&setup.write_config(&Options {
        rules: "allow spiffe://test/frontend echo.v1.Echo/*",
        ..Options::default()
    }))
    .await;
    let mut client = client(&setup.client_material(), proxy.addr).await;
    let mut stream = client
        .stream(StreamRequest {
            message: "fail:9".into(),
            count: 3,
        })
        .await
        .unwrap()
        .into_inner();
    let mut replies = Vec::new();
    let status = loop {
        match stream.message().await {
            Ok(Some(reply)) => replies.push(reply.message),
            Ok(None) => panic!("the stream ended without its failure"),
            Err(status) => break status,
        }
    };
    assert_eq!(replies, ["fail:9 0", "fail:9 1", "fail:9 2"]);
    // The upstream's status, from its trailers, through the proxy.
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "failed mid-stream");

    proxy.stop().await;
}

#[tokio::test]
async fn serve_unreachable_upstream_is_unavailable() {
    let setup = Setup::new("unreachable").await;
    // A loopback port with nothing listening.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = start(&setup.write_config_to(&Options::default(), dead)).await;
    let mut client = client(&setup.client_material(), proxy.addr).await;
    let status = client.say(say("hello")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "upstream unavailable");
    let metrics = scrape(proxy.metrics).await;
    assert_eq!(sample(&metrics, "palisade_upstream_errors_total"), 1);
    proxy.stop().await;
}

/// `add-header` at `version`, validly signed by the trusted key.
#[expect(
    clippy::disallowed_methods,
    reason = "the test signs the example component itself"
)]
fn add_header_at(setup: &Setup, version: &str) -> Vec<u8> {
    use sha2::Digest;
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plugins/add-header/manifest.toml"
    ))
    .unwrap()
    .replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
    assert!(manifest.contains(version), "the example manifest changed");
    let component = std::fs::read(ADD_HEADER).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&component));
    let manifest = format!("component_sha256 = \"{digest}\"\n{manifest}");
    palisade::sign_package(&manifest, &component, &setup.key).unwrap()
}

/// In lockdown a reload may not roll a running plugin back to an older signed version
/// (each one validly signed, and above any `min_versions`); a newer one is fine. And a
/// reload that drops a plugin records its removal.
#[tokio::test]
async fn serve_reload_refuses_a_rollback_in_lockdown_and_audits_a_removal() {
    let setup = Setup::new("reload-rollback").await;
    let path = setup.write_config(&Options::default());
    let proxy = start(&path).await;
    let before = proxy.chain.current();
    let package = setup.dir.0.join("add-header.pkg");

    std::fs::write(&package, add_header_at(&setup, "0.0.9")).unwrap();
    match proxy.reloader.reload().await {
        Err(ReloadError::Rollback {
            plugin,
            running,
            new,
        }) => {
            assert_eq!(
                (plugin.as_str(), running.as_str(), new.as_str()),
                ("add-header", "0.1.0", "0.0.9")
            );
        }
        other => panic!("a rollback was not refused: {other:?}"),
    }
    assert!(Arc::ptr_eq(&before, &proxy.chain.current()));
    let failed = setup.audited("reload_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("roll `add-header` back from version 0.1.0 to 0.0.9"),
        "{failed:?}"
    );

    std::fs::write(&package, add_header_at(&setup, "0.2.0")).unwrap();
    assert_eq!(
        proxy.reloader.reload().await.unwrap(),
        ["rbac", "add-header"]
    );
    let running = proxy.chain.current();
    let add_header = running
        .plugins()
        .iter()
        .find(|p| p.name() == "add-header")
        .unwrap();
    let sha256 = hex::encode(add_header.component_sha256());

    // The same file without add-header.
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = text.find("\n[[plugins]]\nname = \"add-header\"").unwrap();
    std::fs::write(&path, &text[..cut]).unwrap();
    assert_eq!(proxy.reloader.reload().await.unwrap(), ["rbac"]);
    let removed = setup.audited("removed");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["plugin"], "add-header");
    assert_eq!(removed[0]["version"], "0.2.0");
    assert_eq!(removed[0]["component_sha256"], sha256);
    proxy.stop().await;
}

/// An HTTPS client of the proxy with `material`, HTTP/1.1 (or HTTP/2 only).
fn https_client(
    material: &TlsMaterial,
    http2: bool,
) -> hyper_util::client::legacy::Client<palisade::transport::PinnedConnector, TestBody> {
    let connector = ClientTls::new(material)
        .unwrap()
        .pin("orders.internal", PROXY_ID)
        .unwrap()
        .connector("orders.internal")
        .unwrap();
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(http2)
        .build(connector)
}

/// A request body of fixed frames (data, then trailers if any).
struct TestBody(std::collections::VecDeque<hyper::body::Frame<bytes::Bytes>>);

impl TestBody {
    fn empty() -> Self {
        Self(std::collections::VecDeque::new())
    }
}

impl hyper::body::Body for TestBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// Sends `method path` with `headers` through `client`: the status and the body.
async fn send(
    client: &hyper_util::client::legacy::Client<palisade::transport::PinnedConnector, TestBody>,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::StatusCode, String) {
    use http_body_util::BodyExt;
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("https://localhost:{port}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = client
        .request(builder.body(TestBody::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Issue 10, item 1: the path the chain judges is the path the upstream gets; a
/// path the upstream could read as another is refused, not forwarded.
#[tokio::test]
async fn serve_forwards_only_the_path_it_judged() {
    let setup = Setup::new("paths").await;
    let (upstream, hits) = http_upstream().await;
    let path = setup.write_config_to(
        &Options {
            rules: "allow spiffe://test/frontend */GET/orders/*",
            ..Options::default()
        },
        upstream,
    );
    let proxy = start(&path).await;
    let client = https_client(&setup.client_material(), false);
    let port = proxy.addr.port();
    for path in [
        "/orders/../admin/users",
        "/orders/%2e%2e/admin/drop",
        "/orders/1%2F..%2F..%2Fadmin",
        "/orders//admin",
    ] {
        let (status, body) = send(&client, port, "GET", path, &[]).await;
        assert_eq!(status, http::StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.starts_with("refused: the request path"), "{body}");
    }
    assert_eq!(hits.load(Ordering::Relaxed), 0);
    let (status, body) = send(&client, port, "GET", "/orders/42?a=b", &[]).await;
    assert_eq!(status, http::StatusCode::OK);
    assert!(body.contains("path=/orders/42?a=b "), "{body}");
    proxy.stop().await;
}

/// Issue 10, item 1: with the README's rule for another service, a client that
/// names that service in `Host` is still judged as the configured one.
#[tokio::test]
async fn serve_takes_the_service_from_the_config_not_the_host_header() {
    let setup = Setup::new("service").await;
    let (upstream, hits) = http_upstream().await;
    let path = setup.write_config_to(
        &Options {
            rules: "allow spiffe://test/* billing.v1.*/*; allow spiffe://test/frontend orders.internal/GET/orders/*",
            service: Some("orders.internal"),
            ..Options::default()
        },
        upstream,
    );
    let proxy = start(&path).await;
    let client = https_client(&setup.client_material(), false);
    let port = proxy.addr.port();
    let host = [("host", "billing.v1.x")];
    let (status, body) = send(&client, port, "DELETE", "/orders/1", &host).await;
    assert_eq!(status, http::StatusCode::FORBIDDEN, "{body}");
    assert_eq!(hits.load(Ordering::Relaxed), 0);
    let (status, body) = send(&client, port, "GET", "/orders/1", &host).await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert_eq!(hits.load(Ordering::Relaxed), 1);
    proxy.stop().await;
}

/// Issue 10, item 2: the upstream always gets the identity header (empty for a
/// caller without one), and no spelling of it, nor another identity header, from
/// the client.
#[tokio::test]
async fn serve_identity_header_is_always_set_and_never_forged() {
    let setup = Setup::new("anonymous").await;
    let (upstream, _) = http_upstream().await;
    let path = setup.write_config_to(
        &Options {
            rules: "allow * */GET/*",
            ..Options::default()
        },
        upstream,
    );
    let proxy = start(&path).await;
    // A verified certificate with no URI or DNS SAN: an anonymous caller.
    let issued = setup.ca.issue_names(&[]).unwrap();
    let anonymous = TlsMaterial {
        cert: palisade::transport::Pem::bytes(issued.cert_pem),
        key: palisade::transport::Pem::bytes(issued.key_pem),
        ..setup.client_material()
    };
    let forged = [
        ("x_palisade_peer_identity", "spiffe://test/admin"),
        ("x-forwarded-client-cert", "By=x;URI=spiffe://test/admin"),
        ("forwarded", "for=10.0.0.1"),
        ("x-spiffe-id", "spiffe://test/admin"),
    ];
    for material in [anonymous, setup.client_material()] {
        let client = https_client(&material, false);
        let (status, body) = send(&client, proxy.addr.port(), "GET", "/orders/1", &forged).await;
        assert_eq!(status, http::StatusCode::OK, "{body}");
        assert!(
            !body.contains("admin") && !body.contains("forwarded"),
            "{body}"
        );
        let identity: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("x-palisade-peer-identity="))
            .collect();
        assert_eq!(identity.len(), 1, "{body}");
        assert!(
            identity[0] == "x-palisade-peer-identity=" || identity[0].ends_with(CLIENT_ID),
            "{body}"
        );
    }
    proxy.stop().await;
}

/// Issue 10, item 2: reserved names in a request's trailers do not reach the
/// upstream (an HTTP/2 upstream that reports the trailers it got).
#[tokio::test]
async fn serve_strips_reserved_names_from_request_trailers() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let service =
                hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async {
                    let collected = req.into_body().collect().await.unwrap();
                    let mut names: Vec<String> = collected
                        .trailers()
                        .map(|t| t.keys().map(|k| k.to_string()).collect())
                        .unwrap_or_default();
                    names.sort();
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        bytes::Bytes::from(names.join(",")),
                    )))
                });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service),
            );
        }
    });
    let setup = Setup::new("trailers").await;
    let proxy = start(&setup.write_config_to(&Options::default(), upstream)).await;
    let client = https_client(&setup.client_material(), true);
    let mut trailers = http::HeaderMap::new();
    for name in [
        "x-palisade-peer-identity",
        "x_palisade_peer_identity",
        "x-spiffe-id",
        "x-keep",
    ] {
        trailers.insert(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_static("spiffe://test/admin"),
        );
    }
    let body = TestBody(
        [
            hyper::body::Frame::data(bytes::Bytes::from_static(b"\0\0\0\0\0")),
            hyper::body::Frame::trailers(trailers),
        ]
        .into(),
    );
    let request = http::Request::post(format!(
        "https://localhost:{}/echo.v1.Echo/Say",
        proxy.addr.port()
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(body)
    .unwrap();
    let response = client.request(request).await.unwrap();
    let seen = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&seen), "x-keep");
    proxy.stop().await;
}

/// Issue 10, item 4: a client's `Connection` cannot remove a header a plugin set
/// (hop-by-hop headers go before the chain, not after).
#[tokio::test]
async fn serve_connection_header_cannot_remove_what_a_plugin_set() {
    let setup = Setup::new("hop-by-hop").await;
    let (upstream, _) = http_upstream().await;
    let path = setup.write_config_to(
        &Options {
            rules: "allow spiffe://test/frontend */GET/*",
            ..Options::default()
        },
        upstream,
    );
    let proxy = start(&path).await;
    let client = https_client(&setup.client_material(), false);
    let headers = [("connection", "x-tenant, keep-alive"), ("x-tenant", "red")];
    let (status, body) = send(&client, proxy.addr.port(), "GET", "/orders/1", &headers).await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert!(body.contains("x-tenant=blue"), "{body}");
    assert!(!body.contains("red"), "{body}");
    proxy.stop().await;
}
