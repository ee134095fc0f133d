//! Capability `config` (`palisade:plugin/config`): this plugin's own
//! operator-supplied settings, read-only.
//!
//! A plugin sees only the values configured for it. Configuration does not change
//! during an instance's life, so read it once (for instance in your plugin's
//! `Default`) rather than on every call.

use crate::bindings::palisade::plugin::config as wit;

/// The value of `key`, if configured.
pub fn get(key: &str) -> Option<String> {
    wit::get(key)
}

/// Every configured key.
pub fn keys() -> Vec<String> {
    wit::keys()
}
