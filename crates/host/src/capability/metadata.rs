//! The `metadata` interface every plugin gets: the running hook's headers.
//!
//! The host never copies the metadata into the guest. For the length of one hook the
//! call's `HeaderMap` is moved into the store (a pointer-sized move), and each
//! `get`/`set` touches only the one header it names. Writes are checked against the
//! reserved names and the per-call bounds below.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use palisade_types::bounds::{
    MAX_METADATA_CHANGES_PER_CALL, MAX_METADATA_TOTAL_BYTES, MAX_METADATA_VALUE_BYTES, is_reserved,
};
use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, WasmStr};

use super::bindings::palisade::plugin::metadata as generated;
use super::call::ActiveCall;
use crate::instance::state::PluginState;

impl ActiveCall {
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

/// `metadata.get`: the first value of `name` that is valid UTF-8 text.
fn first_value(metadata: &HeaderMap, name: &str) -> Option<String> {
    let value = metadata.get(name)?;
    value.to_str().ok().map(str::to_owned)
}

impl generated::Host for ActiveCall {
    // `get` and `contains` are linked by hand (`add_to_linker`); these serve any
    // other use of the generated bindings.
    fn get(&mut self, name: String) -> Option<String> {
        first_value(&self.metadata, &name)
    }

    fn contains(&mut self, name: String) -> bool {
        self.metadata.contains_key(name.as_str())
    }

    fn get_all(&mut self, name: String) -> Vec<String> {
        self.metadata
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    fn keys(&mut self) -> Vec<String> {
        self.metadata
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect()
    }

    fn set(&mut self, name: String, value: String) -> Result<(), generated::MetadataError> {
        self.write(&name, Write::Set(value))
    }

    fn append(&mut self, name: String, value: String) -> Result<(), generated::MetadataError> {
        self.write(&name, Write::Append(value))
    }

    fn remove(&mut self, name: String) -> Result<(), generated::MetadataError> {
        self.write(&name, Write::Remove)
    }
}

struct HasMetadata;

impl HasData for HasMetadata {
    type Data<'a> = &'a mut ActiveCall;
}

/// Links `metadata`. The generated bindings take every string argument as an owned
/// `String`; `get` and `contains`, which nearly every plugin calls on every hook,
/// read the name in place in the guest's memory instead (`WasmStr`): one allocation,
/// copy and free fewer per call, ~200 of the trivial hook's ~5,550 instructions.
/// wasmtime checks their signatures against the component's imports at link time,
/// as it does the generated ones.
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasMetadata>(linker, |state| &mut state.call)?;
    linker.allow_shadowing(true);
    let result = add_in_place_readers(linker);
    linker.allow_shadowing(false);
    result
}

fn add_in_place_readers(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    let interface = format!(
        "palisade:plugin/metadata@{}",
        palisade_types::CONTRACT_VERSION
    );
    let mut instance = linker.instance(&interface)?;
    instance.func_wrap(
        "get",
        |cx: StoreContextMut<'_, PluginState>, (name,): (WasmStr,)| {
            let name = name.to_str(&cx)?;
            Ok((first_value(&cx.data().call.metadata, &name),))
        },
    )?;
    instance.func_wrap(
        "contains",
        |cx: StoreContextMut<'_, PluginState>, (name,): (WasmStr,)| {
            let name = name.to_str(&cx)?;
            Ok((cx.data().call.metadata.contains_key(&*name),))
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {

    use http::HeaderMap;

    use super::*;
    use palisade_types::CallInfo;

    fn active() -> ActiveCall {
        let mut call = ActiveCall::default();
        let mut map = HeaderMap::new();
        map.insert("x-kept", HeaderValue::from_static("1"));
        call.begin(&CallInfo::server("s", "m"), &mut map);
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
        let mut rolled_back = HeaderMap::new();
        call.finish(false, &mut rolled_back);
        assert!(rolled_back.get("x-new").is_none());
        assert_eq!(rolled_back["x-kept"], "1");

        let mut call = active();
        call.write("x-new", Write::Append("v".into())).unwrap();
        let mut kept = HeaderMap::new();
        call.finish(true, &mut kept);
        assert_eq!(kept["x-new"], "v");
    }
}
