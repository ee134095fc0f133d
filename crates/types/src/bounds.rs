//! The bounds every call and every capability works within: what a plugin may
//! send, store, log or ask for at most. The host enforces them; the layers and the
//! SDK read them.

/// Longest rejection message a plugin may give, in bytes; a longer one is cut at a
/// character boundary. It travels in the `grpc-message` trailer (percent-encoded) or
/// as an HTTP body, and is for humans: 4 KiB says anything worth saying.
pub const MAX_REJECTION_MESSAGE_BYTES: usize = 4 * 1024;

/// Largest reply body a plugin may send, in bytes: gRPC's default maximum message
/// size, which is what a tonic client accepts unless told otherwise.
pub const MAX_REPLY_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Most headers a reply may carry. The reply's headers together are bounded by
/// [`MAX_METADATA_TOTAL_BYTES`], like the metadata a hook may grow.
pub const MAX_REPLY_HEADERS: usize = 64;

/// Bytes one crypto call may process. Requests are small; a bound keeps a plugin
/// from turning the host into a hashing service.
pub const MAX_CRYPTO_INPUT_BYTES: usize = 1 << 20;

/// Longest key. Keys are names, not data.
pub const MAX_KV_KEY_BYTES: usize = 256;

/// Largest value. A per-entry bound keeps one write from taking the whole quota's
/// worth of host memory in one copy.
pub const MAX_KV_VALUE_BYTES: usize = 64 * 1024;

/// The longest single log message; longer ones are cut and marked. One line of a
/// log should never be a megabyte.
pub const MAX_LOG_MESSAGE_BYTES: usize = 1024;

/// Metadata changes (set, append, remove) one hook call may make.
pub const MAX_METADATA_CHANGES_PER_CALL: usize = 64;

/// Largest header value a plugin may write.
pub const MAX_METADATA_VALUE_BYTES: usize = 8 * 1024;

/// Largest total of names plus values a plugin may grow the metadata to. HTTP/2
/// servers commonly refuse header blocks past 16–64 KiB; a plugin must not make the
/// host build one that the next hop refuses.
pub const MAX_METADATA_TOTAL_BYTES: usize = 64 * 1024;

/// Header names only the host may write. The peer identity comes from the transport
/// and reaches plugins through `call.peer-identity`; no header can set it.
pub const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "grpc-accept-encoding",
    "grpc-encoding",
    "grpc-message",
    "grpc-status",
    "grpc-status-details-bin",
    "grpc-timeout",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Every header starting with this prefix is the host's.
pub const RESERVED_PREFIX: &str = "x-palisade-";

/// Whether `name` (lowercase) is reserved for the host.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with(':') || name.starts_with(RESERVED_PREFIX) || RESERVED_HEADERS.contains(&name)
}

/// Distinct metric names one plugin may create. Each name is host memory and a
/// time series downstream; a plugin inventing names per call would exhaust both.
pub const MAX_METRICS_PER_PLUGIN: usize = 64;

/// Longest metric name.
pub const MAX_METRIC_NAME_BYTES: usize = 64;

/// Bytes one `wasi:random` call (`get-random-bytes`, `get-insecure-random-bytes`) may
/// ask for; a larger request traps. The host makes the bytes before the epoch
/// deadline can interrupt anything, so wasmtime's default of 64 MiB per call let one
/// call run hundreds of milliseconds past a 100 ms deadline and hold 64 MiB of host
/// memory. Keys and nonces are tens of bytes; a guest that wants more asks again.
pub const MAX_RANDOM_BYTES: u64 = 4 * 1024;

/// Core instances one plugin instance (one component) may hold. A Rust guest has 3
/// or 4 (its own module, the shim and fix-up modules `wit-component` adds, and an
/// adapter); a Python plugin built by componentize-py has 38 (the interpreter's
/// modules, linked at build time). It is a count, not a reservation: each pool
/// slot of a core instance is a small record. The same number bounds
/// [`Limits::max_core_instances`](crate::Limits::max_core_instances).
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
