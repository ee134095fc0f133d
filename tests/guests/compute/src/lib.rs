//! A fixed amount of pure computation per call (a xorshift walk of
//! `ROUNDS` steps seeded from a header), for measuring what the CPU limit
//! (epoch deadline or fuel) costs on compute-heavy plugins.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin};

/// Steps per call: about a hundred microseconds of work, so the per-call
/// overhead does not hide the metering cost.
const ROUNDS: u32 = 200_000;

#[derive(Default)]
struct Compute;

impl Plugin for Compute {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let seed = metadata
            .get("x-seed")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(1)
            | 1;
        let mut x = seed;
        let mut acc = 0u64;
        for _ in 0..ROUNDS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            acc = acc.wrapping_add(x.rotate_left((x & 63) as u32));
        }
        // Never true for any seed in practice, but the optimiser cannot know that.
        if acc == 0 {
            return Decision::reject(Code::Internal, "degenerate walk");
        }
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(Compute);
