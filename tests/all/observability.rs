//! Per-plugin call metrics and the `plugin_call` tracing span, on real calls.

use std::io::Write;
use std::sync::{Arc, Mutex};

use palisade::{CALL_DURATION_BUCKETS_SECONDS, Decision, TrapKind};
use palisade_tests::guests::{GUEST_TRIVIAL, HOSTILE_LOOP_FOREVER};
use palisade_tests::spec;

use crate::support::{call, headers, host};

#[tokio::test]
async fn decisions_traps_and_durations_are_counted() {
    let plugin = host()
        .load(spec("obs-trivial", GUEST_TRIVIAL))
        .await
        .unwrap();
    for _ in 0..3 {
        let mut metadata = headers(&[("x-request-id", "1")]);
        let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
        assert_eq!(decision, Decision::Continue);
    }
    let mut metadata = headers(&[]);
    let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
    assert!(matches!(decision, Decision::Reject { .. }), "{decision:?}");

    let stats = plugin.stats();
    assert_eq!(stats.calls, 4);
    assert_eq!(stats.decisions.continued, 3);
    assert_eq!(stats.decisions.rejected, 1);
    assert_eq!(stats.decisions.responded, 0);
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.duration.count, 4);
    assert_eq!(
        stats.duration.bounds_seconds,
        &CALL_DURATION_BUCKETS_SECONDS
    );
    assert_eq!(
        stats.duration.counts.len(),
        CALL_DURATION_BUCKETS_SECONDS.len() + 1
    );
    assert_eq!(stats.duration.cumulative().last(), Some(&4));
    assert!(stats.duration.sum_seconds > 0.0);
}

#[tokio::test]
async fn timeouts_are_traps_and_failures() {
    let plugin = host()
        .load(spec("obs-loop", HOSTILE_LOOP_FOREVER).limits(
            palisade::Limits::default().with_call_timeout(std::time::Duration::from_millis(20)),
        ))
        .await
        .unwrap();
    let mut metadata = headers(&[("x-attack", "1")]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert!(
        matches!(err.trap_kind(), Some(TrapKind::Timeout(_))),
        "{err}"
    );
    let stats = plugin.stats();
    assert_eq!(
        (stats.calls, stats.failures, stats.traps, stats.timeouts),
        (1, 1, 1, 1)
    );
    assert_eq!(stats.duration.count, 1);
    // It ran at least until its deadline.
    assert!(stats.duration.sum_seconds >= 0.02, "{:?}", stats.duration);
}

/// A writer into a shared buffer, for reading what the subscriber printed.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_call_has_a_span_with_plugin_hook_decision_and_duration() {
    let plugin = host().load(spec("obs-span", GUEST_TRIVIAL)).await.unwrap();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread (tokio's current-thread runtime), so a scoped
    // subscriber sees the whole call.
    let guard = tracing::subscriber::set_default(subscriber);
    let mut metadata = headers(&[("x-request-id", "1")]);
    plugin.on_request(&call(), &mut metadata).await.unwrap();
    drop(guard);
    let printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let line = printed
        .lines()
        .find(|l| l.contains("plugin_call"))
        .unwrap_or_else(|| panic!("no plugin_call span in:\n{printed}"));
    for field in [
        "plugin=\"obs-span\"",
        "hook=\"on-request\"",
        "decision=\"continue\"",
        "duration_us=",
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
}
