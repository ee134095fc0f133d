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
//! | Missing authentication / authorization | Example plugins `hmac-auth` (host-held keys; a nonce in `kv` refuses a replayed request; the body is not signed) and `rbac` (default deny) | examples done |
//! | Registry poisoning, plaintext transport | TLS 1.3 with client certificates required; the client pins the server identity per service, so an address that presents another identity (even with a certificate from the same CA) is refused in the handshake; plaintext only through a named opt-in that lockdown refuses ([below](#transport-and-lockdown)) | done (library and `palisade serve` inbound; registry discovery and an egress sidecar are open issues) |
//! | A tampered or unsigned plugin is deployed | Signed packages ([`PluginSource::Package`](crate::PluginSource::Package)) checked against a [`TrustPolicy`](crate::TrustPolicy): k-of-n over trusted ed25519 keys and [sigstore identities](#sigstore-bundles) (keyless signing in CI, verified offline), revocation, minimum versions, digest pins; the signed manifest's capabilities bounded by the operator's grants | done: packages, sigstore bundles, and [lockdown](#configuration-and-lockdown) refusing plain components |
//! | A client makes the upstream see another request than the one judged (path tricks, another `Host`, a forged identity header, `Connection` removing a plugin's header) | The [`layer`](crate::layer) refuses non-canonical paths before the chain, takes a plain HTTP call's service from its setting, drops identity-carrying headers in every `_`/`-` spelling (the sidecar also from request trailers) and `Connection`-listed headers before the chain; the sidecar always sets the identity header. Not covered: upstreams that match paths without case, or gRPC services by a suffix of their name | done |
//! | Slow clients hold the listener | Per-peer (64) and total (1024) bounds on pending handshakes of at most 10 s; header-read (10 s) and idle (60 s) timeouts in `serve_http` ([below](#transport-and-lockdown)) | done |
//! | A load or a refusal goes unnoticed | Every verification, load, refusal and reload is an [audit](#audit) event (`tracing`, and an append-only JSON-lines file that lockdown requires to be writable) | done (reload events are emitted by whoever reloads) |
//!
//! ## What Palisade does not protect against
//!
//! Said plainly, so that nobody relies on it for these:
//!
//! | not protected | why, and what to do instead |
//! |---|---|
//! | Anything with the host's uid or root on the machine | It can read the keys, the compiled cache's key (`<dir>.key`), the config and the process's memory, and replace the binary. Run the host as its own user; nothing else may run as that uid |
//! | A local process that calls the upstream directly | The sidecar's upstream hop is plaintext on loopback: any process on the host can reach the upstream and set `x-palisade-peer-identity` itself. Bind the upstream where only the sidecar can reach it (a network namespace, a Unix socket, a firewall rule) |
//! | A compromised CA or a stolen client key | Identities are what the configured CA signed; Palisade does not check revocation (no CRL or OCSP) of client or server certificates. Use short-lived certificates |
//! | The request body | Plugins see metadata, not messages (message hooks are an open issue): `hmac-auth` signs service, method, time and a nonce, not the body |
//! | Upstreams that read a request differently than the plugins did | Paths are matched byte for byte after the canonical-form check: an upstream that matches paths without regard to case, decodes `%7E`-style escapes the layer refused, or dispatches gRPC by a suffix of the service name can still be confused. Name services in full, and keep the upstream's routing as strict as the plugins' rules |
//! | Timing and speculative side channels between plugins | Plugins share the process and, in the engine's pool, reused memory slots (wiped between instances). A plugin that can measure time (`clock` grant) may learn something of another's work. Grant `clock` only where needed; run plugins of different trust in different hosts |
//! | A malicious but correctly signed plugin, within its grants | A signature says who published the plugin, not that it is benign: within its grants it can reject, allow or rewrite the calls it sees. Keep grants minimal, require k-of-n signers, and read the audit log |
//! | A hung file system under the packages | File reads run off the async workers, refuse anything that is not a regular file and are bounded per reload (120 s), but a blocking-pool thread can still hang in the kernel until the file system answers |
//! | Swap enabled after the host started | Pool slots are reset without the PAGEMAP_SCAN shortcut only when the host saw swap at start ([Defaults](#defaults-and-why)): restart the host after enabling swap |
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
//!   that a runaway plugin is noticed in one request's time. Memory and table limits
//!   are per plugin instance, summed over every memory and table of its core
//!   instances; a component may hold at most 64 core instances, 2 memories and 4
//!   tables (a Rust guest has 3, 1 and 2; a Python one 38 core instances), or it is refused at load. A plugin holds
//!   at most `max_concurrency` instances, idle ones included, and the engine's pool
//!   ([`HostConfig::max_instances`](crate::HostConfig), 1,000) gives each instance
//!   room for the widest component allowed: keep `max_instances` at least the sum of
//!   the plugins' `max_concurrency`, and no plugin can take another's slots.
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
//!   HMAC-SHA256 under a key the host keeps *beside* the directory, as `<dir>.key`
//!   (0600), never in it; a changed or swapped entry is refused and recompiled, never
//!   run. Native code must come only from this host, so the host refuses to start
//!   (`HostError::InvalidSetting`, setting `cache_dir`) unless the directory is owned
//!   by its effective uid, is not a symbolic link and is not writable by group or
//!   others; every directory above it is owned by root or by that uid and is not
//!   writable by others unless sticky (ssh's rule for `~/.ssh`); and the key is a
//!   0600 regular file of that uid. The directory and its parent are opened with
//!   `O_DIRECTORY | O_NOFOLLOW` and entries reached with `openat`, so a path swapped
//!   after the checks is never followed. What the operator must still guarantee: no
//!   other principal runs as the host's uid, and `<dir>.key` is never shared, copied
//!   or restored from elsewhere. The directory itself may be (a restored CI cache, a
//!   shared volume): its entries then fail authentication and are recompiled. A
//!   `key` file inside the directory (the old layout) is ignored.
//! - **Pool slots are wiped, and the shortcut is off with swap**: a freed slot of
//!   the engine's pool is reset before another instance gets it. Without swap, only
//!   its dirty pages are rewritten (the `PAGEMAP_SCAN` ioctl, Linux 6.7+); with any
//!   swap active when the host starts, or when `/proc/swaps` cannot be read, the
//!   slot is returned with `madvise` instead, because the scan reports a swapped-out
//!   dirty page as clean (wasmtime PR #14357) and the next instance could read it.
//! - **Reused instances** ([`InstanceMode::Reuse`](crate::InstanceMode)): creating an
//!   instance costs far more than a call. Plugins that must not carry memory from one
//!   call to the next use [`InstanceMode::FreshPerCall`](crate::InstanceMode).
//! - **Clocks are a capability**: time enables timing measurements, so `wasi:clocks`
//!   needs the `clock` grant like `palisade:plugin/clock` does. Randomness is not
//!   authority and Rust's `HashMap` needs it, so `wasi:random` is always there, at
//!   most [`MAX_RANDOM_BYTES`](crate::MAX_RANDOM_BYTES) (4 KiB) per call: the host
//!   makes the bytes where the deadline cannot interrupt it, so a larger request
//!   traps instead.
//!
//! # The contract's shape, and why
//!
//! `palisade:plugin@0.2.0` (`wit/`) is shaped by what a hook call costs, because a
//! hook runs on every call a service makes or serves:
//!
//! - **Hooks take no handle and return nothing**: `on-request: func()`,
//!   `on-response: func(status: code)`. The call's facts (`call`) and metadata
//!   (`metadata`) are plain functions on "the running hook's call": an instance runs
//!   one hook at a time, so a handle would say nothing the host does not know. A hook
//!   ends a call by calling `call.reject` or `call.respond` before it returns; a hook
//!   that returns without either lets the call go on. Contract 0.1 lent two
//!   borrowed resource handles per hook (lowered into the guest's handle table and
//!   dropped again on return: ~1,700 instructions) and returned a `decision` variant
//!   holding strings, which needs a post-return call into the guest on every hook,
//!   `Continue` included (~360). Together a quarter of a hook's cost, for nothing.
//! - **A hook pays for what it touches**: `metadata.get` copies one value into the
//!   plugin (through its allocator: ~1,600 instructions), `metadata.contains` copies
//!   nothing. No call copies the whole metadata in (BENCHMARKS.md, "30 headers").
//! - **Hooks a plugin does not write cost one call**: the SDK's default hooks call
//!   `call.hook-unimplemented`, and the host stops calling that hook for that plugin
//!   ([`PluginStats::unimplemented_hooks`](crate::PluginStats)). A plugin can only
//!   excuse itself, so this gives it no power it did not have.
//! - **What a hook hands back is bounded**: a rejection message is cut to
//!   [`MAX_REJECTION_MESSAGE_BYTES`](crate::MAX_REJECTION_MESSAGE_BYTES); a reply over
//!   [`MAX_REPLY_BODY_BYTES`](crate::MAX_REPLY_BODY_BYTES),
//!   [`MAX_REPLY_HEADERS`](crate::MAX_REPLY_HEADERS) or 64 KiB of headers traps the
//!   hook ([`TrapKind::ReplyTooLarge`](crate::TrapKind)).
//! - **One version at a time**: a plugin built for another version of the contract
//!   (it imports or exports a `palisade:plugin` interface of that version) is refused
//!   at load with [`PolicyError::UnsupportedVersion`](crate::PolicyError), naming the
//!   interface; rebuild it with the current SDK
//!   (`palisade_sdk::CONTRACT_VERSION` says which version an SDK builds for).
//!
//! # What "trapped" means for a call
//!
//! The instance is dropped (wasmtime cannot re-enter it), metadata changes the hook
//! made and its decision are dropped, the chain applies the plugin's failure policy, and the next
//! call gets a new instance. When at least 5 of a plugin's answers over the last
//! second or two were traps and traps outnumber successes, new instances wait 10 ms,
//! doubling to at most 1 s, so that a plugin broken on every input does not burn CPU
//! on instantiation; idle healthy instances keep serving meanwhile. A plugin that
//! traps now and then never backs off (with one call in seven trapping at 16-way
//! concurrency, no call that would pass is refused). The caller of a trapped call
//! gets a message the host wrote (the trap's kind, or a host error's root cause,
//! escaped, at most 256 bytes), never the wasm backtrace, whose function names the
//! plugin chose; the operator's log has the detail, escaped.
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
//! | 3 | signature | 0 to 16 ([`MAX_SIGNATURES`](crate::verify::MAX_SIGNATURES)), after the component | `kind: u8`, then by kind: **1 = ed25519**, exactly 97 bytes in all: `1 | key_id: [u8; 32] | signature: [u8; 64]`; **2 = sigstore bundle**: `2 | bundle JSON`, 1 to 64 KiB of JSON ([`MAX_BUNDLE_BYTES`](crate::verify::MAX_BUNDLE_BYTES)) |
//!
//! Parsing is strict, and each fault is its own [`PackageError`](crate::PackageError)
//! variant: fewer than 10 bytes (`TooShort`), another magic (`BadMagic`), another
//! version (`UnsupportedFormatVersion`), another tag (`UnknownSection`), a component or
//! signature before the manifest or a signature before the component (`OutOfOrder`), a
//! second manifest or component (`DuplicateSection`), a missing one (`MissingSection`),
//! a declared length over the section's bound (`SectionTooLarge`, checked on the
//! declared length before anything is sliced) or past the end of the file
//! (`SectionPastEnd`), an ed25519 signature body that is not 97 bytes
//! (`SignatureLength`), an empty bundle (`BundleMalformed`), a 17th signature
//! (`TooManySignatures`), one to four bytes after the last section
//! (`TrailingBytes`), another signature kind (`UnknownAlgorithm`). The whole
//! file is bounded by [`MAX_PACKAGE_BYTES`](crate::verify::MAX_PACKAGE_BYTES) when it
//! is read.
//!
//! The kind byte was the "algorithm" byte of the first draft of format 1, with the
//! same value for ed25519: a package with only ed25519 signatures is byte for byte
//! what it was, so the format version stays 1 (it was never released).
//!
//! **Key id** = SHA-256 of the 32-byte ed25519 public key, shown as lowercase hex.
//! A public key is written (`NAME.pub`, `trust.keys`) as its 64 hex digits; a
//! [development key](#development-keys) as `dev:` followed by them.
//! **Signed message** = `b"palisade-package-v1\0"` followed by the 32-byte SHA-256 of
//! the manifest section's bytes. The manifest pins the component's SHA-256, so one
//! signature covers both. Signatures are checked with `verify_strict`. A sigstore
//! bundle signs the manifest section's bytes themselves (what `cosign sign-blob`
//! signs when given the manifest file); see [Sigstore bundles](#sigstore-bundles).
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
//!    verify refuses the package. A sigstore bundle is read strictly; if the
//!    identity its certificate claims matches no trusted identity it is ignored (and
//!    reported), otherwise it must pass [every check below](#sigstore-bundles) or it
//!    refuses the package (`InvalidBundle`, naming the check). Without a sigstore
//!    trust root in the policy, bundles are untrusted signatures and are not parsed.
//! 3. The threshold, counted over distinct key ids plus distinct trusted identities
//!    (per plugin, else global, at least 1).
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
//! # Sigstore bundles
//!
//! A package can carry sigstore bundles besides (or instead of) ed25519 signatures:
//! the JSON that `cosign sign-blob --bundle` writes for *keyless* signing, where a CI
//! job's OIDC token gets a ten-minute certificate from Fulcio and the signature is
//! logged in Rekor. The operator trusts **identities** (OIDC issuer + subject), not
//! keys. A publisher's CI does, for example:
//!
//! ```sh
//! # The manifest must already pin the component: the bundle signs its exact bytes.
//! echo "component_sha256 = \"$(sha256sum add_header.wasm | cut -d' ' -f1)\"" >> manifest.toml
//! cosign sign-blob --yes --bundle manifest.sigstore.json manifest.toml
//! palisade sign --bundle manifest.sigstore.json --manifest manifest.toml add_header.wasm --out add-header.pkg
//! # or attach it to a package already signed with a key: sign --bundle B --add PKG --out PKG
//! ```
//!
//! and the operator checks it with
//! `palisade verify --trust-root trusted_root.json --identity ISSUER=SUBJECT add-header.pkg`,
//! or configures `sigstore_trust_root` and `[[trust.identity]]` (below).
//!
//! ## What "verified by sigstore" means in Palisade
//!
//! A bundle counts toward the threshold only if all of these hold, checked offline
//! against the operator's trust root (Sigstore's `trusted_root.json` format:
//! [`SigstoreTrustRoot`](crate::SigstoreTrustRoot)); each failure is its own
//! [`SigstoreFailure`](crate::SigstoreFailure):
//!
//! 1. **Well-formed** (Palisade): at most 64 KiB of UTF-8 JSON, no duplicate key, no
//!    field outside the bundle format (v0.1 to v0.3), a *message signature* (DSSE
//!    attestations are refused: they sign a statement, not the manifest), and a
//!    certificate, not a bare public key (`BundleMalformed`).
//! 2. **Identity** (Palisade): the leaf certificate has exactly one e-mail or URI
//!    Subject Alternative Name (the *subject*), and an OIDC issuer in extension
//!    `1.3.6.1.4.1.57264.1.8` (DER UTF8String) and/or `.1.1` (raw string; if both are
//!    present they must agree). It must match a trusted
//!    [`IdentityPolicy`](crate::IdentityPolicy) (issuer exact, subject exact or a
//!    prefix); otherwise the bundle is ignored and listed as an untrusted identity.
//!    Fulcio's CI claims are read too (build signer `.1.9`, source repository
//!    `.1.12`, source ref `.1.14`, build config `.1.18`, DER UTF8Strings; each at most
//!    once) and must satisfy the identity's constraints ([CI claims](#ci-claims-and-reusable-workflows)):
//!    a bundle whose issuer and subject a trusted identity names but whose claims
//!    it refuses refuses the package once it verifies (`Claims`, naming the claim).
//! 3. **Signing time**: the Rekor entry's integrated time, proven by its *signed entry
//!    timestamp* verified with the trusted Rekor key for the entry's log id
//!    (`SignedEntryTimestamp`), and/or an RFC 3161 timestamp from a timestamp
//!    authority in the trust root (`Timestamp`); none is `NoSigningTime`. A time in
//!    the future is refused.
//! 4. **Certificate chain**: the leaf chains to a Fulcio CA of the trust root (whose
//!    `validFor` window contains the signing time), has the code-signing extended key
//!    usage (`Certificate`), and was valid at *every* verified signing time
//!    (`CertificateValidity`: a ten-minute certificate used later is refused).
//! 5. **SCT**, only if the trust root lists CT logs: the certificate's embedded
//!    signed certificate timestamp verifies with a trusted CT log key (`Sct`).
//! 6. **Transparency log**: at least one log entry, and every entry has an
//!    *inclusion proof* (Palisade: `sigstore-verify` alone would take a signed entry
//!    timestamp without a proof in a v0.1 bundle), the RFC 6962/9162
//!    Merkle audit path from the entry's leaf hash leads to the proof's root hash
//!    (`InclusionProof`), and the proof's *checkpoint* (signed tree head, a signed
//!    note) carries that root and is signed by a trusted Rekor key (`Checkpoint`).
//! 7. **The entry is this signature**: the logged hashedrekord's digest, signature
//!    and certificate are the bundle's and this manifest's (`LogEntry`).
//! 8. **The artifact**: the bundle's recorded digest is the SHA-256 of this package's
//!    manifest (`OtherArtifact`: a bundle moved from another package), and the
//!    ECDSA signature verifies with the certificate's key over the manifest's bytes
//!    (`Signature`).
//! 9. **Counting** (Palisade): the same signer identity signing twice counts once; each
//!    trusted identity policy counts at most once (a prefix that admits two workflows
//!    of one repository is one signer); the count is the largest matching between
//!    distinct signers and trusted policies, added to the distinct ed25519 keys.
//!
//! Steps 3 to 8 are `sigstore-verify` 0.15.1's (`Verifier::verify` with
//! `VerificationPolicy::any_identity`, plus `skip_sct` when the root has no CT logs);
//! Palisade then requires its result to report the certificate and the log as
//! verified and to have read the same issuer and subject as step 2.
//!
//! The tests make their own CA, log and bundles and tamper with each part in turn
//! (`tests/all/sigstore.rs`); a real cosign v3 bundle from the public instance
//! (with SCT, RFC 3161 timestamp, signed entry timestamp and inclusion proof) also
//! verifies, offline, against the public trusted root that `sigstore-trust-root`
//! embeds.
//!
//! **Not checked**: revocation (Fulcio certificates are short-lived; there is no
//! CRL or OCSP), anything online (no Rekor lookup: a bundle without an inclusion
//! proof is refused rather than completed; no TUF update of the trust root: the
//! operator supplies and updates `trusted_root.json`), consistency between
//! checkpoints (no witness or gossip: a log that shows different trees to
//! different clients is not detected), the checkpoint's origin line, and Fulcio's
//! claims other than the four above (commit digest, runner, trigger, …). The
//! subject does **not** encode the repository that ran: for a GitHub reusable
//! workflow it names the called file, whoever called it (see
//! [CI claims](#ci-claims-and-reusable-workflows)). SCTs are not checked when the trust root
//! lists no CT log. The message is the manifest's raw bytes with no Palisade
//! context prefix, so the trusted identity must not sign arbitrary blobs that could
//! parse as a manifest.
//!
//! ## Identity policies
//!
//! [`Identity`](crate::Identity) = an exact `https://` issuer and a
//! [`SubjectPattern`](crate::SubjectPattern): exact, or a prefix written with one
//! trailing `*` right after a `/` (`…/release.yml@refs/tags/*`, `https://github.com/org/*`),
//! so that `org/repo*` cannot be written to match `org/repo-evil`. Matching is by
//! path segment, not by character: a prefix matches only a subject that continues
//! it with whole segments and has no `.`, `..` or empty segment and no
//! percent-encoded `.`, `/` or `\` anywhere, so `https://github.com/org/*` does not
//! match `https://github.com/org/../org-evil/x`; patterns with such segments are
//! refused (an exact pattern may keep the empty segment of GitLab's
//! `…/project//.gitlab-ci.yml@ref`). Decided and refused at config:
//!
//! - **`@*` nowhere.** An e-mail subject is matched exactly (`alice@*` would match
//!   `alice@attacker.example`); a workflow's `…/release.yml@*` would match every
//!   branch, including one anyone who can push may create: name the ref in the
//!   subject (`@refs/tags/*`, `@refs/heads/main`).
//! - A prefix names the host and at least one path segment (`https://github.com/*`
//!   would be every repository of the forge); a `*` on a subject that is not a URI
//!   is refused.
//!
//! No regular expressions: an unanchored or unescaped pattern is the classic way to
//! trust too much. A bare `*` is refused. [`IdentityPolicy::any_of`](crate::IdentityPolicy::any_of) matches if
//! any child does, and **matches nothing when empty**;
//! [`IdentityPolicy::all_of`](crate::IdentityPolicy::all_of) matches if every child
//! does, and **refuses to be built empty** (`EmptyAllOf`), since "all of nothing"
//! would match everyone. (The `sigstore` crate 0.15.0's `AnyOf` did the opposite on
//! both counts: it failed if *any* child failed, and passed when empty.)
//!
//! ## CI claims and reusable workflows
//!
//! A GitHub Actions certificate's subject is the workflow file that *ran*
//! (`job_workflow_ref`). When a workflow calls a reusable workflow in another
//! repository, the signing job's subject is the *called* file: a trusted subject
//! that names a public reusable workflow would admit every repository that calls
//! it. Fulcio records the rest ([`SignerClaims`](crate::SignerClaims)): the build
//! signer (`.1.9`, the file that ran, same as the subject), the build config
//! (`.1.18`, the top-level workflow that started the run), the source repository
//! (`.1.12`) and the source ref (`.1.14`). Palisade therefore:
//!
//! - **refuses a build config that differs from the build signer** (the signer is a
//!   reusable workflow) unless the identity sets `allow_reusable_workflow = true`
//!   ([`Identity::allowing_reusable_workflow`](crate::Identity::allowing_reusable_workflow)),
//!   which is refused at config without a `source_repository`: the allowance is
//!   per calling repository, never "whoever calls it";
//! - lets an identity require `source_repository` (a URI pattern, same rules as the
//!   subject: `https://github.com/org/repo` or `https://github.com/org/*`),
//!   `source_ref` (`refs/heads/main`, `refs/tags/*`: a
//!   [`RefPattern`](crate::RefPattern), by segment) and `build_config` (a URI
//!   pattern); a certificate without a required claim does not satisfy it.
//!
//! ```toml
//! [[trust.identity]]   # the organisation's own release workflow, tags only
//! issuer = "https://token.actions.githubusercontent.com"
//! subject = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/*"
//! source_repository = "https://github.com/org/repo"
//! source_ref = "refs/tags/*"
//!
//! [[trust.identity]]   # a shared reusable workflow, as called from org/app's tags
//! issuer = "https://token.actions.githubusercontent.com"
//! subject = "https://github.com/org/shared/.github/workflows/build.yml@refs/tags/v1"
//! source_repository = "https://github.com/org/app"
//! source_ref = "refs/tags/*"
//! allow_reusable_workflow = true
//! ```
//!
//! Certificates without these claims (e-mail identities, other issuers) are judged
//! on issuer and subject only, unless the identity requires a claim. `palisade
//! verify --identity ISSUER=SUBJECT` sets no constraint beyond the build-config
//! rule. Other CI providers write the same claims (GitLab: build config is the
//! pipeline file); the rule holds for any certificate that carries `.1.9` or `.1.18`.
//!
//! ## Why `sigstore-verify`, not the `sigstore` crate
//!
//! Both come from the Sigstore project, under Apache-2.0, and both build with Rust
//! 1.95. `sigstore` 0.15.0 with `default-features = false, features = ["verify",
//! "rustls-tls"]` was read first. Its offline bundle verification
//! (`bundle::verify::Verifier::verify_digest`) checks the chain to the Fulcio
//! certificates at the leaf's notBefore (with webpki, code-signing usage), *requires*
//! an embedded SCT, checks an exact e-mail/URI SAN and only the legacy `.1.1`
//! issuer, the signature over the digest, that the log body matches the bundle, and
//! the integrated time within the certificate's validity. The Merkle inclusion
//! proof and the signed entry timestamp are `TODO(tnytown)` (sigstore-rs#285): the
//! integrated time it trusts is unsigned. Its `AnyOf` is an AND that passes when
//! empty. Reading `trusted_root.json` needs the `sigstore-trust-root` feature (TUF
//! and an HTTP client), the `verify` feature pulls in reqwest and an OAuth client
//! anyway, it runs on a tokio runtime of its own, and it brings 317 crates.
//! `sigstore-verify` 0.15.1 (the newer sigstore-rust workspace) does every check of
//! the list above, parses `trusted_root.json` without TUF or HTTP, is synchronous,
//! and brings 75 crates. Measured on this project's 2-core machine (shared, load 8 to
//! 10), each alone in a fresh target: `sigstore` 376 s, `sigstore-verify` 195 s.
//! Using `sigstore` would have meant writing the Merkle, checkpoint and signed entry
//! timestamp checks, the trust-root reader and the identity reading ourselves on
//! top of it; `sigstore-verify` leaves Palisade the parts that are policy.
//!
//! # Configuration and lockdown
//!
//! The operator describes a whole chain in one TOML file, read with
//! [`OperatorConfig::from_file`](crate::OperatorConfig::from_file) (at most 1 MiB;
//! plugin paths relative to the file's directory) or
//! [`OperatorConfig::from_str`](crate::OperatorConfig::from_str), and loaded with
//! [`Host::load_config`](crate::LoadConfig::load_config). `palisade check-config FILE`
//! checks one without loading any plugin.
//!
//! ```toml
//! mode = "lockdown"                 # or "development"; lockdown when absent
//! audit_log = "audit.jsonl"         # append every load and refusal here (lockdown requires it)
//! compiled_cache = "cache"          # optional: reuse compiled code across restarts
//!
//! [trust]
//! keys = ["<64 hex digits>"]        # ed25519 public keys, as in `palisade keygen`'s NAME.pub
//!                                   # ("dev:<64 hex>" is a development key: refused in lockdown)
//! threshold = 1                     # distinct trusted signatures per package
//! revoked = ["<64 hex key id>"]     # never counted
//! sigstore_trust_root = "trusted_root.json"  # Fulcio CAs, Rekor keys and CT logs, relative to this file
//! [[trust.identity]]                # a trusted sigstore signer; repeat for several
//! issuer = "https://token.actions.githubusercontent.com"
//! subject = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/*"
//! source_repository = "https://github.com/org/repo"  # optional claims: see "CI claims"
//! source_ref = "refs/tags/*"        # optional; also build_config, allow_reusable_workflow
//! [trust.min_versions]                # each names a plugin of [[plugins]] (lockdown)
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
//! routes = ["orders.v1.Orders/*", "http:/admin"]  # optional: only these calls (see "Routes")
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
//! service = "orders.internal"       # plain HTTP calls' `service` (default: the upstream's host)
//! # upstream_plaintext = "insecure-allow"  # another host (development only)
//! metrics = "127.0.0.1:9464"        # optional: GET /metrics (loopback only in lockdown)
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
//!   an ed25519 point, the same key listed twice in `trust.keys` (it would count once,
//!   so a threshold could pass `check-config` that no package can meet), an unknown
//!   name in `forbid`, a plugin with both or neither of
//!   `package` and `component`, duplicate plugin names, a threshold above the number
//!   of keys and identities, limits of 0 or above the host maxima (1 GiB of memory,
//!   60 s per call, 1024 concurrent instances), `[transport]` with only some of `cert`,
//!   `key` and `ca`, a pin that is empty, has spaces or a wildcard, a `[[trust.identity]]` whose issuer
//!   is not an `https://` URL or whose subject pattern is refused (see
//!   [Identity policies](#identity-policies)), whose `source_repository`,
//!   `source_ref` or `build_config` pattern is refused, or that sets
//!   `allow_reusable_workflow` without a `source_repository`, identities without a
//!   `sigstore_trust_root`, and a trust root that cannot be used (not JSON, duplicate
//!   keys, another media type, no CA or no Rekor log, an unusable key). A trust root
//!   file that cannot be read (or is over 1 MiB) is `Invalid` too. In `[serve]`: an
//!   address that is not `IP:PORT`, an upstream that is not `http://HOST[:PORT]`, a
//!   non-loopback upstream without `upstream_plaintext = "insecure-allow"`, a
//!   `[serve]` without `[transport]` TLS material (or plaintext allowed). A
//!   `routes` list that is empty or has a pattern that is not one of the forms
//!   below (`plugins.rbac.routes`, naming the pattern and what to write).
//! - `Lockdown` (in lockdown mode only), naming the offending setting: an unsigned
//!   `component`, `failure = "open"`, a `[trust]` with neither `keys` nor
//!   `[[trust.identity]]`, a `sigstore_trust_root` with no `[[trust.identity]]`,
//!   `threshold = 0`,
//!   `[transport] plaintext = "insecure-allow"`, a development key in `trust.keys`
//!   (the setting names the key id: `trust.keys[0] (development key 3fa1…)`), a
//!   non-loopback `[serve] upstream` (with or without
//!   `upstream_plaintext = "insecure-allow"`), a non-loopback `[serve] metrics` (the
//!   endpoint is plaintext, unauthenticated and has no timeouts), a
//!   `sigstore_trust_root` that lists no CT logs (a certificate's SCT would not be
//!   checked), a `trust.min_versions` or `trust.pins` entry naming no plugin of
//!   `[[plugins]]` (a typo would silently drop the floor or the pin; development mode
//!   warns), and no `audit_log`. And at reload (`palisade serve`), a new file that
//!   would run an older signed version of a running plugin than the one running
//!   (`ReloadError::Rollback`; raise `trust.min_versions` to make a floor permanent).
//!
//! **Routes** scope a plugin to some calls; without `routes` it applies to every
//! call. The host matches them before the plugin is called, so a call outside them
//! never enters its WebAssembly, and a call that no plugin of the chain applies to
//! goes through the layer with no allocation. Patterns (any one matching is enough):
//!
//! | pattern | applies to |
//! |---|---|
//! | `orders.v1.Orders/Create` | that gRPC method, exactly |
//! | `orders.v1.Orders/*` | every method of that gRPC service (the full name: no `orders.v1.*`) |
//! | `http:/admin` | plain HTTP paths `/admin` and `/admin/...`, by whole segments (not `/administrator`) |
//! | `http:/admin/` | plain HTTP paths under `/admin/` |
//!
//! gRPC patterns take only gRPC calls and `http:` patterns only plain HTTP calls (by
//! the request's content type, as in the layer's table). gRPC names compare byte for
//! byte, with case, as tonic dispatches. HTTP paths compare without regard to ASCII
//! case (`/Admin` is inside `http:/admin`): a route decides when a plugin is skipped,
//! and an upstream that routes `/Admin` to the `/admin` handler must not get that
//! request past the plugin; running it more often is the safe mistake. The query is
//! not part of the path. A path cannot be spelled to dodge a route: the layers refuse
//! non-canonical paths (dot segments, `//`, needless percent-escapes such as
//! `/%61dmin`, `;`) before routes are matched, so `/admin` has one spelling. The
//! audit log's
//! `loaded` event lists the routes (`[]`: every call). Library users set them with
//! [`PluginSpec::routes`](crate::PluginSpec::routes) and
//! [`Routes::parse`](crate::Routes::parse).
//!
//! **Ceilings** are applied to every plugin's grants before it is loaded: a forbidden
//! capability is removed, so a package whose manifest requests it is refused with
//! [`PolicyError::ExceedsGrants`](crate::PolicyError::ExceedsGrants) and a component
//! importing it with `NotGranted`; `crypto-sign` downgrades every crypto key to
//! verify-only.
//!
//! In **development** mode unsigned components load, each with a `WARN`-level log
//! line naming it, and fail-open plugins are allowed.
//! In development mode a development key in `trust.keys` is trusted with a `WARN`
//! line, and every package it signs is logged at `WARN` and audited with the key in
//! `development_signers`.
//!
//! # Development keys
//!
//! `palisade keygen --dev --out NAME` writes a key pair like `keygen` does, but
//! `NAME.pub` reads
//!
//! ```text
//! # palisade DEVELOPMENT key <key id>: lockdown refuses to trust it
//! dev:<64 hex digits>
//! ```
//!
//! (`#` lines are comments; a `.pub` file without `dev:`, including every one written
//! before development keys existed, is a release key.) The build signs the example
//! plugins with one, generated once into `target/wasm-guests/dev-key/` (the tests'
//! build script; the packages go to `target/wasm-guests/packages/`), so the examples
//! run signed in development without anyone holding a release key on a build machine.
//!
//! Lockdown refuses `dev:` keys because their secret sits in a build directory, not
//! because the signatures are weaker. The mark is a guard against a mistake (trusting
//! the examples' key in production), not against an operator, who can always paste the
//! bare hex: the operator is trusted. To run the examples in lockdown, sign them with a
//! release key (`palisade sign --key release.key --add PACKAGE`), as
//! `lockdown_trusting_a_release_key_loads_only_the_examples_it_signed` does.
//!
//! # Audit
//!
//! Module [`audit`](crate::audit). Each of these is one `tracing` event with target
//! `palisade::audit` (refusals at `WARN`, the rest at `INFO`), and, when an audit log
//! is set, one line of JSON in it:
//!
//! | `event` | when | fields (besides `timestamp`, `event`, `plugin`) |
//! |---|---|---|
//! | `verified` | a package passed its trust policy and its grants are settled | `version`, `signers` and `development_signers` (key ids), `identities` (the sigstore signers that counted: `{"issuer", "subject", "log_index"}`), `component_sha256`, `requested` (the manifest's), `grants` (effective) |
//! | `loaded` | the plugin's first instance is ready | `signed`, `version` (`null` for a bare component), `component_sha256`, `grants`, `hooks` |
//! | `refused` | any stage refused the plugin | `stage` (`load`, `verify`, `policy`, `compile`, `link`, `audit`), `reason` (the error variant in snake case: `invalid_signature`, `threshold_not_met`, `component_digest_mismatch`, `exceeds_grants`, `not_granted`, `too_large`, ...), `message` |
//! | `reloaded` | a running plugin was replaced (by `palisade serve`'s reload, before the swap) ([`Host::audit`](crate::Host::audit) with [`AuditEvent::reloaded`](crate::AuditEvent::reloaded)) | `version`, `previous_sha256`, `component_sha256` |
//! | `removed` | a reload dropped a running plugin the new file no longer names (before the swap) ([`AuditEvent::removed`](crate::AuditEvent::removed)) | `version`, `component_sha256` (of the removed plugin) |
//! | `reload_failed` | a reload was refused or failed; the running chain was kept ([`AuditEvent::reload_failed`](crate::AuditEvent::reload_failed)) | `outcome` (`refused`: reloading is off; `failed`), `config`, `message` (no `plugin`: it is about the whole chain) |
//!
//! ```json
//! {"timestamp":"2026-05-19T07:31:02.123456Z","event":"verified","plugin":"rbac","version":"0.1.0","signers":["3fa1…"],"development_signers":[],"identities":[],"component_sha256":"9c0e…","requested":{"config":{},"log":{}},"grants":{"config":{},"log":{}}}
//! ```
//!
//! Text that did not come from the host (a signer's subject, an error message quoting
//! a manifest) is escaped in the `tracing` events with
//! [`Untrusted`](crate::Untrusted), so a newline or an ESC in a signed manifest cannot
//! forge a log line; the JSON lines are escaped by JSON itself.
//!
//! The log is set with `audit_log = "path"` in the operator config (relative to the
//! config's directory) or [`Host::with_audit_sink`](crate::Host::with_audit_sink) with
//! an [`AuditSink`](crate::AuditSink). The file is opened with `O_APPEND` and created
//! with mode `0600` (an existing file keeps its mode); each line is one `write` under a
//! lock, followed by `fdatasync`, before the load goes on.
//!
//! **Failing closed.** In lockdown ([`OnAuditFailure::Refuse`](crate::OnAuditFailure))
//! an audit log that cannot be opened refuses the whole config, and one that cannot
//! be written refuses the load it was recording ([`Error::Audit`](crate::Error::Audit)):
//! no plugin runs unrecorded. In development (`Warn`) both are `WARN` lines and the
//! load goes on. A refusal that cannot be written is logged; the load fails anyway.
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
//! - **Slow clients are bounded.** One peer (an IPv4 address, an IPv6 /64) has at
//!   most 64 handshakes in progress; a connection past that is closed unread and
//!   counted (`over_limit`), so a slowloris host holds at most 64 of the 1024 slots
//!   for at most 10 s each, and clients elsewhere are served meanwhile (it takes 16
//!   hosts to fill the table, and then each slot frees within 10 s).
//!   [`serve_http`](crate::transport::serve_http) then gives an HTTP/1.1 request 10 s
//!   to send its headers once they start (and a kept-alive connection 10 s to start
//!   its next request), pings HTTP/2 clients every 20 s and closes a connection that
//!   does not answer within 20 s, and closes gracefully any connection with no call
//!   in flight for 60 s, including one that sent nothing after its handshake
//!   ([`HttpTimeouts`](crate::transport::HttpTimeouts), lower with
//!   [`serve_http_with`](crate::transport::serve_http_with)). Not bounded: a call in
//!   flight whose client sends its body slowly, which the service's own timeouts
//!   must cover.
//! - **The identity** is the first URI SAN of the verified leaf (a SPIFFE ID), or
//!   else its first DNS SAN that is a valid DNS name (lowercased), and it knows its
//!   kind ([`IdentityKind`](crate::transport::IdentityKind)): the two namespaces stay
//!   apart, so a DNS SAN whose text reads `spiffe://demo/admin` names nobody (the
//!   caller is anonymous; the handshake itself succeeds). It reaches plugins as `call.peer-identity` through a
//!   request extension ([`PeerInfo`](crate::transport::PeerInfo)) that only the
//!   transport creates; `x-palisade-*` request headers from the network are dropped
//!   by the server layer, so no header can claim an identity. A verified certificate
//!   without such a SAN makes an anonymous caller (logged).
//! - **Pins, per service.** The client verifies the server's chain to the CA (with
//!   `serverAuth`) and then requires the identity pinned for the service it is
//!   calling among the certificate's SANs of the pin's kind (a pin with a scheme,
//!   `spiffe://...`, is met only by a URI SAN; a DNS name only by a DNS SAN, in any
//!   case); the host name in the address
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
//! - **What the upstream can rely on.** The request it gets is the one the chain
//!   judged ([`layer`](crate::layer), "The request judged is the request
//!   forwarded"): a path that is not canonical (`..`, `%2e`, `%2F`, `//`, `;`, a
//!   backslash, ...) is refused with 400 (gRPC: `INVALID_ARGUMENT`) rather than
//!   forwarded, so an upstream that normalises paths serves the path the rules
//!   saw; a plain HTTP call's `service` is `[serve] service` (the upstream's host
//!   unless set), never the client's `Host`, so a client cannot pick the rules
//!   that apply; gRPC is told by the parsed `content-type`, and gRPC calls go to the
//!   upstream over HTTP/2, everything else over HTTP/1.1 (a Connect-style JSON call
//!   to a gRPC path is plain HTTP, judged as `service/POST/pkg.Service/Method`).
//!   `x-palisade-peer-identity` is on every request: the caller's identity, or
//!   empty for a verified certificate without one, so the upstream never reads a
//!   missing header as "look elsewhere". From the client, every `x-palisade-*`
//!   header, `x-forwarded-client-cert`, `forwarded` and `x-spiffe-id`, and any name
//!   that reads as one of those with `_` for `-` (`x_palisade_peer_identity`, which
//!   WSGI would fold onto the real one), are dropped from the headers and from the
//!   request trailers; there is no setting to keep them, as the sidecar's direct peer
//!   is the client. Headers the client's `Connection` names are dropped before the
//!   chain, so a plugin's headers reach the upstream. The gRPC `service` is the
//!   whole `package.Service` of the path and rules match it exactly: an upstream
//!   that dispatches on less (go-micro routes on the last dotted part) needs rules
//!   on full names, never a package prefix such as `billing.v1.*`. Not covered: an
//!   upstream that matches paths without regard to case.
//!
//! - **Logs** go to stderr, one line per event: `--log-format text` (the default;
//!   colour only when stderr is a terminal, so a log file or a pipe gets none) or
//!   `--log-format json` (one object per line with `timestamp`, `level`, `target`,
//!   `message` and the event's fields at the top level, for a log shipper).
//!   `RUST_LOG` sets levels (default `info`). Every call the chain refuses or
//!   answers itself leaves one **access line** at `info` under the target
//!   `palisade::access`: `plugin`, `decision` (`reject`, `respond`), `code` (the
//!   gRPC code's name), `service`, `method`, `peer` (the verified identity, `-`
//!   without one), `failures` (fail-open plugins that failed before it) and the
//!   plugin's message as `reason`, escaped; a path refused as not canonical has one too, with
//!   the `problem`. A plugin that fails closed refuses with `Unavailable`, so a
//!   failed call has its line. `RUST_LOG=info,palisade::access=warn` turns them off.
//!   Calls that pass leave no line (the metrics count them).
//! - **Shutdown** (`SIGTERM`, ctrl-c): accepting stops at once; in-flight calls get
//!   `shutdown_grace_ms` (10 s by default) to finish, then their connections close.
//! - **Reload** (`SIGHUP`), only with `reload = "verified"` (lockdown's default is
//!   `"off"`, and a refused reload is logged and counted): the file is read and
//!   resolved again, and every plugin of it goes through the whole pipeline (read,
//!   verify, policy, compile, instantiate) into a new chain; only when all of that has
//!   succeeded does the new chain replace the old one
//!   ([`SharedChain`](crate::layer::SharedChain)). Calls in flight finish on the chain
//!   they started with; a reload that fails at any step keeps the old chain and logs
//!   why. A reload changes plugins and trust only: a file whose `mode`, `[serve]`,
//!   `[transport]`, `audit_log` or `compiled_cache` differs is refused (restart for
//!   those). Each
//!   reload is audited: a `reloaded` event per plugin (version, previous and new
//!   component SHA-256) and a `removed` event per running plugin the new file drops,
//!   written before the swap, so that in lockdown a reload that
//!   cannot be recorded does not happen; or one `reload_failed` event with its
//!   outcome (after the `refused` event of the plugin that failed, if one did). The
//!   config's `audit_log` is opened at start and kept open. Files are read on
//!   tokio's blocking pool, never on an async worker, and anything but a regular
//!   file (a FIFO, a device, a directory) is refused before it is opened for
//!   reading; a reload that takes longer than 120 s (a hung network file system) is
//!   abandoned as `failed`, and the next `SIGHUP` is not stuck behind it.
//! - **Metrics**: `GET /metrics` on `[serve] metrics`, Prometheus text format 0.0.4,
//!   read from [`Plugin::stats`](crate::Plugin::stats) at scrape time (the call path
//!   only bumps the plugins' atomics): per plugin of the current chain
//!   `palisade_plugin_{calls,traps,timeouts,failures}_total{plugin}`,
//!   `palisade_plugin_decisions_total{plugin,decision}` (continue, reject, respond),
//!   the histogram `palisade_plugin_call_duration_seconds{plugin}`, and
//!   `palisade_chain_plugins`, `palisade_reloads_total{outcome}`,
//!   `palisade_upstream_errors_total`. A reload starts the new plugins' counters at
//!   zero (Prometheus reads that as a counter reset). The endpoint is plaintext and
//!   read-only; bind it to loopback or a scrape-only network.
