//! Fixtures for Palisade's integration tests and demo: the paths of the real
//! components compiled from `plugins/` and `tests/hostile/` by this crate's build
//! script, and small helpers to load them.

use palisade::{Grants, Host, Plugin, PluginSource, PluginSpec};

pub mod loadgen;
pub mod sigstore;

/// Paths of the compiled guest components.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A spec for the component at `path` under `name`, with no grants.
pub fn spec(name: &str, path: &str) -> PluginSpec {
    PluginSpec::new(name, PluginSource::File(path.into()))
}

/// Loads the component at `path` under `name` with `grants`.
pub async fn load(host: &Host, name: &str, path: &str, grants: Grants) -> palisade::Result<Plugin> {
    host.load(spec(name, path).grants(grants)).await
}

pub mod echo;
pub mod packages;
pub mod pki;

/// A fresh, empty directory for one test under the system temp directory, named
/// `palisade-{group}-{pid}-{test}-{n}` so that parallel tests and runs never share one.
pub fn temp_dir(group: &str, test: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "palisade-{group}-{}-{test}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        #[expect(
            clippy::panic,
            reason = "a test fixture without its directory cannot go on"
        )]
        {
            panic!("cannot create {}: {e}", dir.display());
        }
    }
    dir
}

/// Resident memory of this process, in bytes (`/proc/self/statm`, 4 KiB pages).
/// Panics where it cannot be read, so that a memory check never passes vacuously
/// on a system without `/proc` (it used to return 0 there).
#[expect(
    clippy::panic,
    reason = "a test helper fails the test that cannot measure"
)]
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_else(|e| {
        panic!("cannot read /proc/self/statm ({e}): memory checks need Linux's /proc")
    });
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("/proc/self/statm has no resident page count: {statm:?}"));
    pages * 4096
}
