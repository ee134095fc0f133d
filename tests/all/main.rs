//! Palisade's integration tests: one binary, a module per topic. Every test loads real
//! components compiled from `plugins/` and `tests/hostile/` by this crate's build script.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

mod audit;
mod cache;
mod chain;
mod config;
mod examples;
mod hostile;
mod layers;
mod load;
mod net;
mod observability;
mod plugins;
mod python;
mod sigstore;
mod support;
mod tamper;
mod transport;
mod verify;
