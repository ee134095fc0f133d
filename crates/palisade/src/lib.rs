//! # Palisade
//!
//! Runs service interceptors as **signature-verified, capability-limited
//! WebAssembly components**. A plugin can read and change the metadata of the call
//! it wraps and decide the call's fate; anything else it can do (log, read the time,
//! keep state, use a key) is a capability the operator grants by name. Everything
//! else (files, sockets, environment variables, the host's keys) does not exist for
//! it.
//!
//! This crate is the whole of Palisade behind one dependency, and its
//! [`manual`]. The parts, in the order data flows through them, each depending only
//! on those before it:
//!
//! | crate | owns | module here |
//! |---|---|---|
//! | `palisade-types` | the call vocabulary, grants, limits, per-call bounds | the root, [`bounds`] |
//! | `palisade-package` | bounded reading, the signed package format, verification, the import check | [`load`], [`verify`], [`policy`] |
//! | `palisade-host` | compiling, linking capabilities, instances, hooks and chains, audit | the root, [`audit`] |
//! | `palisade-net` | mutual TLS and the tower layers | [`transport`], [`layer`] |
//! | `palisade-config` | the operator's TOML file and lockdown | [`config`] |
//!
//! ```text
//!   bytes ──▶ load ──▶ verify ──▶ policy ──▶ compile ──▶ link ──▶ instantiate ──▶ intercept
//!            (bounded,  (packages:  (imports ⊆  (one       (only     (pooled,        (Chain:
//!             sha256)    signatures, grants,    engine)    granted   limited,        request in
//!                        trust       before                host      trapped ones    order,
//!                        policy)     compiling)            interfaces) discarded)    response in
//!                                                                                     reverse)
//!   └──────── palisade-package ───────────┘ └──────────────── palisade-host ─────────────────┘
//!
//!   network ──▶ transport (mTLS, TLS 1.3: verified peer identity, pinned server identity)
//!           ──▶ layer (ServerLayer / ClientLayer: the Chain around tonic and HTTP calls)
//!   └──────── palisade-net ───────────┘
//! ```
//!
//! ## Quick start
//!
//! ```no_run
//! use palisade::{CallInfo, Chain, Decision, Grants, Host, HostConfig, PluginSource, PluginSpec};
//!
//! # async fn demo() -> Result<(), palisade::Error> {
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
//! let call = CallInfo::server("orders.v1.Orders", "Create");
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
//!   if its HMAC-SHA256 under a key the host keeps beside that directory matches; a
//!   changed or swapped entry is refused and recompiled from the verified component.
//!   The directory must be the host's alone (created 0700; refused if others can
//!   write).
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
#![doc(test(attr(deny(warnings))))]

pub mod manual;

/// Stage 1, **load**: bytes in, bounded (`palisade-package`).
pub mod load {
    pub use palisade_package::load::*;
}

/// Stage 1½, **verify**: signed packages against a trust policy (`palisade-package`).
pub mod verify {
    pub use palisade_package::verify::*;
}

/// Stage 2, **policy**: a component's imports against its grants, before compiling
/// (`palisade-package`); the grant types are `palisade-types`'.
pub mod policy {
    pub use palisade_package::policy::*;
    pub use palisade_types::grants_toml;
    pub use palisade_types::{
        CONTRACT_VERSION, Capability, ClockGrant, ConfigGrant, CryptoGrant, Grants,
        INTERCEPTOR_EXPORT, KeyUse, KvGrant, Limits, LogGrant, MetricsGrant,
    };
}

pub use palisade_config::LoadConfig;
pub use palisade_host::audit;
pub use palisade_net::{layer, transport};
pub use palisade_types::bounds;

/// The operator's configuration file (`palisade-config`).
pub mod config {
    pub use palisade_config::*;
}

pub use palisade_config::{
    Ceiling, ConfigError, ConfiguredPlugin, ConfiguredSource, Mode, OperatorConfig, apply_ceilings,
};
pub use palisade_host::InstantiateError;
pub use palisade_host::{
    AuditError, AuditEvent, AuditSink, CALL_DURATION_BUCKETS_SECONDS, CacheStats, Chain,
    CompileError, DecisionCounts, DurationHistogram, Error, Host, HostConfig, HostError,
    InstanceMode, KeyRing, LinkError, MetricValue, OnAuditFailure, Plugin, PluginSpec, PluginStats,
    Result, Waiting, Walk,
};
pub use palisade_package::load::PluginSource;
pub use palisade_package::policy::{ImportClass, classify_import, component_imports};
pub use palisade_package::verify::{
    BundleSigner, Identity, IdentityPolicy, KeyId, KeyKind, KeyTextError, PackageInfo, PublicKey,
    RefPattern, SignerClaims, SignerIdentity, SigningKey, SigstoreTrustRoot, SubjectPattern,
    TrustPolicy, UnverifiedPackage, add_bundle, add_signature, inspect_package,
    package_with_bundle, sign_package, verify_package,
};
pub use palisade_package::{LoadError, PolicyError, SigstoreFailure, VerifyError};
pub use palisade_package::{PackageError, TrustError, TrustPolicyError};
pub use palisade_types::bounds::{
    MAX_CRYPTO_INPUT_BYTES, MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES, MAX_LOG_MESSAGE_BYTES,
    MAX_METADATA_CHANGES_PER_CALL, MAX_METADATA_TOTAL_BYTES, MAX_METADATA_VALUE_BYTES,
    MAX_METRIC_NAME_BYTES, MAX_METRICS_PER_PLUGIN, MAX_RANDOM_BYTES, MAX_REJECTION_MESSAGE_BYTES,
    MAX_REPLY_BODY_BYTES, MAX_REPLY_HEADERS, RESERVED_HEADERS, RESERVED_PREFIX, is_reserved,
};
pub use palisade_types::{
    CallError, CallInfo, Capability, ClockGrant, Code, ConfigGrant, CryptoGrant, Decision,
    Direction, FailurePolicy, Grants, Hooks, KeyUse, KvGrant, Limits, LogGrant, MetricsGrant,
    Reply, TrapKind, Untrusted, Verdict, escape_untrusted,
};
pub use palisade_types::{Name, Protocol, Route, RouteError, Routes};
pub use palisade_types::{WasmTrap, message_with_causes};
