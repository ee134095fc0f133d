//! Capability `crypto` (`palisade:plugin/crypto`): operations with host-held keys.
//!
//! Keys are named by the operator; their bytes never enter the plugin, and a plugin
//! can use only the key names it was granted.

use std::fmt;

use crate::bindings::palisade::plugin::crypto as wit;

/// Why the host refused a crypto operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoError {
    /// No key of that name was granted to this plugin.
    UnknownKey,
    /// The key exists but is of another kind (e.g. an HMAC key used for Ed25519).
    WrongKeyKind,
    /// The grant allows verifying with this key, not signing.
    NotPermitted,
}

impl CryptoError {
    /// The error's name in the WIT contract, e.g. `unknown-key`.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown-key",
            Self::WrongKeyKind => "wrong-key-kind",
            Self::NotPermitted => "not-permitted",
        }
    }

    fn from_wit(error: wit::CryptoError) -> Self {
        match error {
            wit::CryptoError::UnknownKey => Self::UnknownKey,
            wit::CryptoError::WrongKeyKind => Self::WrongKeyKind,
            wit::CryptoError::NotPermitted => Self::NotPermitted,
        }
    }
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownKey => "no key of that name was granted",
            Self::WrongKeyKind => "the key is of another kind",
            Self::NotPermitted => "the key is granted for verifying only",
        })
    }
}

impl std::error::Error for CryptoError {}

/// The HMAC-SHA256 tag of `data` under the key named `key`.
pub fn hmac_sha256(key: &str, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    wit::hmac_sha256(key, data).map_err(CryptoError::from_wit)
}

/// Checks, in constant time, that `tag` is the HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256_verify(key: &str, data: &[u8], tag: &[u8]) -> Result<bool, CryptoError> {
    wit::hmac_sha256_verify(key, data, tag).map_err(CryptoError::from_wit)
}

/// The Ed25519 signature of `data` with the key named `key`.
pub fn ed25519_sign(key: &str, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    wit::ed25519_sign(key, data).map_err(CryptoError::from_wit)
}

/// Checks an Ed25519 `signature` of `data` against the public half of `key`.
pub fn ed25519_verify(key: &str, data: &[u8], signature: &[u8]) -> Result<bool, CryptoError> {
    wit::ed25519_verify(key, data, signature).map_err(CryptoError::from_wit)
}
