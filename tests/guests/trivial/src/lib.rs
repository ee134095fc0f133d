//! The trivial hook the benchmarks measure: reads one header and continues, or
//! rejects a call without it. The native tower layer and the Extism peer in the
//! benchmarks implement exactly this.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

#[derive(Default)]
struct Trivial;

impl Plugin for Trivial {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        match metadata.get("x-request-id") {
            Some(_) => Decision::Continue,
            None => Decision::reject(Code::InvalidArgument, "x-request-id is required"),
        }
    }
}

palisade_sdk::export_plugin!(Trivial);
