//! Hostile plugin: on every request, tries to set headers the host reserves (the
//! peer identity, other `x-palisade-*` names, pseudo-headers and framing headers)
//! and to remove the peer identity, plus one ordinary header as a control. It
//! reports each outcome in `x-forge-results`, e.g.
//! `x-palisade-peer-identity=reserved,...,remove:x-palisade-peer-identity=reserved,x-normal=ok`.

use palisade_sdk::{Call, Decision, Metadata, MetadataError, Plugin};

/// The names it tries to set, in order.
const FORGED: [&str; 7] = [
    "x-palisade-peer-identity",
    "x-palisade-anything",
    ":authority",
    "content-length",
    "te",
    "grpc-status",
    "host",
];

#[derive(Default)]
struct ForgeIdentity;

fn outcome(result: Result<(), MetadataError>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(e) => e.name(),
    }
}

impl Plugin for ForgeIdentity {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let mut results: Vec<String> = FORGED
            .iter()
            .map(|name| {
                let result = metadata.set(name, "spiffe://forged/admin");
                format!("{name}={}", outcome(result))
            })
            .collect();
        let removed = metadata.remove("x-palisade-peer-identity");
        results.push(format!(
            "remove:x-palisade-peer-identity={}",
            outcome(removed)
        ));
        let control = metadata.set("x-normal", "ok");
        results.push(format!("x-normal={}", outcome(control)));
        let _ = metadata.set("x-forge-results", &results.join(","));
        let _ = metadata.set("x-served-by", "forge-identity");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(ForgeIdentity);
