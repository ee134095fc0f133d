//! End to end: a tonic unary echo over loopback mutual TLS, driven by
//! [`palisade_tests::loadgen`], with no chain, with 3 native tower layers, and with 3
//! Palisade plugins, at concurrency 1 and 64. Each plugin and each native layer does
//! the trivial hook's logic: read `x-request-id`, continue (reject without it).
//!
//! `cargo bench -p palisade-tests --bench e2e`; quick mode:
//! `PALISADE_BENCH_QUICK=1 cargo bench -p palisade-tests --bench e2e`. An argument
//! keeps only the setups whose label contains it (`-- "request hook"`), and
//! `PALISADE_E2E_DEPTH=N` changes the number of plugins per chain.
//!
//! The three servers run side by side on one server runtime (two worker threads, as a
//! service would have on this machine) and the load generator on its own runtime, so
//! client and server compete for the cores the way two processes would. The
//! configurations take turns within each round, and each figure is the median over
//! the rounds, so a load change on the machine moves all three alike; the ratios are
//! plugins ÷ native from the same rounds.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary: set-up fails loudly, results go to stdout"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "the benchmark's own knobs (quick mode, depth, threads) come from the environment"
)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use palisade::layer::ServerLayer;
use palisade::transport::{ClientTls, ServerTls};
use palisade::{Chain, Hooks, Host, HostConfig, Plugin, PluginSource, PluginSpec};
use palisade_tests::echo::{EchoClient, EchoRequest, EchoService};
use palisade_tests::guests::GUEST_TRIVIAL;
use palisade_tests::loadgen::{self, LoadReport};
use palisade_tests::pki::TestCa;
use tokio::runtime::Runtime;
use tonic::transport::{Channel, Endpoint, Server};
use tower_layer::Layer;
use tower_service::Service;

const SERVICE: &str = "echo.v1.Echo";
const SERVER_ID: &str = "spiffe://bench/echo";
const CLIENT_ID: &str = "spiffe://bench/frontend";
const DEPTH: usize = 3;

/// Plugins per chain: 3, or `PALISADE_E2E_DEPTH` (to see how the cost grows with
/// the chain; the native baseline stays at 3 layers).
fn depth() -> usize {
    std::env::var("PALISADE_E2E_DEPTH").map_or(DEPTH, |d| {
        d.parse()
            .expect("PALISADE_E2E_DEPTH must be a number of plugins")
    })
}

fn quick() -> bool {
    std::env::var("PALISADE_BENCH_QUICK").is_ok_and(|v| v != "0")
}

/// The native baseline, as a service team would write it: a `tower::Layer` that
/// reads `x-request-id` and either calls the inner service or answers
/// `PERMISSION_DENIED` itself.
#[derive(Clone, Copy)]
struct RequireRequestIdLayer;

impl<S> Layer<S> for RequireRequestIdLayer {
    type Service = RequireRequestId<S>;

    fn layer(&self, inner: S) -> RequireRequestId<S> {
        RequireRequestId { inner }
    }
}

#[derive(Clone)]
struct RequireRequestId<S> {
    inner: S,
}

type GrpcResponse = http::Response<tonic::body::Body>;

/// The inner service's future, or an immediate refusal.
enum Checked<F> {
    Inner(F),
    Refused(Option<GrpcResponse>),
}

impl<F, E> Future for Checked<F>
where
    F: Future<Output = Result<GrpcResponse, E>> + Unpin,
{
    type Output = Result<GrpcResponse, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Inner(inner) => Pin::new(inner).poll(cx),
            Self::Refused(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
        }
    }
}

impl<S, B> Service<http::Request<B>> for RequireRequestId<S>
where
    S: Service<http::Request<B>, Response = GrpcResponse>,
    S::Future: Unpin,
{
    type Response = GrpcResponse;
    type Error = S::Error;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.headers().contains_key("x-request-id") {
            Checked::Inner(self.inner.call(request))
        } else {
            Checked::Refused(Some(
                tonic::Status::permission_denied("x-request-id is required").into_http(),
            ))
        }
    }
}

