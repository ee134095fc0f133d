//! # Palisade configuration
//!
//! The operator's configuration file: TOML in, a validated [`OperatorConfig`] out,
//! and [`LoadConfig::load_config`] to load its plugins into a chain.
//!
//! Two steps, as for package manifests: `raw` deserializes the file as written
//! (`deny_unknown_fields` everywhere, so a typo is an error, not a silently ignored
//! setting), then `resolve` checks every value and applies the mode's rules.
//! In [`Mode::Lockdown`] unsigned components, fail-open plugins, an empty trust
//! section, a zero threshold, `[transport] plaintext = "insecure-allow"`, a sigstore
//! trust root without CT logs, a non-loopback metrics endpoint, `min_versions` or
//! `pins` naming no configured plugin, and a missing `audit_log` are refused, each
//! naming the offending setting.
//! The format is in the manual (`palisade::manual`, "Configuration and lockdown").

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_host::audit::{AuditError, AuditSink, OnAuditFailure};
use palisade_host::{Chain, Error, Host, HostConfig, InstanceMode, PluginSpec};
use palisade_net::transport::TransportConfig;
use palisade_package::load::PluginSource;
use palisade_package::verify::TrustPolicy;
use palisade_types::{Capability, FailurePolicy, Grants, Hooks, KeyUse, Limits};

mod error;
mod raw;
mod resolve;
mod serve;

pub use error::ConfigError;
pub use serve::{DEFAULT_SHUTDOWN_GRACE, ReloadPolicy, ServeConfig};

/// The largest configuration file the host reads.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// How strict the host is about what it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Production: only signed packages, fail closed, a trust policy with keys.
    /// The default when the file does not say.
    Lockdown,
    /// Development: unsigned components load too, each with a warning.
    Development,
}

impl Mode {
    /// The mode's name as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lockdown => "lockdown",
            Self::Development => "development",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability the operator's `[ceilings] forbid` list takes away from every plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Ceiling {
    /// No plugin gets this capability.
    Forbid(Capability),
    /// `crypto-sign`: every crypto key grant is downgraded to verify-only.
    CryptoSign,
}

impl Ceiling {
    /// The name as written in `forbid`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Forbid(capability) => capability.name(),
            Self::CryptoSign => "crypto-sign",
        }
    }
}

/// Applies `ceilings` to `grants`: forbidden capabilities are removed, and
/// `crypto-sign` downgrades every key to [`KeyUse::Verify`].
pub fn apply_ceilings(mut grants: Grants, ceilings: &BTreeSet<Ceiling>) -> Grants {
    for ceiling in ceilings {
        match ceiling {
            Ceiling::Forbid(capability) => grants = grants.without(*capability),
            Ceiling::CryptoSign => {
                if let Some(crypto) = &mut grants.crypto {
                    for usage in crypto.keys.values_mut() {
                        *usage = KeyUse::Verify;
                    }
                }
            }
        }
    }
    grants
}

/// Where a configured plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfiguredSource {
    /// A signed package (`package = ...`), resolved against the config's directory.
    Package(PathBuf),
    /// An unsigned component (`component = ...`): development mode only.
    Component(PathBuf),
}

/// One `[[plugins]]` entry, validated, with the ceilings already applied to its grants.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfiguredPlugin {
    /// The plugin's name.
    pub name: String,
    /// Its package or component.
    pub source: ConfiguredSource,
    /// The operator's grants after the ceilings (for a package, the most its
    /// manifest may request).
    pub grants: Grants,
    /// Its limits.
    pub limits: Limits,
    /// Which hooks run.
    pub hooks: Hooks,
    /// Fail closed or open.
    pub failure_policy: FailurePolicy,
    /// Reused or fresh instances.
    pub instance_mode: InstanceMode,
    /// Its own config values.
    pub config: std::collections::BTreeMap<String, String>,
    /// The calls it applies to (`routes = [...]`; every call when left out).
    pub routes: palisade_types::Routes,
}

impl ConfiguredPlugin {
    /// The [`PluginSpec`] that loads this plugin under `trust`.
    pub fn spec(&self, trust: &Arc<TrustPolicy>) -> PluginSpec {
        let source = match &self.source {
            ConfiguredSource::Package(path) => PluginSource::Package(path.clone()),
            ConfiguredSource::Component(path) => PluginSource::File(path.clone()),
        };
        PluginSpec::new(self.name.clone(), source)
            .trust(Arc::clone(trust))
            .grants(self.grants.clone())
            .limits(self.limits.clone())
            .hooks(self.hooks)
            .failure_policy(self.failure_policy)
            .instance_mode(self.instance_mode)
            .config(self.config.clone())
            .routes(self.routes.clone())
    }
}

