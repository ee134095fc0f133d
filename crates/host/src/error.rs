//! One error type per pipeline stage, and [`Error`] wrapping them all.
//!
//! Every variant names its culprit (the plugin, the import, the bound) so that an
//! operator reading one line of a log knows what was refused and where.

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
    /// The load could not be written to an audit log that must record it
    /// ([`OnAuditFailure::Refuse`](crate::audit::OnAuditFailure::Refuse)).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
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
