//! Runs one kind of call `N` times on one thread, for profilers and for the
//! instruction-count guard (`scripts/perf-guard.sh`), which runs it twice with
//! different `N` and divides the difference so that set-up cancels out.
//!
//! `cargo run --release -p palisade-tests --example hook_loop -- N [MODE]`, MODE one of
//!
//! - `reuse` (default), `fresh`: the trivial hook on a reused / fresh instance;
//! - `read-one`: the trivial hook with the header's value copied in (`metadata.get`);
//! - `chain3`, `chain10`: a chain of 3 / 10 trivial plugins;
//! - `bare`: the component-model floor, a typed `func(u32) -> u32` call, no Palisade;
//! - `layer-native3`, `layer-empty`, `layer3`: a gRPC-shaped request through 3 native
//!   tower layers / Palisade's `ServerLayer` with an empty chain / with 3 trivial
//!   plugins, around a handler that answers at once (the layer's own cost, without
//!   tonic, h2 or TLS); `layer-none`: the same request to the handler, no layer;
//!   `layer3-unrouted`: `ServerLayer` with 3 trivial plugins scoped to another
//!   service's routes (a call no plugin applies to);
//! - `compute-epoch`, `compute-fuel`: the compute guest on a host without / with fuel;
//! - `kernel-none`, `kernel-epoch`, `kernel-fuel`: its loop as a core module on an
//!   engine with no metering / epoch interruption / fuel;
//! - `rbac-reuse`, `rbac-fresh`, `rbac-py-reuse`, `rbac-py-fresh`: the rbac example
//!   in Rust / in Python (componentize-py) allowing a call by its first rule, on a
//!   reused / fresh instance.
//!
//! Every mode prints its heap allocations per call to stderr (a counting global
//! allocator around the system one; set-up is left out), so that an allocation added
//! to the hook or layer path shows as a number, not as noise in a timing.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a profiling harness fails loudly"
)]

#[path = "../benches/support/core_floor.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmarks; not every item is used here"
)]
mod core_floor;
#[path = "../benches/support/native.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmarks; not every item is used here"
)]
mod native;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use palisade::{
    CallInfo, Chain, Decision, Grants, Host, HostConfig, InstanceMode, Limits, Plugin,
    PluginSource, PluginSpec,
};
use palisade_tests::guests::{
    GUEST_BARE, GUEST_COMPUTE, GUEST_READ_ONE, GUEST_TRIVIAL, RBAC, python,
};

/// The system allocator, counting allocations (not frees: a call that allocates and
/// frees still pays for both).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

#[expect(
    unsafe_code,
    reason = "a GlobalAlloc is unsafe to implement; this one only counts and forwards"
)]
// SAFETY: every method forwards to `System` with the caller's arguments unchanged;
// the counter is a relaxed atomic, which neither allocates nor blocks.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs the measured loop of `n` calls and prints its allocations per call.
fn counted<R>(n: u64, run: impl FnOnce() -> R) -> R {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = run();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    eprintln!(
        "allocations per call: {:.2}",
        allocations as f64 / n.max(1) as f64
    );
    result
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse().unwrap_or_else(|_| panic!("not a count: {a}")))
        .unwrap_or(10_000);
    let mode = args.next().unwrap_or_else(|| "reuse".into());
    let kernel = |metering| {
        let mut kernel = core_floor::Kernel::new(metering);
        for i in 0..n {
            std::hint::black_box(kernel.walk(i as i64));
        }
    };
    match mode.as_str() {
        "reuse" => hooks(n, GUEST_TRIVIAL, InstanceMode::Reuse, 1, false),
        "fresh" => hooks(n, GUEST_TRIVIAL, InstanceMode::FreshPerCall, 1, false),
        "read-one" => hooks(n, GUEST_READ_ONE, InstanceMode::Reuse, 1, false),
        "chain3" => hooks(n, GUEST_TRIVIAL, InstanceMode::Reuse, 3, false),
        "chain10" => hooks(n, GUEST_TRIVIAL, InstanceMode::Reuse, 10, false),
        "compute-epoch" => hooks(n, GUEST_COMPUTE, InstanceMode::Reuse, 1, false),
        "compute-fuel" => hooks(n, GUEST_COMPUTE, InstanceMode::Reuse, 1, true),
        "bare" => bare(n),
        "threads1" => threads(n, 1),
        "threads2" => threads(n, 2),
        "layer-none" => layer(n, None, Some("no layer")),
        "layer-native3" => layer(n, None, None),
        "layer-empty" => layer(n, Some(0), None),
        "layer3" => layer(n, Some(3), None),
        "layer3-unrouted" => layer(n, Some(3), Some("billing.v1.Billing/*")),
        "kernel-none" => kernel(core_floor::Metering::None),
        "kernel-epoch" => kernel(core_floor::Metering::Epoch),
        "kernel-fuel" => kernel(core_floor::Metering::Fuel),
        "rbac-reuse" => rbac(n, RBAC, InstanceMode::Reuse),
        "rbac-fresh" => rbac(n, RBAC, InstanceMode::FreshPerCall),
        "rbac-py-reuse" => rbac(n, python::built(python::RBAC_PY), InstanceMode::Reuse),
        "rbac-py-fresh" => rbac(
            n,
            python::built(python::RBAC_PY),
            InstanceMode::FreshPerCall,
        ),
        other => panic!("unknown mode {other}"),
    }
}

