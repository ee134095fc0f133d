//! Stage 1½'s errors: a package is malformed ([`PackageError`]), refused by the
//! trust policy ([`TrustError`]), or the trust policy itself cannot be used
//! ([`TrustPolicyError`]); [`VerifyError`] is one of the three.

/// Stage 1½: a signed package was refused. Which kind of fault, by the three errors
/// it wraps: the package is malformed ([`PackageError`]), its signatures do not
/// satisfy the [`TrustPolicy`](crate::verify::TrustPolicy) ([`TrustError`]), or the
/// trust policy itself cannot be used ([`TrustPolicyError`]). Its message is the
/// wrapped error's.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum VerifyError {
    /// The package is malformed.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The package is well-formed, but its signatures, version or digest are refused.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The trust policy, or an input to it, cannot be used.
    #[error(transparent)]
    TrustPolicy(#[from] TrustPolicyError),
}

impl VerifyError {
    /// Whether this is a refusal of a well-formed package by the trust policy (a
    /// [`TrustError`]), rather than a malformed package or an unusable policy. The
    /// `palisade` CLI exits 1 for a refusal, 2 for the others.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Trust(_))
    }

    /// The wrapped error's variant, in snake case (`threshold_not_met`,
    /// `bad_magic`, ...): the `reason` the audit log records.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Package(e) => e.into(),
            Self::Trust(e) => e.into(),
            Self::TrustPolicy(e) => e.into(),
        }
    }
}

