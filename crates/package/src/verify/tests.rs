use super::*;
use crate::verify::error::{PackageError, TrustError, TrustPolicyError};

const COMPONENT: &[u8] = b"\0asm not really a component, but bytes to hash";

fn manifest_for(component: &[u8], extra: &str) -> String {
    format!(
        "format = 1\nname = \"demo\"\nversion = \"1.2.3\"\ndescription = \"a demo\"\n\
         component_sha256 = \"{}\"\nhooks = [\"request\"]\n{extra}",
        hex::encode(Sha256::digest(component))
    )
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn package() -> Vec<u8> {
    sign_package(&manifest_for(COMPONENT, ""), COMPONENT, &key(1)).unwrap()
}

fn loaded(bytes: Vec<u8>) -> Loaded {
    Loaded {
        name: "demo".into(),
        sha256: Sha256::digest(&bytes).into(),
        bytes,
        kind: SourceKind::Package,
    }
}

fn trusting(n: u8) -> TrustPolicy {
    TrustPolicy::new().trust(key(n).public_key())
}

fn section(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn header() -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out
}

fn parse_err(bytes: &[u8]) -> VerifyError {
    match envelope::parse(bytes) {
        Ok(_) => panic!("parsed"),
        Err(e) => e.into(),
    }
}

fn signature_body() -> Vec<u8> {
    let mut body = vec![ALGORITHM_ED25519];
    body.extend_from_slice(&[0; 96]);
    body
}

#[test]
fn round_trip_verifies() {
    let verified = verify(loaded(package()), &trusting(1)).unwrap();
    assert_eq!(verified.manifest().name, "demo");
    assert_eq!(verified.signers(), &[key(1).key_id()]);
    assert!(verified.identities().is_empty());
    assert_eq!(verified.into_component().bytes, COMPONENT);
}

#[test]
fn key_id_is_sha256_of_public_key_in_hex() {
    let public = key(1).public_key();
    let id = public.key_id();
    assert_eq!(
        id.to_bytes(),
        <[u8; 32]>::from(Sha256::digest(public.to_bytes()))
    );
    assert_eq!(id.to_string().len(), 64);
    assert!(
        id.to_string()
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    );
}

#[test]
fn signing_key_debug_shows_no_secret() {
    let debug = format!("{:?}", key(7));
    assert!(debug.starts_with("SigningKey("), "{debug}");
    assert!(!debug.contains("7, 7"), "{debug}");
    assert!(debug.contains(&key(7).key_id().to_string()));
}

#[test]
fn envelope_too_short_and_empty() {
    assert!(matches!(
        parse_err(&[]),
        VerifyError::Package(PackageError::TooShort {
            size: 0,
            minimum: 10
        })
    ));
    assert!(matches!(
        parse_err(b"PALISADE\x01"),
        VerifyError::Package(PackageError::TooShort { size: 9, .. })
    ));
}

#[test]
fn envelope_bad_magic() {
    let mut bytes = package();
    bytes[0] = b'X';
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::BadMagic { .. })
    ));
}

#[test]
fn envelope_unknown_version() {
    let mut bytes = package();
    bytes[8] = 2;
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::UnsupportedFormatVersion {
            version: 2,
            supported: 1
        })
    ));
}

#[test]
fn envelope_unknown_tag() {
    let mut bytes = header();
    bytes.extend(section(9, b"x"));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::UnknownSection { tag: 9, offset: 10 })
    ));
}

#[test]
fn envelope_wrong_order() {
    let mut bytes = header();
    bytes.extend(section(2, COMPONENT));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::OutOfOrder {
            section: "component",
            offset: 10,
            expected: "manifest"
        })
    ));
    let mut bytes = header();
    bytes.extend(section(1, b"m"));
    bytes.extend(section(3, &signature_body()));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::OutOfOrder {
            section: "signature",
            expected: "component",
            ..
        })
    ));
}

#[test]
fn envelope_duplicates() {
    let mut bytes = header();
    bytes.extend(section(1, b"m"));
    bytes.extend(section(1, b"m"));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::DuplicateSection {
            section: "manifest",
            offset: 16
        })
    ));
    let mut bytes = header();
    bytes.extend(section(1, b"m"));
    bytes.extend(section(2, b"c"));
    bytes.extend(section(2, b"c"));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::DuplicateSection {
            section: "component",
            offset: 22
        })
    ));
}

