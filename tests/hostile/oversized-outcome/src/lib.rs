//! Hostile plugin: ends the call with more than the host will carry, as the request's
//! `x-attack` header says. It first sets `x-served-by: oversized-outcome`, so a test
//! can see that a refused hook's metadata changes are rolled back.
//!
//! - `message`: rejects with a 1 MiB message (the host cuts it to 4 KiB);
//! - `body`: replies with a body one byte over 4 MiB;
//! - `headers`: replies with 65 headers;
//! - `header-bytes`: replies with two headers of 40 KiB each (80 KiB in all);
//! - anything else, or no header: lets the call go on.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

#[derive(Default)]
struct OversizedOutcome;

impl Plugin for OversizedOutcome {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let _ = metadata.set("x-served-by", "oversized-outcome");
        let no_headers: [(&str, &str); 0] = [];
        match metadata.get("x-attack").as_deref() {
            Some("message") => Decision::reject(Code::PermissionDenied, "x".repeat(1 << 20)),
            Some("body") => Decision::respond(Code::Ok, no_headers, vec![0u8; (4 << 20) + 1]),
            Some("headers") => Decision::respond(
                Code::Ok,
                (0..65).map(|i| (format!("x-h-{i}"), "v".to_owned())),
                "",
            ),
            Some("header-bytes") => Decision::respond(
                Code::Ok,
                [("x-a", "a".repeat(40 << 10)), ("x-b", "b".repeat(40 << 10))],
                "",
            ),
            _ => Decision::Continue,
        }
    }
}

palisade_sdk::export_plugin!(OversizedOutcome);
