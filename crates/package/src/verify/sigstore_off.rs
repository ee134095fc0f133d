//! Sigstore bundles when this crate is built without its `sigstore` feature: a
//! bundle in a package is read as unreadable, and a trust root cannot be made, so
//! no bundle ever counts toward a trust policy. Ed25519 signatures are unaffected.

use std::fmt;

use super::identity::{BundleSigner, SignerIdentity};
use crate::verify::error::VerifyError;
use crate::verify::error::{PackageError, TrustPolicyError};

/// The largest `trusted_root.json` read (the public instance's is about 10 KiB).
pub const MAX_TRUST_ROOT_BYTES: u64 = 1024 * 1024;

const NOT_BUILT: &str = "this build has no sigstore support (the `sigstore` cargo feature \
                         of palisade-package is off)";

/// A value that cannot exist: without the feature, neither a trust root nor a
/// parsed bundle can be made.
#[derive(Clone, Copy)]
enum Never {}

/// A sigstore trust root; without the `sigstore` feature, [`from_json`](Self::from_json)
/// always refuses.
#[derive(Clone)]
pub struct SigstoreTrustRoot(Never);

impl SigstoreTrustRoot {
    /// Always refused: this build cannot verify sigstore bundles.
    pub fn from_json(_bytes: &[u8]) -> Result<Self, TrustPolicyError> {
        Err(TrustPolicyError::InvalidTrustRoot {
            reason: NOT_BUILT.into(),
        })
    }

    /// Whether the root lists CT logs.
    pub fn checks_sct(&self) -> bool {
        match self.0 {}
    }
}

impl fmt::Debug for SigstoreTrustRoot {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {}
    }
}

/// A bundle read from a package: never, in this build.
pub(crate) struct ParsedBundle {
    pub(crate) signer: SignerIdentity,
    pub(crate) log_index: Option<u64>,
    never: Never,
}

impl ParsedBundle {
    /// The SHA-256 the bundle says it signs.
    pub(crate) fn message_digest(&self) -> Option<[u8; 32]> {
        match self.never {}
    }
}

/// Refuses every bundle as unreadable in this build.
pub(crate) fn parse_bundle(offset: usize, _json: &[u8]) -> Result<ParsedBundle, VerifyError> {
    Err(VerifyError::Package(PackageError::BundleMalformed {
        offset,
        reason: NOT_BUILT.into(),
    }))
}

/// Unreachable: no trust root exists in this build.
pub(crate) fn verify_bundle(
    root: &SigstoreTrustRoot,
    _artifact: &[u8],
    _parsed: &ParsedBundle,
    _offset: usize,
) -> Result<BundleSigner, VerifyError> {
    match root.0 {}
}
