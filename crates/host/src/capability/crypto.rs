//! Capability `crypto`: HMAC-SHA256 and Ed25519 with host-held keys, by name.
//!
//! The [`KeyRing`] belongs to the host. A plugin names a key; the host looks it up in
//! the plugin's grant and does the arithmetic. Key bytes never enter the guest, and
//! neither `Debug` nor any error prints them.

use palisade_types::bounds::MAX_CRYPTO_INPUT_BYTES;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::{HasData, Linker};
use zeroize::Zeroizing;

use super::bindings::palisade::plugin::crypto as generated;
use crate::error::HostError;
use crate::instance::state::PluginState;
use palisade_types::KeyUse;

/// A host-held key. Secrets are wiped when dropped: the HMAC secret by
/// [`Zeroizing`], the Ed25519 signing key by ed25519-dalek itself (its `zeroize`
/// feature, on by default, makes `SigningKey` wipe its seed on drop).
enum HostKey {
    Hmac(Zeroizing<Vec<u8>>),
    Ed25519(SigningKey),
    Ed25519Public(VerifyingKey),
}

/// The host's named keys. Plugins see names only.
#[derive(Default)]
pub struct KeyRing {
    keys: HashMap<String, HostKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.keys.keys().collect();
        names.sort();
        f.debug_struct("KeyRing")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, name: String, key: HostKey) -> Result<(), HostError> {
        if self.keys.contains_key(&name) {
            return Err(HostError::DuplicateKey { name });
        }
        self.keys.insert(name, key);
        Ok(())
    }

    /// Adds an HMAC-SHA256 secret under `name`.
    pub fn add_hmac_key(
        &mut self,
        name: impl Into<String>,
        secret: &[u8],
    ) -> Result<(), HostError> {
        self.insert(name.into(), HostKey::Hmac(Zeroizing::new(secret.to_vec())))
    }

    /// Adds an Ed25519 signing key (32-byte seed) under `name`.
    pub fn add_ed25519_signing_key(
        &mut self,
        name: impl Into<String>,
        seed: &[u8; 32],
    ) -> Result<(), HostError> {
        self.insert(name.into(), HostKey::Ed25519(SigningKey::from_bytes(seed)))
    }

    /// Adds an Ed25519 public key (verify only) under `name`.
    pub fn add_ed25519_public_key(
        &mut self,
        name: impl Into<String>,
        public: &[u8; 32],
    ) -> Result<(), HostError> {
        let key = VerifyingKey::from_bytes(public).map_err(|e| HostError::InvalidSetting {
            setting: "ed25519 public key",
            reason: e.to_string(),
        })?;
        self.insert(name.into(), HostKey::Ed25519Public(key))
    }

    /// Whether a key of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.keys.contains_key(name)
    }
}

/// A plugin's keys: the host's key ring seen through the plugin's grant.
pub(crate) struct PluginKeys {
    pub(crate) ring: Arc<KeyRing>,
    pub(crate) granted: BTreeMap<String, KeyUse>,
}

impl PluginKeys {
    fn key(&self, name: &str, signing: bool) -> Result<&HostKey, generated::CryptoError> {
        // A key outside the grant looks exactly like a key that does not exist, so a
        // plugin cannot probe the key ring for names.
        let usage = self
            .granted
            .get(name)
            .ok_or(generated::CryptoError::UnknownKey)?;
        if signing && *usage == KeyUse::Verify {
            return Err(generated::CryptoError::NotPermitted);
        }
        self.ring
            .keys
            .get(name)
            .ok_or(generated::CryptoError::UnknownKey)
    }
}

fn hmac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac())
}

#[expect(clippy::panic, reason = "HMAC accepts every key length")]
fn unreachable_hmac() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 refused a key length")
}

/// The view `crypto` functions run on.
pub(crate) struct CryptoView<'a> {
    keys: Option<&'a PluginKeys>,
}

impl CryptoView<'_> {
    fn key(
        &self,
        name: &str,
        signing: bool,
        data: &[u8],
    ) -> Result<&HostKey, generated::CryptoError> {
        if data.len() > MAX_CRYPTO_INPUT_BYTES {
            return Err(generated::CryptoError::NotPermitted);
        }
        self.keys
            .ok_or(generated::CryptoError::UnknownKey)?
            .key(name, signing)
    }
}

