//! Capability `log`, and the capped sink that stdout and stderr also write to.

use palisade_types::bounds::MAX_LOG_MESSAGE_BYTES;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use super::bindings::palisade::plugin::log as generated;
use crate::instance::state::PluginState;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Log,
    Stdout,
    Stderr,
}

/// Severity, host side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A plugin's log: one per plugin, shared by its instances, so the rate cap holds
/// however many instances run.
pub(crate) struct LogSink {
    plugin: String,
    bucket: Mutex<Bucket>,
    emitted_bytes: AtomicU64,
    dropped_messages: AtomicU64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl LogSink {
    pub(crate) fn new(plugin: &str, bytes_per_sec: u64, burst_bytes: u64) -> Self {
        Self {
            plugin: plugin.to_owned(),
            bucket: Mutex::new(Bucket {
                tokens: burst_bytes as f64,
                last: Instant::now(),
                rate: bytes_per_sec as f64,
                burst: burst_bytes as f64,
            }),
            emitted_bytes: AtomicU64::new(0),
            dropped_messages: AtomicU64::new(0),
        }
    }

    /// Bytes written to the host's log so far (after truncation).
    pub(crate) fn emitted_bytes(&self) -> u64 {
        self.emitted_bytes.load(Ordering::Relaxed)
    }

    /// Messages dropped by the rate cap so far.
    pub(crate) fn dropped_messages(&self) -> u64 {
        self.dropped_messages.load(Ordering::Relaxed)
    }

    /// Writes one message, cut to [`MAX_LOG_MESSAGE_BYTES`], if the rate allows.
    pub(crate) fn emit(&self, source: Source, level: Level, message: &[u8]) {
        let cut = &message[..message.len().min(MAX_LOG_MESSAGE_BYTES)];
        let cost = cut.len().max(1) as f64;
        {
            let Ok(mut bucket) = self.bucket.lock() else {
                return;
            };
            let now = Instant::now();
            let refill = now.duration_since(bucket.last).as_secs_f64() * bucket.rate;
            bucket.tokens = (bucket.tokens + refill).min(bucket.burst);
            bucket.last = now;
            if bucket.tokens < cost {
                self.dropped_messages.fetch_add(1, Ordering::Relaxed);
                return;
            }
            bucket.tokens -= cost;
        }
        self.emitted_bytes
            .fetch_add(cut.len() as u64, Ordering::Relaxed);
        let text = sanitize(cut, message.len() > cut.len());
        let plugin = self.plugin.as_str();
        let source = match source {
            Source::Log => "log",
            Source::Stdout => "stdout",
            Source::Stderr => "stderr",
        };
        match level {
            Level::Trace => tracing::trace!(target: "palisade::plugin", plugin, source, "{text}"),
            Level::Debug => tracing::debug!(target: "palisade::plugin", plugin, source, "{text}"),
            Level::Info => tracing::info!(target: "palisade::plugin", plugin, source, "{text}"),
            Level::Warn => tracing::warn!(target: "palisade::plugin", plugin, source, "{text}"),
            Level::Error => tracing::error!(target: "palisade::plugin", plugin, source, "{text}"),
        }
    }
}

/// Escapes control characters so that a plugin cannot forge log lines or drive the
/// operator's terminal (newlines, ANSI escapes).
fn sanitize(bytes: &[u8], truncated: bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = palisade_types::Untrusted(text.trim_end_matches(['\n', '\r'])).to_string();
    if truncated {
        out.push_str("…[truncated]");
    }
    out
}

/// The view `log` functions run on.
pub(crate) struct LogView<'a> {
    sink: &'a LogSink,
}

impl generated::Host for LogView<'_> {
    fn log(&mut self, level: generated::Level, message: String) {
        let level = match level {
            generated::Level::Trace => Level::Trace,
            generated::Level::Debug => Level::Debug,
            generated::Level::Info => Level::Info,
            generated::Level::Warn => Level::Warn,
            generated::Level::Error => Level::Error,
        };
        self.sink.emit(Source::Log, level, message.as_bytes());
    }
}

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = LogView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasLog>(linker, |state| LogView {
        sink: &state.shared.log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_lines_cut() {
        assert_eq!(sanitize(b"a\nb\x1b[31m", false), "a\\nb\\u{1b}[31m");
        assert_eq!(sanitize(b"line\n", true), "line…[truncated]");
    }

    #[test]
    fn rate_cap_drops_past_the_burst() {
        let sink = LogSink::new("p", 1, 100);
        for _ in 0..10 {
            sink.emit(Source::Log, Level::Info, &[b'x'; 50]);
        }
        assert_eq!(sink.emitted_bytes(), 100);
        assert_eq!(sink.dropped_messages(), 8);
    }
}
