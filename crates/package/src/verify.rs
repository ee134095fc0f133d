//! Stage 1½, **verify**: a signed package in, a component the operator's
//! [`TrustPolicy`] accepts out. Runs between load and policy, only for
//! [`PluginSource::Package`](crate::load::PluginSource::Package) and
//! [`PluginSource::PackageBytes`](crate::load::PluginSource::PackageBytes).
//!
//! A package is one file: an envelope holding a TOML manifest, the component, and up
//! to [`MAX_SIGNATURES`] signatures (the format is in
//! the manual (`palisade::manual`, "Package format")): ed25519 signatures over
//! `b"palisade-package-v1\0" ‖ SHA-256(manifest bytes)`, and sigstore bundles over the
//! manifest's bytes (see the manual (`palisade::manual`, "Sigstore bundles")). The manifest
//! pins the component's SHA-256, so one signature covers both.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::load::{Loaded, MAX_COMPONENT_BYTES, SourceKind};

mod envelope;
mod error;
mod identity;
mod keys;
mod manifest;
#[cfg(feature = "sigstore")]
mod sigstore;
#[cfg(not(feature = "sigstore"))]
#[path = "verify/sigstore_off.rs"]
mod sigstore;

pub use self::error::{PackageError, SigstoreFailure, TrustError, TrustPolicyError, VerifyError};
pub use crate::format::{
    ALGORITHM_ED25519, FORMAT_VERSION, KIND_SIGSTORE_BUNDLE, MAGIC, MAX_BUNDLE_BYTES,
    MAX_MANIFEST_BYTES, MAX_PACKAGE_BYTES, MAX_SIGNATURES, SIGNATURE_SECTION_BYTES,
};
pub use identity::{
    BundleSigner, Identity, IdentityPolicy, RefPattern, SignerClaims, SignerIdentity,
    SubjectPattern,
};
pub use keys::{
    DEVELOPMENT_KEY_PREFIX, KeyId, KeyKind, KeyTextError, PublicKey, SecretKeyError, SigningKey,
};
pub use manifest::{Manifest, fill_component_digest, parse_sha256};
pub use sigstore::{MAX_TRUST_ROOT_BYTES, SigstoreTrustRoot};

/// What a signature signs, before the manifest's SHA-256.
pub const SIGNATURE_CONTEXT: &[u8] = b"palisade-package-v1\0";

/// Which publishers the operator trusts, and what they must agree on. Deny by
/// default: [`TrustPolicy::new`] trusts no key and no identity, so it refuses every
/// package.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    keys: BTreeMap<KeyId, PublicKey>,
    sigstore_root: Option<SigstoreTrustRoot>,
    identities: Vec<IdentityPolicy>,
    development: BTreeSet<KeyId>,
    threshold: usize,
    thresholds: BTreeMap<String, usize>,
    revoked: BTreeSet<KeyId>,
    min_versions: BTreeMap<String, semver::Version>,
    pins: BTreeMap<String, [u8; 32]>,
}

impl Default for TrustPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl TrustPolicy {
    /// Trusts nobody; a threshold of one signature.
    pub fn new() -> Self {
        Self {
            keys: BTreeMap::new(),
            sigstore_root: None,
            identities: Vec::new(),
            development: BTreeSet::new(),
            threshold: 1,
            thresholds: BTreeMap::new(),
            revoked: BTreeSet::new(),
            min_versions: BTreeMap::new(),
            pins: BTreeMap::new(),
        }
    }

    /// Trusts signatures made by `key`.
    pub fn trust(mut self, key: PublicKey) -> Self {
        self.keys.insert(key.key_id(), key);
        self
    }

    /// Verifies sigstore bundles against `root` (Fulcio CAs, Rekor keys, optionally
    /// CT log keys). A bundle counts only if its signer matches a
    /// [`trust_identity`](Self::trust_identity).
    pub fn sigstore_trust_root(mut self, root: SigstoreTrustRoot) -> Self {
        self.sigstore_root = Some(root);
        self
    }

    /// Trusts sigstore signers that `identity` matches. Each identity policy counts
    /// at most once toward the threshold, and so does each distinct signer.
    pub fn trust_identity(mut self, identity: impl Into<IdentityPolicy>) -> Self {
        self.identities.push(identity.into());
        self
    }

