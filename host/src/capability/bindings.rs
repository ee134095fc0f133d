//! The one `bindgen!` for the `palisade:plugin` world.
//!
//! Everything is synchronous: no host capability waits on I/O, and the virtual WASI's
//! `wasi:io` is linked as non-blocking sync functions ([`super::wasi_io`]), so a
//! guest call is a plain function call on the caller's stack: no fiber, no
//! `call_async`.

#![allow(missing_docs, unreachable_pub, reason = "generated bindings")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: {
        // A reply over its bounds traps the hook (a typed `TrapKind::ReplyTooLarge`).
        "palisade:plugin/call.respond": trappable,
    },
});

pub(crate) use palisade::plugin::types::{Code, Direction, Reply};
