#!/usr/bin/env bash
# Instructions per request under callgrind: a measure of a server's user-space cost per
# request that a shared, noisy machine does not disturb (wall-clock load tests on it are).
# See benches/load/README.md, "Instruction counts".
#
#   bash benches/load/callgrind.sh                       # keel, hyper, raw; both tests
#   SERVERS="keel" TESTS=pipelined bash benches/load/callgrind.sh
#   KEEL_BIN=/tmp/hello-before SERVERS=keel bash benches/load/callgrind.sh   # an A/B
#   KEEL_ACCESS_LOG=on SERVERS=keel bash benches/load/callgrind.sh   # the access log's cost
#
# Each server runs under `valgrind --tool=callgrind` with one loop or thread (Keel with
# KEEL_ACCESS_LOG=off, as in run.sh, unless KEEL_ACCESS_LOG is set); after a warm-up the counters are zeroed, a fixed
# number of requests is sent by fixed_client.py, and the counters are dumped. Ir/request
# is the dump's instruction total over the responses counted: user-space instructions
# of every thread of the server (the kernel's share is not counted).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
peers="$root/benches/peers"

SERVERS="${SERVERS:-keel hyper raw}"
TESTS="${TESTS:-plaintext pipelined}"
PLAINTEXT_CONNECTIONS="${PLAINTEXT_CONNECTIONS:-16}"
PIPELINED_CONNECTIONS="${PIPELINED_CONNECTIONS:-4}"
DEPTH="${DEPTH:-16}"
PLAINTEXT_REQUESTS="${PLAINTEXT_REQUESTS:-20000}"
PIPELINED_REQUESTS="${PIPELINED_REQUESTS:-80000}"
PORT="${PORT:-18090}"
KEEL_ACCESS_LOG="${KEEL_ACCESS_LOG:-off}"
OUT="${OUT:-$(mktemp -d /tmp/keel-callgrind.XXXXXX)}"
keel_target="${CARGO_TARGET_DIR:-$root/target}"
peer_target="${CARGO_TARGET_DIR:-$peers/target}"
base="http://127.0.0.1:$PORT"
mkdir -p "$OUT"

for tool in valgrind callgrind_control python3 curl; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool is needed (apt-get install valgrind python3 curl)" >&2; exit 1; }
done

wants() { [[ " $SERVERS " == *" $1 "* ]]; }
if wants keel && [[ -z "${KEEL_BIN:-}" ]]; then
  (cd "$root" && CARGO_TARGET_DIR="$keel_target" cargo build --profile production --example hello)
fi
if wants hyper || wants raw; then
  (cd "$peers" && CARGO_TARGET_DIR="$peer_target" cargo build --profile production)
fi

server_pid=""
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# valgrind names its control pipe after USER/LOGNAME and HOST; the server and
# callgrind_control must agree on them (Keel's server reads HOST as its bind address).
export USER="${USER:-keel}" LOGNAME="${LOGNAME:-keel}"
control() { HOST=127.0.0.1 callgrind_control "$@" >/dev/null; }

measure() {
  local name="$1" test="$2" depth=1 total="$PLAINTEXT_REQUESTS" conns="$PLAINTEXT_CONNECTIONS" bin
  [[ "$test" == pipelined ]] && { depth="$DEPTH"; total="$PIPELINED_REQUESTS"; conns="$PIPELINED_CONNECTIONS"; }
  case "$name" in
    keel) bin="${KEEL_BIN:-$keel_target/production/examples/hello}" ;;
    hyper) bin="$peer_target/production/peer-hyper" ;;
    raw) bin="$peer_target/production/peer-raw" ;;
    *) echo "callgrind.sh: unknown server '$name'" >&2; exit 2 ;;
  esac
  if curl -s --max-time 1 -o /dev/null "$base/plaintext"; then
    echo "callgrind.sh: something already answers on $base; pick another PORT" >&2
    exit 1
  fi
  local prefix="$OUT/$name.$test"
  HOST=127.0.0.1 PORT="$PORT" KEEL_LOOPS=1 KEEL_ACCESS_LOG="$KEEL_ACCESS_LOG" \
    valgrind --tool=callgrind --callgrind-out-file="$prefix.%p" "$bin" >"$prefix.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do
    curl -s --max-time 1 -o /dev/null "$base/plaintext" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$prefix.log" >&2; exit 1; }
    sleep 0.2
  done
  timeout 300 python3 "$here/fixed_client.py" 127.0.0.1 "$PORT" /plaintext "$conns" "$depth" $((depth * 40)) >/dev/null
  control -z "$server_pid"
  local n
  n="$(timeout 600 python3 "$here/fixed_client.py" 127.0.0.1 "$PORT" /plaintext "$conns" "$depth" "$total")"
  control -d "$server_pid"
  stop_server
  local dump ir
  dump="$(ls "$prefix".*.1)"
  ir="$(awk '/^summary:/ { print $2 }' "$dump")"
  printf '| %s | %s | %s | %s | %s | %d |\n' "$name" "$test" "$conns" "$n" "$ir" $((ir / n))
}

echo "| server | test | connections | responses | Ir | Ir/request |"
echo "|---|---|---:|---:|---:|---:|"
for test in $TESTS; do
  for name in $SERVERS; do
    measure "$name" "$test"
  done
done
echo
echo "callgrind dumps in $OUT (callgrind_annotate them for the top functions)"
