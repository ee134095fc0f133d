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
//! | A tampered or unsigned plugin is deployed | Signed packages ([`PluginSource::Package`](crate::PluginSource::Package)) checked against a [`TrustPolicy`](crate::TrustPolicy): k-of-n trusted ed25519 keys, revocation, minimum versions, digest pins; the signed manifest's capabilities bounded by the operator's grants | done: packages, and [lockdown](#configuration-and-lockdown) refusing plain components |
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
//!   back-edge and function entry; fuel costs a counter update on every basic block
//!   (BENCHMARKS.md, "cpu limit", has both measured on the same compute loop). Fuel
//!   stays available ([`HostConfig::fuel`](crate::HostConfig)) for deterministic
//!   budgets.
//! - **A plugin never waits on the host**: every host function a plugin can reach is
//!   synchronous and returns at once (the virtual WASI's streams are always ready);
//!   an operation that would wait, such as a `wasi:clocks` timer under `poll`, traps
//!   the call. So a guest call is a plain function call on the calling thread (no
//!   fiber), and a plugin cannot park a host thread past its deadline. The guest
//!   runs on that thread's stack, with wasmtime's 512 KiB wasm stack limit: call
//!   hooks from threads with more stack than that (tokio's workers have 2 MiB).
//! - **Compiled code is cached only when authenticated**
//!   ([`HostConfig::cache_dir`](crate::HostConfig)): entries are keyed by the
//!   verified component's SHA-256 and the engine's configuration and carry an
//!   HMAC-SHA256 under a key the host keeps in the directory (0600); a changed or
//!   swapped entry is refused and recompiled, never run. The directory must not be
//!   writable by others.
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
//!
//! # Package format
//!
//! A signed plugin is one file, format version 1. All integers are little-endian;
//! offsets in errors are byte offsets from the start of the file.
//!
//! ```text
//! magic    8 bytes   b"PALISADE"
//! version  u16 LE    1
//! sections           tag: u8 | len: u32 LE | len bytes, back to back to the end
//! ```
//!
//! | tag | section | count and place | body |
//! |---|---|---|---|
//! | 1 | manifest | exactly one, first | UTF-8 TOML, at most 64 KiB ([`MAX_MANIFEST_BYTES`](crate::verify::MAX_MANIFEST_BYTES)) |
//! | 2 | component | exactly one, second | the WebAssembly component, at most [`MAX_COMPONENT_BYTES`](crate::load::MAX_COMPONENT_BYTES) |
//! | 3 | signature | 0 to 16 ([`MAX_SIGNATURES`](crate::verify::MAX_SIGNATURES)), after the component | exactly 97 bytes: `algorithm: u8` (1 = ed25519) `| key_id: [u8; 32] | signature: [u8; 64]` |
//!
//! Parsing is strict, and each fault is its own [`VerifyError`](crate::VerifyError)
//! variant: fewer than 10 bytes (`TooShort`), another magic (`BadMagic`), another
//! version (`UnsupportedFormatVersion`), another tag (`UnknownSection`), a component or
//! signature before the manifest or a signature before the component (`OutOfOrder`), a
//! second manifest or component (`DuplicateSection`), a missing one (`MissingSection`),
//! a declared length over the section's bound (`SectionTooLarge`, checked on the
//! declared length before anything is sliced) or past the end of the file
//! (`SectionPastEnd`), a signature body that is not 97 bytes (`SignatureLength`), a
//! 17th signature (`TooManySignatures`), one to four bytes after the last section
//! (`TrailingBytes`), another signature algorithm (`UnknownAlgorithm`). The whole
//! file is bounded by [`MAX_PACKAGE_BYTES`](crate::verify::MAX_PACKAGE_BYTES) when it
//! is read.
//!
//! **Key id** = SHA-256 of the 32-byte ed25519 public key, shown as lowercase hex.
//! **Signed message** = `b"palisade-package-v1\0"` followed by the 32-byte SHA-256 of
//! the manifest section's bytes. The manifest pins the component's SHA-256, so one
//! signature covers both. Signatures are checked with `verify_strict`.
//!
//! ## Manifest
//!
//! ```toml
//! format = 1                      # this host reads format 1 only
//! name = "add-header"             # same rules as plugin names; must equal the spec's name
//! version = "1.2.0"               # semver
//! description = "adds a header"
//! component_sha256 = "<64 lowercase hex digits>"
//! hooks = ["request", "response"] # non-empty subset, no repeats
//!
//! [capabilities]                  # each optional; absent means not requested
//! log = {}
//! clock = {}
//! config = {}
//! metrics = {}
//! kv = { quota_bytes = 65536 }
//! crypto = { keys = { "hmac-auth" = "verify", "signer" = "sign" } }
//! ```
//!
//! Unknown fields anywhere, duplicate keys and wrong types are refused
//! (`ManifestSyntax`, with line and column); bad values are `InvalidManifest` naming
//! the field.
//!
//! ## What the host checks, in order
//!
//! 1. The envelope.
//! 2. Each signature, over the manifest's raw bytes, before the manifest is parsed
//!    (nothing unsigned reaches the TOML parser): a revoked key's never counts (and
//!    is reported), an untrusted key's is ignored, a trusted key's that does not
//!    verify refuses the package.
//! 3. The threshold, counted over distinct key ids (per plugin, else global, at least 1).
//! 4. The component's SHA-256, recomputed.
//! 5. The manifest, parsed; its digest against step 4 (constant-time), its name
//!    against the plugin's.
//! 6. The minimum version for the plugin, if any (no rollback).
//! 7. The operator's SHA-256 pin for the plugin, if any.
//!
//! Then the plugin's grants are what the manifest requests, which must lie within the
//! spec's [`grants`](crate::PluginSpec::grants): requesting more (a capability, a
//! larger kv quota, a key, signing with a verify-only key) is a
//! [`PolicyError::ExceedsGrants`](crate::PolicyError::ExceedsGrants). The component's
//! imports are then checked against those grants by the policy stage as for any
//! plugin, and only the hooks both the manifest and the spec enable run.
//!
//! # Configuration and lockdown
//!
//! The operator describes a whole chain in one TOML file, read with
//! [`OperatorConfig::from_file`](crate::OperatorConfig::from_file) (at most 1 MiB;
//! plugin paths relative to the file's directory) or
//! [`OperatorConfig::from_str`](crate::OperatorConfig::from_str), and loaded with
//! [`Host::load_config`](crate::Host::load_config). `palisade check-config FILE`
//! checks one without loading any plugin.
//!
//! ```toml
//! mode = "lockdown"                 # or "development"; lockdown when absent
//!
//! [trust]
//! keys = ["<64 hex digits>"]        # ed25519 public keys, as in `palisade keygen`'s NAME.pub
//! threshold = 1                     # distinct trusted signatures per package
//! revoked = ["<64 hex key id>"]     # never counted
//! [trust.min_versions]
//! rbac = "1.0.0"                    # no rollback below this
//! [trust.pins]
//! rbac = "<64 hex sha256 of the component>"
//!
//! [ceilings]
//! forbid = ["kv", "crypto-sign"]    # log, clock, config, kv, crypto, metrics, crypto-sign
//!
//! [[plugins]]                       # in chain order
//! name = "rbac"
//! package = "rbac.pkg"              # a signed package, or
//! # component = "rbac.wasm"         # an unsigned component (development only)
//! hooks = ["request"]               # default both
//! failure = "closed"                # or "open" (development only)
//! instances = "reuse"               # or "fresh"
//! [plugins.grants]                  # for a package: the most its manifest may request
//! config = {}
//! kv = { quota_bytes = 4096 }
//! crypto = { keys = { "hmac-auth" = "verify" } }   # or "sign"
//! [plugins.config]
//! rules = "..."
//! [plugins.limits]                  # each optional; defaults from `Limits::default()`
//! max_memory_bytes = 16777216
//! call_timeout_ms = 100
//! fuel = 1000000                    # needs a host built with fuel metering
//! max_concurrency = 16
//! log_bytes_per_sec = 65536
//! log_burst_bytes = 262144
//! ```
//!
//! Resolution is one step from TOML to a validated value; every error is a
//! [`ConfigError`](crate::ConfigError):
//!
//! - `Syntax`: not TOML, an unknown field anywhere, a wrong type or an unknown
//!   enumerated value (a mode, a hook), with the file and `line:column`.
//! - `Invalid`: a bad value, naming the setting as a path (`trust.keys[0]`,
//!   `plugins.rbac.limits.call_timeout_ms`): a key that is not 64 hex digits or not
//!   an ed25519 point, an unknown name in `forbid`, a plugin with both or neither of
//!   `package` and `component`, duplicate plugin names, a threshold above the number
//!   of keys, limits of 0 or above the host maxima (1 GiB of memory, 60 s per call,
//!   1024 concurrent instances).
//! - `Lockdown` (in lockdown mode only), naming the offending setting: an unsigned
//!   `component`, `failure = "open"`, a `[trust]` with no `keys`, `threshold = 0`.
//!
//! **Ceilings** are applied to every plugin's grants before it is loaded: a forbidden
//! capability is removed, so a package whose manifest requests it is refused with
//! [`PolicyError::ExceedsGrants`](crate::PolicyError::ExceedsGrants) and a component
//! importing it with `NotGranted`; `crypto-sign` downgrades every crypto key to
//! verify-only.
//!
//! In **development** mode unsigned components load, each with a `WARN`-level log
//! line naming it, and fail-open plugins are allowed.
