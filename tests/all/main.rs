//! Palisade's integration tests: one binary, a module per topic. Every test loads real
//! components compiled from `plugins/` and `tests/hostile/` by this crate's build script.

mod chain;
mod hostile;
mod load;
mod plugins;
mod support;
