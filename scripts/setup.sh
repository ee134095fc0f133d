# Sourced by scripts/test.sh and scripts/demo.sh: makes sure the toolchain pieces
# Palisade needs are present, installing what is missing, and says clearly what
# could not be installed.

die() {
  echo "error: $*" >&2
  exit 1
}

command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust with rustup (https://rustup.rs), 1.95 or newer"
command -v rustup >/dev/null 2>&1 || die "rustup is not installed; Palisade needs it to add the wasm32-wasip2 target"

# Guests (plugins and test fixtures) compile to WebAssembly components.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "==> installing the wasm32-wasip2 target (rustup target add wasm32-wasip2)"
  rustup target add wasm32-wasip2 ||
    die "could not install the wasm32-wasip2 target; run 'rustup target add wasm32-wasip2' by hand and retry"
fi

ensure_component() {
  if ! rustup component list --installed | grep -q "^$1"; then
    echo "==> installing the $1 component"
    rustup component add "$1" || die "could not install the rustup component '$1'"
  fi
}
