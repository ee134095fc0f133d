//! Example Palisade plugin: request signatures checked with a host-held HMAC key.
//!
//! The caller sends `x-timestamp` (Unix milliseconds, decimal) and `x-signature`
//! (lowercase hex HMAC-SHA256 of `"{service}/{method}\n{timestamp}"`). The plugin
//! checks the timestamp is fresh and the signature verifies under the key the
//! operator names in config `key`; the key's bytes stay in the host. On success it
//! strips `x-signature` and lets the call through. Capabilities: `crypto`, `config`,
//! `clock`.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin, clock, config, crypto};

/// Settings, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    /// The name of the host-held key.
    key: String,
    /// How far `x-timestamp` may be from the plugin's clock, either way.
    max_skew_ms: u64,
}

impl Settings {
    fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let max_skew_ms = match get("max_skew_ms") {
            None => 300_000,
            Some(text) => text.trim().parse().map_err(|_| {
                format!("hmac-auth: bad config: max_skew_ms = {text:?} is not a whole number")
            })?,
        };
        Ok(Self {
            key: get("key").unwrap_or_else(|| "hmac-auth".to_owned()),
            max_skew_ms,
        })
    }
}

/// Decodes hex (either case); `None` for odd lengths or non-hex characters.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// The bytes the caller signs.
fn signed_bytes(service: &str, method: &str, timestamp: &str) -> Vec<u8> {
    format!("{service}/{method}\n{timestamp}").into_bytes()
}

fn unauthenticated(why: &str) -> Decision {
    Decision::reject(Code::Unauthenticated, format!("hmac-auth: {why}"))
}

/// The plugin: its settings, read once per instance.
struct HmacAuth {
    settings: Result<Settings, String>,
}

impl Default for HmacAuth {
    fn default() -> Self {
        Self {
            settings: Settings::from_config(config::get),
        }
    }
}

impl Plugin for HmacAuth {
    fn on_request(&self, call: &Call, metadata: &mut Metadata) -> Decision {
        let settings = match &self.settings {
            Ok(settings) => settings,
            Err(e) => return Decision::reject(Code::FailedPrecondition, e.clone()),
        };
        let Some(signature) = metadata.get("x-signature") else {
            return unauthenticated("missing x-signature");
        };
        let Some(timestamp) = metadata.get("x-timestamp") else {
            return unauthenticated("missing x-timestamp");
        };
        let Some(tag) = decode_hex(&signature) else {
            return unauthenticated("bad signature");
        };
        let Ok(sent_ms) = timestamp.parse::<u64>() else {
            return unauthenticated("bad timestamp");
        };
        if clock::now_ms().abs_diff(sent_ms) > settings.max_skew_ms {
            return unauthenticated("stale timestamp");
        }
        let data = signed_bytes(&call.service(), &call.method(), &timestamp);
        match crypto::hmac_sha256_verify(&settings.key, &data, &tag) {
            Ok(true) => {}
            Ok(false) => return unauthenticated("bad signature"),
            Err(_) => return Decision::reject(Code::Internal, "hmac-auth: key unavailable"),
        }
        // The signature has done its job; the service behind us need not see it.
        match metadata.remove("x-signature") {
            Ok(()) => Decision::Continue,
            Err(e) => Decision::reject(
                Code::Internal,
                format!("hmac-auth: cannot strip x-signature: {e}"),
            ),
        }
    }
}

palisade_sdk::export_plugin!(HmacAuth);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(decode_hex("00ff10Ab"), Some(vec![0, 255, 16, 171]));
        assert_eq!(decode_hex(""), Some(vec![]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("+1"), None);
    }

    #[test]
    fn signed_message() {
        assert_eq!(
            signed_bytes("orders.v1.Orders", "Get", "1700000000000"),
            b"orders.v1.Orders/Get\n1700000000000".to_vec()
        );
    }

    #[test]
    fn settings() {
        assert_eq!(
            Settings::from_config(|_| None).unwrap(),
            Settings {
                key: "hmac-auth".to_owned(),
                max_skew_ms: 300_000
            }
        );
        assert!(Settings::from_config(|k| (k == "max_skew_ms").then(|| "-5".to_owned())).is_err());
    }
}