#[test]
fn envelope_missing_sections() {
    assert!(matches!(
        parse_err(&header()),
        VerifyError::Package(PackageError::MissingSection {
            section: "manifest"
        })
    ));
    let mut bytes = header();
    bytes.extend(section(1, b"m"));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::MissingSection {
            section: "component"
        })
    ));
}

#[test]
fn envelope_length_past_end() {
    let mut bytes = header();
    bytes.extend(section(1, b"manifest"));
    bytes.truncate(bytes.len() - 3);
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::SectionPastEnd {
            section: "manifest",
            offset: 10,
            declared: 8,
            available: 5
        })
    ));
}

#[test]
fn envelope_oversized_sections_refused_by_declared_length() {
    // Only the 5-byte section header exists: the bound applies before any slicing.
    let mut bytes = header();
    bytes.push(1);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::SectionTooLarge { section: "manifest", declared, limit: MAX_MANIFEST_BYTES, .. })
            if declared == u64::from(u32::MAX)
    ));
    let mut bytes = header();
    bytes.extend(section(1, b"m"));
    bytes.push(2);
    bytes.extend_from_slice(&(100u32 << 20).to_le_bytes());
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::SectionTooLarge {
            section: "component",
            offset: 16,
            ..
        })
    ));
}

#[test]
fn envelope_signature_length_and_algorithm() {
    let mut bytes = header();
    bytes.extend(section(1, b"m"));
    bytes.extend(section(2, b"c"));
    let base = bytes.clone();
    bytes.extend(section(3, &[1; 96]));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::SignatureLength {
            declared: 96,
            expected: 97,
            ..
        })
    ));
    let mut bytes = base.clone();
    bytes.extend(section(3, &[1; 98]));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::SignatureLength {
            declared: 98,
            expected: 97,
            ..
        })
    ));
    // The bound of a signature section is a sigstore bundle's.
    let mut bytes = base.clone();
    bytes.extend(section(3, &[2; 2]));
    bytes.truncate(bytes.len() - 2);
    bytes[23..27].copy_from_slice(&(MAX_BUNDLE_BYTES as u32 + 2).to_le_bytes());
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::SectionTooLarge {
            section: "signature",
            limit,
            ..
        }) if limit == MAX_BUNDLE_BYTES + 1
    ));
    // An empty bundle.
    let mut bytes = base.clone();
    bytes.extend(section(3, &[2]));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::BundleMalformed { offset: 22, .. })
    ));
    let mut bytes = base;
    let mut body = signature_body();
    body[0] = 3;
    bytes.extend(section(3, &body));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::UnknownAlgorithm {
            algorithm: 3,
            offset: 22
        })
    ));
}

#[test]
fn envelope_too_many_signatures() {
    let mut bytes = package();
    for n in 2..=MAX_SIGNATURES as u8 {
        bytes = add_signature(&bytes, &key(n)).unwrap();
    }
    assert_eq!(
        envelope::parse(&bytes).unwrap().signatures.len(),
        MAX_SIGNATURES
    );
    assert!(matches!(
        add_signature(&bytes, &key(99)),
        Err(VerifyError::Package(PackageError::TooManySignatures {
            limit: 16,
            ..
        }))
    ));
    let offset = bytes.len();
    bytes.extend(section(3, &signature_body()));
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::TooManySignatures { limit: 16, offset: o }) if o == offset
    ));
}

#[test]
fn envelope_trailing_bytes() {
    let mut bytes = package();
    let offset = bytes.len();
    bytes.extend_from_slice(&[3, 0, 0]);
    assert!(matches!(
        parse_err(&bytes),
        VerifyError::Package(PackageError::TrailingBytes { offset: o, count: 3 }) if o == offset
    ));
}

fn manifest_err(text: &str) -> VerifyError {
    match manifest::parse(text.as_bytes()) {
        Ok(_) => panic!("parsed: {text}"),
        Err(e) => e.into(),
    }
}

#[test]
fn manifest_round_trip_with_capabilities() {
    let text = manifest_for(
        COMPONENT,
        "[capabilities]\nlog = {}\nkv = { quota_bytes = 4096 }\n\
         crypto = { keys = { \"hmac\" = \"verify\", \"ed\" = \"sign\" } }\n",
    );
    let m = manifest::parse(text.as_bytes()).unwrap();
    assert_eq!(m.version, semver::Version::new(1, 2, 3));
    assert!(m.hooks.request && !m.hooks.response);
    let expected = palisade_types::Grants::none().log().kv(4096).crypto(
        palisade_types::CryptoGrant::default()
            .key("hmac", palisade_types::KeyUse::Verify)
            .key("ed", palisade_types::KeyUse::SignAndVerify),
    );
    assert_eq!(m.grants, expected);
}

