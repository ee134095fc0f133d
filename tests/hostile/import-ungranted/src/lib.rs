//! Hostile plugin: calls `crypto::hmac_sha256` and `log::info` on every request, so
//! it imports `palisade:plugin/crypto`: the host should refuse to load it unless the
//! operator grants crypto. It sets `x-served-by: import-ungranted`.

use palisade_sdk::{Call, Decision, Metadata, Plugin, crypto, log};

#[derive(Default)]
struct ImportUngranted;

impl Plugin for ImportUngranted {
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let outcome = match crypto::hmac_sha256("any", b"x") {
            Ok(tag) => format!("got a {}-byte tag", tag.len()),
            Err(e) => format!("refused: {}", e.name()),
        };
        log::info(&format!("import-ungranted: {outcome}"));
        let _ = metadata.set("x-served-by", "import-ungranted");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(ImportUngranted);
