//! The audit trail: loads, verifications and refusals under an operator config,
//! read back from the JSON-lines file, and the same events seen through `tracing`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use palisade::LoadConfig;
use palisade::TrustError;
use palisade::audit::AUDIT_TARGET;
use palisade::{
    AuditError, AuditEvent, AuditSink, Error, Grants, Host, HostConfig, OnAuditFailure,
    OperatorConfig, PluginSource, PluginSpec, TrustPolicy, VerifyError,
};
use palisade_tests::guests::ADD_HEADER;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::support::host;
use crate::verify::{component, hex, key, pack, package, sections};

/// A config loading `add-header` from `package` (or, in development, `component`),
/// trusting key 1, with `audit_log`.
fn config(mode: &str, audit_log: &str, source: &str) -> String {
    format!(
        "mode = \"{mode}\"\n\
         audit_log = \"{audit_log}\"\n\
         [trust]\n\
         keys = [\"{}\"]\n\
         [[plugins]]\n\
         name = \"add-header\"\n\
         {source}\n\
         hooks = [\"request\"]\n\
         [plugins.grants]\n\
         config = {{}}\n\
         log = {{}}\n\
         [plugins.config]\n\
         name = \"x-tenant\"\n\
         value = \"blue\"\n",
        hex(&key(1).public_key().to_bytes())
    )
}

