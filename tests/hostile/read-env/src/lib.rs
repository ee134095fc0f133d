//! Hostile plugin: reads the process environment and arguments with `std::env` on
//! every request, and reports what it saw in `x-env-secret` (the value of
//! `PALISADE_TEST_SECRET`, or `<absent>`), `x-env-count` and `x-args-count`. The host
//! must show it an empty environment and no arguments.

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct ReadEnv;

impl Plugin for ReadEnv {
    #[expect(
        clippy::disallowed_methods,
        reason = "reading the environment is the attack"
    )]
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let secret =
            std::env::var("PALISADE_TEST_SECRET").unwrap_or_else(|_| "<absent>".to_owned());
        let vars = std::env::vars().count();
        let args = std::env::args().count();
        let _ = metadata.set("x-env-secret", &secret);
        let _ = metadata.set("x-env-count", &vars.to_string());
        let _ = metadata.set("x-args-count", &args.to_string());
        let _ = metadata.set("x-served-by", "read-env");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(ReadEnv);
