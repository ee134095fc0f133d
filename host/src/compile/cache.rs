//! The on-disk compiled cache: native code for a component, keyed by the verified
//! component's SHA-256 and the engine's configuration, authenticated with a key
//! only the host holds.
//!
//! Loading native code is `unsafe`: wasmtime runs whatever the artifact contains.
//! So an entry is used only if its HMAC-SHA256, under a 32-byte key the host made
//! and keeps in the cache directory (mode 0600), matches; anything else (a swapped,
//! truncated or foreign file) is refused, counted, and recompiled from the verified
//! component. The directory must be the host's alone: it is created 0700, and a
//! directory that is group- or world-writable, or a key file others can read, is
//! refused when the host starts.
//!
//! Layout: `<dir>/key`, and one `<component sha256>-<engine hash>.cwasm` per entry,
//! holding `MAGIC`, the 32-byte tag, then the artifact. The tag covers the magic,
//! the component digest, the engine hash and the artifact, so an entry cannot be
//! renamed onto another component or engine either.

use std::fs::{self, DirBuilder, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::HostError;
use crate::verify::hex;

/// Starts every entry; a new layout gets a new magic.
const MAGIC: &[u8; 8] = b"PLSDCC01";
const TAG_BYTES: usize = 32;
const KEY_BYTES: usize = 32;
/// The largest entry read back. Example plugins compile to well under 10 MiB.
const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// What the compiled cache has done since the host started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Loads served from an authenticated entry.
    pub hits: u64,
    /// Loads with no entry for this component and engine.
    pub misses: u64,
    /// Entries refused (bad tag, truncated, not loadable) and recompiled.
    pub refused: u64,
    /// Entries written.
    pub stored: u64,
    /// Entries that could not be read or written for an I/O reason (logged).
    pub io_errors: u64,
}

/// A compiled cache in one directory.
pub(crate) struct CompiledCache {
    dir: PathBuf,
    key: [u8; KEY_BYTES],
    /// Hex of a SHA-256 over the engine's compatibility hash.
    engine_hash: String,
    hits: AtomicU64,
    misses: AtomicU64,
    refused: AtomicU64,
    stored: AtomicU64,
    io_errors: AtomicU64,
}

/// Feeds `Hash` output into SHA-256, to turn wasmtime's opaque compatibility hash
/// into a stable file-name component.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn invalid(dir: &Path, reason: impl std::fmt::Display) -> HostError {
    HostError::InvalidSetting {
        setting: "cache_dir",
        reason: format!("{}: {reason}", dir.display()),
    }
}

impl CompiledCache {
    /// Opens (creating it 0700 if absent) the cache in `dir` for `engine`.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, HostError> {
        if fs::symlink_metadata(dir).is_err() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| invalid(dir, format!("cannot create: {e}")))?;
        }
        let meta = fs::symlink_metadata(dir).map_err(|e| invalid(dir, e))?;
        if !meta.is_dir() {
            return Err(invalid(dir, "not a directory (symbolic links are refused)"));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(invalid(
                dir,
                format!(
                    "mode {mode:o} lets others write to it; the compiled cache holds native \
                     code, so only the host may write there (chmod 700)"
                ),
            ));
        }
        let key = load_or_create_key(dir, meta.uid())?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex(&hasher.0.finalize()[..16]);
        Ok(Self {
            dir: dir.to_owned(),
            key,
            engine_hash,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            io_errors: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            io_errors: self.io_errors.load(Ordering::Relaxed),
        }
    }

    fn path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex(sha256), self.engine_hash))
    }

    fn tag(&self, sha256: &[u8; 32], artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(MAGIC);
        mac.update(sha256);
        mac.update(self.engine_hash.as_bytes());
        mac.update(artifact);
        mac
    }

    /// The cached component for `sha256`, if there is an authentic entry.
    pub(crate) fn get(
        &self,
        engine: &Engine,
        plugin: &str,
        sha256: &[u8; 32],
    ) -> Option<Component> {
        let path = self.path(sha256);
        let bytes = match read_entry(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(e) => {
                self.io_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(plugin, path = %path.display(), error = %e, "compiled cache unreadable; compiling");
                return None;
            }
        };
        let refuse = |why: &str| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(plugin, path = %path.display(), why, "compiled cache entry refused; recompiling");
            None
        };
        let header = MAGIC.len() + TAG_BYTES;
        if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
            return refuse("not a cache entry of this host version");
        }
        let (tag, artifact) = bytes[MAGIC.len()..].split_at(TAG_BYTES);
        if self.tag(sha256, artifact).verify_slice(tag).is_err() {
            return refuse(
                "authentication failed (the file was changed or not written by this host)",
            );
        }
        match deserialize(engine, artifact) {
            Ok(component) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(component)
            }
            // Authentic but not loadable: written by an engine this one cannot load.
            Err(_) => refuse("not loadable by this engine"),
        }
    }

    /// Stores `component` for `sha256`. Failures are logged and counted, never fatal.
    pub(crate) fn put(&self, plugin: &str, sha256: &[u8; 32], component: &Component) {
        let result = component
            .serialize()
            .map_err(|e| std::io::Error::other(format!("{e:#}")))
            .and_then(|artifact| {
                let tag = self.tag(sha256, &artifact).finalize().into_bytes();
                let mut entry = Vec::with_capacity(MAGIC.len() + TAG_BYTES + artifact.len());
                entry.extend_from_slice(MAGIC);
                entry.extend_from_slice(&tag);
                entry.extend_from_slice(&artifact);
                write_atomically(&self.path(sha256), &entry)
            });
        match result {
            Ok(()) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.io_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(plugin, error = %e, "cannot write the compiled cache entry");
            }
        }
    }
}

