//! # Palisade packages
//!
//! Everything about a plugin that can be checked before it runs, with no
//! WebAssembly runtime and no async runtime: reading its bytes within bounds
//! ([`load`]); the signed package format, its manifest and keys, and verification
//! against an operator's trust policy, ed25519 k-of-n and sigstore bundles
//! ([`verify`]); and the check of a component's imports against its grants
//! ([`policy`]). Each stage hands the next a value only it can make: [`load::Loaded`],
//! [`verify::Verified`], [`policy::Authorized`].
//!
//! The runtime (`palisade-host`), the `palisade` CLI's `keygen`, `sign`, `verify` and
//! `inspect`, the fuzzer and the test fixtures' build script all use this crate, so
//! the format is written once.
//!
//! Features: `sigstore` (default) verifies sigstore bundles offline; without it a
//! bundle is read but never counts toward a trust policy.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "unit tests"))]

pub mod error;
mod format;
pub mod load;
pub mod policy;
pub mod verify;

pub use crate::error::{
    LoadError, PackageError, PolicyError, SigstoreFailure, TrustError, TrustPolicyError,
    VerifyError,
};
