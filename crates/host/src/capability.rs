//! Stage 4, **link**: a `Linker` holding only the granted host interfaces.
//!
//! Each capability is one module with the same shape: its state, a view borrowed
//! from the store, the generated `Host` impl, and `add_to_linker`. [`link`] is the
//! one place that decides what a plugin can reach.

pub(crate) mod bindings;
pub(crate) mod call;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod crypto;
pub(crate) mod kv;
pub(crate) mod log;
pub(crate) mod metadata;
pub(crate) mod metrics;
pub(crate) mod wasi;
pub(crate) mod wasi_io;

use wasmtime::component::Linker;

use crate::error::LinkError;
use crate::instance::state::PluginState;
use palisade_types::Grants;

/// Builds the linker for one plugin: the call, its metadata and the virtual WASI
/// always, then exactly the granted capabilities.
pub(crate) fn link(
    plugin: &str,
    engine: &wasmtime::Engine,
    grants: &Grants,
) -> Result<Linker<PluginState>, LinkError> {
    let mut linker = Linker::new(engine);
    let define = |capability: &'static str| {
        move |e: wasmtime::Error| LinkError::Define {
            plugin: plugin.to_owned(),
            capability,
            reason: format!("{e:#}"),
        }
    };
    call::add_to_linker(&mut linker).map_err(define("call"))?;
    metadata::add_to_linker(&mut linker).map_err(define("metadata"))?;
    wasi::add_to_linker(&mut linker).map_err(define("virtual wasi"))?;

    // Exhaustive on purpose: a new field in `Grants` is a compile error here until
    // someone decides how it is linked.
    let Grants {
        log,
        clock,
        config,
        kv,
        crypto,
        metrics,
    } = grants;
    if log.is_some() {
        log::add_to_linker(&mut linker).map_err(define("log"))?;
    }
    if clock.is_some() {
        clock::add_to_linker(&mut linker).map_err(define("clock"))?;
        wasi::add_clocks_to_linker(&mut linker).map_err(define("clock"))?;
    }
    if config.is_some() {
        config::add_to_linker(&mut linker).map_err(define("config"))?;
    }
    if kv.is_some() {
        kv::add_to_linker(&mut linker).map_err(define("kv"))?;
    }
    if crypto.is_some() {
        crypto::add_to_linker(&mut linker).map_err(define("crypto"))?;
    }
    if metrics.is_some() {
        metrics::add_to_linker(&mut linker).map_err(define("metrics"))?;
    }
    Ok(linker)
}