    /// Trusts signatures made by `key`, a *development* key (`palisade keygen --dev`):
    /// they count like any other, and every package they sign is logged at `WARN` and
    /// audited with the key in `development_signers`. An operator config in lockdown
    /// refuses to trust one; this API leaves that choice to the embedder.
    pub fn trust_development(mut self, key: PublicKey) -> Self {
        let id = key.key_id();
        self.keys.insert(id, key);
        self.development.insert(id);
        self
    }

    /// Whether `key_id` was trusted with [`trust_development`](Self::trust_development).
    pub fn is_development(&self, key_id: &KeyId) -> bool {
        self.development.contains(key_id)
    }

    /// Signatures from this many distinct trusted keys and identities are needed
    /// (default 1). A threshold of 0 counts as 1: a package always needs a signature.
    pub fn threshold(mut self, signatures: usize) -> Self {
        self.threshold = signatures.max(1);
        self
    }

    /// The threshold for the plugin named `plugin`, instead of the global one.
    /// A threshold of 0 counts as 1.
    pub fn plugin_threshold(mut self, plugin: impl Into<String>, signatures: usize) -> Self {
        self.thresholds.insert(plugin.into(), signatures.max(1));
        self
    }

    /// Never counts signatures by the key with this id, even if it is trusted.
    pub fn revoke(mut self, key_id: KeyId) -> Self {
        self.revoked.insert(key_id);
        self
    }

    /// Refuses versions of `plugin` below `version` (semver), so a validly signed old
    /// release cannot be rolled back to.
    pub fn min_version(
        mut self,
        plugin: impl Into<String>,
        version: &str,
    ) -> Result<Self, TrustPolicyError> {
        let parsed =
            semver::Version::parse(version).map_err(|e| TrustPolicyError::InvalidVersion {
                version: version.to_owned(),
                reason: e.to_string(),
            })?;
        self.min_versions.insert(plugin.into(), parsed);
        Ok(self)
    }

    /// Accepts only the component with this SHA-256 for `plugin`.
    pub fn pin_sha256(mut self, plugin: impl Into<String>, sha256: [u8; 32]) -> Self {
        self.pins.insert(plugin.into(), sha256);
        self
    }
}

/// A package that passed every check of a [`TrustPolicy`]. Only [`verify`] makes one.
#[derive(Debug)]
pub struct Verified {
    manifest: Manifest,
    signers: Vec<KeyId>,
    identities: Vec<BundleSigner>,
    component: Loaded,
}

impl Verified {
    /// The signed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The distinct trusted keys whose signatures verified.
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }

    /// The sigstore bundles that verified and count, one per distinct signer.
    pub fn identities(&self) -> &[BundleSigner] {
        &self.identities
    }

    /// The component's SHA-256 (equal to the manifest's).
    pub fn component_sha256(&self) -> [u8; 32] {
        self.component.sha256
    }

    /// The component, as the next stage takes it.
    pub fn into_component(self) -> Loaded {
        self.component
    }
}

/// Verifies the package in `loaded` against `trust`. On success the component inside
/// goes on to the policy stage. The host audits the outcome (`verified` or `refused`).
pub fn verify(loaded: Loaded, trust: &TrustPolicy) -> Result<Verified, VerifyError> {
    let plugin = loaded.name.clone();
    match check(&loaded, trust) {
        Ok(Checked {
            manifest,
            signers,
            identities,
            sha256,
            component,
        }) => {
            // The audit event (`verified`, with the effective grants) follows in
            // the host; this is the stage's own trace.
            tracing::debug!(
                plugin = %plugin,
                version = %manifest.version,
                description = %palisade_types::Untrusted(&manifest.description),
                sha256 = %hex::encode(sha256),
                signers = ?signers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                identities = ?identities.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "package verified"
            );
            Ok(Verified {
                manifest,
                signers,
                identities,
                component: Loaded {
                    name: plugin,
                    bytes: component,
                    sha256,
                    kind: SourceKind::Component,
                },
            })
        }
        Err(error) => {
            tracing::debug!(plugin = %plugin, %error, "package refused");
            Err(error)
        }
    }
}

