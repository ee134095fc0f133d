//! Resident memory of idle instances, read from `/proc/self/statm`.

use palisade::{HostConfig, InstanceMode, Limits, PluginSource, PluginSpec};
use palisade_tests::guests;

/// Prints the resident memory of one idle instance and of 1,000.
pub(crate) fn report(quick: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = palisade::Host::new(HostConfig::default().with_max_instances(1100)).unwrap();
    let n = if quick { 200 } else { 1000 };
    for (label, path) in [("trivial", guests::GUEST_TRIVIAL), ("rbac", guests::RBAC)] {
        let spec = PluginSpec::new(label, PluginSource::File(path.into()))
            .grants(palisade::Grants::none().config().log())
            .config([("rules", "allow spiffe://bench/client orders.v1.Orders/*")])
            .instance_mode(InstanceMode::Reuse)
            .limits(
                Limits::default()
                    .with_max_concurrency(1024)
                    .with_call_timeout(std::time::Duration::from_secs(10)),
            );
        let plugin = rt.block_on(host.load(spec)).unwrap();
        // What its first call adds to the one instance the load made (stack, heap and
        // data pages the guest touches): idle instances that have served calls carry it.
        let fresh = palisade_tests::resident_bytes();
        let call = std::sync::Arc::new(palisade::CallInfo::server("orders.v1.Orders", "Get"));
        let mut metadata = http::HeaderMap::new();
        metadata.insert("x-request-id", http::HeaderValue::from_static("1"));
        let _ = rt
            .block_on(plugin.on_request(&call, &mut metadata))
            .unwrap();
        println!(
            "memory/{label}: the first call added {} KiB resident to its instance",
            palisade_tests::resident_bytes().saturating_sub(fresh) / 1024
        );
        let before = palisade_tests::resident_bytes();
        let warmed = rt.block_on(plugin.warm(n + 1)).unwrap();
        let after = palisade_tests::resident_bytes();
        let added = warmed.saturating_sub(1).max(1) as u64;
        let each = after.saturating_sub(before) / added;
        println!(
            "memory/{label}: {added} more idle instances (instantiated, not yet called) added {:.1} MiB resident, {:.0} KiB each",
            after.saturating_sub(before) as f64 / (1 << 20) as f64,
            each as f64 / 1024.0
        );
        drop(plugin);
    }
}
