//! Stage 1, **load**: bytes in, bounded. The only module that reads files.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::format::MAX_COMPONENT_BYTES;

mod error;
pub use self::error::LoadError;

/// Longest plugin name. Names appear in logs, metrics and errors.
pub const MAX_PLUGIN_NAME_BYTES: usize = 64;

/// Where a plugin's component comes from.
#[derive(Clone)]
pub enum PluginSource {
    /// A `.wasm` component file.
    File(PathBuf),
    /// Component bytes already in memory.
    Bytes(Vec<u8>),
    /// A signed package file, checked against the spec's
    /// [`TrustPolicy`](crate::verify::TrustPolicy) before anything else.
    Package(PathBuf),
    /// A signed package already in memory.
    PackageBytes(Vec<u8>),
}

/// Whether loaded bytes are a bare component or a package to verify first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A bare component.
    Component,
    /// A signed package, to verify before anything else.
    Package,
}

impl std::fmt::Debug for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Self::Package(path) => f.debug_tuple("Package").field(path).finish(),
            Self::PackageBytes(bytes) => write!(f, "PackageBytes({} bytes)", bytes.len()),
        }
    }
}

/// A plugin's bytes, read and bounded, with their SHA-256 digest; made only by
/// [`load`] (and, for a package's component, by verification).
pub struct Loaded {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) sha256: [u8; 32],
    pub(crate) kind: SourceKind,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Loaded {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bytes read.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Their SHA-256 digest.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// A component, or a package still to verify.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }
}

/// Reads the plugin named `name` from `source`, refusing anything over
/// [`MAX_COMPONENT_BYTES`] (or [`MAX_PACKAGE_BYTES`](crate::format::MAX_PACKAGE_BYTES)
/// for a package).
pub fn load(name: &str, source: PluginSource) -> Result<Loaded, LoadError> {
    validate_name(name)?;
    let package_limit = crate::format::MAX_PACKAGE_BYTES;
    let (bytes, kind) = match source {
        PluginSource::Bytes(bytes) => (
            bounded(name, bytes, MAX_COMPONENT_BYTES)?,
            SourceKind::Component,
        ),
        PluginSource::File(path) => (
            read_bounded(name, path, MAX_COMPONENT_BYTES)?,
            SourceKind::Component,
        ),
        PluginSource::PackageBytes(bytes) => {
            (bounded(name, bytes, package_limit)?, SourceKind::Package)
        }
        PluginSource::Package(path) => (
            read_bounded(name, path, package_limit)?,
            SourceKind::Package,
        ),
    };
    let sha256 = Sha256::digest(&bytes).into();
    tracing::debug!(plugin = name, bytes = bytes.len(), "loaded");
    Ok(Loaded {
        name: name.to_owned(),
        bytes,
        sha256,
        kind,
    })
}

