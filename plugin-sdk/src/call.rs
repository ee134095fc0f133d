//! The call a hook runs for.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::bindings::palisade::plugin::call as wit;
use crate::bindings::palisade::plugin::types::Direction as WitDirection;

/// Which side of the call the plugin wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// An outgoing call made by this service (a client interceptor).
    Client,
    /// An incoming call served by this service (a server interceptor).
    Server,
}

/// The facts of the call the running hook is for. Read-only, and valid for that
/// hook only (the lifetime keeps it there).
///
/// Every accessor asks the host, so a hook pays only for what it reads; read a value
/// once and keep it rather than asking twice.
pub struct Call<'a> {
    hook: PhantomData<&'a ()>,
}

impl Call<'_> {
    pub(crate) fn new() -> Self {
        Self { hook: PhantomData }
    }

    /// Client or server side.
    pub fn direction(&self) -> Direction {
        match wit::side() {
            WitDirection::Client => Direction::Client,
            WitDirection::Server => Direction::Server,
        }
    }

    /// The fully qualified service, e.g. `orders.v1.Orders`.
    pub fn service(&self) -> String {
        wit::service()
    }

    /// The method name, e.g. `Create`.
    pub fn method(&self) -> String {
        wit::method()
    }

    /// The `:authority` the call is addressed to, when known.
    pub fn authority(&self) -> Option<String> {
        wit::authority()
    }

    /// The peer identity verified by mutual TLS (URI or DNS SAN), when there is one.
    ///
    /// This comes from the transport: no header can set it.
    pub fn peer_identity(&self) -> Option<String> {
        wit::peer_identity()
    }

    /// The time left before the call's deadline, when it has one.
    pub fn deadline(&self) -> Option<Duration> {
        wit::deadline_ms().map(Duration::from_millis)
    }
}

impl fmt::Debug for Call<'_> {
    /// Opaque: formatting does not call the host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call").finish_non_exhaustive()
    }
}
