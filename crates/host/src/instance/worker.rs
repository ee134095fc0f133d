//! Keeping the async runtime's workers free while a hook runs long.
//!
//! A hook runs synchronously on the tokio worker that polls its call: a call of a
//! few microseconds costs no more than a plain function call, but a hook that spins
//! to its deadline holds that worker for all of it, and a few of them stalled every
//! other task of the process (`/metrics` and health checks included).
//!
//! So a hook gets a budget of [`BUDGET_TICKS`] epoch ticks (1–2 ms with the default
//! 1 ms tick). Past it, the epoch callback calls [`tokio::task::block_in_place`]
//! from inside the guest: tokio hands this worker's queue to another thread and the
//! hook runs on to its deadline on a thread the runtime no longer counts on. A hook
//! that finishes within its budget pays nothing: the deadline is armed as before,
//! only earlier, and the callback never runs. The deadline itself is checked
//! against the wall clock at each tick past the budget.
//!
//! Only a multi-thread runtime can hand over a worker. On a current-thread runtime
//! (or outside tokio) a long hook still holds its thread until its deadline.

use std::time::Instant;

use tokio::runtime::{Handle, RuntimeFlavor};
use wasmtime::{StoreContextMut, UpdateDeadline};

use crate::instance::state::PluginState;

/// Epoch ticks a hook runs on its worker before the worker is handed over. Two: the
/// first tick may come at once (a deadline counts from the current epoch), so one
/// tick would catch hooks of a few microseconds that straddle it.
pub(crate) const BUDGET_TICKS: u64 = 2;

/// Arms `store` for one entry into the guest that may take `deadline_ticks`: the
/// first epoch check comes after the budget (or at the deadline, if sooner).
pub(crate) fn arm(store: &mut wasmtime::Store<PluginState>, deadline_ticks: u64) {
    let first = deadline_ticks.min(BUDGET_TICKS);
    store.data_mut().call.ticks_left = deadline_ticks - first;
    store.set_epoch_deadline(first);
}

/// The store's epoch callback: past the budget, frees the worker and lets the call go
/// on one tick at a time until its deadline; at the deadline, interrupts it (a
/// [`wasmtime::Trap::Interrupt`], as a plain epoch deadline would).
pub(crate) fn on_epoch(
    mut store: StoreContextMut<'_, PluginState>,
) -> wasmtime::Result<UpdateDeadline> {
    let call = &mut store.data_mut().call;
    let expired = match call.hook_deadline {
        // A hook: its wall-clock deadline, exact even when this thread was not
        // running for some ticks.
        Some(deadline) => Instant::now() >= deadline,
        // Instantiation (start functions): ticks.
        None => call.ticks_left == 0,
    };
    if expired {
        return Ok(UpdateDeadline::Interrupt);
    }
    call.ticks_left = call.ticks_left.saturating_sub(1);
    release_worker();
    // Check again at the next tick: for the deadline, and in case the hand-over did
    // not happen (the new thread had not taken the queue when this one looked back).
    Ok(UpdateDeadline::Continue(1))
}

/// Hands the current tokio worker's queue to another thread, if this thread is a
/// multi-thread runtime's worker that still holds one; otherwise does nothing (and
/// costs little: no thread is started).
fn release_worker() {
    let Ok(handle) = Handle::try_current() else {
        return;
    };
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return;
    }
    // block_in_place gives this worker's queue to a new thread, runs the closure, then
    // takes the queue back only if that thread has not started with it yet: yielding
    // lets it start. It panics where blocking is not allowed (a `LocalSet`); then the
    // hook simply keeps its thread.
    let _ = std::panic::catch_unwind(|| tokio::task::block_in_place(std::thread::yield_now));
}
