#!/usr/bin/env bash
# Deterministic performance guard: instructions per trivial-hook call (reused and
# fresh instance), counted by callgrind, against the budget in
# scripts/perf-budget.txt. Wall time on a shared 2-core machine is noise; an
# instruction count is not.
#
#   scripts/perf-guard.sh            # check against the budget (exit 1 if over)
#   scripts/perf-guard.sh --record   # write the measured counts as the new budget
#
# Not part of scripts/test.sh (CI): it needs a release build of wasmtime, which CI
# does not otherwise make, and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
command -v valgrind >/dev/null 2>&1 ||
  die "valgrind is not installed (apt-get install valgrind)"

# Over-budget tolerance, in percent: instruction counts move a little with the
# allocator's state and the epoch thread, not with machine load.
TOLERANCE=${PERF_GUARD_TOLERANCE:-3}
BUDGET=scripts/perf-budget.txt
LOW=2000
HIGH=12000

echo "==> cargo build --release -p palisade-tests --example hook_loop"
cargo build --release -p palisade-tests --example hook_loop
bin=target/release/examples/hook_loop

# Total instructions of one run of the loop with $1 calls in mode $2.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

status=0
record=""
for mode in reuse fresh; do
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
  else
    echo "$mode: $per_call instructions per call (budget $budget, +$TOLERANCE%)"
  fi
done

if [[ "${1:-}" == "--record" ]]; then
  {
    echo "# Instructions per trivial-hook call (callgrind), written by scripts/perf-guard.sh --record."
    printf '%s' "$record"
  } >"$BUDGET"
  echo "==> budget recorded in $BUDGET"
  exit 0
fi
exit "$status"
