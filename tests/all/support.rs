//! Shared set-up: one host for the whole binary (each host reserves address space
//! for its instance pool), with test keys in its key ring.

use std::sync::{Arc, OnceLock};

use http::HeaderMap;
use palisade::{CallInfo, Decision, Host, HostConfig, KeyRing, Plugin};

/// The HMAC secret behind key `hmac-auth`.
pub(crate) const HMAC_SECRET: &[u8] = b"test-secret-never-seen-by-plugins";

pub(crate) fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("palisade=warn")
            .with_test_writer()
            .try_init();
        let mut keys = KeyRing::new();
        keys.add_hmac_key("hmac-auth", HMAC_SECRET).unwrap();
        keys.add_hmac_key("any", b"another secret").unwrap();
        Host::with_keys(HostConfig::default(), keys).unwrap()
    })
}

pub(crate) fn call() -> Arc<CallInfo> {
    Arc::new(CallInfo::server("orders.v1.Orders", "Create"))
}

pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.insert(*k, v.parse().unwrap());
    }
    map
}

/// Runs `on-request` and expects `Continue`, returning the metadata.
pub(crate) async fn expect_continue(plugin: &Plugin, mut metadata: HeaderMap) -> HeaderMap {
    let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
    assert_eq!(decision, Decision::Continue);
    metadata
}

/// The bytes of a built component, for tests that corrupt them.
#[expect(
    clippy::disallowed_methods,
    reason = "tests read fixture files to corrupt them"
)]
pub(crate) fn component_bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
