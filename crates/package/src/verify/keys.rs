//! Package signing keys and key ids. ed25519-dalek stays behind these newtypes.

use std::fmt;

use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::verify::error::TrustPolicyError;

/// A key's id: the SHA-256 of its 32-byte ed25519 public key. Shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The id from its 32 bytes (as found in a signature section).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its 32 bytes.
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A trusted publisher's ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// The key from its 32 bytes; refused if they are not a valid ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, TrustPolicyError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| TrustPolicyError::InvalidPublicKey {
                key_id: key_id_of(bytes),
            })
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Its id: SHA-256 of its bytes.
    pub fn key_id(&self) -> KeyId {
        key_id_of(self.0.as_bytes())
    }

    /// Strict ed25519 verification (no malleable or small-order signatures).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// What a public key is for, as its key file (or `trust.keys` entry) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// A publisher's release key.
    Release,
    /// A development key (`palisade keygen --dev`): signs examples and local builds;
    /// its secret sits in a build directory, so lockdown refuses to trust it.
    Development,
}

/// The prefix that marks a development key in a `.pub` file or a `trust.keys` entry.
pub const DEVELOPMENT_KEY_PREFIX: &str = "dev:";

/// A public key's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyTextError {
    /// No key line at all.
    #[error("no key: expected 64 hex digits, optionally after `dev:`")]
    Missing,
    /// A line that is not a key, a `#` comment or blank.
    #[error("line {line}: expected 64 hex digits, optionally after `dev:`")]
    Malformed {
        /// 1-based line number.
        line: usize,
    },
    /// A second key line.
    #[error("line {line}: a second key; one key per file")]
    MoreThanOne {
        /// 1-based line number.
        line: usize,
    },
    /// 64 hex digits that are not an ed25519 public key.
    #[error("key {key_id} is not a valid ed25519 public key")]
    NotAKey {
        /// The id of the bytes given.
        key_id: KeyId,
    },
}

impl PublicKey {
    /// Reads a public key as `palisade keygen` writes it (`NAME.pub`) or as a
    /// `trust.keys` entry: 64 hex digits (either case), prefixed by
    /// [`DEVELOPMENT_KEY_PREFIX`] for a development key. Blank lines and lines
    /// starting with `#` are ignored; there must be exactly one key line.
    pub fn parse_text(text: &str) -> Result<(Self, KeyKind), KeyTextError> {
        let mut found = None;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if found.is_some() {
                return Err(KeyTextError::MoreThanOne { line: index + 1 });
            }
            let (kind, digits) = match line.strip_prefix(DEVELOPMENT_KEY_PREFIX) {
                Some(rest) => (KeyKind::Development, rest),
                None => (KeyKind::Release, line),
            };
            let bytes = crate::verify::parse_sha256(&digits.to_ascii_lowercase())
                .ok_or(KeyTextError::Malformed { line: index + 1 })?;
            let key = Self::from_bytes(&bytes).map_err(|_| KeyTextError::NotAKey {
                key_id: key_id_of(&bytes),
            })?;
            found = Some((key, kind));
        }
        found.ok_or(KeyTextError::Missing)
    }

    /// The key as one line of a `.pub` file or a `trust.keys` entry (no newline).
    pub fn to_text(&self, kind: KeyKind) -> String {
        let digits = hex::encode(self.to_bytes());
        match kind {
            KeyKind::Release => digits,
            KeyKind::Development => format!("{DEVELOPMENT_KEY_PREFIX}{digits}"),
        }
    }
}

/// A publisher's ed25519 signing key, for [`sign_package`](crate::verify::sign_package)
/// and [`add_signature`](crate::verify::add_signature). `Debug` shows its key id only;
/// no error ever carries its bytes.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// The key from its 32-byte secret seed.
    pub fn from_bytes(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// Its public half, to put in a [`TrustPolicy`](crate::verify::TrustPolicy).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The id of its public half.
    pub fn key_id(&self) -> KeyId {
        self.public_key().key_id()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// A new key from the operating system's random number generator.
    pub fn generate() -> Result<Self, SecretKeyError> {
        // The seed is wiped when dropped, on every path.
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut_slice())
            .map_err(|e| SecretKeyError::NoRandomness(e.to_string()))?;
        Ok(Self::from_bytes(&seed))
    }

    /// Reads a secret key file as [`to_secret_text`](Self::to_secret_text) writes
    /// it: 64 hex digits, surrounding whitespace ignored. The error never quotes the
    /// text, and a partly decoded seed is wiped.
    pub fn from_secret_text(text: &[u8]) -> Result<Self, SecretKeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim_ascii(), seed.as_mut_slice())
            .map_err(|_| SecretKeyError::Malformed)?;
        Ok(Self::from_bytes(&seed))
    }

    /// The secret key file's text (`palisade keygen`'s `NAME.key`): the seed as 64
    /// lowercase hex digits and a newline, wiped when dropped. Write it owner-only.
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.0.to_bytes());
        let mut text = Zeroizing::new(hex::encode(seed.as_slice()));
        text.push('\n');
        text
    }

    /// The public key file's text (`palisade keygen`'s `NAME.pub`): the key line,
    /// after a comment naming the key id when it is a development key.
    pub fn public_text(&self, kind: KeyKind) -> String {
        let line = self.public_key().to_text(kind);
        match kind {
            KeyKind::Development => format!(
                "# palisade DEVELOPMENT key {}: lockdown refuses to trust it\n{line}\n",
                self.key_id()
            ),
            KeyKind::Release => format!("{line}\n"),
        }
    }
}

/// A secret key could not be made or read. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// The text is not 64 hex digits.
    #[error("not a secret key (expected 64 hex digits)")]
    Malformed,
    /// The operating system gave no randomness.
    #[error("cannot get randomness from the OS: {0}")]
    NoRandomness(String),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.key_id())
    }
}

fn key_id_of(public: &[u8; 32]) -> KeyId {
    KeyId(Sha256::digest(public).into())
}
