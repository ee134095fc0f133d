#!/usr/bin/env bash
# The demo, from a bare clone: installs the wasm32-wasip2 target if missing, builds
# the example plugins, signs them with a fresh publisher key, and runs a tonic service
# behind them over mTLS under a lockdown config, calling it as two clients.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
echo "==> building the plugins and the demo (the first build compiles wasmtime: a few minutes)"
cargo build -p palisade-demo
echo "==> running the demo"
exec cargo run -q -p palisade-demo
