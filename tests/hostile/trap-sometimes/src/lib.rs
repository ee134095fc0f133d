//! Hostile plugin for load tests: traps (a panic, so `unreachable`) on every request
//! that carries an `x-trap` header, and lets every other call through with
//! `x-served-by: trap-sometimes`. The caller picks which calls trap, so a test knows
//! each call's expected outcome.

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct TrapSometimes;

impl Plugin for TrapSometimes {
    #[expect(clippy::panic, reason = "trapping is the point")]
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        if metadata.get("x-trap").is_some() {
            panic!("trap-sometimes: trapping on request");
        }
        let _ = metadata.set("x-served-by", "trap-sometimes");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(TrapSometimes);
