#!/usr/bin/env bash
# Fuzzes the package parser (fuzz/fuzz_targets/package.rs: envelope, manifest and
# the whole verification) for SECONDS (default 20) with libFuzzer, seeded with the
# example plugins packaged and signed by the real CLI with test key 1, which the
# target trusts. scripts/test.sh runs it as a smoke test; a crash fails it.
#
# Stable toolchain, no cargo-fuzz: plain cargo builds the target with the
# `fuzz-smoke` profile of fuzz/Cargo.toml, which instruments only the crates that
# parse a package (per-package rustflags, an unstable cargo feature: hence
# RUSTC_BOOTSTRAP=1). It links palisade-package alone, so no wasmtime is built. Its
# own target directory (target/fuzz) keeps it from ever invalidating the main build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
seconds=${1:-20}

command -v c++ >/dev/null 2>&1 ||
  die "libFuzzer is C++ and needs a C++ compiler: install one (Debian: apt-get install g++) and retry"

out="$PWD/target/fuzz"
corpus="$out/corpus/package"
mkdir -p "$corpus" "$out/artifacts"

echo "==> building the fuzz target (profile fuzz-smoke, into target/fuzz)"
RUSTC_BOOTSTRAP=1 cargo build --manifest-path fuzz/Cargo.toml --profile fuzz-smoke \
  --target-dir "$out" --bin package ||
  die "could not build the fuzz target (see the errors above)"

# Seeds: the example plugins packaged and signed by the real CLI (the `ci` build
# scripts/test.sh made) with test key 1
# (secret [1; 32]); rate-limit also co-signed by key 2, for its threshold of 2.
echo "==> making the seed corpus (palisade sign with test keys 1 and 2)"
# The same command, package set and profile as scripts/test.sh, so after its test
# step this builds nothing: `cargo build -p ...` unifies features differently and
# compiled the host, wasmtime and wasmtime-wasi a second time (1.5 GB more).
cargo test -q --workspace --profile ci --no-run
palisade="$PWD/target/ci/palisade"
guests="$PWD/target/wasm-guests/wasm32-wasip2/release"
for n in 1 2; do
  key="$out/test-key-$n.key"
  if [ ! -f "$key" ]; then
    (umask 077 && printf '%s\n' "$(printf "0$n%.0s" $(seq 32))" >"$key")
  fi
done
for plugin in add-header rbac rate-limit hmac-auth; do
  "$palisade" sign --key "$out/test-key-1.key" --manifest "plugins/$plugin/manifest.toml" \
    "$guests/${plugin//-/_}.wasm" --out "$corpus/seed-$plugin.pkg" >/dev/null
done
"$palisade" sign --key "$out/test-key-2.key" --add "$corpus/seed-rate-limit.pkg" \
  --out "$corpus/seed-rate-limit.pkg" >/dev/null

echo "==> fuzzing the package parser for ${seconds}s"
"$out/fuzz-smoke/package" "$corpus" -max_total_time="$seconds" \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1 ||
  die "the package fuzzer found a crash; the input is in $out/artifacts/ (reproduce: $out/fuzz-smoke/package INPUT)"
