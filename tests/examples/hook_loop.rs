//! Runs the trivial hook `N` times on one thread, for profilers and for the
//! instruction-count guard (`scripts/perf-guard.sh`), which runs it twice with
//! different `N` and divides the difference so that set-up cancels out.
//!
//! `cargo run --release -p palisade-tests --example hook_loop -- N [reuse|fresh]`

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a profiling harness fails loudly"
)]

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use palisade_host::{CallInfo, Decision, Host, HostConfig, InstanceMode, PluginSource, PluginSpec};
use palisade_tests::guests::GUEST_TRIVIAL;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse().unwrap_or_else(|_| panic!("not a count: {a}")))
        .unwrap_or(10_000);
    let mode = match args.next().as_deref() {
        None | Some("reuse") => InstanceMode::Reuse,
        Some("fresh") => InstanceMode::FreshPerCall,
        Some(other) => panic!("mode is `reuse` or `fresh`, not {other}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A long epoch tick keeps the ticker thread out of the instruction count; a
    // small pool keeps the address-space reservation small under valgrind.
    let host = Host::new(HostConfig {
        epoch_tick: std::time::Duration::from_millis(100),
        max_instances: 2,
        ..HostConfig::default()
    })
    .unwrap();
    let plugin = rt
        .block_on(
            host.load(
                PluginSpec::new("trivial", PluginSource::File(GUEST_TRIVIAL.into()))
                    .instance_mode(mode),
            ),
        )
        .unwrap();
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
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
