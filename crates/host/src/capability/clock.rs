//! Capability `clock`: wall-clock and monotonic time.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::{HasData, Linker};

use super::bindings::palisade::plugin::clock as generated;
use crate::instance::state::PluginState;

/// The view `clock` functions run on.
pub(crate) struct ClockView<'a> {
    origin: &'a Instant,
}

impl generated::Host for ClockView<'_> {
    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn monotonic_ns(&mut self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

struct HasClock;

impl HasData for HasClock {
    type Data<'a> = ClockView<'a>;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasClock>(linker, |state| ClockView {
        origin: &state.shared.clock_origin,
    })
}
