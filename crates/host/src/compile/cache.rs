//! The on-disk compiled cache: native code for a component, keyed by the verified
//! component's SHA-256 and the engine's configuration, authenticated with a key
//! only the host holds.
//!
//! Loading native code is `unsafe`: wasmtime runs whatever the artifact contains.
//! So an entry is used only if its HMAC-SHA256, under a 32-byte key the host made,
//! matches; anything else (a swapped, truncated or foreign file) is refused, counted,
//! and recompiled from the verified component.
//!
//! Native code must come only from this host, so the cache is opened like ssh opens
//! `~/.ssh`, and refused when the host starts unless:
//! - the directory is owned by the process's effective uid, is not a symbolic link,
//!   and is not writable by group or others (it is created 0700);
//! - every directory above it is owned by root or by the process's uid and is not
//!   writable by group or others, unless it has the sticky bit (`/tmp`): otherwise
//!   whoever can write a parent can swap the cache for their own;
//! - the key is a regular file owned by the process's uid, mode 0600, 32 bytes.
//!
//! The key lives *beside* the directory the entries live in, as `<dir>.key` in the
//! parent, never inside it: a directory that is copied in whole (a shared volume, a
//! restored CI cache, a backup) brings its entries but not the key that makes them
//! run, so they fail authentication and are recompiled. A `key` file inside the
//! directory (the old layout) is ignored.
//!
//! The directory and the parent are opened once, with `O_DIRECTORY | O_NOFOLLOW`,
//! and every entry and the key are reached with `openat` from those descriptors, so
//! a path swapped after the checks is never followed.
//!
//! Layout: `<parent>/<dir>.key`, and one `<component sha256>-<engine hash>.cwasm`
//! per entry in `<dir>`, holding `MAGIC`, the 32-byte tag, then the artifact. The
//! tag covers the magic, the component digest, the engine hash and the artifact, so
//! an entry cannot be renamed onto another component or engine either.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use rustix::fs::{AtFlags, Mode, OFlags};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::HostError;

/// Starts every entry; a new layout gets a new magic.
const MAGIC: &[u8; 8] = b"PLSDCC01";
const TAG_BYTES: usize = 32;
const KEY_BYTES: usize = 32;
/// The largest entry read back. Example plugins compile to well under 10 MiB.
const MAX_ENTRY_BYTES: u64 = 256 << 20;
/// Group- and other-write bits.
const WRITABLE_BY_OTHERS: u32 = 0o022;
/// The sticky bit: in such a directory only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;

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
    /// For messages only: entries are reached through `dir_fd`.
    dir: PathBuf,
    /// The directory, opened with `O_DIRECTORY | O_NOFOLLOW` after its checks.
    dir_fd: OwnedFd,
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

/// `path` opened as a directory, never through a symbolic link in its last component.
fn open_dir(at: Option<&OwnedFd>, path: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(match at {
        Some(parent) => rustix::fs::openat(parent, path, flags, Mode::empty())?,
        None => rustix::fs::open(path, flags, Mode::empty())?,
    })
}

/// The metadata of an open descriptor (`fstat`).
fn fd_metadata(fd: &OwnedFd) -> std::io::Result<fs::Metadata> {
    File::from(fd.try_clone()?).metadata()
}

