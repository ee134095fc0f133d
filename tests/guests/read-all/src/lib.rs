//! Copies every header name and value into the guest, then continues: what a
//! contract that passed metadata as a list of string pairs would cost on every call.
//! Benchmarked against `trivial`, which touches one header of the same 30.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

#[derive(Default)]
struct ReadAll;

impl Plugin for ReadAll {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let mut bytes = 0;
        for name in metadata.keys() {
            for value in metadata.get_all(&name) {
                bytes += name.len() + value.len();
            }
        }
        if bytes == 0 {
            return Decision::reject(Code::InvalidArgument, "no metadata");
        }
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(ReadAll);
