#!/usr/bin/env bash
# Checks the dependency graph against deny.toml (licenses, banned crates such as
# OpenSSL or a second X.509 parser, sources) with cargo-deny, installing the pinned
# release from crates.io into target/tools when it is not on PATH (about 4 minutes
# of CPU, once). Advisories need the RustSec database from the network:
# `scripts/deny.sh advisories` checks them where it is reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
version=0.20.2
deny=$(command -v cargo-deny || true)
if [ -z "$deny" ] || ! "$deny" --version | grep -q " $version"; then
  deny="$PWD/target/tools/bin/cargo-deny"
  if [ ! -x "$deny" ] || ! "$deny" --version | grep -q " $version"; then
    echo "==> installing cargo-deny $version into target/tools (once)"
    cargo install -q --locked --no-default-features --version "$version" \
      --root "$PWD/target/tools" --target-dir "$PWD/target/tools-build" cargo-deny ||
      die "could not install cargo-deny $version from crates.io (see above)"
    rm -rf "$PWD/target/tools-build"
  fi
fi
if [ $# -eq 0 ]; then
  set -- licenses bans sources
fi
"$deny" --log-level error check "$@" || die "cargo deny check $* failed: see deny.toml for the policy"
