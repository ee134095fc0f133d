//! Sigstore bundles in a package: read strictly, verified offline.
//!
//! The cryptographic pipeline (certificate chain to a trusted Fulcio CA at the
//! signing time, SCT, Merkle inclusion proof and signed checkpoint, signed entry
//! timestamp, the log entry describing this signature, the signature over the
//! artifact) is `sigstore-verify`'s, from the sigstore-rust workspace; the manual's
//! "Sigstore bundles" section says why it and not the `sigstore` crate. Palisade
//! does the rest itself: the size bound, a strict JSON reading (no duplicate keys,
//! no unknown fields), the signer's identity (read from the certificate here, and
//! required to agree with the verifier's reading), the identity policy and the count.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, SignatureContent};
use sigstore_verify::{
    CertificateError, Error as SigstoreError, TimestampError, TransparencyLogError,
    VerificationPolicy, Verifier,
};
use x509_cert::der::Decode;
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::identity::{
    BundleSigner, OID_BUILD_CONFIG, OID_BUILD_SIGNER, OID_SOURCE_REF, OID_SOURCE_REPOSITORY,
    SignerClaims, SignerIdentity,
};
use crate::verify::error::{PackageError, TrustError, TrustPolicyError};
use crate::verify::error::{SigstoreFailure, VerifyError};

/// The largest `trusted_root.json` read (the public instance's is about 10 KiB).
pub const MAX_TRUST_ROOT_BYTES: u64 = 1024 * 1024;

/// Fulcio's OIDC issuer extension, current form: a DER UTF8String.
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// Fulcio's OIDC issuer extension, legacy form: the raw string.
const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";

/// A sigstore trust root (Sigstore's `trusted_root.json`): the Fulcio CAs, the
/// Rekor log keys (with their log ids), and optionally CT log keys and timestamp
/// authorities. Everything a bundle is verified against; nothing is fetched.
#[derive(Clone)]
pub struct SigstoreTrustRoot(Arc<Root>);

struct Root {
    verifier: Verifier,
    authorities: usize,
    logs: usize,
    ct_logs: usize,
}

impl SigstoreTrustRoot {
    /// Reads a `trusted_root.json`. Refused: more than [`MAX_TRUST_ROOT_BYTES`],
    /// duplicate JSON keys, another media type, no certificate authority, no
    /// transparency log, and any key or certificate the verifier cannot use.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustPolicyError> {
        let invalid = |reason: String| TrustPolicyError::InvalidTrustRoot { reason };
        if bytes.len() as u64 > MAX_TRUST_ROOT_BYTES {
            return Err(invalid(format!(
                "{} bytes, over the limit of {MAX_TRUST_ROOT_BYTES}",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| invalid(format!("not UTF-8: {e}")))?;
        strict_json(text).map_err(invalid)?;
        let root = sigstore_verify::trust_root::TrustedRoot::from_json(text)
            .map_err(|e| invalid(e.to_string()))?;
        if !root
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(invalid(format!(
                "media type {:?} is not a sigstore trusted root",
                root.media_type
            )));
        }
        if root.certificate_authorities.is_empty() {
            return Err(invalid("no certificateAuthorities (Fulcio CAs)".into()));
        }
        if root.tlogs.is_empty() {
            return Err(invalid("no tlogs (Rekor log keys)".into()));
        }
        let verifier = Verifier::new(&root).map_err(|e| invalid(e.to_string()))?;
        Ok(Self(Arc::new(Root {
            verifier,
            authorities: root.certificate_authorities.len(),
            logs: root.tlogs.len(),
            ct_logs: root.ctlogs.len(),
        })))
    }

    /// Whether the root lists CT logs, so that certificates must carry a valid SCT.
    pub fn checks_sct(&self) -> bool {
        self.0.ct_logs > 0
    }
}

impl fmt::Debug for SigstoreTrustRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigstoreTrustRoot({} CAs, {} transparency logs, {} CT logs)",
            self.0.authorities, self.0.logs, self.0.ct_logs
        )
    }
}

/// A bundle read from a package, its signer's identity claimed (not yet verified).
pub(crate) struct ParsedBundle {
    bundle: Bundle,
    pub(crate) signer: SignerIdentity,
    pub(crate) log_index: Option<u64>,
}