fn bounded(name: &str, bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, LoadError> {
    if bytes.len() as u64 > limit {
        return Err(LoadError::TooLarge {
            plugin: name.to_owned(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

fn read_bounded(name: &str, path: PathBuf, limit: u64) -> Result<Vec<u8>, LoadError> {
    let io_error = |source| LoadError::Io {
        plugin: name.to_owned(),
        path: path.clone(),
        source,
    };
    let file = open_regular_file(&path).map_err(io_error)?;
    // A regular file's size is known before reading: an oversized one is refused
    // without reading (or allocating) any of it.
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.len() > limit {
        return Err(LoadError::TooLarge {
            plugin: name.to_owned(),
            size: metadata.len(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    // Read one byte past the bound so that "exactly at the bound" and "over it" differ,
    // without trusting the file's reported length (it may be a pipe or grow while read).
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    bounded(name, bytes, limit)
}

fn validate_name(name: &str) -> Result<(), LoadError> {
    match name_problem(name) {
        Some(reason) => Err(LoadError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Why `name` is not a usable plugin name, if it is not. Shared with package manifests.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty");
    }
    if name.len() > MAX_PLUGIN_NAME_BYTES {
        return Some("longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Some("use lowercase ASCII letters, digits, `-` and `_`");
    }
    None
}

/// Reads the operator's configuration file (or a PEM file it names), refusing
/// anything that is not a regular file, or over `limit` bytes.
pub fn read_config(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular_file(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "over the limit of {limit} bytes"
        )));
    }
    Ok(bytes)
}

/// Who may read a file that [`read_file`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Readers {
    /// Anyone the file's mode allows.
    Any,
    /// Its owner only: a file its group or others may read is refused (a secret key).
    OwnerOnly,
}

/// Reads `path`, at most `limit` bytes, refusing anything but a regular file before
/// opening it for reading (see [`open_regular_file`]) and a file over `limit`
/// without reading it. With [`Readers::OwnerOnly`], refuses a file its group or
/// others may read, checked on the opened file. Errors never quote the contents.
pub fn read_file(path: &Path, limit: u64, readers: Readers) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = open_regular_file(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions());
    if readers == Readers::OwnerOnly && mode & 0o077 != 0 {
        return Err(ReadError::NotPrivate {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    let too_large = |size| ReadError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    // A regular file's size is known before reading; `take` still bounds what a file
    // growing meanwhile can make us hold.
    if metadata.len() > limit {
        return Err(too_large(metadata.len()));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// A file could not be read by [`read_file`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// It could not be opened or read, or is not a regular file. The operating
    /// system's error is this error's source.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// It is larger than the bound.
    #[error("{} is {size} bytes, larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or a lower bound, when reading stopped early).
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// It must be private (a secret key), but its group or others may read it.
    #[error(
        "{} has mode {mode:04o}: a secret key must not be readable by group or others (chmod 600 it)",
        path.display()
    )]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Opens `path` for reading if, and only if, it is a regular file (symbolic links
/// followed); anything else is refused with [`std::io::ErrorKind::InvalidInput`] and
/// a message naming what it is, before it is opened for reading.
///
/// Why: opening a FIFO for reading blocks until a writer comes, and reading a device
/// (`/dev/zero`, a terminal) or a directory never yields a package. The path is
/// checked first, so nothing but a regular file is opened at all; it is then opened
/// with `O_NONBLOCK` (which changes nothing for a regular file, and keeps a FIFO
/// swapped in between the two steps from blocking the open) and `O_NOCTTY`, and the
/// opened file is checked again. A file system that hangs (a dead NFS server) can
/// still block the calls: the host does its file I/O on tokio's blocking pool,
/// never on an async worker.
pub fn open_regular_file(path: &Path) -> std::io::Result<File> {
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(not_regular(before.file_type()));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let after = file.metadata()?;
    if !after.is_file() {
        return Err(not_regular(after.file_type()));
    }
    Ok(file)
}

fn not_regular(kind: std::fs::FileType) -> std::io::Error {
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "of another kind"
    };
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file (it is {what}); give the path of a file"),
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_file(name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("palisade-read-file-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn read_file_bounds_and_checks_the_mode() {
        let private = temp_file("private", b"secret", 0o600);
        assert_eq!(
            read_file(&private, 6, Readers::OwnerOnly).unwrap(),
            b"secret"
        );
        assert!(matches!(
            read_file(&private, 5, Readers::Any),
            Err(ReadError::TooLarge {
                size: 6,
                limit: 5,
                ..
            })
        ));
        let shared = temp_file("shared", b"secret", 0o640);
        assert_eq!(read_file(&shared, 6, Readers::Any).unwrap(), b"secret");
        let error = read_file(&shared, 6, Readers::OwnerOnly).unwrap_err();
        assert!(
            matches!(error, ReadError::NotPrivate { mode: 0o640, .. }),
            "{error}"
        );
        // The OS error is the source, not part of the message.
        let error = read_file(Path::new("/dev/null"), 6, Readers::Any).unwrap_err();
        let ReadError::Io { source, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(error.to_string(), "cannot read /dev/null");
        let _ = std::fs::remove_file(private);
        let _ = std::fs::remove_file(shared);
    }
}
