//! The on-disk compiled cache: hits, refusal of a tampered or swapped entry (which is
//! recompiled, not run), a miss when the engine's configuration changes, and the
//! directory, parents and key it insists on: the host's own, never reached through a
//! link, never under a parent others can write, the key never inside the directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use palisade::{CacheStats, Error, Grants, Host, HostConfig, HostError, Plugin};
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
    Host::new(
        HostConfig::default()
            .with_cache_dir(Some(dir.to_owned()))
            .with_fuel(fuel)
            .with_max_instances(8),
    )
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

/// Where the host keeps the cache's key: beside the directory, never in it.
fn key_path(dir: &Path) -> PathBuf {
    PathBuf::from(format!("{}.key", dir.display()))
}

fn cleanup(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_file(key_path(dir));
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
    assert_eq!(mode(&key_path(&dir)), 0o600);
    assert!(!dir.join("key").exists(), "the key is not in the directory");

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
    cleanup(&dir);
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
    cleanup(&dir);
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
    cleanup(&dir);
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
    cleanup(&dir);
}

#[test]
fn a_key_others_can_read_is_refused() {
    let dir = fresh_dir("key");
    drop(cached_host(&dir, false).unwrap());
    std::fs::set_permissions(key_path(&dir), std::fs::Permissions::from_mode(0o644)).unwrap();
    match cached_host(&dir, false) {
        Err(Error::Host(HostError::InvalidSetting { setting, reason })) => {
            assert_eq!(setting, "cache_dir");
            assert!(reason.contains("cache key"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    cleanup(&dir);
}

/// `nobody`: a uid other than the test's (the tests run as root).
const NOBODY: u32 = 65534;

/// The effective uid of this process (the owner of `/proc/self`).
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// Whether this process may give files away (root); the ownership tests need it.
fn can_chown() -> bool {
    if own_uid() == 0 {
        return true;
    }
    eprintln!("skipped: giving a file to another uid needs root");
    false
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// The `reason` of a `cache_dir` refusal from `Host::new`.
fn refusal(result: Result<Host, Error>) -> String {
    match result {
        Err(Error::Host(HostError::InvalidSetting { setting, reason })) => {
            assert_eq!(setting, "cache_dir");
            reason
        }
        other => panic!("expected a cache_dir refusal, got {other:?}"),
    }
}

/// An entry for the component `target` (an entry file name of the cache) holding the
/// native code of the entry at `source`, authenticated under `key`: what an attacker
/// who chose the key would write.
#[expect(
    clippy::disallowed_methods,
    reason = "the test forges a cache entry from another one"
)]
fn forge_entry(source: &Path, target: &Path, key: &[u8; 32]) {
    use hmac::{Hmac, Mac};
    let bytes = std::fs::read(source).unwrap();
    let artifact = &bytes[40..];
    let name = target.file_name().unwrap().to_str().unwrap();
    let (digest, rest) = name.split_once('-').unwrap();
    let engine = rest.strip_suffix(".cwasm").unwrap();
    let digest: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(b"PLSDCC01");
    mac.update(&digest);
    mac.update(engine.as_bytes());
    mac.update(artifact);
    let mut entry = b"PLSDCC01".to_vec();
    entry.extend_from_slice(&mac.finalize().into_bytes());
    entry.extend_from_slice(artifact);
    std::fs::write(target, entry).unwrap();
    std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A directory copied in whole from elsewhere (a restored CI cache, a shared volume)
/// brings a `key` of its maker's and entries tagged with it: add-header's entry holds
/// the trivial plugin's native code. The host never takes its key from the directory,
/// so the entry is refused and add-header is recompiled from its verified component.
#[tokio::test]
async fn a_planted_key_and_entry_in_the_directory_are_refused() {
    let dir = fresh_dir("planted");
    let host = cached_host(&dir, false).unwrap();
    drop(load_add_header(&host).await);
    let add_header_entry = entries(&dir).pop().unwrap();
    drop(host.load(spec("trivial", GUEST_TRIVIAL)).await.unwrap());
    let trivial_entry = entries(&dir)
        .into_iter()
        .find(|p| *p != add_header_entry)
        .unwrap();
    drop(host);

    let planted = [7u8; 32];
    std::fs::write(dir.join("key"), planted).unwrap();
    std::fs::set_permissions(dir.join("key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    forge_entry(&trivial_entry, &add_header_entry, &planted);

    let host = cached_host(&dir, false).unwrap();
    let plugin = load_add_header(&host).await;
    assert_eq!(host.cache_stats(), stats(0, 0, 1, 1));
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-tenant"], "blue", "add-header's own code ran");
    cleanup(&dir);
}

/// What the security review showed: a root host ran another component's native code
/// for a verified add-header package from a directory (and key) owned by `nobody`.
/// Now the directory is refused before anything is read from it.
#[tokio::test]
async fn a_root_host_never_runs_native_code_from_a_directory_another_uid_owns() {
    if !can_chown() {
        return;
    }
    let dir = fresh_dir("foreign");
    let host = cached_host(&dir, false).unwrap();
    drop(load_add_header(&host).await);
    let add_header_entry = entries(&dir).pop().unwrap();
    drop(host.load(spec("trivial", GUEST_TRIVIAL)).await.unwrap());
    let trivial_entry = entries(&dir)
        .into_iter()
        .find(|p| *p != add_header_entry)
        .unwrap();
    drop(host);
    // `nobody` made the directory and its key (both layouts) and tagged the entry.
    let planted = [9u8; 32];
    for key in [dir.join("key"), key_path(&dir)] {
        std::fs::write(&key, planted).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    forge_entry(&trivial_entry, &add_header_entry, &planted);
    for path in std::fs::read_dir(&dir).unwrap() {
        chown(&path.unwrap().path(), NOBODY);
    }
    chown(&dir, NOBODY);

    let reason = refusal(cached_host(&dir, false));
    assert_eq!(
        reason,
        format!(
            "{}: owned by uid {NOBODY}, not by this process (uid 0); the compiled cache holds \
             native code, so it must be the host's own (remove it and let the host create it, \
             or chown it)",
            dir.display()
        )
    );
    cleanup(&dir);
}

/// A key beside the directory that another uid made (planted in a sticky `/tmp`
/// before the host first ran) is refused, not adopted.
#[test]
fn a_key_another_uid_owns_is_refused() {
    if !can_chown() {
        return;
    }
    let dir = fresh_dir("key-owner");
    drop(cached_host(&dir, false).unwrap());
    chown(&key_path(&dir), NOBODY);
    let reason = refusal(cached_host(&dir, false));
    assert_eq!(
        reason,
        format!(
            "{}: the cache key is owned by uid {NOBODY}, not by this process (uid 0); a key \
             someone else made would let them sign native code for this host",
            key_path(&dir).display()
        )
    );
    cleanup(&dir);
}

/// A parent others can write (without the sticky bit) could have the cache renamed
/// away and replaced; a parent owned by another uid likewise. A sticky parent owned by
/// root or the host (`/tmp`) is fine.
#[test]
fn a_parent_others_can_write_or_own_is_refused() {
    let parent = fresh_dir("parent");
    std::fs::create_dir_all(&parent).unwrap();
    let parent = std::fs::canonicalize(&parent).unwrap();
    let dir = parent.join("cache");
    for mode in [0o777, 0o775, 0o757] {
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(
            refusal(cached_host(&dir, false)),
            format!(
                "{}: the parent directory {} is writable by others (mode {mode:o}, no sticky \
                 bit); whoever can write it could replace the compiled cache (chmod go-w)",
                dir.display(),
                parent.display()
            )
        );
    }
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o1777)).unwrap();
    drop(cached_host(&dir, false).unwrap());
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    if can_chown() {
        chown(&parent, NOBODY);
        assert_eq!(
            refusal(cached_host(&dir, false)),
            format!(
                "{}: the parent directory {} is owned by uid {NOBODY}, neither root nor this \
                 process (uid 0); its owner could replace the compiled cache",
                dir.display(),
                parent.display()
            )
        );
    }
    let _ = std::fs::remove_dir_all(&parent);
}

/// The cache directory is never reached through a symbolic link, even to a directory
/// that would pass every check.
#[test]
fn a_symlinked_cache_directory_is_refused() {
    let real = fresh_dir("real");
    drop(cached_host(&real, false).unwrap());
    let link = fresh_dir("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(
        refusal(cached_host(&link, false)),
        format!(
            "{}: is a symbolic link; give the real directory (the compiled cache is never \
             reached through a link)",
            link.display()
        )
    );
    let _ = std::fs::remove_file(&link);
    cleanup(&real);
}