impl ParsedBundle {
    /// The SHA-256 the bundle says it signs, when it records one.
    pub(crate) fn message_digest(&self) -> Option<[u8; 32]> {
        match &self.bundle.content {
            SignatureContent::MessageSignature(signature) => signature
                .message_digest
                .as_ref()
                .filter(|d| d.algorithm == sigstore_verify::types::HashAlgorithm::Sha2256)
                .and_then(|d| d.digest.as_bytes().try_into().ok()),
            _ => None,
        }
    }
}

/// Reads a bundle strictly and the identity its certificate claims. Nothing here
/// is verified; `offset` is the signature section's, for errors.
pub(crate) fn parse_bundle(offset: usize, json: &[u8]) -> Result<ParsedBundle, VerifyError> {
    let malformed =
        |reason: String| VerifyError::Package(PackageError::BundleMalformed { offset, reason });
    let text = std::str::from_utf8(json).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    let value = strict_json(text).map_err(malformed)?;
    check_shape(&value, &BUNDLE, "bundle").map_err(malformed)?;
    let bundle = Bundle::from_json(text).map_err(|e| malformed(e.to_string()))?;
    match &bundle.content {
        SignatureContent::MessageSignature(_) => {}
        SignatureContent::DsseEnvelope(_) => {
            return Err(malformed(
                "a DSSE attestation, not a message signature over the manifest".into(),
            ));
        }
        _ => return Err(malformed("no message signature".into())),
    }
    let certificate = match &bundle.verification_material.content {
        VerificationMaterialContent::Certificate(cert) => &cert.raw_bytes,
        VerificationMaterialContent::X509CertificateChain { certificates } => {
            &certificates
                .first()
                .ok_or_else(|| malformed("an empty certificate chain".into()))?
                .raw_bytes
        }
        _ => {
            return Err(malformed(
                "signed with a public key, not a certificate: no identity to trust \
                 (use an ed25519 key from `palisade keygen` instead)"
                    .into(),
            ));
        }
    };
    let signer = certificate_identity(certificate.as_bytes()).map_err(malformed)?;
    let log_index = bundle
        .verification_material
        .tlog_entries
        .first()
        .map(|entry| entry.log_index.get());
    Ok(ParsedBundle {
        bundle,
        signer,
        log_index,
    })
}

/// Verifies `parsed` as a signature over `artifact` (the manifest's bytes) against
/// `root`. The identity is the caller's to judge; here it only has to be the one
/// the verifier read too.
pub(crate) fn verify_bundle(
    root: &SigstoreTrustRoot,
    artifact: &[u8],
    parsed: &ParsedBundle,
    offset: usize,
) -> Result<BundleSigner, VerifyError> {
    let refused = |failure: SigstoreFailure| {
        VerifyError::Trust(TrustError::InvalidBundle {
            offset,
            signer: parsed.signer.clone(),
            failure,
        })
    };
    // The verifier accepts a v0.1 bundle, or an entry, with a signed entry
    // timestamp and no inclusion proof; Palisade wants every entry proven in the
    // log's tree, and at least one entry.
    let entries = &parsed.bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return Err(refused(SigstoreFailure::InclusionProof(
            "the bundle has no transparency log entry".into(),
        )));
    }
    if let Some(index) = entries.iter().position(|e| e.inclusion_proof.is_none()) {
        return Err(refused(SigstoreFailure::InclusionProof(format!(
            "log entry {index} has no inclusion proof (a signed entry timestamp alone is a promise, not a proof)"
        ))));
    }
    let mut policy = VerificationPolicy::any_identity();
    if !root.checks_sct() {
        policy = policy.skip_sct();
    }
    let result = root
        .0
        .verifier
        .verify(artifact, &parsed.bundle, &policy)
        .map_err(|e| refused(failure(e, parsed)))?;
    // Belt and braces: the policy above asks for both, and a result that did not
    // check them must not count.
    if !result.certificate_verified() || !result.tlog_verified() {
        return Err(refused(SigstoreFailure::Certificate(
            "the verifier skipped the certificate or the log".into(),
        )));
    }
    let agrees = result.issuer() == Some(parsed.signer.issuer.as_str())
        && result.identity().map(|san| san.as_str()) == Some(parsed.signer.subject.as_str());
    if !agrees {
        return Err(refused(SigstoreFailure::Identity(format!(
            "the verifier read issuer {:?} and subject {:?}",
            result.issuer(),
            result.identity().map(|san| san.as_str())
        ))));
    }
    Ok(BundleSigner {
        identity: parsed.signer.clone(),
        log_index: parsed.log_index,
        integrated_time: result.integrated_time().map(|t| t.as_second()),
    })
}

