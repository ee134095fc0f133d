//! The library half of the `palisade` tool: [`serve`], the sidecar proxy, kept in a
//! library so that tests can run it in-process (the binary adds the signals).

pub mod serve;
