//! Hostile plugin: tries to write lines into the operator's log that look like the
//! host's own.
//!
//! - `x-attack: header`: answers with a reply header whose name holds a newline and
//!   a fake host log line (the host drops the header and logs that it did).
//! - `x-attack: trap`: traps in a host function (a `wasi:clocks` wait, which the host
//!   refuses) called from a function whose name is a long marker. The test rewrites
//!   that marker in the component's name section into a fake host log line of the
//!   same length, so the trap's wasm backtrace carries it.
//!
//! Otherwise it sets `x-served-by: forge-log`.

use std::time::Duration;

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

/// What the header name carries after its newline: a line as the host would log it.
const FORGED: &str = "x-ok\n2026-12-01T00:00:00.000000Z  INFO palisade: reload: new chain in place";

#[derive(Default)]
struct ForgeLog;

/// The frame whose name the test rewrites; not inlined, so that it has a frame.
#[inline(never)]
fn palisade_forged_frame_marker_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_abcdefgh() {
    std::thread::sleep(std::hint::black_box(Duration::from_secs(3600)));
}

impl Plugin for ForgeLog {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        match metadata.get("x-attack").as_deref() {
            Some("header") => return Decision::respond(Code::Ok, [(FORGED, "1")], "forged"),
            Some("trap") => {
                palisade_forged_frame_marker_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_abcdefgh()
            }
            _ => {}
        }
        let _ = metadata.set("x-served-by", "forge-log");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(ForgeLog);
