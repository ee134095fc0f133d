//! The `call` and `metadata` resources every plugin gets: the call it is wrapping.
//!
//! The host never copies the metadata into the guest. For the length of one hook the
//! call's `HeaderMap` is moved into the store (a pointer-sized move), the guest gets a
//! borrowed handle, and each `get`/`set` touches only the one header it names. Writes
//! are checked against the reserved names and the per-call bounds below.

use std::sync::Arc;
use std::time::Instant;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use wasmtime::component::{HasData, Linker, Resource};

use super::bindings::palisade::plugin::types as generated;
use crate::instance::state::PluginState;
use crate::intercept::{CallInfo, Direction};

/// Metadata changes (set, append, remove) one hook call may make.
pub const MAX_METADATA_CHANGES_PER_CALL: usize = 64;
/// Largest header value a plugin may write.
pub const MAX_METADATA_VALUE_BYTES: usize = 8 * 1024;
/// Largest total of names plus values a plugin may grow the metadata to. HTTP/2
/// servers commonly refuse header blocks past 16–64 KiB; a plugin must not make the
/// host build one that the next hop refuses.
pub const MAX_METADATA_TOTAL_BYTES: usize = 64 * 1024;

/// Header names only the host may write. The peer identity comes from the transport
/// and reaches plugins through `call.peer-identity`; no header can set it.
pub const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "grpc-accept-encoding",
    "grpc-encoding",
    "grpc-message",
    "grpc-status",
    "grpc-status-details-bin",
    "grpc-timeout",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Every header starting with this prefix is the host's.
pub const RESERVED_PREFIX: &str = "x-palisade-";

/// Whether `name` (lowercase) is reserved for the host.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with(':') || name.starts_with(RESERVED_PREFIX) || RESERVED_HEADERS.contains(&name)
}

/// Marker for the `call` resource: the handle's rep is unused; the live call is in the store.
#[allow(
    unreachable_pub,
    reason = "bindgen re-exports it; the module is private"
)]
pub struct CallRep;
/// Marker for the `metadata` resource.
#[allow(
    unreachable_pub,
    reason = "bindgen re-exports it; the module is private"
)]
pub struct MetadataRep;

/// The call a hook is running for, held in the store while the hook runs.
#[derive(Default)]
pub(crate) struct ActiveCall {
    pub(crate) info: Option<Arc<CallInfo>>,
    pub(crate) metadata: HeaderMap,
    /// The metadata as it was before the first write of this hook, so that a hook
    /// that traps leaves no half-made changes behind. Hooks that only read pay nothing.
    pub(crate) original: Option<HeaderMap>,
    pub(crate) changes: usize,
}

impl ActiveCall {
    pub(crate) fn begin(&mut self, info: Arc<CallInfo>, metadata: HeaderMap) {
        self.info = Some(info);
        self.metadata = metadata;
        self.original = None;
        self.changes = 0;
    }

    /// Ends the hook and hands the metadata back: as changed when `keep` is true,
    /// as it was before the hook otherwise.
    pub(crate) fn finish(&mut self, keep: bool) -> HeaderMap {
        self.info = None;
        let changed = std::mem::take(&mut self.metadata);
        match self.original.take() {
            Some(original) if !keep => original,
            _ => changed,
        }
    }

    fn info(&self) -> Option<&CallInfo> {
        self.info.as_deref()
    }

    fn write(&mut self, name: &str, op: Write) -> Result<(), generated::MetadataError> {
        let lower = name.to_ascii_lowercase();
        if is_reserved(&lower) {
            return Err(generated::MetadataError::Reserved);
        }
        let header = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| generated::MetadataError::InvalidName)?;
        let value = match &op {
            Write::Set(v) | Write::Append(v) => {
                if v.len() > MAX_METADATA_VALUE_BYTES {
                    return Err(generated::MetadataError::LimitExceeded);
                }
                Some(HeaderValue::from_str(v).map_err(|_| generated::MetadataError::InvalidValue)?)
            }
            Write::Remove => None,
        };
        if self.changes >= MAX_METADATA_CHANGES_PER_CALL {
            return Err(generated::MetadataError::LimitExceeded);
        }
        if let Some(v) = &value {
            let total: usize = self
                .metadata
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum();
            if total + header.as_str().len() + v.len() > MAX_METADATA_TOTAL_BYTES {
                return Err(generated::MetadataError::LimitExceeded);
            }
        }
        if self.original.is_none() {
            self.original = Some(self.metadata.clone());
        }
        self.changes += 1;
        match (op, value) {
            (Write::Set(_), Some(value)) => {
                self.metadata.insert(header, value);
            }
            (Write::Append(_), Some(value)) => {
                self.metadata.append(header, value);
            }
            _ => {
                self.metadata.remove(header);
            }
        }
        Ok(())
    }
}

/// A metadata change a plugin asks for.
enum Write {
    Set(String),
    Append(String),
    Remove,
}

/// The view the `types` functions run on.
pub(crate) struct CallView<'a> {
    call: &'a mut ActiveCall,
}

