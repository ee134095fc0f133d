//! What a plugin's store holds: the live call, the virtual WASI, the limiter, and
//! the plugin-wide shared state (kv, log, config, keys, metrics).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capability::call::ActiveCall;
use crate::capability::crypto::PluginKeys;
use crate::capability::kv::KvStore;
use crate::capability::log::LogSink;
use crate::capability::metrics::PluginMetrics;
use crate::capability::wasi;
use crate::compile::{MAX_MEMORIES_PER_COMPONENT, MAX_TABLES_PER_COMPONENT};
use palisade_types::Limits;

/// State shared by every instance of one plugin.
pub(crate) struct PluginShared {
    pub(crate) name: String,
    pub(crate) log: Arc<LogSink>,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) kv: Option<Arc<KvStore>>,
    pub(crate) keys: Option<PluginKeys>,
    pub(crate) metrics: PluginMetrics,
    pub(crate) clock_origin: Instant,
}

/// Entries a store's resource table may hold at once: WASI streams, pollables and
/// stream errors, which live in host memory, outside the memory limit. A guest holds
/// a handful (stdout, stderr, a pollable while it waits); without a bound, one that
/// kept subscribing could fill wasmtime's default of a million entries, tens of MiB
/// of host memory per instance, kept across calls.
pub(crate) const MAX_RESOURCES: usize = 1024;

/// An empty resource table of at most [`MAX_RESOURCES`] entries.
fn resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    table
}

/// A store's data.
pub(crate) struct PluginState {
    pub(crate) call: ActiveCall,
    pub(crate) shared: Arc<PluginShared>,
    pub(crate) limiter: Limiter,
    table: ResourceTable,
    /// Built on the first WASI call: most hooks make none, and building it (boxed
    /// streams, a seeded random generator) is a large share of a fresh instance.
    wasi: Option<WasiCtx>,
    /// Held, not read: released when the store is dropped.
    _slot: InstanceSlot,
}

impl PluginState {
    pub(crate) fn new(shared: Arc<PluginShared>, limits: &Limits, slot: InstanceSlot) -> Self {
        Self {
            call: ActiveCall::default(),
            limiter: Limiter {
                max_memory_bytes: limits.max_memory_bytes,
                max_table_elements: limits.max_table_elements,
                max_instances: limits.max_core_instances,
                memory_bytes: 0,
                table_elements: 0,
                memory_denied: AtomicBool::new(false),
            },
            shared,
            table: resource_table(),
            wasi: None,
            _slot: slot,
        }
    }
}

/// One of a plugin's instances, counted while its store lives: dropping the store
/// (after a call, a trap or a failed instantiation) gives the place back. The count
/// is what keeps one plugin within its share of the engine's instance pool.
pub(crate) struct InstanceSlot(Arc<AtomicUsize>);

impl InstanceSlot {
    /// Takes a place among `alive`, unless `max` are taken already.
    pub(crate) fn take(alive: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        alive
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(Arc::clone(alive)))
    }
}

impl Drop for InstanceSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PluginState {
    /// The store's resource table (WASI streams and pollables live there).
    pub(crate) fn table_mut(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let log = &self.shared.log;
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(|| wasi::context(log)),
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for PluginState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

/// Enforces a plugin's memory, table and instance limits over the whole store, and
/// remembers a refused memory growth so that the trap that follows can be reported
/// as what it is.
///
/// A component is several core instances, each of which may define a memory and
/// tables; wasmtime asks the limiter about each one separately. The limits are for
/// the plugin instance as a whole, so the limiter keeps the sum: bytes of every
/// linear memory of the store together, elements of every table together. A store
/// holds exactly one plugin instance, and memories and tables are never freed before
/// the store is, so the sums only grow.
pub(crate) struct Limiter {
    pub(crate) max_memory_bytes: usize,
    max_table_elements: usize,
    max_instances: usize,
    /// Linear memory of all the store's memories together, as granted so far.
    memory_bytes: usize,
    /// Elements of all the store's tables together, as granted so far.
    table_elements: usize,
    memory_denied: AtomicBool,
}

impl Limiter {
    /// Whether a memory growth was refused since the last call to this.
    pub(crate) fn take_memory_denied(&self) -> bool {
        self.memory_denied.swap(false, Ordering::Relaxed)
    }
}

/// `total` with one entity's size changed from `current` to `desired`, if within
/// `max`. A growth past the entity's own declared maximum is let through uncounted:
/// wasmtime refuses it after asking (and would never call back to say so).
fn grow_within(
    total: usize,
    current: usize,
    desired: usize,
    declared_max: Option<usize>,
    max: usize,
) -> Option<usize> {
    if declared_max.is_some_and(|declared| desired > declared) {
        return Some(total);
    }
    let total = total.saturating_sub(current).saturating_add(desired);
    (total <= max).then_some(total)
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow_within(
            self.memory_bytes,
            current,
            desired,
            maximum,
            self.max_memory_bytes,
        ) {
            Some(total) => {
                self.memory_bytes = total;
                Ok(true)
            }
            None => {
                self.memory_denied.store(true, Ordering::Relaxed);
                Ok(false)
            }
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow_within(
            self.table_elements,
            current,
            desired,
            maximum,
            self.max_table_elements,
        ) {
            Some(total) => {
                self.table_elements = total;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        MAX_TABLES_PER_COMPONENT as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES_PER_COMPONENT as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_summed_over_the_store() {
        const MIB: usize = 1 << 20;
        // Two memories of 6 MiB under 16 MiB: growing the second to 11 MiB is refused.
        let total = grow_within(0, 0, 6 * MIB, None, 16 * MIB).unwrap();
        let total = grow_within(total, 0, 6 * MIB, None, 16 * MIB).unwrap();
        assert_eq!(total, 12 * MIB);
        assert_eq!(grow_within(total, 6 * MIB, 11 * MIB, None, 16 * MIB), None);
        assert_eq!(
            grow_within(total, 6 * MIB, 10 * MIB, None, 16 * MIB + 4 * MIB),
            Some(16 * MIB)
        );
        // Past the memory's own maximum wasmtime refuses it: not counted.
        assert_eq!(
            grow_within(total, 6 * MIB, 8 * MIB, Some(7 * MIB), 16 * MIB),
            Some(total)
        );
    }

    #[test]
    fn the_resource_table_is_bounded() {
        let mut table = resource_table();
        for _ in 0..MAX_RESOURCES {
            table.push(()).unwrap();
        }
        assert!(matches!(
            table.push(()),
            Err(wasmtime::component::ResourceTableError::Full)
        ));
    }
}