struct Checked {
    manifest: Manifest,
    signers: Vec<KeyId>,
    identities: Vec<BundleSigner>,
    sha256: [u8; 32],
    component: Vec<u8>,
}

fn check(loaded: &Loaded, trust: &TrustPolicy) -> Result<Checked, VerifyError> {
    check_bytes(Some(loaded.name.as_str()), &loaded.bytes, trust)
}

/// The seven checks over a package's bytes. With `expected` `None` (the CLI's
/// `verify`), the manifest's name is not compared, and the per-plugin rules are looked
/// up under the manifest's name once it is parsed.
fn check_bytes(
    expected: Option<&str>,
    bytes: &[u8],
    trust: &TrustPolicy,
) -> Result<Checked, VerifyError> {
    let plugin = expected.unwrap_or("<package>");
    // 1. Parse the envelope: bounds before slices, strict order.
    let envelope = envelope::parse(bytes)?;
    tracing::debug!(
        plugin,
        signatures = envelope.signatures.len(),
        "1. envelope parsed"
    );
    // 2. Check each signature over the manifest's raw bytes, before the manifest is
    //    parsed: nothing unsigned reaches the TOML parser. Revoked and unknown keys
    //    never count; a trusted key's signature that does not verify refuses the package.
    //    A bundle counts if the identity its certificate claims is trusted and it then
    //    verifies; a trusted identity's bundle that does not verify refuses the package.
    if trust.keys.is_empty() && trust.identities.is_empty() {
        return Err(VerifyError::TrustPolicy(TrustPolicyError::NoTrustedKeys));
    }
    if !trust.identities.is_empty() && trust.sigstore_root.is_none() {
        return Err(VerifyError::TrustPolicy(
            TrustPolicyError::NoSigstoreTrustRoot,
        ));
    }
    let message = signed_message(envelope.manifest);
    let mut signers = BTreeSet::new();
    let mut revoked = BTreeSet::new();
    let mut untrusted = 0usize;
    // Keyed by issuer and subject: the same signer counts once, whatever claims its
    // certificates carry.
    let mut bundle_signers: BTreeMap<(String, String), BundleSigner> = BTreeMap::new();
    let mut untrusted_identities = BTreeSet::new();
    for signature in &envelope.signatures {
        let signature = match *signature {
            envelope::Signature::Ed25519(signature) => signature,
            envelope::Signature::Bundle { offset, json } => {
                let root = match &trust.sigstore_root {
                    Some(root) if !trust.identities.is_empty() => root,
                    _ => {
                        untrusted += 1;
                        continue;
                    }
                };
                let parsed = sigstore::parse_bundle(offset, json)?;
                if !trust.identities.iter().any(|p| p.matches(&parsed.signer)) {
                    // A trusted issuer and subject whose certificate's claims break
                    // the policy (another repository calling a trusted reusable
                    // workflow, another ref): refused by name, once the bundle
                    // proves the certificate real.
                    if let Some(reason) = trust
                        .identities
                        .iter()
                        .find_map(|p| p.claims_refusal(&parsed.signer))
                    {
                        sigstore::verify_bundle(root, envelope.manifest, &parsed, offset)?;
                        return Err(VerifyError::Trust(TrustError::InvalidBundle {
                            offset,
                            signer: parsed.signer,
                            failure: crate::verify::error::SigstoreFailure::Claims(reason),
                        }));
                    }
                    untrusted_identities.insert(parsed.signer);
                    continue;
                }
                let signer = sigstore::verify_bundle(root, envelope.manifest, &parsed, offset)?;
                bundle_signers
                    .entry((
                        signer.identity.issuer.clone(),
                        signer.identity.subject.clone(),
                    ))
                    .or_insert(signer);
                continue;
            }
        };
        let key_id = KeyId::from_bytes(signature.key_id);
        if trust.revoked.contains(&key_id) {
            tracing::warn!(plugin, key_id = %key_id, "signature by a revoked key ignored");
            revoked.insert(key_id);
            continue;
        }
        let Some(key) = trust.keys.get(&key_id) else {
            untrusted += 1;
            continue;
        };
        if !key.verify(&message, &signature.signature) {
            return Err(VerifyError::Trust(TrustError::InvalidSignature {
                key_id,
                offset: signature.offset,
            }));
        }
        signers.insert(key_id);
    }
    // Distinct signer identities, each counted at most once and against at most one
    // trusted identity policy.
    let identities: Vec<SignerIdentity> = bundle_signers
        .values()
        .map(|signer| signer.identity.clone())
        .collect();
    let valid = signers.len() + identity::count_trusted(&identities, &trust.identities);
    tracing::debug!(plugin, valid, "2. signatures checked");
    // 3. Threshold, over distinct key ids and identities (the operator's name for the
    //    plugin picks it).
    let required = expected
        .and_then(|name| trust.thresholds.get(name))
        .copied()
        .unwrap_or(trust.threshold);
    let not_met = |required: usize| {
        VerifyError::Trust(TrustError::ThresholdNotMet {
            required,
            valid,
            revoked: revoked.iter().copied().collect(),
            untrusted,
            untrusted_identities: untrusted_identities.iter().cloned().collect(),
        })
    };
    if valid < required {
        return Err(not_met(required));
    }
    tracing::debug!(plugin, required, "3. threshold met");
    // 4. Recompute the component's digest, to compare with the manifest's.
    let sha256: [u8; 32] = Sha256::digest(envelope.component).into();
    tracing::debug!(plugin, sha256 = %hex::encode(sha256), "4. component digest computed");
    // 5. Parse and validate the (now signed) manifest; it must name this plugin and
    //    this component.
    let manifest = manifest::parse(envelope.manifest)?;
    if !bool::from(manifest.component_sha256.ct_eq(&sha256)) {
        return Err(VerifyError::Trust(TrustError::ComponentDigestMismatch {
            declared: hex::encode(manifest.component_sha256),
            actual: hex::encode(sha256),
        }));
    }
    if let Some(expected) = expected
        && manifest.name != expected
    {
        return Err(VerifyError::Trust(TrustError::NameMismatch {
            expected: expected.to_owned(),
            found: manifest.name,
        }));
    }
    let plugin = manifest.name.clone();
    let plugin = plugin.as_str();
    if expected.is_none()
        && let Some(&required) = trust.thresholds.get(plugin)
        && valid < required
    {
        return Err(not_met(required));
    }
    tracing::debug!(plugin, version = %manifest.version, "5. manifest valid");
    // 6. No rollback below the operator's minimum version.
    if let Some(minimum) = trust.min_versions.get(plugin)
        && manifest.version < *minimum
    {
        return Err(VerifyError::Trust(TrustError::RolledBack {
            version: manifest.version.to_string(),
            minimum: minimum.to_string(),
        }));
    }
    tracing::debug!(plugin, "6. version allowed");
    // 7. The operator's pin, when there is one.
    if let Some(pin) = trust.pins.get(plugin)
        && !bool::from(pin.ct_eq(&sha256))
    {
        return Err(VerifyError::Trust(TrustError::DigestPinMismatch {
            pinned: hex::encode(pin),
            actual: hex::encode(sha256),
        }));
    }
    tracing::debug!(plugin, "7. digest pin satisfied");
    let component = envelope.component.to_vec();
    Ok(Checked {
        manifest,
        signers: signers.into_iter().collect(),
        identities: bundle_signers.into_values().collect(),
        sha256,
        component,
    })
}

