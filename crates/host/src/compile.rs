//! Stage 3, **compile**: one shared engine; the single place `wasmtime::Config` is built.

pub(crate) mod cache;

use palisade_types::bounds::MAX_CORE_INSTANCES_PER_COMPONENT;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use self::cache::{CacheStats, CompiledCache};
use crate::error::{CompileError, HostError};
use palisade_package::policy::Authorized;
use palisade_types::MAX_MEMORY_BYTES;

/// Linear memory per pool slot kept resident and reset in place when an instance is
/// freed. Rust guests keep a 1 MiB stack below their data; this covers it and a
/// small heap.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// The same for tables: wasmtime `memset`s this much of a freed table whatever it
/// used, and guests' function tables fit in a page or two.
const KEEP_RESIDENT_TABLE_BYTES: usize = 8 << 10;

/// Linear memories one plugin instance may hold: a Rust guest has one; two allow a
/// composition of two. Each memory takes one of the pool's memory slots, each a
/// reservation of address space (4 GiB and a guard), so this is kept small.
pub(crate) const MAX_MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one plugin instance may hold: a Rust guest has two (its function table
/// and the shim's).
pub(crate) const MAX_TABLES_PER_COMPONENT: u32 = 4;

/// Whether freed pool slots may be reset through the PAGEMAP_SCAN ioctl, given the
/// text of `/proc/swaps` (`None`: unreadable).
///
/// The scan reports a dirty page that was swapped out as clean, so wasmtime would
/// not reset it and the next instance in that slot (perhaps another plugin's) could
/// read what the previous one left there (an open wasmtime issue, PR #14357). With
/// any swap active (zram included) or when the host cannot tell, slots are reset the
/// long way: the kept-resident bytes rewritten whatever was used, the rest returned
/// with `madvise` (BENCHMARKS.md, "Pool slot reset", has the cost). The check runs
/// when the host starts: an operator who enables swap later restarts the host
/// (manual, "Defaults").
fn pagemap_scan_for(proc_swaps: Option<&str>) -> Enabled {
    match proc_swaps {
        // The first line is the column header; every further line is an active swap.
        Some(text) if text.lines().skip(1).all(|line| line.trim().is_empty()) => Enabled::Auto,
        _ => Enabled::No,
    }
}

/// Settings of the host as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostConfig {
    /// Meter fuel in every plugin, so that [`Limits::fuel`](crate::Limits::fuel) can be
    /// set. Off by default: epoch deadlines bound wall time at a fraction of the cost,
    /// and fuel slows every instruction.
    pub fuel: bool,
    /// How often the host advances the epoch. Deadlines are rounded up to it.
    pub epoch_tick: Duration,
    /// Plugin instances alive at once across all plugins (the pooling allocator's
    /// size). Each plugin holds at most its
    /// [`Limits::max_concurrency`](crate::Limits::max_concurrency) instances, busy and
    /// idle together, and every pool resource is sized so that each of these
    /// instances has room for the most a component may hold (core instances,
    /// memories, tables). So a plugin cannot take another's share, whatever its
    /// shape, as long as this is at least the sum of the plugins'
    /// `max_concurrency`.
    pub max_instances: u32,
    /// A directory for compiled native code, so that loading a plugin again skips the
    /// compiler. Keyed by the component's SHA-256 and the engine's configuration, and
    /// authenticated with a key the host keeps there: a changed entry is refused and
    /// recompiled, never run. It must be the host's alone: created 0700 when absent,
    /// refused when group- or world-writable. `None` (the default) compiles every load.
    pub cache_dir: Option<PathBuf>,
}

impl HostConfig {
    /// Sets [`fuel`](Self::fuel).
    pub fn with_fuel(mut self, fuel: bool) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets [`epoch_tick`](Self::epoch_tick).
    pub fn with_epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = tick;
        self
    }

    /// Sets [`max_instances`](Self::max_instances).
    pub fn with_max_instances(mut self, instances: u32) -> Self {
        self.max_instances = instances;
        self
    }

    /// Sets [`cache_dir`](Self::cache_dir).
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }
}

impl Default for HostConfig {
    /// No fuel metering, a 1 ms epoch tick, 1,000 instances, no compiled cache.
    fn default() -> Self {
        Self {
            fuel: false,
            epoch_tick: Duration::from_millis(1),
            max_instances: 1000,
            cache_dir: None,
        }
    }
}

/// Advances the engine's epoch on its own thread until dropped. Owned by the host
/// and shared by its plugins: no process-global timer.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    pub(crate) tick: Duration,
}