/// A validated operator configuration: the mode, the trust policy, and the plugins
/// in chain order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OperatorConfig {
    /// Lockdown or development.
    pub mode: Mode,
    /// `audit_log`: the JSON-lines audit file (relative to the config's directory),
    /// which [`Host::load_config`] appends to.
    pub audit_log: Option<PathBuf>,
    /// `compiled_cache`: a directory for the authenticated on-disk compiled cache
    /// ([`HostConfig::cache_dir`]), relative to the config's directory.
    pub compiled_cache: Option<PathBuf>,
    /// What every package must satisfy.
    pub trust: Arc<TrustPolicy>,
    /// The `[ceilings] forbid` list, already applied to every plugin's grants.
    pub ceilings: BTreeSet<Ceiling>,
    /// The plugins, in chain order.
    pub plugins: Vec<ConfiguredPlugin>,
    /// The `[transport]` section: TLS material, pins, and whether plaintext is allowed.
    pub transport: TransportConfig,
    /// The `[serve]` section, for `palisade serve` (the sidecar proxy), if present.
    pub serve: Option<ServeConfig>,
}

impl OperatorConfig {
    /// The host settings this configuration asks for: the defaults, with
    /// `compiled_cache` as [`HostConfig::cache_dir`].
    pub fn host_config(&self) -> HostConfig {
        HostConfig::default().with_cache_dir(self.compiled_cache.clone())
    }

    /// Reads and resolves the file at `path` (at most [`MAX_CONFIG_BYTES`]); plugin
    /// paths are relative to its directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let bytes =
            palisade_package::load::read_config(path, MAX_CONFIG_BYTES).map_err(|reason| {
                ConfigError::Io {
                    path: path.to_owned(),
                    reason,
                }
            })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: format!(
                "not UTF-8 (valid up to byte {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        resolve::resolve(&text, base, path)
    }

    /// Resolves `text`; plugin paths are relative to `base_dir`. Errors name the
    /// file as `<config>`.
    pub fn from_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, ConfigError> {
        resolve::resolve(text, base_dir.as_ref(), Path::new("<config>"))
    }
}

impl Mode {
    /// What an audit log that cannot be written does in this mode: lockdown fails
    /// closed, development warns.
    pub fn on_audit_failure(self) -> OnAuditFailure {
        match self {
            Self::Lockdown => OnAuditFailure::Refuse,
            Self::Development => OnAuditFailure::Warn,
        }
    }
}

impl OperatorConfig {
    /// Opens the config's `audit_log`, if it has one, with its mode's
    /// [`on_audit_failure`](Mode::on_audit_failure) (for an embedder that keeps one
    /// sink for the host's lifetime, reloads included).
    pub fn open_audit_sink(&self) -> Result<Option<AuditSink>, AuditError> {
        self.audit_log
            .as_ref()
            .map(|path| AuditSink::open(path, self.mode.on_audit_failure()))
            .transpose()
    }
}

/// Loading an operator config's plugins: a [`Host`] method from this crate.
pub trait LoadConfig {
    /// Loads every plugin of `config` through [`Host::load`], in order, into a
    /// [`Chain`]. The first plugin that fails to load fails the whole chain.
    /// In development mode each unsigned component is loaded with a warning.
    ///
    /// Every load and refusal is audited to `tracing`, the host's audit sink, and
    /// the config's `audit_log` (opened here unless the host's sink is that file).
    /// In lockdown an audit log that cannot be opened or written refuses the load
    /// ([`Error::Audit`]); in development it is a warning.
    fn load_config(
        &self,
        config: &OperatorConfig,
    ) -> impl std::future::Future<Output = Result<Chain, Error>> + Send;
}

impl LoadConfig for Host {
    /// Loads every plugin of `config` through [`Host::load`], in order, into a
    /// [`Chain`]. The first plugin that fails to load fails the whole chain.
    /// In development mode each unsigned component is loaded with a warning.
    ///
    /// Every load and refusal is audited to `tracing`, the host's audit sink, and
    /// the config's `audit_log` (opened here unless the host's sink is that file).
    /// In lockdown an audit log that cannot be opened or written refuses the load
    /// ([`Error::Audit`]); in development it is a warning.
    async fn load_config(&self, config: &OperatorConfig) -> Result<Chain, Error> {
        let already_open = |path: &PathBuf| self.audit_sink().is_some_and(|s| s.path() == path);
        let config_sink = match &config.audit_log {
            Some(path) if !already_open(path) => match config.open_audit_sink() {
                Ok(sink) => sink,
                Err(error) if config.mode == Mode::Lockdown => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(error = %palisade_types::message_with_causes(&error), mode = %config.mode, "audit log not opened; going on without it");
                    None
                }
            },
            _ => None,
        };
        let mut plugins = Vec::with_capacity(config.plugins.len());
        for plugin in &config.plugins {
            if let ConfiguredSource::Component(path) = &plugin.source {
                tracing::warn!(
                    plugin = %plugin.name,
                    path = %path.display(),
                    mode = %config.mode,
                    "UNSIGNED plugin loaded: its code is not verified by any signature \
                     (refused in lockdown mode)"
                );
            }
            plugins.push(
                self.load_with_audit_log(plugin.spec(&config.trust), config_sink.as_ref())
                    .await?,
            );
        }
        Ok(Chain::new(plugins))
    }
}