fn read_lines(path: &Path) -> Vec<Value> {
    let text = String::from_utf8(crate::support::component_bytes(path.to_str().unwrap())).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

async fn load(dir: &Path, text: &str) -> Result<palisade::Chain, Error> {
    let config = OperatorConfig::from_str(text, dir).unwrap();
    host().load_config(&config).await
}

#[tokio::test]
async fn audit_log_records_verified_loaded_and_refused_in_lockdown() {
    let dir = palisade_tests::temp_dir("audit", "lockdown");
    let signed = package();
    let mut tampered = signed.clone();
    let last = tampered.len() - 200; // inside the component, before the signature
    tampered[last] ^= 0x01;
    let unsigned = pack(&sections(&signed)[..2]);
    for (file, bytes) in [
        ("signed.pkg", &signed),
        ("tampered.pkg", &tampered),
        ("unsigned.pkg", &unsigned),
    ] {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    let lockdown = |file: &str| config("lockdown", "audit.jsonl", &format!("package = \"{file}\""));

    load(&dir, &lockdown("signed.pkg")).await.unwrap();
    let err = load(&dir, &lockdown("tampered.pkg")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Verify {
                reason: VerifyError::Trust(TrustError::ComponentDigestMismatch { .. }),
                ..
            }
        ),
        "{err}"
    );
    let err = load(&dir, &lockdown("unsigned.pkg")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Verify {
                reason: VerifyError::Trust(TrustError::ThresholdNotMet { valid: 0, .. }),
                ..
            }
        ),
        "{err}"
    );

    let path = dir.join("audit.jsonl");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the audit log is created owner-only");
    let lines = read_lines(&path);
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["verified", "loaded", "refused", "refused"]);
    for line in &lines {
        let timestamp = line["timestamp"].as_str().unwrap();
        // RFC 3339 in UTC: 2026-05-19T07:31:02.123456Z
        assert_eq!(timestamp.len(), 27, "{timestamp}");
        assert_eq!(&timestamp[10..11], "T", "{timestamp}");
        assert!(timestamp.ends_with('Z'), "{timestamp}");
        assert_eq!(line["plugin"], "add-header");
    }
    let digest = hex(&Sha256::digest(component()));
    let signer = key(1).key_id().to_string();
    let object = |value: &Value| value.as_object().unwrap().clone();
    let expected_verified = json!({
        "timestamp": lines[0]["timestamp"],
        "event": "verified",
        "plugin": "add-header",
        "version": "1.0.0",
        "signers": [signer],
        "development_signers": [],
        "identities": [],
        "component_sha256": digest,
        "requested": {"config": {}},
        "grants": {"config": {}},
    });
    assert_eq!(object(&lines[0]), object(&expected_verified));
    let expected_loaded = json!({
        "timestamp": lines[1]["timestamp"],
        "event": "loaded",
        "plugin": "add-header",
        "signed": true,
        "version": "1.0.0",
        "component_sha256": digest,
        "grants": {"config": {}},
        "hooks": ["request"],
        "routes": [],
    });
    assert_eq!(object(&lines[1]), object(&expected_loaded));
    assert_eq!(lines[2]["stage"], "verify");
    assert_eq!(lines[2]["reason"], "component_digest_mismatch");
    assert!(
        lines[2]["message"]
            .as_str()
            .unwrap()
            .contains("but the manifest declares"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["stage"], "verify");
    assert_eq!(lines[3]["reason"], "threshold_not_met");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn development_mode_audits_an_unsigned_component() {
    let dir = palisade_tests::temp_dir("audit", "development");
    let text = config(
        "development",
        "audit.jsonl",
        &format!("component = \"{ADD_HEADER}\""),
    );
    load(&dir, &text).await.unwrap();
    let lines = read_lines(&dir.join("audit.jsonl"));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["event"], "loaded");
    assert_eq!(lines[0]["signed"], false);
    assert_eq!(lines[0]["version"], Value::Null);
    assert_eq!(
        lines[0]["component_sha256"],
        hex(&Sha256::digest(component()))
    );
    assert_eq!(lines[0]["grants"], json!({"config": {}, "log": {}}));
    assert_eq!(lines[0]["routes"], json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 11, item 5: the loaded event records the routes a plugin is scoped to.
#[tokio::test]
async fn the_loaded_event_records_the_routes() {
    let dir = palisade_tests::temp_dir("audit", "routes");
    let text = config(
        "development",
        "audit.jsonl",
        &format!(
            "component = \"{ADD_HEADER}\"\nroutes = [\"orders.v1.Orders/*\", \"http:/admin/\"]"
        ),
    );
    let chain = load(&dir, &text).await.unwrap();
    assert_eq!(
        chain.plugins()[0].routes().patterns(),
        ["orders.v1.Orders/*", "http:/admin/"]
    );
    let lines = read_lines(&dir.join("audit.jsonl"));
    assert_eq!(lines[0]["event"], "loaded");
    assert_eq!(
        lines[0]["routes"],
        json!(["orders.v1.Orders/*", "http:/admin/"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unwritable_audit_log_refuses_in_lockdown_and_warns_in_development() {
    let dir = palisade_tests::temp_dir("audit", "unwritable");
    std::fs::write(dir.join("signed.pkg"), package()).unwrap();
    // /dev/full opens, and fails every write with "no space left on device".
    let text = config("lockdown", "/dev/full", "package = \"signed.pkg\"");
    let err = load(&dir, &text).await.unwrap_err();
    assert!(
        matches!(&err, Error::Audit(AuditError::Write { path, .. }) if path == Path::new("/dev/full")),
        "{err}"
    );
    let text = config("development", "/dev/full", "package = \"signed.pkg\"");
    load(&dir, &text).await.unwrap();
    // An audit log that cannot even be opened.
    let text = config(
        "lockdown",
        "missing/audit.jsonl",
        "package = \"signed.pkg\"",
    );
    let err = load(&dir, &text).await.unwrap_err();
    assert!(
        matches!(&err, Error::Audit(AuditError::Open { path, .. }) if path.ends_with("missing/audit.jsonl")),
        "{err}"
    );
    let text = config(
        "development",
        "missing/audit.jsonl",
        "package = \"signed.pkg\"",
    );
    load(&dir, &text).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn host_audit_sink_records_loads_and_reloads() {
    let dir = palisade_tests::temp_dir("audit", "host-sink");
    let path = dir.join("audit.jsonl");
    let sink = AuditSink::open(&path, OnAuditFailure::Refuse).unwrap();
    let host = Host::new(HostConfig::default())
        .unwrap()
        .with_audit_sink(sink);
    let spec = |bytes| {
        PluginSpec::new("add-header", PluginSource::PackageBytes(bytes))
            .grants(Grants::none())
            .trust(TrustPolicy::new().trust(key(1).public_key()))
    };
    // The manifest requests `config`, the operator grants nothing: a policy refusal.
    let err = host.load(spec(package())).await.unwrap_err();
    assert!(matches!(err, Error::Policy(_)), "{err}");
    let plugin = host
        .load(spec(package()).grants(Grants::none().config()))
        .await
        .unwrap();
    drop(plugin);
    let digest: [u8; 32] = Sha256::digest(component()).into();
    host.audit(&AuditEvent::reloaded(
        "add-header",
        Some("1.0.0".into()),
        Some(digest),
        digest,
    ))
    .unwrap();
    let lines = read_lines(&path);
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["refused", "verified", "loaded", "reloaded"]);
    assert_eq!(lines[0]["stage"], "policy");
    assert_eq!(lines[0]["reason"], "exceeds_grants");
    assert_eq!(lines[3]["previous_sha256"], hex(&digest));
    assert_eq!(lines[3]["component_sha256"], hex(&digest));
    assert_eq!(lines[3]["version"], "1.0.0");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `palisade::audit` event seen by this thread: its fields, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != AUDIT_TARGET {
            return;
        }
        let mut fields = BTreeMap::new();
        fields.insert("level".to_owned(), event.metadata().level().to_string());
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

#[tokio::test]
async fn audit_events_reach_tracing_with_stable_fields() {
    let captured = Captured::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));
    let spec = |bytes| {
        PluginSpec::new("add-header", PluginSource::PackageBytes(bytes))
            .grants(Grants::none().config())
            .trust(TrustPolicy::new().trust(key(1).public_key()))
    };
    host().load(spec(package())).await.unwrap();
    let err = host()
        .load(spec(package()).trust(TrustPolicy::new().trust(key(2).public_key())))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Verify { .. }), "{err}");

    let events = captured.0.lock().unwrap().clone();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds, ["verified", "loaded", "refused"], "{events:?}");
    let verified = &events[0];
    assert_eq!(verified["level"], "INFO");
    assert_eq!(verified["plugin"], "add-header");
    assert_eq!(verified["version"], "1.0.0");
    assert_eq!(verified["signers"], key(1).key_id().to_string());
    assert_eq!(verified["development_signers"], "");
    assert_eq!(
        verified["component_sha256"],
        hex(&Sha256::digest(component()))
    );
    assert_eq!(verified["grants"], r#"{"config":{}}"#);
    assert_eq!(verified["requested"], r#"{"config":{}}"#);
    assert_eq!(events[1]["signed"], "true");
    assert_eq!(events[1]["hooks"], "request,response");
    assert_eq!(events[1]["routes"], "*");
    let refused = &events[2];
    assert_eq!(refused["level"], "WARN");
    assert_eq!(refused["stage"], "verify");
    assert_eq!(refused["reason"], "threshold_not_met");
    assert!(refused["message"].contains("required"), "{refused:?}");
}

/// A package admitted by a sigstore bundle alone names its signer in the `verified`
/// event: `identities`, beside the (empty) key `signers`.
#[tokio::test]
async fn a_sigstore_admitted_package_is_audited_with_its_signer() {
    use palisade::{Identity, SigstoreTrustRoot, SubjectPattern, package_with_bundle};
    use palisade_tests::sigstore::{Fulcio, Rekor, Signer, bundle, trusted_root};
    const ISSUER: &str = "https://token.ci.test";
    const SUBJECT: &str = "https://ci.test/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0";
    let fulcio = Fulcio::new("fulcio");
    let mut rekor = Rekor::new();
    let root =
        SigstoreTrustRoot::from_json(trusted_root(&[&fulcio], &[&rekor]).as_bytes()).unwrap();
    let component = component();
    let manifest = manifest_with_description(&component, "adds a configured header");
    let json = bundle(
        &fulcio,
        &mut rekor,
        &Signer::new(ISSUER, SUBJECT),
        manifest.as_bytes(),
    );
    let package = package_with_bundle(manifest.as_bytes(), &component, json.as_bytes()).unwrap();
    let trust = TrustPolicy::new()
        .sigstore_trust_root(root)
        .trust_identity(Identity::new(ISSUER, SubjectPattern::parse(SUBJECT).unwrap()).unwrap());

    let dir = palisade_tests::temp_dir("audit", "sigstore");
    let path = dir.join("audit.jsonl");
    let sink = AuditSink::open(&path, OnAuditFailure::Refuse).unwrap();
    let host = Host::new(HostConfig::default())
        .unwrap()
        .with_audit_sink(sink);
    host.load(
        PluginSpec::new("add-header", PluginSource::PackageBytes(package))
            .grants(Grants::none().config())
            .trust(trust),
    )
    .await
    .unwrap();
    let lines = read_lines(&path);
    assert_eq!(lines[0]["event"], "verified");
    assert_eq!(lines[0]["signers"], json!([]));
    let identities = lines[0]["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(identities[0]["issuer"], ISSUER);
    assert_eq!(identities[0]["subject"], SUBJECT);
    assert!(identities[0]["log_index"].is_u64(), "{identities:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// add-header's manifest, version 1.0.0, with `description` (TOML-escaped already).
fn manifest_with_description(component: &[u8], description: &str) -> String {
    format!(
        "format = 1\n\
         name = \"add-header\"\n\
         version = \"1.0.0\"\n\
         description = \"{description}\"\n\
         component_sha256 = \"{}\"\n\
         hooks = [\"request\", \"response\"]\n\
         \n\
         [capabilities]\n\
         config = {{}}\n",
        hex(&Sha256::digest(component))
    )
}

/// Every event's fields, whatever its target, at every level.
#[derive(Clone, Default)]
struct AllEvents(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for AllEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

/// A signed manifest's `description` with a newline and an ESC, logged at debug level
/// when the package verifies, reaches the log escaped, so it cannot start a forged
/// line such as a fake `event="loaded"` in `palisade serve`'s stderr.
#[tokio::test]
async fn a_manifest_description_is_escaped_in_the_debug_log() {
    let captured = AllEvents::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));
    let component = component();
    let forged = "ok\\n2026-12-01T00:00:00Z  INFO palisade::audit: plugin loaded event=\\\"loaded\\\"\\u001B[2K";
    let manifest = manifest_with_description(&component, forged);
    let package = palisade::sign_package(&manifest, &component, &key(1)).unwrap();
    let spec = |bytes: Vec<u8>, trust: TrustPolicy| {
        PluginSpec::new("add-header", PluginSource::PackageBytes(bytes))
            .grants(Grants::none().config())
            .trust(trust)
    };
    host()
        .load(spec(
            package.clone(),
            TrustPolicy::new().trust(key(1).public_key()),
        ))
        .await
        .unwrap();
    let events = captured.0.lock().unwrap().clone();
    let described: Vec<&String> = events.iter().filter_map(|e| e.get("description")).collect();
    assert_eq!(
        described.len(),
        1,
        "one debug event with the description: {events:?}"
    );
    assert_eq!(
        described[0],
        "ok\\n2026-12-01T00:00:00Z  INFO palisade::audit: plugin loaded event=\"loaded\"\\u{1b}[2K"
    );
}
