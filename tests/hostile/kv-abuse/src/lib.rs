//! Hostile plugin: header `x-kv-op` selects an operation on the kv store and the
//! outcome goes in `x-kv-result`: `write-secret` stores `secret` (to show that
//! another plugin cannot read it), `read-secret` reads it back (or `<absent>`), and
//! `fill` writes 4 KiB values under `fill/0`, `fill/1`, ... until the quota stops it
//! (`quota-exceeded after N writes`), at most 100 000 times. It sets
//! `x-served-by: kv-abuse`.

use palisade_sdk::{Call, Decision, Metadata, Plugin, kv};

/// The most writes `fill` attempts.
const MAX_FILL: usize = 100_000;

#[derive(Default)]
struct KvAbuse;

/// Writes 4 KiB values until the store refuses one.
fn fill() -> String {
    let value = [0x5a_u8; 4096];
    for i in 0..MAX_FILL {
        if let Err(e) = kv::set(&format!("fill/{i}"), &value) {
            return format!("{} after {i} writes", e.name());
        }
    }
    format!("no error after {MAX_FILL} writes")
}

impl Plugin for KvAbuse {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let result = match metadata.get("x-kv-op").as_deref() {
            Some("write-secret") => Some(match kv::set("secret", b"s3cr3t") {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.name().to_owned(),
            }),
            Some("read-secret") => Some(match kv::get("secret") {
                Some(value) => String::from_utf8_lossy(&value).into_owned(),
                None => "<absent>".to_owned(),
            }),
            Some("fill") => Some(fill()),
            Some(other) => Some(format!("unknown op {other:?}")),
            None => None,
        };
        if let Some(result) = result {
            let _ = metadata.set("x-kv-result", &result);
        }
        let _ = metadata.set("x-served-by", "kv-abuse");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(KvAbuse);
