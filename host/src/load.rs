//! Stage 1, **load**: bytes in, bounded. The only module that reads files.

use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::LoadError;

/// The largest component the host reads. Example plugins are 40–200 KB; a bound well
/// above that keeps a hostile or corrupt file from making the host allocate at will.
pub const MAX_COMPONENT_BYTES: u64 = 32 * 1024 * 1024;

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
    /// [`TrustPolicy`](crate::TrustPolicy) before anything else.
    Package(PathBuf),
    /// A signed package already in memory.
    PackageBytes(Vec<u8>),
}

/// Whether loaded bytes are a bare component or a package to verify first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Component,
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

/// A plugin's bytes, read and bounded, with their SHA-256 digest.
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) sha256: [u8; 32],
    pub(crate) kind: SourceKind,
}

/// Reads the plugin named `name` from `source`, refusing anything over
/// [`MAX_COMPONENT_BYTES`] (or [`MAX_PACKAGE_BYTES`](crate::verify::MAX_PACKAGE_BYTES)
/// for a package).
pub(crate) fn load(name: &str, source: PluginSource) -> Result<Loaded, LoadError> {
    validate_name(name)?;
    let package_limit = crate::verify::MAX_PACKAGE_BYTES;
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

#[expect(
    clippy::disallowed_methods,
    reason = "the load stage is the one place that reads plugin files, and it bounds what it reads"
)]
fn read_bounded(name: &str, path: PathBuf, limit: u64) -> Result<Vec<u8>, LoadError> {
    let io_error = |source| LoadError::Io {
        plugin: name.to_owned(),
        path: path.clone(),
        source,
    };
    let file = std::fs::File::open(&path).map_err(io_error)?;
    // A regular file's size is known before reading: an oversized one is refused
    // without reading (or allocating) any of it.
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_file() && metadata.len() > limit {
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
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
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

/// Reads the operator's configuration file, refusing anything over `limit` bytes.
#[expect(
    clippy::disallowed_methods,
    reason = "the load stage reads files; the operator's config is one, bounded"
)]
pub(crate) fn read_config(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "over the limit of {limit} bytes"
        )));
    }
    Ok(bytes)
}
