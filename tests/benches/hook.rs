//! Hook-call and load benchmarks: the trivial plugin (checks one header is present,
//! continues) on a reused and on a fresh instance, and with the header's value copied
//! in (`read-one`), against the same logic as a native
//! `tower::Layer` and a raw wasmtime core-module call, measured in the same run;
//! chains of 1, 3 and 10; one header of 30 vs all 30; epoch vs fuel on a
//! compute-heavy plugin; tracing and metrics cost; the load costs (verify,
//! cold compile, cached load, resident memory per idle instance); and the rbac
//! example in Rust and in Python side by side (`python plugins`).
//!
//! `cargo bench -p palisade-tests --bench hook`; quick mode (under two minutes):
//! `PALISADE_BENCH_QUICK=1 cargo bench -p palisade-tests --bench hook`.
//! A name filter works as usual: `cargo bench -p palisade-tests --bench hook -- chain`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "benchmark set-up fails loudly"
)]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use http::{HeaderMap, HeaderValue};
use palisade::{
    CallInfo, Chain, Decision, Host, HostConfig, InstanceMode, Limits, Plugin, PluginSource,
    PluginSpec,
};
use palisade_tests::guests;
use tokio::runtime::Runtime;

use crate::support::native::{self, RequireRequestId, request};
use crate::support::{core_floor, quick};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn host(config: HostConfig) -> Host {
    Host::new(config).unwrap()
}

fn load(rt: &Runtime, host: &Host, name: &str, path: &str, mode: InstanceMode) -> Plugin {
    rt.block_on(
        host.load(
            PluginSpec::new(name, PluginSource::File(path.into()))
                .instance_mode(mode)
                .limits(bench_limits()),
        ),
    )
    .unwrap()
}

/// Generous deadlines: on a loaded 2-core machine a thread can be descheduled for
/// longer than the default 100 ms, and the epoch deadline counts wall time.
fn bench_limits() -> Limits {
    Limits::default()
        .with_max_concurrency(1000)
        .with_call_timeout(Duration::from_secs(10))
}

/// The metadata of a typical call: `x-request-id` plus `extra` other headers.
fn metadata(extra: usize) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("x-request-id", HeaderValue::from_static("0f4c2a9e-77d1"));
    for i in 0..extra {
        map.insert(
            http::HeaderName::try_from(format!("x-header-{i:02}")).unwrap(),
            HeaderValue::from_static("some-typical-value-of-thirty-bytes"),
        );
    }
    map
}

/// Runs `body` `iters` times inside one `block_on`, so that the runtime's own
/// per-`block_on` cost is not in the figure.
fn timed<F: AsyncFnMut()>(rt: &Runtime, iters: u64, mut body: F) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            body().await;
        }
        start.elapsed()
    })
}

fn on_request(rt: &Runtime, plugin: &Plugin, proto: &HeaderMap, iters: u64) -> Duration {
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
    timed(rt, iters, async || {
        let mut metadata = proto.clone();
        let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
        assert_eq!(decision, Decision::Continue);
        black_box(metadata);
    })
}

fn trivial(c: &mut Criterion) {
    let rt = runtime();
    let host = host(HostConfig::default());
    let reused = load(
        &rt,
        &host,
        "trivial",
        guests::GUEST_TRIVIAL,
        InstanceMode::Reuse,
    );
    let fresh = load(
        &rt,
        &host,
        "trivial-fresh",
        guests::GUEST_TRIVIAL,
        InstanceMode::FreshPerCall,
    );
    let read_one = load(
        &rt,
        &host,
        "read-one",
        guests::GUEST_READ_ONE,
        InstanceMode::Reuse,
    );
    let proto = metadata(0);
    let mut group = c.benchmark_group("trivial hook");
    group.bench_function("metadata clone only (in every row)", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, async || {
                black_box(proto.clone());
            })
        });
    });
    group.bench_function("native tower layer", |b| {
        let mut service = RequireRequestId::layered();
        b.iter_custom(|iters| {
            timed(&rt, iters, async || {
                let response = native::call(&mut service, request(proto.clone())).await;
                black_box(response.unwrap());
            })
        });
    });
    group.bench_function("raw wasmtime core-module call (floor)", |b| {
        let mut floor = core_floor::Floor::new();
        b.iter_custom(|iters| {
            timed(&rt, iters, async || {
                black_box(proto.clone());
                black_box(floor.call(black_box(41)));
            })
        });
    });
    group.bench_function("bare typed component call, func(u32) -> u32 (floor)", |b| {
        let mut floor = core_floor::ComponentFloor::new(guests::GUEST_BARE);
        b.iter_custom(|iters| {
            timed(&rt, iters, async || {
                black_box(proto.clone());
                black_box(floor.call(black_box(41)));
            })
        });
    });
    group.bench_function("plugin, reused instance", |b| {
        b.iter_custom(|iters| on_request(&rt, &reused, &proto, iters));
    });
    group.bench_function("plugin, fresh instance per call", |b| {
        b.iter_custom(|iters| on_request(&rt, &fresh, &proto, iters));
    });
    group.bench_function("plugin, reused instance, value copied in (read-one)", |b| {
        b.iter_custom(|iters| on_request(&rt, &read_one, &proto, iters));
    });
    group.finish();
}

