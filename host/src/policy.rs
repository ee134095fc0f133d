//! Stage 2, **policy**: what a plugin may do, and the check that its component asks
//! for nothing more. This is the capability boundary: every import a component may
//! have is classified in [`classify_import`], and everything not listed there is refused.
//!
//! The check reads the component's import section *before* compilation, so a
//! component that asks for files or sockets is refused without its code ever being
//! compiled, and the refusal names the import and the capability it would need.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use wasmparser::{Encoding, Parser, Payload};

use crate::capability::crypto::KeyRing;
use crate::error::PolicyError;
use crate::load::Loaded;

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
/// [`PluginSpec::config`](crate::PluginSpec::config).
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Host-wide maxima that no plugin's [`Limits`] may exceed.
pub(crate) const MAX_MEMORY_BYTES: usize = 1 << 30;
pub(crate) const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const MAX_CONCURRENCY: usize = 1024;

/// A plugin whose imports are within its grants: the only way to reach compilation.
pub(crate) struct Authorized {
    pub(crate) loaded: Loaded,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) keys: Option<Arc<KeyRing>>,
}

/// What an import is, as far as the host is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportClass {
    /// The call, its metadata and their types: every plugin has them.
    Core,
    /// Part of the virtual WASI every Rust `std` guest gets (no authority).
    VirtualWasi,
    /// Allowed when this capability is granted.
    Needs(Capability),
    /// Never allowed; says what it would give access to.
    Forbidden(&'static str),
    /// Our package, another version.
    WrongVersion,
    /// Not known to the host.
    Unknown,
}

/// Classifies one import name (`namespace:package/interface@version`): the whole
/// capability boundary in one function.
pub fn classify_import(import: &str) -> ImportClass {
    let (path, version) = import.split_once('@').unwrap_or((import, ""));
    if let Some(interface) = path.strip_prefix("palisade:plugin/") {
        if version != CONTRACT_VERSION {
            return ImportClass::WrongVersion;
        }
        return match interface {
            // The call itself: what an interceptor is. No grant needed.
            "types" | "call" | "metadata" => ImportClass::Core,
            "log" => ImportClass::Needs(Capability::Log),
            "clock" => ImportClass::Needs(Capability::Clock),
            "config" => ImportClass::Needs(Capability::Config),
            "kv" => ImportClass::Needs(Capability::Kv),
            "crypto" => ImportClass::Needs(Capability::Crypto),
            "metrics" => ImportClass::Needs(Capability::Metrics),
            _ => ImportClass::Unknown,
        };
    }
    let Some((package, _interface)) = path.split_once('/') else {
        return ImportClass::Unknown;
    };
    // WASI 0.2.x: the host's wasmtime-wasi serves 0.2 and matches minor versions by semver.
    let wasi_02 = version.starts_with("0.2.");
    match package {
        // Arguments and environment are empty, stdin is empty, stdout/stderr go to the
        // capped log, exit traps. Streams and polling exist only to carry stdio.
        "wasi:cli" | "wasi:io" if wasi_02 => match path {
            "wasi:cli/environment"
            | "wasi:cli/exit"
            | "wasi:cli/stdin"
            | "wasi:cli/stdout"
            | "wasi:cli/stderr"
            | "wasi:cli/terminal-input"
            | "wasi:cli/terminal-output"
            | "wasi:cli/terminal-stdin"
            | "wasi:cli/terminal-stdout"
            | "wasi:cli/terminal-stderr"
            | "wasi:io/error"
            | "wasi:io/poll"
            | "wasi:io/streams" => ImportClass::VirtualWasi,
            _ => ImportClass::Unknown,
        },
        // Randomness gives no authority, and Rust's HashMap seeds itself from it.
        "wasi:random" if wasi_02 => ImportClass::VirtualWasi,
        // Time is a capability (it enables timing measurements), whichever API asks.
        "wasi:clocks" if wasi_02 => ImportClass::Needs(Capability::Clock),
        "wasi:filesystem" => ImportClass::Forbidden("file system access"),
        "wasi:sockets" => ImportClass::Forbidden("network access"),
        "wasi:http" => ImportClass::Forbidden("outbound HTTP"),
        _ => ImportClass::Unknown,
    }
}

