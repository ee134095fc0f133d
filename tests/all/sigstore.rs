//! Sigstore bundles in packages, verified offline against a trust root and identity
//! policy that the test mints itself (`palisade_tests::sigstore`): a Fulcio-like CA,
//! a Rekor-like log with a real Merkle tree, and cosign-style bundles. Each refusal
//! asserts the check that caught it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use palisade::LoadConfig;
use palisade::{
    Grants, Identity, IdentityPolicy, PluginSource, PluginSpec, RefPattern, SignerClaims,
    SignerIdentity, SigstoreFailure, SigstoreTrustRoot, SubjectPattern, TrustPolicy, VerifyError,
    add_bundle, add_signature, package_with_bundle, sign_package, verify_package,
};
use palisade::{PackageError, TrustError, TrustPolicyError};
use palisade_tests::guests::ADD_HEADER;
use palisade_tests::sigstore::{
    Fulcio, IssuerExtension, Rekor, Signer, bundle, edit, entry, log_signature, now, trusted_root,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{component_bytes, expect_continue, headers, host};
use crate::verify::{hex, key};

const ISSUER: &str = "https://token.ci.test";
const SUBJECT: &str = "https://ci.test/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0";
const OTHER_SUBJECT: &str = "maintainer@example.test";

fn manifest(component: &[u8], version: &str) -> String {
    format!(
        "format = 1\nname = \"add-header\"\nversion = \"{version}\"\n\
         description = \"adds a configured header\"\ncomponent_sha256 = \"{}\"\n\
         hooks = [\"request\", \"response\"]\n\n[capabilities]\nconfig = {{}}\n",
        hex(&Sha256::digest(component))
    )
}

/// A CA, a log, and the trust root naming both.
struct World {
    fulcio: Fulcio,
    rekor: Rekor,
    root: SigstoreTrustRoot,
}

fn world() -> World {
    let fulcio = Fulcio::new("fulcio");
    let rekor = Rekor::new();
    let root = SigstoreTrustRoot::from_json(trusted_root(&[&fulcio], &[&rekor]).as_bytes())
        .expect("the minted trust root");
    World {
        fulcio,
        rekor,
        root,
    }
}

fn identity(issuer: &str, subject: &str) -> IdentityPolicy {
    Identity::new(issuer, SubjectPattern::parse(subject).unwrap())
        .unwrap()
        .into()
}

/// The identity a certificate from `Signer::new(issuer, subject)` states, claims
/// included.
fn signer_identity(issuer: &str, subject: &str) -> SignerIdentity {
    let signer = Signer::new(issuer, subject);
    SignerIdentity {
        issuer: issuer.into(),
        subject: subject.into(),
        claims: Box::new(SignerClaims {
            build_signer_uri: signer.build_signer_uri,
            source_repository_uri: signer.source_repository_uri,
            source_repository_ref: signer.source_repository_ref,
            build_config_uri: signer.build_config_uri,
        }),
    }
}

fn trusting(world: &World, identities: impl IntoIterator<Item = IdentityPolicy>) -> TrustPolicy {
    identities.into_iter().fold(
        TrustPolicy::new().sigstore_trust_root(world.root.clone()),
        TrustPolicy::trust_identity,
    )
}

/// The component and manifest of `add-header` 1.0.0.
fn parts() -> (Vec<u8>, String) {
    let component = component_bytes(ADD_HEADER);
    let manifest = manifest(&component, "1.0.0");
    (component, manifest)
}

/// `add-header` signed by one bundle from `signer` (over the exact manifest bytes).
fn signed(world: &mut World, signer: &Signer) -> Vec<u8> {
    let (component, manifest) = parts();
    let json = bundle(&world.fulcio, &mut world.rekor, signer, manifest.as_bytes());
    package_with_bundle(manifest.as_bytes(), &component, json.as_bytes()).unwrap()
}

/// Appends a raw kind-2 signature section, bypassing `add_bundle`'s own checks.
fn splice(mut package: Vec<u8>, json: &str) -> Vec<u8> {
    package.push(3);
    package.extend_from_slice(&(json.len() as u32 + 1).to_le_bytes());
    package.push(2);
    package.extend_from_slice(json.as_bytes());
    package
}

/// An unsigned `add-header` package (no signature section yet).
fn unsigned() -> Vec<u8> {
    let (component, manifest) = parts();
    let signed = sign_package(&manifest, &component, &key(9)).unwrap();
    // Drop the one ed25519 section (5-byte header + 97-byte body) at the end.
    signed[..signed.len() - 102].to_vec()
}

fn refused(package: &[u8], trust: &TrustPolicy) -> VerifyError {
    match verify_package(package, Some("add-header"), trust) {
        Ok(info) => panic!("accepted, signed by {:?}", info.identities),
        Err(error) => error,
    }
}

fn check_failed(error: VerifyError) -> SigstoreFailure {
    match error {
        VerifyError::Trust(TrustError::InvalidBundle {
            failure, signer, ..
        }) => {
            assert_eq!(signer, signer_identity(ISSUER, SUBJECT));
            failure
        }
        other => panic!("expected InvalidBundle, got {other:?}: {other}"),
    }
}

#[tokio::test]
async fn sigstore_valid_bundle_loads_and_runs() {
    let mut world = world();
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let info = verify_package(&package, Some("add-header"), &trust).unwrap();
    assert!(info.signers.is_empty());
    assert_eq!(info.identities.len(), 1);
    assert_eq!(
        info.identities[0].identity,
        signer_identity(ISSUER, SUBJECT)
    );
    assert_eq!(info.identities[0].log_index, Some(5));
    assert!(info.identities[0].integrated_time.is_some());
    let plugin = host()
        .load(
            PluginSpec::new("add-header", PluginSource::PackageBytes(package))
                .grants(Grants::none().config())
                .config([("name", "x-tenant"), ("value", "blue")])
                .trust(trust),
        )
        .await
        .unwrap();
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-tenant"], "blue");
}

#[test]
fn sigstore_issuer_extension_forms_are_all_read() {
    for form in [
        IssuerExtension::V1,
        IssuerExtension::V2,
        IssuerExtension::Both,
    ] {
        let mut world = world();
        let mut signer = Signer::new(ISSUER, OTHER_SUBJECT);
        signer.issuer_extension = form;
        let package = signed(&mut world, &signer);
        let trust = trusting(&world, [identity(ISSUER, OTHER_SUBJECT)]);
        let info =
            verify_package(&package, None, &trust).unwrap_or_else(|e| panic!("{form:?}: {e}"));
        assert_eq!(
            info.identities[0].identity,
            signer_identity(ISSUER, OTHER_SUBJECT)
        );
    }
}

#[test]
fn sigstore_wrong_issuer_is_not_trusted() {
    let mut world = world();
    let package = signed(&mut world, &Signer::new("https://token.evil.test", SUBJECT));
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let error = refused(&package, &trust);
    assert!(
        matches!(
            &error,
            VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, required: 1, untrusted_identities, .. })
                if untrusted_identities == &[signer_identity("https://token.evil.test", SUBJECT)]
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains(
            "untrusted identity https://ci.test/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0 (issuer https://token.evil.test)"
        ),
        "{error}"
    );
}