/// Sorts the verifier's error into the check that failed.
fn failure(error: SigstoreError, parsed: &ParsedBundle) -> SigstoreFailure {
    use SigstoreFailure as F;
    let text = error.to_string();
    match error {
        // The chain is checked (by webpki) at the signing time, so an expired leaf
        // shows up as an invalid chain. The verifier only gets that far once the
        // entries' signed entry timestamps have verified, so their integrated
        // times can be compared with the leaf's validity here.
        SigstoreError::Certificate(CertificateError::ChainInvalid(_))
            if leaf_invalid_at_integrated_time(parsed) =>
        {
            F::CertificateValidity(text)
        }
        SigstoreError::Certificate(CertificateError::Expired { .. })
        | SigstoreError::Certificate(CertificateError::NotYetValid { .. })
        | SigstoreError::Certificate(CertificateError::NoValidAuthority { .. }) => {
            F::CertificateValidity(text)
        }
        SigstoreError::Certificate(CertificateError::Sct(_)) => F::Sct(text),
        SigstoreError::Certificate(_) => F::Certificate(text),
        SigstoreError::TransparencyLog(TransparencyLogError::InclusionProof(_)) => {
            F::InclusionProof(text)
        }
        SigstoreError::TransparencyLog(TransparencyLogError::Checkpoint(_)) => F::Checkpoint(text),
        SigstoreError::TransparencyLog(TransparencyLogError::InclusionPromise(_))
        | SigstoreError::TransparencyLog(TransparencyLogError::UnknownLog { .. }) => {
            F::SignedEntryTimestamp(text)
        }
        SigstoreError::TransparencyLog(TransparencyLogError::IntegratedTime(_)) => {
            F::CertificateValidity(text)
        }
        SigstoreError::TransparencyLog(_) => F::LogEntry(text),
        SigstoreError::Timestamp(TimestampError::NoVerifiedTimestamp(_)) => F::NoSigningTime(text),
        SigstoreError::Timestamp(_) => F::Timestamp(text),
        SigstoreError::ArtifactMismatch(_) => F::OtherArtifact(text),
        SigstoreError::SignatureInvalid(_) => F::Signature(text),
        _ => F::Bundle(text),
    }
}

/// Whether a log entry with a signed entry timestamp was integrated outside the
/// leaf certificate's validity.
fn leaf_invalid_at_integrated_time(parsed: &ParsedBundle) -> bool {
    let Some(leaf) = parsed.bundle.signing_certificate() else {
        return false;
    };
    let Ok(cert) = x509_cert::Certificate::from_der(leaf.as_bytes()) else {
        return false;
    };
    let validity = &cert.tbs_certificate.validity;
    let seconds = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
    let (not_before, not_after) = (seconds(validity.not_before), seconds(validity.not_after));
    parsed
        .bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter(|entry| entry.inclusion_promise.is_some())
        .filter_map(|entry| entry.integrated_time)
        .filter_map(|time| u64::try_from(time.as_second()).ok())
        .any(|time| time < not_before || time > not_after)
}

