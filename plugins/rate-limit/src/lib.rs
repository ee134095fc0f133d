//! Example Palisade plugin: rate limiting per caller with a token bucket.
//!
//! Each peer identity (or `anonymous`) has a bucket of `capacity` tokens that refills
//! at `refill_per_sec` tokens a second; a call takes one token, and a call that finds
//! the bucket empty is refused with `RESOURCE_EXHAUSTED`. Buckets live in the
//! plugin's `kv` store, so every instance of the plugin shares them, and are updated
//! with compare-and-swap. Capabilities: `kv`, `clock`, `config`.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin, clock, config, kv};

/// How many times a contended bucket update is retried before the call is refused.
const MAX_TRIES: usize = 8;

/// A bucket as stored in kv: tokens (`f64` bits) then last refill (Unix ms), both
/// little-endian.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    tokens: f64,
    refilled_ms: u64,
}

impl Bucket {
    const LEN: usize = 16;

    fn encode(self) -> [u8; Self::LEN] {
        let mut bytes = [0; Self::LEN];
        bytes[..8].copy_from_slice(&self.tokens.to_bits().to_le_bytes());
        bytes[8..].copy_from_slice(&self.refilled_ms.to_le_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::LEN] = bytes.try_into().ok()?;
        let (tokens, refilled) = bytes.split_at(8);
        let tokens = f64::from_bits(u64::from_le_bytes(tokens.try_into().ok()?));
        let refilled_ms = u64::from_le_bytes(refilled.try_into().ok()?);
        tokens.is_finite().then_some(Self {
            tokens,
            refilled_ms,
        })
    }
}

/// The bucket's shape, from configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Limits {
    capacity: f64,
    refill_per_sec: f64,
}

impl Limits {
    fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |key: &str, default: f64| match get(key) {
            None => Ok(default),
            Some(text) => match text.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
                _ => Err(format!(
                    "rate-limit: bad config: {key} = {text:?} is not a positive number"
                )),
            },
        };
        Ok(Self {
            capacity: number("capacity", 10.0)?,
            refill_per_sec: number("refill_per_sec", 5.0)?,
        })
    }

    /// `bucket` (or a full one, if there is none yet) refilled up to `now_ms`, then
    /// less one token; `None` when there is no token to take.
    fn take(self, bucket: Option<Bucket>, now_ms: u64) -> Option<Bucket> {
        let bucket = bucket.unwrap_or(Bucket {
            tokens: self.capacity,
            refilled_ms: now_ms,
        });
        // Clocks of concurrent instances may disagree a little: never go backwards.
        let now_ms = now_ms.max(bucket.refilled_ms);
        // Exact: milliseconds fit an f64's 53-bit mantissa for 285 000 years.
        let elapsed_secs = (now_ms - bucket.refilled_ms) as f64 / 1000.0;
        let tokens = (bucket.tokens + elapsed_secs * self.refill_per_sec).min(self.capacity);
        (tokens >= 1.0).then_some(Bucket {
            tokens: tokens - 1.0,
            refilled_ms: now_ms,
        })
    }
}

/// The plugin: its limits, read once per instance.
struct RateLimit {
    limits: Result<Limits, String>,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            limits: Limits::from_config(config::get),
        }
    }
}

impl Plugin for RateLimit {
    fn on_request(&self, call: &Call, _metadata: &mut Metadata) -> Decision {
        let limits = match &self.limits {
            Ok(limits) => *limits,
            Err(e) => return Decision::reject(Code::FailedPrecondition, e.clone()),
        };
        let identity = call
            .peer_identity()
            .unwrap_or_else(|| "anonymous".to_owned());
        let key = format!("bucket/{identity}");
        for _ in 0..MAX_TRIES {
            let stored = kv::get(&key);
            let bucket = stored.as_deref().and_then(Bucket::decode);
            let Some(next) = limits.take(bucket, clock::now_ms()) else {
                return Decision::reject(
                    Code::ResourceExhausted,
                    format!(
                        "rate-limit: {identity} exceeded {} calls/s",
                        limits.refill_per_sec
                    ),
                );
            };
            match kv::compare_and_swap(&key, stored.as_deref(), &next.encode()) {
                Ok(true) => return Decision::Continue,
                Ok(false) => {} // Another instance got there first: read again.
                Err(e) => {
                    return Decision::reject(
                        Code::Unavailable,
                        format!("rate-limit: cannot store bucket: {e}"),
                    );
                }
            }
        }
        Decision::reject(
            Code::Unavailable,
            format!("rate-limit: bucket for {identity} too contended"),
        )
    }
}

palisade_sdk::export_plugin!(RateLimit);

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        capacity: 3.0,
        refill_per_sec: 2.0,
    };

    #[test]
    fn bucket_round_trips() {
        let bucket = Bucket {
            tokens: 2.5,
            refilled_ms: 1_700_000_000_123,
        };
        assert_eq!(Bucket::decode(&bucket.encode()), Some(bucket));
        assert_eq!(Bucket::decode(&[0; 15]), None);
        assert_eq!(
            Bucket::decode(
                &Bucket {
                    tokens: f64::NAN,
                    refilled_ms: 0
                }
                .encode()
            ),
            None
        );
    }

    #[test]
    fn drains_then_refills() {
        let mut bucket = None;
        for _ in 0..3 {
            bucket = Some(LIMITS.take(bucket, 1000).unwrap());
        }
        assert_eq!(LIMITS.take(bucket, 1000), None);
        assert_eq!(LIMITS.take(bucket, 1400), None); // 0.8 tokens
        let refilled = LIMITS.take(bucket, 1500).unwrap(); // 1 token
        assert!(refilled.tokens.abs() < 1e-9);
        // Never above capacity, and a clock that goes backwards refills nothing.
        assert!((LIMITS.take(bucket, 1_000_000).unwrap().tokens - 2.0).abs() < 1e-9);
        assert_eq!(LIMITS.take(bucket, 10), None);
    }

    #[test]
    fn config_defaults_and_errors() {
        let limits = Limits::from_config(|_| None).unwrap();
        assert_eq!(
            limits,
            Limits {
                capacity: 10.0,
                refill_per_sec: 5.0
            }
        );
        let err =
            Limits::from_config(|k| (k == "capacity").then(|| "zero".to_owned())).unwrap_err();
        assert!(err.contains("capacity"), "{err}");
        assert!(Limits::from_config(|_| Some("-1".to_owned())).is_err());
    }
}