fn signed_message(manifest: &[u8]) -> Vec<u8> {
    let mut message = SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(&Sha256::digest(manifest));
    message
}

/// What a package's manifest says, and who signed it: the result of
/// [`verify_package`] and part of [`inspect_package`]'s.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PackageInfo {
    /// The plugin's name.
    pub name: String,
    /// Its version (semver).
    pub version: String,
    /// The publisher's description.
    pub description: String,
    /// The hooks it runs.
    pub hooks: palisade_types::Hooks,
    /// The capabilities it requests.
    pub capabilities: palisade_types::Grants,
    /// The component's SHA-256, as the manifest declares it.
    pub component_sha256: [u8; 32],
    /// From [`verify_package`]: the distinct trusted keys whose signatures verified.
    /// From [`inspect_package`]: every ed25519 signature's key id, *unchecked*.
    pub signers: Vec<KeyId>,
    /// From [`verify_package`]: the distinct trusted sigstore signers whose bundles
    /// verified. From [`inspect_package`]: what every bundle's certificate claims,
    /// *unchecked* (bundles that cannot be read are in `unreadable_bundles`).
    pub identities: Vec<BundleSigner>,
    /// From [`inspect_package`]: why each bundle that could not be read was not.
    pub unreadable_bundles: Vec<String>,
}

