//! One error type per pipeline stage, and [`Error`] wrapping them all.
//!
//! Every variant names its culprit (the plugin, the import, the bound) so that an
//! operator reading one line of a log knows what was refused and where.

use std::path::PathBuf;

use palisade_package::{LoadError, PolicyError, VerifyError};

/// Any error from the host, by the stage that raised it.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// The host itself could not be set up.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The plugin's bytes could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The plugin's package was refused: malformed, or not signed as the
    /// [`TrustPolicy`](crate::TrustPolicy) requires.
    #[error("plugin `{plugin}`: package refused: {reason}")]
    Verify {
        /// The plugin's name.
        plugin: String,
        /// What was wrong with the package. Part of this error's message, not its
        /// `source()`, so that error-chain printers do not repeat it.
        reason: VerifyError,
    },
    /// The plugin asks for more than it was granted, or is not a plugin at all.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The component could not be compiled.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The granted capabilities could not be linked or pre-instantiated.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The plugin's first instance could not be created (its start function
    /// trapped, or the runtime refused it).
    #[error(transparent)]
    Instantiate(#[from] InstantiateError),
    /// The load could not be written to an audit log that must record it
    /// ([`OnAuditFailure::Refuse`](crate::audit::OnAuditFailure::Refuse)).
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The host could not be created from its configuration.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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

/// Stage 3: wasmtime could not compile the component.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
    /// The blocking task that read, verified or compiled the plugin panicked or was
    /// cancelled: a fault of the host, not of the plugin.
    #[error("plugin `{plugin}`: the {task} task failed: {reason}")]
    TaskFailed {
        /// The plugin's name.
        plugin: String,
        /// Which task: `loading` or `compilation`.
        task: &'static str,
        /// The runtime's explanation (`panicked`, `cancelled`).
        reason: String,
    },
}

/// Stage 5: the plugin's first instance could not be created. A load creates one,
/// so that a plugin that cannot run fails at load rather than on its first call.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum InstantiateError {
    /// A start function (run as the instance is created) trapped.
    #[error("plugin `{plugin}` trapped while starting: {kind}")]
    StartTrapped {
        /// The plugin's name.
        plugin: String,
        /// Why.
        kind: palisade_types::TrapKind,
    },
    /// The instance needs more memory than the plugin's limit as it is created (its
    /// memories' minimum sizes, or growth by a start function, were refused).
    #[error("plugin `{plugin}` needs more memory to start than its limit of {limit} bytes")]
    MemoryLimit {
        /// The plugin's name.
        plugin: String,
        /// The limit ([`Limits::max_memory_bytes`](palisade_types::Limits::max_memory_bytes)).
        limit: usize,
    },
    /// The runtime could not create the instance (resources exhausted, or a host
    /// function failed during start).
    #[error("plugin `{plugin}` could not be instantiated: {reason}")]
    Failed {
        /// The plugin's name.
        plugin: String,
        /// The root cause, escaped and bounded (the whole error goes to the
        /// operator's log).
        reason: String,
    },
}

/// Stage 4: the granted capabilities could not be linked.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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

/// The audit log could not be opened or written.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum AuditError {
    /// The file could not be opened for appending.
    #[error("cannot open audit log {}", path.display())]
    Open {
        /// The audit log.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A line could not be written (or synced to disk).
    #[error("cannot write audit log {}", path.display())]
    Write {
        /// The audit log.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}