#[test]
fn sigstore_subject_must_match_the_pattern() {
    let mut world = world();
    let evil = "https://ci.test/org/repo-evil/.github/workflows/release.yml@refs/tags/v1.0.0";
    let package = signed(&mut world, &Signer::new(ISSUER, evil));
    let trust = trusting(&world, [identity(ISSUER, "https://ci.test/org/repo/*")]);
    let error = refused(&package, &trust);
    assert!(
        matches!(
            &error,
            VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, untrusted_identities, .. })
                if untrusted_identities == &[signer_identity(ISSUER, evil)]
        ),
        "{error}"
    );
    // The same pattern admits the real repository's workflows.
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    verify_package(&package, None, &trust).unwrap();
}

/// Item 16 of issue 10: a prefix is matched by whole, clean segments, so a real
/// certificate from the trusted CA whose URI climbs out of the trusted
/// organisation with `..` (or hides it percent-encoded) is not trusted.
#[test]
fn sigstore_prefix_does_not_match_dot_segments() {
    let mut world = world();
    let trust = trusting(&world, [identity(ISSUER, "https://ci.test/org/*")]);
    for evil in [
        "https://ci.test/org/../org-evil/x/.github/workflows/release.yml@refs/tags/v1.0.0",
        "https://ci.test/org/%2e%2e/org-evil/x/.github/workflows/release.yml@refs/tags/v1.0.0",
        "https://ci.test/org//evil/.github/workflows/release.yml@refs/tags/v1.0.0",
    ] {
        let package = signed(&mut world, &Signer::new(ISSUER, evil));
        let error = refused(&package, &trust);
        assert!(
            matches!(
                &error,
                VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, untrusted_identities, .. })
                    if untrusted_identities.len() == 1 && untrusted_identities[0].subject == evil
            ),
            "{evil}: {error}"
        );
    }
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    verify_package(&package, None, &trust).unwrap();
}

