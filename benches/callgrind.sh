#!/usr/bin/env bash
# Instructions per iteration of benchmark routines, Keel beside its peers, counted by
# callgrind: unlike the criterion timings, the count does not move with the machine's
# other load, so it compares code paths on a shared machine. Each routine runs twice
# (ITERS and 2 × ITERS iterations, through the bench's KEEL_BENCH_ONCE mode) and the
# difference divided by ITERS is its cost per iteration, set-up excluded.
#
#   bash benches/callgrind.sh                      # the default set below
#   bash benches/callgrind.sh wake wake_local/keel # one bench, one routine
#
# Instruction counts are not time: a contended atomic or a syscall costs far more than
# its count. Use them for single-thread paths (local wake, pool get/put); judge
# cross-thread paths by the criterion benches on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS="${ITERS:-100000}"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)"; exit 1; }

default=(
  "wake wake_local/keel" "wake wake_local/tokio"
  "conn_pools pool_get_put_1_tasks/keel" "conn_pools pool_get_put_1_tasks/deadpool"
  "conn_pools pool_get_put_10_tasks/keel" "conn_pools pool_get_put_10_tasks/deadpool"
  "conn_pools pool_get_put_100_tasks/keel" "conn_pools pool_get_put_100_tasks/deadpool"
)
if [ $# -eq 2 ]; then default=("$1 $2"); fi

binary() {
  cargo bench --features bench --no-run --bench "$1" --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])' |
    tail -1
}

instructions() { # bin id iterations
  KEEL_BENCH_ONCE="$2:$3" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" 2>&1 |
    awk '/refs:/ { gsub(",", "", $4); print $4 }'
}

printf '%-42s %14s\n' "routine" "instr/iter"
for pair in "${default[@]}"; do
  read -r bench id <<<"$pair"
  bin="$(binary "$bench")"
  one="$(instructions "$bin" "$id" "$ITERS")"
  two="$(instructions "$bin" "$id" $((2 * ITERS)))"
  printf '%-42s %14d\n' "$id" $(((two - one) / ITERS))
done
