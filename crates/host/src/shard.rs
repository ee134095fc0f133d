//! Per-thread shards for the state every hook call writes: a plugin's idle
//! instances and its call counters.
//!
//! A service calls the same plugins from every worker thread. State those threads
//! share and write on every call (a counter, a mutex-guarded list) moves its cache
//! line between cores on each call, and under load the threads convoy on the mutex:
//! measured with two threads calling one plugin (`hook_loop threads2`), 632 ns per
//! call against 425 ns on one thread, with runs stuck at 1.6 µs. Split per thread,
//! each worker keeps its own lines and its own warm instances.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Fewest shards: even on one core, runtimes run a few threads.
const MIN_SHARDS: usize = 8;
/// Most shards: past this, the memory per plugin grows for nothing.
const MAX_SHARDS: usize = 64;

/// How many shards each sharded structure has: four per core, as a power of two
/// between [`MIN_SHARDS`] and [`MAX_SHARDS`], so that a runtime's workers (which
/// take thread slots in the order they first call a plugin) rarely share one.
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores * 4)
            .next_power_of_two()
            .clamp(MIN_SHARDS, MAX_SHARDS)
    })
}

/// The calling thread's slot: a number no other thread has, handed out in the order
/// threads first ask.
fn slot() -> usize {
    static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        // `const` and a sentinel rather than a lazy initializer: reading it is then
        // a plain thread-local load, on a path every hook call takes four times.
        static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SLOT.with(|slot| {
        if slot.get() == usize::MAX {
            slot.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed));
        }
        slot.get()
    })
}

/// The calling thread's shard among `shards` (a power of two).
pub(crate) fn current(shards: usize) -> usize {
    debug_assert!(shards.is_power_of_two());
    slot() & (shards - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_keeps_its_own_slot() {
        let shards = count();
        assert!(shards.is_power_of_two() && (MIN_SHARDS..=MAX_SHARDS).contains(&shards));
        let (mine, shard) = (slot(), current(shards));
        assert_eq!((slot(), current(shards)), (mine, shard));
        assert!(shard < shards);
        let theirs = std::thread::spawn(slot).join().unwrap();
        assert_ne!(theirs, mine);
    }
}