fn chains(c: &mut Criterion) {
    let rt = runtime();
    let host = host(HostConfig::default());
    let plugins: Vec<Plugin> = (0..10)
        .map(|i| {
            load(
                &rt,
                &host,
                &format!("trivial-{i}"),
                guests::GUEST_TRIVIAL,
                InstanceMode::Reuse,
            )
        })
        .collect();
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
    let proto = metadata(0);
    let mut group = c.benchmark_group("chain");
    for n in [1usize, 3, 10] {
        let chain = Chain::new(plugins[..n].iter().cloned());
        group.bench_with_input(BenchmarkId::new("plugins", n), &n, |b, _| {
            b.iter_custom(|iters| {
                timed(&rt, iters, async || {
                    let mut metadata = proto.clone();
                    let verdict = chain.on_request(&call, &mut metadata).await;
                    assert_eq!(verdict.decision, Decision::Continue);
                    black_box(metadata);
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("native layers", n), &n, |b, &n| {
            let mut service = support::native::stack(n);
            b.iter_custom(|iters| {
                timed(&rt, iters, async || {
                    let response = service.call(request(proto.clone())).await;
                    black_box(response.unwrap());
                })
            });
        });
    }
    group.finish();
}

fn thirty_headers(c: &mut Criterion) {
    let rt = runtime();
    let host = host(HostConfig::default());
    let one = load(
        &rt,
        &host,
        "read-one",
        guests::GUEST_READ_ONE,
        InstanceMode::Reuse,
    );
    let all = load(
        &rt,
        &host,
        "read-all",
        guests::GUEST_READ_ALL,
        InstanceMode::Reuse,
    );
    let proto = metadata(29);
    let mut group = c.benchmark_group("30 headers");
    group.bench_function("copy 1 of 30 into the guest", |b| {
        b.iter_custom(|iters| on_request(&rt, &one, &proto, iters));
    });
    group.bench_function("copy all 30 into the guest", |b| {
        b.iter_custom(|iters| on_request(&rt, &all, &proto, iters));
    });
    group.finish();
}

fn cpu_limit(c: &mut Criterion) {
    let rt = runtime();
    let epoch_host = host(HostConfig::default());
    let fuel_host = host(HostConfig::default().with_fuel(true));
    let epoch = load(
        &rt,
        &epoch_host,
        "compute",
        guests::GUEST_COMPUTE,
        InstanceMode::Reuse,
    );
    let fuel = rt
        .block_on(
            fuel_host.load(
                PluginSpec::new("compute", PluginSource::File(guests::GUEST_COMPUTE.into()))
                    .limits(bench_limits().with_fuel(Some(u64::MAX / 2))),
            ),
        )
        .unwrap();
    let proto = {
        let mut map = metadata(0);
        map.insert("x-seed", HeaderValue::from_static("12345"));
        map
    };
    let mut group = c.benchmark_group("cpu limit");
    group.bench_function("plugin, epoch deadline (the host's default)", |b| {
        b.iter_custom(|iters| on_request(&rt, &epoch, &proto, iters));
    });
    group.bench_function("plugin, fuel metering and epoch", |b| {
        b.iter_custom(|iters| on_request(&rt, &fuel, &proto, iters));
    });
    // The same loop as a core module on three engines that differ only in metering:
    // what the mechanism itself costs, without the rest of the call.
    for metering in [
        core_floor::Metering::None,
        core_floor::Metering::Epoch,
        core_floor::Metering::Fuel,
    ] {
        let mut kernel = core_floor::Kernel::new(metering);
        group.bench_function(format!("core kernel, {metering:?}"), |b| {
            b.iter(|| black_box(kernel.walk(black_box(12345))));
        });
    }
    group.finish();
}

fn observability(c: &mut Criterion) {
    let rt = runtime();
    let host = host(HostConfig::default());
    let plugin = load(
        &rt,
        &host,
        "trivial",
        guests::GUEST_TRIVIAL,
        InstanceMode::Reuse,
    );
    let proto = metadata(0);
    let mut group = c.benchmark_group("observability");
    group.bench_function("no subscriber", |b| {
        b.iter_custom(|iters| on_request(&rt, &plugin, &proto, iters));
    });
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("fmt subscriber at debug (span recorded)", |b| {
            b.iter_custom(|iters| on_request(&rt, &plugin, &proto, iters));
        });
    });
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("fmt subscriber at info (span off)", |b| {
            b.iter_custom(|iters| on_request(&rt, &plugin, &proto, iters));
        });
    });
    group.finish();
}

fn load_costs(c: &mut Criterion) {
    support::load::bench(c);
}

/// The rbac example in Rust and in Python (componentize-py) side by side, in one
/// run: verify, cold load (verify, compile, first instance), cached load, and a hook
/// call allowed by its first rule on a reused and on a fresh instance; the package
/// sizes are printed. Skipped, saying why, when the Python guests were not built.
fn python_plugins(c: &mut Criterion) {
    use palisade::{Grants, SigningKey, TrustPolicy, verify_package};
    if let Some(why) = guests::python::UNAVAILABLE {
        eprintln!("python plugins: skipped: {why}");
        return;
    }
    let rt = runtime();
    let key = SigningKey::from_bytes(&[7; 32]);
    let trust = Arc::new(TrustPolicy::new().trust(key.public_key()));
    let cold = support::load::host_with(None);
    let cache = support::load::cache_dir("python");
    let cached = support::load::host_with(Some(cache.clone()));
    let call = Arc::new(
        CallInfo::server("orders.v1.Orders", "GetOrder")
            .with_peer_identity("spiffe://prod/frontend"),
    );
    let proto = metadata(0);
    let mut group = c.benchmark_group("python plugins");
    group.sample_size(10);
    for (language, name, path) in [
        ("rust", "rbac", guests::RBAC),
        ("python", "rbac-py", guests::python::RBAC_PY),
    ] {
        #[expect(
            clippy::disallowed_methods,
            reason = "the benchmark reads the built component"
        )]
        let component = std::fs::read(path).unwrap();
        let package = support::load::package(name, &component, &key);
        println!(
            "python plugins: {language} rbac: component {} bytes, package {} bytes",
            component.len(),
            package.len()
        );
        let spec = |mode| {
            PluginSpec::new(name, PluginSource::PackageBytes(package.clone()))
                .grants(Grants::none().config().log())
                .config([(
                    "rules",
                    "allow spiffe://prod/frontend orders.v1.Orders/Get*",
                )])
                .instance_mode(mode)
                // What a Python plugin needs (BENCHMARKS.md, "Python plugins"); the
                // Rust one uses a fraction of it.
                .limits(
                    bench_limits()
                        .with_max_memory_bytes(64 << 20)
                        .with_max_core_instances(64),
                )
                .trust(Arc::clone(&trust))
        };
        group.bench_function(BenchmarkId::new("verify", language), |b| {
            b.iter(|| black_box(verify_package(&package, Some(name), &trust).unwrap()));
        });
        group.bench_function(
            BenchmarkId::new("cold load (verify, compile, first instance)", language),
            |b| b.iter(|| black_box(rt.block_on(cold.load(spec(InstanceMode::Reuse))).unwrap())),
        );
        // Fill the cache once; every measured load then reads it.
        let reused = rt.block_on(cached.load(spec(InstanceMode::Reuse))).unwrap();
        group.bench_function(
            BenchmarkId::new("cached load (verify, cache read, first instance)", language),
            |b| b.iter(|| black_box(rt.block_on(cached.load(spec(InstanceMode::Reuse))).unwrap())),
        );
        let fresh = rt
            .block_on(cached.load(spec(InstanceMode::FreshPerCall)))
            .unwrap();
        for (label, plugin) in [("reused instance", &reused), ("fresh instance", &fresh)] {
            group.bench_function(BenchmarkId::new(format!("call, {label}"), language), |b| {
                b.iter_custom(|iters| {
                    timed(&rt, iters, async || {
                        let mut metadata = proto.clone();
                        let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
                        assert_eq!(decision, Decision::Continue);
                        black_box(metadata);
                    })
                });
            });
        }
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&cache);
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = trivial, chains, thirty_headers, cpu_limit, observability, load_costs, python_plugins
}

fn main() {
    benches();
    if support::selected("memory") {
        support::memory::report(quick());
    }
    Criterion::default().configure_from_args().final_summary();
}
