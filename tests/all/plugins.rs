//! The example plugins, loaded as built, with exactly the capabilities their READMEs
//! name: each works, and each is refused with one capability fewer.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use palisade::{
    Capability, Code, CryptoGrant, Decision, Error, Grants, KeyUse, Limits, Plugin, PolicyError,
};
use palisade_tests::guests::*;
use palisade_tests::spec;
use sha2::Sha256;
use std::sync::Arc;

use crate::support::{HMAC_SECRET, call, expect_continue, headers, host};

fn reject(code: Code, message: &str) -> Decision {
    Decision::Reject {
        code,
        message: message.to_owned(),
    }
}

async fn refused_without(path: &str, grants: Grants, missing: Capability) {
    let err = host()
        .load(spec("p", path).grants(grants))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Policy(PolicyError::NotGranted { capability, .. }) if *capability == missing),
        "{err}"
    );
}

#[tokio::test]
async fn add_header_sets_the_configured_header() {
    let plugin = host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .config([("name", "x-tenant"), ("value", "blue")]),
        )
        .await
        .unwrap();
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-tenant"], "blue");
    let mut response = headers(&[]);
    let decision = plugin
        .on_response(&call(), Code::Ok, &mut response)
        .await
        .unwrap();
    assert_eq!(decision, Decision::Continue);
    assert_eq!(response["x-added-by"], "add-header");
    refused_without(ADD_HEADER, Grants::none(), Capability::Config).await;
}

/// The rbac example in each language: the same cases run against both.
#[derive(Clone, Copy)]
enum Rbac {
    /// `plugins/rbac`.
    Rust,
    /// `plugins/rbac-py`, built with componentize-py.
    Python,
}

impl Rbac {
    fn path(self) -> &'static str {
        match self {
            Self::Rust => RBAC,
            Self::Python => python::built(python::RBAC_PY),
        }
    }

    fn limits(self) -> Limits {
        match self {
            Self::Rust => Limits::default(),
            Self::Python => crate::python::limits(),
        }
    }

    async fn load(self, rules: &str) -> Plugin {
        host()
            .load(
                spec("rbac", self.path())
                    .grants(Grants::none().config().log())
                    .limits(self.limits())
                    .config([("rules", rules)]),
            )
            .await
            .unwrap()
    }
}

/// Each test in `$tests` (an `async fn(Rbac)`), once per language.
macro_rules! rbac_cases {
    ($($test:ident),* $(,)?) => {
        mod rbac_rust {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Rbac::Rust).await;
            })*
        }
        mod rbac_python {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Rbac::Python).await;
            })*
        }
    };
}

rbac_cases!(
    rbac_allows_only_what_its_rules_say,
    rbac_denies_everything_without_rules_and_fails_closed_on_bad_rules,
);

async fn rbac_decides(plugin: &Plugin, identity: Option<&str>, method: &str) -> Decision {
    let mut info = palisade::CallInfo::server("orders.v1.Orders", method);
    info.peer_identity = identity.map(palisade::Name::from);
    let mut metadata = headers(&[]);
    plugin
        .on_request(&Arc::new(info), &mut metadata)
        .await
        .unwrap()
}

async fn rbac_allows_only_what_its_rules_say(rbac: Rbac) {
    let plugin = rbac
        .load(
            "allow spiffe://prod/frontend orders.v1.Orders/Get*\nallow * grpc.health.v1.Health/Check",
        )
        .await;
    assert_eq!(
        rbac_decides(&plugin, Some("spiffe://prod/frontend"), "GetOrder").await,
        Decision::Continue
    );
    assert_eq!(
        rbac_decides(&plugin, Some("spiffe://prod/frontend"), "DeleteOrder").await,
        reject(
            Code::PermissionDenied,
            "rbac: spiffe://prod/frontend may not call orders.v1.Orders/DeleteOrder"
        )
    );
    assert_eq!(
        rbac_decides(&plugin, None, "GetOrder").await,
        reject(
            Code::PermissionDenied,
            "rbac: anonymous may not call orders.v1.Orders/GetOrder"
        )
    );
}

async fn rbac_denies_everything_without_rules_and_fails_closed_on_bad_rules(rbac: Rbac) {
    let plugin = rbac.load("").await;
    assert!(matches!(
        rbac_decides(&plugin, Some("spiffe://prod/frontend"), "GetOrder").await,
        Decision::Reject {
            code: Code::PermissionDenied,
            ..
        }
    ));
    let plugin = rbac.load("permit everyone everything").await;
    let decision = rbac_decides(&plugin, Some("spiffe://prod/frontend"), "GetOrder").await;
    assert!(
        matches!(&decision, Decision::Reject { code: Code::FailedPrecondition, message } if message.contains("bad rule 1")),
        "{decision:?}"
    );
    refused_without(rbac.path(), Grants::none().config(), Capability::Log).await;
}