impl generated::Host for CallView<'_> {}

impl generated::HostCall for CallView<'_> {
    fn direction(&mut self, _: Resource<CallRep>) -> generated::Direction {
        match self.call.info().map(|i| i.direction) {
            Some(Direction::Client) => generated::Direction::Client,
            _ => generated::Direction::Server,
        }
    }

    fn service(&mut self, _: Resource<CallRep>) -> String {
        self.call
            .info()
            .map(|i| i.service.clone())
            .unwrap_or_default()
    }

    fn method(&mut self, _: Resource<CallRep>) -> String {
        self.call
            .info()
            .map(|i| i.method.clone())
            .unwrap_or_default()
    }

    fn authority(&mut self, _: Resource<CallRep>) -> Option<String> {
        self.call.info()?.authority.clone()
    }

    fn peer_identity(&mut self, _: Resource<CallRep>) -> Option<String> {
        self.call.info()?.peer_identity.clone()
    }

    fn deadline_ms(&mut self, _: Resource<CallRep>) -> Option<u64> {
        let deadline = self.call.info()?.deadline?;
        Some(
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
        )
    }

    fn drop(&mut self, _: Resource<CallRep>) -> wasmtime::Result<()> {
        // Handles are only ever lent to the guest, never owned by it.
        Ok(())
    }
}

impl generated::HostMetadata for CallView<'_> {
    fn get(&mut self, _: Resource<MetadataRep>, name: String) -> Option<String> {
        let value = self.call.metadata.get(name.as_str())?;
        value.to_str().ok().map(str::to_owned)
    }

    fn get_all(&mut self, _: Resource<MetadataRep>, name: String) -> Vec<String> {
        self.call
            .metadata
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    fn keys(&mut self, _: Resource<MetadataRep>) -> Vec<String> {
        self.call
            .metadata
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect()
    }

    fn set(
        &mut self,
        _: Resource<MetadataRep>,
        name: String,
        value: String,
    ) -> Result<(), generated::MetadataError> {
        self.call.write(&name, Write::Set(value))
    }

    fn append(
        &mut self,
        _: Resource<MetadataRep>,
        name: String,
        value: String,
    ) -> Result<(), generated::MetadataError> {
        self.call.write(&name, Write::Append(value))
    }

    fn remove(
        &mut self,
        _: Resource<MetadataRep>,
        name: String,
    ) -> Result<(), generated::MetadataError> {
        self.call.write(&name, Write::Remove)
    }

    fn drop(&mut self, _: Resource<MetadataRep>) -> wasmtime::Result<()> {
        Ok(())
    }
}

struct HasCall;

impl HasData for HasCall {
    type Data<'a> = CallView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasCall>(linker, |state| CallView {
        call: &mut state.call,
    })
}

/// Handles lent to the guest for one hook. The reps carry no meaning: there is one
/// live call per store, so the host functions read it from the store.
pub(crate) fn lend() -> (Resource<CallRep>, Resource<MetadataRep>) {
    (Resource::new_borrow(0), Resource::new_borrow(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active() -> ActiveCall {
        let mut call = ActiveCall::default();
        let mut map = HeaderMap::new();
        map.insert("x-kept", HeaderValue::from_static("1"));
        call.begin(Arc::new(CallInfo::server("s", "m")), map);
        call
    }

    #[test]
    fn reserved_and_malformed_names_are_refused() {
        let mut call = active();
        for name in [
            "x-palisade-peer-identity",
            "X-Palisade-Anything",
            ":path",
            "te",
            "grpc-status",
        ] {
            assert_eq!(
                call.write(name, Write::Set("v".into())),
                Err(generated::MetadataError::Reserved),
                "{name}"
            );
        }
        assert_eq!(
            call.write("bad name", Write::Set("v".into())),
            Err(generated::MetadataError::InvalidName)
        );
        assert_eq!(
            call.write("x-ok", Write::Set("line\nbreak".into())),
            Err(generated::MetadataError::InvalidValue)
        );
        // Nothing was changed, so nothing was copied.
        assert!(call.original.is_none());
    }

    #[test]
    fn changes_per_call_are_bounded() {
        let mut call = active();
        for i in 0..MAX_METADATA_CHANGES_PER_CALL {
            call.write(&format!("x-{i}"), Write::Set("v".into()))
                .unwrap();
        }
        assert_eq!(
            call.write("x-one-more", Write::Remove),
            Err(generated::MetadataError::LimitExceeded)
        );
    }

    #[test]
    fn finish_keeps_or_rolls_back() {
        let mut call = active();
        call.write("x-new", Write::Set("v".into())).unwrap();
        call.write("x-kept", Write::Remove).unwrap();
        let rolled_back = call.finish(false);
        assert!(rolled_back.get("x-new").is_none());
        assert_eq!(rolled_back["x-kept"], "1");

        let mut call = active();
        call.write("x-new", Write::Append("v".into())).unwrap();
        let kept = call.finish(true);
        assert_eq!(kept["x-new"], "v");
    }
}
