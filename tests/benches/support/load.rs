//! Load costs for each example plugin: verifying its signed package, loading it with
//! a cold compile, and loading it from the on-disk compiled cache.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use palisade::{
    CryptoGrant, Grants, Host, HostConfig, KeyRing, KeyUse, PluginSource, PluginSpec, SigningKey,
    TrustPolicy, sign_package, verify_package,
};
use palisade_tests::guests;
use sha2::{Digest, Sha256};

/// The example plugins, with their component paths.
pub(crate) const EXAMPLES: [(&str, &str); 4] = [
    ("add-header", guests::ADD_HEADER),
    ("rbac", guests::RBAC),
    ("rate-limit", guests::RATE_LIMIT),
    ("hmac-auth", guests::HMAC_AUTH),
];

#[expect(
    clippy::disallowed_methods,
    reason = "the benchmark reads the built components and their manifests"
)]
fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `component` signed with `key` under the plugin's own manifest from `plugins/`.
pub(crate) fn package(name: &str, component: &[u8], key: &SigningKey) -> Vec<u8> {
    let path = format!(
        "{}/../plugins/{name}/manifest.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = String::from_utf8(read(&path)).unwrap();
    let digest = format!(
        "component_sha256 = \"{}\"\n\n[capabilities]",
        hex(&Sha256::digest(component))
    );
    let manifest = text.replacen("[capabilities]", &digest, 1);
    sign_package(&manifest, component, key).unwrap()
}

/// `component` with a custom section that pads it to about `bytes`.
fn padded(component: &[u8], bytes: usize) -> Vec<u8> {
    let payload = bytes.saturating_sub(component.len());
    let mut section = Vec::with_capacity(payload + 16);
    let name = b"palisade-bench-padding";
    let mut body = Vec::new();
    leb128(&mut body, name.len());
    body.extend_from_slice(name);
    body.resize(body.len() + payload, 0);
    section.push(0); // custom section id
    leb128(&mut section, body.len());
    section.extend_from_slice(&body);
    let mut out = component.to_vec();
    out.extend_from_slice(&section);
    out
}

fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The operator's ceiling for the examples: what their manifests request.
pub(crate) fn ceiling() -> Grants {
    Grants::none()
        .log()
        .clock()
        .config()
        .kv(16 * 1024)
        .crypto(CryptoGrant::default().key("hmac-auth", KeyUse::Verify))
}

pub(crate) fn host_with(cache: Option<std::path::PathBuf>) -> Host {
    let mut keys = KeyRing::new();
    keys.add_hmac_key("hmac-auth", b"benchmark secret").unwrap();
    Host::with_keys(HostConfig::default().with_cache_dir(cache), keys).unwrap()
}

/// A fresh, private directory for a compiled cache.
pub(crate) fn cache_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "palisade-bench-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    // The host creates it, with the right mode.
    dir
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let trust = std::sync::Arc::new(TrustPolicy::new().trust(key.public_key()));
    let cold = host_with(None);
    let cache = cache_dir("load");
    let cached = host_with(Some(cache.clone()));

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let big = padded(&read(guests::ADD_HEADER), 1 << 20);
    let big_package = package("add-header", &big, &key);
    group.throughput(Throughput::Bytes(big_package.len() as u64));
    group.bench_function("verify, 1 MiB package", |b| {
        b.iter(|| black_box(verify_package(&big_package, Some("add-header"), &trust).unwrap()));
    });
    for (name, path) in EXAMPLES {
        let component = read(path);
        let package = package(name, &component, &key);
        let spec = || {
            PluginSpec::new(name, PluginSource::PackageBytes(package.clone()))
                .grants(ceiling())
                .limits(palisade::Limits::default().with_call_timeout(Duration::from_secs(10)))
                .trust(std::sync::Arc::clone(&trust))
        };
        group.throughput(Throughput::Bytes(package.len() as u64));
        group.bench_with_input(BenchmarkId::new("verify", name), &package, |b, package| {
            b.iter(|| black_box(verify_package(package, Some(name), &trust).unwrap()));
        });
        group.measurement_time(Duration::from_secs(if super::quick() { 2 } else { 8 }));
        group.bench_function(
            BenchmarkId::new("cold (verify, compile, first instance)", name),
            |b| b.iter(|| black_box(rt.block_on(cold.load(spec())).unwrap())),
        );
        // Fill the cache once; every measured load then reads it.
        drop(rt.block_on(cached.load(spec())).unwrap());
        group.bench_function(
            BenchmarkId::new("cached (verify, cache read, first instance)", name),
            |b| b.iter(|| black_box(rt.block_on(cached.load(spec())).unwrap())),
        );
    }
    group.finish();
    let stats = cached.cache_stats();
    assert_eq!(stats.refused, 0, "{stats:?}");
    let _ = std::fs::remove_dir_all(&cache);
}