/// The certificate-claims refusal of `package` under `trust`, its reason.
fn claims_refused(package: &[u8], trust: &TrustPolicy) -> String {
    match refused(package, trust) {
        VerifyError::Trust(TrustError::InvalidBundle {
            failure: SigstoreFailure::Claims(reason),
            ..
        }) => reason,
        other => panic!("expected a claims refusal, got {other:?}: {other}"),
    }
}

/// A public reusable workflow, and a caller of it in another organisation.
const SHARED: &str = "https://ci.test/org/shared/.github/workflows/build.yml@refs/tags/v1";
const EVIL_CALLER: &str =
    "https://ci.test/evil-org/app/.github/workflows/release.yml@refs/heads/main";
const OWN_CALLER: &str = "https://ci.test/org/app/.github/workflows/release.yml@refs/tags/v2.0.0";

/// What Fulcio writes when `caller` (a workflow file at a ref) calls the reusable
/// workflow `SHARED`: the subject and build signer are the called file, the build
/// config, source repository and ref the caller's.
fn calling_shared(caller: &str) -> Signer {
    let from = Signer::new(ISSUER, caller);
    let mut signer = Signer::new(ISSUER, SHARED);
    signer.build_config_uri = from.build_config_uri;
    signer.source_repository_uri = from.source_repository_uri;
    signer.source_repository_ref = from.source_repository_ref;
    signer
}

/// Item 15 of issue 10: a trusted subject naming a public reusable workflow admitted
/// any repository that called it. Now a build config other than the build signer
/// is refused, by name, unless the identity allows reusable workflows.
#[test]
fn sigstore_reusable_workflow_is_refused_unless_allowed() {
    let mut world = world();
    let package = signed(&mut world, &calling_shared(EVIL_CALLER));
    let trust = trusting(&world, [identity(ISSUER, SHARED)]);
    assert_eq!(
        claims_refused(&package, &trust),
        format!(
            "the build config (1.3.6.1.4.1.57264.1.18) {EVIL_CALLER:?} is not the build signer \
             (1.3.6.1.4.1.57264.1.9) {SHARED:?}: a reusable workflow called from another \
             workflow, trusted only with `allow_reusable_workflow` and a `source_repository`"
        )
    );
    // Allowing reusable workflows needs the source repository named...
    let bare = Identity::new(ISSUER, SubjectPattern::parse(SHARED).unwrap()).unwrap();
    assert!(matches!(
        bare.clone().allowing_reusable_workflow(),
        Err(TrustPolicyError::InvalidIdentity { reason, .. }) if reason.contains("needs a source repository")
    ));
    // ...and then admits only that repository's callers.
    let allowed = bare
        .with_source_repository(SubjectPattern::parse("https://ci.test/org/app").unwrap())
        .allowing_reusable_workflow()
        .unwrap();
    let trust = trusting(&world, [allowed.into()]);
    assert_eq!(
        claims_refused(&package, &trust),
        "the source repository (1.3.6.1.4.1.57264.1.12) is \"https://ci.test/evil-org/app\", \
         not https://ci.test/org/app"
    );
    let own = signed(&mut world, &calling_shared(OWN_CALLER));
    let info = verify_package(&own, None, &trust).unwrap();
    assert_eq!(
        info.identities[0]
            .identity
            .claims
            .build_config_uri
            .as_deref(),
        Some(OWN_CALLER)
    );
}

/// Item 15 of issue 10: a certificate from the trusted CA whose workflow subject
/// matches but whose source repository is another organisation's is refused,
/// naming the repository.
#[test]
fn sigstore_source_repository_of_another_org_is_refused() {
    let mut world = world();
    let mut signer = Signer::new(ISSUER, SUBJECT);
    signer.source_repository_uri = Some("https://ci.test/evil-org/repo".into());
    let package = signed(&mut world, &signer);
    let pinned = Identity::new(ISSUER, SubjectPattern::parse(SUBJECT).unwrap())
        .unwrap()
        .with_source_repository(SubjectPattern::parse("https://ci.test/org/repo").unwrap());
    let trust = trusting(&world, [pinned.into()]);
    assert_eq!(
        claims_refused(&package, &trust),
        "the source repository (1.3.6.1.4.1.57264.1.12) is \"https://ci.test/evil-org/repo\", \
         not https://ci.test/org/repo"
    );
    // The message names the signer and the check.
    let text = refused(&package, &trust).to_string();
    assert!(
        text.contains("certificate claims: the source repository"),
        "{text}"
    );
    // A certificate without the claim cannot satisfy a policy that requires it.
    signer.source_repository_uri = None;
    let package = signed(&mut world, &signer);
    assert!(
        claims_refused(&package, &trust)
            .starts_with("the certificate names no source repository (1.3.6.1.4.1.57264.1.12)")
    );
    // The real repository's certificate passes.
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    verify_package(&package, None, &trust).unwrap();
}