#[test]
fn manifest_unknown_field_refused_with_position() {
    let err = manifest_err(&manifest_for(COMPONENT, "homepage = \"x\"\n"));
    let VerifyError::Package(PackageError::ManifestSyntax { message }) = err else {
        panic!("{err}")
    };
    assert!(message.contains("line 7"), "{message}");
    assert!(message.contains("homepage"), "{message}");
    let err = manifest_err(&manifest_for(COMPONENT, "[capabilities]\nfiles = {}\n"));
    assert!(
        matches!(
            err,
            VerifyError::Package(PackageError::ManifestSyntax { .. })
        ),
        "{err}"
    );
    let err = manifest_err(&manifest_for(
        COMPONENT,
        "[capabilities]\nlog = { level = 1 }\n",
    ));
    assert!(
        matches!(
            err,
            VerifyError::Package(PackageError::ManifestSyntax { .. })
        ),
        "{err}"
    );
}

#[test]
fn manifest_duplicate_key_refused() {
    let err = manifest_err(&manifest_for(COMPONENT, "name = \"other\"\n"));
    let VerifyError::Package(PackageError::ManifestSyntax { message }) = err else {
        panic!("{err}")
    };
    assert!(message.contains("line"), "{message}");
}

#[test]
fn manifest_bad_semver() {
    let text = manifest_for(COMPONENT, "").replace("1.2.3", "1.2");
    assert!(matches!(
        manifest_err(&text),
        VerifyError::Package(PackageError::InvalidManifest {
            field: "version",
            ..
        })
    ));
}

#[test]
fn manifest_bad_hex() {
    let good = manifest_for(COMPONENT, "");
    let digest = hex::encode(Sha256::digest(COMPONENT));
    for bad in [
        digest.to_uppercase(),
        digest[1..].to_owned(),
        format!("{}g", &digest[1..]),
    ] {
        let err = manifest_err(&good.replace(&digest, &bad));
        assert!(
            matches!(
                err,
                VerifyError::Package(PackageError::InvalidManifest {
                    field: "component_sha256",
                    ..
                })
            ),
            "{err}"
        );
    }
}

#[test]
fn manifest_other_fields() {
    let good = manifest_for(COMPONENT, "");
    let cases = [
        (good.replace("format = 1", "format = 2"), "format"),
        (good.replace("\"demo\"", "\"Demo!\""), "name"),
        (good.replace("[\"request\"]", "[]"), "hooks"),
        (
            good.replace("[\"request\"]", "[\"request\", \"request\"]"),
            "hooks",
        ),
        (
            manifest_for(COMPONENT, "[capabilities]\nkv = { quota_bytes = 0 }\n"),
            "capabilities.kv.quota_bytes",
        ),
    ];
    for (text, field) in cases {
        let err = manifest_err(&text);
        assert!(
            matches!(err, VerifyError::Package(PackageError::InvalidManifest { field: f, .. }) if f == field),
            "{field}: {err}"
        );
    }
    assert!(matches!(
        manifest_err(&good.replace("\"request\"]", "\"open\"]")),
        VerifyError::Package(PackageError::ManifestSyntax { .. })
    ));
    assert!(matches!(
        manifest::parse(b"\xff\xfe"),
        Err(PackageError::ManifestNotUtf8 { valid_up_to: 0 })
    ));
}

#[test]
fn sign_package_checks_the_digest() {
    let err = sign_package(&manifest_for(b"other", ""), COMPONENT, &key(1)).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Trust(TrustError::ComponentDigestMismatch { .. })
        ),
        "{err}"
    );
}

#[test]
fn verify_refusals() {
    let refuse = |bytes: Vec<u8>, trust: &TrustPolicy| match verify(loaded(bytes), trust) {
        Ok(_) => panic!("verified"),
        Err(e) => e,
    };
    assert!(matches!(
        refuse(package(), &TrustPolicy::new()),
        VerifyError::TrustPolicy(TrustPolicyError::NoTrustedKeys)
    ));
    assert!(matches!(
        refuse(package(), &trusting(2)),
        VerifyError::Trust(TrustError::ThresholdNotMet {
            required: 1,
            valid: 0,
            untrusted: 1,
            ..
        })
    ));
    let mut other = loaded(package());
    other.name = "other".into();
    assert!(matches!(
        verify(other, &trusting(1)),
        Err(VerifyError::Trust(TrustError::NameMismatch { .. }))
    ));
    assert!(matches!(
        TrustPolicy::new().min_version("demo", "one"),
        Err(TrustPolicyError::InvalidVersion { .. })
    ));
    // Some 32-byte strings are not points on the curve.
    let invalid = (0..=255u8).find_map(|n| PublicKey::from_bytes(&[n; 32]).err());
    assert!(
        matches!(invalid, Some(TrustPolicyError::InvalidPublicKey { .. })),
        "{invalid:?}"
    );
}

