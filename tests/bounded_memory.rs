//! Memory stays bounded when a package file is far larger than the host accepts.
//! Its own test binary, so that the process's peak resident memory (`VmHWM`) moves
//! only with what this test does.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

use palisade::verify::MAX_PACKAGE_BYTES;
use palisade::{Error, Host, HostConfig, LoadError, PluginSource, PluginSpec};

/// The process's peak resident set size, in bytes, from `/proc/self/status`.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or_else(|| panic!("no VmHWM in /proc/self/status"));
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_100_mib_package_file_is_refused_without_being_read() {
    let host = Host::new(HostConfig::default()).unwrap();
    // Sparse: 100 MiB long, no disk used, and reads return zeros, so reading even the
    // first 32 MiB of it would show in the peak.
    let path = std::env::temp_dir().join(format!("palisade-rss-{}.pkg", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(100 << 20).unwrap();
    drop(file);

    let before = peak_rss();
    let result = host
        .load(PluginSpec::new("huge", PluginSource::Package(path.clone())))
        .await;
    let after = peak_rss();
    let _ = std::fs::remove_file(&path);

    let grown = after.saturating_sub(before);
    println!("peak RSS {before} -> {after} bytes (+{grown})");
    let Err(Error::Load(LoadError::TooLarge { size, limit, .. })) = result else {
        panic!("not refused by size: {:?}", result.map(|_| ()))
    };
    // The file's own size: nothing was read to find it.
    assert_eq!((size, limit), (100 << 20, MAX_PACKAGE_BYTES));
    assert!(
        grown < 4 << 20,
        "peak resident memory grew by {grown} bytes refusing a 100 MiB package"
    );
}
