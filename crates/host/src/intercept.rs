//! Stage 6, **intercept**: run hooks on calls, and chains of plugins in order.

pub(crate) mod backoff;

pub(crate) mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use http::HeaderMap;

use self::backoff::Backoff;
use self::stats::CallStats;
pub use self::stats::{CALL_DURATION_BUCKETS_SECONDS, DecisionCounts, DurationHistogram};
use crate::capability::metrics::MetricValue;
use crate::compile::EpochTicker;
use crate::instance::{Instance, Pool};
use crate::trap;
use palisade_types::{CallError, TrapKind};
use palisade_types::{CallInfo, Code, Decision, FailurePolicy, Hooks, Route, Routes, Verdict};

/// Counters and gauges of one plugin: a snapshot that `palisade serve` exports as
/// Prometheus text. The call counters and the duration histogram are lock-free
/// atomics updated on every call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PluginStats {
    /// Hook calls started.
    pub calls: u64,
    /// Calls that trapped (timeouts included).
    pub traps: u64,
    /// Calls that ran out of time.
    pub timeouts: u64,
    /// Calls that failed for any reason (traps, saturation, backoff, instantiation).
    pub failures: u64,
    /// Calls that returned a decision, by kind (`calls` is these plus `failures`,
    /// give or take the calls in flight).
    pub decisions: DecisionCounts,
    /// How long calls took, failures included: from the hook being called to its
    /// result (waiting for an instance, instantiating, running, returning).
    pub duration: DurationHistogram,
    /// Instances kept for reuse right now.
    pub idle_instances: usize,
    /// Bytes the plugin has written to the host log (stdout, stderr and `log`).
    pub log_bytes_emitted: u64,
    /// Messages dropped by the log rate cap.
    pub log_messages_dropped: u64,
    /// Bytes in the plugin's `kv` store.
    pub kv_used_bytes: usize,
    /// The plugin's own metrics.
    pub metrics: std::collections::BTreeMap<String, MetricValue>,
    /// The hooks the plugin said it does not implement (the SDK says so for a hook
    /// left at its default), which the host has stopped calling.
    pub unimplemented_hooks: Hooks,
}

pub(crate) struct PluginInner {
    pub(crate) pool: Pool,
    pub(crate) failure_policy: FailurePolicy,
    pub(crate) hooks: Hooks,
    /// The calls it applies to.
    routes: Routes,
    /// Set when a hook says it is not implemented: the host stops calling it.
    /// Indexed by [`Hook::index`].
    unimplemented: [AtomicBool; 2],
    /// Held so the epoch keeps advancing while any plugin is alive.
    _ticker: Arc<EpochTicker>,
    stats: CallStats,
    /// Refuses new instances for a while when most recent calls trapped.
    backoff: Backoff,
    /// What was loaded: the component's SHA-256 and, for a package, its version.
    component_sha256: [u8; 32],
    version: Option<String>,
}

/// A loaded plugin, ready to run. Cheap to clone; clones share instances and state.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name())
            .field("failure_policy", &self.inner.failure_policy)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
enum Hook {
    Request,
    Response(Code),
}

impl Hook {
    fn name(self) -> &'static str {
        match self {
            Self::Request => "on-request",
            Self::Response(_) => "on-response",
        }
    }

    /// Its place in per-hook arrays.
    fn index(self) -> usize {
        match self {
            Self::Request => 0,
            Self::Response(_) => 1,
        }
    }
}

impl PluginInner {
    /// Whether the plugin said `hook` is not implemented.
    fn unimplemented(&self, hook: Hook) -> &AtomicBool {
        &self.unimplemented[hook.index()]
    }

    /// Whether `hook` runs: the spec enables it and the plugin has not excused it.
    fn runs(&self, hook: Hook) -> bool {
        let enabled = match hook {
            Hook::Request => self.hooks.request,
            Hook::Response(_) => self.hooks.response,
        };
        enabled && !self.unimplemented(hook).load(Ordering::Relaxed)
    }

    /// Whether `hook` runs on a call to `route`.
    fn runs_on(&self, hook: Hook, route: Route<'_>) -> bool {
        self.runs(hook) && self.routes.matches(route)
    }
}

/// The outcome of a call, as the span's `decision` field.
fn outcome(result: &Result<Decision, CallError>) -> &'static str {
    match result {
        Ok(Decision::Continue) => "continue",
        Ok(Decision::Reject { .. }) => "reject",
        Ok(Decision::Respond(_)) => "respond",
        Err(CallError::Trap { .. }) => "trap",
        Err(_) => "error",
    }
}

