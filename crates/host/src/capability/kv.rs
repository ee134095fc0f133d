//! Capability `kv`: per-plugin state shared by that plugin's instances, with a quota.
//!
//! Each plugin gets its own [`KvStore`]; there is no key a plugin could name to reach
//! another plugin's store.

use palisade_types::bounds::{MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES};
use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::component::{HasData, Linker};

use super::bindings::palisade::plugin::kv as generated;
use crate::instance::state::PluginState;

/// One plugin's store.
pub(crate) struct KvStore {
    quota_bytes: usize,
    inner: Mutex<KvInner>,
}

#[derive(Default)]
struct KvInner {
    used_bytes: usize,
    entries: HashMap<String, Vec<u8>>,
}

impl KvInner {
    /// Stores `value` under `key` if the quota allows.
    fn put(&mut self, quota: usize, key: String, value: Vec<u8>) -> Result<(), generated::KvError> {
        let old = self.entries.get(&key).map_or(0, |v| key.len() + v.len());
        let new_used = self.used_bytes - old + key.len() + value.len();
        if new_used > quota {
            return Err(generated::KvError::QuotaExceeded);
        }
        self.used_bytes = new_used;
        self.entries.insert(key, value);
        Ok(())
    }
}

impl KvStore {
    pub(crate) fn new(quota_bytes: usize) -> Self {
        Self {
            quota_bytes,
            inner: Mutex::new(KvInner::default()),
        }
    }

    /// Bytes in use (keys plus values).
    pub(crate) fn used_bytes(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.used_bytes)
    }

    /// Reads a value, for tests and operators.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.lock().ok()?.entries.get(key).cloned()
    }
}

fn check_sizes(key: &str, value: &[u8]) -> Result<(), generated::KvError> {
    if key.len() > MAX_KV_KEY_BYTES || value.len() > MAX_KV_VALUE_BYTES {
        return Err(generated::KvError::TooLarge);
    }
    Ok(())
}

/// The view `kv` functions run on.
pub(crate) struct KvView<'a> {
    store: Option<&'a KvStore>,
}

impl generated::Host for KvView<'_> {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.store?.get(&key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), generated::KvError> {
        check_sizes(&key, &value)?;
        let Some(store) = self.store else {
            return Err(generated::KvError::QuotaExceeded);
        };
        let Ok(mut inner) = store.inner.lock() else {
            return Err(generated::KvError::QuotaExceeded);
        };
        inner.put(store.quota_bytes, key, value)
    }

    fn delete(&mut self, key: String) -> bool {
        let Some(Ok(mut inner)) = self.store.map(|s| s.inner.lock()) else {
            return false;
        };
        match inner.entries.remove(&key) {
            Some(value) => {
                inner.used_bytes -= key.len() + value.len();
                true
            }
            None => false,
        }
    }

    fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<bool, generated::KvError> {
        check_sizes(&key, &new)?;
        let Some(store) = self.store else {
            return Err(generated::KvError::QuotaExceeded);
        };
        let Ok(mut inner) = store.inner.lock() else {
            return Err(generated::KvError::QuotaExceeded);
        };
        if inner.entries.get(&key) != expected.as_ref() {
            return Ok(false);
        }
        inner.put(store.quota_bytes, key, new).map(|()| true)
    }
}

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasKv>(linker, |state| KvView {
        store: state.shared.kv.as_deref(),
    })
}

#[cfg(test)]
mod tests {
    use super::generated::Host as _;
    use super::*;

    fn view(store: &KvStore) -> KvView<'_> {
        KvView { store: Some(store) }
    }

    #[test]
    fn quota_counts_keys_and_values_and_overwrites_replace() {
        let store = KvStore::new(10);
        let mut kv = view(&store);
        assert_eq!(kv.set("ab".into(), vec![0; 8]), Ok(()));
        assert_eq!(store.used_bytes(), 10);
        // Overwriting the same key is measured against what it replaces.
        assert_eq!(kv.set("ab".into(), vec![1; 8]), Ok(()));
        assert_eq!(
            kv.set("c".into(), vec![]),
            Err(generated::KvError::QuotaExceeded)
        );
        assert!(kv.delete("ab".into()));
        assert_eq!(store.used_bytes(), 0);
        assert!(!kv.delete("ab".into()));
    }

    #[test]
    fn oversized_entries_are_refused_before_the_quota() {
        let store = KvStore::new(usize::MAX);
        let mut kv = view(&store);
        let long_key = "k".repeat(MAX_KV_KEY_BYTES + 1);
        assert_eq!(kv.set(long_key, vec![]), Err(generated::KvError::TooLarge));
        assert_eq!(
            kv.set("k".into(), vec![0; MAX_KV_VALUE_BYTES + 1]),
            Err(generated::KvError::TooLarge)
        );
    }

    #[test]
    fn compare_and_swap_stores_only_on_a_match() {
        let store = KvStore::new(1024);
        let mut kv = view(&store);
        assert_eq!(
            kv.compare_and_swap("n".into(), None, b"1".to_vec()),
            Ok(true)
        );
        assert_eq!(
            kv.compare_and_swap("n".into(), None, b"2".to_vec()),
            Ok(false)
        );
        assert_eq!(
            kv.compare_and_swap("n".into(), Some(b"1".to_vec()), b"2".to_vec()),
            Ok(true)
        );
        assert_eq!(kv.get("n".into()), Some(b"2".to_vec()));
    }
}
