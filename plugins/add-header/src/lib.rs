//! Example Palisade plugin: sets a configured header on every request and tags every
//! response with `x-added-by: add-header`.
//!
//! Capabilities: `config`. Config keys: `name` (default `x-palisade`) and `value`
//! (default `add-header`).

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin, config};

/// The header set on requests, read from configuration once per instance.
struct AddHeader {
    name: String,
    value: String,
}

impl Default for AddHeader {
    fn default() -> Self {
        Self {
            name: config::get("name").unwrap_or_else(|| "x-palisade".to_owned()),
            value: config::get("value").unwrap_or_else(|| "add-header".to_owned()),
        }
    }
}

impl Plugin for AddHeader {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        match metadata.set(&self.name, &self.value) {
            Ok(()) => Decision::Continue,
            Err(e) => Decision::reject(
                Code::FailedPrecondition,
                format!("add-header: cannot set {}: {e}", self.name),
            ),
        }
    }

    fn on_response(&self, _call: &Call, _status: Code, metadata: &mut Metadata) -> Decision {
        // A tag, not a guarantee: a refused append does not fail the response.
        let _ = metadata.append("x-added-by", "add-header");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(AddHeader);