#[tokio::test]
async fn rate_limit_refuses_past_the_burst_per_identity() {
    let plugin = host()
        .load(
            spec("rate-limit", RATE_LIMIT)
                .grants(Grants::none().kv(4096).clock().config())
                .config([("capacity", "3"), ("refill_per_sec", "0.01")]),
        )
        .await
        .unwrap();
    let as_identity =
        |id: &str| Arc::new(palisade::CallInfo::server("s", "m").with_peer_identity(id));
    let alice = as_identity("alice");
    for _ in 0..3 {
        let mut metadata = headers(&[]);
        assert_eq!(
            plugin.on_request(&alice, &mut metadata).await.unwrap(),
            Decision::Continue
        );
    }
    let mut metadata = headers(&[]);
    let decision = plugin.on_request(&alice, &mut metadata).await.unwrap();
    assert!(
        matches!(&decision, Decision::Reject { code: Code::ResourceExhausted, message } if message.starts_with("rate-limit: alice")),
        "{decision:?}"
    );
    // Another caller has its own bucket.
    let mut metadata = headers(&[]);
    assert_eq!(
        plugin
            .on_request(&as_identity("bob"), &mut metadata)
            .await
            .unwrap(),
        Decision::Continue
    );
    refused_without(
        RATE_LIMIT,
        Grants::none().kv(4096).config(),
        Capability::Clock,
    )
    .await;
}

/// A nonce no other call in this test binary sends: 32 hex digits of the time and
/// a counter.
pub(crate) fn fresh_nonce() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!("{nanos:016x}{n:016x}")
}

