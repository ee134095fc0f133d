//! The one `bindgen!` for the `palisade:plugin` world.
//!
//! Everything is synchronous: no host capability waits on I/O, and the virtual WASI's
//! `wasi:io` is linked as non-blocking sync functions ([`super::wasi_io`]), so a
//! guest call is a plain function call on the caller's stack: no fiber, no
//! `call_async`.

#![allow(missing_docs, unreachable_pub, reason = "generated bindings")]

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    imports: {
        // A reply over its bounds traps the hook (a typed `TrapKind::ReplyTooLarge`).
        "palisade:plugin/call.respond": trappable,
    },
});

pub(crate) use palisade::plugin::types::{Code, Direction, Reply};

/// The contract's status codes and the call vocabulary's are the same list; these
/// convert between them.
macro_rules! convert_codes {
    ($($name:ident),* $(,)?) => {
        impl From<Code> for palisade_types::Code {
            fn from(code: Code) -> Self {
                match code { $(Code::$name => Self::$name,)* }
            }
        }

        impl From<palisade_types::Code> for Code {
            fn from(code: palisade_types::Code) -> Self {
                match code { $(palisade_types::Code::$name => Self::$name,)* }
            }
        }
    };
}

convert_codes! {
    Ok, Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
    PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
    Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated,
}
