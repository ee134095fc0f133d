//! Backoff for a plugin that keeps trapping: while it lasts, calls that would need a
//! new instance are refused ([`CallError::BackingOff`]), so a broken plugin does not
//! make the host rebuild an instance per call; calls that find an idle instance are
//! still served.
//!
//! It is proportionate: it trips when more than half of the plugin's recent answers
//! were traps (and at least [`MIN_TRAPS`] of them), weighed over a window of about
//! [`WINDOW`] to twice that. Counting traps in a row would not do: the traps of
//! concurrent calls land together, so a plugin trapping on one call in seven trips
//! such a count often, and each trip refused many calls that would have passed.
//!
//! The clock is tokio's ([`tokio::time::Instant`]): real time in production, and a
//! test can pause and advance it instead of racing a sleep against the wait.
//!
//! Nothing here runs on a call that does not trap: the answers and traps are read
//! from the plugin's call counters when a trap is counted.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use palisade_types::CallError;

/// Traps in the window below which a plugin never backs off.
pub(crate) const MIN_TRAPS: u64 = 5;
/// How far back answers and traps are weighed: at least this, at most twice this.
pub(crate) const WINDOW: Duration = Duration::from_secs(1);
/// The first wait; it doubles each time the plugin trips again soon after a wait.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(10);
/// The longest wait. Short enough that a plugin fixed by a config change recovers fast.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The plugin's counts at one moment.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    /// Calls that returned a decision.
    answered: u64,
    /// Calls that trapped.
    traps: u64,
}

struct State {
    /// The start of the weighed period (one window before `newer`, or the load).
    older: Mark,
    /// The start of the current window.
    newer: Mark,
    /// Waits in a row so far: the next one is `BACKOFF_BASE * 2^level`.
    level: u32,
    /// Until when new instances are refused.
    retry_at: Option<Instant>,
    /// What the last trip saw, for the error.
    traps: u64,
    calls: u64,
}

/// One plugin's backoff.
pub(crate) struct Backoff {
    state: Mutex<State>,
    /// Whether a wait may be running: lets an instantiation skip the lock.
    waiting: AtomicBool,
}

impl Default for Backoff {
    fn default() -> Self {
        let start = Mark {
            at: Instant::now(),
            answered: 0,
            traps: 0,
        };
        Self {
            state: Mutex::new(State {
                older: start,
                newer: start,
                level: 0,
                retry_at: None,
                traps: 0,
                calls: 0,
            }),
            waiting: AtomicBool::new(false),
        }
    }
}

impl Backoff {
    /// Counts a trap. `answered` and `traps` are the plugin's totals so far, this trap
    /// included.
    pub(crate) fn on_trap(&self, answered: u64, traps: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(state.newer.at) >= WINDOW {
            state.older = state.newer;
            state.newer = Mark {
                at: now,
                answered,
                traps,
            };
        }
        let recent_traps = traps.saturating_sub(state.older.traps);
        let recent_answers = answered.saturating_sub(state.older.answered);
        let failing = recent_traps >= MIN_TRAPS && recent_traps > recent_answers;
        let waiting = state.retry_at.is_some_and(|at| at > now);
        if !failing || waiting {
            return;
        }
        // A trip long after the last wait starts the doubling again.
        if state
            .retry_at
            .is_none_or(|at| now.duration_since(at) > WINDOW)
        {
            state.level = 0;
        }
        let wait = BACKOFF_BASE
            .saturating_mul(2u32.saturating_pow(state.level.min(10)))
            .min(BACKOFF_MAX);
        state.level = state.level.saturating_add(1);
        state.retry_at = Some(now + wait);
        state.traps = recent_traps;
        state.calls = recent_traps + recent_answers;
        self.waiting.store(true, Ordering::Release);
    }

    /// Whether a call may create an instance now.
    pub(crate) fn admit(&self, plugin: &str) -> Result<(), CallError> {
        if !self.waiting.load(Ordering::Acquire) {
            return Ok(());
        }
        let Ok(state) = self.state.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        match state.retry_at {
            Some(at) if at > now => Err(CallError::BackingOff {
                plugin: plugin.to_owned(),
                traps: u32::try_from(state.traps).unwrap_or(u32::MAX),
                calls: u32::try_from(state.calls).unwrap_or(u32::MAX),
                remaining: at - now,
            }),
            _ => {
                self.waiting.store(false, Ordering::Release);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backing_off(backoff: &Backoff) -> bool {
        backoff.admit("p").is_err()
    }

    #[tokio::test(start_paused = true)]
    async fn a_plugin_that_always_traps_waits_then_doubles() {
        let backoff = Backoff::default();
        for traps in 1..MIN_TRAPS {
            backoff.on_trap(0, traps);
            assert!(!backing_off(&backoff), "tripped after {traps} traps");
        }
        backoff.on_trap(0, MIN_TRAPS);
        let Err(CallError::BackingOff {
            traps,
            calls,
            remaining,
            ..
        }) = backoff.admit("p")
        else {
            panic!("not backing off");
        };
        assert_eq!((traps, calls, remaining), (5, 5, BACKOFF_BASE));
        tokio::time::advance(BACKOFF_BASE).await;
        assert!(!backing_off(&backoff), "the wait is over");
        // The probe traps too: twice the wait.
        backoff.on_trap(0, MIN_TRAPS + 1);
        let Err(CallError::BackingOff { remaining, .. }) = backoff.admit("p") else {
            panic!("not backing off");
        };
        assert_eq!(remaining, BACKOFF_BASE * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_minority_of_traps_never_trips() {
        let backoff = Backoff::default();
        let (mut answered, mut traps) = (0, 0);
        for call in 0..7_000u64 {
            if call % 7 == 6 {
                traps += 1;
                backoff.on_trap(answered, traps);
            } else {
                answered += 1;
            }
            assert!(!backing_off(&backoff), "tripped at call {call}");
            if call % 100 == 0 {
                tokio::time::advance(Duration::from_millis(50)).await;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_plugin_that_breaks_after_a_healthy_hour_trips_within_two_windows() {
        let backoff = Backoff::default();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let answered = 1_000_000;
        let mut traps = 0;
        let mut tripped_after = None;
        for step in 0..300u32 {
            traps += 1;
            backoff.on_trap(answered, traps);
            if backing_off(&backoff) {
                tripped_after = Some(Duration::from_millis(10) * step);
                break;
            }
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        let tripped_after = tripped_after.expect("never tripped");
        assert!(tripped_after <= 2 * WINDOW, "{tripped_after:?}");
    }
}
