//! Example Palisade plugin: request signatures checked with a host-held HMAC key.
//!
//! The caller sends `x-timestamp` (Unix milliseconds, decimal), `x-nonce` (16 to 64
//! characters of `A-Z a-z 0-9 _ -`, fresh for every request) and `x-signature`
//! (lowercase hex HMAC-SHA256 of `"{service}/{method}\n{timestamp}\n{nonce}"`). The
//! plugin checks the timestamp is fresh and the signature verifies under the key
//! the operator names in config `key` (the key's bytes stay in the host), then
//! records the nonce in its `kv` store for as long as the timestamp stays fresh, so
//! the same signed request is refused the second time. On success it strips
//! `x-signature` and lets the call through. The body is not covered: see the README.
//! Capabilities: `crypto`, `config`, `clock`, `kv`.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin, clock, config, crypto, kv};

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
fn signed_bytes(service: &str, method: &str, timestamp: &str, nonce: &str) -> Vec<u8> {
    format!("{service}/{method}\n{timestamp}\n{nonce}").into_bytes()
}

/// Whether `nonce` has the form the caller must send: 16 to 64 characters of
/// `A-Z a-z 0-9 _ -` (hex or base64url of at least 8 random bytes).
fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The replay cache, in the plugin's `kv` store (shared by all its instances):
///
/// - `n/{nonce}`: present while a request with that nonce could still be fresh;
/// - `i/{bucket}`: the nonces whose freshness ends in time bucket `bucket`
///   (`expiry / width`), one per line, so that they can be deleted later;
/// - `c`: the oldest bucket not yet deleted (u64, little-endian).
///
/// A request signed at `t` is fresh until `t + max_skew_ms`; once every expiry in a
/// bucket has passed (with a bucket of margin), its nonces can no longer be
/// replayed, and are deleted.
struct ReplayCache {
    /// The width of a bucket, in ms.
    width: u64,
}

/// Why a nonce was not recorded.
#[derive(Debug, PartialEq, Eq)]
enum Replay {
    /// The nonce was seen while it could still be fresh.
    Seen,
    /// The store is full (the quota is sized for the traffic in the window).
    Full,
}

/// How many buckets one request may clean up, so that no call pays for a long
/// idle period at once.
const MAX_BUCKETS_PER_CALL: usize = 4;
/// How often a contended compare-and-swap is retried.
const CAS_RETRIES: usize = 16;

impl ReplayCache {
    fn new(max_skew_ms: u64) -> Self {
        Self {
            width: max_skew_ms.max(1_000),
        }
    }

    /// Records `nonce`, fresh until `expiry_ms`; refuses a nonce already recorded.
    fn record(&self, nonce: &str, expiry_ms: u64, now_ms: u64) -> Result<(), Replay> {
        self.clean(now_ms);
        // Claim the nonce first: a replay never writes anything else.
        let key = format!("n/{nonce}");
        match kv::compare_and_swap(&key, None, b"") {
            Ok(true) => {}
            Ok(false) => return Err(Replay::Seen),
            Err(_) => return Err(Replay::Full),
        }
        // Then list it for deletion; if that fails, give the claim back.
        let index = format!("i/{}", expiry_ms / self.width);
        for _ in 0..CAS_RETRIES {
            let old = kv::get(&index);
            let mut new = old.clone().unwrap_or_default();
            new.extend_from_slice(nonce.as_bytes());
            new.push(b'\n');
            match kv::compare_and_swap(&index, old.as_deref(), &new) {
                Ok(true) => return Ok(()),
                Ok(false) => continue,
                Err(_) => break,
            }
        }
        kv::delete(&key);
        Err(Replay::Full)
    }

    /// Deletes the nonces of buckets whose every expiry has passed.
    fn clean(&self, now_ms: u64) {
        let current = now_ms / self.width;
        for _ in 0..MAX_BUCKETS_PER_CALL {
            let stored = kv::get("c");
            let cursor = match stored.as_deref().map(<[u8; 8]>::try_from) {
                Some(Ok(bytes)) => u64::from_le_bytes(bytes),
                // First use (or a value this plugin did not write): start here; no
                // nonce recorded before now can expire in an earlier bucket.
                _ => {
                    let _ = kv::compare_and_swap("c", stored.as_deref(), &current.to_le_bytes());
                    return;
                }
            };
            // Bucket `cursor` ends at (cursor + 1) * width; one more bucket of margin.
            if cursor.saturating_add(2) > current {
                return;
            }
            // Whoever moves the cursor deletes the bucket.
            match kv::compare_and_swap("c", stored.as_deref(), &(cursor + 1).to_le_bytes()) {
                Ok(true) => {}
                _ => continue,
            }
            let index = format!("i/{cursor}");
            if let Some(list) = kv::get(&index) {
                for nonce in list.split(|&b| b == b'\n').filter(|n| !n.is_empty()) {
                    if let Ok(nonce) = std::str::from_utf8(nonce) {
                        kv::delete(&format!("n/{nonce}"));
                    }
                }
                kv::delete(&index);
            }
        }
    }
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
        let Some(nonce) = metadata.get("x-nonce") else {
            return unauthenticated("missing x-nonce");
        };
        if !valid_nonce(&nonce) {
            return unauthenticated("bad nonce");
        }
        let Some(tag) = decode_hex(&signature) else {
            return unauthenticated("bad signature");
        };
        let Ok(sent_ms) = timestamp.parse::<u64>() else {
            return unauthenticated("bad timestamp");
        };
        let now_ms = clock::now_ms();
        if now_ms.abs_diff(sent_ms) > settings.max_skew_ms {
            return unauthenticated("stale timestamp");
        }
        let data = signed_bytes(&call.service(), &call.method(), &timestamp, &nonce);
        match crypto::hmac_sha256_verify(&settings.key, &data, &tag) {
            Ok(true) => {}
            Ok(false) => return unauthenticated("bad signature"),
            Err(_) => return Decision::reject(Code::Internal, "hmac-auth: key unavailable"),
        }
        // Only a verified request reaches the store, so a forger cannot fill it.
        let expiry_ms = sent_ms.saturating_add(settings.max_skew_ms);
        match ReplayCache::new(settings.max_skew_ms).record(&nonce, expiry_ms, now_ms) {
            Ok(()) => {}
            Err(Replay::Seen) => return unauthenticated("replayed request (nonce already used)"),
            Err(Replay::Full) => {
                return Decision::reject(
                    Code::Unavailable,
                    "hmac-auth: replay cache full (raise the kv quota)",
                );
            }
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
            signed_bytes(
                "orders.v1.Orders",
                "Get",
                "1700000000000",
                "0123456789abcdef"
            ),
            b"orders.v1.Orders/Get\n1700000000000\n0123456789abcdef".to_vec()
        );
    }

    #[test]
    fn nonces() {
        assert!(valid_nonce("0123456789abcdef"));
        assert!(valid_nonce(&"A_-z".repeat(16)));
        assert!(!valid_nonce("0123456789abcde"));
        assert!(!valid_nonce(&"a".repeat(65)));
        assert!(!valid_nonce("0123456789abcde\n"));
        assert!(!valid_nonce("0123456789abcdef/"));
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
