//! Raw configuration to [`OperatorConfig`], in one fallible step.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::error::{ConfigError, invalid};
use super::raw::{
    ConfigToml, FailureToml, HookToml, InstancesToml, LimitsToml, ModeToml, PlaintextToml,
    PluginToml, TransportToml, TrustToml,
};
use super::{Ceiling, ConfiguredPlugin, ConfiguredSource, Mode, OperatorConfig, apply_ceilings};
use palisade_host::InstanceMode;
use palisade_net::transport::{Pem, TlsMaterial, TransportConfig};
use palisade_package::verify::{
    DEVELOPMENT_KEY_PREFIX, Identity, KeyId, KeyKind, KeyTextError, MAX_TRUST_ROOT_BYTES,
    PublicKey, RefPattern, SigstoreTrustRoot, SubjectPattern, TrustPolicy,
};
use palisade_types::grants_toml::GrantsToml;
use palisade_types::{Capability, Grants, Limits};
use palisade_types::{FailurePolicy, Hooks, Routes};

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

pub(super) fn resolve(text: &str, base: &Path, path: &Path) -> Result<OperatorConfig, ConfigError> {
    let raw: ConfigToml = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_column(text, s.start));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    })?;
    let ConfigToml {
        mode,
        audit_log,
        compiled_cache,
        trust,
        ceilings,
        plugins,
        transport,
        serve,
    } = raw;
    let mode = match mode {
        None | Some(ModeToml::Lockdown) => Mode::Lockdown,
        Some(ModeToml::Development) => Mode::Development,
    };
    let lockdown = mode == Mode::Lockdown;
    let refuse = |setting: String, reason: &'static str| ConfigError::Lockdown { setting, reason };

    // The plugins `trust.min_versions` and `trust.pins` name, checked against
    // `[[plugins]]` below: a typo would silently drop a floor or a pin.
    let trust_names: Vec<(String, String)> = trust
        .min_versions
        .keys()
        .map(|plugin| (format!("trust.min_versions.{plugin}"), plugin.clone()))
        .chain(
            trust
                .pins
                .keys()
                .map(|plugin| (format!("trust.pins.{plugin}"), plugin.clone())),
        )
        .collect();
    let trust = resolve_trust(trust, lockdown, base)?;
    let transport = resolve_transport(transport, base, lockdown)?;
    let serve = serve
        .map(|serve| super::serve::resolve(serve, mode, &transport))
        .transpose()?;
    let audit_log = match audit_log {
        Some(path) if path.is_empty() => {
            return Err(invalid("audit_log", "an empty path"));
        }
        Some(path) => Some(base.join(path)),
        None => None,
    };
    // Checked for ownership and mode when the host opens it (`Host::new`), not here:
    // the directory may not exist yet.
    let compiled_cache = match compiled_cache {
        Some(path) if path.is_empty() => {
            return Err(invalid("compiled_cache", "an empty path"));
        }
        Some(path) => Some(base.join(path)),
        None => None,
    };

    let mut forbidden = BTreeSet::new();
    for name in &ceilings.forbid {
        let ceiling = match name.as_str() {
            "log" => Ceiling::Forbid(Capability::Log),
            "clock" => Ceiling::Forbid(Capability::Clock),
            "config" => Ceiling::Forbid(Capability::Config),
            "kv" => Ceiling::Forbid(Capability::Kv),
            "crypto" => Ceiling::Forbid(Capability::Crypto),
            "metrics" => Ceiling::Forbid(Capability::Metrics),
            "crypto-sign" => Ceiling::CryptoSign,
            other => {
                return Err(invalid(
                    "ceilings.forbid",
                    format!(
                        "unknown capability {other:?} (expected log, clock, config, kv, crypto, crypto-sign or metrics)"
                    ),
                ));
            }
        };
        forbidden.insert(ceiling);
    }

    let mut names = BTreeSet::new();
    let mut resolved = Vec::with_capacity(plugins.len());
    for (index, plugin) in plugins.into_iter().enumerate() {
        let name = plugin.name.clone();
        if let Some(reason) = palisade_package::load::name_problem(&name) {
            return Err(invalid(
                format!("plugins[{index}].name"),
                format!("{name:?}: {reason}"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(invalid(
                format!("plugins.{name}.name"),
                "two plugins have this name",
            ));
        }
        let plugin = resolve_plugin(plugin, base, &forbidden)?;
        if lockdown {
            if matches!(plugin.source, ConfiguredSource::Component(_)) {
                return Err(refuse(
                    format!("plugins.{name}.component"),
                    "unsigned components cannot be loaded; sign it into a package (`palisade sign`) and use `package =`",
                ));
            }
            if plugin.failure_policy == FailurePolicy::FailOpen {
                return Err(refuse(
                    format!("plugins.{name}.failure = \"open\""),
                    "a failing plugin must refuse the call, not let it through",
                ));
            }
        }
        resolved.push(plugin);
    }
    if lockdown {
        refuse_unconfigured(&trust_names, &names)?;
        if audit_log.is_none() {
            return Err(refuse(
                "audit_log".into(),
                "lockdown records every verification, load, refusal and reload; give `audit_log = \"audit.jsonl\"` (an append-only JSON-lines file)",
            ));
        }
    } else {
        for (setting, plugin) in &trust_names {
            if !names.contains(plugin) {
                tracing::warn!(%setting, "names no configured plugin, so it has no effect (refused in lockdown mode)");
            }
        }
    }
    Ok(OperatorConfig {
        mode,
        audit_log,
        compiled_cache,
        trust: Arc::new(trust),
        ceilings: forbidden,
        plugins: resolved,
        transport,
        serve,
    })
}

/// Lockdown refuses a `trust.min_versions` or `trust.pins` entry for a plugin that
/// is not configured.
fn refuse_unconfigured(
    trust_names: &[(String, String)],
    configured: &BTreeSet<String>,
) -> Result<(), ConfigError> {
    match trust_names
        .iter()
        .find(|(_, plugin)| !configured.contains(plugin))
    {
        Some((setting, _)) => Err(ConfigError::Lockdown {
            setting: setting.clone(),
            reason: "names no plugin of [[plugins]], so it protects nothing (a typo would silently drop a version floor or a pin); name a configured plugin or remove it",
        }),
        None => Ok(()),
    }
}

fn resolve_transport(
    raw: TransportToml,
    base: &Path,
    lockdown: bool,
) -> Result<TransportConfig, ConfigError> {
    let TransportToml {
        cert,
        key,
        ca,
        plaintext,
        pins,
    } = raw;
    let tls = match (cert, key, ca) {
        (None, None, None) => None,
        (Some(cert), Some(key), Some(ca)) => Some(TlsMaterial {
            cert: Pem::File(base.join(cert)),
            key: Pem::File(base.join(key)),
            ca: Pem::File(base.join(ca)),
        }),
        (cert, key, ca) => {
            let missing: Vec<&str> = [
                ("cert", cert.is_none()),
                ("key", key.is_none()),
                ("ca", ca.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, missing)| missing.then_some(name))
            .collect();
            return Err(invalid(
                "transport",
                format!(
                    "give `cert`, `key` and `ca` together (missing: {})",
                    missing.join(", ")
                ),
            ));
        }
    };
    for (service, identity) in &pins {
        palisade_net::transport::check_pin(service, identity).map_err(|e| {
            let reason = match e {
                palisade_net::transport::TransportError::InvalidPin { reason, .. } => {
                    reason.to_owned()
                }
                other => other.to_string(),
            };
            invalid(format!("transport.pins.{service}"), reason)
        })?;
    }
    let plaintext = plaintext == Some(PlaintextToml::InsecureAllow);
    if plaintext {
        if lockdown {
            return Err(ConfigError::Lockdown {
                setting: "transport.plaintext = \"insecure-allow\"".into(),
                reason: "every call must be mutually authenticated over TLS; plaintext carries no verified identity",
            });
        }
        tracing::warn!(
            "INSECURE: `[transport] plaintext = \"insecure-allow\"`: plaintext connections are \
             allowed; they carry no verified identity and no confidentiality (refused in lockdown mode)"
        );
    }
    let transport = TransportConfig::new(tls, pins);
    Ok(if plaintext {
        transport.insecure_allow_plaintext()
    } else {
        transport
    })
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    palisade_package::verify::parse_sha256(&text.to_ascii_lowercase())
}

fn resolve_trust(raw: TrustToml, lockdown: bool, base: &Path) -> Result<TrustPolicy, ConfigError> {
    let TrustToml {
        keys,
        threshold,
        revoked,
        min_versions,
        pins,
        sigstore_trust_root,
        identity,
    } = raw;
    let mut identities = Vec::with_capacity(identity.len());
    for (index, raw) in identity.into_iter().enumerate() {
        let subject = SubjectPattern::parse(&raw.subject)
            .map_err(|e| invalid(format!("trust.identity[{index}].subject"), e.to_string()))?;
        let mut identity = Identity::new(raw.issuer, subject)
            .map_err(|e| invalid(format!("trust.identity[{index}].issuer"), e.to_string()))?;
        let setting = |name: &str| format!("trust.identity[{index}].{name}");
        if let Some(text) = &raw.source_repository {
            let pattern = SubjectPattern::parse(text)
                .map_err(|e| invalid(setting("source_repository"), e.to_string()))?;
            identity = identity.with_source_repository(pattern);
        }
        if let Some(text) = &raw.source_ref {
            let pattern = RefPattern::parse(text)
                .map_err(|e| invalid(setting("source_ref"), e.to_string()))?;
            identity = identity.with_source_ref(pattern);
        }
        if let Some(text) = &raw.build_config {
            let pattern = SubjectPattern::parse(text)
                .map_err(|e| invalid(setting("build_config"), e.to_string()))?;
            identity = identity.with_build_config(pattern);
        }
        if raw.allow_reusable_workflow {
            identity = identity
                .allowing_reusable_workflow()
                .map_err(|e| invalid(setting("allow_reusable_workflow"), e.to_string()))?;
        }
        identities.push(identity);
    }
    if !identities.is_empty() && sigstore_trust_root.is_none() {
        return Err(invalid(
            "trust.identity",
            "trusted identities need `trust.sigstore_trust_root` (a trusted_root.json) to verify their bundles against",
        ));
    }
    if lockdown && sigstore_trust_root.is_some() && identities.is_empty() {
        return Err(ConfigError::Lockdown {
            setting: "trust.sigstore_trust_root".into(),
            reason: "a trust root with no [[trust.identity]] trusts no signer; name the identities whose bundles count",
        });
    }
    if lockdown && keys.is_empty() && identities.is_empty() {
        return Err(ConfigError::Lockdown {
            setting: "trust.keys".into(),
            reason: "no trusted key or identity, so no package could load; list the publishers' public keys or [[trust.identity]]",
        });
    }
    let mut trust = TrustPolicy::new();
    if let Some(file) = &sigstore_trust_root {
        let path = base.join(file);
        let bytes =
            palisade_package::load::read_config(&path, MAX_TRUST_ROOT_BYTES).map_err(|e| {
                invalid(
                    "trust.sigstore_trust_root",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
        let root = SigstoreTrustRoot::from_json(&bytes)
            .map_err(|e| invalid("trust.sigstore_trust_root", e.to_string()))?;
        if lockdown && !root.checks_sct() {
            return Err(ConfigError::Lockdown {
                setting: "trust.sigstore_trust_root".into(),
                reason: "the trust root lists no CT logs (`ctlogs`), so a certificate's SCT would not be checked; use a trusted_root.json with the Fulcio instance's CT logs",
            });
        }
        trust = trust.sigstore_trust_root(root);
    }
    let trusted = keys.len() + identities.len();
    for identity in identities {
        trust = trust.trust_identity(identity);
    }
    let mut seen_keys = std::collections::BTreeMap::new();
    for (index, text) in keys.iter().enumerate() {
        let setting = || format!("trust.keys[{index}]");
        // One entry is one line: a `#` or a second line here is not a key.
        let parsed = match text.lines().count() {
            1 if !text.trim_start().starts_with('#') => PublicKey::parse_text(text),
            _ => Err(KeyTextError::Missing),
        };
        let (key, kind) = parsed.map_err(|e| match e {
            KeyTextError::NotAKey { key_id } => invalid(
                setting(),
                format!("key {key_id} is not a valid ed25519 public key"),
            ),
            _ => invalid(
                setting(),
                format!(
                    "{text:?} is not an ed25519 public key (expected 64 hex digits, optionally after `{DEVELOPMENT_KEY_PREFIX}`)"
                ),
            ),
        })?;
        // A key counts once toward the threshold, however often it is listed: a
        // repeated key would make `check-config` pass a threshold nothing can meet.
        if let Some(first) = seen_keys.insert(key.key_id(), index) {
            return Err(invalid(
                setting(),
                format!(
                    "key {} is already trust.keys[{first}]; a key counts once toward the threshold, so list each key once",
                    key.key_id()
                ),
            ));
        }
        trust = match kind {
            KeyKind::Development if lockdown => {
                return Err(ConfigError::Lockdown {
                    setting: format!("{} (development key {})", setting(), key.key_id()),
                    reason: "a development key's secret sits in a build directory; trust a release key (`palisade keygen` without --dev), or use mode = \"development\"",
                });
            }
            KeyKind::Development => {
                tracing::warn!(
                    setting = %setting(),
                    key_id = %key.key_id(),
                    "trusting a DEVELOPMENT key (development mode; lockdown refuses it)"
                );
                trust.trust_development(key)
            }
            _ => trust.trust(key),
        };
    }
    match threshold {
        Some(0) if lockdown => {
            return Err(ConfigError::Lockdown {
                setting: "trust.threshold = 0".into(),
                reason: "every package needs at least one signature",
            });
        }
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > trusted && trusted > 0 {
                return Err(invalid(
                    "trust.threshold",
                    format!(
                        "{n} signatures needed, but only {trusted} keys and identities are trusted"
                    ),
                ));
            }
            trust = trust.threshold(n);
        }
        None => {}
    }
    for (index, id) in revoked.iter().enumerate() {
        let bytes = unhex32(id).ok_or_else(|| {
            invalid(
                format!("trust.revoked[{index}]"),
                format!("{id:?} is not a key id (expected 64 hex digits)"),
            )
        })?;
        trust = trust.revoke(KeyId::from_bytes(bytes));
    }
    for (plugin, version) in &min_versions {
        trust = trust
            .min_version(plugin.clone(), version)
            .map_err(|e| invalid(format!("trust.min_versions.{plugin}"), e.to_string()))?;
    }
    for (plugin, digest) in &pins {
        let bytes = unhex32(digest).ok_or_else(|| {
            invalid(
                format!("trust.pins.{plugin}"),
                format!("{digest:?} is not a sha256 digest (expected 64 hex digits)"),
            )
        })?;
        trust = trust.pin_sha256(plugin.clone(), bytes);
    }
    Ok(trust)
}

fn resolve_plugin(
    raw: PluginToml,
    base: &Path,
    ceilings: &BTreeSet<Ceiling>,
) -> Result<ConfiguredPlugin, ConfigError> {
    let PluginToml {
        name,
        package,
        component,
        hooks,
        failure,
        instances,
        routes,
        grants,
        config,
        limits,
    } = raw;
    let source = match (package, component) {
        (Some(package), None) => ConfiguredSource::Package(base.join(package)),
        (None, Some(component)) => ConfiguredSource::Component(base.join(component)),
        (Some(_), Some(_)) => {
            return Err(invalid(
                format!("plugins.{name}"),
                "give `package` or `component`, not both",
            ));
        }
        (None, None) => {
            return Err(invalid(
                format!("plugins.{name}"),
                "give `package` (a signed package) or `component` (development only)",
            ));
        }
    };
    let hooks = match hooks {
        None => Hooks::default(),
        Some(list) => {
            if list.is_empty() {
                return Err(invalid(
                    format!("plugins.{name}.hooks"),
                    "at least one of \"request\", \"response\"",
                ));
            }
            Hooks {
                request: list.contains(&HookToml::Request),
                response: list.contains(&HookToml::Response),
            }
        }
    };
    let failure_policy = match failure {
        None | Some(FailureToml::Closed) => FailurePolicy::FailClosed,
        Some(FailureToml::Open) => FailurePolicy::FailOpen,
    };
    let instance_mode = match instances {
        None | Some(InstancesToml::Reuse) => InstanceMode::Reuse,
        Some(InstancesToml::Fresh) => InstanceMode::FreshPerCall,
    };
    let routes = match routes {
        None => Routes::all(),
        Some(list) => Routes::parse(&list)
            .map_err(|e| invalid(format!("plugins.{name}.routes"), e.to_string()))?,
    };
    let grants = apply_ceilings(resolve_grants(&name, grants)?, ceilings);
    let limits = resolve_limits(&name, limits)?;
    Ok(ConfiguredPlugin {
        name,
        source,
        grants,
        limits,
        hooks,
        failure_policy,
        instance_mode,
        config,
        routes,
    })
}

fn resolve_grants(plugin: &str, raw: GrantsToml) -> Result<Grants, ConfigError> {
    raw.resolve()
        .map_err(|e| invalid(format!("plugins.{plugin}.grants.{}", e.field()), e.reason()))
}

fn resolve_limits(plugin: &str, raw: LimitsToml) -> Result<Limits, ConfigError> {
    let LimitsToml {
        max_memory_bytes,
        call_timeout_ms,
        fuel,
        max_concurrency,
        log_bytes_per_sec,
        log_burst_bytes,
    } = raw;
    let size = |setting: &str, value: u64| {
        usize::try_from(value).map_err(|_| {
            invalid(
                format!("plugins.{plugin}.limits.{setting}"),
                format!("{value} is too large"),
            )
        })
    };
    let mut limits = Limits::default();
    if let Some(value) = max_memory_bytes {
        limits.max_memory_bytes = size("max_memory_bytes", value)?;
    }
    if let Some(value) = call_timeout_ms {
        limits.call_timeout = Duration::from_millis(value);
    }
    if let Some(value) = fuel {
        if value == 0 {
            return Err(invalid(
                format!("plugins.{plugin}.limits.fuel"),
                "must be at least 1",
            ));
        }
        limits.fuel = Some(value);
    }
    if let Some(value) = max_concurrency {
        limits.max_concurrency = size("max_concurrency", value)?;
    }
    for (setting, value, slot) in [
        (
            "log_bytes_per_sec",
            log_bytes_per_sec,
            &mut limits.log_bytes_per_sec,
        ),
        (
            "log_burst_bytes",
            log_burst_bytes,
            &mut limits.log_burst_bytes,
        ),
    ] {
        if let Some(value) = value {
            if value == 0 {
                return Err(invalid(
                    format!("plugins.{plugin}.limits.{setting}"),
                    "must be at least 1",
                ));
            }
            *slot = value;
        }
    }
    palisade_package::policy::check_limits(plugin, &limits).map_err(|e| match e {
        palisade_package::PolicyError::LimitOutOfRange {
            limit, value, max, ..
        } => invalid(
            format!("plugins.{plugin}.limits.{limit}"),
            format!("{value} is outside 1..={max}"),
        ),
        other => invalid(format!("plugins.{plugin}.limits"), other.to_string()),
    })?;
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("a\nbc\n", 0), (1, 1));
        assert_eq!(line_column("a\nbc\n", 3), (2, 2));
    }
}
