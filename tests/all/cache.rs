//! The on-disk compiled cache: hits, refusal of a tampered or swapped entry (which is
//! recompiled, not run), a miss when the engine's configuration changes, and the
//! directory and key permissions it insists on.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use palisade_host::{CacheStats, Error, Grants, Host, HostConfig, HostError, Plugin};
use palisade_tests::guests::{ADD_HEADER, GUEST_TRIVIAL};

use palisade_tests::spec;

use crate::support::{expect_continue, headers};

/// A directory path unique to this test run; the host creates it.
fn fresh_dir(label: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "palisade-cache-test-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

fn cached_host(dir: &Path, fuel: bool) -> Result<Host, Error> {
    Host::new(HostConfig {
        cache_dir: Some(dir.to_owned()),
        fuel,
        max_instances: 8,
        ..HostConfig::default()
    })
}

async fn load_add_header(host: &Host) -> Plugin {
    host.load(
        spec("add-header", ADD_HEADER)
            .grants(Grants::none().config())
            .config([("name", "x-tenant"), ("value", "blue")]),
    )
    .await
    .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    found.sort();
    found
}

fn stats(hits: u64, misses: u64, refused: u64, stored: u64) -> CacheStats {
    let mut s = CacheStats::default();
    s.hits = hits;
    s.misses = misses;
    s.refused = refused;
    s.stored = stored;
    s
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test tampers with a cache entry"
)]
fn flip_byte_near_end(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() - 64;
    bytes[at] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn hit_then_tampered_entry_is_refused_and_recompiled() {
    let dir = fresh_dir("tamper");
    let host = cached_host(&dir, false).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("key")), 0o600);

    let plugin = load_add_header(&host).await;
    assert_eq!(host.cache_stats(), stats(0, 1, 0, 1));
    let entry = entries(&dir).pop().unwrap();
    assert_eq!(mode(&entry), 0o600);
    drop(plugin);

    let plugin = load_add_header(&host).await;
    assert_eq!(host.cache_stats(), stats(1, 1, 0, 1));
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-tenant"], "blue");

    // Changed native code must never run: refused, recompiled from the verified
    // component, stored again, and the plugin works.
    flip_byte_near_end(&entry);
    let plugin = load_add_header(&host).await;
    assert_eq!(host.cache_stats(), stats(1, 1, 1, 2));
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-tenant"], "blue");

    // The rewritten entry is authentic again.
    drop(load_add_header(&host).await);
    assert_eq!(host.cache_stats(), stats(2, 1, 1, 2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_entry_swapped_onto_another_component_is_refused() {
    let dir = fresh_dir("swap");
    let host = cached_host(&dir, false).unwrap();
    drop(load_add_header(&host).await);
    drop(host.load(spec("trivial", GUEST_TRIVIAL)).await.unwrap());
    assert_eq!(host.cache_stats(), stats(0, 2, 0, 2));
    // Both entries are authentic, but each is bound to its own component digest:
    // one renamed over the other is refused.
    let found = entries(&dir);
    assert_eq!(found.len(), 2);
    std::fs::copy(&found[0], &found[1]).unwrap();
    std::fs::set_permissions(&found[1], std::fs::Permissions::from_mode(0o600)).unwrap();
    drop(load_add_header(&host).await);
    drop(host.load(spec("trivial", GUEST_TRIVIAL)).await.unwrap());
    let after = host.cache_stats();
    assert_eq!(after.refused, 1, "{after:?}");
    assert_eq!(after.hits, 1, "{after:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn another_engine_configuration_misses() {
    let dir = fresh_dir("engine");
    let host = cached_host(&dir, false).unwrap();
    drop(load_add_header(&host).await);
    // Fuel metering changes the generated code: the same component is a miss (not a
    // refusal) for a host with fuel, and each configuration keeps its own entry.
    let fuel_host = cached_host(&dir, true).unwrap();
    let plugin = load_add_header(&fuel_host).await;
    assert_eq!(fuel_host.cache_stats(), stats(0, 1, 0, 1));
    expect_continue(&plugin, headers(&[])).await;
    assert_eq!(entries(&dir).len(), 2);
    // And both hosts share the directory's key.
    drop(load_add_header(&host).await);
    assert_eq!(host.cache_stats(), stats(1, 1, 0, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_others_can_write_is_refused() {
    let dir = fresh_dir("shared");
    std::fs::create_dir_all(&dir).unwrap();
    for mode in [0o770, 0o707, 0o777] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        match cached_host(&dir, false) {
            Err(Error::Host(HostError::InvalidSetting { setting, reason })) => {
                assert_eq!(setting, "cache_dir");
                assert!(reason.contains("lets others write"), "{reason}");
            }
            other => panic!("mode {mode:o}: expected a refusal, got {other:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_others_can_read_is_refused() {
    let dir = fresh_dir("key");
    drop(cached_host(&dir, false).unwrap());
    std::fs::set_permissions(dir.join("key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    match cached_host(&dir, false) {
        Err(Error::Host(HostError::InvalidSetting { setting, reason })) => {
            assert_eq!(setting, "cache_dir");
            assert!(reason.contains("cache key"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
