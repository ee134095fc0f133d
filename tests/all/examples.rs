//! The example plugins as the build signs them (with a development key), and the
//! issue's "done when": under a lockdown config only signed example plugins load.

use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use palisade::LoadConfig;
use palisade::TrustError;
use palisade::{
    CallInfo, Chain, ConfigError, Decision, Error, KeyKind, OperatorConfig, PublicKey, TrustPolicy,
    VerifyError, add_signature, inspect_package, verify_package,
};
use palisade_tests::guests;
use sha2::Sha256;

use crate::support::{HMAC_SECRET, component_bytes, host};
use crate::verify::{hex, key};

/// The development key the build signed the examples with, as its `.pub` file says.
fn dev_key() -> (PublicKey, String) {
    let text = String::from_utf8(component_bytes(guests::DEV_KEY_PUB)).unwrap();
    let (key, kind) = PublicKey::parse_text(&text).unwrap();
    assert_eq!(kind, KeyKind::Development, "{text}");
    let line = text
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .to_owned();
    (key, line)
}

/// `(directory name, package path)` of every example.
fn examples() -> [(&'static str, &'static str); 4] {
    [
        ("hmac-auth", guests::HMAC_AUTH_PKG),
        ("rbac", guests::RBAC_PKG),
        ("rate-limit", guests::RATE_LIMIT_PKG),
        ("add-header", guests::ADD_HEADER_PKG),
    ]
}

#[test]
fn every_example_is_signed_by_the_development_key() {
    assert_eq!(guests::PACKAGES.len(), examples().len());
    let (dev, _) = dev_key();
    let trust = TrustPolicy::new().trust_development(dev.clone());
    for (name, path) in examples() {
        let bytes = component_bytes(path);
        let info =
            verify_package(&bytes, Some(name), &trust).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(info.name, name);
        assert_eq!(info.signers, vec![dev.key_id()]);
        assert!(trust.is_development(&info.signers[0]));
        // The component inside is the one the build compiled.
        let component = guests::ALL
            .iter()
            .find(|p| p.ends_with(&format!("/{}.wasm", name.replace('-', "_"))))
            .unwrap();
        assert_eq!(
            inspect_package(&bytes).unwrap().component,
            component_bytes(component)
        );
    }
}

/// The demo's chain as an operator config: `keys` trusted, each plugin's `package`.
fn chain_config(mode: &str, keys: &str, packages: &[(&str, &Path)]) -> String {
    let package = |name: &str| {
        packages
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.display().to_string())
            .unwrap()
    };
    format!(
        r#"mode = "{mode}"
audit_log = "audit.jsonl"
[trust]
keys = [{keys}]

[[plugins]]
name = "hmac-auth"
package = "{}"
[plugins.grants]
config = {{}}
clock = {{}}
kv = {{ quota_bytes = 16384 }}
crypto = {{ keys = {{ "hmac-auth" = "verify" }} }}

[[plugins]]
name = "rbac"
package = "{}"
[plugins.grants]
config = {{}}
log = {{}}
[plugins.config]
rules = "allow spiffe://demo/frontend orders.v1.Orders/Get*"

[[plugins]]
name = "rate-limit"
package = "{}"
[plugins.grants]
kv = {{ quota_bytes = 16384 }}
clock = {{}}
config = {{}}
[plugins.config]
capacity = "100"
refill_per_sec = "1"

[[plugins]]
name = "add-header"
package = "{}"
[plugins.grants]
config = {{}}
[plugins.config]
name = "x-checked-by"
value = "palisade"
"#,
        package("hmac-auth"),
        package("rbac"),
        package("rate-limit"),
        package("add-header"),
    )
}

/// A call from the frontend, signed as `hmac-auth` expects.
async fn frontend_call(chain: &Chain, method: &str) -> (Decision, http::HeaderMap) {
    let call = Arc::new(
        CallInfo::server("orders.v1.Orders", method).with_peer_identity("spiffe://demo/frontend"),
    );
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let nonce = crate::plugins::fresh_nonce();
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET).unwrap();
    mac.update(format!("{}/{}\n{timestamp}\n{nonce}", call.service, call.method).as_bytes());
    let mut metadata = http::HeaderMap::new();
    metadata.insert("x-timestamp", timestamp.parse().unwrap());
    metadata.insert("x-nonce", nonce.parse().unwrap());
    metadata.insert(
        "x-signature",
        hex(&mac.finalize().into_bytes()).parse().unwrap(),
    );
    let verdict = chain.on_request(&call, &mut metadata).await;
    (verdict.decision, metadata)
}

fn example_paths() -> Vec<(&'static str, &'static Path)> {
    examples()
        .into_iter()
        .map(|(name, path)| (name, Path::new(path)))
        .collect()
}