impl PackageInfo {
    fn new(manifest: Manifest, signers: Vec<KeyId>, identities: Vec<BundleSigner>) -> Self {
        Self {
            name: manifest.name,
            version: manifest.version.to_string(),
            description: manifest.description,
            hooks: manifest.hooks,
            capabilities: manifest.grants,
            component_sha256: manifest.component_sha256,
            signers,
            identities,
            unreadable_bundles: Vec::new(),
        }
    }
}

/// Verifies a package's bytes against `trust`, with the same checks as loading a
/// [`PluginSource::PackageBytes`](crate::load::PluginSource::PackageBytes). `name` is the
/// plugin name the manifest must carry; `None` accepts the manifest's own (and looks
/// the per-plugin rules of `trust` up under it).
pub fn verify_package(
    bytes: &[u8],
    name: Option<&str>,
    trust: &TrustPolicy,
) -> Result<PackageInfo, VerifyError> {
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err(VerifyError::Package(PackageError::SectionTooLarge {
            section: "package",
            offset: 0,
            declared: bytes.len() as u64,
            limit: MAX_PACKAGE_BYTES,
        }));
    }
    let checked = check_bytes(name, bytes, trust)?;
    Ok(PackageInfo::new(
        checked.manifest,
        checked.signers,
        checked.identities,
    ))
}

/// A package read *without* checking any signature: for tools that show what a
/// package contains. Nothing here is trusted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnverifiedPackage {
    /// The manifest, parsed but unsigned as far as this function knows;
    /// `signers` lists every signature's claimed key id.
    pub info: PackageInfo,
    /// The component's bytes.
    pub component: Vec<u8>,
}

/// Parses a package's envelope and manifest without verifying anything else. Do not
/// use the result to decide whether to run the plugin; use [`verify_package`].
pub fn inspect_package(bytes: &[u8]) -> Result<UnverifiedPackage, VerifyError> {
    let envelope = envelope::parse(bytes)?;
    let manifest = manifest::parse(envelope.manifest)?;
    let mut signers = Vec::new();
    let mut identities = Vec::new();
    let mut unreadable = Vec::new();
    for signature in &envelope.signatures {
        match *signature {
            envelope::Signature::Ed25519(s) => signers.push(KeyId::from_bytes(s.key_id)),
            envelope::Signature::Bundle { offset, json } => {
                match sigstore::parse_bundle(offset, json) {
                    Ok(parsed) => identities.push(BundleSigner {
                        identity: parsed.signer,
                        log_index: parsed.log_index,
                        integrated_time: None,
                    }),
                    Err(error) => unreadable.push(error.to_string()),
                }
            }
        }
    }
    let mut info = PackageInfo::new(manifest, signers, identities);
    info.unreadable_bundles = unreadable;
    Ok(UnverifiedPackage {
        info,
        component: envelope.component.to_vec(),
    })
}

/// Builds a package from a manifest and a component, signed once with `key`. The
/// manifest is validated and its `component_sha256` must match `component`.
pub fn sign_package(
    manifest_toml: &str,
    component: &[u8],
    key: &SigningKey,
) -> Result<Vec<u8>, VerifyError> {
    let manifest_bytes = manifest_toml.as_bytes();
    check_unsigned(manifest_bytes, component)?;
    let signature = envelope::RawSignature {
        offset: 0,
        key_id: key.key_id().to_bytes(),
        signature: key.sign(&signed_message(manifest_bytes)),
    };
    Ok(envelope::encode(
        manifest_bytes,
        component,
        &[envelope::Signature::Ed25519(signature)],
    ))
}

