//! Fixtures for Palisade's integration tests and demo: the paths of the real
//! components compiled from `plugins/` and `tests/hostile/` by this crate's build
//! script, and small helpers to load them.

use palisade_host::{Grants, Host, Plugin, PluginSource, PluginSpec};

pub mod loadgen;
pub mod sigstore;

/// Paths of the compiled guest components.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A spec for the component at `path` under `name`, with no grants.
pub fn spec(name: &str, path: &str) -> PluginSpec {
    PluginSpec::new(name, PluginSource::File(path.into()))
}

/// Loads the component at `path` under `name` with `grants`.
pub async fn load(
    host: &Host,
    name: &str,
    path: &str,
    grants: Grants,
) -> palisade_host::Result<Plugin> {
    host.load(spec(name, path).grants(grants)).await
}

pub mod echo;
pub mod packages;
pub mod pki;