/// Native code from an authenticated artifact.
#[expect(
    unsafe_code,
    reason = "deserializing runs native code from the artifact; it is called only on bytes \
              whose HMAC under the host's own key matched, so they are what this host's \
              `Component::serialize` wrote for this engine configuration"
)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `artifact` was produced by `Component::serialize` in this host (the
    // HMAC over it under the host-held key proves it), and wasmtime checks on its own
    // that it matches this engine's version and configuration.
    unsafe { Component::deserialize(engine, artifact) }
}

/// The entry at `path`: `None` when absent; an error when it is not a plain file of
/// ours or cannot be read.
fn read_entry(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes is over the bound of {MAX_ENTRY_BYTES}",
            meta.len()
        )));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// `O_NOFOLLOW` on Linux: the entry must not be a symbolic link swapped in between the
/// check and the open.
const NOFOLLOW: i32 = 0o400_000;

/// Writes `bytes` to a new 0600 file beside `path`, then renames it over `path`, so a
/// reader sees the old entry or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}.{}", std::process::id(), unique()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A number unique within this process, for temporary file names.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The host's cache key: read from `<dir>/key`, or made from the OS's random number
/// generator and linked into place atomically, so that concurrent hosts agree on one.
fn load_or_create_key(dir: &Path, dir_uid: u32) -> Result<[u8; KEY_BYTES], HostError> {
    let path = dir.join("key");
    if fs::symlink_metadata(&path).is_err() {
        let mut key = [0u8; KEY_BYTES];
        getrandom::getrandom(&mut key)
            .map_err(|e| invalid(dir, format!("no randomness for the cache key: {e}")))?;
        let tmp = dir.join(format!("key.tmp.{}.{}", std::process::id(), unique()));
        let made = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| file.write_all(&key))
            .and_then(|()| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        match made {
            Ok(()) => {}
            // Another host linked its key first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(invalid(dir, format!("cannot write the cache key: {e}"))),
        }
    }
    let meta = fs::symlink_metadata(&path).map_err(|e| invalid(&path, e))?;
    if !meta.is_file() {
        return Err(invalid(&path, "the cache key is not a regular file"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(invalid(
            &path,
            format!(
                "mode {:o} lets others read or write the cache key (chmod 600)",
                meta.permissions().mode() & 0o777
            ),
        ));
    }
    if meta.uid() != dir_uid {
        return Err(invalid(
            &path,
            "the cache key and its directory have different owners",
        ));
    }
    let mut key = [0u8; KEY_BYTES];
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(&path)
        .map_err(|e| invalid(&path, e))?;
    let mut rest = Vec::new();
    file.read_exact(&mut key)
        .and_then(|()| file.read_to_end(&mut rest))
        .map_err(|e| invalid(&path, format!("cannot read the cache key: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid(&path, "the cache key is not 32 bytes"));
    }
    Ok(key)
}