fn sign(service_method: &str, timestamp: &str, nonce: &str, secret: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{service_method}\n{timestamp}\n{nonce}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

async fn hmac_auth() -> Plugin {
    host()
        .load(
            spec("hmac-auth", HMAC_AUTH).grants(
                Grants::none()
                    .config()
                    .clock()
                    .kv(16 * 1024)
                    .crypto(CryptoGrant::default().key("hmac-auth", KeyUse::Verify)),
            ),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn hmac_auth_accepts_a_good_signature_and_strips_it() {
    let plugin = hmac_auth().await;
    let ts = now_ms();
    let nonce = fresh_nonce();
    let signature = sign("orders.v1.Orders/Create", &ts, &nonce, HMAC_SECRET);
    let metadata = expect_continue(
        &plugin,
        headers(&[
            ("x-timestamp", &ts),
            ("x-nonce", &nonce),
            ("x-signature", &signature),
        ]),
    )
    .await;
    assert!(metadata.get("x-signature").is_none());
}

/// Item 20 of issue 10: a captured signed request could be sent again for the whole
/// validity window. The exact same request twice: the first passes, the second is
/// refused, also from another instance (the nonce is in the plugin's `kv`).
#[tokio::test]
async fn hmac_auth_refuses_a_replayed_request() {
    let plugin = hmac_auth().await;
    let ts = now_ms();
    let nonce = fresh_nonce();
    let signature = sign("orders.v1.Orders/Create", &ts, &nonce, HMAC_SECRET);
    let request = || {
        headers(&[
            ("x-timestamp", &ts),
            ("x-nonce", &nonce),
            ("x-signature", &signature),
        ])
    };
    expect_continue(&plugin, request()).await;
    let decision = plugin.on_request(&call(), &mut request()).await.unwrap();
    assert_eq!(
        decision,
        reject(
            Code::Unauthenticated,
            "hmac-auth: replayed request (nonce already used)"
        )
    );
    // Replays in parallel: none gets through, and the plugin keeps serving.
    let mut replays = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let plugin = plugin.clone();
        let mut metadata = request();
        replays.spawn(async move { plugin.on_request(&call(), &mut metadata).await.unwrap() });
    }
    while let Some(decision) = replays.join_next().await {
        let decision = decision.unwrap();
        assert!(
            matches!(
                decision,
                Decision::Reject {
                    code: Code::Unauthenticated,
                    ..
                }
            ),
            "{decision:?}"
        );
    }
    // A fresh nonce with the same timestamp is a new request.
    let other = fresh_nonce();
    let signature = sign("orders.v1.Orders/Create", &ts, &other, HMAC_SECRET);
    expect_continue(
        &plugin,
        headers(&[
            ("x-timestamp", &ts),
            ("x-nonce", &other),
            ("x-signature", &signature),
        ]),
    )
    .await;
}

#[tokio::test]
async fn hmac_auth_refuses_bad_missing_and_stale_signatures() {
    let plugin = hmac_auth().await;
    let ts = now_ms();
    let nonce = fresh_nonce();
    let cases = [
        (
            headers(&[
                ("x-timestamp", &ts),
                ("x-nonce", &nonce),
                (
                    "x-signature",
                    &sign("orders.v1.Orders/Create", &ts, &nonce, b"wrong key"),
                ),
            ]),
            "hmac-auth: bad signature",
        ),
        (
            headers(&[
                ("x-timestamp", &ts),
                ("x-nonce", &nonce),
                (
                    "x-signature",
                    &sign("orders.v1.Orders/Delete", &ts, &nonce, HMAC_SECRET),
                ),
            ]),
            "hmac-auth: bad signature",
        ),
        (
            // The nonce is signed: another one does not verify.
            headers(&[
                ("x-timestamp", &ts),
                ("x-nonce", "ffffffffffffffffffffffffffffffff"),
                (
                    "x-signature",
                    &sign("orders.v1.Orders/Create", &ts, &nonce, HMAC_SECRET),
                ),
            ]),
            "hmac-auth: bad signature",
        ),
        (
            headers(&[("x-timestamp", &ts), ("x-nonce", &nonce)]),
            "hmac-auth: missing x-signature",
        ),
        (
            headers(&[
                ("x-timestamp", &ts),
                (
                    "x-signature",
                    &sign("orders.v1.Orders/Create", &ts, "", HMAC_SECRET),
                ),
            ]),
            "hmac-auth: missing x-nonce",
        ),
        (
            headers(&[
                ("x-timestamp", &ts),
                ("x-nonce", "short"),
                (
                    "x-signature",
                    &sign("orders.v1.Orders/Create", &ts, "short", HMAC_SECRET),
                ),
            ]),
            "hmac-auth: bad nonce",
        ),
        (
            headers(&[
                ("x-timestamp", "1000"),
                ("x-nonce", &nonce),
                (
                    "x-signature",
                    &sign("orders.v1.Orders/Create", "1000", &nonce, HMAC_SECRET),
                ),
            ]),
            "hmac-auth: stale timestamp",
        ),
    ];
    for (mut metadata, message) in cases {
        let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
        assert_eq!(decision, reject(Code::Unauthenticated, message));
    }
}

#[tokio::test]
async fn hmac_auth_cannot_use_a_key_it_was_not_granted() {
    // Granted a different key than its config names: the host answers unknown-key.
    let plugin = host()
        .load(
            spec("hmac-auth", HMAC_AUTH).grants(
                Grants::none()
                    .config()
                    .clock()
                    .kv(16 * 1024)
                    .crypto(CryptoGrant::default().key("any", KeyUse::Verify)),
            ),
        )
        .await
        .unwrap();
    let ts = now_ms();
    let nonce = fresh_nonce();
    let mut metadata = headers(&[
        ("x-timestamp", &ts),
        ("x-nonce", &nonce),
        (
            "x-signature",
            &sign("orders.v1.Orders/Create", &ts, &nonce, HMAC_SECRET),
        ),
    ]);
    let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
    assert_eq!(
        decision,
        reject(Code::Internal, "hmac-auth: key unavailable")
    );
    refused_without(
        HMAC_AUTH,
        Grants::none().config().clock().kv(16 * 1024),
        Capability::Crypto,
    )
    .await;
    refused_without(
        HMAC_AUTH,
        Grants::none()
            .config()
            .clock()
            .crypto(CryptoGrant::default().key("hmac-auth", KeyUse::Verify)),
        Capability::Kv,
    )
    .await;
}

#[tokio::test]
async fn each_plugin_sees_only_its_own_config() {
    let a = add_header_with("x-a", "from-a").await;
    let b = add_header_with("x-b", "from-b").await;
    let metadata = expect_continue(&a, headers(&[])).await;
    assert_eq!(metadata["x-a"], "from-a");
    assert!(metadata.get("x-b").is_none());
    let metadata = expect_continue(&b, headers(&[])).await;
    assert_eq!(metadata["x-b"], "from-b");
    assert!(metadata.get("x-a").is_none());
}

async fn add_header_with(name: &str, value: &str) -> Plugin {
    host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .config([("name", name), ("value", value)]),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn metadata_reads_answer_as_the_contract_says() {
    let probe = host()
        .load(spec("metadata-probe", FIXTURE_METADATA_PROBE))
        .await
        .unwrap();
    let mut metadata = headers(&[
        ("x-request-id", "abc"),
        (
            "x-probe",
            "X-Request-ID|x-absent|bad name||x-binary|x-request-id",
        ),
    ]);
    // A value that is not text: present, but `get` has no string to give.
    metadata.insert(
        "x-binary",
        http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
    );
    let metadata = expect_continue(&probe, metadata).await;
    assert_eq!(
        metadata["x-probe-result"],
        "X-Request-ID=get:abc,contains:true;\
         x-absent=get:none,contains:false;\
         bad name=get:none,contains:false;\
         =get:none,contains:false;\
         x-binary=get:none,contains:true;\
         x-request-id=get:abc,contains:true"
    );
}
