//! Capability `log` (`palisade:plugin/log`): levelled messages into the host's log.
//!
//! The host truncates messages to a size cap, rate-limits them per plugin and escapes
//! control characters. Use `format!` to build a message:
//!
//! ```no_run
//! # let who = "alice";
//! palisade_sdk::log::info(&format!("denied {who}"));
//! ```

use crate::bindings::palisade::plugin::log::{Level, log};

/// Logs `message` at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Logs `message` at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs `message` at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
