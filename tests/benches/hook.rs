//! First measurement of one hook call: the `add-header` plugin (reads one config value,
//! sets one header, continues) on a reused instance and on a fresh instance per call,
//! against the same logic as a plain Rust function measured in the same run.
//!
//! `cargo bench -p palisade-tests --bench hook`

#![allow(clippy::unwrap_used, reason = "benchmark set-up")]
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use palisade_host::{
    CallInfo, Chain, Grants, Host, HostConfig, InstanceMode, PluginSource, PluginSpec,
};
use palisade_tests::guests::ADD_HEADER;

fn add_header_spec(mode: InstanceMode) -> PluginSpec {
    PluginSpec::new("add-header", PluginSource::File(ADD_HEADER.into()))
        .grants(Grants::none().config())
        .config([("name", "x-tenant"), ("value", "blue")])
        .instance_mode(mode)
}

fn hook(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = Host::new(HostConfig::default()).unwrap();
    let reused = rt
        .block_on(host.load(add_header_spec(InstanceMode::Reuse)))
        .unwrap();
    let fresh = rt
        .block_on(host.load(add_header_spec(InstanceMode::FreshPerCall)))
        .unwrap();
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));

    let mut group = c.benchmark_group("one hook call");
    group.bench_function("native function (floor)", |b| {
        let config = [("name", "x-tenant"), ("value", "blue")];
        b.iter(|| {
            let mut metadata = HeaderMap::new();
            let value = config.iter().find(|(k, _)| *k == "value").map(|(_, v)| *v);
            metadata.insert("x-tenant", HeaderValue::from_static(value.unwrap_or("")));
            black_box(metadata)
        });
    });
    // What the harness itself costs per iteration: the plugin rows include this.
    group.bench_function("empty block_on (harness)", |b| {
        b.iter(|| rt.block_on(async { black_box(()) }));
    });
    for (label, plugin) in [
        ("plugin, reused instance", &reused),
        ("plugin, fresh instance", &fresh),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut metadata = HeaderMap::new();
                    let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
                    black_box((decision, metadata))
                })
            });
        });
    }
    let chain3 = Chain::new([reused.clone(), reused.clone(), reused.clone()]);
    group.bench_function("chain of 3, reused", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut metadata = HeaderMap::new();
                black_box(chain3.on_request(&call, &mut metadata).await)
            })
        });
    });
    group.finish();
}

criterion_group!(benches, hook);
criterion_main!(benches);