impl generated::Host for CryptoView<'_> {
    fn hmac_sha256(
        &mut self,
        key: String,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, generated::CryptoError> {
        match self.key(&key, true, &data)? {
            HostKey::Hmac(secret) => {
                let mut mac = hmac(secret);
                mac.update(&data);
                Ok(mac.finalize().into_bytes().to_vec())
            }
            _ => Err(generated::CryptoError::WrongKeyKind),
        }
    }

    fn hmac_sha256_verify(
        &mut self,
        key: String,
        data: Vec<u8>,
        tag: Vec<u8>,
    ) -> Result<bool, generated::CryptoError> {
        match self.key(&key, false, &data)? {
            HostKey::Hmac(secret) => {
                let mut mac = hmac(secret);
                mac.update(&data);
                // `verify_slice` compares in constant time.
                Ok(mac.verify_slice(&tag).is_ok())
            }
            _ => Err(generated::CryptoError::WrongKeyKind),
        }
    }

    fn ed25519_sign(
        &mut self,
        key: String,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, generated::CryptoError> {
        match self.key(&key, true, &data)? {
            HostKey::Ed25519(signing) => Ok(signing.sign(&data).to_bytes().to_vec()),
            HostKey::Ed25519Public(_) => Err(generated::CryptoError::NotPermitted),
            HostKey::Hmac(_) => Err(generated::CryptoError::WrongKeyKind),
        }
    }

    fn ed25519_verify(
        &mut self,
        key: String,
        data: Vec<u8>,
        signature: Vec<u8>,
    ) -> Result<bool, generated::CryptoError> {
        let public = match self.key(&key, false, &data)? {
            HostKey::Ed25519(signing) => signing.verifying_key(),
            HostKey::Ed25519Public(public) => *public,
            HostKey::Hmac(_) => return Err(generated::CryptoError::WrongKeyKind),
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&signature) else {
            return Ok(false);
        };
        Ok(public.verify(&data, &signature).is_ok())
    }
}

struct HasCrypto;

impl HasData for HasCrypto {
    type Data<'a> = CryptoView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasCrypto>(linker, |state| CryptoView {
        keys: state.shared.keys.as_ref(),
    })
}

#[cfg(test)]
mod tests {
    use super::generated::{CryptoError, Host as _};
    use super::*;

    fn keys(granted: &[(&str, KeyUse)]) -> PluginKeys {
        let mut ring = KeyRing::new();
        ring.add_hmac_key("mac", b"secret").unwrap();
        ring.add_ed25519_signing_key("signer", &[7; 32]).unwrap();
        PluginKeys {
            ring: Arc::new(ring),
            granted: granted.iter().map(|(k, u)| ((*k).to_owned(), *u)).collect(),
        }
    }

    #[test]
    fn keys_outside_the_grant_look_like_missing_keys() {
        let keys = keys(&[("mac", KeyUse::Verify)]);
        let mut view = CryptoView { keys: Some(&keys) };
        assert_eq!(
            view.ed25519_sign("signer".into(), vec![]),
            Err(CryptoError::UnknownKey)
        );
        assert_eq!(
            view.hmac_sha256("nope".into(), vec![]),
            Err(CryptoError::UnknownKey)
        );
    }

    #[test]
    fn verify_only_grants_cannot_sign() {
        let keys = keys(&[("mac", KeyUse::Verify), ("signer", KeyUse::Verify)]);
        let mut view = CryptoView { keys: Some(&keys) };
        assert_eq!(
            view.hmac_sha256("mac".into(), vec![]),
            Err(CryptoError::NotPermitted)
        );
        assert_eq!(
            view.ed25519_sign("signer".into(), vec![]),
            Err(CryptoError::NotPermitted)
        );
    }

    #[test]
    fn sign_then_verify_round_trips_and_kinds_are_checked() {
        let keys = keys(&[
            ("mac", KeyUse::SignAndVerify),
            ("signer", KeyUse::SignAndVerify),
        ]);
        let mut view = CryptoView { keys: Some(&keys) };
        let tag = view.hmac_sha256("mac".into(), b"m".to_vec()).unwrap();
        assert_eq!(
            view.hmac_sha256_verify("mac".into(), b"m".to_vec(), tag.clone()),
            Ok(true)
        );
        assert_eq!(
            view.hmac_sha256_verify("mac".into(), b"x".to_vec(), tag),
            Ok(false)
        );
        let sig = view.ed25519_sign("signer".into(), b"m".to_vec()).unwrap();
        assert_eq!(
            view.ed25519_verify("signer".into(), b"m".to_vec(), sig),
            Ok(true)
        );
        assert_eq!(
            view.ed25519_sign("mac".into(), vec![]),
            Err(CryptoError::WrongKeyKind)
        );
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let keys = keys(&[]);
        let debug = format!("{:?}", keys.ring);
        assert!(
            debug.contains("mac") && !debug.contains("secret"),
            "{debug}"
        );
    }
}