/// Refuses a directory above the cache that someone other than root or this process
/// could change: its owner, or anyone when it is writable by group or others without
/// the sticky bit, could rename the cache away and put their own in its place.
fn check_parent(dir: &Path, parent: &Path, meta: &fs::Metadata, uid: u32) -> Result<(), HostError> {
    if meta.uid() != 0 && meta.uid() != uid {
        return Err(invalid(
            dir,
            format!(
                "the parent directory {} is owned by uid {}, neither root nor this process \
                 (uid {uid}); its owner could replace the compiled cache",
                parent.display(),
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & WRITABLE_BY_OTHERS != 0 && mode & STICKY == 0 {
        return Err(invalid(
            dir,
            format!(
                "the parent directory {} is writable by others (mode {:o}, no sticky bit); \
                 whoever can write it could replace the compiled cache (chmod go-w)",
                parent.display(),
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

impl CompiledCache {
    /// Opens (creating it 0700 if absent) the cache in `dir` for `engine`, after the
    /// checks in the module's documentation.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, HostError> {
        let uid = rustix::process::geteuid().as_raw();
        let Some(name) = dir.file_name() else {
            return Err(invalid(
                dir,
                "not a directory name (it must end in a name, not `/` or `..`)",
            ));
        };
        let parent = match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if fs::symlink_metadata(parent).is_err() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| invalid(dir, format!("cannot create its parent: {e}")))?;
        }
        // Every directory from the root down to the parent, symbolic links resolved
        // (those above the cache are allowed; the cache itself may not be one).
        let parent = fs::canonicalize(parent)
            .map_err(|e| invalid(dir, format!("cannot resolve its parent: {e}")))?;
        for ancestor in parent.ancestors() {
            let meta = fs::symlink_metadata(ancestor)
                .map_err(|e| invalid(dir, format!("{}: {e}", ancestor.display())))?;
            check_parent(dir, ancestor, &meta, uid)?;
        }
        // Checked above, and only root or this process can change them: opening the
        // parent by its path is safe; from here on, everything is relative to it.
        let parent_fd = open_dir(None, &parent)
            .map_err(|e| invalid(dir, format!("cannot open its parent: {e}")))?;
        check_parent(
            dir,
            &parent,
            &fd_metadata(&parent_fd).map_err(|e| invalid(dir, e))?,
            uid,
        )?;
        match rustix::fs::mkdirat(&parent_fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::EXIST => {}
            Err(e) => return Err(invalid(dir, format!("cannot create: {e}"))),
        }
        let is_link =
            rustix::fs::statat(&parent_fd, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
            });
        if is_link {
            return Err(invalid(
                dir,
                "is a symbolic link; give the real directory (the compiled cache is never reached through a link)",
            ));
        }
        let dir_fd = open_dir(Some(&parent_fd), Path::new(name)).map_err(|e| {
            invalid(
                dir,
                format!("cannot open as a directory (symbolic links are refused): {e}"),
            )
        })?;
        let meta = fd_metadata(&dir_fd).map_err(|e| invalid(dir, e))?;
        if meta.uid() != uid {
            return Err(invalid(
                dir,
                format!(
                    "owned by uid {}, not by this process (uid {uid}); the compiled cache holds \
                     native code, so it must be the host's own (remove it and let the host \
                     create it, or chown it)",
                    meta.uid()
                ),
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & WRITABLE_BY_OTHERS != 0 {
            return Err(invalid(
                dir,
                format!(
                    "mode {mode:o} lets others write to it; the compiled cache holds native \
                     code, so only the host may write there (chmod 700)"
                ),
            ));
        }
        let mut key_name = name.to_owned();
        key_name.push(".key");
        let key = load_or_create_key(&parent_fd, &parent.join(&key_name), &key_name, uid)?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..16]);
        Ok(Self {
            dir: dir.to_owned(),
            dir_fd,
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

    /// The entry's file name in the directory.
    fn entry_name(&self, sha256: &[u8; 32]) -> String {
        format!("{}-{}.cwasm", hex::encode(sha256), self.engine_hash)
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
        let name = self.entry_name(sha256);
        let path = self.dir.join(&name);
        let bytes = match read_entry(&self.dir_fd, &name) {
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
                write_atomically(&self.dir_fd, &self.entry_name(sha256), &entry)
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

/// The entry `name` in `dir`: `None` when absent; an error when it is not a plain
/// file or cannot be read.
fn read_entry(dir: &OwnedFd, name: &str) -> std::io::Result<Option<Vec<u8>>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let file = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(e) if e == rustix::io::Errno::NOENT => return Ok(None),
        Err(e) if e == rustix::io::Errno::LOOP => {
            return Err(std::io::Error::other("a symbolic link, not a cache entry"));
        }
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes is over the bound of {MAX_ENTRY_BYTES}",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// A new 0600 file `name` in `dir`; fails if anything (a link included) is there.
fn create_new(dir: &OwnedFd, name: &OsStr) -> std::io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::openat(
        dir,
        name,
        flags,
        Mode::from_raw_mode(0o600),
    )?))
}

/// Writes `bytes` to a new 0600 file beside `name`, then renames it over `name`, so
/// a reader sees the old entry or the new one, never half of one.
fn write_atomically(dir: &OwnedFd, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = format!("{name}.tmp.{}.{}", std::process::id(), unique());
    let written = create_new(dir, OsStr::new(&tmp))
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| Ok(rustix::fs::renameat(dir, &tmp, dir, name)?));
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
    }
    written
}

/// A number unique within this process, for temporary file names.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The host's cache key, `name` in the directory `parent` (shown as `path`): read, or
/// made from the OS's random number generator and linked into place atomically, so
/// that concurrent hosts agree on one. It must be this process's own.
fn load_or_create_key(
    parent: &OwnedFd,
    path: &Path,
    name: &OsStr,
    uid: u32,
) -> Result<[u8; KEY_BYTES], HostError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || rustix::fs::openat(parent, name, flags, Mode::empty());
    let fd = match open() {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => {
            let mut key = [0u8; KEY_BYTES];
            getrandom::getrandom(&mut key)
                .map_err(|e| invalid(path, format!("no randomness for the cache key: {e}")))?;
            let mut tmp = name.to_owned();
            tmp.push(format!(".tmp.{}.{}", std::process::id(), unique()));
            let made = create_new(parent, &tmp)
                .and_then(|mut file| file.write_all(&key))
                .and_then(|()| {
                    Ok(rustix::fs::linkat(
                        parent,
                        &tmp,
                        parent,
                        name,
                        AtFlags::empty(),
                    )?)
                });
            let _ = rustix::fs::unlinkat(parent, &tmp, AtFlags::empty());
            match made {
                Ok(()) => {}
                // Another host linked its key first: use that one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(invalid(path, format!("cannot write the cache key: {e}"))),
            }
            open().map_err(|e| invalid(path, format!("cannot open the cache key: {e}")))?
        }
        Err(e) if e == rustix::io::Errno::LOOP => {
            return Err(invalid(path, "the cache key is a symbolic link"));
        }
        Err(e) => return Err(invalid(path, format!("cannot open the cache key: {e}"))),
    };
    let mut file = File::from(fd);
    let meta = file.metadata().map_err(|e| invalid(path, e))?;
    if !meta.is_file() {
        return Err(invalid(path, "the cache key is not a regular file"));
    }
    if meta.uid() != uid {
        return Err(invalid(
            path,
            format!(
                "the cache key is owned by uid {}, not by this process (uid {uid}); a key \
                 someone else made would let them sign native code for this host",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(invalid(
            path,
            format!(
                "mode {:o} lets others read or write the cache key (chmod 600)",
                meta.mode() & 0o777
            ),
        ));
    }
    let mut key = [0u8; KEY_BYTES];
    let mut rest = Vec::new();
    file.read_exact(&mut key)
        .and_then(|()| (&mut file).take(1).read_to_end(&mut rest))
        .map_err(|e| invalid(path, format!("cannot read the cache key: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid(path, "the cache key is not 32 bytes"));
    }
    Ok(key)
}
