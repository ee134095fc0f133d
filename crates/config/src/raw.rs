//! The configuration file as written, before any value is checked.

use std::collections::BTreeMap;

use serde::Deserialize;

use palisade_types::grants_toml::GrantsToml;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigToml {
    pub(super) mode: Option<ModeToml>,
    pub(super) audit_log: Option<String>,
    pub(super) compiled_cache: Option<String>,
    #[serde(default)]
    pub(super) trust: TrustToml,
    #[serde(default)]
    pub(super) ceilings: CeilingsToml,
    #[serde(default)]
    pub(super) plugins: Vec<PluginToml>,
    #[serde(default)]
    pub(super) transport: TransportToml,
    pub(super) serve: Option<ServeToml>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct TransportToml {
    pub(super) cert: Option<String>,
    pub(super) key: Option<String>,
    pub(super) ca: Option<String>,
    pub(super) plaintext: Option<PlaintextToml>,
    #[serde(default)]
    pub(super) pins: BTreeMap<String, String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(super) enum PlaintextToml {
    Refuse,
    InsecureAllow,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum ModeToml {
    Lockdown,
    Development,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct TrustToml {
    #[serde(default)]
    pub(super) keys: Vec<String>,
    pub(super) threshold: Option<u64>,
    #[serde(default)]
    pub(super) revoked: Vec<String>,
    #[serde(default)]
    pub(super) min_versions: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) pins: BTreeMap<String, String>,
    /// A sigstore `trusted_root.json`, relative to the config file.
    pub(super) sigstore_trust_root: Option<String>,
    /// `[[trust.identity]]`: the sigstore signers whose bundles count.
    #[serde(default)]
    pub(super) identity: Vec<IdentityToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IdentityToml {
    pub(super) issuer: String,
    pub(super) subject: String,
    /// Fulcio's Source Repository URI (`1.3.6.1.4.1.57264.1.12`) must match.
    pub(super) source_repository: Option<String>,
    /// Fulcio's Source Repository Ref (`1.3.6.1.4.1.57264.1.14`) must match.
    pub(super) source_ref: Option<String>,
    /// Fulcio's Build Config URI (`1.3.6.1.4.1.57264.1.18`) must match.
    pub(super) build_config: Option<String>,
    /// Accept a build config other than the build signer (a reusable workflow).
    #[serde(default)]
    pub(super) allow_reusable_workflow: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CeilingsToml {
    #[serde(default)]
    pub(super) forbid: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PluginToml {
    pub(super) name: String,
    pub(super) package: Option<String>,
    pub(super) component: Option<String>,
    pub(super) hooks: Option<Vec<HookToml>>,
    pub(super) failure: Option<FailureToml>,
    pub(super) instances: Option<InstancesToml>,
    /// gRPC `pkg.Service/Method` (or `/*`) and `http:/prefix` patterns.
    pub(super) routes: Option<Vec<String>>,
    #[serde(default)]
    pub(super) grants: GrantsToml,
    #[serde(default)]
    pub(super) config: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) limits: LimitsToml,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum HookToml {
    Request,
    Response,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum FailureToml {
    Closed,
    Open,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum InstancesToml {
    Reuse,
    Fresh,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsToml {
    pub(super) max_memory_bytes: Option<u64>,
    pub(super) call_timeout_ms: Option<u64>,
    pub(super) fuel: Option<u64>,
    pub(super) max_concurrency: Option<u64>,
    pub(super) log_bytes_per_sec: Option<u64>,
    pub(super) log_burst_bytes: Option<u64>,
}

/// `[serve]`: the sidecar's settings as written (resolved in `serve`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServeToml {
    pub(super) listen: String,
    pub(super) upstream: String,
    pub(super) service: Option<String>,
    pub(super) metrics: Option<String>,
    pub(super) reload: Option<ReloadToml>,
    pub(super) upstream_plaintext: Option<UpstreamPlaintextToml>,
    pub(super) shutdown_grace_ms: Option<u64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(super) enum ReloadToml {
    Verified,
    Off,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(super) enum UpstreamPlaintextToml {
    LoopbackOnly,
    InsecureAllow,
}