/// A package is malformed: its envelope, manifest or a sigstore bundle cannot be
/// read. Offsets are byte offsets into the package.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum PackageError {
    /// The input is shorter than the package header.
    #[error("package is {size} bytes, shorter than the {minimum}-byte header")]
    TooShort {
        /// The input's size.
        size: usize,
        /// The header's size.
        minimum: usize,
    },
    /// The input does not start with `PALISADE`. The message does not show the bytes
    /// found: a file given by mistake may be a secret key.
    #[error("not a palisade package (it does not start with `PALISADE`)")]
    BadMagic {
        /// The first 8 bytes.
        found: Vec<u8>,
    },
    /// The package format version is not one this host reads.
    #[error("package format version {version} is not supported (this host reads {supported})")]
    UnsupportedFormatVersion {
        /// The version found.
        version: u16,
        /// The version this host reads.
        supported: u16,
    },
    /// A section has a tag this host does not know.
    #[error("unknown section tag {tag} at offset {offset}")]
    UnknownSection {
        /// The tag found.
        tag: u8,
        /// The section's offset.
        offset: usize,
    },
    /// A section appears before the one that must precede it.
    #[error("{section} section at offset {offset} comes before the {expected} section")]
    OutOfOrder {
        /// The section found.
        section: &'static str,
        /// Its offset.
        offset: usize,
        /// The section that must come first.
        expected: &'static str,
    },
    /// The manifest or the component appears twice.
    #[error("second {section} section at offset {offset}")]
    DuplicateSection {
        /// The section.
        section: &'static str,
        /// The second one's offset.
        offset: usize,
    },
    /// The manifest or the component is missing.
    #[error("package has no {section} section")]
    MissingSection {
        /// The missing section.
        section: &'static str,
    },
    /// A section declares a length over its bound (checked before anything is read).
    #[error(
        "{section} section at offset {offset} declares {declared} bytes, over the limit of {limit}"
    )]
    SectionTooLarge {
        /// The section.
        section: &'static str,
        /// Its offset.
        offset: usize,
        /// The length it declares.
        declared: u64,
        /// The bound.
        limit: u64,
    },
    /// A section declares more bytes than the package has left.
    #[error(
        "{section} section at offset {offset} declares {declared} bytes, but only {available} remain"
    )]
    SectionPastEnd {
        /// The section.
        section: &'static str,
        /// Its offset.
        offset: usize,
        /// The length it declares.
        declared: u64,
        /// The bytes left after its header.
        available: u64,
    },
    /// A signature section is not exactly algorithm, key id and signature.
    #[error("signature section at offset {offset} is {declared} bytes, expected {expected}")]
    SignatureLength {
        /// Its offset.
        offset: usize,
        /// The length it declares.
        declared: u64,
        /// The only valid length.
        expected: u64,
    },
    /// More signature sections than allowed.
    #[error("signature section at offset {offset} is over the limit of {limit} signatures")]
    TooManySignatures {
        /// The offset of the first signature over the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes after the last section that do not form a section header.
    #[error("{count} trailing bytes at offset {offset}")]
    TrailingBytes {
        /// Where they start.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// A signature uses an algorithm this host does not know.
    #[error("signature at offset {offset} uses unknown algorithm {algorithm}")]
    UnknownAlgorithm {
        /// The signature section's offset.
        offset: usize,
        /// The algorithm byte.
        algorithm: u8,
    },
    /// The manifest is not UTF-8.
    #[error("manifest is not UTF-8 (valid up to byte {valid_up_to})")]
    ManifestNotUtf8 {
        /// Bytes of valid UTF-8 before the first invalid one.
        valid_up_to: usize,
    },
    /// The manifest is not valid TOML or has unknown, missing or mistyped fields.
    #[error("manifest: {message}")]
    ManifestSyntax {
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A manifest field has a value that is not allowed.
    #[error("manifest field `{field}`: {reason}")]
    InvalidManifest {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A sigstore bundle is not a well-formed keyless message-signature bundle
    /// (JSON, a duplicate key, an unknown field, no Fulcio certificate or identity).
    #[error("sigstore bundle in the signature section at offset {offset}: {reason}")]
    BundleMalformed {
        /// The signature section's offset.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// A well-formed package the [`TrustPolicy`](crate::verify::TrustPolicy) refuses:
/// its signatures do not meet the threshold or do not verify, a key is revoked, the
/// version is rolled back, the component is not the one signed or pinned, or the
/// manifest names another plugin. Offsets are byte offsets into the package.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum TrustError {
    /// The component's SHA-256 is not the one the manifest declares.
    #[error("component sha256 is {actual}, but the manifest declares {declared}")]
    ComponentDigestMismatch {
        /// What the manifest says.
        declared: String,
        /// What the component hashes to.
        actual: String,
    },
    /// The manifest names another plugin.
    #[error("manifest is for plugin `{found}`, not `{expected}`")]
    NameMismatch {
        /// The name the plugin is loaded under.
        expected: String,
        /// The name in the manifest.
        found: String,
    },
    /// A signature by a trusted key does not verify (tampered, or moved from another package).
    #[error("signature at offset {offset} by trusted key {key_id} does not verify")]
    InvalidSignature {
        /// The signing key's id.
        key_id: crate::verify::KeyId,
        /// The signature section's offset.
        offset: usize,
    },
    /// Too few distinct trusted, unrevoked keys signed the package.
    #[error(
        "{valid} valid signature(s) from distinct trusted keys or identities, {required} required ({} by revoked keys, {untrusted} by untrusted keys{})",
        .revoked.len(),
        untrusted_list(.untrusted_identities)
    )]
    ThresholdNotMet {
        /// Signatures needed.
        required: usize,
        /// Distinct trusted keys, plus distinct trusted sigstore identities, whose
        /// signatures verified.
        valid: usize,
        /// Revoked keys that signed (their signatures never count).
        revoked: Vec<crate::verify::KeyId>,
        /// Signatures by keys the policy does not trust, and sigstore bundles when
        /// the policy has no sigstore trust root.
        untrusted: usize,
        /// Sigstore signers (as their certificates claim) that no trusted identity
        /// matches; their bundles were not verified further.
        untrusted_identities: Vec<crate::verify::SignerIdentity>,
    },
    /// A sigstore bundle by a trusted identity does not verify (tampered, moved
    /// from another package, not from the trusted CA or log, or expired).
    #[error(
        "sigstore bundle at offset {offset} by trusted identity {signer} does not verify: {failure}"
    )]
    InvalidBundle {
        /// The signature section's offset.
        offset: usize,
        /// The identity its certificate claims.
        signer: crate::verify::SignerIdentity,
        /// Which check failed.
        failure: SigstoreFailure,
    },
    /// The package's version is below the operator's minimum.
    #[error("version {version} is below the minimum {minimum} (rollback refused)")]
    RolledBack {
        /// The package's version.
        version: String,
        /// The minimum.
        minimum: String,
    },
    /// The component is not the one the operator pinned.
    #[error("component sha256 is {actual}, but the operator pinned {pinned}")]
    DigestPinMismatch {
        /// The pinned digest.
        pinned: String,
        /// The component's digest.
        actual: String,
    },
}

