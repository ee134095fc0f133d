//! Hostile plugin: on a request with header `x-attack`, allocates 1 MiB buffers
//! forever, writes every byte of each and keeps them all, so only the host's memory
//! limit can stop it. Otherwise it sets `x-served-by: alloc-unbounded`.

use std::hint::black_box;

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct AllocUnbounded;

/// Grows until allocation fails (which aborts the instance).
fn hoard() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0_u8; 1 << 20];
        block.fill(0xa5);
        kept.push(black_box(block));
        black_box(&mut kept);
    }
}

impl Plugin for AllocUnbounded {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        if metadata.get("x-attack").is_some() {
            hoard();
        }
        let _ = metadata.set("x-served-by", "alloc-unbounded");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(AllocUnbounded);
