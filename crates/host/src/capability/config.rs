//! Capability `config`: the plugin's own operator-supplied values, read-only.

use std::collections::BTreeMap;

use wasmtime::component::{HasData, Linker};

use super::bindings::palisade::plugin::config as generated;
use crate::instance::state::PluginState;

/// The view `config` functions run on: only this plugin's values.
pub(crate) struct ConfigView<'a> {
    values: &'a BTreeMap<String, String>,
}

impl generated::Host for ConfigView<'_> {
    fn get(&mut self, key: String) -> Option<String> {
        self.values.get(&key).cloned()
    }

    fn keys(&mut self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }
}

struct HasConfig;

impl HasData for HasConfig {
    type Data<'a> = ConfigView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasConfig>(linker, |state| ConfigView {
        values: &state.shared.config,
    })
}
