//! The package manifest: TOML in, a validated [`Manifest`] out, in one fallible step.

use serde::Deserialize;

use crate::error::VerifyError;
use crate::intercept::Hooks;
use crate::policy::Grants;
use crate::policy::grants_toml::{GrantsToml, GrantsTomlError};

/// The one manifest `format` this host reads.
pub(crate) const MANIFEST_FORMAT: u32 = 1;

/// The manifest as written, before any of its values is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestToml {
    format: u32,
    name: String,
    version: String,
    description: String,
    component_sha256: String,
    hooks: Vec<HookToml>,
    #[serde(default)]
    capabilities: GrantsToml,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum HookToml {
    Request,
    Response,
}

/// A validated manifest: what the publisher signed.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    pub(crate) name: String,
    pub(crate) version: semver::Version,
    pub(crate) description: String,
    pub(crate) component_sha256: [u8; 32],
    pub(crate) hooks: Hooks,
    /// The capabilities the plugin asks for (the operator's grants are the ceiling).
    pub(crate) grants: Grants,
}

/// Parses and validates manifest bytes.
pub(crate) fn parse(bytes: &[u8]) -> Result<Manifest, VerifyError> {
    let text = std::str::from_utf8(bytes).map_err(|e| VerifyError::ManifestNotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let raw: ManifestToml = toml::from_str(text).map_err(|e| VerifyError::ManifestSyntax {
        message: e.to_string().trim_end().to_owned(),
    })?;
    resolve(raw)
}

fn resolve(raw: ManifestToml) -> Result<Manifest, VerifyError> {
    let invalid =
        |field: &'static str, reason: String| VerifyError::InvalidManifest { field, reason };
    let ManifestToml {
        format,
        name,
        version,
        description,
        component_sha256,
        hooks: hook_list,
        capabilities,
    } = raw;
    if format != MANIFEST_FORMAT {
        return Err(invalid(
            "format",
            format!("{format} is not supported; this host reads format {MANIFEST_FORMAT}"),
        ));
    }
    if let Some(reason) = crate::load::name_problem(&name) {
        return Err(invalid("name", format!("{name:?}: {reason}")));
    }
    let version = semver::Version::parse(&version)
        .map_err(|e| invalid("version", format!("{version:?} is not semver: {e}")))?;
    let component_sha256 = parse_sha256(&component_sha256).ok_or_else(|| {
        invalid(
            "component_sha256",
            "expected 64 lowercase hex digits".into(),
        )
    })?;
    if hook_list.is_empty() {
        return Err(invalid(
            "hooks",
            "at least one of \"request\", \"response\"".into(),
        ));
    }
    let mut hooks = Hooks {
        request: false,
        response: false,
    };
    for hook in hook_list {
        let slot = match hook {
            HookToml::Request => &mut hooks.request,
            HookToml::Response => &mut hooks.response,
        };
        if std::mem::replace(slot, true) {
            return Err(invalid("hooks", "a hook is listed twice".into()));
        }
    }
    let grants = capabilities.resolve().map_err(|e| match e {
        GrantsTomlError::KvQuota => invalid("capabilities.kv.quota_bytes", e.reason().into()),
    })?;
    Ok(Manifest {
        name,
        version,
        description,
        component_sha256,
        hooks,
        grants,
    })
}

/// 64 lowercase hex digits to 32 bytes.
pub(crate) fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}
