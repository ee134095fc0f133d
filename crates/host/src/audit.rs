//! Around the pipeline, **audit**: every verification, load, refusal and reload of a
//! plugin is one [`AuditEvent`], emitted as a structured `tracing` event with target
//! [`AUDIT_TARGET`] and, when an [`AuditSink`] is set, appended to a file as one JSON
//! object per line.
//!
//! Field names are stable: they are the JSON keys and the `tracing` field names
//! alike (`event`, `plugin`, `version`, `signers`, `development_signers`,
//! `identities`, `component_sha256`, `requested`, `grants`, `hooks`, `signed`, `stage`,
//! `reason`, `message`, `previous_sha256`). Key ids and digests are lowercase hex;
//! grants are the manifest's `[capabilities]` shape as JSON. Text that did not come
//! from the host (a signer's subject, a message quoting a manifest) is escaped with
//! [`Untrusted`] in `tracing` output; JSON escapes it on its own. The format is in
//! the manual (`palisade::manual`, "Audit").

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;
use serde::ser::Serializer;
use serde_json::json;

pub use crate::error::AuditError;
use crate::error::Error;
use palisade_package::verify::{BundleSigner, KeyId};
use palisade_types::Untrusted;
use palisade_types::grants_toml::GrantsToml;
use palisade_types::{Grants, Hooks, Routes};

/// The `tracing` target of every audit event: filter on it to route the audit trail
/// (`RUST_LOG=palisade::audit=info`).
pub const AUDIT_TARGET: &str = "palisade::audit";

/// One audited fact. Serialized as a JSON object whose `event` field is the
/// variant's snake-case name.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent {
    /// A package passed every check of its trust policy, and its effective grants
    /// (the manifest's requests within the operator's grants) are settled.
    #[non_exhaustive]
    Verified {
        /// The plugin's name.
        plugin: String,
        /// The signed manifest's version.
        version: String,
        /// The distinct trusted keys whose signatures verified.
        #[serde(serialize_with = "ser_key_ids")]
        signers: Vec<KeyId>,
        /// Those of `signers` the trust policy marks as development keys.
        #[serde(serialize_with = "ser_key_ids")]
        development_signers: Vec<KeyId>,
        /// The distinct sigstore signers whose bundles verified and count, as
        /// `{"issuer", "subject", "log_index"}` objects (empty for a package signed
        /// with keys only).
        #[serde(serialize_with = "ser_identities")]
        identities: Vec<BundleSigner>,
        /// The component's SHA-256, recomputed and equal to the manifest's.
        #[serde(serialize_with = "ser_digest")]
        component_sha256: [u8; 32],
        /// What the signed manifest requests.
        #[serde(serialize_with = "ser_grants")]
        requested: Grants,
        /// What the plugin gets: the request, within the operator's grants.
        #[serde(serialize_with = "ser_grants")]
        grants: Grants,
    },
    /// A plugin went through the whole pipeline and its first instance is ready.
    #[non_exhaustive]
    Loaded {
        /// The plugin's name.
        plugin: String,
        /// Whether it came from a verified package (`false`: a bare component).
        signed: bool,
        /// The signed manifest's version; `null` for a bare component.
        version: Option<String>,
        /// The component's SHA-256.
        #[serde(serialize_with = "ser_digest")]
        component_sha256: [u8; 32],
        /// The capabilities it was linked with.
        #[serde(serialize_with = "ser_grants")]
        grants: Grants,
        /// The hooks that run.
        #[serde(serialize_with = "ser_hooks")]
        hooks: Hooks,
        /// The routes it applies to, as written; empty: every call.
        #[serde(serialize_with = "ser_routes")]
        routes: Routes,
    },
    /// A plugin was refused at some stage; nothing of it runs.
    #[non_exhaustive]
    Refused {
        /// The plugin's name, as the operator gave it.
        plugin: String,
        /// The stage that refused it: `load`, `verify`, `policy`, `compile`, `link`,
        /// `instantiate`, `audit` or `host`.
        stage: &'static str,
        /// The typed reason: the error variant's snake-case name
        /// (`invalid_signature`, `threshold_not_met`, `not_granted`, ...).
        reason: &'static str,
        /// The whole error message.
        message: String,
    },
    /// A running plugin was replaced by a newly loaded one (for `palisade serve`'s
    /// reload). The new one's `verified` and `loaded` events come first.
    #[non_exhaustive]
    Reloaded {
        /// The plugin's name.
        plugin: String,
        /// The new version, when it is a package.
        version: Option<String>,
        /// The replaced component's SHA-256, if one was running.
        #[serde(serialize_with = "ser_optional_digest")]
        previous_sha256: Option<[u8; 32]>,
        /// The new component's SHA-256.
        #[serde(serialize_with = "ser_digest")]
        component_sha256: [u8; 32],
    },
    /// A running plugin was taken out of the chain because the reloaded
    /// configuration no longer names it (for `palisade serve`'s reload). Comes with the
    /// new plugins' `reloaded` events, before the new chain is swapped in.
    #[non_exhaustive]
    Removed {
        /// The plugin's name.
        plugin: String,
        /// The version that was running, when it is a package.
        version: Option<String>,
        /// The removed component's SHA-256.
        #[serde(serialize_with = "ser_digest")]
        component_sha256: [u8; 32],
    },
    /// A reload was refused or failed, and the running chain was kept (for
    /// `palisade serve`). A plugin that failed to load has its own `refused` event
    /// before this one.
    #[non_exhaustive]
    ReloadFailed {
        /// `refused` (reloading is off) or `failed` (the new file or a plugin of it
        /// was refused, or it changes what needs a restart).
        outcome: &'static str,
        /// The configuration file.
        config: String,
        /// Why.
        message: String,
    },
}

