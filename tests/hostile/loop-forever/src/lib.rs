//! Hostile plugin: on a request with header `x-attack`, spins forever without
//! calling the host, so only fuel or epoch interruption can stop it. Otherwise it
//! sets `x-served-by: loop-forever`.

use std::hint::black_box;

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct LoopForever;

/// Counts forever; `black_box` keeps the optimizer from proving the loop useless.
fn spin() -> ! {
    let mut counter = 0_u64;
    loop {
        counter = black_box(counter).wrapping_add(1);
    }
}

impl Plugin for LoopForever {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        if metadata.get("x-attack").is_some() {
            spin();
        }
        let _ = metadata.set("x-served-by", "loop-forever");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(LoopForever);
