//! Hostile plugin: on a request with header `x-attack: panic` it panics; with
//! `x-attack: exit` it calls `std::process::exit(3)` (WASI `exit`), which must end
//! the instance, not the host. Otherwise it sets `x-served-by: panic`.

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct Panic;

impl Plugin for Panic {
    #[expect(clippy::panic, reason = "panicking is the attack")]
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        match metadata.get("x-attack").as_deref() {
            Some("panic") => panic!("hostile plugin panicked on purpose"),
            Some("exit") => std::process::exit(3),
            _ => {}
        }
        let _ = metadata.set("x-served-by", "panic");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(Panic);
