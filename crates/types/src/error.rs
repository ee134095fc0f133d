//! How a hook call fails.

use std::time::Duration;

/// Stage 5 and 6: a hook call failed. The chain turns this into a decision
/// according to the plugin's [`FailurePolicy`](crate::FailurePolicy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The guest trapped; its instance has been discarded.
    #[error("plugin `{plugin}` trapped: {kind}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// Why.
        kind: TrapKind,
    },
    /// A new instance could not be created.
    #[error("plugin `{plugin}` could not be instantiated: {reason}")]
    Instantiate {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's explanation: its root cause only, escaped and at most 256 bytes
        /// (the whole error, wasm backtrace included, goes to the operator's log).
        reason: String,
    },
    /// Every instance the plugin may run at once was busy for longer than the call's timeout.
    #[error("plugin `{plugin}` is saturated: all {max_concurrency} instances busy")]
    Saturated {
        /// The plugin's name.
        plugin: String,
        /// The concurrency limit.
        max_concurrency: usize,
    },
    /// Most of the plugin's recent calls trapped, and it is backing off before it is
    /// rebuilt again: calls that find an idle instance are still served, calls that
    /// need a new one get this.
    #[error(
        "plugin `{plugin}` is backing off: {traps} of its last {calls} calls trapped (for {remaining:?} more)"
    )]
    BackingOff {
        /// The plugin's name.
        plugin: String,
        /// Traps in the window that started the backoff.
        traps: u32,
        /// Calls answered or trapped in that window.
        calls: u32,
        /// Time left before the next attempt.
        remaining: Duration,
    },
}

impl CallError {
    /// The trap kind, when this error is a trap.
    pub fn trap_kind(&self) -> Option<&TrapKind> {
        match self {
            Self::Trap { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// Why a guest trapped. Found by downcasting wasmtime's error, never by string matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrapKind {
    /// The call ran past its wall-clock deadline (epoch interruption).
    #[error("deadline of {0:?} exceeded")]
    Timeout(Duration),
    /// The call used all of its fuel.
    #[error("out of fuel ({0} units)")]
    OutOfFuel(u64),
    /// The guest tried to grow its memory past its limit, then failed.
    #[error("memory limit of {0} bytes exceeded")]
    MemoryLimit(usize),
    /// The guest's stack overflowed.
    #[error("stack overflow")]
    StackOverflow,
    /// The guest hit `unreachable` (a Rust panic or abort compiles to this).
    #[error("unreachable executed (the guest panicked or aborted)")]
    Unreachable,
    /// The guest called `exit`. WASI 0.2's `exit` carries only success or failure,
    /// so any non-zero status arrives as 1.
    #[error("guest exited with status {0}")]
    Exit(i32),
    /// Another wasm trap (out-of-bounds access, bad conversion, ...). A Rust guest
    /// that overflows its shadow stack (kept in linear memory) ends here as
    /// [`WasmTrap::MemoryOutOfBounds`].
    #[error("{0}")]
    Wasm(WasmTrap),
    /// The hook's reply (`call.respond`) was over its bounds:
    /// [`MAX_REPLY_BODY_BYTES`](crate::bounds::MAX_REPLY_BODY_BYTES),
    /// [`MAX_REPLY_HEADERS`](crate::bounds::MAX_REPLY_HEADERS), or
    /// [`MAX_METADATA_TOTAL_BYTES`](crate::bounds::MAX_METADATA_TOTAL_BYTES) of headers.
    #[error("reply too large: more than {limit} {what}")]
    ReplyTooLarge {
        /// What was over: `body bytes`, `headers` or `header bytes`.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// The guest broke the canonical ABI or a host function refused to continue:
    /// the root cause as the host or wasmtime wrote it, escaped and at most 256 bytes.
    /// Never the wasm backtrace, whose function names the plugin chose (its name
    /// section); that goes, escaped, to the operator's log only.
    #[error("host error: {0}")]
    Host(String),
}

/// Which WebAssembly trap a guest hit, beyond those [`TrapKind`] names on its own.
/// The runtime maps its trap codes onto these; the text is the runtime's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum WasmTrap {
    /// A load or store outside linear memory.
    #[error("wasm trap: out of bounds memory access")]
    MemoryOutOfBounds,
    /// An atomic access at an address that is not naturally aligned.
    #[error("wasm trap: unaligned atomic")]
    HeapMisaligned,
    /// An access outside a table.
    #[error("wasm trap: undefined element: out of bounds table access")]
    TableOutOfBounds,
    /// An indirect call through a null table entry.
    #[error("wasm trap: uninitialized element")]
    IndirectCallToNull,
    /// An indirect call whose signature does not match the callee's.
    #[error("wasm trap: indirect call type mismatch")]
    BadSignature,
    /// Integer arithmetic overflowed (`i32.div_s` of the minimum by -1).
    #[error("wasm trap: integer overflow")]
    IntegerOverflow,
    /// Integer division (or remainder) by zero.
    #[error("wasm trap: integer divide by zero")]
    IntegerDivisionByZero,
    /// A float-to-integer conversion of NaN or of a value out of range.
    #[error("wasm trap: invalid conversion to integer")]
    BadConversionToInteger,
    /// A null reference was dereferenced or called.
    #[error("wasm trap: null reference")]
    NullReference,
    /// An access outside a GC array.
    #[error("wasm trap: out of bounds array access")]
    ArrayOutOfBounds,
    /// An allocation too large to succeed.
    #[error("wasm trap: allocation size too large")]
    AllocationTooLarge,
    /// A reference cast to a type it is not an instance of.
    #[error("wasm trap: cast failure")]
    CastFailure,
    /// The component broke the component model's rules (re-entrance, an invalid
    /// `char`, string or list out of bounds, a bad discriminant, ...).
    #[error("wasm trap: the component broke the component model's rules")]
    ComponentModel,
    /// A trap this host does not name (a newer runtime's); the runtime's text goes to
    /// the operator's log.
    #[error("wasm trap (of a kind this host does not name)")]
    Other,
}

/// `error`'s message followed by each of its causes (`source()` chain) that the text
/// so far does not already contain, joined by `: `: one line for a log or an audit
/// record, where an error-chain printer is not at hand. An error whose message
/// already quotes its cause prints it once.
pub fn message_with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        let more = source.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = source.source();
    }
    text
}
