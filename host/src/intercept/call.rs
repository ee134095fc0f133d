//! How a call is described to plugins, and what they decide about it.

use std::time::Instant;

use crate::capability::bindings::{self as b};

/// Which side of the call a plugin wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// An outgoing call this service makes.
    Client,
    /// An incoming call this service serves.
    Server,
}

/// The facts of one call, as the transport established them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// Client or server side.
    pub direction: Direction,
    /// Fully qualified service, e.g. `orders.v1.Orders`.
    pub service: String,
    /// Method, e.g. `Create`.
    pub method: String,
    /// The `:authority`, when known.
    pub authority: Option<String>,
    /// The peer identity verified by mutual TLS. Set only from a verified
    /// certificate, never from a header.
    pub peer_identity: Option<String>,
    /// When the call must be answered by.
    pub deadline: Option<Instant>,
}

impl CallInfo {
    /// A server-side call to `service`/`method` with no authority, identity or deadline.
    pub fn server(service: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            direction: Direction::Server,
            service: service.into(),
            method: method.into(),
            authority: None,
            peer_identity: None,
            deadline: None,
        }
    }

    /// The same call, as seen by a client.
    pub fn client(service: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            direction: Direction::Client,
            ..Self::server(service, method)
        }
    }

    /// Sets the verified peer identity.
    pub fn with_peer_identity(mut self, identity: impl Into<String>) -> Self {
        self.peer_identity = Some(identity.into());
        self
    }

    /// Sets the authority.
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = Some(authority.into());
        self
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

macro_rules! codes {
    ($($name:ident = $n:literal),* $(,)?) => {
        /// gRPC status codes (HTTP services map them to HTTP statuses).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
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
        }

        impl From<b::Code> for Code {
            fn from(code: b::Code) -> Self {
                match code { $(b::Code::$name => Self::$name,)* }
            }
        }

        impl From<Code> for b::Code {
            fn from(code: Code) -> Self {
                match code { $(Code::$name => Self::$name,)* }
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
