//! Stage 5, **instantiate**: instances of a linked plugin, reused or fresh, never
//! reused after a trap.

pub(crate) mod state;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use wasmtime::Store;

use crate::capability::bindings::{Plugin as Bindings, PluginPre};
use crate::error::CallError;
use crate::instance::state::{InstanceSlot, PluginShared, PluginState};
use crate::policy::Limits;
use crate::shard;

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

/// Consecutive traps after which rebuilding an instance waits.
const TRAPS_BEFORE_BACKOFF: u32 = 3;
/// The first wait; it doubles per further trap.
const BACKOFF_BASE: Duration = Duration::from_millis(10);
/// The longest wait. Short enough that a plugin fixed by a config change recovers fast.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Health {
    consecutive_traps: u32,
    retry_at: Option<Instant>,
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
    health: Mutex<Health>,
    /// Whether `health` counts any trap: lets the healthy path skip its lock.
    trapped: AtomicBool,
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
            health: Mutex::new(Health::default()),
            trapped: AtomicBool::new(false),
            permits,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<PluginShared> {
        &self.shared
    }

    /// An idle instance (this thread's first, then any other's), or a new one.
    pub(crate) fn checkout(&self) -> Result<Instance, CallError> {
        if self.mode == InstanceMode::Reuse
            && let Some(instance) = self.take_idle()
        {
            return Ok(instance);
        }
        self.check_backoff()?;
        match self.slot() {
            Some(slot) => self.instantiate(slot),
            // Every instance the plugin may have is alive. The caller holds one of the
            // `max_concurrency` permits, so at least one of them is idle (parked by a
            // call that ended, or by `warm`) unless it is being parked this moment.
            None => self.take_idle().ok_or_else(|| CallError::Saturated {
                plugin: self.shared.name.clone(),
                max_concurrency: self.limits.max_concurrency,
            }),
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        let home = shard::current(self.idle.len());
        let mask = self.idle.len() - 1;
        (0..self.idle.len()).find_map(|i| {
            self.idle[(home + i) & mask]
                .lock()
                .ok()
                .and_then(|mut idle| idle.pop())
        })
    }

    /// A place for one more instance, if the plugin has fewer than its cap.
    fn slot(&self) -> Option<InstanceSlot> {
        InstanceSlot::take(&self.alive, self.limits.max_concurrency)
    }

    /// Returns a healthy instance after a call, to this thread's shard.
    pub(crate) fn checkin(&self, instance: Instance) {
        self.record_success();
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
            if !self.prewarm()? {
                break;
            }
        }
        Ok(self.idle_count())
    }

    /// Creates an instance, for warming the pool at load time, unless the plugin has
    /// all the instances it may have; returns whether it did. Warm instances go round
    /// the shards, so that each worker finds one in its own.
    pub(crate) fn prewarm(&self) -> Result<bool, CallError> {
        let Some(slot) = self.slot() else {
            return Ok(false);
        };
        let instance = self.instantiate(slot)?;
        if self.mode == InstanceMode::Reuse {
            let shard = self.next_prewarm.fetch_add(1, Ordering::Relaxed) & (self.idle.len() - 1);
            self.park(shard, instance);
        }
        Ok(true)
    }

    /// A new instance in `slot`. Synchronous: nothing linked is async, so
    /// instantiation (start functions included) runs on the caller's stack, under the
    /// same deadline.
    fn instantiate(&self, slot: InstanceSlot) -> Result<Instance, CallError> {
        let state = PluginState::new(Arc::clone(&self.shared), &self.limits, slot);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        self.arm(&mut store);
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| CallError::Instantiate {
                plugin: self.shared.name.clone(),
                reason: format!("{e:#}"),
            })?;
        Ok(Instance { store, bindings })
    }

    /// Gives `store` a fresh deadline and, when metered, a fresh tank of fuel, before
    /// each entry into the guest.
    pub(crate) fn arm(&self, store: &mut Store<PluginState>) {
        store.set_epoch_deadline(self.deadline_ticks);
        // A refusal a guest survived in an earlier call must not label a later trap.
        store.data().limiter.take_memory_denied();
        if self.fuel_enabled {
            // Cannot fail: the engine meters fuel. Without a fuel limit the deadline
            // alone bounds the call.
            let _ = store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX));
        }
    }

    fn record_success(&self) {
        if self.trapped.load(Ordering::Relaxed)
            && let Ok(mut health) = self.health.lock()
        {
            *health = Health::default();
            self.trapped.store(false, Ordering::Relaxed);
        }
    }

    /// Counts a trap; the instance that trapped has already been dropped.
    pub(crate) fn record_trap(&self) {
        if let Ok(mut health) = self.health.lock() {
            self.trapped.store(true, Ordering::Relaxed);
            health.consecutive_traps = health.consecutive_traps.saturating_add(1);
            if health.consecutive_traps >= TRAPS_BEFORE_BACKOFF {
                let doublings = (health.consecutive_traps - TRAPS_BEFORE_BACKOFF).min(10);
                let wait = (BACKOFF_BASE * 2u32.pow(doublings)).min(BACKOFF_MAX);
                health.retry_at = Some(Instant::now() + wait);
            }
        }
    }

    fn check_backoff(&self) -> Result<(), CallError> {
        let Ok(health) = self.health.lock() else {
            return Ok(());
        };
        match health.retry_at {
            Some(at) if at > Instant::now() => Err(CallError::BackingOff {
                plugin: self.shared.name.clone(),
                consecutive_traps: health.consecutive_traps,
                remaining: at - Instant::now(),
            }),
            _ => Ok(()),
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
