//! Hostile plugin: on every request, tries to create 10,000 distinct counters, one
//! with a 1 KiB name and one with forbidden characters, and records one histogram
//! observation of NaN. The host must keep at most its per-plugin number of metrics.
//! Sets `x-served-by: metrics-flood`.

use palisade_sdk::{Call, Decision, Metadata, Plugin, metrics};

#[derive(Default)]
struct MetricsFlood;

impl Plugin for MetricsFlood {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        for i in 0..10_000 {
            metrics::counter_add(&format!("flood_{i}"), 1);
        }
        metrics::counter_add(&"x".repeat(1024), 1);
        metrics::counter_add("Bad Name\n", 1);
        metrics::histogram_record("nan_histogram", f64::NAN);
        let _ = metadata.set("x-served-by", "metrics-flood");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(MetricsFlood);
