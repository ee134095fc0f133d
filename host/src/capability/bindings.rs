//! The one `bindgen!` for the `palisade:plugin` world.
//!
//! Imports are synchronous: no host capability waits on I/O, so they run directly on
//! the guest's stack. Exports are async because the virtual WASI (wasmtime-wasi's
//! stdio) is, which makes guest calls run on a fiber with `call_async`.

#![allow(missing_docs, unreachable_pub, reason = "generated bindings")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
    with: {
        "palisade:plugin/types.call": crate::capability::types::CallRep,
        "palisade:plugin/types.metadata": crate::capability::types::MetadataRep,
    },
});

pub(crate) use palisade::plugin::types::{Code, Decision};
