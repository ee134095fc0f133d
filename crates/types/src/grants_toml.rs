//! The capability table as written in TOML, shared by signed manifests
//! (`[capabilities]`) and the operator's config (`[plugins.grants]`), so that both
//! spell and check grants the same way.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{CryptoGrant, Grants, KeyUse};

/// `{ log = {}, kv = { quota_bytes = N }, crypto = { keys = { name = "verify" } }, ... }`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GrantsToml {
    log: Option<EmptyToml>,
    clock: Option<EmptyToml>,
    config: Option<EmptyToml>,
    metrics: Option<EmptyToml>,
    kv: Option<KvToml>,
    crypto: Option<CryptoToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyToml {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KvToml {
    quota_bytes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CryptoToml {
    keys: BTreeMap<String, KeyUseToml>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum KeyUseToml {
    Verify,
    Sign,
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