/// Items 15 and 16 of issue 10: a policy can name the ref (Fulcio's source ref,
/// `…1.14`), and a certificate for another branch is refused.
#[test]
fn sigstore_source_ref_constraint_refuses_another_branch() {
    let mut world = world();
    let on_tags = Identity::new(
        ISSUER,
        SubjectPattern::parse("https://ci.test/org/repo/*").unwrap(),
    )
    .unwrap()
    .with_source_ref(RefPattern::parse("refs/tags/*").unwrap());
    let trust = trusting(&world, [on_tags.into()]);
    let branch = "https://ci.test/org/repo/.github/workflows/release.yml@refs/heads/evil";
    let package = signed(&mut world, &Signer::new(ISSUER, branch));
    assert_eq!(
        claims_refused(&package, &trust),
        "the source ref (1.3.6.1.4.1.57264.1.14) is \"refs/heads/evil\", not refs/tags/*"
    );
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    verify_package(&package, None, &trust).unwrap();
    for bad in [
        "refs/*/x",
        "heads/main",
        "refs/tags/../heads/x",
        "refs//x",
        "refs/tags*",
    ] {
        assert!(
            matches!(
                RefPattern::parse(bad),
                Err(TrustPolicyError::InvalidIdentity { .. })
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn sigstore_certificate_from_another_ca_is_refused() {
    let mut world = world();
    let (component, manifest) = parts();
    // Same log, same identity, but a CA the trust root does not list.
    let rogue = Fulcio::new("rogue");
    let json = bundle(
        &rogue,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let package = package_with_bundle(manifest.as_bytes(), &component, json.as_bytes()).unwrap();
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::Certificate(_)),
        "{failure}"
    );
}

#[test]
fn sigstore_bundle_moved_from_another_package_is_refused() {
    let mut world = world();
    let (component, _) = parts();
    // A valid bundle over version 2.0.0's manifest, attached to 1.0.0's package.
    let other = manifest(&component, "2.0.0");
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        other.as_bytes(),
    );
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let moved = splice(unsigned(), &json);
    let failure = check_failed(refused(&moved, &trust));
    assert!(
        matches!(failure, SigstoreFailure::OtherArtifact(_)),
        "{failure}"
    );
    // Without the digest hint, the signature itself does not verify.
    let stripped = edit(&json, |b| {
        b["messageSignature"]
            .as_object_mut()
            .unwrap()
            .remove("messageDigest");
    });
    let failure = check_failed(refused(&splice(unsigned(), &stripped), &trust));
    assert!(
        matches!(failure, SigstoreFailure::Signature(_)),
        "{failure}"
    );
    // `add_bundle` refuses to attach it in the first place.
    let error = add_bundle(&unsigned(), json.as_bytes()).unwrap_err();
    assert!(
        matches!(&error, VerifyError::Package(PackageError::BundleMalformed { reason, .. }) if reason.contains("but the manifest's sha256 is")),
        "{error}"
    );
}

#[test]
fn sigstore_tampered_inclusion_proof_is_refused() {
    let mut world = world();
    let (component, manifest) = parts();
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let tampered = edit(&json, |b| {
        entry(b)["inclusionProof"]["hashes"][0] = json!(B64.encode([7u8; 32]));
    });
    let package =
        package_with_bundle(manifest.as_bytes(), &component, tampered.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::InclusionProof(_)),
        "{failure}"
    );
    // A proof for another leaf index does not lead to the root either.
    let tampered = edit(&json, |b| {
        entry(b)["inclusionProof"]["logIndex"] = json!("4");
    });
    let package =
        package_with_bundle(manifest.as_bytes(), &component, tampered.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::InclusionProof(_)),
        "{failure}"
    );
}

