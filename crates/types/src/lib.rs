//! # Palisade types
//!
//! The vocabulary the other Palisade crates share, and nothing that runs: what a
//! call is ([`CallInfo`]) and what plugins decide about it ([`Decision`],
//! [`Verdict`]); the capabilities an operator grants ([`Grants`]) and the
//! [`Limits`] a plugin runs under; the bounds of every call and capability
//! ([`bounds`]); how a hook call fails ([`CallError`], [`TrapKind`]); and
//! [`Untrusted`], for printing text that did not come from the host.
//!
//! It depends on no WebAssembly runtime, no async runtime and no RPC framework, so
//! that the package format, the tower layers and tools can name these types without
//! compiling a JIT.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "unit tests"))]

pub mod bounds;
mod call;
mod error;
mod grants;
pub mod grants_toml;
mod name;
pub mod route;
mod untrusted;

pub use crate::call::{
    CallInfo, Code, Decision, Direction, FailurePolicy, Hooks, Protocol, Reply, Verdict,
};
pub use crate::error::{CallError, TrapKind, WasmTrap, message_with_causes};
pub use crate::grants::{
    CONTRACT_VERSION, Capability, ClockGrant, ConfigGrant, CryptoGrant, Grants, INTERCEPTOR_EXPORT,
    KeyUse, KvGrant, Limits, LogGrant, MAX_CALL_TIMEOUT, MAX_CONCURRENCY, MAX_MEMORY_BYTES,
    MetricsGrant,
};
pub use crate::name::Name;
pub use crate::route::{Route, RouteError, Routes};
pub use crate::untrusted::{Untrusted, escape_untrusted};
