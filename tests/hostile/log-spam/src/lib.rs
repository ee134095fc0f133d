//! Hostile plugin: on a request with header `x-attack`, writes 100 MiB in 64 KiB
//! pieces to stdout (`x-attack: stdout`), stderr (`stderr`) or the log capability
//! (`log`), then carries on: the host must cap or drop the output without stalling.
//! It sets `x-served-by: log-spam`.

use std::io::Write;

use palisade_sdk::{Call, Decision, Metadata, Plugin, log};

/// The size of one write.
const CHUNK: usize = 64 * 1024;
/// How many writes: 1600 × 64 KiB = 100 MiB.
const WRITES: usize = 1600;

#[derive(Default)]
struct LogSpam;

/// Writes `WRITES` chunks to `out`, ignoring errors.
fn flood(mut out: impl Write) {
    let chunk = vec![b'A'; CHUNK];
    for _ in 0..WRITES {
        let _ = out.write_all(&chunk);
    }
    let _ = out.flush();
}

impl Plugin for LogSpam {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        match metadata.get("x-attack").as_deref() {
            Some("stdout") => flood(std::io::stdout()),
            Some("stderr") => flood(std::io::stderr()),
            Some("log") => {
                let message = "A".repeat(CHUNK);
                for _ in 0..WRITES {
                    log::info(&message);
                }
            }
            _ => {}
        }
        let _ = metadata.set("x-served-by", "log-spam");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(LogSpam);