/// A host sized for `plugins`, and a chain of that many copies of the guest at
/// `path`. A long epoch tick keeps the ticker thread out of the instruction count;
/// a small pool keeps the address-space reservation small under valgrind.
fn load_chain(
    rt: &tokio::runtime::Runtime,
    path: &str,
    mode: InstanceMode,
    plugins: usize,
    fuel: bool,
) -> (Host, Chain) {
    let host = chain_host(plugins, fuel);
    let chain: Vec<Plugin> = (0..plugins)
        .map(|i| {
            rt.block_on(host.load(plugin_spec(i, path, mode, fuel)))
                .unwrap()
        })
        .collect();
    (host, Chain::new(chain))
}

/// A host sized for `plugins`.
fn chain_host(plugins: usize, fuel: bool) -> Host {
    Host::new(
        HostConfig::default()
            .with_epoch_tick(Duration::from_millis(100))
            .with_max_instances(2 * plugins.max(1) as u32)
            .with_fuel(fuel),
    )
    .unwrap()
}

/// The spec of the `i`th copy of the guest at `path`.
fn plugin_spec(i: usize, path: &str, mode: InstanceMode, fuel: bool) -> PluginSpec {
    PluginSpec::new(format!("p{i}"), PluginSource::File(path.into()))
        .instance_mode(mode)
        // Valgrind runs the guest far slower; the deadline is not under test.
        .limits(
            Limits::default()
                .with_call_timeout(Duration::from_secs(10))
                .with_fuel(fuel.then_some(u64::MAX / 2)),
        )
}

/// `n` request hooks through a chain of `plugins` copies of the guest at `path`.
fn hooks(n: u64, path: &str, mode: InstanceMode, plugins: usize, fuel: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_host, chain) = load_chain(&rt, path, mode, plugins, fuel);
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
    let mut proto = HeaderMap::new();
    proto.insert("x-request-id", HeaderValue::from_static("0f4c2a9e-77d1"));
    proto.insert("x-seed", HeaderValue::from_static("12345"));
    counted(n, || {
        rt.block_on(async {
            for _ in 0..n {
                let mut metadata = proto.clone();
                let verdict = chain.on_request(&call, &mut metadata).await;
                assert_eq!(verdict.decision, Decision::Continue);
                std::hint::black_box(metadata);
            }
        })
    });
}

/// The component-model floor: `n` typed calls of `add-one: func(u32) -> u32` on the
/// bare guest, no Palisade involved.
fn bare(n: u64) {
    let mut floor = core_floor::ComponentFloor::new(GUEST_BARE);
    let mut x = 0u32;
    for _ in 0..n {
        x = floor.call(x);
    }
    std::hint::black_box(x);
}

/// The request tonic's server hands its layers for a unary call, give or take. Its
/// path is a slice of a shared buffer, as h2 decodes `:path` (so cloning it costs a
/// reference count, not an allocation).
fn grpc_request() -> http::Request<()> {
    let mut read = bytes::BytesMut::from(&b"/orders.v1.Orders/Create"[..]);
    let path = http::Uri::from_maybe_shared(read.split().freeze()).unwrap();
    let mut request = http::Request::post(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-accept-encoding", "identity, deflate, gzip")
        .header("user-agent", "tonic/0.14")
        .header("x-request-id", "0f4c2a9e-77d1")
        .body(())
        .unwrap();
    *request.version_mut() = http::Version::HTTP_2;
    request
}

/// The handler: answers at once, with an empty body.
#[derive(Clone, Copy)]
struct Answer;

impl tower_service::Service<http::Request<()>> for Answer {
    type Response = http::Response<http_body_util::Empty<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(http_body_util::Empty::new())))
    }
}

