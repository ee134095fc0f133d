//! What a hook decides.

use crate::bindings::palisade::plugin::call;
use crate::bindings::palisade::plugin::types as wit;

/// A gRPC status code. HTTP services map them to HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Not an error.
    Ok,
    /// The operation was cancelled, typically by the caller.
    Cancelled,
    /// Unknown error.
    Unknown,
    /// The client specified an invalid argument.
    InvalidArgument,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded,
    /// Some requested entity was not found.
    NotFound,
    /// The entity a client attempted to create already exists.
    AlreadyExists,
    /// The caller does not have permission to execute the operation.
    PermissionDenied,
    /// Some resource has been exhausted, e.g. a per-user quota.
    ResourceExhausted,
    /// The system is not in a state required for the operation's execution.
    FailedPrecondition,
    /// The operation was aborted, typically because of a concurrency issue.
    Aborted,
    /// The operation was attempted past the valid range.
    OutOfRange,
    /// The operation is not implemented or not supported.
    Unimplemented,
    /// Internal error.
    Internal,
    /// The service is currently unavailable; retrying may help.
    Unavailable,
    /// Unrecoverable data loss or corruption.
    DataLoss,
    /// The request does not have valid authentication credentials.
    Unauthenticated,
}

impl Code {
    pub(crate) fn from_wit(code: wit::Code) -> Self {
        match code {
            wit::Code::Ok => Self::Ok,
            wit::Code::Cancelled => Self::Cancelled,
            wit::Code::Unknown => Self::Unknown,
            wit::Code::InvalidArgument => Self::InvalidArgument,
            wit::Code::DeadlineExceeded => Self::DeadlineExceeded,
            wit::Code::NotFound => Self::NotFound,
            wit::Code::AlreadyExists => Self::AlreadyExists,
            wit::Code::PermissionDenied => Self::PermissionDenied,
            wit::Code::ResourceExhausted => Self::ResourceExhausted,
            wit::Code::FailedPrecondition => Self::FailedPrecondition,
            wit::Code::Aborted => Self::Aborted,
            wit::Code::OutOfRange => Self::OutOfRange,
            wit::Code::Unimplemented => Self::Unimplemented,
            wit::Code::Internal => Self::Internal,
            wit::Code::Unavailable => Self::Unavailable,
            wit::Code::DataLoss => Self::DataLoss,
            wit::Code::Unauthenticated => Self::Unauthenticated,
        }
    }

    pub(crate) fn into_wit(self) -> wit::Code {
        match self {
            Self::Ok => wit::Code::Ok,
            Self::Cancelled => wit::Code::Cancelled,
            Self::Unknown => wit::Code::Unknown,
            Self::InvalidArgument => wit::Code::InvalidArgument,
            Self::DeadlineExceeded => wit::Code::DeadlineExceeded,
            Self::NotFound => wit::Code::NotFound,
            Self::AlreadyExists => wit::Code::AlreadyExists,
            Self::PermissionDenied => wit::Code::PermissionDenied,
            Self::ResourceExhausted => wit::Code::ResourceExhausted,
            Self::FailedPrecondition => wit::Code::FailedPrecondition,
            Self::Aborted => wit::Code::Aborted,
            Self::OutOfRange => wit::Code::OutOfRange,
            Self::Unimplemented => wit::Code::Unimplemented,
            Self::Internal => wit::Code::Internal,
            Self::Unavailable => wit::Code::Unavailable,
            Self::DataLoss => wit::Code::DataLoss,
            Self::Unauthenticated => wit::Code::Unauthenticated,
        }
    }
}

/// What a hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on with the call, with whatever metadata changes the hook made.
    Continue,
    /// Refuse the call.
    Reject {
        /// The status the caller sees.
        code: Code,
        /// A message for the caller; the host may withhold it from unauthenticated
        /// peers.
        message: String,
    },
    /// Answer the call directly: without calling the handler (from
    /// [`on_request`](crate::Plugin::on_request)), or replacing the response (from
    /// [`on_response`](crate::Plugin::on_response)).
    Respond {
        /// The status of the reply ([`Code::Ok`] for a successful reply).
        code: Code,
        /// Headers to send with the reply.
        headers: Vec<(String, String)>,
        /// The body, already encoded for the protocol (e.g. a protobuf message).
        body: Vec<u8>,
    },
}

impl Decision {
    /// Refuses the call with `code` and `message`.
    ///
    /// ```
    /// use palisade_sdk::{Code, Decision};
    /// let decision = Decision::reject(Code::PermissionDenied, "not you");
    /// assert!(matches!(decision, Decision::Reject { code: Code::PermissionDenied, .. }));
    /// ```
    pub fn reject(code: Code, message: impl Into<String>) -> Self {
        Self::Reject {
            code,
            message: message.into(),
        }
    }

    /// Answers the call directly with `code`, `headers` and `body`.
    ///
    /// ```
    /// use palisade_sdk::{Code, Decision};
    /// let decision = Decision::respond(Code::Ok, [("content-type", "text/plain")], "pong");
    /// ```
    pub fn respond<K, V>(
        code: Code,
        headers: impl IntoIterator<Item = (K, V)>,
        body: impl Into<Vec<u8>>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self::Respond {
            code,
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
            body: body.into(),
        }
    }

    /// Hands the decision to the host, as the hook returns: `Continue` needs nothing.
    pub(crate) fn submit(self) {
        match self {
            Self::Continue => {}
            Self::Reject { code, message } => call::reject(code.into_wit(), &message),
            Self::Respond {
                code,
                headers,
                body,
            } => call::respond(&wit::Reply {
                code: code.into_wit(),
                headers,
                body,
            }),
        }
    }
}