/// What sits around the echo handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    NoChain,
    NativeLayers,
    /// Palisade's server layer with no plugin in its chain: the layer's own cost.
    EmptyLayer,
    /// The trivial plugin as a bare component: the host calls both hooks (the
    /// response hook is the SDK's default `Continue`).
    Plugins,
    /// The same plugins with `hooks = ["request"]`, as a package's manifest declares
    /// for a plugin without a response hook (the example plugins but `add-header`
    /// do): the like-for-like comparison with the native layers, which only check
    /// requests.
    PluginsRequestOnly,
    /// The same plugins scoped to another service's routes: a call no plugin
    /// applies to (compare with `NoChain`).
    PluginsElsewhere,
}

impl Setup {
    const ALL: [Self; 6] = [
        Self::NoChain,
        Self::NativeLayers,
        Self::EmptyLayer,
        Self::Plugins,
        Self::PluginsRequestOnly,
        Self::PluginsElsewhere,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::NoChain => "no chain",
            Self::NativeLayers => "3 native tower layers",
            Self::EmptyLayer => "Palisade layer, empty chain",
            Self::Plugins => "3 Palisade plugins, both hooks",
            Self::PluginsRequestOnly => "3 Palisade plugins, request hook only",
            Self::PluginsElsewhere => "3 Palisade plugins, scoped to another service",
        }
    }
}

/// Starts an mTLS echo server with `setup` around its handler; it runs until the
/// runtime is dropped.
async fn server(ca: &TestCa, setup: Setup, host: &Host) -> (SocketAddr, Vec<Plugin>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = ServerTls::new(&ca.material(SERVER_ID).unwrap())
        .unwrap()
        .incoming(listener);
    let echo = EchoService::default().server();
    let native = tower::ServiceBuilder::new()
        .layer(RequireRequestIdLayer)
        .layer(RequireRequestIdLayer)
        .layer(RequireRequestIdLayer);
    let hooks = Hooks {
        request: true,
        response: setup != Setup::PluginsRequestOnly,
    };
    let mut plugins = Vec::new();
    let depth = if setup == Setup::EmptyLayer {
        0
    } else {
        depth()
    };
    for i in 0..depth {
        let spec = PluginSpec::new(
            format!("trivial-{i}"),
            PluginSource::File(GUEST_TRIVIAL.into()),
        )
        .hooks(hooks);
        let spec = if setup == Setup::PluginsElsewhere {
            spec.routes(palisade::Routes::parse(["billing.v1.Billing/*"]).unwrap())
        } else {
            spec
        };
        plugins.push(host.load(spec).await.unwrap());
    }
    let palisade = ServerLayer::new(Chain::new(plugins.iter().cloned()));
    // Three spelled-out servers: each `layer` call changes the builder's type.
    match setup {
        Setup::NoChain => {
            tokio::spawn(
                Server::builder()
                    .add_service(echo)
                    .serve_with_incoming(incoming),
            );
        }
        Setup::NativeLayers => {
            tokio::spawn(
                Server::builder()
                    .layer(native)
                    .add_service(echo)
                    .serve_with_incoming(incoming),
            );
        }
        Setup::EmptyLayer
        | Setup::Plugins
        | Setup::PluginsRequestOnly
        | Setup::PluginsElsewhere => {
            tokio::spawn(
                Server::builder()
                    .layer(palisade)
                    .add_service(echo)
                    .serve_with_incoming(incoming),
            );
        }
    }
    (addr, plugins)
}

async fn client(ca: &TestCa, addr: SocketAddr) -> EchoClient<Channel> {
    let tls = ClientTls::new(&ca.material(CLIENT_ID).unwrap())
        .unwrap()
        .pin(SERVICE, SERVER_ID)
        .unwrap();
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .connect_with_connector(tls.connector(SERVICE).unwrap())
        .await
        .unwrap();
    EchoClient::new(channel)
}

async fn drive(client: &EchoClient<Channel>, requests: u64, concurrency: usize) -> LoadReport {
    let client = client.clone();
    loadgen::run(requests, concurrency, Duration::from_secs(120), move || {
        let mut client = client.clone();
        async move {
            let mut request = tonic::Request::new(EchoRequest {
                message: "hello".into(),
            });
            request.metadata_mut().insert(
                "x-request-id",
                tonic::metadata::MetadataValue::from_static("0f4c2a9e-77d1"),
            );
            client.say(request).await.map(drop)
        }
    })
    .await
}

