use std::os::unix::fs::PermissionsExt;

use super::*;
use palisade_package::TrustPolicyError;
use palisade_package::{LoadError, VerifyError};
use palisade_types::{CryptoGrant, KeyUse};
use serde_json::Value;

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "palisade-audit-unit-{}-{name}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn verified() -> AuditEvent {
    AuditEvent::Verified {
        plugin: "rbac".into(),
        version: "1.2.3".into(),
        signers: vec![KeyId::from_bytes([0xab; 32])],
        development_signers: vec![],
        identities: vec![],
        component_sha256: [0x01; 32],
        requested: Grants::none().config().kv(4096),
        grants: Grants::none()
            .config()
            .crypto(CryptoGrant::default().key("hmac", KeyUse::Verify)),
    }
}

#[test]
fn sink_creates_owner_only_and_appends_one_object_per_line() {
    let path = temp_path("append");
    let sink = AuditSink::open(&path, OnAuditFailure::Refuse).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    sink.record(&verified()).unwrap();
    // A second sink on the same file appends after the first line.
    AuditSink::open(&path, OnAuditFailure::Refuse)
        .unwrap()
        .record(&AuditEvent::reloaded("rbac", None, None, [2; 32]))
        .unwrap();
    let lines = lines(&path);
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    let timestamp = first["timestamp"].as_str().unwrap();
    humantime::parse_rfc3339(timestamp).unwrap();
    assert!(timestamp.ends_with('Z'), "{timestamp}");
    assert_eq!(first["event"], "verified");
    assert_eq!(first["plugin"], "rbac");
    assert_eq!(first["version"], "1.2.3");
    assert_eq!(first["signers"], json!(["ab".repeat(32)]));
    assert_eq!(first["development_signers"], json!([]));
    assert_eq!(first["component_sha256"], "01".repeat(32));
    assert_eq!(
        first["requested"],
        json!({"config": {}, "kv": {"quota_bytes": 4096}})
    );
    assert_eq!(
        first["grants"],
        json!({"config": {}, "crypto": {"keys": {"hmac": "verify"}}})
    );
    assert_eq!(lines[1]["event"], "reloaded");
    assert_eq!(lines[1]["previous_sha256"], Value::Null);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn refusal_names_stage_and_typed_reason() {
    let error = Error::Verify {
        plugin: "rbac".into(),
        reason: VerifyError::TrustPolicy(TrustPolicyError::NoTrustedKeys),
    };
    let event = AuditEvent::refused("rbac", &error);
    let AuditEvent::Refused {
        stage,
        reason,
        message,
        ..
    } = &event
    else {
        panic!("{event:?}")
    };
    assert_eq!((*stage, *reason), ("verify", "no_trusted_keys"));
    assert_eq!(message, &error.to_string());
    let error = Error::Load(LoadError::TooLarge {
        plugin: "rbac".into(),
        size: 2,
        limit: 1,
    });
    assert_eq!(stage_and_reason(&error), ("load", "too_large"));
    assert_eq!(event.kind(), "refused");
    // A start function's trap is its own stage, not a link mismatch.
    let error = Error::Instantiate(crate::error::InstantiateError::StartTrapped {
        plugin: "rbac".into(),
        kind: palisade_types::TrapKind::Unreachable,
    });
    assert_eq!(stage_and_reason(&error), ("instantiate", "start_trapped"));
    // The fuel refusal is named for what it is.
    let error = Error::Policy(palisade_package::PolicyError::FuelWithoutMetering {
        plugin: "rbac".into(),
    });
    assert_eq!(
        stage_and_reason(&error),
        ("policy", "fuel_without_metering")
    );
    // A verification refusal records the wrapped error's variant, whatever its kind.
    let error = Error::Verify {
        plugin: "rbac".into(),
        reason: VerifyError::Package(palisade_package::PackageError::BadMagic {
            found: b"NOTAPKG!".to_vec(),
        }),
    };
    assert_eq!(stage_and_reason(&error), ("verify", "bad_magic"));
}

#[test]
fn refusal_message_carries_the_os_error_once() {
    let error = Error::Load(LoadError::Io {
        plugin: "rbac".into(),
        path: "/nonexistent/rbac.wasm".into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    });
    let AuditEvent::Refused { message, .. } = AuditEvent::refused("rbac", &error) else {
        panic!()
    };
    assert_eq!(
        message,
        "cannot read plugin `rbac` from /nonexistent/rbac.wasm: entity not found"
    );
}

#[test]
fn write_failure_refuses_or_warns_by_policy() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let full = Path::new("/dev/full");
    let refuse = AuditSink::open(full, OnAuditFailure::Refuse).unwrap();
    let err = refuse.record(&verified()).unwrap_err();
    assert!(matches!(err, AuditError::Write { .. }), "{err}");
    assert!(matches!(
        Auditor::new(Some(&refuse), None).emit(&verified()),
        Err(AuditError::Write { .. })
    ));
    let warn = AuditSink::open(full, OnAuditFailure::Warn).unwrap();
    Auditor::new(Some(&warn), None).emit(&verified()).unwrap();
}

#[test]
fn unopenable_log_is_an_open_error() {
    let err = AuditSink::open("/nonexistent-dir/audit.jsonl", OnAuditFailure::Refuse).unwrap_err();
    assert!(matches!(err, AuditError::Open { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent-dir/audit.jsonl"),
        "{err}"
    );
}

#[test]
fn removed_is_recorded_with_the_running_version_and_digest() {
    let path = temp_path("removed");
    let sink = AuditSink::open(&path, OnAuditFailure::Refuse).unwrap();
    let event = AuditEvent::removed("rbac", Some("1.2.3".into()), [3; 32]);
    assert_eq!(event.kind(), "removed");
    assert_eq!(event.plugin(), "rbac");
    sink.record(&event).unwrap();
    let line = lines(&path).remove(0);
    let mut object = line.as_object().unwrap().clone();
    object.remove("timestamp");
    assert_eq!(
        Value::Object(object),
        json!({
            "event": "removed",
            "plugin": "rbac",
            "version": "1.2.3",
            "component_sha256": "03".repeat(32),
        })
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn sigstore_signers_are_escaped_for_tracing() {
    let signer = |subject: &str| {
        BundleSigner::new(
            palisade_package::verify::SignerIdentity::new("https://issuer.test", subject),
            Some(7),
            None,
        )
    };
    let signers = [
        signer("ci@example.test"),
        signer("x\n INFO forged\u{1b}[2K"),
    ];
    assert_eq!(
        Signers(&signers).to_string(),
        "ci@example.test (issuer https://issuer.test), \
         x\\n INFO forged\\u{1b}[2K (issuer https://issuer.test)"
    );
}

#[test]
fn grants_serialize_in_the_manifest_shape() {
    let grants = Grants::none()
        .log()
        .clock()
        .config()
        .metrics()
        .kv(4096)
        .crypto(
            CryptoGrant::default()
                .key("hmac-auth", KeyUse::Verify)
                .key("signer", KeyUse::SignAndVerify),
        );
    assert_eq!(
        grants_json(&grants),
        r#"{"clock":{},"config":{},"crypto":{"keys":{"hmac-auth":"verify","signer":"sign"}},"kv":{"quota_bytes":4096},"log":{},"metrics":{}}"#
    );
    assert_eq!(grants_json(&Grants::none()), "{}");
    // The shape reads back as the manifest's and the config's capability table.
    let table: palisade_types::grants_toml::GrantsToml =
        serde_json::from_str(&grants_json(&grants)).unwrap();
    assert_eq!(table.resolve().unwrap(), grants);
}
