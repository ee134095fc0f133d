//! How a call is described to plugins, and what they decide about it.

use std::time::Instant;

use crate::error::CallError;
use crate::name::Name;
use crate::route::Route;

/// Which side of the call a plugin wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// An outgoing call this service makes.
    Client,
    /// An incoming call this service serves.
    Server,
}

/// Whether a call is gRPC or plain HTTP (which the route patterns of
/// [`Routes`](crate::Routes) tell apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC: `service` is `pkg.Service`, `method` is `Method`. The default.
    #[default]
    Grpc,
    /// Plain HTTP: `method` is the HTTP method and the path, `GET/orders/42`.
    Http,
}

/// The facts of one call, as the transport established them.
///
/// Build one with [`CallInfo::server`] or [`CallInfo::client`] and the `with_*`
/// setters; fields may be added.
///
/// Its text fields are [`Name`]s: a clone shares their bytes, so the host copies a
/// call into each plugin instance without allocating.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallInfo {
    /// Client or server side.
    pub direction: Direction,
    /// gRPC or plain HTTP.
    pub protocol: Protocol,
    /// Fully qualified service, e.g. `orders.v1.Orders`.
    pub service: Name,
    /// Method, e.g. `Create` (plain HTTP: `GET/orders/42`).
    pub method: Name,
    /// The `:authority`, when known.
    pub authority: Option<Name>,
    /// The peer identity verified by mutual TLS. Set only from a verified
    /// certificate, never from a header.
    pub peer_identity: Option<Name>,
    /// When the call must be answered by.
    pub deadline: Option<Instant>,
}

impl CallInfo {
    /// A server-side call to `service`/`method` with no authority, identity or deadline.
    pub fn server(service: impl Into<Name>, method: impl Into<Name>) -> Self {
        Self {
            direction: Direction::Server,
            protocol: Protocol::Grpc,
            service: service.into(),
            method: method.into(),
            authority: None,
            peer_identity: None,
            deadline: None,
        }
    }

    /// The same call, as seen by a client.
    pub fn client(service: impl Into<Name>, method: impl Into<Name>) -> Self {
        Self {
            direction: Direction::Client,
            ..Self::server(service, method)
        }
    }

    /// Sets the verified peer identity.
    pub fn with_peer_identity(mut self, identity: impl Into<Name>) -> Self {
        self.peer_identity = Some(identity.into());
        self
    }

    /// Sets the authority.
    pub fn with_authority(mut self, authority: impl Into<Name>) -> Self {
        self.authority = Some(authority.into());
        self
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the protocol (for [`Protocol::Http`], `method` is `GET/path`).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// What the call is addressed to, for [`Routes`](crate::Routes): a plain HTTP
    /// call's path is its `method` from the first `/` (empty if it has none).
    pub fn route(&self) -> Route<'_> {
        match self.protocol {
            Protocol::Grpc => Route::Grpc {
                service: &self.service,
                method: &self.method,
            },
            Protocol::Http => Route::Http {
                path: self.method.find('/').map_or("", |at| &self.method[at..]),
            },
        }
    }
}

macro_rules! codes {
    ($($name:ident = $n:literal),* $(,)?) => {
        /// gRPC status codes (HTTP services map them to HTTP statuses).
        //
        // Not `non_exhaustive`: gRPC's codes are a closed list, and the contract's
        // `code` enum must map onto it one to one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(
                #[doc = concat!("gRPC code ", stringify!($n), ".")]
                $name,
            )*
        }

        impl Code {
            /// The numeric gRPC code.
            pub fn as_i32(self) -> i32 {
                match self { $(Self::$name => $n,)* }
            }

            /// The code's name as the Rust variant spells it (`PermissionDenied`),
            /// which is also what the `Display` form prints.
            pub fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name),)* }
            }
        }

        impl std::fmt::Display for Code {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

    };
}

codes! {
    Ok = 0, Cancelled = 1, Unknown = 2, InvalidArgument = 3, DeadlineExceeded = 4,
    NotFound = 5, AlreadyExists = 6, PermissionDenied = 7, ResourceExhausted = 8,
    FailedPrecondition = 9, Aborted = 10, OutOfRange = 11, Unimplemented = 12,
    Internal = 13, Unavailable = 14, DataLoss = 15, Unauthenticated = 16,
}

/// A direct answer from a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply's status.
    pub code: Code,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// The encoded body.
    pub body: Vec<u8>,
}

/// What a hook, or a whole chain, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on, with any metadata changes made.
    Continue,
    /// Refuse the call.
    Reject {
        /// The status the caller sees.
        code: Code,
        /// The message.
        message: String,
    },
    /// Answer directly.
    Respond(Reply),
}

/// What a chain does with a call when this plugin fails (traps, times out, is saturated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Refuse the call with `UNAVAILABLE`, naming the plugin and the cause. The default.
    #[default]
    FailClosed,
    /// Let the call pass as if the plugin had said `Continue`; the failure is logged
    /// and counted. For plugins whose absence is safer than an outage (metrics, say).
    FailOpen,
}

/// Which hooks of a plugin run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hooks {
    /// Run `on-request`.
    pub request: bool,
    /// Run `on-response`.
    pub response: bool,
}

impl Default for Hooks {
    /// Both.
    fn default() -> Self {
        Self {
            request: true,
            response: true,
        }
    }
}

/// The outcome of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// The decision that stands.
    pub decision: Decision,
    /// The plugin that made it, when it was not `Continue` from all.
    pub decided_by: Option<String>,
    /// Plugins that failed along the way (fail-open ones included).
    pub failures: Vec<CallError>,
}

impl Verdict {
    /// `decision`, made by `decided_by`, after `failures`.
    pub fn new(decision: Decision, decided_by: Option<String>, failures: Vec<CallError>) -> Self {
        Self {
            decision,
            decided_by,
            failures,
        }
    }
}
