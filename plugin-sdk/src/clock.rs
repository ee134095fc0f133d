//! Capability `clock` (`palisade:plugin/clock`): time, read-only.
//!
//! Use these rather than `std::time::SystemTime::now` or `Instant::now`, which need
//! WASI clocks that the host does not grant.

use std::time::{Duration, SystemTime};

use crate::bindings::palisade::plugin::clock as wit;

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    wit::now_ms()
}

/// Wall-clock time, with millisecond precision.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms())
}

/// A monotonic clock in nanoseconds, for measuring intervals. Its zero is arbitrary.
pub fn monotonic_ns() -> u64 {
    wit::monotonic_ns()
}
