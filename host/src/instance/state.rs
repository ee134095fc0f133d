//! What a plugin's store holds: the live call, the virtual WASI, the limiter, and
//! the plugin-wide shared state (kv, log, config, keys, metrics).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::policy::Limits;

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

/// A store's data.
pub(crate) struct PluginState {
    pub(crate) call: ActiveCall,
    pub(crate) shared: Arc<PluginShared>,
    pub(crate) limiter: Limiter,
    table: ResourceTable,
    /// Built on the first WASI call: most hooks make none, and building it (boxed
    /// streams, a seeded random generator) is a large share of a fresh instance.
    wasi: Option<WasiCtx>,
}

impl PluginState {
    pub(crate) fn new(shared: Arc<PluginShared>, limits: &Limits) -> Self {
        Self {
            call: ActiveCall::default(),
            limiter: Limiter {
                max_memory_bytes: limits.max_memory_bytes,
                max_table_elements: limits.max_table_elements,
                max_instances: limits.max_core_instances,
                memory_denied: AtomicBool::new(false),
            },
            shared,
            table: ResourceTable::new(),
            wasi: None,
        }
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

/// Enforces a plugin's memory, table and instance limits, and remembers a refused
/// memory growth so that the trap that follows can be reported as what it is.
pub(crate) struct Limiter {
    pub(crate) max_memory_bytes: usize,
    max_table_elements: usize,
    max_instances: usize,
    memory_denied: AtomicBool,
}

impl Limiter {
    /// Whether a memory growth was refused since the last call to this.
    pub(crate) fn take_memory_denied(&self) -> bool {
        self.memory_denied.swap(false, Ordering::Relaxed)
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_memory_bytes;
        if !allowed {
            self.memory_denied.store(true, Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.max_table_elements)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_instances
    }

    fn memories(&self) -> usize {
        self.max_instances
    }
}
