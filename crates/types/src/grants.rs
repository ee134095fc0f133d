//! What a plugin may do: the capabilities an operator grants, and the limits every
//! plugin runs under.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The version of the `palisade:plugin` contract this host serves.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The export every plugin must provide.
pub const INTERCEPTOR_EXPORT: &str = "palisade:plugin/interceptor@0.2.0";

/// A capability the operator can grant. Each is one WIT interface in `wit/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `palisade:plugin/log`: capped, rate-limited log lines.
    Log,
    /// `palisade:plugin/clock` (and `wasi:clocks`): wall and monotonic time.
    Clock,
    /// `palisade:plugin/config`: the plugin's own settings.
    Config,
    /// `palisade:plugin/kv`: per-plugin state with a quota.
    Kv,
    /// `palisade:plugin/crypto`: HMAC and ed25519 by key name.
    Crypto,
    /// `palisade:plugin/metrics`: counters and histograms.
    Metrics,
}

impl Capability {
    /// The capability's name, as used in configs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Clock => "clock",
            Self::Config => "config",
            Self::Kv => "kv",
            Self::Crypto => "crypto",
            Self::Metrics => "metrics",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Grant `log`. Its caps live in [`Limits`] (`log_*`), since stdout and stderr are
/// routed into the same capped log whether or not `log` is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogGrant {}

/// Grant `clock`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClockGrant {}

/// Grant `config`: the plugin may read the values in its
/// [`PluginSpec::config`](https://docs.rs/palisade-host/latest/palisade_host/struct.PluginSpec.html#method.config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigGrant {}

/// Grant `kv` with a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvGrant {
    /// The most key plus value bytes the plugin may store.
    pub quota_bytes: usize,
}

/// How a plugin may use a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Verify only (HMAC verify, ed25519 verify).
    Verify,
    /// Sign and verify.
    SignAndVerify,
}

/// Grant `crypto` over the named keys only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CryptoGrant {
    /// Key names and what the plugin may do with each.
    pub keys: BTreeMap<String, KeyUse>,
}

impl CryptoGrant {
    /// Allows `usage` of the host key named `name`.
    pub fn key(mut self, name: impl Into<String>, usage: KeyUse) -> Self {
        self.keys.insert(name.into(), usage);
        self
    }
}

/// Grant `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsGrant {}

/// Everything a plugin is allowed to import. One field per capability; `None` means
/// not granted. The linker destructures this struct exhaustively, so a new capability
/// cannot be added without deciding how it is linked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// `log`.
    pub log: Option<LogGrant>,
    /// `clock`.
    pub clock: Option<ClockGrant>,
    /// `config`.
    pub config: Option<ConfigGrant>,
    /// `kv`.
    pub kv: Option<KvGrant>,
    /// `crypto`.
    pub crypto: Option<CryptoGrant>,
    /// `metrics`.
    pub metrics: Option<MetricsGrant>,
}

impl Grants {
    /// Nothing granted. A plugin with no grants can still read and change the
    /// call's metadata (that is what an interceptor is), and gets a virtual WASI with
    /// no environment, no arguments, no files, no sockets and no clocks.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds `log`.
    pub fn log(mut self) -> Self {
        self.log = Some(LogGrant {});
        self
    }

    /// Adds `clock`.
    pub fn clock(mut self) -> Self {
        self.clock = Some(ClockGrant {});
        self
    }

    /// Adds `config`.
    pub fn config(mut self) -> Self {
        self.config = Some(ConfigGrant {});
        self
    }

    /// Adds `kv` with a quota in bytes.
    pub fn kv(mut self, quota_bytes: usize) -> Self {
        self.kv = Some(KvGrant { quota_bytes });
        self
    }

    /// Adds `crypto` with the given keys.
    pub fn crypto(mut self, grant: CryptoGrant) -> Self {
        self.crypto = Some(grant);
        self
    }

    /// Adds `metrics`.
    pub fn metrics(mut self) -> Self {
        self.metrics = Some(MetricsGrant {});
        self
    }

