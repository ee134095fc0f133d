//! One error type per stage of reading a plugin, each defined by its stage: its
//! bytes ([`LoadError`], `load`), its package and signatures ([`VerifyError`]: a
//! malformed [`PackageError`], a [`TrustError`] refusal, or an unusable
//! [`TrustPolicyError`], `verify`), and its imports and grants ([`PolicyError`],
//! `policy`).
//!
//! Every variant names its culprit (the plugin, the import, the bound) so that an
//! operator reading one line of a log knows what was refused and where.

pub use crate::load::LoadError;
pub use crate::policy::PolicyError;
pub use crate::verify::{PackageError, SigstoreFailure, TrustError, TrustPolicyError, VerifyError};
