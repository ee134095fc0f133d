//! Stage 5, **instantiate**: instances of a linked plugin, reused or fresh, never
//! reused after a trap.

pub(crate) mod state;
mod worker;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;
use wasmtime::Store;

use crate::capability::bindings::{Plugin as Bindings, PluginPre};
use crate::instance::state::{InstanceSlot, PluginShared, PluginState};
use crate::shard;
use palisade_types::CallError;
use palisade_types::Limits;

/// How a plugin's instances are used across calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceMode {
    /// Keep instances between calls (the default, and much faster). A plugin's own
    /// memory then survives from one call to the next; an instance that traps is
    /// thrown away and rebuilt.
    #[default]
    Reuse,
    /// A new instance for every call, for plugins that must not keep any state
    /// between calls.
    FreshPerCall,
}

/// One live instance with its store.
pub(crate) struct Instance {
    pub(crate) store: Store<PluginState>,
    pub(crate) bindings: Bindings,
}

/// The instances of one plugin.
pub(crate) struct Pool {
    pre: PluginPre<PluginState>,
    engine: wasmtime::Engine,
    shared: Arc<PluginShared>,
    pub(crate) limits: Limits,
    mode: InstanceMode,
    /// Epoch ticks one call (or instantiation: start functions run guest code) may take.
    deadline_ticks: u64,
    /// Whether the engine meters fuel; then every entry into the guest needs some.
    fuel_enabled: bool,
    /// Idle instances, per thread shard: a worker takes back the instances it used
    /// (their memory is warm in its core's cache) and touches no other thread's lock;
    /// it takes from another shard only when its own is empty.
    idle: Box<[CachePadded<Mutex<Vec<Instance>>>]>,
    /// Where `prewarm` puts the next instance, so that warm instances are spread.
    next_prewarm: AtomicUsize,
    /// Instances alive, idle and busy together: at most `limits.max_concurrency`, so
    /// that the plugin holds no more than its share of the engine's instance pool
    /// (see [`HostConfig::max_instances`](crate::HostConfig::max_instances)).
    alive: Arc<AtomicUsize>,
    pub(crate) permits: tokio::sync::Semaphore,
}