    /// The same grants without `capability`.
    pub fn without(mut self, capability: Capability) -> Self {
        match capability {
            Capability::Log => self.log = None,
            Capability::Clock => self.clock = None,
            Capability::Config => self.config = None,
            Capability::Kv => self.kv = None,
            Capability::Crypto => self.crypto = None,
            Capability::Metrics => self.metrics = None,
        }
        self
    }

    /// Whether `capability` is granted.
    pub fn allows(&self, capability: Capability) -> bool {
        match capability {
            Capability::Log => self.log.is_some(),
            Capability::Clock => self.clock.is_some(),
            Capability::Config => self.config.is_some(),
            Capability::Kv => self.kv.is_some(),
            Capability::Crypto => self.crypto.is_some(),
            Capability::Metrics => self.metrics.is_some(),
        }
    }
}

/// Resource limits for one plugin. Every bound has a default; none can be turned off.
/// Start from [`Limits::default`] and change what you need with the `with_*`
/// methods (the struct grows as the host learns to bound more).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Linear memory per plugin instance, in bytes: all of its memories together (a
    /// component is several core instances, and each may have a memory).
    pub max_memory_bytes: usize,
    /// Table elements per plugin instance, all of its tables together.
    pub max_table_elements: usize,
    /// Core instances per plugin instance (a component is several core instances);
    /// at most 64, the most the engine's pool gives one plugin instance (a Rust
    /// plugin has 3 or 4, a Python one 38).
    pub max_core_instances: usize,
    /// Wall-clock time one hook call may take (enforced by epoch interruption).
    pub call_timeout: Duration,
    /// Fuel per hook call, when the host was built with fuel metering.
    pub fuel: Option<u64>,
    /// Instances of this plugin that may run at once; further calls wait up to
    /// `call_timeout` for one, then fail as saturated.
    pub max_concurrency: usize,
    /// Log bytes per second (stdout, stderr and `log` together), after the burst.
    pub log_bytes_per_sec: u64,
    /// Log bytes that may be written at once before the rate applies.
    pub log_burst_bytes: u64,
}

impl Default for Limits {
    /// 16 MiB of memory, 10,000 table elements, 64 core instances, a 100 ms deadline,
    /// no fuel metering, 16 concurrent instances, 64 KiB/s of log with a 256 KiB burst.
    fn default() -> Self {
        Self {
            max_memory_bytes: 16 << 20,
            max_table_elements: 10_000,
            max_core_instances: 64,
            call_timeout: Duration::from_millis(100),
            fuel: None,
            max_concurrency: 16,
            log_bytes_per_sec: 64 << 10,
            log_burst_bytes: 256 << 10,
        }
    }
}

impl Limits {
    /// Sets [`max_memory_bytes`](Self::max_memory_bytes).
    pub fn with_max_memory_bytes(mut self, bytes: usize) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Sets [`max_table_elements`](Self::max_table_elements).
    pub fn with_max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = elements;
        self
    }

    /// Sets [`max_core_instances`](Self::max_core_instances).
    pub fn with_max_core_instances(mut self, instances: usize) -> Self {
        self.max_core_instances = instances;
        self
    }

    /// Sets [`call_timeout`](Self::call_timeout).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets [`fuel`](Self::fuel).
    pub fn with_fuel(mut self, fuel: Option<u64>) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets [`max_concurrency`](Self::max_concurrency).
    pub fn with_max_concurrency(mut self, instances: usize) -> Self {
        self.max_concurrency = instances;
        self
    }

    /// Sets [`log_bytes_per_sec`](Self::log_bytes_per_sec).
    pub fn with_log_bytes_per_sec(mut self, bytes: u64) -> Self {
        self.log_bytes_per_sec = bytes;
        self
    }

    /// Sets [`log_burst_bytes`](Self::log_burst_bytes).
    pub fn with_log_burst_bytes(mut self, bytes: u64) -> Self {
        self.log_burst_bytes = bytes;
        self
    }
}

/// The most [`Limits::max_memory_bytes`] may be.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;
/// The most [`Limits::call_timeout`] may be.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The most [`Limits::max_concurrency`] may be.
pub const MAX_CONCURRENCY: usize = 1024;
