//! One error type per pipeline stage, and [`Error`] wrapping them all.
//!
//! Every variant names its culprit (the plugin, the import, the bound) so that an
//! operator reading one line of a log knows what was refused and where.

use std::path::PathBuf;
use std::time::Duration;

/// Any error from the host, by the stage that raised it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host itself could not be set up.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The plugin's bytes could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The plugin asks for more than it was granted, or is not a plugin at all.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The component could not be compiled.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The granted capabilities could not be linked or pre-instantiated.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The host could not be created from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// wasmtime refused the engine configuration.
    #[error("engine configuration refused: {reason}")]
    Engine {
        /// wasmtime's explanation.
        reason: String,
    },
    /// A configuration value is out of its allowed range.
    #[error("invalid host configuration `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Two keys were registered under one name.
    #[error("key `{name}` is already in the key ring")]
    DuplicateKey {
        /// The key's name.
        name: String,
    },
}

/// Stage 1: the plugin's bytes could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("cannot read plugin `{plugin}` from {path}: {source}")]
    Io {
        /// The plugin's name.
        plugin: String,
        /// Where it was read from.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The package is larger than the host accepts.
    #[error("plugin `{plugin}` is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The plugin's name.
        plugin: String,
        /// Its size (or a lower bound, when reading stopped early).
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// The plugin's name is not usable (empty, too long, or odd characters).
    #[error("invalid plugin name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// Stage 2: the component is not an acceptable plugin for its grants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The bytes are not a WebAssembly component (a core module, or garbage).
    #[error("plugin `{plugin}` is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The plugin's name.
        plugin: String,
        /// What the parser found.
        reason: String,
    },
    /// The component imports a capability that was not granted.
    #[error(
        "plugin `{plugin}` imports `{import}`, which needs capability `{capability}`; it was not granted"
    )]
    NotGranted {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
        /// The capability that would allow it.
        capability: crate::Capability,
    },
    /// The component imports something no capability can grant (files, sockets, ...).
    #[error("plugin `{plugin}` imports `{import}`: {reason}; no capability grants it")]
    Forbidden {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
        /// What that import would give access to.
        reason: &'static str,
    },
    /// The component imports an interface the host does not know.
    #[error("plugin `{plugin}` imports unknown interface `{import}`")]
    UnknownImport {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
    },
    /// The component was built against a version of the contract this host does not serve.
    #[error("plugin `{plugin}` imports `{import}`, but this host serves version {supported}")]
    UnsupportedVersion {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
        /// The version this host serves.
        supported: &'static str,
    },
    /// The component does not export the interceptor interface.
    #[error("plugin `{plugin}` does not export `{expected}`")]
    MissingExport {
        /// The plugin's name.
        plugin: String,
        /// The export the host needs.
        expected: &'static str,
    },
    /// A limit is outside what the host allows.
    #[error("plugin `{plugin}`: limit `{limit}` = {value} is outside 1..={max}")]
    LimitOutOfRange {
        /// The plugin's name.
        plugin: String,
        /// The limit's name.
        limit: &'static str,
        /// The value asked for.
        value: u64,
        /// The host's maximum.
        max: u64,
    },
    /// A crypto grant names a key the host does not hold.
    #[error("plugin `{plugin}` is granted key `{key}`, which is not in the host's key ring")]
    UnknownKey {
        /// The plugin's name.
        plugin: String,
        /// The key's name.
        key: String,
    },
}

/// Stage 3: wasmtime could not compile the component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// Validation or code generation failed.
    #[error("plugin `{plugin}` failed to compile: {reason}")]
    Invalid {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's explanation (the whole chain).
        reason: String,
    },
}

/// Stage 4: the granted capabilities could not be linked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// wasmtime could not define a capability's functions in the linker.
    #[error("cannot link capability `{capability}` for plugin `{plugin}`: {reason}")]
    Define {
        /// The plugin's name.
        plugin: String,
        /// The capability being linked.
        capability: &'static str,
        /// wasmtime's explanation.
        reason: String,
    },
    /// The component's imports do not type-check against the host's interfaces.
    #[error("plugin `{plugin}` does not match the host's interfaces: {reason}")]
    Mismatch {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's explanation.
        reason: String,
    },
}

/// Stage 5 and 6: a hook call failed. The chain turns this into a decision
/// according to the plugin's [`FailurePolicy`](crate::FailurePolicy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The guest trapped; its instance has been discarded.
    #[error("plugin `{plugin}` trapped: {kind}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// Why.
        kind: TrapKind,
    },
    /// A new instance could not be created.
    #[error("plugin `{plugin}` could not be instantiated: {reason}")]
    Instantiate {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's explanation.
        reason: String,
    },
    /// Every instance the plugin may run at once was busy for longer than the call's timeout.
    #[error("plugin `{plugin}` is saturated: all {max_concurrency} instances busy")]
    Saturated {
        /// The plugin's name.
        plugin: String,
        /// The concurrency limit.
        max_concurrency: usize,
    },
    /// The plugin kept trapping and is backing off before it is rebuilt again.
    #[error(
        "plugin `{plugin}` is backing off after {consecutive_traps} consecutive traps (for {remaining:?} more)"
    )]
    BackingOff {
        /// The plugin's name.
        plugin: String,
        /// How many calls in a row trapped.
        consecutive_traps: u32,
        /// Time left before the next attempt.
        remaining: Duration,
    },
}

impl CallError {
    /// The trap kind, when this error is a trap.
    pub fn trap_kind(&self) -> Option<&TrapKind> {
        match self {
            Self::Trap { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// Why a guest trapped. Found by downcasting wasmtime's error, never by string matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrapKind {
    /// The call ran past its wall-clock deadline (epoch interruption).
    #[error("deadline of {0:?} exceeded")]
    Timeout(Duration),
    /// The call used all of its fuel.
    #[error("out of fuel ({0} units)")]
    OutOfFuel(u64),
    /// The guest tried to grow its memory past its limit, then failed.
    #[error("memory limit of {0} bytes exceeded")]
    MemoryLimit(usize),
    /// The guest's stack overflowed.
    #[error("stack overflow")]
    StackOverflow,
    /// The guest hit `unreachable` (a Rust panic or abort compiles to this).
    #[error("unreachable executed (the guest panicked or aborted)")]
    Unreachable,
    /// The guest called `exit`. WASI 0.2's `exit` carries only success or failure,
    /// so any non-zero status arrives as 1.
    #[error("guest exited with status {0}")]
    Exit(i32),
    /// Another wasm trap (out-of-bounds access, bad conversion, ...), as wasmtime
    /// describes it. A Rust guest that overflows its shadow stack (kept in linear
    /// memory) ends here as an out-of-bounds access.
    #[error("{0}")]
    Wasm(String),
    /// The guest broke the canonical ABI or a host function refused to continue.
    #[error("host error: {0}")]
    Host(String),
}
