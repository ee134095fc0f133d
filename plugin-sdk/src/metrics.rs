//! Capability `metrics` (`palisade:plugin/metrics`): counters and histograms.
//!
//! The host prefixes names per plugin, so plugins cannot collide.

use crate::bindings::palisade::plugin::metrics as wit;

/// Adds `value` to the counter `name`.
pub fn counter_add(name: &str, value: u64) {
    wit::counter_add(name, value);
}

/// Records one observation of `value` in the histogram `name`.
pub fn histogram_record(name: &str, value: f64) {
    wit::histogram_record(name, value);
}
