//! A closed-loop load generator for the end-to-end benchmarks: `concurrency` tokio
//! tasks send a fixed number of requests between them, each as soon as its previous
//! one finished, and the report has requests per second and latency percentiles.
//!
//! It drives any async call, so the same code measures a bare tonic client, a chain
//! of native tower layers and a chain of Palisade plugins (the transport's layers
//! plug in as the `call` closure). Runs are bounded in count and in time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Requests that completed successfully.
    pub ok: u64,
    /// Requests that returned an error.
    pub errors: u64,
    /// Requests never sent because the time bound ran out.
    pub not_sent: u64,
    /// Wall time from the first request to the last response.
    pub elapsed: Duration,
    /// Median latency of the successful requests.
    pub p50: Duration,
    /// 99th-percentile latency of the successful requests.
    pub p99: Duration,
    /// The slowest successful request.
    pub max: Duration,
}

impl LoadReport {
    /// Successful requests per second of wall time.
    pub fn requests_per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50 {:?}, p99 {:?}, max {:?} ({} ok, {} errors, {} not sent)",
            self.requests_per_sec(),
            self.p50,
            self.p99,
            self.max,
            self.ok,
            self.errors,
            self.not_sent
        )
    }
}

/// Sends `requests` calls from `concurrency` tasks, stopping early (and counting the
/// rest as not sent) once `time_bound` has passed.
pub async fn run<F, Fut, E>(
    requests: u64,
    concurrency: usize,
    time_bound: Duration,
    call: F,
) -> LoadReport
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + time_bound;
    let mut tasks = Vec::with_capacity(concurrency.max(1));
    for _ in 0..concurrency.max(1) {
        let call = Arc::clone(&call);
        let next = Arc::clone(&next);
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests && Instant::now() < deadline {
                let sent = Instant::now();
                match call().await {
                    Ok(()) => latencies.push(sent.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        // A task that panicked lost its samples; its requests count as not sent.
        if let Ok(mut samples) = task.await {
            latencies.append(&mut samples);
        }
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    let ok = latencies.len() as u64;
    let errors = errors.load(Ordering::Relaxed);
    LoadReport {
        ok,
        errors,
        not_sent: requests.saturating_sub(ok + errors),
        elapsed,
        p50: percentile(0.50),
        p99: percentile(0.99),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "unit tests")]

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_exactly_the_requested_count_and_orders_percentiles() {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        let report = run(1000, 8, Duration::from_secs(60), move || {
            let counter = Arc::clone(&counter);
            async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(100) {
                    Err(())
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(seen.load(Ordering::Relaxed), 1000);
        assert_eq!(report.ok + report.errors, 1000);
        assert_eq!(report.errors, 10);
        assert_eq!(report.not_sent, 0);
        assert!(report.p50 <= report.p99 && report.p99 <= report.max);
        assert!(report.requests_per_sec() > 0.0);
    }

    #[tokio::test]
    async fn stops_at_the_time_bound() {
        let report = run(u64::MAX, 2, Duration::from_millis(20), || async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<(), ()>(())
        })
        .await;
        assert!(report.not_sent > 0);
        assert!(report.ok > 0);
    }
}