#[test]
fn sigstore_wrong_log_key_and_bad_signed_entry_timestamp_are_refused() {
    let mut world = world();
    let (component, manifest) = parts();
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let package = package_with_bundle(manifest.as_bytes(), &component, json.as_bytes()).unwrap();
    // A trust root that lists another log key: the entry's log is unknown.
    let other_log = Rekor::new();
    let root =
        SigstoreTrustRoot::from_json(trusted_root(&[&world.fulcio], &[&other_log]).as_bytes())
            .unwrap();
    let trust = TrustPolicy::new()
        .sigstore_trust_root(root)
        .trust_identity(identity(ISSUER, SUBJECT));
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::SignedEntryTimestamp(_)),
        "{failure}"
    );
    // The right log key, but a signed entry timestamp over other data.
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let forged = log_signature(&world.rekor, b"not the entry");
    let bad_set = edit(&json, |b| {
        entry(b)["inclusionPromise"]["signedEntryTimestamp"] = json!(B64.encode(forged));
    });
    let package = package_with_bundle(manifest.as_bytes(), &component, bad_set.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::SignedEntryTimestamp(_)),
        "{failure}"
    );
    // The signed entry timestamp covers the integrated time: moving it is caught.
    let moved_time = edit(&json, |b| {
        entry(b)["integratedTime"] = json!((now() - 700).to_string());
    });
    let package =
        package_with_bundle(manifest.as_bytes(), &component, moved_time.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::SignedEntryTimestamp(_)),
        "{failure}"
    );
    // A checkpoint whose note signature is not the log's.
    let bad_checkpoint = edit(&json, |b| {
        let envelope = entry(b)["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .to_owned();
        let (body, _) = envelope.split_once("\n\n").unwrap();
        let mut note = world_log_id_prefix(&envelope);
        note.extend(log_signature(&Rekor::new(), format!("{body}\n").as_bytes()));
        entry(b)["inclusionProof"]["checkpoint"]["envelope"] = json!(format!(
            "{body}\n\n\u{2014} rekor.test {}\n",
            B64.encode(note)
        ));
    });
    let package =
        package_with_bundle(manifest.as_bytes(), &component, bad_checkpoint.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::Checkpoint(_)),
        "{failure}"
    );
}

/// The 4-byte key hint of the checkpoint's signature line.
fn world_log_id_prefix(envelope: &str) -> Vec<u8> {
    let line = envelope.lines().last().unwrap();
    let signature = line.rsplit(' ').next().unwrap();
    B64.decode(signature).unwrap()[..4].to_vec()
}

#[test]
fn sigstore_certificate_expired_at_integrated_time_is_refused() {
    let mut world = world();
    let mut signer = Signer::new(ISSUER, SUBJECT);
    // Logged two minutes after the ten-minute certificate expired.
    signer.integrated_time = signer.not_after + 120;
    let package = signed(&mut world, &signer);
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::CertificateValidity(_)),
        "{failure}"
    );
}

#[test]
fn sigstore_empty_any_of_matches_nothing() {
    let mut world = world();
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    let trust = trusting(&world, [IdentityPolicy::any_of([])]);
    let error = refused(&package, &trust);
    assert!(
        matches!(
            &error,
            VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, untrusted_identities, .. })
                if untrusted_identities == &[signer_identity(ISSUER, SUBJECT)]
        ),
        "{error}"
    );
    // And the same bundle counts under an any-of that lists its signer.
    let trust = trusting(
        &world,
        [IdentityPolicy::any_of([
            identity(ISSUER, OTHER_SUBJECT),
            identity(ISSUER, SUBJECT),
        ])],
    );
    verify_package(&package, None, &trust).unwrap();
}

#[test]
fn sigstore_same_identity_twice_counts_once() {
    let mut world = world();
    let signer = Signer::new(ISSUER, SUBJECT);
    let package = signed(&mut world, &signer);
    // A second bundle: another certificate and log entry, the same identity.
    let (_, manifest) = parts();
    let again = bundle(
        &world.fulcio,
        &mut world.rekor,
        &signer,
        manifest.as_bytes(),
    );
    let package = add_bundle(&package, again.as_bytes()).unwrap();
    let trust = trusting(
        &world,
        [identity(ISSUER, SUBJECT), identity(ISSUER, OTHER_SUBJECT)],
    )
    .threshold(2);
    let error = refused(&package, &trust);
    assert!(
        matches!(
            error,
            VerifyError::Trust(TrustError::ThresholdNotMet {
                valid: 1,
                required: 2,
                ..
            })
        ),
        "{error}"
    );
    // A second, distinct trusted identity makes two.
    let other = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, OTHER_SUBJECT),
        manifest.as_bytes(),
    );
    let package = add_bundle(&package, other.as_bytes()).unwrap();
    let info = verify_package(&package, None, &trust).unwrap();
    assert_eq!(info.identities.len(), 2);
}

#[test]
fn sigstore_one_prefix_policy_counts_once() {
    let mut world = world();
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    let (_, manifest) = parts();
    let sibling = "https://ci.test/org/repo/.github/workflows/other.yml@refs/heads/main";
    let second = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, sibling),
        manifest.as_bytes(),
    );
    let package = add_bundle(&package, second.as_bytes()).unwrap();
    // Two distinct subjects, but one trusted entry admits both: one counts.
    let trust = trusting(&world, [identity(ISSUER, "https://ci.test/org/repo/*")]).threshold(2);
    assert!(matches!(
        refused(&package, &trust),
        VerifyError::Trust(TrustError::ThresholdNotMet { valid: 1, .. })
    ));
}

