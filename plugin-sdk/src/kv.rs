//! Capability `kv` (`palisade:plugin/kv`): a small key-value store private to this
//! plugin and shared by all its instances, with a byte quota.
//!
//! Instances run concurrently, so a read-modify-write must use
//! [`compare_and_swap`] in a retry loop:
//!
//! ```no_run
//! use palisade_sdk::kv;
//!
//! /// Adds one to a little-endian u64 counter; `None` when contention persists.
//! fn increment(key: &str) -> Result<Option<u64>, kv::KvError> {
//!     for _ in 0..8 {
//!         let old = kv::get(key);
//!         let n = old
//!             .as_deref()
//!             .and_then(|b| <[u8; 8]>::try_from(b).ok())
//!             .map_or(0, u64::from_le_bytes);
//!         if kv::compare_and_swap(key, old.as_deref(), &(n + 1).to_le_bytes())? {
//!             return Ok(Some(n + 1));
//!         }
//!     }
//!     Ok(None)
//! }
//! ```

use std::fmt;

use crate::bindings::palisade::plugin::kv as wit;

/// Why the store refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvError {
    /// The plugin's quota of key plus value bytes would be exceeded.
    QuotaExceeded,
    /// The key or value is larger than the per-entry bound.
    TooLarge,
}

impl KvError {
    /// The error's name in the WIT contract, e.g. `quota-exceeded`.
    pub fn name(self) -> &'static str {
        match self {
            Self::QuotaExceeded => "quota-exceeded",
            Self::TooLarge => "too-large",
        }
    }

    fn from_wit(error: wit::KvError) -> Self {
        match error {
            wit::KvError::QuotaExceeded => Self::QuotaExceeded,
            wit::KvError::TooLarge => Self::TooLarge,
        }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::QuotaExceeded => "kv quota exceeded",
            Self::TooLarge => "kv key or value too large",
        })
    }
}

impl std::error::Error for KvError {}

/// The value of `key`.
pub fn get(key: &str) -> Option<Vec<u8>> {
    wit::get(key)
}

/// Stores `value` under `key`.
pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
    wit::set(key, value).map_err(KvError::from_wit)
}

/// Removes `key`; true when it was there.
pub fn delete(key: &str) -> bool {
    wit::delete(key)
}

/// Stores `new` under `key` only if the current value equals `expected` (`None`:
/// only if `key` is absent). Returns whether it stored.
pub fn compare_and_swap(key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, KvError> {
    wit::compare_and_swap(key, expected, new).map_err(KvError::from_wit)
}
