//! The call's headers.

use std::fmt;
use std::marker::PhantomData;

use crate::bindings::palisade::plugin::metadata as wit;

/// Why the host refused a metadata change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataError {
    /// The name is reserved by the host: peer identity (`x-palisade-*`), transport
    /// and framing headers.
    Reserved,
    /// Not a valid header name (names are lowercase ASCII tokens).
    InvalidName,
    /// Not a valid header value.
    InvalidValue,
    /// The change would exceed a per-call bound (entries, value size or total size).
    LimitExceeded,
}

impl MetadataError {
    /// The error's name in the WIT contract, e.g. `invalid-name`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::InvalidName => "invalid-name",
            Self::InvalidValue => "invalid-value",
            Self::LimitExceeded => "limit-exceeded",
        }
    }

    fn from_wit(error: wit::MetadataError) -> Self {
        match error {
            wit::MetadataError::Reserved => Self::Reserved,
            wit::MetadataError::InvalidName => Self::InvalidName,
            wit::MetadataError::InvalidValue => Self::InvalidValue,
            wit::MetadataError::LimitExceeded => Self::LimitExceeded,
        }
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Reserved => "header name is reserved by the host",
            Self::InvalidName => "invalid header name",
            Self::InvalidValue => "invalid header value",
            Self::LimitExceeded => "per-call metadata limit exceeded",
        })
    }
}

impl std::error::Error for MetadataError {}

/// The running hook's metadata (gRPC metadata or HTTP headers), valid for that hook
/// only (the lifetime keeps it there).
///
/// Names are case-insensitive and come back lowercase. Each call asks the host about
/// the one name it gives, so a hook pays only for what it touches. Changes take effect
/// when the hook returns [`Decision::Continue`](crate::Decision::Continue).
pub struct Metadata<'a> {
    hook: PhantomData<&'a ()>,
}

impl Metadata<'_> {
    pub(crate) fn new() -> Self {
        Self { hook: PhantomData }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        wit::get(name)
    }

    /// Whether `name` is present. Cheaper than [`get`](Self::get) when the value does
    /// not matter: nothing is copied into the plugin.
    pub fn contains(&self, name: &str) -> bool {
        wit::contains(name)
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        wit::get_all(name)
    }

    /// The distinct names present.
    pub fn keys(&self) -> Vec<String> {
        wit::keys()
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), MetadataError> {
        wit::set(name, value).map_err(MetadataError::from_wit)
    }

    /// Adds a value to `name`, keeping the existing ones.
    pub fn append(&mut self, name: &str, value: &str) -> Result<(), MetadataError> {
        wit::append(name, value).map_err(MetadataError::from_wit)
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) -> Result<(), MetadataError> {
        wit::remove(name).map_err(MetadataError::from_wit)
    }
}

impl fmt::Debug for Metadata<'_> {
    /// Opaque: formatting does not call the host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata").finish_non_exhaustive()
    }
}
