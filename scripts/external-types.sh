#!/usr/bin/env bash
# Checks the external types each library crate's public API exposes against its
# allow-list (crates/*/external-types.txt), as cargo-check-external-types does, on
# the stable toolchain: rustdoc's JSON output (RUSTC_BOOTSTRAP=1 for its
# `-Z unstable-options`) read by scripts/external-types.py. With --print, lists
# what each crate exposes instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
status=0
for dir in crates/*/; do
  dir=${dir%/}
  crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -1)
  [ -f "$dir/external-types.txt" ] || die "$dir has no external-types.txt (the allow-list of the external types its API exposes)"
  RUSTC_BOOTSTRAP=1 cargo rustdoc -q -p "$crate" -- -Z unstable-options --output-format json ||
    die "rustdoc could not document $crate"
  json="target/doc/${crate//-/_}.json"
  if [ "${1:-}" = --print ]; then
    echo "== $crate"
    python3 scripts/external-types.py "$json" "$dir/external-types.txt" --print
  else
    python3 scripts/external-types.py "$json" "$dir/external-types.txt" || status=1
  fi
done
exit $status