/// The operator's trust policy, or an input to it (a trust root, a public key, an
/// identity pattern, a version), cannot be used. No package is read.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum TrustPolicyError {
    /// The trust policy trusts no key and no sigstore identity, so no package can
    /// be accepted.
    #[error("the trust policy trusts no key and no sigstore identity (use `PluginSpec::trust`)")]
    NoTrustedKeys,
    /// The trust policy trusts sigstore identities but has no trust root to verify
    /// their bundles against.
    #[error("the trust policy trusts sigstore identities but has no sigstore trust root")]
    NoSigstoreTrustRoot,
    /// A sigstore `trusted_root.json` cannot be used.
    #[error("sigstore trust root: {reason}")]
    InvalidTrustRoot {
        /// What is wrong with it.
        reason: String,
    },
    /// A trusted identity's issuer or subject pattern is not allowed.
    #[error("identity {value:?}: {reason}")]
    InvalidIdentity {
        /// The issuer or subject given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// [`IdentityPolicy::all_of`](crate::verify::IdentityPolicy::all_of) with no policies
    /// (it would match every signer).
    #[error("an empty all-of identity policy would match every signer")]
    EmptyAllOf,
    /// A public key's bytes are not a valid ed25519 key.
    #[error("public key {key_id} is not a valid ed25519 key")]
    InvalidPublicKey {
        /// The id of the bytes given.
        key_id: crate::verify::KeyId,
    },
    /// A version given to the trust policy is not semver.
    #[error("version {version:?} is not semver: {reason}")]
    InvalidVersion {
        /// The version given.
        version: String,
        /// The parser's explanation.
        reason: String,
    },
}

fn untrusted_list(identities: &[crate::verify::SignerIdentity]) -> String {
    identities.iter().fold(String::new(), |mut out, identity| {
        out.push_str(", untrusted identity ");
        out.push_str(&identity.to_string());
        out
    })
}

/// Which check of a sigstore bundle failed (see the manual's "Sigstore bundles").
/// The text is the verifier's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigstoreFailure {
    /// The certificate does not chain to a trusted Fulcio CA (or is malformed, or
    /// lacks the code-signing usage).
    #[error("certificate: {0}")]
    Certificate(String),
    /// The certificate was not valid at the signing time (the log's integrated time
    /// or an RFC 3161 timestamp), or no trusted CA was.
    #[error("certificate validity: {0}")]
    CertificateValidity(String),
    /// The certificate's signed certificate timestamp (checked when the trust root
    /// lists CT logs).
    #[error("SCT: {0}")]
    Sct(String),
    /// The Merkle inclusion proof does not lead to the proven root.
    #[error("inclusion proof: {0}")]
    InclusionProof(String),
    /// The checkpoint (signed tree head) is not signed by a trusted log key, or
    /// does not match the proof.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The signed entry timestamp does not verify with a trusted log key, or the
    /// log is unknown.
    #[error("signed entry timestamp: {0}")]
    SignedEntryTimestamp(String),
    /// The log entry does not describe this signature, certificate and artifact.
    #[error("log entry: {0}")]
    LogEntry(String),
    /// An RFC 3161 timestamp does not verify.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// No verified signing time (neither a signed entry timestamp nor an RFC 3161
    /// timestamp).
    #[error("no verified signing time: {0}")]
    NoSigningTime(String),
    /// The bundle signs other bytes than this package's manifest.
    #[error("signs another artifact: {0}")]
    OtherArtifact(String),
    /// The signature over the manifest does not verify with the certificate's key.
    #[error("signature: {0}")]
    Signature(String),
    /// The verifier read another identity from the certificate than Palisade did.
    #[error("identity: {0}")]
    Identity(String),
    /// A trusted issuer and subject signed, but the certificate's CI claims break
    /// the identity's constraints: another source repository, ref or build config,
    /// or a reusable workflow the identity does not allow.
    #[error("certificate claims: {0}")]
    Claims(String),
    /// Anything else the verifier refused.
    #[error("{0}")]
    Bundle(String),
}
