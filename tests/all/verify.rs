//! Signed packages: the verify stage between load and policy, on the real
//! `add-header` component. Every refusal asserts its specific error variant.

use palisade::load::MAX_COMPONENT_BYTES;
use palisade::verify::MAX_PACKAGE_BYTES;
use palisade::{
    Capability, Error, Grants, LoadError, PluginSource, PluginSpec, PolicyError, SigningKey,
    TrustPolicy, VerifyError, add_signature, sign_package,
};
use palisade::{PackageError, TrustError, TrustPolicyError};
use palisade_tests::guests::ADD_HEADER;
use sha2::{Digest, Sha256};

use crate::support::{component_bytes, expect_continue, headers, host};

pub(crate) fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn component() -> Vec<u8> {
    component_bytes(ADD_HEADER)
}

fn manifest(component: &[u8], version: &str, capabilities: &str) -> String {
    format!(
        "format = 1\n\
         name = \"add-header\"\n\
         version = \"{version}\"\n\
         description = \"adds a configured header\"\n\
         component_sha256 = \"{}\"\n\
         hooks = [\"request\", \"response\"]\n\
         \n\
         [capabilities]\n\
         {capabilities}",
        hex(&Sha256::digest(component))
    )
}

/// `add-header` 1.0.0, asking for `config`, signed by key 1.
pub(crate) fn package() -> Vec<u8> {
    let component = component();
    sign_package(
        &manifest(&component, "1.0.0", "config = {}\n"),
        &component,
        &key(1),
    )
    .unwrap()
}

fn trusting(keys: &[u8]) -> TrustPolicy {
    keys.iter()
        .fold(TrustPolicy::new(), |t, n| t.trust(key(*n).public_key()))
}

fn spec(source: PluginSource, trust: TrustPolicy) -> PluginSpec {
    PluginSpec::new("add-header", source)
        .grants(Grants::none().config())
        .config([("name", "x-tenant"), ("value", "blue")])
        .trust(trust)
}

async fn load(bytes: Vec<u8>, trust: TrustPolicy) -> palisade::Result<palisade::Plugin> {
    host()
        .load(spec(PluginSource::PackageBytes(bytes), trust))
        .await
}

async fn refused(bytes: Vec<u8>, trust: TrustPolicy) -> VerifyError {
    match load(bytes, trust).await {
        Err(Error::Verify { plugin, reason }) => {
            assert_eq!(plugin, "add-header");
            reason
        }
        Err(other) => panic!("refused by another stage: {other}"),
        Ok(_) => panic!("loaded"),
    }
}