/// An export that is the interceptor of another version of the contract.
fn other_interceptor_version(exports: &[String]) -> Option<&String> {
    let (interceptor, _) = INTERCEPTOR_EXPORT.split_once('@')?;
    exports.iter().find(|e| {
        e.split_once('@')
            .is_some_and(|(path, _)| path == interceptor)
    })
}

/// Checks the component's imports against `grants`, and that it exports the
/// interceptor. Runs before compilation.
pub(crate) fn authorize(
    loaded: Loaded,
    grants: Grants,
    limits: Limits,
    keys: &Arc<KeyRing>,
) -> Result<Authorized, PolicyError> {
    let plugin = loaded.name.clone();
    check_limits(&plugin, &limits)?;
    let surface = read_surface(&plugin, &loaded.bytes)?;
    for import in &surface.imports {
        match classify_import(import) {
            ImportClass::Core | ImportClass::VirtualWasi => {}
            ImportClass::Needs(capability) if grants.allows(capability) => {}
            ImportClass::Needs(capability) => {
                return Err(PolicyError::NotGranted {
                    plugin,
                    import: import.clone(),
                    capability,
                });
            }
            ImportClass::Forbidden(reason) => {
                return Err(PolicyError::Forbidden {
                    plugin,
                    import: import.clone(),
                    reason,
                });
            }
            ImportClass::WrongVersion => {
                return Err(PolicyError::UnsupportedVersion {
                    plugin,
                    interface: import.clone(),
                    supported: CONTRACT_VERSION,
                });
            }
            ImportClass::Unknown => {
                return Err(PolicyError::UnknownImport {
                    plugin,
                    import: import.clone(),
                });
            }
        }
    }
    if !surface.exports.iter().any(|e| e == INTERCEPTOR_EXPORT) {
        // A plugin built against another version of the contract says so, rather
        // than "no interceptor".
        if let Some(other) = other_interceptor_version(&surface.exports) {
            return Err(PolicyError::UnsupportedVersion {
                plugin,
                interface: other.clone(),
                supported: CONTRACT_VERSION,
            });
        }
        return Err(PolicyError::MissingExport {
            plugin,
            expected: INTERCEPTOR_EXPORT,
        });
    }
    // A crypto grant may only name keys the host holds: a typo should fail at load,
    // not as an `unknown-key` on every call.
    let keys = match &grants.crypto {
        Some(crypto) => {
            if let Some(missing) = crypto.keys.keys().find(|k| !keys.contains(k)) {
                return Err(PolicyError::UnknownKey {
                    plugin,
                    key: missing.clone(),
                });
            }
            Some(Arc::clone(keys))
        }
        None => None,
    };
    tracing::debug!(plugin = %plugin, imports = ?surface.imports, "authorized");
    Ok(Authorized {
        loaded,
        grants,
        limits,
        keys,
    })
}

pub(crate) fn check_limits(plugin: &str, limits: &Limits) -> Result<(), PolicyError> {
    let out_of_range = |limit, value: u64, max: u64| {
        if value == 0 || value > max {
            Err(PolicyError::LimitOutOfRange {
                plugin: plugin.to_owned(),
                limit,
                value,
                max,
            })
        } else {
            Ok(())
        }
    };
    out_of_range(
        "max_memory_bytes",
        limits.max_memory_bytes as u64,
        MAX_MEMORY_BYTES as u64,
    )?;
    out_of_range(
        "call_timeout_ms",
        limits.call_timeout.as_millis() as u64,
        MAX_CALL_TIMEOUT.as_millis() as u64,
    )?;
    out_of_range(
        "max_concurrency",
        limits.max_concurrency as u64,
        MAX_CONCURRENCY as u64,
    )?;
    out_of_range(
        "max_table_elements",
        limits.max_table_elements as u64,
        1 << 20,
    )?;
    // The engine's pool refuses a component with more, whatever the plugin's limit.
    out_of_range(
        "max_core_instances",
        limits.max_core_instances as u64,
        crate::compile::MAX_CORE_INSTANCES_PER_COMPONENT.into(),
    )?;
    Ok(())
}

