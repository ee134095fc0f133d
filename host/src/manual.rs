//! The why behind Palisade: threat model, defaults, and what is not done yet.
//! Documentation only; no code.
//!
//! # Threat model
//!
//! Palisade starts from two threat lists for go-micro / micro deployments (registry
//! poisoning, broker tampering, plaintext transport, missing authentication and
//! authorization, malicious interceptors and plugins). This crate answers the last
//! one today; the others need the transport and signing stages that come next.
//!
//! | threat | answer | status |
//! |---|---|---|
//! | A malicious or compromised interceptor reads secrets, calls out, rewrites traffic | Plugins are WebAssembly components. Their imports are checked against the operator's grants before compilation ([`classify_import`](crate::policy::classify_import)); `wasi:filesystem`, `wasi:sockets` and `wasi:http` cannot be granted; environment and arguments are empty; keys stay in the host | done |
//! | A plugin takes the service down (loops, memory, stack, log floods, panics) | Per-call deadline (epoch), optional fuel, memory/table/instance limits, concurrency limit, capped and rate-limited log, trapped instances discarded, backoff after repeated traps, fail closed by default | done |
//! | A plugin forges the caller's identity | The verified identity is a read-only fact of the call (`call.peer-identity`); `x-palisade-*`, pseudo-headers and transport headers cannot be written | done (mTLS termination to come) |
//! | Missing authentication / authorization | Example plugins `hmac-auth` (host-held keys) and `rbac` (default deny) | examples done |
//! | Registry poisoning, plaintext transport | mTLS by default with per-service identity pinning | not yet |
//! | A tampered or unsigned plugin is deployed | Signed packages, trust policy, lockdown | not yet: this version loads any component it is given, so only load components you trust to be what they claim |
//!
//! # Defaults, and why
//!
//! - **Nothing granted** ([`Grants::none`](crate::Grants::none)): a plugin can read and
//!   change its call's metadata, and nothing else.
//! - **Fail closed** ([`FailurePolicy::FailClosed`](crate::FailurePolicy)): a plugin that
//!   fails refuses the call with `UNAVAILABLE`. An authorization plugin that times out
//!   must not let traffic through; fail open is for plugins whose absence is harmless.
//! - **100 ms per call, 16 MiB of memory, 16 concurrent instances**
//!   ([`Limits::default`](crate::Limits)): generous for an interceptor, small enough
//!   that a runaway plugin is noticed in one request's time.
//! - **Epoch deadlines, not fuel**: an epoch check costs a load and a compare per loop
//!   back-edge and function entry; fuel costs that on every basic block. Fuel stays
//!   available ([`HostConfig::fuel`](crate::HostConfig)) for deterministic budgets.
//! - **Reused instances** ([`InstanceMode::Reuse`](crate::InstanceMode)): creating an
//!   instance costs far more than a call. Plugins that must not carry memory from one
//!   call to the next use [`InstanceMode::FreshPerCall`](crate::InstanceMode).
//! - **Clocks are a capability**: time enables timing measurements, so `wasi:clocks`
//!   needs the `clock` grant like `palisade:plugin/clock` does. Randomness is not
//!   authority and Rust's `HashMap` needs it, so `wasi:random` is always there.
//!
//! # What "trapped" means for a call
//!
//! The instance is dropped (wasmtime cannot re-enter it), metadata changes the hook
//! made are rolled back, the chain applies the plugin's failure policy, and the next
//! call gets a new instance. After three traps in a row, new instances wait 10 ms,
//! doubling to at most 1 s, so that a plugin broken on every input does not burn CPU
//! on instantiation; idle healthy instances keep serving meanwhile.