#[test]
fn sigstore_and_ed25519_make_two_of_n() {
    let mut world = world();
    let (component, manifest) = parts();
    let package = sign_package(&manifest, &component, &key(1)).unwrap();
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)])
        .trust(key(1).public_key())
        .trust(key(2).public_key())
        .threshold(2);
    // The key alone is one of two.
    assert!(matches!(
        refused(&package, &trust),
        VerifyError::Trust(TrustError::ThresholdNotMet {
            valid: 1,
            required: 2,
            ..
        })
    ));
    let both = add_bundle(&package, json.as_bytes()).unwrap();
    let info = verify_package(&both, Some("add-header"), &trust).unwrap();
    assert_eq!(info.signers, [key(1).key_id()]);
    assert_eq!(info.identities.len(), 1);
    // Order does not matter: a key signature after the bundle counts the same.
    let bundle_first = package_with_bundle(manifest.as_bytes(), &component, json.as_bytes())
        .and_then(|p| add_signature(&p, &key(2)))
        .unwrap();
    verify_package(&bundle_first, None, &trust).unwrap();
}

#[test]
fn sigstore_bundles_without_a_trust_root_are_ignored() {
    let mut world = world();
    let (component, manifest) = parts();
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let package = sign_package(&manifest, &component, &key(1)).unwrap();
    let package = add_bundle(&package, json.as_bytes()).unwrap();
    // A keys-only policy: the bundle is an untrusted signature, and is not parsed.
    let trust = TrustPolicy::new().trust(key(1).public_key());
    verify_package(&package, None, &trust).unwrap();
    assert!(matches!(
        refused(&package, &trust.clone().threshold(2)),
        VerifyError::Trust(TrustError::ThresholdNotMet {
            valid: 1,
            untrusted: 1,
            ..
        })
    ));
    // Identities without a trust root are a policy error, not a silent pass.
    let trust = TrustPolicy::new().trust_identity(identity(ISSUER, SUBJECT));
    assert!(matches!(
        refused(&package, &trust),
        VerifyError::TrustPolicy(TrustPolicyError::NoSigstoreTrustRoot)
    ));
}

#[test]
fn sigstore_bundles_are_read_strictly() {
    let mut world = world();
    let (_, manifest) = parts();
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    let cases = [
        (
            edit(&json, |b| entry(b)["surprise"] = json!(1)),
            "unknown field `bundle.verificationMaterial.tlogEntries[0].surprise`",
        ),
        (
            json.replacen(
                "\"mediaType\":",
                "\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"mediaType\":",
                1,
            ),
            "duplicate key \"mediaType\"",
        ),
        (json[..json.len() - 1].to_owned(), "not valid JSON"),
        (
            edit(&json, |b| {
                b["verificationMaterial"]["certificate"]["rawBytes"] = json!(B64.encode(b"junk"));
            }),
            "not DER X.509",
        ),
        (
            edit(&json, |b| {
                let signature = b["messageSignature"].clone();
                b.as_object_mut().unwrap().remove("messageSignature");
                b["dsseEnvelope"] = json!({
                    "payload": "e30=", "payloadType": "application/vnd.in-toto+json",
                    "signatures": [{ "sig": signature["signature"], "keyid": "" }],
                });
            }),
            "a DSSE attestation",
        ),
    ];
    for (bad, expected) in cases {
        let error = refused(&splice(unsigned(), &bad), &trust);
        assert!(
            matches!(&error, VerifyError::Package(PackageError::BundleMalformed { reason, .. }) if reason.contains(expected)),
            "{expected}: {error}"
        );
    }
}

#[test]
fn sigstore_trust_roots_are_read_strictly() {
    let world = world();
    let good = trusted_root(&[&world.fulcio], &[&world.rekor]);
    let cases = [
        ("{", "not valid JSON"),
        (
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"tlogs":[]}"#,
            "duplicate key",
        ),
        (
            r#"{"mediaType":"application/json","tlogs":[],"certificateAuthorities":[]}"#,
            "is not a sigstore trusted root",
        ),
        (
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
            "no certificateAuthorities",
        ),
    ];
    for (bad, expected) in cases {
        let error = SigstoreTrustRoot::from_json(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(&error, TrustPolicyError::InvalidTrustRoot { reason } if reason.contains(expected)),
            "{expected}: {error}"
        );
    }
    let no_logs = edit(&good, |r| r["tlogs"] = json!([]));
    assert!(
        SigstoreTrustRoot::from_json(no_logs.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no tlogs")
    );
    let debug = format!("{:?}", world.root);
    assert_eq!(
        debug,
        "SigstoreTrustRoot(1 CAs, 1 transparency logs, 0 CT logs)"
    );
}