/// A component's top-level imports and exports, by name.
#[derive(Debug, Default)]
pub(crate) struct Surface {
    pub(crate) imports: Vec<String>,
    pub(crate) exports: Vec<String>,
}

/// Reads the top-level import and export names of a component without compiling it.
pub(crate) fn read_surface(plugin: &str, bytes: &[u8]) -> Result<Surface, PolicyError> {
    let not_a_component = |reason: String| PolicyError::NotAComponent {
        plugin: plugin.to_owned(),
        reason,
    };
    if !bytes.starts_with(b"\0asm") {
        return Err(not_a_component(
            "no WebAssembly header (the file does not start with `\\0asm`)".into(),
        ));
    }
    let mut surface = Surface::default();
    // Nested modules and components have their own sections; only depth 1 (the
    // outermost component) describes what the plugin asks of the host.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| not_a_component(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(not_a_component(
                        "it is a core module; build it for wasm32-wasip2 (or run `wasm-tools component new`)".into(),
                    ));
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| not_a_component(e.to_string()))?;
                    surface.imports.push(extern_name(&import.name));
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| not_a_component(e.to_string()))?;
                    surface.exports.push(extern_name(&export.name));
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(not_a_component("truncated".into()));
    }
    Ok(surface)
}

/// The top-level import names of a component (`namespace:package/interface@version`),
/// read without compiling it; classify each with [`classify_import`].
pub fn component_imports(bytes: &[u8]) -> Result<Vec<String>, PolicyError> {
    read_surface("<component>", bytes).map(|surface| surface.imports)
}

fn extern_name(name: &wasmparser::ComponentExternName<'_>) -> String {
    match name.version_suffix {
        Some(suffix) if !name.name.contains('@') => format!("{}@{suffix}", name.name),
        _ => name.name.to_owned(),
    }
}

/// The grants a signed package gets: what its manifest requests, which must lie within
/// what the operator granted (`ceiling`). Asking for more is refused, not trimmed, so
/// that a manifest edited to escalate fails loudly. Capabilities the operator granted
/// but the manifest does not request are not granted.
pub(crate) fn effective_grants(
    plugin: &str,
    requested: &Grants,
    ceiling: &Grants,
) -> Result<Grants, PolicyError> {
    let exceeds = |capability, detail: String| PolicyError::ExceedsGrants {
        plugin: plugin.to_owned(),
        capability,
        detail,
    };
    // Exhaustive, so a new capability cannot skip this check.
    let Grants {
        log,
        clock,
        config,
        kv,
        crypto,
        metrics,
    } = requested;
    for (asked, capability) in [
        (log.is_some(), Capability::Log),
        (clock.is_some(), Capability::Clock),
        (config.is_some(), Capability::Config),
        (kv.is_some(), Capability::Kv),
        (crypto.is_some(), Capability::Crypto),
        (metrics.is_some(), Capability::Metrics),
    ] {
        if asked && !ceiling.allows(capability) {
            return Err(exceeds(capability, String::new()));
        }
    }
    if let (Some(asked), Some(allowed)) = (kv, &ceiling.kv)
        && asked.quota_bytes > allowed.quota_bytes
    {
        return Err(exceeds(
            Capability::Kv,
            format!(
                " (quota {} bytes, over the granted {})",
                asked.quota_bytes, allowed.quota_bytes
            ),
        ));
    }
    if let (Some(asked), Some(allowed)) = (crypto, &ceiling.crypto) {
        for (key, usage) in &asked.keys {
            match (usage, allowed.keys.get(key)) {
                (_, None) => {
                    return Err(exceeds(Capability::Crypto, format!(" (key `{key}`)")));
                }
                (KeyUse::SignAndVerify, Some(KeyUse::Verify)) => {
                    return Err(exceeds(
                        Capability::Crypto,
                        format!(" (signing with key `{key}`, granted for verify only)"),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(requested.clone())
}

pub(crate) mod grants_toml;

#[cfg(test)]
mod tests;
