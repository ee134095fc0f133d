//! Hostile plugin: on a request with header `x-attack`, sleeps for an hour (Rust's
//! `std::thread::sleep` waits on a `wasi:clocks` timer through `wasi:io/poll`), to
//! park the host thread that runs it. Otherwise it sets `x-served-by: sleep`.

use std::time::Duration;

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct Sleep;

impl Plugin for Sleep {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        if metadata.get("x-attack").is_some() {
            std::thread::sleep(Duration::from_secs(3600));
        }
        let _ = metadata.set("x-served-by", "sleep");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(Sleep);