impl AuditEvent {
    /// A [`Reloaded`](Self::Reloaded) event.
    pub fn reloaded(
        plugin: impl Into<String>,
        version: Option<String>,
        previous_sha256: Option<[u8; 32]>,
        component_sha256: [u8; 32],
    ) -> Self {
        Self::Reloaded {
            plugin: plugin.into(),
            version,
            previous_sha256,
            component_sha256,
        }
    }

    /// A [`Removed`](Self::Removed) event.
    pub fn removed(
        plugin: impl Into<String>,
        version: Option<String>,
        component_sha256: [u8; 32],
    ) -> Self {
        Self::Removed {
            plugin: plugin.into(),
            version,
            component_sha256,
        }
    }

    /// A [`ReloadFailed`](Self::ReloadFailed) event.
    pub fn reload_failed(
        outcome: &'static str,
        config: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::ReloadFailed {
            outcome,
            config: config.into(),
            message: message.into(),
        }
    }

    /// A [`Refused`](Self::Refused) event for `error`.
    pub fn refused(plugin: impl Into<String>, error: &Error) -> Self {
        let (stage, reason) = stage_and_reason(error);
        Self::Refused {
            plugin: plugin.into(),
            stage,
            reason,
            message: palisade_types::message_with_causes(error),
        }
    }

