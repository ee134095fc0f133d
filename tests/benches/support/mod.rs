//! Shared pieces of the benchmarks: quick mode, the native baselines, the raw
//! wasmtime floors, load costs and resident memory.

pub(crate) mod core_floor;
pub(crate) mod load;
pub(crate) mod memory;
pub(crate) mod native;

use std::time::Duration;

use criterion::Criterion;

/// Whether `PALISADE_BENCH_QUICK` is set (to anything but `0`): fewer, shorter samples,
/// so that the whole run finishes in under two minutes.
#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark binary's mode comes from its environment"
)]
pub(crate) fn quick() -> bool {
    std::env::var("PALISADE_BENCH_QUICK").is_ok_and(|v| v != "0")
}

/// Criterion's settings: its defaults, or short ones in quick mode.
pub(crate) fn criterion() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600))
            .sample_size(10)
            .without_plots()
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

/// Whether a section named `name` runs under the command line's name filter
/// (the first argument that is not an option or an option's value).
pub(crate) fn selected(name: &str) -> bool {
    const WITH_VALUE: &[&str] = &[
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--output-format",
        "--color",
        "--profile-time",
        "--plotting-backend",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return name.contains(&arg);
        }
    }
    true
}