#[tokio::test]
async fn development_mode_loads_the_dev_signed_examples() {
    let (dev, dev_line) = dev_key();
    let dir = palisade_tests::temp_dir("examples", "development");
    let text = chain_config("development", &format!("{dev_line:?}"), &example_paths());
    let config = OperatorConfig::from_str(&text, &dir).unwrap();
    assert!(config.trust.is_development(&dev.key_id()));
    let chain = host().load_config(&config).await.unwrap();
    let (decision, metadata) = frontend_call(&chain, "GetOrder").await;
    assert_eq!(decision, Decision::Continue);
    assert_eq!(metadata["x-checked-by"], "palisade");
    // Each verification names the development key as such.
    let audit =
        String::from_utf8(component_bytes(dir.join("audit.jsonl").to_str().unwrap())).unwrap();
    let verified: Vec<serde_json::Value> = audit
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] == "verified")
        .collect();
    assert_eq!(verified.len(), 4, "{audit}");
    for event in verified {
        let id = dev.key_id().to_string();
        assert_eq!(event["signers"], serde_json::json!([id]));
        assert_eq!(event["development_signers"], serde_json::json!([id]));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lockdown_refuses_to_trust_the_development_key() {
    let (dev, dev_line) = dev_key();
    let text = chain_config("lockdown", &format!("{dev_line:?}"), &example_paths());
    let err = OperatorConfig::from_str(&text, ".").unwrap_err();
    let ConfigError::Lockdown { setting, reason } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        setting,
        &format!("trust.keys[0] (development key {})", dev.key_id())
    );
    assert!(reason.contains("development key"), "{reason}");
    assert!(err.is_lockdown_refusal());
}

#[tokio::test]
async fn lockdown_trusting_a_release_key_loads_only_the_examples_it_signed() {
    // The release step: a release key (here test key 7) co-signs what the build made.
    let release = key(7);
    let dir = palisade_tests::temp_dir("examples", "release");
    let mut signed = Vec::new();
    for (name, path) in examples() {
        let countersigned = add_signature(&component_bytes(path), &release).unwrap();
        let out = dir.join(format!("{name}.pkg"));
        std::fs::write(&out, countersigned).unwrap();
        signed.push((name, out));
    }
    let signed_refs: Vec<(&str, &Path)> = signed.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let release_key = format!("\"{}\"", hex(&release.public_key().to_bytes()));

    // Every example, countersigned: the chain loads and serves a call.
    let text = chain_config("lockdown", &release_key, &signed_refs);
    let config = OperatorConfig::from_str(&text, &dir).unwrap();
    let chain = host().load_config(&config).await.unwrap();
    let (decision, metadata) = frontend_call(&chain, "GetOrder").await;
    assert_eq!(decision, Decision::Continue);
    assert_eq!(metadata["x-checked-by"], "palisade");
    let (decision, _) = frontend_call(&chain, "DeleteOrder").await;
    assert!(matches!(decision, Decision::Reject { .. }), "{decision:?}");

    // rbac as the build signed it, with the development key only: its signature is
    // by a key lockdown does not trust.
    let mut dev_only = signed_refs.clone();
    dev_only[1] = ("rbac", Path::new(guests::RBAC_PKG));
    let config =
        OperatorConfig::from_str(&chain_config("lockdown", &release_key, &dev_only), &dir).unwrap();
    let err = host().load_config(&config).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Verify { plugin, reason: VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, untrusted: 1, .. }) }
                if plugin == "rbac"
        ),
        "{err}"
    );

    // rbac as a bare component: lockdown refuses the config before anything loads.
    let text = chain_config("lockdown", &release_key, &signed_refs).replace(
        &format!("package = \"{}\"", signed[1].1.display()),
        &format!("component = \"{}\"", guests::RBAC),
    );
    let err = OperatorConfig::from_str(&text, &dir).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Lockdown { setting, .. } if setting == "plugins.rbac.component"),
        "{err}"
    );

    // rbac tampered after signing: refused by its own signature.
    let mut tampered = component_bytes(signed[1].1.to_str().unwrap());
    let at = tampered.len() / 2;
    tampered[at] ^= 0x20;
    std::fs::write(&signed[1].1, tampered).unwrap();
    let err = host()
        .load_config(&config_for(&release_key, &signed_refs, &dir))
        .await;
    assert!(
        matches!(
            &err,
            Err(Error::Verify { plugin, reason: VerifyError::Trust(TrustError::ComponentDigestMismatch { .. }) }) if plugin == "rbac"
        ),
        "{:?}",
        err.map(|_| ())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn config_for(keys: &str, packages: &[(&str, &Path)], dir: &Path) -> OperatorConfig {
    OperatorConfig::from_str(&chain_config("lockdown", keys, packages), dir).unwrap()
}