/// `n` requests through 3 native layers (`plugins: None`; with `routes`, no layer at
/// all) or through `ServerLayer` with that many trivial plugins (scoped to `routes`).
fn layer(n: u64, plugins: Option<usize>, routes: Option<&str>) {
    use tower_layer::Layer;
    use tower_service::Service;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(plugins) = plugins else {
        if routes.is_some() {
            let mut answer = Answer;
            counted(n, || {
                rt.block_on(async {
                    for _ in 0..n {
                        std::hint::black_box(answer.call(grpc_request()).await.unwrap());
                    }
                })
            });
            return;
        }
        let mut stack = native::stack(3);
        counted(n, || {
            rt.block_on(async {
                for _ in 0..n {
                    std::hint::black_box(stack.call(grpc_request()).await.unwrap());
                }
            })
        });
        return;
    };
    let (_host, chain) = match routes {
        None => load_chain(&rt, GUEST_TRIVIAL, InstanceMode::Reuse, plugins, false),
        Some(routes) => {
            let routes = palisade::Routes::parse([routes]).unwrap();
            let host = chain_host(plugins, false);
            let chain: Vec<Plugin> = (0..plugins)
                .map(|i| {
                    let spec = plugin_spec(i, GUEST_TRIVIAL, InstanceMode::Reuse, false)
                        .routes(routes.clone());
                    rt.block_on(host.load(spec)).unwrap()
                })
                .collect();
            (host, Chain::new(chain))
        }
    };
    let mut service = palisade::layer::ServerLayer::new(chain).layer(Answer);
    counted(n, || {
        rt.block_on(async {
            for _ in 0..n {
                std::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .unwrap();
                let response = service.call(grpc_request()).await.unwrap();
                assert_eq!(response.status(), http::StatusCode::OK);
                std::hint::black_box(response);
            }
        })
    });
}

/// `n` trivial hooks in all, on `threads` OS threads at once (each with its own
/// runtime) sharing one plugin; prints the wall time per call. On 2 cores, 2 threads
/// should each run at the 1-thread speed unless something shared serializes them.
fn threads(n: u64, threads: u64) {
    let host = Host::new(HostConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec = PluginSpec::new("p", PluginSource::File(GUEST_TRIVIAL.into()));
    let plugin = rt.block_on(host.load(spec)).unwrap();
    rt.block_on(plugin.warm(2)).unwrap();
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let plugin = plugin.clone();
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
                let mut proto = HeaderMap::new();
                proto.insert("x-request-id", HeaderValue::from_static("0f4c2a9e-77d1"));
                rt.block_on(async {
                    for _ in 0..n / threads {
                        let mut metadata = proto.clone();
                        let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
                        assert_eq!(decision, Decision::Continue);
                    }
                });
            });
        }
    });
    let elapsed = start.elapsed();
    println!(
        "{threads} thread(s): {:.0} ns per call per thread",
        elapsed.as_nanos() as f64 / (n / threads) as f64
    );
}

/// `n` request hooks through the rbac example at `path` (Rust or Python), each call
/// allowed by the first of its rules. Limits fit either: a Python plugin starts with
/// 12.7 MiB of linear memory and is 38 core instances (BENCHMARKS.md, "Python plugins").
fn rbac(n: u64, path: &str, mode: InstanceMode) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = Host::new(
        HostConfig::default()
            .with_epoch_tick(Duration::from_millis(100))
            .with_max_instances(8),
    )
    .unwrap();
    let spec = PluginSpec::new("rbac", PluginSource::File(path.into()))
        .instance_mode(mode)
        .grants(Grants::none().config().log())
        .config([(
            "rules",
            "allow spiffe://prod/frontend orders.v1.Orders/Get*\nallow * grpc.health.v1.Health/Check",
        )])
        .limits(Limits::default()
        .with_call_timeout(Duration::from_secs(10))
        .with_max_memory_bytes(64 << 20)
        .with_max_core_instances(64));
    let plugin = rt.block_on(host.load(spec)).unwrap();
    let call = Arc::new(
        CallInfo::server("orders.v1.Orders", "GetOrder")
            .with_peer_identity("spiffe://prod/frontend"),
    );
    let mut proto = HeaderMap::new();
    proto.insert("x-request-id", HeaderValue::from_static("0f4c2a9e-77d1"));
    rt.block_on(async {
        for _ in 0..n {
            let mut metadata = proto.clone();
            let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
            assert_eq!(decision, Decision::Continue);
            std::hint::black_box(metadata);
        }
    });
}