fn runtime(name: &str, workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument keeps only the setups whose
    // label contains it (for profiling one setup), plus the native baseline.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let (rounds, per_concurrency): (usize, [(usize, u64); 2]) = if quick() {
        (3, [(1, 1_500), (64, 6_000)])
    } else {
        (5, [(1, 5_000), (64, 30_000)])
    };
    let ca = TestCa::new("palisade bench CA").unwrap();
    // `PALISADE_E2E_SERVER_THREADS=1` makes the server the bottleneck at concurrency
    // 64, so that the throughput ratio is the server's CPU per call and nothing else.
    let server_threads = std::env::var("PALISADE_E2E_SERVER_THREADS").map_or(2, |n| {
        n.parse()
            .expect("PALISADE_E2E_SERVER_THREADS must be a number of threads")
    });
    let server_rt = runtime("server", server_threads);
    let client_rt = runtime("client", 2);

    let host = Host::new(HostConfig::default()).unwrap();
    let mut loaded: Vec<Plugin> = Vec::new();
    let clients: Vec<(Setup, EchoClient<Channel>)> = Setup::ALL
        .iter()
        .filter(|setup| {
            **setup == Setup::NativeLayers
                || filter.as_deref().is_none_or(|f| setup.label().contains(f))
        })
        .map(|&setup| {
            let (addr, plugins) = server_rt.block_on(server(&ca, setup, &host));
            loaded.extend(plugins);
            (setup, client_rt.block_on(client(&ca, addr)))
        })
        .collect();

    println!(
        "tonic unary echo over loopback mTLS; {server_threads} server and 2 client \
         threads; {} plugins per chain; {rounds} rounds, setups taking turns; medians \
         over rounds",
        depth()
    );
    println!(
        "| concurrency | setup | requests/s | p50 | p99 | vs native (req/s) | vs native (p99) |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for (concurrency, requests) in per_concurrency {
        // Warm-up: connections, TLS sessions, pools, caches.
        for (_, client) in &clients {
            let report = client_rt.block_on(drive(client, requests / 5, concurrency));
            assert_eq!(report.errors, 0, "warm-up failed: {report}");
        }
        let mut samples: Vec<Vec<LoadReport>> = vec![Vec::new(); clients.len()];
        for round in 0..rounds {
            // Rotate the order so no setup always runs first or last in a round.
            for offset in 0..clients.len() {
                let index = (round + offset) % clients.len();
                let report = client_rt.block_on(drive(&clients[index].1, requests, concurrency));
                assert_eq!(report.errors, 0, "{}: {report}", clients[index].0.label());
                samples[index].push(report);
            }
        }
        let summary: Vec<(f64, f64, f64)> = samples
            .iter()
            .map(|reports| {
                (
                    median(reports.iter().map(LoadReport::requests_per_sec).collect()),
                    median(reports.iter().map(|r| r.p50.as_secs_f64() * 1e6).collect()),
                    median(reports.iter().map(|r| r.p99.as_secs_f64() * 1e6).collect()),
                )
            })
            .collect();
        let native = summary[clients
            .iter()
            .position(|(setup, _)| *setup == Setup::NativeLayers)
            .unwrap()];
        for (index, (setup, _)) in clients.iter().enumerate() {
            let (rps, p50, p99) = summary[index];
            let ratios = if matches!(setup, Setup::Plugins | Setup::PluginsRequestOnly) {
                format!("**{:.3}×** | **{:.3}×**", rps / native.0, p99 / native.2)
            } else if *setup == Setup::NativeLayers {
                "1× | 1×".to_owned()
            } else {
                format!("{:.3}× | {:.3}×", rps / native.0, p99 / native.2)
            };
            println!(
                "| {concurrency} | {} | {rps:.0} | {p50:.0} µs | {p99:.0} µs | {ratios} |",
                setup.label()
            );
        }
    }
    // The hooks' own time, as the plugins measured it inside the servers (all runs,
    // warm-ups included): what the chain adds in CPU, against the gap in the table.
    let (calls, seconds) = loaded.iter().fold((0, 0.0), |(calls, seconds), plugin| {
        let duration = plugin.stats().duration;
        (calls + duration.count, seconds + duration.sum_seconds)
    });
    if calls > 0 {
        println!(
            "\nhook calls inside the servers: {calls}, mean {:.2} µs each",
            seconds / calls as f64 * 1e6
        );
    }
    // The servers live on `server_rt`; dropping it stops them.
    drop(client_rt);
    drop(server_rt);
}
