//! Write Palisade interceptor plugins in plain Rust.
//!
//! A plugin is a WebAssembly component that the Palisade host runs beside a gRPC or
//! HTTP service. It sees each call twice, once on the way in ([`Plugin::on_request`])
//! and once on the way out ([`Plugin::on_response`]), and decides what happens to it
//! ([`Decision`]). It can do nothing else unless the operator grants it a capability:
//! each capability is a module here ([`log`], [`clock`], [`config`], [`kv`],
//! [`crypto`], [`metrics`]), and a plugin that never calls a module's functions does
//! not import that capability, so the host can load it without granting it.
//!
//! # A tour
//!
//! 1. Make a library crate whose only dependency is `palisade-sdk`, with
//!    `crate-type = ["cdylib"]`.
//! 2. Write a type that is [`Default`] and implements [`Plugin`]. The host keeps one
//!    value of it per plugin instance, made with `Default` on the first call; the
//!    hooks take `&self`, so state that changes between calls goes in a
//!    [`Cell`](std::cell::Cell) or [`RefCell`](std::cell::RefCell). An instance runs
//!    one call at a time, but the host may run many instances and may throw one away
//!    at any time: state shared between instances belongs in [`kv`].
//! 3. Read the call with [`Call`] and the headers with [`Metadata`], and return a
//!    [`Decision`]: [`Decision::Continue`], [`Decision::reject`] or
//!    [`Decision::respond`]. Every read asks the host about the one thing it names,
//!    so a hook pays only for what it reads. Write only the hooks you need: a hook
//!    left at its default runs once, and then the host stops calling it.
//! 4. Export it with [`export_plugin!`].
//! 5. Build it with `cargo build --release --target wasm32-wasip2`: the `.wasm` in
//!    `target/wasm32-wasip2/release/` is the component the host loads.
//!
//! ```
//! use palisade_sdk::{Call, Code, Decision, Metadata, Plugin, config, log};
//!
//! /// Refuses calls without an API key, and tags every response.
//! struct RequireApiKey {
//!     header: String,
//! }
//!
//! impl Default for RequireApiKey {
//!     // Runs once per instance: read configuration here, not on every call.
//!     fn default() -> Self {
//!         let header = config::get("header").unwrap_or_else(|| "x-api-key".to_owned());
//!         Self { header }
//!     }
//! }
//!
//! impl Plugin for RequireApiKey {
//!     fn on_request(&self, call: &Call, metadata: &mut Metadata) -> Decision {
//!         if metadata.get(&self.header).is_none() {
//!             log::info(&format!("no {} on {}/{}", self.header, call.service(), call.method()));
//!             return Decision::reject(Code::Unauthenticated, "an API key is required");
//!         }
//!         // Keep the key away from the service behind us.
//!         match metadata.remove(&self.header) {
//!             Ok(()) => Decision::Continue,
//!             Err(e) => Decision::reject(Code::Internal, format!("cannot strip key: {e}")),
//!         }
//!     }
//!
//!     fn on_response(&self, _call: &Call, _status: Code, metadata: &mut Metadata) -> Decision {
//!         // Best effort: a refused header change does not fail the call.
//!         let _ = metadata.append("x-checked-by", "require-api-key");
//!         Decision::Continue
//!     }
//! }
//!
//! palisade_sdk::export_plugin!(RequireApiKey);
//! ```
//!
//! This plugin imports `palisade:plugin/config` and `palisade:plugin/log`, so the
//! operator must grant both.
//!
//! # Errors and panics
//!
//! Capability calls that can be refused return a `Result` ([`MetadataError`],
//! [`kv::KvError`], [`crypto::CryptoError`]). A panic aborts the instance: the host
//! fails the call and builds a fresh instance (so a fresh plugin value) for the next.
//!
//! # Native builds
//!
//! Plugin crates also compile for the host's own target so that `cargo clippy` and
//! `cargo test` work across a workspace, and pure logic can be unit-tested there.
//! Outside WebAssembly, [`export_plugin!`] exports nothing and every host call
//! ([`Call`], [`Metadata`] and the capability modules) panics: test the logic that
//! does not touch the host.

extern crate self as palisade_sdk;

mod call;
mod decision;
mod metadata;

pub mod clock;
pub mod config;
pub mod crypto;
pub mod kv;
pub mod log;
pub mod metrics;

pub use call::{Call, Direction};

/// The version of the `palisade:plugin` contract (`wit/`) this SDK builds plugins
/// for. A host serves one version and refuses plugins built for another, naming it.
pub const CONTRACT_VERSION: &str = "0.2.0";
pub use decision::{Code, Decision};
pub use metadata::{Metadata, MetadataError};

