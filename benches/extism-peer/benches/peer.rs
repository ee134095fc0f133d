//! The trivial hook (check that `x-request-id` is present, continue) on Palisade and on Extism 1.30 (1.41 needs rustc 1.96),
//! per call and per load, in one run so that the ratios come from the same machine
//! state. Quick mode: `PALISADE_BENCH_QUICK=1`.
//!
//! `cargo bench --manifest-path benches/extism-peer/Cargo.toml`

#![allow(clippy::unwrap_used, reason = "benchmark set-up fails loudly")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented items")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use extism::{Manifest, Plugin as ExtismPlugin, PluginBuilder, Wasm};
use http::{HeaderMap, HeaderValue};
use palisade::{
    CallInfo, Decision, Host, HostConfig, InstanceMode, PluginSource, PluginSpec,
};
use palisade_tests::guests::GUEST_TRIVIAL;

const EXTISM_WASM: &str = env!("EXTISM_TRIVIAL_WASM");

fn quick() -> bool {
    std::env::var("PALISADE_BENCH_QUICK").is_ok_and(|v| v != "0")
}

fn config() -> Criterion {
    let c = Criterion::default().without_plots();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(800))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

fn metadata() -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("x-request-id", HeaderValue::from_static("0f4c2a9e-77d1"));
    map
}

/// The metadata as Extism input: `name: value` lines.
fn encode(map: &HeaderMap, out: &mut Vec<u8>) {
    out.clear();
    for (name, value) in map {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
}

fn extism_builder() -> PluginBuilder<'static> {
    // The bytes, not the path: extism without its default features refuses
    // file-based manifests ("File-based registration is disabled").
    let wasm = std::fs::read(EXTISM_WASM).unwrap();
    PluginBuilder::new(Manifest::new([Wasm::data(wasm)]))
        .with_wasi(false)
        .with_cache_disabled()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn spec(name: &str, mode: InstanceMode) -> PluginSpec {
    PluginSpec::new(name, PluginSource::File(GUEST_TRIVIAL.into())).instance_mode(mode)
}

fn per_call(c: &mut Criterion) {
    let rt = runtime();
    let host = Host::new(HostConfig::default()).unwrap();
    let reused = rt.block_on(host.load(spec("trivial", InstanceMode::Reuse))).unwrap();
    let fresh = rt
        .block_on(host.load(spec("trivial-fresh", InstanceMode::FreshPerCall)))
        .unwrap();
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
    let proto = metadata();
    let mut extism = extism_builder().build().unwrap();
    let compiled = extism_builder().compile().unwrap();

    let mut group = c.benchmark_group("per call");
    for (label, plugin) in [
        ("palisade, reused instance", &reused),
        ("palisade, fresh instance", &fresh),
    ] {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut metadata = proto.clone();
                        let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
                        assert_eq!(decision, Decision::Continue);
                        black_box(metadata);
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.bench_function("extism, reused plugin", |b| {
        let mut input = Vec::new();
        b.iter(|| {
            let metadata = proto.clone();
            encode(&metadata, &mut input);
            let out: &[u8] = extism.call("on_request", input.as_slice()).unwrap();
            assert_eq!(out, b"continue");
        });
    });
    group.bench_function("extism, fresh plugin (new_from_compiled)", |b| {
        let mut input = Vec::new();
        b.iter(|| {
            let mut plugin = ExtismPlugin::new_from_compiled(&compiled).unwrap();
            let metadata = proto.clone();
            encode(&metadata, &mut input);
            let out: &[u8] = plugin.call("on_request", input.as_slice()).unwrap();
            assert_eq!(out, b"continue");
        });
    });
    group.finish();
}

fn per_load(c: &mut Criterion) {
    let rt = runtime();
    let cold = Host::new(HostConfig::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("palisade-peer-cache-{}", std::process::id()));
    let cached = Host::new(HostConfig::default()
        .with_cache_dir(Some(dir.clone())))
    .unwrap();
    drop(rt.block_on(cached.load(spec("trivial", InstanceMode::Reuse))).unwrap());
    let compiled = extism_builder().compile().unwrap();

    let mut group = c.benchmark_group("per load");
    group.sample_size(10);
    group.bench_function("palisade, cold (compile, first instance)", |b| {
        b.iter(|| black_box(rt.block_on(cold.load(spec("trivial", InstanceMode::Reuse))).unwrap()));
    });
    group.bench_function("palisade, cached (disk cache, first instance)", |b| {
        b.iter(|| {
            black_box(rt.block_on(cached.load(spec("trivial", InstanceMode::Reuse))).unwrap())
        });
    });
    group.bench_function("extism, cold (compile, cache disabled)", |b| {
        b.iter(|| black_box(extism_builder().build().unwrap()));
    });
    group.bench_function("extism, from compiled (instantiate only)", |b| {
        b.iter(|| black_box(ExtismPlugin::new_from_compiled(&compiled).unwrap()));
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = config();
    targets = per_call, per_load
}
criterion_main!(benches);
