//! The trivial hook's logic with the header's value copied into the plugin
//! (`metadata.get`): what a hook that needs the value pays, against the trivial
//! guest's presence check (`metadata.contains`). It rejects a call without
//! `x-request-id` and lets the others go on.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

#[derive(Default)]
struct ReadOne;

impl Plugin for ReadOne {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        match metadata.get("x-request-id") {
            Some(_) => Decision::Continue,
            None => Decision::reject(Code::InvalidArgument, "x-request-id is required"),
        }
    }
}

palisade_sdk::export_plugin!(ReadOne);
