//! Per-plugin call metrics: counters and a fixed-bucket duration histogram, all
//! lock-free atomics updated on every call, read as a [`PluginStats`](super::PluginStats)
//! snapshot (which `palisade serve` exports in Prometheus text format). The counters
//! are kept per thread ([`crate::shard`]) and summed when read, so that worker
//! threads calling the same plugin never write the same cache line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::shard;
use palisade_types::{CallError, Decision, TrapKind};

/// Upper bounds (inclusive) of the call-duration histogram's buckets, in seconds; a
/// last, unbounded bucket follows. From 1 µs (a reused instance's hook) to 1 s (past
/// any sensible deadline), about three per decade.
pub const CALL_DURATION_BUCKETS_SECONDS: [f64; 19] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 1e-1, 2.5e-1, 5e-1, 1.0,
];

/// The same bounds in nanoseconds, for the hot path.
const BOUNDS_NANOS: [u64; 19] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

const BUCKETS: usize = BOUNDS_NANOS.len() + 1;

/// How many calls ended in each kind of decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecisionCounts {
    /// `Continue`.
    pub continued: u64,
    /// `Reject`.
    pub rejected: u64,
    /// `Respond`.
    pub responded: u64,
}

/// A snapshot of the call-duration histogram.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DurationHistogram {
    /// Upper bounds of the buckets, in seconds ([`CALL_DURATION_BUCKETS_SECONDS`]).
    pub bounds_seconds: &'static [f64],
    /// Calls per bucket (not cumulative): `counts[i]` took at most
    /// `bounds_seconds[i]` and more than the bound before; the last entry counts
    /// the calls longer than every bound.
    pub counts: Vec<u64>,
    /// All calls counted.
    pub count: u64,
    /// Their total duration, in seconds.
    pub sum_seconds: f64,
}

impl DurationHistogram {
    /// Cumulative counts per bound, the last being `+Inf` (Prometheus `le` buckets).
    pub fn cumulative(&self) -> Vec<u64> {
        self.counts
            .iter()
            .scan(0u64, |total, n| {
                *total += n;
                Some(*total)
            })
            .collect()
    }
}

/// The live counters of one plugin: one [`Counters`] per shard.
pub(crate) struct CallStats {
    shards: Box<[CachePadded<Counters>]>,
}

/// One thread shard's counters.
struct Counters {
    calls: AtomicU64,
    continued: AtomicU64,
    rejected: AtomicU64,
    responded: AtomicU64,
    failures: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            continued: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            responded: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            traps: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Default for CallStats {
    fn default() -> Self {
        Self {
            shards: (0..shard::count())
                .map(|_| CachePadded::default())
                .collect(),
        }
    }
}

impl CallStats {
    /// The calling thread's counters.
    fn mine(&self) -> &Counters {
        &self.shards[shard::current(self.shards.len())]
    }

    /// The sum of one counter over every shard.
    fn total(&self, counter: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|shard| counter(shard).load(Ordering::Relaxed))
            .sum()
    }

    /// Counts one call starting.
    pub(crate) fn start(&self) {
        self.mine().calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one finished call.
    pub(crate) fn record(&self, result: &Result<Decision, CallError>, elapsed: Duration) {
        let mine = self.mine();
        let counter = match result {
            Ok(Decision::Continue) => &mine.continued,
            Ok(Decision::Reject { .. }) => &mine.rejected,
            Ok(Decision::Respond(_)) => &mine.responded,
            Err(error) => {
                if let CallError::Trap { kind, .. } = error {
                    mine.traps.fetch_add(1, Ordering::Relaxed);
                    if matches!(kind, TrapKind::Timeout(_)) {
                        mine.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                }
                &mine.failures
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.partition_point(|&bound| bound < nanos);
        mine.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        mine.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Calls started.
    pub(crate) fn calls(&self) -> u64 {
        self.total(|c| &c.calls)
    }

    /// Calls that trapped.
    pub(crate) fn traps(&self) -> u64 {
        self.total(|c| &c.traps)
    }

    /// Calls that timed out.
    pub(crate) fn timeouts(&self) -> u64 {
        self.total(|c| &c.timeouts)
    }

    /// Calls that failed.
    pub(crate) fn failures(&self) -> u64 {
        self.total(|c| &c.failures)
    }

    pub(crate) fn decisions(&self) -> DecisionCounts {
        DecisionCounts {
            continued: self.total(|c| &c.continued),
            rejected: self.total(|c| &c.rejected),
            responded: self.total(|c| &c.responded),
        }
    }

    pub(crate) fn duration(&self) -> DurationHistogram {
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|bucket| self.total(|c| &c.buckets[bucket]))
            .collect();
        DurationHistogram {
            bounds_seconds: &CALL_DURATION_BUCKETS_SECONDS,
            count: counts.iter().sum(),
            counts,
            sum_seconds: self.total(|c| &c.sum_nanos) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree() {
        for (seconds, nanos) in CALL_DURATION_BUCKETS_SECONDS.iter().zip(BOUNDS_NANOS) {
            assert_eq!((seconds * 1e9).round() as u64, nanos);
        }
    }

    #[test]
    fn durations_land_in_their_bucket() {
        let stats = CallStats::default();
        let ok = Ok(Decision::Continue);
        stats.record(&ok, Duration::from_nanos(1_000)); // on the first bound
        stats.record(&ok, Duration::from_nanos(1_001)); // just past it
        stats.record(&ok, Duration::from_secs(5)); // past every bound
        let h = stats.duration();
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[BUCKETS - 1], 1);
        assert_eq!(h.count, 3);
        assert_eq!(h.cumulative().last(), Some(&3));
        assert_eq!(stats.decisions().continued, 3);
    }

    #[test]
    fn counts_from_every_thread_are_summed() {
        let stats = CallStats::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        stats.start();
                        stats.record(&Ok(Decision::Continue), Duration::from_micros(1));
                    }
                });
            }
        });
        assert_eq!(stats.calls(), 400);
        assert_eq!(stats.decisions().continued, 400);
        assert_eq!(stats.duration().count, 400);
        assert!((stats.duration().sum_seconds - 400e-6).abs() < 1e-9);
    }
}