impl Pool {
    pub(crate) fn new(
        pre: PluginPre<PluginState>,
        engine: wasmtime::Engine,
        shared: Arc<PluginShared>,
        limits: Limits,
        mode: InstanceMode,
        deadline_ticks: u64,
        fuel_enabled: bool,
    ) -> Self {
        let permits = tokio::sync::Semaphore::new(limits.max_concurrency);
        Self {
            pre,
            engine,
            shared,
            limits,
            mode,
            deadline_ticks,
            fuel_enabled,
            idle: (0..shard::count())
                .map(|_| CachePadded::default())
                .collect(),
            next_prewarm: AtomicUsize::new(0),
            alive: Arc::new(AtomicUsize::new(0)),
            permits,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<PluginShared> {
        &self.shared
    }

    /// An idle instance (this thread's first, then any other's). Without one, the
    /// caller may [`instantiate`](Self::instantiate) (the plugin's backoff permitting).
    pub(crate) fn take_idle(&self) -> Option<Instance> {
        if self.mode == InstanceMode::Reuse {
            let home = shard::current(self.idle.len());
            let mask = self.idle.len() - 1;
            for i in 0..self.idle.len() {
                let idle = self.idle[(home + i) & mask]
                    .lock()
                    .ok()
                    .and_then(|mut idle| idle.pop());
                if idle.is_some() {
                    return idle;
                }
            }
        }
        None
    }

    /// Returns a healthy instance after a call, to this thread's shard.
    pub(crate) fn checkin(&self, instance: Instance) {
        if self.mode == InstanceMode::Reuse {
            self.park(shard::current(self.idle.len()), instance);
        }
    }

    fn park(&self, shard: usize, instance: Instance) {
        if let Ok(mut idle) = self.idle[shard].lock() {
            idle.push(instance);
        }
    }

    /// Instantiates until `target` instances are idle (at most the plugin's
    /// concurrency limit, busy instances included); returns how many are idle then.
    /// Reused instances only.
    pub(crate) fn warm(&self, target: usize) -> Result<usize, CallError> {
        if self.mode != InstanceMode::Reuse {
            return Ok(0);
        }
        let target = target.min(self.limits.max_concurrency);
        while self.idle_count() < target {
            if !self.warm_one()? {
                break;
            }
        }
        Ok(self.idle_count())
    }

    /// Creates an instance, for warming the pool at load time, unless the plugin has
    /// all the instances it may have; returns whether it did. Warm instances go round
    /// the shards, so that each worker finds one in its own.
    pub(crate) fn prewarm(&self) -> Result<bool, crate::error::InstantiateError> {
        let Some(slot) = self.slot() else {
            return Ok(false);
        };
        let instance = self.create(slot).map_err(|(error, memory_denied)| {
            crate::trap::start_error(&self.shared.name, &error, memory_denied, &self.limits)
        })?;
        self.place_warm(instance);
        Ok(true)
    }

    /// [`prewarm`](Self::prewarm) for a running plugin, failing as a call would.
    fn warm_one(&self) -> Result<bool, CallError> {
        let Some(slot) = self.slot() else {
            return Ok(false);
        };
        let instance = self.instantiate_in(slot)?;
        self.place_warm(instance);
        Ok(true)
    }

    fn place_warm(&self, instance: Instance) {
        if self.mode == InstanceMode::Reuse {
            let shard = self.next_prewarm.fetch_add(1, Ordering::Relaxed) & (self.idle.len() - 1);
            self.park(shard, instance);
        }
    }

    /// A new instance, in a place the plugin's instance cap leaves, or else an idle
    /// one: the caller holds one of the `max_concurrency` permits, so when every
    /// instance the plugin may have is alive, at least one of them is idle (parked by
    /// a call that ended, or by `warm`) unless it is being parked this moment.
    /// Synchronous: nothing linked is async, so instantiation (start functions
    /// included) runs on the caller's stack, under the same deadline.
    pub(crate) fn instantiate(&self) -> Result<Instance, CallError> {
        match self.slot() {
            Some(slot) => self.instantiate_in(slot),
            None => self.take_idle().ok_or_else(|| CallError::Saturated {
                plugin: self.shared.name.clone(),
                max_concurrency: self.limits.max_concurrency,
            }),
        }
    }

    /// A place for one more instance, if the plugin has fewer than its cap.
    fn slot(&self) -> Option<InstanceSlot> {
        InstanceSlot::take(&self.alive, self.limits.max_concurrency)
    }

    /// A new instance in `slot`.
    fn instantiate_in(&self, slot: InstanceSlot) -> Result<Instance, CallError> {
        self.create(slot)
            .map_err(|(e, _)| crate::trap::instantiate_error(&self.shared.name, &e))
    }

    /// A new instance in `slot`, or wasmtime's error and whether the limiter refused
    /// a memory growth meanwhile (a start function may trap on it).
    fn create(&self, slot: InstanceSlot) -> Result<Instance, (wasmtime::Error, bool)> {
        let state = PluginState::new(Arc::clone(&self.shared), &self.limits, slot);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(worker::on_epoch);
        self.arm(&mut store);
        match self.pre.instantiate(&mut store) {
            Ok(bindings) => Ok(Instance { store, bindings }),
            Err(error) => Err((error, store.data().limiter.take_memory_denied())),
        }
    }

    /// Gives `store` a fresh deadline and, when metered, a fresh tank of fuel, before
    /// each entry into the guest.
    pub(crate) fn arm(&self, store: &mut Store<PluginState>) {
        worker::arm(store, self.deadline_ticks);
        // A refusal a guest survived in an earlier call must not label a later trap.
        store.data().limiter.take_memory_denied();
        if self.fuel_enabled {
            // Cannot fail: the engine meters fuel. Without a fuel limit the deadline
            // alone bounds the call.
            let _ = store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX));
        }
    }

    /// Idle instances held right now.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle
            .iter()
            .map(|shard| shard.lock().map_or(0, |idle| idle.len()))
            .sum()
    }
}
