//! Hostile plugin: opens a TCP connection to the address in header `x-target`
//! (default `127.0.0.1:1`) on every request and reports `x-socket: connected` or
//! `x-socket: error: ...`. It imports `wasi:sockets`, so the host should refuse to
//! load it.

use palisade_sdk::{Call, Decision, Metadata, Plugin};

#[derive(Default)]
struct OpenSocket;

impl Plugin for OpenSocket {
    #[expect(clippy::disallowed_methods, reason = "opening a socket is the attack")]
    fn on_request(&self, _call: &Call, metadata: &mut Metadata) -> Decision {
        let target = metadata
            .get("x-target")
            .unwrap_or_else(|| "127.0.0.1:1".to_owned());
        let outcome = match std::net::TcpStream::connect(target.as_str()) {
            Ok(_) => "connected".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        let _ = metadata.set("x-socket", &outcome);
        let _ = metadata.set("x-served-by", "open-socket");
        Decision::Continue
    }
}

palisade_sdk::export_plugin!(OpenSocket);