/// The signer identity the certificate `der` states: exactly one e-mail or URI
/// Subject Alternative Name, and the OIDC issuer from `.1.8` (a DER UTF8String)
/// and/or `.1.1` (the raw string); when both are present they must agree. The CI
/// claims (`.1.9`, `.1.12`, `.1.14`, `.1.18`, DER UTF8Strings) are read when
/// present; any of them twice, or not a UTF8String, makes the bundle malformed.
fn certificate_identity(der: &[u8]) -> Result<SignerIdentity, String> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("the signing certificate is not DER X.509: {e}"))?;
    let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
    let one = |oid: &str| one_extension(&extensions, oid);
    // Fulcio's v2 extensions (`.1.8` and up) are DER UTF8Strings.
    let utf8 = |oid: &str, name: &str| -> Result<Option<String>, String> {
        one(oid)?
            .map(|bytes| {
                Utf8StringRef::from_der(bytes)
                    .map(|s| s.as_str().to_owned())
                    .map_err(|e| format!("{name} extension {oid} is not a UTF8String: {e}"))
            })
            .transpose()
    };
    let v2 = utf8(OID_ISSUER_V2, "issuer")?;
    let v1 = one(OID_ISSUER_V1)?
        .map(|bytes| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| format!("issuer extension {OID_ISSUER_V1} is not UTF-8"))
        })
        .transpose()?;
    let issuer = match (v2, v1) {
        (Some(v2), Some(v1)) if v2 != v1 => {
            return Err(format!(
                "the certificate's issuer extensions disagree: {v2:?} ({OID_ISSUER_V2}) and {v1:?} ({OID_ISSUER_V1})"
            ));
        }
        (Some(issuer), _) | (None, Some(issuer)) => issuer,
        (None, None) => {
            return Err(format!(
                "the certificate has no OIDC issuer ({OID_ISSUER_V2} or {OID_ISSUER_V1}): not a Fulcio certificate"
            ));
        }
    };
    let san_oid = "2.5.29.17";
    let san = one(san_oid)?.ok_or("the certificate has no Subject Alternative Name")?;
    let san = SubjectAltName::from_der(san)
        .map_err(|e| format!("the Subject Alternative Name is malformed: {e}"))?;
    let mut subjects = san.0.iter().filter_map(|name| match name {
        GeneralName::Rfc822Name(email) => Some(email.to_string()),
        GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
        _ => None,
    });
    let subject = match (subjects.next(), subjects.next()) {
        (Some(subject), None) => subject,
        (None, _) => return Err("the certificate has no e-mail or URI identity".into()),
        (Some(_), Some(_)) => {
            return Err("the certificate has more than one e-mail or URI identity".into());
        }
    };
    let claims = Box::new(SignerClaims {
        build_signer_uri: utf8(OID_BUILD_SIGNER, "build signer")?,
        source_repository_uri: utf8(OID_SOURCE_REPOSITORY, "source repository")?,
        source_repository_ref: utf8(OID_SOURCE_REF, "source ref")?,
        build_config_uri: utf8(OID_BUILD_CONFIG, "build config")?,
    });
    Ok(SignerIdentity {
        issuer,
        subject,
        claims,
    })
}

/// The value of the extension `oid`, if the certificate has it; twice is an error.
fn one_extension<'a>(
    extensions: &'a [x509_cert::ext::Extension],
    oid: &str,
) -> Result<Option<&'a [u8]>, String> {
    let mut found = extensions
        .iter()
        .filter(|ext| ext.extn_id.to_string() == oid)
        .map(|ext| ext.extn_value.as_bytes());
    match (found.next(), found.next()) {
        (first, None) => Ok(first),
        _ => Err(format!("the certificate has extension {oid} twice")),
    }
}

/// A JSON value read with duplicate keys refused (`serde_json::Value` would keep
/// the last one silently).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses `text` as JSON with duplicate keys refused (serde_json bounds the nesting).
fn strict_json(text: &str) -> Result<Value, String> {
    serde_json::from_str::<Strict>(text)
        .map(|Strict(value)| value)
        .map_err(|e| format!("not valid JSON: {e}"))
}

/// The fields a bundle may have (Sigstore bundle v0.1 to v0.3, protobuf JSON).
enum Shape {
    /// A string, number or boolean.
    Scalar,
    Object(&'static [(&'static str, Shape)]),
    Array(&'static Shape),
}

