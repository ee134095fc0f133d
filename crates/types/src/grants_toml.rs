//! The capability table as written in TOML, shared by signed manifests
//! (`[capabilities]`) and the operator's config (`[plugins.grants]`), so that both
//! spell and check grants the same way; and, serialized, the one shape of grants in
//! JSON (the audit log, `palisade inspect --json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CryptoGrant, Grants, KeyUse};

/// `{ log = {}, kv = { quota_bytes = N }, crypto = { keys = { name = "verify" } }, ... }`.
///
/// Serialized (from [`Grants`] with `From`), only the granted capabilities appear, in
/// name order: `{"config": {}, "crypto": {"keys": {"hmac-auth": "verify"}}, "kv":
/// {"quota_bytes": 4096}}`.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GrantsToml {
    // In name order, the order they serialize in.
    #[serde(skip_serializing_if = "Option::is_none")]
    clock: Option<EmptyToml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<EmptyToml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crypto: Option<CryptoToml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kv: Option<KvToml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<EmptyToml>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<EmptyToml>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyToml {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KvToml {
    quota_bytes: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CryptoToml {
    keys: BTreeMap<String, KeyUseToml>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum KeyUseToml {
    Verify,
    Sign,
}

impl From<&Grants> for GrantsToml {
    fn from(grants: &Grants) -> Self {
        // Exhaustive, so that a new capability cannot go unserialized (and unaudited).
        let Grants {
            log,
            clock,
            config,
            kv,
            crypto,
            metrics,
        } = grants;
        Self {
            clock: clock.as_ref().map(|_| EmptyToml {}),
            config: config.as_ref().map(|_| EmptyToml {}),
            crypto: crypto.as_ref().map(|crypto| CryptoToml {
                keys: crypto
                    .keys
                    .iter()
                    .map(|(name, usage)| {
                        let usage = match usage {
                            KeyUse::Verify => KeyUseToml::Verify,
                            KeyUse::SignAndVerify => KeyUseToml::Sign,
                        };
                        (name.clone(), usage)
                    })
                    .collect(),
            }),
            kv: kv.as_ref().map(|kv| KvToml {
                quota_bytes: kv.quota_bytes as u64,
            }),
            log: log.as_ref().map(|_| EmptyToml {}),
            metrics: metrics.as_ref().map(|_| EmptyToml {}),
        }
    }
}

/// The one way a capability table can be wrong once it has parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantsTomlError {
    /// `kv.quota_bytes` is 0 (or does not fit in memory).
    KvQuota,
}

impl GrantsTomlError {
    /// The setting, relative to the table.
    pub fn field(self) -> &'static str {
        match self {
            Self::KvQuota => "kv.quota_bytes",
        }
    }

    /// What is wrong with it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::KvQuota => "must be at least 1",
        }
    }
}

impl GrantsToml {
    /// The grants this table describes.
    pub fn resolve(self) -> Result<Grants, GrantsTomlError> {
        let Self {
            log,
            clock,
            config,
            metrics,
            kv,
            crypto,
        } = self;
        let mut grants = Grants::none();
        if log.is_some() {
            grants = grants.log();
        }
        if clock.is_some() {
            grants = grants.clock();
        }
        if config.is_some() {
            grants = grants.config();
        }
        if metrics.is_some() {
            grants = grants.metrics();
        }
        if let Some(kv) = kv {
            let quota = usize::try_from(kv.quota_bytes)
                .ok()
                .filter(|q| *q > 0)
                .ok_or(GrantsTomlError::KvQuota)?;
            grants = grants.kv(quota);
        }
        if let Some(crypto) = crypto {
            let mut grant = CryptoGrant::default();
            for (key, usage) in crypto.keys {
                let usage = match usage {
                    KeyUseToml::Verify => KeyUse::Verify,
                    KeyUseToml::Sign => KeyUse::SignAndVerify,
                };
                grant = grant.key(key, usage);
            }
            grants = grants.crypto(grant);
        }
        Ok(grants)
    }
}
