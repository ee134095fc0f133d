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
}

impl std::fmt::Debug for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
        }
    }
}

/// A plugin's bytes, read and bounded, with their SHA-256 digest.
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) sha256: [u8; 32],
}

/// Reads the plugin named `name` from `source`, refusing anything over
/// [`MAX_COMPONENT_BYTES`].
pub(crate) fn load(name: &str, source: PluginSource) -> Result<Loaded, LoadError> {
    validate_name(name)?;
    let bytes = match source {
        PluginSource::Bytes(bytes) => {
            if bytes.len() as u64 > MAX_COMPONENT_BYTES {
                return Err(LoadError::TooLarge {
                    plugin: name.to_owned(),
                    size: bytes.len() as u64,
                    limit: MAX_COMPONENT_BYTES,
                });
            }
            bytes
        }
        PluginSource::File(path) => read_bounded(name, path)?,
    };
    let sha256 = Sha256::digest(&bytes).into();
    tracing::debug!(plugin = name, bytes = bytes.len(), "loaded");
    Ok(Loaded {
        name: name.to_owned(),
        bytes,
        sha256,
    })
}

#[expect(
    clippy::disallowed_methods,
    reason = "the load stage is the one place that reads plugin files, and it bounds what it reads"
)]
fn read_bounded(name: &str, path: PathBuf) -> Result<Vec<u8>, LoadError> {
    let io_error = |source| LoadError::Io {
        plugin: name.to_owned(),
        path: path.clone(),
        source,
    };
    let file = std::fs::File::open(&path).map_err(io_error)?;
    let mut bytes = Vec::new();
    // Read one byte past the bound so that "exactly at the bound" and "over it" differ,
    // without trusting the file's reported length (it may be a pipe or grow while read).
    file.take(MAX_COMPONENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_COMPONENT_BYTES {
        return Err(LoadError::TooLarge {
            plugin: name.to_owned(),
            size: bytes.len() as u64,
            limit: MAX_COMPONENT_BYTES,
        });
    }
    Ok(bytes)
}

fn validate_name(name: &str) -> Result<(), LoadError> {
    let invalid = |reason| {
        Err(LoadError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name.len() > MAX_PLUGIN_NAME_BYTES {
        return invalid("longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return invalid("use lowercase ASCII letters, digits, `-` and `_`");
    }
    Ok(())
}
