//! Stage 2, **policy**: what a plugin may do, and the check that its component asks
//! for nothing more. This is the capability boundary: every import a component may
//! have is classified in [`classify_import`], and everything not listed there is refused.
//!
//! The check reads the component's import section *before* compilation, so a
//! component that asks for files or sockets is refused without its code ever being
//! compiled, and the refusal names the import and the capability it would need.

use palisade_types::bounds::MAX_CORE_INSTANCES_PER_COMPONENT;
use palisade_types::{
    CONTRACT_VERSION, Capability, Grants, INTERCEPTOR_EXPORT, KeyUse, Limits, MAX_CALL_TIMEOUT,
    MAX_CONCURRENCY, MAX_MEMORY_BYTES,
};
use wasmparser::{Encoding, Parser, Payload};

use crate::load::Loaded;

mod error;
pub use self::error::PolicyError;

/// A plugin whose imports are within its grants, made only by [`authorize`]: the
/// only way to reach compilation.
#[derive(Debug)]
pub struct Authorized {
    loaded: Loaded,
    grants: Grants,
    limits: Limits,
}

impl Authorized {
    /// The component, as loaded.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// What it was granted; its imports are within these.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Its limits, each within the host's range.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
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

impl ImportClass {
    /// The class as `palisade inspect` prints it: `core`, `virtual wasi`, `needs
    /// kv`, `forbidden (file system access)`, `wrong version`, `unknown`.
    pub fn label(&self) -> String {
        match self {
            Self::Core => "core".into(),
            Self::VirtualWasi => "virtual wasi".into(),
            Self::Needs(capability) => format!("needs {capability}"),
            Self::Forbidden(what) => format!("forbidden ({what})"),
            Self::WrongVersion => "wrong version".into(),
            Self::Unknown => "unknown".into(),
        }
    }

    /// Whether a component with this import is refused (or, with `requested`, the
    /// grants a manifest asks for, would be): forbidden, of another contract
    /// version, unknown, or needing a capability not requested.
    pub fn is_flagged(&self, requested: Option<&Grants>) -> bool {
        match self {
            Self::Core | Self::VirtualWasi => false,
            Self::Needs(capability) => requested.is_some_and(|grants| !grants.allows(*capability)),
            Self::Forbidden(_) | Self::WrongVersion | Self::Unknown => true,
        }
    }
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

/// Checks the component's imports against `grants`, that it exports the
/// interceptor, that its limits are in range, and that every key its `crypto` grant
/// names is one the host holds (`host_has_key`). Runs before compilation.
pub fn authorize(
    loaded: Loaded,
    grants: Grants,
    limits: Limits,
    host_has_key: impl Fn(&str) -> bool,
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
    if let Some(crypto) = &grants.crypto
        && let Some(missing) = crypto.keys.keys().find(|k| !host_has_key(k))
    {
        return Err(PolicyError::UnknownKey {
            plugin,
            key: missing.clone(),
        });
    }
    tracing::debug!(plugin = %plugin, imports = ?surface.imports, "authorized");
    Ok(Authorized {
        loaded,
        grants,
        limits,
    })
}

/// Checks that every limit is at least 1 and within the host's range.
pub fn check_limits(plugin: &str, limits: &Limits) -> Result<(), PolicyError> {
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
        MAX_CORE_INSTANCES_PER_COMPONENT.into(),
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
pub fn effective_grants(
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

#[cfg(test)]
mod tests;
