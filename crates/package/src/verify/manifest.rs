//! The package manifest: TOML in, a validated [`Manifest`] out, in one fallible step.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use palisade_types::grants_toml::{GrantsToml, GrantsTomlError};
use palisade_types::{Grants, Hooks};

use crate::verify::error::PackageError;

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
#[non_exhaustive]
pub struct Manifest {
    /// The plugin's name.
    pub name: String,
    /// Its version (no rollback below the trust policy's floor).
    pub version: semver::Version,
    /// What it does, as its publisher wrote it: untrusted text.
    pub description: String,
    /// The SHA-256 of the component it covers.
    pub component_sha256: [u8; 32],
    /// The hooks it implements.
    pub hooks: Hooks,
    /// The capabilities the plugin asks for (the operator's grants are the ceiling).
    pub grants: Grants,
}

/// Parses and validates manifest bytes.
pub(crate) fn parse(bytes: &[u8]) -> Result<Manifest, PackageError> {
    let text = std::str::from_utf8(bytes).map_err(|e| PackageError::ManifestNotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let raw: ManifestToml = toml::from_str(text).map_err(|e| PackageError::ManifestSyntax {
        message: e.to_string().trim_end().to_owned(),
    })?;
    resolve(raw)
}

fn resolve(raw: ManifestToml) -> Result<Manifest, PackageError> {
    let invalid =
        |field: &'static str, reason: String| PackageError::InvalidManifest { field, reason };
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

/// 64 lowercase hex digits to 32 bytes; `None` for anything else.
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// `manifest` with `component_sha256` set to the SHA-256 of `component`, as
/// `palisade sign` and the examples' build fill it in: a top-level line inserted
/// before the first line that is not blank or a comment, so the author's text,
/// comments and order stay as written. A manifest that already sets it is returned
/// unchanged (signing then checks that it matches).
pub fn fill_component_digest(manifest: &str, component: &[u8]) -> Result<String, PackageError> {
    let table: toml::Table =
        manifest
            .parse()
            .map_err(|e: toml::de::Error| PackageError::ManifestSyntax {
                message: e.message().trim_end().to_owned(),
            })?;
    if table.contains_key("component_sha256") {
        return Ok(manifest.to_owned());
    }
    let digest_line = format!(
        "component_sha256 = \"{}\"\n",
        hex::encode(Sha256::digest(component))
    );
    let mut filled = String::with_capacity(manifest.len() + digest_line.len() + 1);
    let mut inserted = false;
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim();
        if !inserted && !trimmed.is_empty() && !trimmed.starts_with('#') {
            filled.push_str(&digest_line);
            inserted = true;
        }
        filled.push_str(line);
    }
    if !inserted {
        if !filled.is_empty() && !filled.ends_with('\n') {
            filled.push('\n');
        }
        filled.push_str(&digest_line);
    }
    Ok(filled)
}
