//! The package parser under arbitrary bytes: the envelope and the manifest
//! (`inspect_package`, which checks no signature, so the manifest parser sees every
//! mutation), then the whole verification (`verify_package`) against a fixed trust
//! policy. None of it may panic, whatever the input.
//!
//! The seed corpus (`scripts/fuzz.sh` makes it) holds real example packages signed
//! with test key 1, which this policy trusts, so mutations of them reach every step
//! of verification.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use palisade_package::verify::{SigningKey, TrustPolicy, inspect_package, verify_package};

/// Test key 1 (secret `[1; 32]`, as in the integration tests) and key 2, with a
/// per-plugin threshold, a minimum version and a pin, so that every rule is consulted.
static TRUST: LazyLock<TrustPolicy> = LazyLock::new(|| {
    let key = |n: u8| SigningKey::from_bytes(&[n; 32]).public_key();
    TrustPolicy::new()
        .trust(key(1))
        .trust(key(2))
        .plugin_threshold("rate-limit", 2)
        .min_version("rbac", "0.1.0")
        .map(|trust| trust.pin_sha256("hmac-auth", [0; 32]))
        // A policy that cannot be built must stop the run, not fuzz against an empty
        // policy that trusts nothing (every input would then stop at the first check).
        .expect("the fuzz target's trust policy")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(package) = inspect_package(data) {
        // What inspect read must be what verify reads.
        if let Ok(verified) = verify_package(data, None, &TRUST) {
            assert_eq!(verified.name, package.info.name);
            assert_eq!(verified.component_sha256, package.info.component_sha256);
        }
    }
    let _ = verify_package(data, Some("add-header"), &TRUST);
});