/// A real cosign v3 bundle (from the sigstore-rust test data, Apache-2.0) passes the
/// strict reading, and its Fulcio certificate's identity is read as sigstore reads it.
#[test]
fn sigstore_real_cosign_bundle_is_read() {
    let real = include_str!("../fixtures/sigstore/cosign-v3-blob.sigstore.json");
    let package = splice(unsigned(), real);
    let inspected = palisade::inspect_package(&package).unwrap();
    assert!(
        inspected.info.unreadable_bundles.is_empty(),
        "{:?}",
        inspected.info.unreadable_bundles
    );
    let signer = &inspected.info.identities[0];
    assert_eq!(signer.identity.issuer, "https://github.com/login/oauth");
    assert!(signer.identity.subject.contains('@'), "{}", signer.identity);
    assert_eq!(signer.log_index, Some(738_312_748));
}

/// The config's `source_repository`, `source_ref` and `allow_reusable_workflow`
/// reach the policy: the organisation's own caller of a shared workflow loads, and
/// another organisation's is refused for its claims. Development mode: the test
/// world's trust root has no CT log, which lockdown refuses.
#[tokio::test]
async fn sigstore_config_constrains_the_claims() {
    let mut world = world();
    let dir = std::env::temp_dir().join(format!("palisade-sigstore-claims-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("trusted_root.json"),
        trusted_root(&[&world.fulcio], &[&world.rekor]),
    )
    .unwrap();
    let config = format!(
        "mode = \"development\"\n\
         [trust]\n\
         sigstore_trust_root = \"trusted_root.json\"\n\
         [[trust.identity]]\n\
         issuer = \"{ISSUER}\"\n\
         subject = \"{SHARED}\"\n\
         source_repository = \"https://ci.test/org/*\"\n\
         source_ref = \"refs/tags/*\"\n\
         allow_reusable_workflow = true\n\
         [[plugins]]\n\
         name = \"add-header\"\n\
         package = \"add-header.pkg\"\n\
         [plugins.grants]\n\
         config = {{}}\n\
         [plugins.config]\n\
         name = \"x-tenant\"\n\
         value = \"blue\"\n"
    );
    std::fs::write(dir.join("palisade.toml"), config).unwrap();
    let config_path = dir.join("palisade.toml");
    std::fs::write(
        dir.join("add-header.pkg"),
        signed(&mut world, &calling_shared(OWN_CALLER)),
    )
    .unwrap();
    let config = palisade::OperatorConfig::from_file(&config_path).unwrap();
    host().load_config(&config).await.unwrap();
    std::fs::write(
        dir.join("add-header.pkg"),
        signed(&mut world, &calling_shared(EVIL_CALLER)),
    )
    .unwrap();
    match host().load_config(&config).await {
        Err(palisade::Error::Verify {
            reason:
                VerifyError::Trust(TrustError::InvalidBundle {
                    failure: SigstoreFailure::Claims(reason),
                    ..
                }),
            ..
        }) => assert!(reason.starts_with("the source repository"), "{reason}"),
        Err(other) => panic!("refused by another stage: {other}"),
        Ok(_) => panic!("loaded"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under a config naming a trust root and one identity (no ed25519 key at all), a
/// package signed only by a bundle from that identity loads and runs; one from another
/// identity is refused. Development mode: the test world's trust root has no CT log,
/// which lockdown refuses (`tests/ui/config/lockdown_trust_root_no_ct_logs.toml`).
#[tokio::test]
async fn sigstore_lockdown_config_loads_a_keyless_package() {
    let mut world = world();
    let dir = std::env::temp_dir().join(format!("palisade-sigstore-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("trusted_root.json"),
        trusted_root(&[&world.fulcio], &[&world.rekor]),
    )
    .unwrap();
    let config = format!(
        "mode = \"development\"\n\
         [trust]\n\
         sigstore_trust_root = \"trusted_root.json\"\n\
         [[trust.identity]]\n\
         issuer = \"{ISSUER}\"\n\
         subject = \"https://ci.test/org/repo/.github/workflows/release.yml@refs/tags/*\"\n\
         [[plugins]]\n\
         name = \"add-header\"\n\
         package = \"add-header.pkg\"\n\
         [plugins.grants]\n\
         config = {{}}\n\
         [plugins.config]\n\
         name = \"x-tenant\"\n\
         value = \"blue\"\n"
    );
    std::fs::write(dir.join("palisade.toml"), config).unwrap();
    std::fs::write(
        dir.join("add-header.pkg"),
        signed(&mut world, &Signer::new(ISSUER, SUBJECT)),
    )
    .unwrap();
    let config = palisade::OperatorConfig::from_file(dir.join("palisade.toml")).unwrap();
    let chain = host().load_config(&config).await.unwrap();
    let mut metadata = headers(&[]);
    let verdict = chain
        .on_request(&crate::support::call(), &mut metadata)
        .await;
    assert_eq!(verdict.decision, palisade::Decision::Continue);
    assert_eq!(metadata["x-tenant"], "blue");
    // A bundle by a branch build is not a tag build.
    let branch = "https://ci.test/org/repo/.github/workflows/release.yml@refs/heads/main";
    std::fs::write(
        dir.join("add-header.pkg"),
        signed(&mut world, &Signer::new(ISSUER, branch)),
    )
    .unwrap();
    match host().load_config(&config).await {
        Err(palisade::Error::Verify {
            reason:
                VerifyError::Trust(TrustError::ThresholdNotMet {
                    untrusted_identities,
                    ..
                }),
            ..
        }) => assert_eq!(untrusted_identities, [signer_identity(ISSUER, branch)]),
        Err(other) => panic!("refused by another stage: {other}"),
        Ok(_) => panic!("loaded"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigstore_bundle_without_inclusion_proof_is_refused() {
    let mut world = world();
    let (component, manifest) = parts();
    let json = bundle(
        &world.fulcio,
        &mut world.rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    // Only the signed entry timestamp left: no proof the entry is in the log's tree.
    let promise_only = edit(&json, |b| {
        entry(b).as_object_mut().unwrap().remove("inclusionProof");
    });
    let package =
        package_with_bundle(manifest.as_bytes(), &component, promise_only.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::InclusionProof(_)),
        "{failure}"
    );
    // No log entry at all.
    let unlogged = edit(&json, |b| {
        b["verificationMaterial"]["tlogEntries"] = json!([]);
    });
    let package =
        package_with_bundle(manifest.as_bytes(), &component, unlogged.as_bytes()).unwrap();
    let failure = check_failed(refused(&package, &trust));
    assert!(
        matches!(failure, SigstoreFailure::InclusionProof(_)),
        "{failure}"
    );
}

/// A trust root that lists a CT log makes the SCT mandatory: the minted
/// certificates carry none, so they are refused in that check.
#[test]
fn sigstore_sct_is_required_when_the_root_lists_ct_logs() {
    let mut world = world();
    let package = signed(&mut world, &Signer::new(ISSUER, SUBJECT));
    let ct_log = Rekor::new();
    let with_ct = edit(&trusted_root(&[&world.fulcio], &[&world.rekor]), |root| {
        let ct = edit(&trusted_root(&[&world.fulcio], &[&ct_log]), |_| {});
        let ct: serde_json::Value = serde_json::from_str(&ct).unwrap();
        root["ctlogs"] = json!([ct["tlogs"][0]]);
    });
    let root = SigstoreTrustRoot::from_json(with_ct.as_bytes()).unwrap();
    assert!(root.checks_sct());
    let trust = TrustPolicy::new()
        .sigstore_trust_root(root)
        .trust_identity(identity(ISSUER, SUBJECT));
    let failure = check_failed(refused(&package, &trust));
    assert!(matches!(failure, SigstoreFailure::Sct(_)), "{failure}");
}

#[test]
fn sigstore_certificate_identity_is_read_strictly() {
    let mut world = world();
    let trust = trusting(&world, [identity(ISSUER, SUBJECT)]);
    for (form, expected) in [
        (IssuerExtension::Disagreeing, "issuer extensions disagree"),
        (IssuerExtension::None, "no OIDC issuer"),
    ] {
        let mut signer = Signer::new(ISSUER, SUBJECT);
        signer.issuer_extension = form;
        let (_, manifest) = parts();
        let json = bundle(
            &world.fulcio,
            &mut world.rekor,
            &signer,
            manifest.as_bytes(),
        );
        let error = refused(&splice(unsigned(), &json), &trust);
        assert!(
            matches!(&error, VerifyError::Package(PackageError::BundleMalformed { reason, .. }) if reason.contains(expected)),
            "{form:?}: {error}"
        );
        // `add_bundle` refuses it up front as well.
        assert!(matches!(
            add_bundle(&unsigned(), json.as_bytes()),
            Err(VerifyError::Package(PackageError::BundleMalformed { .. }))
        ));
    }
}
