//! The trivial hook, Extism style: Extism plug-ins see bytes, so the host passes the
//! call's metadata as `name: value` lines (the cheapest encoding, cheaper than the
//! JSON an Extism plug-in would usually take), and the plug-in answers `continue`
//! if `x-request-id` is among them, `reject` otherwise.

use extism_pdk::*;

#[plugin_fn]
pub fn on_request(input: Vec<u8>) -> FnResult<Vec<u8>> {
    let present = input
        .split(|&b| b == b'\n')
        .any(|line| line.starts_with(b"x-request-id:"));
    Ok(if present {
        b"continue".to_vec()
    } else {
        b"reject".to_vec()
    })
}
