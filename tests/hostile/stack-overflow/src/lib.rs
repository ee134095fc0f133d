//! Hostile plugin: on a request with header `x-attack`, recurses without bound (not
//! a tail call, so it cannot become a loop), until the wasm stack overflows.
//! Otherwise it sets `x-served-by: stack-overflow`.

use std::hint::black_box;

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct StackOverflow;

/// Recurses; `black_box` hides that the exit is never taken and keeps a frame's
/// worth of data live across each call.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let below = recurse(black_box(depth + 1));
    below.wrapping_add(frame[usize::try_from(depth % 32).unwrap_or(0)])
}

impl Plugin for StackOverflow {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        if metadata.get("x-attack").is_some() {
            black_box(recurse(0));
        }
        let _ = metadata.set("x-served-by", "stack-overflow");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(StackOverflow);