    /// The event's kind, as in its `event` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Verified { .. } => "verified",
            Self::Loaded { .. } => "loaded",
            Self::Refused { .. } => "refused",
            Self::Reloaded { .. } => "reloaded",
            Self::Removed { .. } => "removed",
            Self::ReloadFailed { .. } => "reload_failed",
        }
    }

    /// The plugin the event is about (empty for a
    /// [`ReloadFailed`](Self::ReloadFailed), which is about the whole chain).
    pub fn plugin(&self) -> &str {
        match self {
            Self::Verified { plugin, .. }
            | Self::Loaded { plugin, .. }
            | Self::Refused { plugin, .. }
            | Self::Reloaded { plugin, .. }
            | Self::Removed { plugin, .. } => plugin,
            Self::ReloadFailed { .. } => "",
        }
    }

    /// Emits the event to `tracing`, target [`AUDIT_TARGET`]: refusals at `WARN`,
    /// the rest at `INFO`.
    fn trace(&self) {
        match self {
            Self::Verified {
                plugin,
                version,
                signers,
                development_signers,
                identities,
                component_sha256,
                requested,
                grants,
            } => tracing::info!(
                target: AUDIT_TARGET,
                event = "verified",
                plugin = %plugin,
                version = %version,
                signers = %Ids(signers),
                development_signers = %Ids(development_signers),
                identities = %Signers(identities),
                component_sha256 = %hex::encode(component_sha256),
                requested = %grants_json(requested),
                grants = %grants_json(grants),
                "package verified"
            ),
            Self::Loaded {
                plugin,
                signed,
                version,
                component_sha256,
                grants,
                hooks,
                routes,
            } => tracing::info!(
                target: AUDIT_TARGET,
                event = "loaded",
                plugin = %plugin,
                signed = *signed,
                version = version.as_deref().unwrap_or(""),
                component_sha256 = %hex::encode(component_sha256),
                grants = %grants_json(grants),
                hooks = %hook_names(*hooks).join(","),
                routes = %palisade_types::Untrusted(&routes.to_string()),
                "plugin loaded"
            ),
            Self::Refused {
                plugin,
                stage,
                reason,
                message,
            } => tracing::warn!(
                target: AUDIT_TARGET,
                event = "refused",
                plugin = %plugin,
                stage = *stage,
                reason = *reason,
                message = %Untrusted(message),
                "plugin refused"
            ),
            Self::Reloaded {
                plugin,
                version,
                previous_sha256,
                component_sha256,
            } => tracing::info!(
                target: AUDIT_TARGET,
                event = "reloaded",
                plugin = %plugin,
                version = version.as_deref().unwrap_or(""),
                previous_sha256 = %previous_sha256.as_ref().map(hex::encode).unwrap_or_default(),
                component_sha256 = %hex::encode(component_sha256),
                "plugin reloaded"
            ),
            Self::Removed {
                plugin,
                version,
                component_sha256,
            } => tracing::info!(
                target: AUDIT_TARGET,
                event = "removed",
                plugin = %plugin,
                version = version.as_deref().unwrap_or(""),
                component_sha256 = %hex::encode(component_sha256),
                "plugin removed"
            ),
            Self::ReloadFailed {
                outcome,
                config,
                message,
            } => tracing::warn!(
                target: AUDIT_TARGET,
                event = "reload_failed",
                outcome = *outcome,
                config = %config,
                message = %Untrusted(message),
                "reload refused; the running chain is kept"
            ),
        }
    }
}

/// The stage that raised `error` and the variant's snake-case name.
fn stage_and_reason(error: &Error) -> (&'static str, &'static str) {
    let stage: &'static str = error.into();
    let reason: &'static str = match error {
        Error::Host(e) => e.into(),
        Error::Load(e) => e.into(),
        Error::Verify { reason, .. } => reason.reason(),
        Error::Policy(e) => e.into(),
        Error::Compile(e) => e.into(),
        Error::Link(e) => e.into(),
        Error::Instantiate(e) => e.into(),
        Error::Audit(e) => e.into(),
    };
    (stage, reason)
}

/// What to do when an audit line cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnAuditFailure {
    /// Fail closed: the load that could not be audited is refused
    /// ([`Error::Audit`]). What lockdown uses.
    Refuse,
    /// Log a warning and go on. What development mode uses.
    Warn,
}

/// An append-only audit log: one JSON object per line, each with `timestamp`
/// (RFC 3339, UTC, microseconds) followed by the [`AuditEvent`]'s fields.
///
/// The file is opened with `O_APPEND` and, when it does not exist, created with mode
/// `0600` (an existing file keeps its mode). Each line is written with one `write`
/// under a lock and synced to disk (`fdatasync`) before the event counts as recorded,
/// so a load is never reported as audited when it is not. Cloning shares the file.
#[derive(Clone)]
pub struct AuditSink {
    inner: Arc<SinkInner>,
}

struct SinkInner {
    path: PathBuf,
    file: Mutex<File>,
    on_failure: OnAuditFailure,
}

impl fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSink")
            .field("path", &self.inner.path)
            .field("on_failure", &self.inner.on_failure)
            .finish()
    }
}