impl Plugin {
    pub(crate) fn new(
        pool: Pool,
        failure_policy: FailurePolicy,
        hooks: Hooks,
        routes: Routes,
        ticker: Arc<EpochTicker>,
        component_sha256: [u8; 32],
        version: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(PluginInner {
                pool,
                failure_policy,
                hooks,
                routes,
                unimplemented: [AtomicBool::new(false), AtomicBool::new(false)],
                _ticker: ticker,
                stats: CallStats::default(),
                backoff: Backoff::default(),
                component_sha256,
                version,
            }),
        }
    }

    /// The SHA-256 of the component that runs (for a package, verified against its
    /// signed manifest).
    pub fn component_sha256(&self) -> [u8; 32] {
        self.inner.component_sha256
    }

    /// The signed manifest's version, for a plugin loaded from a package.
    pub fn version(&self) -> Option<&str> {
        self.inner.version.as_deref()
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.inner.pool.shared().name
    }

    /// What the chain does when this plugin fails.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.inner.failure_policy
    }

    /// The calls the plugin applies to ([`PluginSpec::routes`](crate::PluginSpec::routes)).
    pub fn routes(&self) -> &Routes {
        &self.inner.routes
    }

    /// Runs `on-request`. On success, `metadata` carries the plugin's changes; on
    /// failure it is left as it was before the call. A call outside the plugin's
    /// [`routes`](Self::routes) is not its business: `Continue`, without running it.
    pub async fn on_request(
        &self,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Result<Decision, CallError> {
        self.run_hook(Hook::Request, call, metadata).await
    }

    /// Runs `on-response` with the response's status (`Continue` outside its
    /// [`routes`](Self::routes)).
    pub async fn on_response(
        &self,
        call: &CallInfo,
        status: Code,
        metadata: &mut HeaderMap,
    ) -> Result<Decision, CallError> {
        self.run_hook(Hook::Response(status), call, metadata).await
    }

    /// The plugin's counters right now.
    pub fn stats(&self) -> PluginStats {
        let c = &self.inner.stats;
        let shared = self.inner.pool.shared();
        PluginStats {
            calls: c.calls(),
            traps: c.traps(),
            timeouts: c.timeouts(),
            failures: c.failures(),
            decisions: c.decisions(),
            duration: c.duration(),
            idle_instances: self.inner.pool.idle_count(),
            log_bytes_emitted: shared.log.emitted_bytes(),
            log_messages_dropped: shared.log.dropped_messages(),
            kv_used_bytes: shared.kv.as_ref().map_or(0, |kv| kv.used_bytes()),
            metrics: shared.metrics.snapshot(),
            unimplemented_hooks: Hooks {
                request: self
                    .inner
                    .unimplemented(Hook::Request)
                    .load(Ordering::Relaxed),
                response: self
                    .inner
                    .unimplemented(Hook::Response(Code::Ok))
                    .load(Ordering::Relaxed),
            },
        }
    }

    /// Instantiates ahead of traffic until `instances` idle instances are ready (at
    /// most [`Limits::max_concurrency`](crate::Limits::max_concurrency)), so that a
    /// burst of concurrent calls does not pay for instantiation. Returns how many are
    /// idle. Does nothing for [`InstanceMode::FreshPerCall`](crate::InstanceMode).
    pub async fn warm(&self, instances: usize) -> Result<usize, CallError> {
        self.inner.pool.warm(instances)
    }

    /// A value from the plugin's `kv` store, for operators and tests.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.pool.shared().kv.as_ref()?.get(key)
    }

    /// Runs `on-request` now, on this thread, if the plugin has a free instance
    /// slot: `None` if it would have to wait for one (then nothing ran and nothing
    /// was counted; [`on_request`](Self::on_request) waits). A hook is synchronous
    /// once it has its slot, so this is the whole call, without a future.
    pub fn on_request_now(
        &self,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Option<Result<Decision, CallError>> {
        self.hook_now(Hook::Request, call, metadata)
    }

    /// Runs `on-response` now if the plugin has a free instance slot (see
    /// [`on_request_now`](Self::on_request_now)).
    pub fn on_response_now(
        &self,
        call: &CallInfo,
        status: Code,
        metadata: &mut HeaderMap,
    ) -> Option<Result<Decision, CallError>> {
        self.hook_now(Hook::Response(status), call, metadata)
    }

    /// Runs `hook` if the plugin's routes take the call, waiting for a slot if need be.
    async fn run_hook(
        &self,
        hook: Hook,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Result<Decision, CallError> {
        if !self.inner.runs_on(hook, call.route()) {
            return Ok(Decision::Continue);
        }
        self.run(hook, call, metadata).await
    }

    fn hook_now(
        &self,
        hook: Hook,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Option<Result<Decision, CallError>> {
        if !self.inner.runs_on(hook, call.route()) {
            return Some(Ok(Decision::Continue));
        }
        self.run_now(hook, call, metadata)
    }

    async fn run(
        &self,
        hook: Hook,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Result<Decision, CallError> {
        if let Some(result) = self.run_now(hook, call, metadata) {
            return result;
        }
        // Saturated: wait for a slot, against the same deadline as running.
        let start = Instant::now();
        let limits = &self.inner.pool.limits;
        match tokio::time::timeout(limits.call_timeout, self.inner.pool.permits.acquire()).await {
            Ok(Ok(_permit)) => self.measured(hook, start, || {
                self.run_held(hook, call, metadata, Instant::now())
            }),
            _ => self.measured(hook, start, || Err(self.saturated())),
        }
    }

    /// Runs `hook` if a slot is free at once; `None` (nothing counted) if not.
    fn run_now(
        &self,
        hook: Hook,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Option<Result<Decision, CallError>> {
        let start = Instant::now();
        match self.inner.pool.permits.try_acquire() {
            Ok(_permit) => {
                Some(self.measured(hook, start, || self.run_held(hook, call, metadata, start)))
            }
            Err(tokio::sync::TryAcquireError::Closed) => {
                Some(self.measured(hook, start, || Err(self.saturated())))
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => None,
        }
    }

    fn saturated(&self) -> CallError {
        CallError::Saturated {
            plugin: self.name().to_owned(),
            max_concurrency: self.inner.pool.limits.max_concurrency,
        }
    }

    /// Counts and traces one hook call that started at `start` (waiting included).
    fn measured(
        &self,
        hook: Hook,
        start: Instant,
        run: impl FnOnce() -> Result<Decision, CallError>,
    ) -> Result<Decision, CallError> {
        let stats = &self.inner.stats;
        stats.start();
        // At debug level: with the usual info-level subscriber, a disabled span costs a
        // cached interest check per call, not an allocation.
        let span = tracing::debug_span!(
            "plugin_call",
            plugin = self.name(),
            hook = hook.name(),
            decision = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let result = if span.is_disabled() {
            run()
        } else {
            span.in_scope(run)
        };
        let elapsed = start.elapsed();
        stats.record(&result, elapsed);
        if !span.is_disabled() {
            span.record("decision", outcome(&result));
            span.record("duration_us", elapsed.as_secs_f64() * 1e6);
        }
        result
    }

    /// Runs `hook` with an instance slot held, the hook entered at `entered`.
    fn run_held(
        &self,
        hook: Hook,
        call: &CallInfo,
        metadata: &mut HeaderMap,
        entered: Instant,
    ) -> Result<Decision, CallError> {
        let inner = &*self.inner;
        let pool = &inner.pool;
        let limits = &pool.limits;
        // The hook's deadline runs from when it is entered, as its epoch deadline
        // does; the clock is read again only on the slow path (a new instance).
        let mut entered = entered;
        let mut instance = match pool.take_idle() {
            Some(instance) => instance,
            None => {
                inner.backoff.admit(self.name())?;
                let instance = pool.instantiate()?;
                entered = Instant::now();
                instance
            }
        };
        let Instance { store, bindings } = &mut instance;
        let deadline = entered + limits.call_timeout;
        let active = &mut store.data_mut().call;
        active.begin(call, metadata);
        active.hook_deadline = Some(deadline);
        pool.arm(store);
        let interceptor = bindings.palisade_plugin_interceptor();
        // A plain call on this thread's stack: the guest can reach no async host
        // function, so it needs no fiber. Past a small budget the epoch callback
        // hands this worker's queue to another thread (see `worker`), so that a hook
        // running to its deadline does not stall the runtime.
        let result = match hook {
            Hook::Request => interceptor.call_on_request(&mut *store),
            Hook::Response(status) => interceptor.call_on_response(&mut *store, status.into()),
        };
        let finished = store.data_mut().call.finish(result.is_ok(), metadata);
        match result {
            Ok(()) => {
                if finished.unimplemented
                    && !inner.unimplemented(hook).swap(true, Ordering::Relaxed)
                {
                    tracing::debug!(
                        plugin = self.name(),
                        hook = hook.name(),
                        "hook not implemented; no longer called"
                    );
                }
                pool.checkin(instance);
                Ok(finished.decision)
            }
            Err(error) => {
                let kind = classify_trap(&error, &instance, limits);
                // The full error (with the wasm backtrace, whose function names come
                // from the component's name section) is for the operator only, escaped;
                // the caller gets `kind`, which the host wrote.
                tracing::warn!(
                    plugin = self.name(),
                    %kind,
                    detail = %trap::operator_detail(&error),
                    "plugin trapped; instance discarded"
                );
                // The instance is dropped here: a trapped instance is never entered again.
                drop(instance);
                let stats = &inner.stats;
                let answered = stats.decisions();
                let answered = answered.continued + answered.rejected + answered.responded;
                // This trap is recorded in the counters after the call returns.
                inner.backoff.on_trap(answered, stats.traps() + 1);
                Err(CallError::Trap {
                    plugin: self.name().to_owned(),
                    kind,
                })
            }
        }
    }
}

fn classify_trap(error: &wasmtime::Error, instance: &Instance, limits: &crate::Limits) -> TrapKind {
    // A refused memory.grow surfaces as whatever the guest does next (Rust aborts
    // with `unreachable`); the limiter remembers the refusal.
    let memory_denied = instance.store.data().limiter.take_memory_denied();
    trap::trap_kind(error, memory_denied, limits)
        .unwrap_or_else(|| TrapKind::Host(trap::host_summary(error)))
}

/// Plugins in order. Requests pass through them first to last, responses last to
/// first; the first plugin that rejects or responds ends the walk.
///
/// Order is policy. Put authentication before authorization, and both before rate
/// limiting, so that rejected calls do not spend anyone's quota:
/// `Chain::new([hmac_auth, rbac, rate_limit])`.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    plugins: Vec<Plugin>,
}

impl Chain {
    /// A chain of `plugins`, in the order given.
    pub fn new(plugins: impl IntoIterator<Item = Plugin>) -> Self {
        Self {
            plugins: plugins.into_iter().collect(),
        }
    }

    /// The plugins, in request order.
    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// Which hooks some plugin of the chain runs on a call to `route`: those its
    /// spec enables, that it has not said it leaves unimplemented, and whose
    /// [`routes`](Plugin::routes) take `route`. A hook none runs need not be walked
    /// (the tower layers then skip the walk, and the call's allocations, entirely).
    pub fn hooks_for(&self, route: Route<'_>) -> Hooks {
        let mut hooks = Hooks {
            request: false,
            response: false,
        };
        for plugin in &self.plugins {
            let inner = &plugin.inner;
            if inner.routes.matches(route) {
                hooks.request |= inner.runs(Hook::Request);
                hooks.response |= inner.runs(Hook::Response(Code::Ok));
            }
        }
        hooks
    }

    /// Runs every plugin's `on-request` in order (those whose routes take the call).
    pub async fn on_request(&self, call: &CallInfo, metadata: &mut HeaderMap) -> Verdict {
        match self.on_request_now(call, metadata) {
            Walk::Done(verdict) => verdict,
            Walk::Waiting(waiting) => self.resume(waiting, call, metadata).await,
        }
    }

    /// Runs every plugin's `on-response` in reverse order (those whose routes take
    /// the call).
    pub async fn on_response(
        &self,
        call: &CallInfo,
        status: Code,
        metadata: &mut HeaderMap,
    ) -> Verdict {
        match self.on_response_now(call, status, metadata) {
            Walk::Done(verdict) => verdict,
            Walk::Waiting(waiting) => self.resume(waiting, call, metadata).await,
        }
    }

    /// [`on_request`](Self::on_request) on this thread, without a future, up to the
    /// first plugin that would have to wait for a free instance: hooks are
    /// synchronous once they hold an instance, so this is usually the whole walk.
    /// The tower layers call it so that a call costs no boxed future; finish a
    /// [`Walk::Waiting`] with [`resume`](Self::resume).
    pub fn on_request_now(&self, call: &CallInfo, metadata: &mut HeaderMap) -> Walk {
        self.walk_now(Waiting::start(Hook::Request), call, metadata)
    }

    /// [`on_response`](Self::on_response) on this thread, up to the first plugin that
    /// would wait (see [`on_request_now`](Self::on_request_now)).
    pub fn on_response_now(&self, call: &CallInfo, status: Code, metadata: &mut HeaderMap) -> Walk {
        self.walk_now(Waiting::start(Hook::Response(status)), call, metadata)
    }

    /// Finishes a walk that stopped at a plugin with no free instance: waits for it
    /// (at most its call timeout), then walks on. `call` and `metadata` are the ones
    /// the walk started with.
    pub async fn resume(
        &self,
        mut waiting: Waiting,
        call: &CallInfo,
        metadata: &mut HeaderMap,
    ) -> Verdict {
        loop {
            let Some(plugin) = self.in_walk_order(waiting.hook, waiting.done) else {
                return Verdict::new(Decision::Continue, None, waiting.failures);
            };
            let result = plugin.run_hook(waiting.hook, call, metadata).await;
            waiting.done += 1;
            if let Some(verdict) = settle(plugin, result, &mut waiting.failures) {
                return verdict;
            }
            match self.walk_now(waiting, call, metadata) {
                Walk::Done(verdict) => return verdict,
                // The next saturated plugin: wait for it in turn.
                Walk::Waiting(next) => waiting = next,
            }
        }
    }

    /// The plugin at `index` of `hook`'s walk order: requests first to last,
    /// responses last to first.
    fn in_walk_order(&self, hook: Hook, index: usize) -> Option<&Plugin> {
        match hook {
            Hook::Request => self.plugins.get(index),
            Hook::Response(_) => {
                let at = self.plugins.len().checked_sub(index + 1)?;
                self.plugins.get(at)
            }
        }
    }

    fn walk_now(&self, mut waiting: Waiting, call: &CallInfo, metadata: &mut HeaderMap) -> Walk {
        while let Some(plugin) = self.in_walk_order(waiting.hook, waiting.done) {
            let Some(result) = plugin.hook_now(waiting.hook, call, metadata) else {
                return Walk::Waiting(waiting);
            };
            waiting.done += 1;
            if let Some(verdict) = settle(plugin, result, &mut waiting.failures) {
                return Walk::Done(verdict);
            }
        }
        Walk::Done(Verdict::new(Decision::Continue, None, waiting.failures))
    }
}

/// How far a walk of the chain got on this thread ([`Chain::on_request_now`]).
#[derive(Debug)]
#[must_use = "a waiting walk must be resumed, or the call fails"]
pub enum Walk {
    /// Every plugin ran (or one ended the call): the verdict.
    Done(Verdict),
    /// A plugin has no free instance: [`Chain::resume`] waits for it and walks on.
    Waiting(Waiting),
}

/// A walk stopped before a plugin that has no free instance (it is at its
/// [`Limits::max_concurrency`](crate::Limits::max_concurrency)); the plugins before
/// it have run, and `metadata` holds their changes.
#[derive(Debug)]
pub struct Waiting {
    hook: Hook,
    /// Plugins walked so far, in walk order.
    done: usize,
    /// Failures of fail-open plugins so far.
    failures: Vec<CallError>,
}

impl Waiting {
    fn start(hook: Hook) -> Self {
        Self {
            hook,
            done: 0,
            failures: Vec::new(),
        }
    }
}

/// Applies a plugin's result to the walk: `Some` ends it.
fn settle(
    plugin: &Plugin,
    result: Result<Decision, CallError>,
    failures: &mut Vec<CallError>,
) -> Option<Verdict> {
    match result {
        Ok(Decision::Continue) => None,
        Ok(decision) => Some(Verdict::new(
            decision,
            Some(plugin.name().to_owned()),
            std::mem::take(failures),
        )),
        Err(error) => match plugin.failure_policy() {
            FailurePolicy::FailClosed => {
                let message = error.to_string();
                failures.push(error);
                Some(Verdict::new(
                    Decision::Reject {
                        code: Code::Unavailable,
                        message,
                    },
                    Some(plugin.name().to_owned()),
                    std::mem::take(failures),
                ))
            }
            FailurePolicy::FailOpen => {
                tracing::warn!(plugin = plugin.name(), %error, "plugin failed; failing open");
                failures.push(error);
                None
            }
        },
    }
}