/// The bindings `wit-bindgen` generates for the `palisade:plugin/plugin` world.
///
/// An implementation detail of [`export_plugin!`] and of the wrappers in this crate;
/// nothing here is covered by semver.
#[doc(hidden)]
#[allow(
    unsafe_code,
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::panic,
    clippy::allow_attributes_without_reason,
    clippy::uninlined_format_args,
    reason = "generated by wit-bindgen"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "palisade_sdk::bindings",
        runtime_path: "palisade_sdk::__private::rt",
    });
}

/// What [`export_plugin!`] expands to refers to these. Not public API.
#[doc(hidden)]
pub mod __private {
    use std::cell::Cell;

    pub use crate::bindings::exports::palisade::plugin::interceptor::Guest;
    use crate::bindings::palisade::plugin::call;
    pub use crate::bindings::palisade::plugin::types::Code as WitCode;
    pub use wit_bindgen::rt;

    use crate::{Call, Code, Decision, Metadata, Plugin};

    std::thread_local! {
        /// Set by a hook left at its default: see [`default_hook`].
        static DEFAULT_HOOK_RAN: Cell<bool> = const { Cell::new(false) };
    }

    /// Called by the default bodies of [`Plugin`]'s hooks. Once the hook returns, the
    /// host is told that this plugin does not implement it, so it stops calling it:
    /// a hook a plugin does not write costs one call, not one per request.
    pub fn default_hook() {
        DEFAULT_HOOK_RAN.with(|ran| ran.set(true));
    }

    /// Runs `plugin`'s request hook for the call the host is running.
    pub fn on_request<P: Plugin>(plugin: &P) {
        let decision = plugin.on_request(&Call::new(), &mut Metadata::new());
        finish(decision);
    }

    /// Runs `plugin`'s response hook with the response's `status`.
    pub fn on_response<P: Plugin>(plugin: &P, status: WitCode) {
        let decision =
            plugin.on_response(&Call::new(), Code::from_wit(status), &mut Metadata::new());
        finish(decision);
    }

    fn finish(decision: Decision) {
        if DEFAULT_HOOK_RAN.with(Cell::take) {
            call::hook_unimplemented();
        }
        decision.submit();
    }
}

/// An interceptor: what a plugin crate implements.
///
/// The host keeps one value per plugin instance, made with [`Default`] when the
/// instance first runs a hook, and calls the hooks one at a time. Both hooks default
/// to [`Decision::Continue`], so implement only the ones you need.
pub trait Plugin: Default + 'static {
    /// Runs before the call reaches the handler (server side) or leaves this service
    /// (client side). Changes made to `metadata` travel with the call if the decision
    /// is [`Decision::Continue`].
    fn on_request(&self, call: &Call<'_>, metadata: &mut Metadata<'_>) -> Decision {
        let _ = (call, metadata);
        __private::default_hook();
        Decision::Continue
    }

    /// Runs on the way back, with the response's `status` and metadata.
    /// [`Decision::Reject`] and [`Decision::Respond`] replace the response.
    fn on_response(&self, call: &Call<'_>, status: Code, metadata: &mut Metadata<'_>) -> Decision {
        let _ = (call, status, metadata);
        __private::default_hook();
        Decision::Continue
    }
}

/// Exports a [`Plugin`] type as this component's interceptor.
///
/// Use it once per plugin crate, at the top level:
///
/// ```
/// #[derive(Default)]
/// struct Noop;
/// impl palisade_sdk::Plugin for Noop {}
///
/// palisade_sdk::export_plugin!(Noop);
/// ```
///
/// The plugin value lives in a `thread_local!`, made with `Default` on the first
/// hook an instance runs and kept until the host drops the instance. Outside
/// WebAssembly the macro checks the type but exports nothing.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty $(,)?) => {
        const _: () = {
            ::std::thread_local! {
                static __PALISADE_PLUGIN: $plugin = <$plugin as ::core::default::Default>::default();
            }

            struct __PalisadeExport;

            impl $crate::__private::Guest for __PalisadeExport {
                fn on_request() {
                    __PALISADE_PLUGIN.with($crate::__private::on_request::<$plugin>)
                }

                fn on_response(status: $crate::__private::WitCode) {
                    __PALISADE_PLUGIN.with(|plugin| {
                        $crate::__private::on_response::<$plugin>(plugin, status)
                    })
                }
            }

            // Outside WebAssembly nothing is exported; these references keep the
            // plugin's code alive so that native builds lint it like wasm builds.
            #[cfg(not(target_arch = "wasm32"))]
            const _: (fn(), fn($crate::__private::WitCode)) = (
                <__PalisadeExport as $crate::__private::Guest>::on_request,
                <__PalisadeExport as $crate::__private::Guest>::on_response,
            );

            #[cfg(target_arch = "wasm32")]
            $crate::bindings::__export_plugin_world!(
                __PalisadeExport with_types_in $crate::bindings
            );
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_version_is_the_wit_packages() {
        let world = include_str!("../../wit/world.wit");
        let package = format!("package palisade:plugin@{};", super::CONTRACT_VERSION);
        assert!(world.lines().any(|l| l == package), "{package}");
    }
}
