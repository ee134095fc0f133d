//! The why behind Palisade: threat model, defaults, and what is not done yet.
//! Documentation only; no code.
//!
//! # Threat model
//!
//! Palisade starts from two threat lists for go-micro / micro deployments (registry
//! poisoning, broker tampering, plaintext transport, missing authentication and
//! authorization, malicious interceptors and plugins). The status column says how
//! far each is answered.
//!
//! | threat | answer | status |
//! |---|---|---|
//! | A malicious or compromised interceptor reads secrets, calls out, rewrites traffic | Plugins are WebAssembly components. Their imports are checked against the operator's grants before compilation ([`classify_import`](crate::policy::classify_import)); `wasi:filesystem`, `wasi:sockets` and `wasi:http` cannot be granted; environment and arguments are empty; keys stay in the host | done |
//! | A plugin takes the service down (loops, memory, stack, log floods, panics) | Per-call deadline (epoch), optional fuel, memory/table/instance limits, concurrency limit, capped and rate-limited log, trapped instances discarded, backoff after repeated traps, fail closed by default | done |
//! | A plugin forges the caller's identity | The verified identity is a read-only fact of the call (`call.peer-identity`); `x-palisade-*`, pseudo-headers and transport headers cannot be written; the identity comes from the client certificate rustls verified ([`transport`](crate::transport)), and incoming `x-palisade-*` headers are dropped by the [`layer`](crate::layer) before any plugin runs | done |
//! | Missing authentication / authorization | Example plugins `hmac-auth` (host-held keys) and `rbac` (default deny) | examples done |
//! | Registry poisoning, plaintext transport | TLS 1.3 with client certificates required; the client pins the server identity per service, so an address that presents another identity (even with a certificate from the same CA) is refused in the handshake; plaintext only through a named opt-in that lockdown refuses ([below](#transport-and-lockdown)) | done (library; `palisade serve` to come) |
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
//!
//! [transport]                       # optional; see "Transport and lockdown"
//! cert = "certs/orders.pem"         # this service's chain, leaf first
//! key = "certs/orders.key"          # its private key
//! ca = "certs/ca.pem"               # the CA peers must chain to
//! # plaintext = "insecure-allow"    # development only; the default is "refuse"
//! [transport.pins]                  # service -> the identity its server must present
//! "orders.v1.Orders" = "spiffe://prod/orders"
//!
//! [serve]                           # optional; for `palisade serve` (see "The sidecar proxy")
//! listen = "0.0.0.0:8443"           # mTLS per [transport]
//! upstream = "http://127.0.0.1:50051"   # plaintext, so a loopback address
//! # upstream_plaintext = "insecure-allow"  # another host (development only)
//! metrics = "127.0.0.1:9464"        # optional: GET /metrics
//! reload = "verified"               # or "off"; the default is "off" in lockdown
//! shutdown_grace_ms = 10000         # in-flight calls' time after SIGTERM
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
//!   1024 concurrent instances), `[transport]` with only some of `cert`, `key` and
//!   `ca`, a pin that is empty, has spaces or a wildcard; in `[serve]`, an address
//!   that is not `IP:PORT`, an upstream that is not `http://HOST[:PORT]`, a
//!   non-loopback upstream without `upstream_plaintext = "insecure-allow"`, a
//!   `[serve]` without `[transport]` TLS material (or plaintext allowed).
//! - `Lockdown` (in lockdown mode only), naming the offending setting: an unsigned
//!   `component`, `failure = "open"`, a `[trust]` with no `keys`, `threshold = 0`,
//!   `[transport] plaintext = "insecure-allow"`, a non-loopback `[serve] upstream`
//!   (with or without `upstream_plaintext = "insecure-allow"`).
//!
//! **Ceilings** are applied to every plugin's grants before it is loaded: a forbidden
//! capability is removed, so a package whose manifest requests it is refused with
//! [`PolicyError::ExceedsGrants`](crate::PolicyError::ExceedsGrants) and a component
//! importing it with `NotGranted`; `crypto-sign` downgrades every crypto key to
//! verify-only.
//!
//! In **development** mode unsigned components load, each with a `WARN`-level log
//! line naming it, and fail-open plugins are allowed.
//!
//! # Transport and lockdown
//!
//! [`transport`](crate::transport) terminates and originates mutual TLS for the
//! [`layer`](crate::layer)s. The rules, and why:
//!
//! - **TLS 1.3 only, one provider.** Every configuration is built with rustls' `ring`
//!   provider named explicitly and TLS 1.3 as the only version, whatever features
//!   other crates in the program enable: no downgrade to 1.2's weaker handshakes, and
//!   no dependence on the process-default provider (ambiguous as soon as two are
//!   compiled in).
//! - **Client certificates are required** and must chain to the configured CA
//!   (webpki, with the `clientAuth` usage). There is no option to make them optional:
//!   a service that answers anonymous callers is a plaintext service with extra steps.
//!   Handshakes run in their own tasks, at most 10 s each and 1024 at once, so slow
//!   or failing clients cannot stall the accept loop; every refusal is logged and
//!   counted ([`HandshakeStats`](crate::transport::HandshakeStats)).
//! - **The identity** is the first URI SAN of the verified leaf (a SPIFFE ID), or
//!   else its first DNS SAN. It reaches plugins as `call.peer-identity` through a
//!   request extension ([`PeerInfo`](crate::transport::PeerInfo)) that only the
//!   transport creates; `x-palisade-*` request headers from the network are dropped
//!   by the server layer, so no header can claim an identity. A verified certificate
//!   without such a SAN makes an anonymous caller (logged).
//! - **Pins, per service.** The client verifies the server's chain to the CA (with
//!   `serverAuth`) and then requires the identity pinned for the service it is
//!   calling among the certificate's URI and DNS SANs; the host name in the address
//!   is used for TCP and SNI only. A registry that hands out a wrong address cannot
//!   redirect calls to another service, even one with a valid certificate from the
//!   same CA: the handshake fails with
//!   [`TransportError::IdentityMismatch`](crate::transport::TransportError::IdentityMismatch)
//!   before any request is sent. A service without a pin gets no connector
//!   ([`TransportError::NoPin`](crate::transport::TransportError::NoPin)). Because
//!   every connection of a pinned channel has proven the pinned identity, the client
//!   layer gives plugins that identity as the peer.
//! - **Plaintext** exists only through
//!   [`InsecurePlaintext`](crate::transport::InsecurePlaintext), a value every
//!   plaintext listener and connector takes, logged at `WARN` when made. From an
//!   operator config it comes only from
//!   [`TransportConfig::insecure_plaintext`](crate::transport::TransportConfig::insecure_plaintext),
//!   which succeeds only when the file says `[transport] plaintext = "insecure-allow"`;
//!   lockdown refuses that setting, naming it, and development mode allows it with a
//!   warning. A plaintext client calling a TLS server fails the handshake.
//! - **Error detail.** A rejection's message goes to callers with a verified
//!   identity; others get the status code and "refused by policy"
//!   ([`ErrorDetail`](crate::layer::ErrorDetail)), so that unauthenticated probes do
//!   not learn the policy.
//!
//! # The sidecar proxy
//!
//! `palisade serve --config FILE` runs the chain in front of an upstream that knows
//! nothing of Palisade (a service in any language), from the file's `[serve]`
//! section. Calls are accepted over the `[transport]` mTLS (client certificates
//! required) and the chain runs on them through a
//! [`ServerLayer`](crate::layer::ServerLayer); what it lets through is forwarded with
//! its headers, streamed body and trailers, gRPC over HTTP/2 and everything else over
//! HTTP/1.1. The upstream receives the verified caller in `x-palisade-peer-identity`,
//! which it can trust: the layer drops every `x-palisade-*` header that came from the
//! network and plugins cannot write them. The upstream is reached in plaintext, which
//! is why it must be on loopback (another host only with
//! `upstream_plaintext = "insecure-allow"`, refused in lockdown). An unreachable
//! upstream makes `UNAVAILABLE` (gRPC) or 502.
//!
//! - **Shutdown** (`SIGTERM`, ctrl-c): accepting stops at once; in-flight calls get
//!   `shutdown_grace_ms` (10 s by default) to finish, then their connections close.
//! - **Reload** (`SIGHUP`), only with `reload = "verified"` (lockdown's default is
//!   `"off"`, and a refused reload is logged and counted): the file is read and
//!   resolved again, and every plugin of it goes through the whole pipeline (read,
//!   verify, policy, compile, instantiate) into a new chain; only when all of that has
//!   succeeded does the new chain replace the old one
//!   ([`SharedChain`](crate::layer::SharedChain)). Calls in flight finish on the chain
//!   they started with; a reload that fails at any step keeps the old chain and logs
//!   why. A reload changes plugins and trust only: a file whose `mode`, `[serve]` or
//!   `[transport]` differs is refused (restart for those).
//! - **Metrics**: `GET /metrics` on `[serve] metrics`, Prometheus text format 0.0.4,
//!   read from [`Plugin::stats`](crate::Plugin::stats) at scrape time (the call path
//!   only bumps the plugins' atomics): per plugin of the current chain
//!   `palisade_plugin_{calls,traps,timeouts,failures}_total{plugin}`, and
//!   `palisade_chain_plugins`, `palisade_reloads_total{outcome}`,
//!   `palisade_upstream_errors_total`. A reload starts the new plugins' counters at
//!   zero (Prometheus reads that as a counter reset). The endpoint is plaintext and
//!   read-only; bind it to loopback or a scrape-only network.