impl EpochTicker {
    fn start(engine: &Engine, tick: Duration) -> Result<Self, HostError> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let engine = engine.clone();
        std::thread::Builder::new()
            .name("palisade-epoch".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| HostError::Engine {
                reason: format!("cannot start the epoch thread: {e}"),
            })?;
        Ok(Self { stop, tick })
    }

    /// Ticks covering `timeout`, rounded up, plus one for the tick in progress.
    pub(crate) fn ticks_for(&self, timeout: Duration) -> u64 {
        let tick = self.tick.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The engine, its ticker and the compiled cache.
pub(crate) struct Compiler {
    pub(crate) engine: Engine,
    pub(crate) ticker: Arc<EpochTicker>,
    pub(crate) fuel: bool,
    cache: Option<CompiledCache>,
}

impl Compiler {
    pub(crate) fn new(config: &HostConfig) -> Result<Self, HostError> {
        if config.epoch_tick.is_zero() || config.epoch_tick > Duration::from_millis(100) {
            return Err(HostError::InvalidSetting {
                setting: "epoch_tick",
                reason: format!("{:?} is outside 1ns..=100ms", config.epoch_tick),
            });
        }
        if config.max_instances == 0 {
            return Err(HostError::InvalidSetting {
                setting: "max_instances",
                reason: "must be at least 1".into(),
            });
        }
        let pagemap_scan = pagemap_scan_for(std::fs::read_to_string("/proc/swaps").ok().as_deref());
        // Without the scan, wasmtime would rewrite all of the kept-resident bytes of
        // every freed slot (2 MiB: ~1.2M instructions per fresh instance); returning
        // the pages with `madvise` costs a page fault per page the next instance
        // touches instead, far less for a plugin's few pages.
        let keep_resident = match pagemap_scan {
            Enabled::No => 0,
            _ => KEEP_RESIDENT_BYTES,
        };
        let mut pooling = PoolingAllocationConfig::default();
        let n = config.max_instances;
        // Every total is `n` times what one component may hold, so that the binding
        // limit is always the component instances: an instance of any shape costs one
        // `n`-th of each pool, and a plugin's share is its instance cap (see
        // `max_instances`). Core and component instances are counters only; memories
        // and tables reserve address space, hence their small per-component bounds.
        pooling
            .total_component_instances(n)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            .total_core_instances(n.saturating_mul(MAX_CORE_INSTANCES_PER_COMPONENT))
            .total_memories(n.saturating_mul(MAX_MEMORIES_PER_COMPONENT))
            .total_tables(n.saturating_mul(MAX_TABLES_PER_COMPONENT))
            .total_stacks(n)
            .max_memory_size(MAX_MEMORY_BYTES)
            // A freed slot is reset by rewriting only its dirty pages (found with the
            // PAGEMAP_SCAN ioctl, Linux 6.7+) up to this many bytes, instead of
            // `madvise` and a page fault per page the next instance touches. A plugin
            // dirties a few pages per call (stack, data, heap); resetting those by hand
            // is most of what makes a fresh instance per call cheap. Only without
            // swap: see `pagemap_scan_for`.
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
            .pagemap_scan(pagemap_scan);
        let mut wasm = Config::new();
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
            .epoch_interruption(true)
            .consume_fuel(config.fuel)
            .wasm_component_model(true);
        let engine = Engine::new(&wasm).map_err(|e| HostError::Engine {
            reason: format!("{e:#}"),
        })?;
        let cache = match &config.cache_dir {
            Some(dir) => Some(CompiledCache::open(dir, &engine)?),
            None => None,
        };
        let ticker = Arc::new(EpochTicker::start(&engine, config.epoch_tick)?);
        Ok(Self {
            engine,
            ticker,
            fuel: config.fuel,
            cache,
        })
    }

    /// Compiles an authorized component, or reads it from the compiled cache.
    /// CPU-bound: call from a blocking context.
    pub(crate) fn compile(&self, authorized: &Authorized) -> Result<Component, CompileError> {
        let loaded = authorized.loaded();
        let (name, sha256) = (loaded.name(), loaded.sha256());
        if let Some(component) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&self.engine, name, &sha256))
        {
            return Ok(component);
        }
        let component =
            Component::new(&self.engine, loaded.bytes()).map_err(|e| CompileError::Invalid {
                plugin: name.to_owned(),
                reason: format!("{e:#}"),
            })?;
        if let Some(cache) = &self.cache {
            cache.put(name, &sha256, &component);
        }
        Ok(component)
    }

    /// What the compiled cache has done; all zero without one.
    pub(crate) fn cache_stats(&self) -> CacheStats {
        self.cache
            .as_ref()
            .map(CompiledCache::stats)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with swap never resets slots through PAGEMAP_SCAN (it skips dirty pages
    /// that were swapped out); neither does one that cannot read `/proc/swaps`.
    #[test]
    fn pagemap_scan_only_without_swap() {
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert!(matches!(pagemap_scan_for(Some(header)), Enabled::Auto));
        let with_swap = format!("{header}/swapfile  file  65532  0  -2\n");
        assert!(matches!(pagemap_scan_for(Some(&with_swap)), Enabled::No));
        let zram = format!("{header}/dev/zram0  partition  4194300  0  100\n");
        assert!(matches!(pagemap_scan_for(Some(&zram)), Enabled::No));
        assert!(matches!(pagemap_scan_for(None), Enabled::No));
    }
}
