//! Hostile plugin: on every request, tries to add 10 000 headers `x-flood-<i>` of
//! 1 KiB each (10 MiB), stopping at the first refusal, and reports
//! `x-flood-result: <error> after N` (or `no error after N`).
//!
//! Once the host's per-call bound is hit there may be no room left to report, so
//! the plugin first removes the `x-flood-*` headers it managed to add; if the report
//! still cannot be set, it rejects the call with `RESOURCE_EXHAUSTED` and the report
//! as the message.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

/// How many headers it tries to add.
const HEADERS: usize = 10_000;

#[derive(Default)]
struct MetadataFlood;

impl Plugin for MetadataFlood {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let _ = metadata.set("x-served-by", "metadata-flood");
        let value = "v".repeat(1024);
        let mut added = 0;
        let mut refused = None;
        for i in 0..HEADERS {
            match metadata.set(&format!("x-flood-{i}"), &value) {
                Ok(()) => added += 1,
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let result = match refused {
            Some(e) => format!("{} after {added}", e.name()),
            None => format!("no error after {added}"),
        };
        if refused.is_some() {
            for i in 0..added {
                let _ = metadata.remove(&format!("x-flood-{i}"));
            }
        }
        match metadata.set("x-flood-result", &result) {
            Ok(()) => Decision::Continue,
            Err(_) => {
                Decision::reject(Code::ResourceExhausted, format!("metadata-flood: {result}"))
            }
        }
    }
}

palisade_sdk::export_plugin!(MetadataFlood);
