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
//! - `compute-epoch`, `compute-fuel`: the compute guest on a host without / with fuel;
//! - `kernel-none`, `kernel-epoch`, `kernel-fuel`: its loop as a core module on an
//!   engine with no metering / epoch interruption / fuel.

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

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use palisade_host::{
    CallInfo, Chain, Decision, Host, HostConfig, InstanceMode, Limits, Plugin, PluginSource,
    PluginSpec,
};
use palisade_tests::guests::{GUEST_BARE, GUEST_COMPUTE, GUEST_READ_ONE, GUEST_TRIVIAL};

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
        "kernel-none" => kernel(core_floor::Metering::None),
        "kernel-epoch" => kernel(core_floor::Metering::Epoch),
        "kernel-fuel" => kernel(core_floor::Metering::Fuel),
        other => panic!("unknown mode {other}"),
    }
}

/// `n` request hooks through a chain of `plugins` copies of the guest at `path`.
fn hooks(n: u64, path: &str, mode: InstanceMode, plugins: usize, fuel: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A long epoch tick keeps the ticker thread out of the instruction count; a
    // small pool keeps the address-space reservation small under valgrind.
    let host = Host::new(HostConfig {
        epoch_tick: Duration::from_millis(100),
        max_instances: 2 * plugins as u32,
        fuel,
        ..HostConfig::default()
    })
    .unwrap();
    let chain: Vec<Plugin> = (0..plugins)
        .map(|i| {
            let spec = PluginSpec::new(format!("p{i}"), PluginSource::File(path.into()))
                .instance_mode(mode)
                // Valgrind runs the guest far slower; the deadline is not under test.
                .limits(Limits {
                    call_timeout: Duration::from_secs(10),
                    fuel: fuel.then_some(u64::MAX / 2),
                    ..Limits::default()
                });
            rt.block_on(host.load(spec)).unwrap()
        })
        .collect();
    let chain = Chain::new(chain);
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
    let mut proto = HeaderMap::new();
    proto.insert("x-request-id", HeaderValue::from_static("0f4c2a9e-77d1"));
    proto.insert("x-seed", HeaderValue::from_static("12345"));
    rt.block_on(async {
        for _ in 0..n {
            let mut metadata = proto.clone();
            let verdict = chain.on_request(&call, &mut metadata).await;
            assert_eq!(verdict.decision, Decision::Continue);
            std::hint::black_box(metadata);
        }
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