#[test]
fn effective_grants_are_the_request_within_the_ceiling() {
    use crate::PolicyError;
    use crate::policy::effective_grants;
    use palisade_types::{CryptoGrant, KeyUse};
    let ceiling = palisade_types::Grants::none()
        .log()
        .kv(100)
        .crypto(CryptoGrant::default().key("k", KeyUse::Verify));
    let asked = palisade_types::Grants::none().kv(50);
    assert_eq!(effective_grants("p", &asked, &ceiling).unwrap(), asked);
    let refusals = [
        (
            palisade_types::Grants::none().clock(),
            palisade_types::Capability::Clock,
        ),
        (
            palisade_types::Grants::none().kv(101),
            palisade_types::Capability::Kv,
        ),
        (
            palisade_types::Grants::none()
                .crypto(CryptoGrant::default().key("k", KeyUse::SignAndVerify)),
            palisade_types::Capability::Crypto,
        ),
        (
            palisade_types::Grants::none()
                .crypto(CryptoGrant::default().key("other", KeyUse::Verify)),
            palisade_types::Capability::Crypto,
        ),
    ];
    for (asked, expected) in refusals {
        let err = effective_grants("p", &asked, &ceiling).unwrap_err();
        assert!(
            matches!(&err, PolicyError::ExceedsGrants { capability, .. } if *capability == expected),
            "{err}"
        );
    }
}

#[test]
fn verify_package_without_a_name_uses_the_manifests() {
    let info = verify_package(&package(), None, &trusting(1)).unwrap();
    assert_eq!(info.name, "demo");
    assert_eq!(info.version, "1.2.3");
    assert_eq!(info.signers, vec![key(1).key_id()]);
    assert!(matches!(
        verify_package(&package(), Some("other"), &trusting(1)),
        Err(VerifyError::Trust(TrustError::NameMismatch { .. }))
    ));
    // Per-plugin rules still apply, under the manifest's name.
    let strict = trusting(1).plugin_threshold("demo", 2);
    assert!(matches!(
        verify_package(&package(), None, &strict),
        Err(VerifyError::Trust(TrustError::ThresholdNotMet {
            required: 2,
            ..
        }))
    ));
    let pinned = trusting(1).pin_sha256("demo", [0; 32]);
    assert!(matches!(
        verify_package(&package(), None, &pinned),
        Err(VerifyError::Trust(TrustError::DigestPinMismatch { .. }))
    ));
    assert!(matches!(
        verify_package(&package(), None, &trusting(2)),
        Err(VerifyError::Trust(TrustError::ThresholdNotMet { .. }))
    ));
}

#[test]
fn inspect_package_reads_without_trust() {
    let signed = add_signature(&package(), &key(2)).unwrap();
    let inspected = inspect_package(&signed).unwrap();
    assert_eq!(inspected.info.name, "demo");
    assert_eq!(
        inspected.info.signers,
        vec![key(1).key_id(), key(2).key_id()]
    );
    assert_eq!(inspected.component, COMPONENT);
}

#[test]
fn only_trust_errors_are_refusals() {
    let malformed = parse_err(b"");
    assert!(matches!(
        malformed,
        VerifyError::Package(PackageError::TooShort { .. })
    ));
    assert!(!malformed.is_refusal());
    assert_eq!(malformed.reason(), "too_short");
    let refused = VerifyError::from(TrustError::RolledBack {
        version: "1.0.0".into(),
        minimum: "1.0.1".into(),
    });
    assert!(refused.is_refusal());
    assert_eq!(refused.reason(), "rolled_back");
    assert_eq!(
        refused.to_string(),
        "version 1.0.0 is below the minimum 1.0.1 (rollback refused)"
    );
    let unusable = VerifyError::from(TrustPolicyError::NoTrustedKeys);
    assert!(!unusable.is_refusal());
    assert_eq!(unusable.reason(), "no_trusted_keys");
}