impl AuditSink {
    /// Opens (or creates, mode `0600`) the audit log at `path` for appending.
    /// `on_failure` decides what a later write failure does to the load being audited.
    pub fn open(path: impl AsRef<Path>, on_failure: OnAuditFailure) -> Result<Self, AuditError> {
        let path = path.as_ref().to_owned();
        // Writing the audit trail is the one file the host writes; it never reads it.
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| AuditError::Open {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(SinkInner {
                path,
                file: Mutex::new(file),
                on_failure,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What a write failure does.
    pub fn on_failure(&self) -> OnAuditFailure {
        self.inner.on_failure
    }

    /// Appends `event` as one line and syncs it to disk. Returns the error whatever
    /// [`on_failure`](Self::on_failure) says; the host applies that policy.
    pub fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        #[derive(Serialize)]
        struct Line<'a> {
            timestamp: String,
            #[serde(flatten)]
            event: &'a AuditEvent,
        }
        let line = Line {
            timestamp: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            event,
        };
        let write_error = |source| AuditError::Write {
            path: self.inner.path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| write_error(e.into()))?;
        bytes.push(b'\n');
        let mut file = self
            .inner
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        file.write_all(&bytes).map_err(write_error)?;
        file.sync_data().map_err(write_error)
    }
}

/// Where one load's events go: always `tracing`, and every sink given.
pub(crate) struct Auditor<'a> {
    sinks: [Option<&'a AuditSink>; 2],
}

impl<'a> Auditor<'a> {
    /// `tracing` plus up to two sinks (the host's and the operator config's).
    pub(crate) fn new(first: Option<&'a AuditSink>, second: Option<&'a AuditSink>) -> Self {
        Self {
            sinks: [first, second],
        }
    }

    /// Emits `event`. A sink that cannot be written fails the call when it is
    /// [`OnAuditFailure::Refuse`], and is logged when it is `Warn`.
    pub(crate) fn emit(&self, event: &AuditEvent) -> Result<(), AuditError> {
        event.trace();
        let mut first_error = None;
        for sink in self.sinks.iter().flatten() {
            if let Err(error) = sink.record(event) {
                match sink.on_failure() {
                    OnAuditFailure::Refuse => {
                        tracing::error!(target: AUDIT_TARGET, error = %palisade_types::message_with_causes(&error), plugin = event.plugin(), "audit log not written; refusing");
                        first_error.get_or_insert(error);
                    }
                    OnAuditFailure::Warn => {
                        tracing::warn!(target: AUDIT_TARGET, error = %palisade_types::message_with_causes(&error), plugin = event.plugin(), "audit log not written");
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Emits a refusal of `plugin` for `error`. The load fails either way, so a sink
    /// that cannot record it is only logged.
    pub(crate) fn refused(&self, plugin: &str, error: &Error) {
        let _ = self.emit(&AuditEvent::refused(plugin, error));
    }
}

/// Key ids as `a,b,c` for `tracing`.
struct Ids<'a>(&'a [KeyId]);

impl fmt::Display for Ids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, id) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{id}")?;
        }
        Ok(())
    }
}

/// Sigstore signers as `subject (issuer i), ...` for `tracing`, escaped: the
/// certificate's text is the signer's, not the host's.
struct Signers<'a>(&'a [BundleSigner]);

impl fmt::Display for Signers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, signer) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "{} (issuer {})",
                Untrusted(&signer.identity.subject),
                Untrusted(&signer.identity.issuer)
            )?;
        }
        Ok(())
    }
}

fn hook_names(hooks: Hooks) -> Vec<&'static str> {
    [(hooks.request, "request"), (hooks.response, "response")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
}

/// Grants in the manifest's `[capabilities]` shape, as one line of JSON: `{"config":
/// {}, "crypto": {"keys": {"hmac-auth": "verify"}}, "kv": {"quota_bytes": 4096}}`. The
/// shape is [`GrantsToml`]'s, the type manifests and configs are read with.
pub fn grants_json(grants: &Grants) -> String {
    // Cannot fail: maps with string keys, strings and integers.
    serde_json::to_string(&GrantsToml::from(grants)).unwrap_or_default()
}

fn ser_key_ids<S: Serializer>(ids: &[KeyId], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(ToString::to_string))
}

fn ser_identities<S: Serializer>(signers: &[BundleSigner], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(signers.iter().map(|signer| {
        json!({
            "issuer": signer.identity.issuer,
            "subject": signer.identity.subject,
            "log_index": signer.log_index,
        })
    }))
}

fn ser_digest<S: Serializer>(digest: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(digest))
}

fn ser_optional_digest<S: Serializer>(digest: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match digest {
        Some(digest) => s.serialize_str(&hex::encode(digest)),
        None => s.serialize_none(),
    }
}

fn ser_grants<S: Serializer>(grants: &Grants, s: S) -> Result<S::Ok, S::Error> {
    GrantsToml::from(grants).serialize(s)
}

fn ser_hooks<S: Serializer>(hooks: &Hooks, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(hook_names(*hooks))
}

fn ser_routes<S: Serializer>(routes: &Routes, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(routes.patterns())
}

#[cfg(test)]
mod tests;