/// The package's sections as (tag, body), after the 10-byte header.
pub(crate) fn sections(package: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 10;
    while at < package.len() {
        let len = u32::from_le_bytes(package[at + 1..at + 5].try_into().unwrap()) as usize;
        out.push((package[at], package[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    out
}

pub(crate) fn pack(sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"PALISADE\x01\x00".to_vec();
    for (tag, body) in sections {
        out.push(*tag);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}

#[tokio::test]
async fn signed_package_round_trip_loads_and_runs() {
    let plugin = load(package(), trusting(&[1])).await.unwrap();
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-tenant"], "blue");
}

#[tokio::test]
async fn signed_package_file_loads() {
    let path = std::env::temp_dir().join(format!("palisade-verify-{}.pkg", std::process::id()));
    std::fs::write(&path, package()).unwrap();
    let result = host()
        .load(spec(PluginSource::Package(path.clone()), trusting(&[1])))
        .await;
    let _ = std::fs::remove_file(&path);
    result.unwrap();
}

#[tokio::test]
async fn package_without_a_trust_policy_is_refused() {
    let err = refused(package(), TrustPolicy::new()).await;
    assert!(
        matches!(
            err,
            VerifyError::TrustPolicy(TrustPolicyError::NoTrustedKeys)
        ),
        "{err}"
    );
}

#[tokio::test]
async fn capability_escalation_by_editing_the_manifest_is_refused() {
    let package = package();
    let mut s = sections(&package);
    let text = String::from_utf8(s[0].1.clone()).unwrap() + "kv = { quota_bytes = 1024 }\n";
    s[0].1 = text.into_bytes();
    let err = refused(pack(&s), trusting(&[1])).await;
    assert!(
        matches!(err, VerifyError::Trust(TrustError::InvalidSignature { key_id, .. }) if key_id == key(1).key_id()),
        "{err}"
    );
}

#[tokio::test]
async fn signed_manifest_asking_beyond_the_grants_is_refused() {
    let component = component();
    let package = sign_package(
        &manifest(
            &component,
            "1.0.0",
            "config = {}\nkv = { quota_bytes = 1024 }\n",
        ),
        &component,
        &key(1),
    )
    .unwrap();
    let err = load(package, trusting(&[1])).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Policy(PolicyError::ExceedsGrants { plugin, capability: Capability::Kv, .. })
                if plugin == "add-header"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn manifest_without_config_leaves_the_component_unauthorized() {
    // The operator grants `config`, the manifest does not ask for it: the effective
    // grants are the intersection, and the component's import is then refused.
    let component = component();
    let package = sign_package(&manifest(&component, "1.0.0", ""), &component, &key(1)).unwrap();
    let err = load(package, trusting(&[1])).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Policy(PolicyError::NotGranted {
                capability: Capability::Config,
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn signature_moved_from_another_package_is_refused() {
    let component = component();
    let other = sign_package(
        &manifest(&component, "1.0.1", "config = {}\n"),
        &component,
        &key(1),
    )
    .unwrap();
    let mut s = sections(&package());
    s[2] = sections(&other)[2].clone();
    let err = refused(pack(&s), trusting(&[1])).await;
    assert!(
        matches!(err, VerifyError::Trust(TrustError::InvalidSignature { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_key_is_refused() {
    let err = refused(package(), trusting(&[2])).await;
    assert!(
        matches!(
            err,
            VerifyError::Trust(TrustError::ThresholdNotMet {
                required: 1,
                valid: 0,
                untrusted: 1,
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn revoked_key_never_counts_and_is_reported() {
    let trust = trusting(&[1]).revoke(key(1).key_id());
    let err = refused(package(), trust).await;
    assert!(
        matches!(
            &err,
            VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, revoked, .. }) if revoked == &[key(1).key_id()]
        ),
        "{err}"
    );
    assert!(err.to_string().contains("1 by revoked keys"), "{err}");
}

#[tokio::test]
async fn threshold_counts_distinct_keys() {
    let twice = add_signature(&package(), &key(1)).unwrap();
    let trust = || trusting(&[1, 2]).plugin_threshold("add-header", 2);
    let err = refused(twice, trust()).await;
    assert!(
        matches!(
            err,
            VerifyError::Trust(TrustError::ThresholdNotMet {
                required: 2,
                valid: 1,
                ..
            })
        ),
        "{err}"
    );
    let two_keys = add_signature(&package(), &key(2)).unwrap();
    let plugin = load(two_keys, trust()).await.unwrap();
    expect_continue(&plugin, headers(&[])).await;
}

#[tokio::test]
async fn global_threshold_applies() {
    let err = refused(package(), trusting(&[1, 2]).threshold(2)).await;
    assert!(
        matches!(
            err,
            VerifyError::Trust(TrustError::ThresholdNotMet {
                required: 2,
                valid: 1,
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn rollback_below_the_minimum_version_is_refused() {
    let trust = trusting(&[1]).min_version("add-header", "1.0.1").unwrap();
    let err = refused(package(), trust).await;
    assert!(
        matches!(&err, VerifyError::Trust(TrustError::RolledBack { version, minimum }) if version == "1.0.0" && minimum == "1.0.1"),
        "{err}"
    );
}

#[tokio::test]
async fn digest_pin_mismatch_is_refused() {
    let trust = trusting(&[1]).pin_sha256("add-header", [0; 32]);
    let err = refused(package(), trust).await;
    assert!(
        matches!(
            err,
            VerifyError::Trust(TrustError::DigestPinMismatch { .. })
        ),
        "{err}"
    );
    let pin = Sha256::digest(component()).into();
    load(package(), trusting(&[1]).pin_sha256("add-header", pin))
        .await
        .unwrap();
}

#[tokio::test]
async fn plugin_name_must_match_the_manifest() {
    let err = host()
        .load(
            PluginSpec::new("other", PluginSource::PackageBytes(package()))
                .grants(Grants::none().config())
                .trust(trusting(&[1])),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Verify { reason: VerifyError::Trust(TrustError::NameMismatch { expected, found }), .. }
                if expected == "other" && found == "add-header"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn empty_and_truncated_packages_are_refused() {
    let err = refused(Vec::new(), trusting(&[1])).await;
    assert!(
        matches!(
            err,
            VerifyError::Package(PackageError::TooShort { size: 0, .. })
        ),
        "{err}"
    );
    let package = package();
    let err = refused(package[..package.len() / 2].to_vec(), trusting(&[1])).await;
    assert!(
        matches!(
            err,
            VerifyError::Package(PackageError::SectionPastEnd {
                section: "component",
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn huge_inputs_are_refused_by_size() {
    // 100 MiB in memory: refused by the load stage's bound on packages.
    let err = load(vec![0; 100 << 20], trusting(&[1])).await.unwrap_err();
    assert!(
        matches!(err, Error::Load(LoadError::TooLarge { limit, .. }) if limit == MAX_PACKAGE_BYTES),
        "{err}"
    );
    // A small package declaring a 100 MiB component: refused by the declared length,
    // before anything is sliced or allocated.
    let mut bytes = pack(&sections(&package())[..1]);
    bytes.push(2);
    bytes.extend_from_slice(&(100u32 << 20).to_le_bytes());
    let err = refused(bytes, trusting(&[1])).await;
    assert!(
        matches!(err, VerifyError::Package(PackageError::SectionTooLarge { section: "component", declared, limit, .. })
            if declared == 100 << 20 && limit == MAX_COMPONENT_BYTES),
        "{err}"
    );
}

/// A package whose manifest is `manifest` exactly, validly signed by key 1: the
/// signature is made here, so that `sign_package`'s own manifest check is bypassed.
fn signed_raw(manifest: &str) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let mut message = palisade::verify::SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(&Sha256::digest(manifest.as_bytes()));
    let mut signature = vec![palisade::verify::ALGORITHM_ED25519];
    signature.extend_from_slice(&key(1).key_id().to_bytes());
    signature.extend_from_slice(&signer.sign(&message).to_bytes());
    pack(&[
        (1, manifest.as_bytes().to_vec()),
        (2, component()),
        (3, signature),
    ])
}

#[tokio::test]
async fn signed_manifest_with_an_unknown_field_is_refused() {
    let component = component();
    let base = manifest(&component, "1.0.0", "config = {}\n");
    // The control: the same construction with a valid manifest loads.
    load(signed_raw(&base), trusting(&[1])).await.unwrap();
    let text = base.replace("format = 1\n", "format = 1\nhomepage = \"https://x\"\n");
    let err = refused(signed_raw(&text), trusting(&[1])).await;
    assert!(
        matches!(&err, VerifyError::Package(PackageError::ManifestSyntax { message }) if message.contains("homepage") && message.contains("line 2")),
        "{err}"
    );
    // Unknown capability: a signed request for something the host does not have.
    let text = format!("{base}files = {{}}\n");
    let err = refused(signed_raw(&text), trusting(&[1])).await;
    assert!(
        matches!(&err, VerifyError::Package(PackageError::ManifestSyntax { message }) if message.contains("files")),
        "{err}"
    );
}

#[tokio::test]
async fn signed_manifest_with_a_duplicated_field_is_refused() {
    let component = component();
    let base = manifest(&component, "1.0.0", "config = {}\n");
    // A second `version` could make two readers of one manifest disagree.
    let text = base.replace("format = 1\n", "format = 1\nversion = \"9.9.9\"\n");
    let err = refused(signed_raw(&text), trusting(&[1])).await;
    assert!(
        matches!(&err, VerifyError::Package(PackageError::ManifestSyntax { message }) if message.contains("duplicate") && message.contains("version")),
        "{err}"
    );
    let text = format!("{base}config = {{}}\n");
    let err = refused(signed_raw(&text), trusting(&[1])).await;
    assert!(
        matches!(&err, VerifyError::Package(PackageError::ManifestSyntax { message }) if message.contains("duplicate")),
        "{err}"
    );
}

#[tokio::test]
async fn huge_package_file_is_refused_before_it_is_read() {
    // A sparse 100 MiB file: refused from its size, not by reading 32 MiB of it.
    let path = std::env::temp_dir().join(format!("palisade-huge-{}.pkg", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(100 << 20).unwrap();
    drop(file);
    let result = host()
        .load(spec(PluginSource::Package(path.clone()), trusting(&[1])))
        .await;
    let _ = std::fs::remove_file(&path);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Load(LoadError::TooLarge { size, limit, .. }) if size == 100 << 20 && limit == MAX_PACKAGE_BYTES),
        "{err}"
    );
}
