#!/usr/bin/env bash
# Installs componentize-py (pinned) into a venv beside the build's guests,
# target/python-venv (under $CARGO_TARGET_DIR when set), where tests/build.rs looks
# for it to build the Python guests: plugin-sdk-py's example and hostile plugins.
# Its wheel carries everything the build needs (a WASI CPython, the component
# tooling), so building is offline afterwards. Does nothing when it is already
# there. scripts/test.sh runs it; run it by hand before a plain `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPONENTIZE_PY_VERSION=0.25.1
target="${CARGO_TARGET_DIR:-$PWD/target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
venv="$target/python-venv"

die() {
  echo "error: $*" >&2
  exit 1
}

if [ -x "$venv/bin/componentize-py" ] &&
  [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" = "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
  exit 0
fi

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 ||
  die "the Python plugins need Python 3.11 or newer to build, and '$python' is not installed (Debian: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "the Python plugins need Python 3.11 or newer to build; '$python' is $("$python" --version 2>&1)"

echo "==> installing componentize-py $COMPONENTIZE_PY_VERSION into $venv (from PyPI)"
rm -rf "$venv"
"$python" -m venv "$venv" ||
  die "could not make a Python venv at $venv (Debian: apt-get install python3-venv)"
"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check --no-input \
  "componentize-py==$COMPONENTIZE_PY_VERSION" || {
  rm -rf "$venv"
  die "could not install componentize-py $COMPONENTIZE_PY_VERSION from PyPI into $venv; install it by hand (pip install componentize-py==$COMPONENTIZE_PY_VERSION) and set PALISADE_PYTHON to that Python"
}
[ "$("$venv/bin/componentize-py" --version)" = "componentize-py $COMPONENTIZE_PY_VERSION" ] ||
  die "componentize-py in $venv is not $COMPONENTIZE_PY_VERSION"
