//! Capability `metrics`: counters and histograms, kept per plugin by the host.

use palisade_types::bounds::{MAX_METRIC_NAME_BYTES, MAX_METRICS_PER_PLUGIN};
use std::collections::BTreeMap;
use std::sync::Mutex;

use wasmtime::component::{HasData, Linker};

use super::bindings::palisade::plugin::metrics as generated;
use crate::instance::state::PluginState;

/// One metric's current value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricValue {
    /// A counter's total.
    Counter(u64),
    /// A histogram's count, sum, minimum and maximum.
    Histogram {
        /// Observations.
        count: u64,
        /// Their sum.
        sum: f64,
        /// The smallest.
        min: f64,
        /// The largest.
        max: f64,
    },
}

/// A plugin's metrics.
#[derive(Default)]
pub(crate) struct PluginMetrics {
    values: Mutex<BTreeMap<String, MetricValue>>,
    refused: std::sync::atomic::AtomicU64,
}

impl PluginMetrics {
    pub(crate) fn snapshot(&self) -> BTreeMap<String, MetricValue> {
        self.values.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn update(
        &self,
        name: String,
        apply: impl FnOnce(Option<&mut MetricValue>) -> Option<MetricValue>,
    ) {
        let valid = !name.is_empty()
            && name.len() <= MAX_METRIC_NAME_BYTES
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let Ok(mut values) = self.values.lock() else {
            return;
        };
        if valid {
            let full = values.len() >= MAX_METRICS_PER_PLUGIN;
            match values.get_mut(&name) {
                Some(existing) => {
                    apply(Some(existing));
                    return;
                }
                None if !full => {
                    if let Some(value) = apply(None) {
                        values.insert(name, value);
                    }
                    return;
                }
                None => {}
            }
        }
        self.refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The view `metrics` functions run on.
pub(crate) struct MetricsView<'a> {
    metrics: &'a PluginMetrics,
}

impl generated::Host for MetricsView<'_> {
    fn counter_add(&mut self, name: String, value: u64) {
        self.metrics.update(name, |existing| match existing {
            Some(MetricValue::Counter(total)) => {
                *total = total.saturating_add(value);
                None
            }
            Some(_) => None,
            None => Some(MetricValue::Counter(value)),
        });
    }

    fn histogram_record(&mut self, name: String, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.metrics.update(name, |existing| match existing {
            Some(MetricValue::Histogram {
                count,
                sum,
                min,
                max,
            }) => {
                *count += 1;
                *sum += value;
                *min = min.min(value);
                *max = max.max(value);
                None
            }
            Some(_) => None,
            None => Some(MetricValue::Histogram {
                count: 1,
                sum: value,
                min: value,
                max: value,
            }),
        });
    }
}

struct HasMetrics;

impl HasData for HasMetrics {
    type Data<'a> = MetricsView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasMetrics>(linker, |state| MetricsView {
        metrics: &state.shared.metrics,
    })
}
