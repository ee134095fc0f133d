//! # Palisade host
//!
//! The runtime of [Palisade](https://docs.rs/palisade): it takes what
//! `palisade-package` read and checked (a component whose imports are within its
//! grants), compiles it, links only the capabilities granted, and runs its hooks in
//! pooled, limited instances, alone ([`Plugin`]) or in order ([`Chain`]). The
//! vocabulary it speaks is `palisade-types`'; the wire (mTLS, tower layers) is
//! `palisade-net`, the operator's file `palisade-config`.
//!
//! Runs service interceptors as **sandboxed, capability-limited WebAssembly
//! components**. A plugin can read and change the metadata of the call it wraps and
//! decide the call's fate; anything else it can do (log, read the time, keep state,
//! use a key) is a capability the operator grants by name. Everything else (files,
//! sockets, environment variables, the host's keys) does not exist for it.
//!
//! ```text
//!   bytes ──▶ load ──▶ verify ──▶ policy ──▶ compile ──▶ link ──▶ instantiate ──▶ intercept
//!            (bounded,  (packages:  (imports ⊆  (one       (only     (pooled,        (Chain:
//!             sha256)    signatures, grants,    engine)    granted   limited,        request in
//!                        trust       before                host      trapped ones    order,
//!                        policy)     compiling)            interfaces) discarded)    response in
//!                                                                                     reverse)
//!
//!   network ──▶ transport (mTLS, TLS 1.3: verified peer identity, pinned server identity)
//!           ──▶ layer (ServerLayer / ClientLayer: the Chain around tonic and HTTP calls)
//! ```
//!
//! Each stage is one module, in that order, and each hands the next a value only
//! it can make: a component reaches the compiler only after its imports were
//! checked against its grants.
//!
//! ## Quick start
//!
//! ```no_run
//! use std::sync::Arc;
//! use palisade_host::{CallInfo, Chain, Decision, Grants, Host, HostConfig, PluginSource, PluginSpec};
//!
//! # async fn demo() -> Result<(), palisade_host::Error> {
//! let host = Host::new(HostConfig::default())?;
//! let add_header = host
//!     .load(
//!         PluginSpec::new("add-header", PluginSource::File("add_header.wasm".into()))
//!             .grants(Grants::none().config())
//!             .config([("name", "x-tenant"), ("value", "blue")]),
//!     )
//!     .await?;
//! let chain = Chain::new([add_header]);
//!
//! let call = Arc::new(CallInfo::server("orders.v1.Orders", "Create"));
//! let mut metadata = http::HeaderMap::new();
//! let verdict = chain.on_request(&call, &mut metadata).await;
//! assert_eq!(verdict.decision, Decision::Continue);
//! assert_eq!(metadata["x-tenant"], "blue");
//! # Ok(()) }
//! # let _ = demo;
//! ```
//!
//! ## Security statement
//!
//! - A component is refused at load, before it is compiled, when it imports anything
//!   outside its grants. The refusal names the import and the capability it needs.
//!   `wasi:filesystem`, `wasi:sockets` and `wasi:http` cannot be granted at all.
//! - Rust `std` guests get a virtual WASI: no environment, no arguments, no
//!   preopened directories, no clocks unless `clock` is granted; stdout and stderr
//!   go into the plugin's capped, rate-limited log.
//! - Every call runs under a wall-clock deadline (epoch interruption), with memory,
//!   table, instance and concurrency limits. A trapped instance is never reused.
//! - Keys stay in the host: plugins name them, the host uses them.
//! - The verified peer identity reaches plugins through `call.peer-identity`, which
//!   no header can set; `x-palisade-*` and transport headers cannot be written.
//!
//! - A signed package ([`PluginSource::Package`]) loads only if its signatures satisfy
//!   the spec's [`TrustPolicy`] (k-of-n distinct trusted keys, none revoked counted,
//!   no rollback, optional digest pin), and gets only what its signed manifest
//!   requests within the operator's grants. The format is in
//!   the manual (`palisade::manual`, "Package format").
//!
//! - Native code from the on-disk compiled cache ([`HostConfig::cache_dir`]) runs only
//!   if its HMAC-SHA256 under a key the host keeps in that directory matches; a changed
//!   or swapped entry is refused and recompiled from the verified component. The
//!   directory must be the host's alone (created 0700; refused if others can write).
//!
//! - The operator's configuration file (`palisade_config::OperatorConfig`) in `lockdown` mode
//!   refuses unsigned components, fail-open plugins, an empty trust policy and
//!   plaintext transport, and its `[ceilings]` take capabilities away from every
//!   plugin.
//!
//! - Calls are served and made over mutual TLS 1.3 (`palisade_net::transport`): client
//!   certificates are required, the identity plugins see is the verified
//!   certificate's SAN, and a client refuses a server that does not present the
//!   identity pinned for the service it calls. `palisade_net::layer::ServerLayer` and
//!   `palisade_net::layer::ClientLayer` put the chain around tonic and plain HTTP services; see
//!   the manual (`palisade::manual`, "Transport and lockdown"). The format is in
//!   the manual (`palisade::manual`, "Configuration and lockdown").

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "unit tests"))]
#![doc(test(attr(deny(warnings))))]

// The pipeline after the package stages, in the order data flows through it.
mod capability;
mod compile;
mod instance;
mod intercept;
mod trap;

// Around the pipeline.
pub mod audit;
mod error;
mod host;
mod shard;

pub use crate::audit::{AuditEvent, AuditSink, OnAuditFailure};
pub use crate::capability::crypto::KeyRing;
pub use crate::capability::metrics::MetricValue;
pub use crate::compile::HostConfig;
pub use crate::compile::cache::CacheStats;
pub use crate::error::{
    AuditError, CompileError, Error, HostError, InstantiateError, LinkError, Result,
};
pub use crate::host::{Host, PluginSpec};
pub use crate::instance::InstanceMode;
pub use crate::intercept::{
    CALL_DURATION_BUCKETS_SECONDS, Chain, DecisionCounts, DurationHistogram, Plugin, PluginStats,
    Waiting, Walk,
};
// What a host's own API takes and returns, so that a user of this crate alone can
// name it.
pub use palisade_package::load::PluginSource;
pub use palisade_package::verify::TrustPolicy;
pub use palisade_package::{LoadError, PolicyError, VerifyError};
pub use palisade_package::{PackageError, TrustError, TrustPolicyError};
pub use palisade_types::WasmTrap;
pub use palisade_types::{
    CallError, CallInfo, Code, Decision, Direction, FailurePolicy, Grants, Hooks, Limits, Reply,
    TrapKind, Verdict,
};
pub use palisade_types::{Name, Protocol, Route, RouteError, Routes};
