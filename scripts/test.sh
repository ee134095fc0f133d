#!/usr/bin/env bash
# Everything CI checks, from a bare clone: installs the wasm32-wasip2 target and
# componentize-py if missing, builds every plugin and hostile fixture, Rust and
# Python, as a real component (the build script of the `tests` crate does that),
# runs every test, the format and lint checks, the external types of the public
# APIs, cargo-deny's license and ban checks, the instruction-count guard of the
# hook path (scripts/perf-guard.sh), and a 20-second fuzz run of the package parser
# (scripts/fuzz.sh).
#
# One build profile, `ci` (Cargo.toml: optimized, with our crates' debug
# assertions and overflow checks): the tests, the guard and the fuzzer's seed
# corpus all use the same build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
ensure_component rustfmt
ensure_component clippy

# componentize-py (pinned) for the Python guests, which tests/build.rs builds: into
# target/python-venv, from PyPI, once.
bash scripts/setup-python.sh

echo "==> cargo fmt --all --check"
cargo fmt --all --check

# The shape of the crates (README, "Layout"): what checks a package, and the shared
# vocabulary, must build without a WebAssembly runtime, an async runtime or an RPC
# framework, so that tools, the fuzzer and build scripts never compile a JIT.
echo "==> palisade-types and palisade-package: no wasmtime, tokio, tonic or hyper in their cargo tree"
for crate in palisade-types palisade-package; do
  heavy=$(cargo tree -q -p "$crate" -e normal --prefix none | awk '{print $1}' |
    grep -E '^(wasmtime.*|cranelift.*|tokio|tonic|hyper)$' | sort -u || true)
  [ -z "$heavy" ] || die "$crate depends on $(echo $heavy | tr '\n' ' '): see README, \"Layout\", for what it may depend on"
done

echo "==> cargo test --workspace --profile ci (builds the plugins for wasm32-wasip2 first)"
cargo test --workspace --profile ci

# Instructions per trivial-hook call against scripts/perf-budget.txt (callgrind;
# installs valgrind if missing). PERF_GUARD=0 skips it.
if [ "${PERF_GUARD:-1}" != 0 ]; then
  bash scripts/perf-guard.sh
fi

echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The external types each library's public API exposes, against its allow-list
# (crates/*/external-types.txt): rustdoc's JSON, from clippy's check build.
echo "==> external types of the public APIs (scripts/external-types.sh)"
bash scripts/external-types.sh

# Licenses, banned crates (OpenSSL, a second X.509 parser) and sources, against
# deny.toml (installs a pinned cargo-deny into target/tools once).
echo "==> cargo deny check licenses bans sources (scripts/deny.sh)"
bash scripts/deny.sh

# A short fuzz run of the package parser (installs cargo-fuzz if missing; its own
# build in target/fuzz). FUZZ_SECONDS=0 skips it.
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi

echo "==> all checks passed"
