//! How an operator configuration is refused.

use std::path::PathBuf;

/// Why an operator configuration was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read (or is over
    /// [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES)).
    #[error("cannot read config {}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        reason: std::io::Error,
    },
    /// Not TOML, or not the expected shape (an unknown field, a wrong type, an
    /// unknown mode). Line and column are 1-based.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file (`<config>` for [`OperatorConfig::from_str`](crate::OperatorConfig::from_str)).
        path: PathBuf,
        /// The line of the error.
        line: usize,
        /// The column of the error.
        column: usize,
        /// The parser's explanation.
        message: String,
    },
    /// A value is well-formed TOML but not a valid setting.
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        /// The setting, as a path (`plugins.rbac.limits.fuel`, `trust.keys`).
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Valid, but refused by lockdown mode.
    #[error("lockdown refuses `{setting}`: {reason}")]
    Lockdown {
        /// The offending setting, as a path.
        setting: String,
        /// Why lockdown refuses it.
        reason: &'static str,
    },
}

impl ConfigError {
    /// Whether this is a lockdown refusal (a valid file that lockdown mode forbids),
    /// rather than a malformed one.
    pub fn is_lockdown_refusal(&self) -> bool {
        matches!(self, Self::Lockdown { .. })
    }
}

pub(super) fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.into(),
        reason: reason.into(),
    }
}
