#!/usr/bin/env bash
# Deterministic performance guard: instructions per call of the hook path, counted
# by callgrind, against the budget in scripts/perf-budget.txt. Wall time on a shared
# 2-core machine is noise; an instruction count is not. scripts/test.sh runs it.
#
#   scripts/perf-guard.sh            # check against the budget (exit 1 if over)
#   scripts/perf-guard.sh --record   # write the measured counts as the new budget
#
# Modes of tests/examples/hook_loop.rs: `reuse` and `fresh` (the trivial hook on a
# reused / fresh instance), `read-one` (its value copied in), `layer3` (a gRPC-shaped
# request through ServerLayer and 3 plugins), `layer3-unrouted` (the same, with the 3
# plugins scoped to another service: the layer's path for a call no plugin applies
# to). It measures the `ci` profile's build, the one scripts/test.sh makes, so it
# compiles nothing after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
if ! command -v valgrind >/dev/null 2>&1; then
  echo "==> installing valgrind (apt-get install valgrind)"
  { apt-get install -y -qq valgrind >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq valgrind >/dev/null 2>&1; }; } ||
    die "valgrind is not installed and could not be installed; install it (Debian: apt-get install valgrind) or skip the guard with PERF_GUARD=0"
fi

# Over-budget tolerance, in percent. Under valgrind the counts do not move with
# machine load, but they do move a little with code layout and the allocator's
# state (3% was once seen with no change to the hook path); a real regression, such
# as an allocation or a lock added per call, is more than this.
TOLERANCE=${PERF_GUARD_TOLERANCE:-5}
BUDGET=scripts/perf-budget.txt
LOW=2000
HIGH=12000
MODES=(reuse fresh read-one layer3 layer3-unrouted)

# Exactly scripts/test.sh's build (same command, packages and profile): nothing new
# is compiled after the tests, and a different package set would unify features
# differently and compile wasmtime again.
echo "==> cargo test --workspace --profile ci --no-run (hook_loop)"
cargo test -q --workspace --profile ci --no-run
bin=target/ci/examples/hook_loop
[[ -x "$bin" ]] || die "$bin was not built"

# Total instructions of one run of the loop with $1 calls in mode $2.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

status=0
record=""
for mode in "${MODES[@]}"; do
  low=$(instructions "$LOW" "$mode")
  high=$(instructions "$HIGH" "$mode")
  [[ -n "$low" && -n "$high" ]] || die "callgrind reported no instruction count for $mode"
  # The difference cancels start-up, loading and compilation.
  per_call=$(( (high - low) / (HIGH - LOW) ))
  record+="$mode $per_call"$'\n'
  budget=$(awk -v m="$mode" '$1 == m { print $2 }' "$BUDGET" 2>/dev/null || true)
  if [[ -z "$budget" ]]; then
    echo "$mode: $per_call instructions per call (no budget recorded)"
    continue
  fi
  limit=$(( budget + budget * TOLERANCE / 100 ))
  if (( per_call > limit )); then
    echo "$mode: $per_call instructions per call: OVER the budget of $budget (+$TOLERANCE%)"
    status=1
  elif (( per_call * 100 < budget * 90 )); then
    echo "$mode: $per_call instructions per call, over 10% under the budget of $budget: record the new count (--record) so that the gain is kept"
  else
    echo "$mode: $per_call instructions per call (budget $budget, +$TOLERANCE%)"
  fi
done

# Allocations are counted exactly (hook_loop's counting allocator), without valgrind:
# the layer must add none to a call, whether the chain has work for it or not. The
# request the loop builds allocates the same in every mode, so compare with no layer.
allocations() {
  "$bin" 2000 "$1" 2>&1 | sed -n 's/^allocations per call: \(.*\)$/\1/p'
}
floor=$(allocations layer-none)
[[ -n "$floor" ]] || die "hook_loop printed no allocation count for layer-none"
for mode in layer3 layer3-unrouted; do
  count=$(allocations "$mode")
  if [[ "$count" != "$floor" ]]; then
    echo "$mode: $count allocations per call, the request alone $floor: the layer allocates per call"
    status=1
  else
    echo "$mode: no allocation in the layer ($count per call, all the request's own)"
  fi
done

if (( status != 0 )) && [[ "${1:-}" != "--record" ]]; then
  echo "The hook path got more expensive. Profile it (tests/examples/hook_loop.rs says how);"
  echo "if the cost is intended, run scripts/perf-guard.sh --record and say why in the commit."
fi

if [[ "${1:-}" == "--record" ]]; then
  {
    echo "# Instructions per call (callgrind, profile ci), written by scripts/perf-guard.sh --record."
    printf '%s' "$record"
  } >"$BUDGET"
  echo "==> budget recorded in $BUDGET"
  exit 0
fi
exit "$status"
