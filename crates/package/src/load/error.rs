//! Stage 1's error: the plugin's bytes could not be read.

use std::path::PathBuf;

/// Stage 1: the plugin's bytes could not be read.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read (the operating system's error is this
    /// error's source).
    #[error("cannot read plugin `{plugin}` from {}", path.display())]
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
