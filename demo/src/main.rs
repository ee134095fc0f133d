//! Palisade demo: loads the example plugins (built from `plugins/` and signed by the
//! build with a development key) into one chain, sends sample calls through it and
//! prints each decision; then shows what happens to a plugin that asks for the file
//! system and to one that never returns.
//!
//! Run it with `scripts/demo.sh` (or `cargo run -p palisade-demo`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use palisade_host::{
    CallInfo, Chain, CryptoGrant, Decision, FailurePolicy, Grants, Host, HostConfig, KeyId,
    KeyRing, KeyUse, Limits, PluginSource, PluginSpec, PublicKey, TrustPolicy, Verdict,
};
use palisade_tests::guests;
use sha2::Sha256;

/// The demo's HMAC secret. It lives in the host's key ring; plugins only name it.
const DEMO_SECRET: &[u8] = b"demo secret: plugins never see these bytes";

fn main() -> ExitCode {
    match tokio::runtime::Runtime::new()
        .context("cannot start the tokio runtime")
        .and_then(|rt| rt.block_on(run()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn spec(name: &str, path: &str) -> PluginSpec {
    PluginSpec::new(name, PluginSource::File(path.into()))
}

/// An example plugin's package, verified against `trust` when it loads.
fn package(name: &str, path: &str, trust: &Arc<TrustPolicy>) -> PluginSpec {
    PluginSpec::new(name, PluginSource::Package(path.into())).trust(Arc::clone(trust))
}

/// Trusts the development key the build signed the examples with.
fn development_trust() -> anyhow::Result<(Arc<TrustPolicy>, KeyId)> {
    let text = std::fs::read_to_string(guests::DEV_KEY_PUB)
        .with_context(|| format!("cannot read {}", guests::DEV_KEY_PUB))?;
    let (key, _) = PublicKey::parse_text(&text)
        .with_context(|| format!("{} is not a public key", guests::DEV_KEY_PUB))?;
    let id = key.key_id();
    Ok((Arc::new(TrustPolicy::new().trust_development(key)), id))
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        // The demo prints refusals itself, and says once that the examples are signed
        // with a development key (the host warns about it on every load).
        .with_env_filter("palisade=warn,palisade::audit=off,palisade_host::host=error")
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let mut keys = KeyRing::new();
    keys.add_hmac_key("hmac-auth", DEMO_SECRET)?;
    let host = Host::with_keys(HostConfig::default(), keys)?;
    let (trust, dev_key) = development_trust()?;

    // Authentication first, then authorization, then rate limiting: a call refused
    // by an earlier plugin spends no rate-limit tokens.
    let hmac_auth = host
        .load(
            package("hmac-auth", guests::HMAC_AUTH_PKG, &trust).grants(
                Grants::none()
                    .config()
                    .clock()
                    .crypto(CryptoGrant::default().key("hmac-auth", KeyUse::Verify)),
            ),
        )
        .await?;
    let rbac = host
        .load(
            package("rbac", guests::RBAC_PKG, &trust)
                .grants(Grants::none().config().log())
                .config([(
                    "rules",
                    "allow spiffe://demo/frontend orders.v1.Orders/Get*\n\
                     allow spiffe://demo/admin orders.v1.Orders/*",
                )]),
        )
        .await?;
    let rate_limit = host
        .load(
            package("rate-limit", guests::RATE_LIMIT_PKG, &trust)
                .grants(Grants::none().kv(16 << 10).clock().config())
                .config([("capacity", "2"), ("refill_per_sec", "0.5")]),
        )
        .await?;
    let add_header = host
        .load(
            package("add-header", guests::ADD_HEADER_PKG, &trust)
                .grants(Grants::none().config())
                .config([("name", "x-checked-by"), ("value", "palisade")]),
        )
        .await?;
    let chain = Chain::new([hmac_auth, rbac, rate_limit, add_header]);
    println!("chain: hmac-auth -> rbac -> rate-limit -> add-header");
    println!(
        "       signed packages, verified against development key {} (lockdown refuses it)\n",
        &dev_key.to_string()[..16]
    );

    let calls = [
        (
            "frontend reads an order",
            "spiffe://demo/frontend",
            "GetOrder",
            Signature::Good,
        ),
        (
            "frontend tries to delete",
            "spiffe://demo/frontend",
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "admin deletes (1st call)",
            "spiffe://demo/admin",
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "admin deletes (2nd call)",
            "spiffe://demo/admin",
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "admin deletes (3rd call)",
            "spiffe://demo/admin",
            "DeleteOrder",
            Signature::Good,
        ),
        (
            "forged signature",
            "spiffe://demo/admin",
            "GetOrder",
            Signature::Forged,
        ),
        (
            "no signature",
            "spiffe://demo/frontend",
            "GetOrder",
            Signature::Missing,
        ),
    ];
    for (label, identity, method, signature) in calls {
        let call =
            Arc::new(CallInfo::server("orders.v1.Orders", method).with_peer_identity(identity));
        let mut metadata = signed_metadata(&call, signature)?;
        let verdict = chain.on_request(&call, &mut metadata).await;
        let added = metadata
            .get("x-checked-by")
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" (x-checked-by: {v})"))
            .unwrap_or_default();
        println!(
            "{label:<28} {identity:<24} {method:<12} => {}{added}",
            describe(&verdict)
        );
    }

    println!("\nhostile plugins:");
    match host
        .load(spec("read-file", guests::HOSTILE_READ_FILE).grants(Grants::none().log().clock()))
        .await
    {
        Ok(_) => anyhow::bail!("a plugin importing wasi:filesystem was loaded"),
        Err(e) => println!("  read-file     refused at load: {e}"),
    }
    let looping = host
        .load(
            spec("loop-forever", guests::HOSTILE_LOOP_FOREVER)
                .limits(Limits {
                    call_timeout: Duration::from_millis(50),
                    ..Limits::default()
                })
                .failure_policy(FailurePolicy::FailClosed),
        )
        .await?;
    let chain = Chain::new([looping]);
    let call = Arc::new(CallInfo::server("orders.v1.Orders", "GetOrder"));
    let mut metadata = http::HeaderMap::new();
    metadata.insert("x-attack", http::HeaderValue::from_static("1"));
    let verdict = chain.on_request(&call, &mut metadata).await;
    println!("  loop-forever  {}", describe(&verdict));
    Ok(())
}

#[derive(Clone, Copy)]
enum Signature {
    Good,
    Forged,
    Missing,
}

fn signed_metadata(call: &CallInfo, signature: Signature) -> anyhow::Result<http::HeaderMap> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)?
        .as_millis()
        .to_string();
    let secret: &[u8] = match signature {
        Signature::Forged => b"a guess",
        _ => DEMO_SECRET,
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)?;
    mac.update(format!("{}/{}\n{timestamp}", call.service, call.method).as_bytes());
    let tag: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut metadata = http::HeaderMap::new();
    metadata.insert("x-timestamp", timestamp.parse()?);
    if !matches!(signature, Signature::Missing) {
        metadata.insert("x-signature", tag.parse()?);
    }
    Ok(metadata)
}

fn describe(verdict: &Verdict) -> String {
    let by = verdict
        .decided_by
        .as_deref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    match &verdict.decision {
        Decision::Continue => "CONTINUE".to_owned(),
        Decision::Reject { code, message } => format!("REJECT {code:?}{by} {message}"),
        Decision::Respond(reply) => format!("RESPOND {:?}{by}", reply.code),
    }
}
