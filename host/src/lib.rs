//! # Palisade host
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
//!   [`manual`](crate::manual#package-format).
//!
//! - Native code from the on-disk compiled cache ([`HostConfig::cache_dir`]) runs only
//!   if its HMAC-SHA256 under a key the host keeps in that directory matches; a changed
//!   or swapped entry is refused and recompiled from the verified component. The
//!   directory must be the host's alone (created 0700; refused if others can write).
//!
//! - The operator's configuration file ([`OperatorConfig`]) in `lockdown` mode
//!   refuses unsigned components, fail-open plugins, an empty trust policy and
//!   plaintext transport, and its `[ceilings]` take capabilities away from every
//!   plugin.
//!
//! - Calls are served and made over mutual TLS 1.3 ([`transport`]): client
//!   certificates are required, the identity plugins see is the verified
//!   certificate's SAN, and a client refuses a server that does not present the
//!   identity pinned for the service it calls. [`layer::ServerLayer`] and
//!   [`layer::ClientLayer`] put the chain around tonic and plain HTTP services; see
//!   [`manual`](crate::manual#transport-and-lockdown). The format is in
//!   [`manual`](crate::manual#configuration-and-lockdown).

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "unit tests"))]
#![doc(test(attr(deny(warnings))))]

// The pipeline, in the order data flows through it.
mod capability;
mod compile;
mod instance;
mod intercept;
pub mod layer;
pub mod load;
pub mod policy;
pub mod transport;
pub mod verify;

// Around the pipeline.
pub mod audit;
pub mod config;
mod error;
mod host;
pub mod manual;
mod shard;
mod untrusted;

pub use crate::audit::{AuditError, AuditEvent, AuditSink, OnAuditFailure};
pub use crate::capability::call::{
    MAX_REJECTION_MESSAGE_BYTES, MAX_REPLY_BODY_BYTES, MAX_REPLY_HEADERS,
};
pub use crate::capability::crypto::{KeyRing, MAX_CRYPTO_INPUT_BYTES};
pub use crate::capability::kv::{MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES};
pub use crate::capability::log::MAX_LOG_MESSAGE_BYTES;
pub use crate::capability::metadata::{
    MAX_METADATA_CHANGES_PER_CALL, MAX_METADATA_TOTAL_BYTES, MAX_METADATA_VALUE_BYTES,
    RESERVED_HEADERS, RESERVED_PREFIX, is_reserved,
};
pub use crate::capability::metrics::{MAX_METRIC_NAME_BYTES, MAX_METRICS_PER_PLUGIN, MetricValue};
pub use crate::capability::wasi::MAX_RANDOM_BYTES;
pub use crate::compile::HostConfig;
pub use crate::compile::cache::CacheStats;
pub use crate::config::{
    Ceiling, ConfigError, ConfiguredPlugin, ConfiguredSource, Mode, OperatorConfig, apply_ceilings,
};
pub use crate::error::{
    CallError, CompileError, Error, HostError, LinkError, LoadError, PolicyError, Result,
    SigstoreFailure, TrapKind, VerifyError,
};
pub use crate::host::{Host, PluginSpec};
pub use crate::instance::InstanceMode;
pub use crate::intercept::{
    CALL_DURATION_BUCKETS_SECONDS, CallInfo, Chain, Code, Decision, DecisionCounts, Direction,
    DurationHistogram, FailurePolicy, Hooks, Plugin, PluginStats, Reply, Verdict,
};
pub use crate::load::PluginSource;
pub use crate::policy::{
    Capability, ClockGrant, ConfigGrant, CryptoGrant, Grants, ImportClass, KeyUse, KvGrant, Limits,
    LogGrant, MetricsGrant, classify_import, component_imports,
};
pub use crate::untrusted::{Untrusted, escape_untrusted};
pub use crate::verify::{
    BundleSigner, Identity, IdentityPolicy, KeyId, KeyKind, KeyTextError, PackageInfo, PublicKey,
    SignerIdentity, SigningKey, SigstoreTrustRoot, SubjectPattern, TrustPolicy, UnverifiedPackage,
    add_bundle, add_signature, inspect_package, package_with_bundle, sign_package, verify_package,
};
pub use crate::verify::{RefPattern, SignerClaims};
