//! Hostile plugin: reads `/etc/passwd` with `std::fs` on every request and reports
//! `x-file: read N bytes` or `x-file: error: ...`. It imports `wasi:filesystem`, so
//! the host should refuse to load it.

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct ReadFile;

impl Plugin for ReadFile {
    #[expect(
        clippy::disallowed_methods,
        reason = "reading a host file is the attack"
    )]
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let outcome = match std::fs::read("/etc/passwd") {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("error: {e}"),
        };
        let _ = metadata.set("x-file", &outcome);
        let _ = metadata.set("x-served-by", "read-file");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(ReadFile);