/// Builds a package from a manifest, a component and a sigstore bundle made
/// elsewhere (e.g. `cosign sign-blob --bundle` over the manifest file in CI). The
/// manifest's bytes are kept exactly as given, since the bundle signs them; it must
/// be valid, pin `component`'s SHA-256, and be what the bundle signs (see
/// [`add_bundle`]).
pub fn package_with_bundle(
    manifest: &[u8],
    component: &[u8],
    bundle_json: &[u8],
) -> Result<Vec<u8>, VerifyError> {
    check_unsigned(manifest, component)?;
    let unsigned = envelope::encode(manifest, component, &[]);
    add_bundle(&unsigned, bundle_json)
}

/// Attaches a sigstore bundle to `package`. Only what can be checked without a trust
/// root is checked: the bundle is well-formed and keyless, and, when it records the
/// message digest, it is the SHA-256 of this package's manifest.
pub fn add_bundle(package: &[u8], bundle_json: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let parsed = envelope::parse(package)?;
    if parsed.signatures.len() >= MAX_SIGNATURES {
        return Err(VerifyError::Package(PackageError::TooManySignatures {
            offset: package.len(),
            limit: MAX_SIGNATURES,
        }));
    }
    let offset = package.len();
    if bundle_json.is_empty() || bundle_json.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(VerifyError::Package(PackageError::SectionTooLarge {
            section: "sigstore bundle",
            offset,
            declared: bundle_json.len() as u64,
            limit: MAX_BUNDLE_BYTES,
        }));
    }
    let bundle = sigstore::parse_bundle(offset, bundle_json)?;
    let manifest_sha256: [u8; 32] = Sha256::digest(parsed.manifest).into();
    if let Some(digest) = bundle.message_digest()
        && digest != manifest_sha256
    {
        return Err(VerifyError::Package(PackageError::BundleMalformed {
            offset,
            reason: format!(
                "it signs sha256 {}, but the manifest's sha256 is {} (sign the manifest file exactly as packaged)",
                hex::encode(digest),
                hex::encode(manifest_sha256)
            ),
        }));
    }
    let mut signatures = parsed.signatures;
    signatures.push(envelope::Signature::Bundle {
        offset,
        json: bundle_json,
    });
    Ok(envelope::encode(
        parsed.manifest,
        parsed.component,
        &signatures,
    ))
}

/// The checks every new package's manifest and component pass before signing.
fn check_unsigned(manifest_bytes: &[u8], component: &[u8]) -> Result<(), VerifyError> {
    if manifest_bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(VerifyError::Package(PackageError::SectionTooLarge {
            section: "manifest",
            offset: 0,
            declared: manifest_bytes.len() as u64,
            limit: MAX_MANIFEST_BYTES,
        }));
    }
    if component.len() as u64 > MAX_COMPONENT_BYTES {
        return Err(VerifyError::Package(PackageError::SectionTooLarge {
            section: "component",
            offset: 0,
            declared: component.len() as u64,
            limit: MAX_COMPONENT_BYTES,
        }));
    }
    let manifest = manifest::parse(manifest_bytes)?;
    let sha256: [u8; 32] = Sha256::digest(component).into();
    if manifest.component_sha256 != sha256 {
        return Err(VerifyError::Trust(TrustError::ComponentDigestMismatch {
            declared: hex::encode(manifest.component_sha256),
            actual: hex::encode(sha256),
        }));
    }
    Ok(())
}

/// Adds a signature by `key` to `package` (for k-of-n). The package must be a
/// well-formed envelope with fewer than [`MAX_SIGNATURES`] signatures.
pub fn add_signature(package: &[u8], key: &SigningKey) -> Result<Vec<u8>, VerifyError> {
    let parsed = envelope::parse(package)?;
    if parsed.signatures.len() >= MAX_SIGNATURES {
        return Err(VerifyError::Package(PackageError::TooManySignatures {
            offset: package.len(),
            limit: MAX_SIGNATURES,
        }));
    }
    let mut signatures = parsed.signatures;
    signatures.push(envelope::Signature::Ed25519(envelope::RawSignature {
        offset: package.len(),
        key_id: key.key_id().to_bytes(),
        signature: key.sign(&signed_message(parsed.manifest)),
    }));
    Ok(envelope::encode(
        parsed.manifest,
        parsed.component,
        &signatures,
    ))
}

#[cfg(test)]
mod tests;
