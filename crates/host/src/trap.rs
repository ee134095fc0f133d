//! What a wasmtime failure was, in the call vocabulary: a guest's trap as a typed
//! [`TrapKind`], a host-side failure as a short escaped summary for callers and the
//! full detail for the operator's log. Used where instances are made and where hooks
//! run, so neither depends on the other for it.

use palisade_types::{CallError, TrapKind, WasmTrap};

use crate::capability::call::ReplyTooLarge;

/// The trap `error` is, if it is one the guest caused (not a host function's failure).
pub(crate) fn trap_kind(
    error: &wasmtime::Error,
    memory_denied: bool,
    limits: &crate::Limits,
) -> Option<TrapKind> {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Some(TrapKind::Exit(exit.0));
    }
    if let Some(too_large) = error.downcast_ref::<ReplyTooLarge>() {
        return Some(TrapKind::ReplyTooLarge {
            what: too_large.what,
            limit: too_large.limit,
        });
    }
    Some(match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => TrapKind::Timeout(limits.call_timeout),
        Some(wasmtime::Trap::OutOfFuel) => TrapKind::OutOfFuel(limits.fuel.unwrap_or(0)),
        Some(wasmtime::Trap::StackOverflow) => TrapKind::StackOverflow,
        Some(_) if memory_denied => TrapKind::MemoryLimit(limits.max_memory_bytes),
        Some(wasmtime::Trap::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(trap) => TrapKind::Wasm(wasm_trap(*trap)),
        None if memory_denied => TrapKind::MemoryLimit(limits.max_memory_bytes),
        None => return None,
    })
}

/// Why a plugin's first instance, created at load, could not be made: a start
/// function's trap, typed as a call's would be, or the runtime's refusal. Logged in
/// full for the operator, summarised in the error.
pub(crate) fn start_error(
    plugin: &str,
    error: &wasmtime::Error,
    memory_denied: bool,
    limits: &crate::Limits,
) -> crate::error::InstantiateError {
    tracing::warn!(
        plugin,
        detail = %operator_detail(error),
        "plugin could not be instantiated at load"
    );
    // A guest's trap (a start function's); not an instantiation the limiter refused
    // before any guest code ran, which is no trap.
    let trapped = error.downcast_ref::<wasmtime::Trap>().is_some()
        || error.downcast_ref::<wasmtime_wasi::I32Exit>().is_some();
    match trap_kind(error, memory_denied, limits) {
        Some(kind) if trapped => crate::error::InstantiateError::StartTrapped {
            plugin: plugin.to_owned(),
            kind,
        },
        _ if memory_denied => crate::error::InstantiateError::MemoryLimit {
            plugin: plugin.to_owned(),
            limit: limits.max_memory_bytes,
        },
        _ => crate::error::InstantiateError::Failed {
            plugin: plugin.to_owned(),
            reason: host_summary(error),
        },
    }
}

/// wasmtime's trap code as the vocabulary's [`WasmTrap`], which names no runtime.
fn wasm_trap(trap: wasmtime::Trap) -> WasmTrap {
    use wasmtime::Trap;
    match trap {
        Trap::MemoryOutOfBounds => WasmTrap::MemoryOutOfBounds,
        Trap::HeapMisaligned => WasmTrap::HeapMisaligned,
        Trap::TableOutOfBounds => WasmTrap::TableOutOfBounds,
        Trap::IndirectCallToNull => WasmTrap::IndirectCallToNull,
        Trap::BadSignature => WasmTrap::BadSignature,
        Trap::IntegerOverflow => WasmTrap::IntegerOverflow,
        Trap::IntegerDivisionByZero => WasmTrap::IntegerDivisionByZero,
        Trap::BadConversionToInteger => WasmTrap::BadConversionToInteger,
        Trap::NullReference => WasmTrap::NullReference,
        Trap::ArrayOutOfBounds => WasmTrap::ArrayOutOfBounds,
        Trap::AllocationTooLarge => WasmTrap::AllocationTooLarge,
        Trap::CastFailure => WasmTrap::CastFailure,
        Trap::CannotEnterComponent
        | Trap::CannotLeaveComponent
        | Trap::InvalidChar
        | Trap::StringOutOfBounds
        | Trap::ListOutOfBounds
        | Trap::InvalidDiscriminant
        | Trap::UnalignedPointer => WasmTrap::ComponentModel,
        other => {
            tracing::debug!(trap = %other, "a wasm trap this host does not name");
            WasmTrap::Other
        }
    }
}

/// Longest explanation of a host-side failure a caller may read, in bytes.
const MAX_SUMMARY_BYTES: usize = 256;
/// Longest failure detail written to the operator's log, in bytes.
const MAX_DETAIL_BYTES: usize = 4096;

/// What a caller may read of a host-side failure: the root cause alone (the host's
/// or wasmtime's sentence), never the context wasmtime adds around it (the wasm
/// backtrace names the guest's functions as its name section spells them), escaped
/// and bounded all the same.
pub(crate) fn host_summary(error: &wasmtime::Error) -> String {
    bounded(
        palisade_types::escape_untrusted(&error.root_cause().to_string()),
        MAX_SUMMARY_BYTES,
    )
}

/// The whole failure, backtrace included, for the operator's log: escaped, so that a
/// name section cannot print lines that pass for the host's, and bounded.
pub(crate) fn operator_detail(error: &wasmtime::Error) -> String {
    bounded(
        palisade_types::escape_untrusted(&format!("{error:#}")),
        MAX_DETAIL_BYTES,
    )
}

/// A failed instantiation (a start function may trap, with a backtrace): logged in
/// full for the operator, summarised for the caller.
pub(crate) fn instantiate_error(plugin: &str, error: &wasmtime::Error) -> CallError {
    tracing::warn!(
        plugin,
        detail = %operator_detail(error),
        "plugin could not be instantiated"
    );
    CallError::Instantiate {
        plugin: plugin.to_owned(),
        reason: host_summary(error),
    }
}

/// `text` cut to at most `limit` bytes at a character boundary, marked when cut.
fn bounded(text: std::borrow::Cow<'_, str>, limit: usize) -> String {
    if text.len() <= limit {
        return text.into_owned();
    }
    let end = text.floor_char_boundary(limit);
    format!("{}…[truncated]", &text[..end])
}