const CERTIFICATE: Shape = Shape::Object(&[("rawBytes", Shape::Scalar)]);
const BUNDLE: Shape = Shape::Object(&[
    ("mediaType", Shape::Scalar),
    (
        "verificationMaterial",
        Shape::Object(&[
            ("certificate", CERTIFICATE),
            (
                "x509CertificateChain",
                Shape::Object(&[("certificates", Shape::Array(&CERTIFICATE))]),
            ),
            ("publicKey", Shape::Object(&[("hint", Shape::Scalar)])),
            (
                "tlogEntries",
                Shape::Array(&Shape::Object(&[
                    ("logIndex", Shape::Scalar),
                    ("logId", Shape::Object(&[("keyId", Shape::Scalar)])),
                    (
                        "kindVersion",
                        Shape::Object(&[("kind", Shape::Scalar), ("version", Shape::Scalar)]),
                    ),
                    ("integratedTime", Shape::Scalar),
                    (
                        "inclusionPromise",
                        Shape::Object(&[("signedEntryTimestamp", Shape::Scalar)]),
                    ),
                    (
                        "inclusionProof",
                        Shape::Object(&[
                            ("logIndex", Shape::Scalar),
                            ("rootHash", Shape::Scalar),
                            ("treeSize", Shape::Scalar),
                            ("hashes", Shape::Array(&Shape::Scalar)),
                            ("checkpoint", Shape::Object(&[("envelope", Shape::Scalar)])),
                        ]),
                    ),
                    ("canonicalizedBody", Shape::Scalar),
                ])),
            ),
            (
                "timestampVerificationData",
                Shape::Object(&[(
                    "rfc3161Timestamps",
                    Shape::Array(&Shape::Object(&[("signedTimestamp", Shape::Scalar)])),
                )]),
            ),
        ]),
    ),
    (
        "messageSignature",
        Shape::Object(&[
            (
                "messageDigest",
                Shape::Object(&[("algorithm", Shape::Scalar), ("digest", Shape::Scalar)]),
            ),
            ("signature", Shape::Scalar),
        ]),
    ),
    (
        "dsseEnvelope",
        Shape::Object(&[
            ("payload", Shape::Scalar),
            ("payloadType", Shape::Scalar),
            (
                "signatures",
                Shape::Array(&Shape::Object(&[
                    ("sig", Shape::Scalar),
                    ("keyid", Shape::Scalar),
                ])),
            ),
        ]),
    ),
]);

/// Refuses a field the bundle format does not have, or a value of the wrong shape,
/// naming its path.
fn check_shape(value: &Value, shape: &Shape, path: &str) -> Result<(), String> {
    match (shape, value) {
        (Shape::Scalar, Value::String(_) | Value::Number(_) | Value::Bool(_)) => Ok(()),
        (Shape::Object(fields), Value::Object(object)) => {
            for (key, value) in object {
                let Some((_, shape)) = fields.iter().find(|(name, _)| name == key) else {
                    return Err(format!("unknown field `{path}.{key}`"));
                };
                check_shape(value, shape, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        (Shape::Array(shape), Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_shape(item, shape, &format!("{path}[{i}]"))),
        _ => Err(format!("`{path}` has the wrong type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real bundle by cosign v3 against the public instance (with an SCT, an RFC
    /// 3161 timestamp, a signed entry timestamp and an inclusion proof) verifies
    /// against the public instance's trusted root as sigstore-trust-root embeds it,
    /// over its real artifact, through the same path as a package's bundle.
    #[test]
    fn real_cosign_bundle_verifies_offline() {
        let root = SigstoreTrustRoot::from_json(
            sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.as_bytes(),
        )
        .unwrap();
        assert!(root.checks_sct());
        let json =
            include_bytes!("../../../../tests/fixtures/sigstore/cosign-v3-blob.sigstore.json");
        let parsed = parse_bundle(0, json).unwrap();
        let signer = verify_bundle(&root, b"test content for cosign\n", &parsed, 0).unwrap();
        assert_eq!(signer.identity.issuer, "https://github.com/login/oauth");
        assert_eq!(signer.log_index, Some(738_312_748));
        assert_eq!(signer.integrated_time, Some(1_764_787_003));
        match verify_bundle(&root, b"test content for cosign?", &parsed, 0) {
            Err(VerifyError::Trust(TrustError::InvalidBundle {
                failure: SigstoreFailure::OtherArtifact(_),
                ..
            })) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strict_json_refuses_duplicate_keys() {
        assert!(strict_json(r#"{"a": 1, "b": {"c": 2}}"#).is_ok());
        let error = strict_json(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#).unwrap_err();
        assert!(error.contains("duplicate key \"c\""), "{error}");
    }

    #[test]
    fn shape_refuses_unknown_fields_by_path() {
        let value = strict_json(r#"{"mediaType": "x", "verificationMaterial": {"tlogEntries": [{"logIndex": "1", "extra": 1}]}}"#)
            .unwrap();
        assert_eq!(
            check_shape(&value, &BUNDLE, "bundle").unwrap_err(),
            "unknown field `bundle.verificationMaterial.tlogEntries[0].extra`"
        );
        let value = strict_json(r#"{"messageSignature": []}"#).unwrap();
        assert_eq!(
            check_shape(&value, &BUNDLE, "bundle").unwrap_err(),
            "`bundle.messageSignature` has the wrong type"
        );
    }
}
