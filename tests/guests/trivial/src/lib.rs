//! The trivial hook the benchmarks measure: rejects a call without `x-request-id`
//! and lets the others go on. The native tower layers and the Extism peer in the
//! benchmarks implement exactly this (a presence check: `HeaderMap::get(..).is_some()`
//! natively, a line scan in Extism), so it asks the host `metadata.contains`; the
//! `read-one` guest does the same with the value copied in (`metadata.get`).

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

#[derive(Default)]
struct Trivial;

impl Plugin for Trivial {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        if metadata.contains("x-request-id") {
            Decision::Continue
        } else {
            Decision::reject(Code::InvalidArgument, "x-request-id is required")
        }
    }
}

palisade_sdk::export_plugin!(Trivial);
