#!/usr/bin/env bash
# HTTP load test: Keel's examples/hello against hyper, a raw mio responder, Node's http
# module and Fastify, one server core each. See benches/load/README.md for how to read it.
#
#   bash benches/load/run.sh                 # all servers, 3 rounds of 5 s per test
#   DURATION=30 ROUNDS=1 SERVERS="keel hyper" bash benches/load/run.sh
#
# A single run of a few seconds moves by ±15% on a shared 2-core machine, more than the
# differences between the Rust servers. So every server and test runs ROUNDS times,
# the rounds interleaved (round 1 of every server, then round 2, ...) so that a slow
# stretch of the machine hits them all, and the table shows each one's median round by
# requests per server core, with the range of that figure over the rounds.
#
# `keel-notiming` is the same hello server with per-poll timing and lag recording off
# (KEEL_POLL_TIMING=off): the keel/keel-notiming pair measures what introspection costs.
#
# Each server runs pinned to SERVER_CPU (0) with one loop or thread, on 127.0.0.1 only;
# wrk runs pinned to CLIENT_CPU (1). A fresh server per test, so its peak RSS is that
# test's. Everything is bounded in time, and the trap stops the server on any exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
peers="$root/benches/peers"

DURATION="${DURATION:-5}"         # seconds of measured load per test and round
ROUNDS="${ROUNDS:-3}"             # rounds per server and test; the table shows the median
WARMUP="${WARMUP:-2}"             # seconds of unmeasured load first (JITs, caches, pools)
CONNECTIONS="${CONNECTIONS:-64}"
DEPTH="${DEPTH:-16}"              # requests in flight per connection in the pipelined test
SERVERS="${SERVERS:-keel keel-notiming hyper raw node fastify}"
PORT="${PORT:-18080}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
OUT="${OUT:-$(mktemp -d /tmp/keel-load.XXXXXX)}"
# Honour an existing CARGO_TARGET_DIR; otherwise each workspace builds into its own target/.
keel_target="${CARGO_TARGET_DIR:-$root/target}"
peer_target="${CARGO_TARGET_DIR:-$peers/target}"

for n in DURATION WARMUP CONNECTIONS DEPTH PORT ROUNDS; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || { echo "run.sh: $n must be a whole number, got '${!n}'" >&2; exit 2; }
done
for n in DURATION ROUNDS; do
  ((${!n} > 0)) || { echo "run.sh: $n must be at least 1, got '${!n}'" >&2; exit 2; }
done
base="http://127.0.0.1:$PORT"
mkdir -p "$OUT"

log() { printf '\n== %s ==\n' "$*" >&2; }

# ---- cleanup: the server we started, by its pid, on every exit path -------------------

server_pid=""
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# ---- tools ----------------------------------------------------------------------------

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
  log "installing ${missing[*]} from Debian"
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# ---- build ----------------------------------------------------------------------------

wants() { [[ " $SERVERS " == *" $1 "* ]]; }

if wants keel || wants keel-notiming; then
  log "building Keel's hello (production profile) into $keel_target"
  (cd "$root" && CARGO_TARGET_DIR="$keel_target" cargo build --profile production --example hello)
fi
if wants hyper || wants raw; then
  log "building the Rust peers (production profile) into $peer_target"
  (cd "$peers" && CARGO_TARGET_DIR="$peer_target" cargo build --profile production)
fi
if wants node || wants fastify; then
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "run.sh: node and npm are needed for the node and fastify peers" >&2
    exit 1
  }
  log "installing the Node peers' dependencies"
  (cd "$peers/node" && npm install --no-audit --no-fund --loglevel=error)
fi

# ---- one server ------------------------------------------------------------------------

# Starts server $1 pinned to SERVER_CPU and waits until /plaintext answers (30 s at most).
start_server() {
  local name="$1" logf="$OUT/$1.$2.server.log"
  if curl -s --max-time 1 -o /dev/null "$base/plaintext"; then
    echo "run.sh: something already answers on $base; pick another PORT" >&2
    exit 1
  fi
  case "$name" in
    # No access log: none of the peers logs per request either (Fastify's logger is off).
    keel) KEEL_ACCESS_LOG=off KEEL_LOOPS=1 HOST=127.0.0.1 PORT="$PORT" \
            taskset -c "$SERVER_CPU" "$keel_target/production/examples/hello" >"$logf" 2>&1 & ;;
    keel-notiming) KEEL_ACCESS_LOG=off KEEL_POLL_TIMING=off KEEL_LOOPS=1 HOST=127.0.0.1 PORT="$PORT" \
            taskset -c "$SERVER_CPU" "$keel_target/production/examples/hello" >"$logf" 2>&1 & ;;
    hyper) PORT="$PORT" taskset -c "$SERVER_CPU" "$peer_target/production/peer-hyper" >"$logf" 2>&1 & ;;
    raw) PORT="$PORT" taskset -c "$SERVER_CPU" "$peer_target/production/peer-raw" >"$logf" 2>&1 & ;;
    node) PORT="$PORT" NODE_ENV=production \
            taskset -c "$SERVER_CPU" node "$peers/node/http.js" >"$logf" 2>&1 & ;;
    fastify) PORT="$PORT" NODE_ENV=production \
            taskset -c "$SERVER_CPU" node "$peers/node/fastify.js" >"$logf" 2>&1 & ;;
    *) echo "run.sh: unknown server '$name'" >&2; exit 2 ;;
  esac
  server_pid=$!
  for _ in $(seq 300); do
    kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: $name exited; see $logf" >&2; cat "$logf" >&2; exit 1; }
    curl -s --max-time 1 -o /dev/null "$base/plaintext" && return 0
    sleep 0.1
  done
  echo "run.sh: $name did not answer on $base within 30 s; see $logf" >&2
  exit 1
}

# The bench asserts its result: a server that answers wrongly is not measured.
check_body() {
  local name="$1" path="$2" want="$3" got
  got="$(curl -s --max-time 2 "$base$path")"
  if [[ "$got" != "$want" ]]; then
    echo "run.sh: $name GET $path answered '$got', expected '$want'" >&2
    exit 1
  fi
}

# utime + stime of a process, in clock ticks (all its threads).
cpu_ticks() {
  local stat
  stat="$(<"/proc/$1/stat")"
  stat="${stat##*) }"          # the command name may hold spaces; skip past it
  # shellcheck disable=SC2086
  set -- $stat
  echo $(( ${12} + ${13} ))
}

# cutime + cstime of this shell: the CPU of the children it has waited for (wrk, here).
children_ticks() {
  local stat
  stat="$(<"/proc/$$/stat")"
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo $(( ${14} + ${15} ))
}

# Busy jiffies (all but idle and iowait) of the server's and wrk's CPUs together.
busy_jiffies() {
  awk -v a="cpu$SERVER_CPU" -v b="cpu$CLIENT_CPU" '$1 == a || $1 == b {
    for (i = 2; i <= 9; i++) if (i != 5 && i != 6) t += $i } END { print t }' /proc/stat
}

# A wrk latency such as 412.00us, 1.23ms or 2.01s, in microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /m$/) m = 60e6;
    else if (v ~ /s$/) m = 1e6; else m = 1;
    sub(/[a-z]+$/, "", v); printf "%.1f", v * m }'
}

# ---- the run ---------------------------------------------------------------------------

hz="$(getconf CLK_TCK)"
tests=(plaintext pipelined json)
declare -A rps p50 p99 p99us rss share per_core client other errs spread

run_test() {
  local name="$1" test="$2" path="/plaintext" script=() out="$OUT/$1.$2.wrk.txt"
  [[ "$test" == json ]] && path="/json"
  [[ "$test" == pipelined ]] && script=(-s "$here/pipeline.lua")
  local wrk_args=(-t1 "-c$CONNECTIONS" --latency "${script[@]}" "$base$path")
  [[ "$test" == pipelined ]] && wrk_args+=(-- "$DEPTH")

  start_server "$name" "$test"
  check_body "$name" /plaintext 'Hello, World!'
  [[ "$test" == json ]] && check_body "$name" /json '{"message":"Hello, World!"}'

  if ((WARMUP > 0)); then
    timeout -k 5 $((WARMUP + 30)) taskset -c "$CLIENT_CPU" wrk -d"${WARMUP}s" "${wrk_args[@]}" >/dev/null
  fi

  local t0 t1 c0 c1 w0 w1 b0 b1
  b0="$(busy_jiffies)"
  w0="$(children_ticks)"
  c0="$(cpu_ticks "$server_pid")"
  t0="$(date +%s%N)"
  timeout -k 5 $((DURATION + 30)) taskset -c "$CLIENT_CPU" wrk -d"${DURATION}s" "${wrk_args[@]}" >"$out"
  t1="$(date +%s%N)"
  c1="$(cpu_ticks "$server_pid")"
  w1="$(children_ticks)"
  b1="$(busy_jiffies)"
  local hwm_kb
  hwm_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")"
  stop_server

  local k="$name:$test:$round"
  rps[$k]="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  if [[ "$test" == pipelined ]]; then
    # wrk 4.1 times a pipelined batch once but corrects for coordinated omission as if every
    # response were a request, so its pipelined percentiles are not latencies: leave them out.
    p50[$k]="n/a"
    p99[$k]="n/a"
  else
    p50[$k]="$(awk '$1 == "50%" { print $2 }' "$out")"
    p99[$k]="$(awk '$1 == "99%" { print $2 }' "$out")"
  fi
  p99us[$k]="$(to_us "${p99[$k]}")"
  rss[$k]="$(awk -v kb="$hwm_kb" 'BEGIN { printf "%.1f", kb / 1024 }')"
  share[$k]="$(awk -v d="$((c1 - c0))" -v hz="$hz" -v ns="$((t1 - t0))" 'BEGIN { printf "%.2f", d / hz / (ns / 1e9) }')"
  per_core[$k]="$(awk -v r="${rps[$k]}" -v s="${share[$k]}" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print 0 }')"
  local secs
  secs="$(awk -v ns="$((t1 - t0))" 'BEGIN { print ns / 1e9 }')"
  client[$k]="$(awk -v d="$((w1 - w0))" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.2f", d / hz / s }')"
  # Whatever else ran on the two CPUs meanwhile, in cores: above ~0.1 the run was disturbed.
  other[$k]="$(awk -v d="$((b1 - b0))" -v hz="$hz" -v s="$secs" -v a="${share[$k]}" -v b="${client[$k]}" \
    'BEGIN { o = d / hz / s - a - b; if (o < 0) o = 0; printf "%.2f", o }')"
  errs[$k]="$(awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); printf "%s; ", $0 }' "$out")"
  printf '%-8s %-10s round %s %10s req/s  p50 %-9s p99 %-9s RSS %6s MiB  CPU %s  per core %s  wrk CPU %s  other %s %s\n' \
    "$name" "$test" "$round" "${rps[$k]}" "${p50[$k]}" "${p99[$k]}" "${rss[$k]}" "${share[$k]}" \
    "${per_core[$k]}" "${client[$k]}" "${other[$k]}" "${errs[$k]}" >&2
}

log "load: $ROUNDS rounds of ${DURATION}s per test (+${WARMUP}s warm-up), $CONNECTIONS connections, pipeline depth $DEPTH; server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; logs in $OUT"
for round in $(seq "$ROUNDS"); do
  for name in $SERVERS; do
    for test in "${tests[@]}"; do
      # The raw responder answers every request with canned plaintext; it has no /json.
      [[ "$name" == raw && "$test" == json ]] && continue
      run_test "$name" "$test"
    done
  done
done

# Each server and test's median round (by requests per server core) stands for it, with
# the range of that figure over all rounds; p50 and p99 are each the median over rounds.
for name in $SERVERS; do
  for test in "${tests[@]}"; do
    [[ -n "${rps[$name:$test:1]:-}" ]] || continue
    sorted="$(for r in $(seq "$ROUNDS"); do echo "${per_core[$name:$test:$r]} $r"; done | sort -n)"
    median="$(echo "$sorted" | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2 }')"
    m="$name:$test:$median" k="$name:$test"
    for a in rps p50 p99 p99us rss share per_core client other errs; do
      declare -n arr="$a"
      arr[$k]="${arr[$m]}"
      unset -n arr
    done
    spread[$k]="$(echo "$sorted" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%d–%d", lo, hi }')"
    # Latencies are medians of their own over the rounds (one slow round's p99 is not
    # the server's), and peak RSS is the largest of the rounds.
    for a in p50 p99; do
      declare -n arr="$a"
      if [[ "${arr[$k]}" != n/a ]]; then
        mid="$(for r in $(seq "$ROUNDS"); do echo "$(to_us "${arr[$name:$test:$r]}") $r"; done |
          sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2 }')"
        arr[$k]="${arr[$name:$test:$mid]}"
      fi
      unset -n arr
    done
    p99us[$k]="$(to_us "${p99[$k]}")"
    rss[$k]="$(for r in $(seq "$ROUNDS"); do echo "${rss[$name:$test:$r]}"; done | sort -n | tail -1)"
  done
done

# ---- the table -------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }

{
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r)," \
    "$(rustc -V | cut -d" " -f1-2), node $(node -v 2>/dev/null || echo none), $(wrk -v 2>&1 | head -1 | cut -d" " -f1-2),"  \
    "wrk -t1 -c$CONNECTIONS -d${DURATION}s, pipelined depth $DEPTH, server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU," \
    "median of $ROUNDS interleaved rounds"
  echo
  echo "| server | test | requests/s | p50 | p99 | peak RSS (MiB) | server CPU share | requests/s per server core | per core, all rounds | Keel ÷ this (per core) | wrk CPU | other load |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for test in "${tests[@]}"; do
    for name in $SERVERS; do
      k="$name:$test"
      [[ -n "${rps[$k]:-}" ]] || continue
      r="—"
      if [[ "$name" != keel && -n "${per_core[keel:$test]:-}" ]]; then
        r="$(ratio "${per_core[keel:$test]}" "${per_core[$k]}")×"
      fi
      echo "| $name | $test | ${rps[$k]} | ${p50[$k]} | ${p99[$k]} | ${rss[$k]} | ${share[$k]} | ${per_core[$k]} | ${spread[$k]} | $r | ${client[$k]} | ${other[$k]} |"
    done
  done
  for k in "${!errs[@]}"; do
    [[ "$k" == *:*:* ]] || continue # every round's, not only the median's
    [[ -z "${errs[$k]}" ]] || echo "- wrk reported for $k: ${errs[$k]}"
  done

  # The targets, per server core; printed only for the pairs that were run.
  echo
  echo "Targets (Keel per server core):"
  target() { # test peer minimum
    local kk="keel:$1" kp="$2:$1"
    [[ -n "${per_core[$kk]:-}" && -n "${per_core[$kp]:-}" ]] || return 0
    local x verdict
    x="$(ratio "${per_core[$kk]}" "${per_core[$kp]}")"
    verdict="$(awk -v x="$x" -v m="$3" 'BEGIN { print (x >= m) ? "met" : "MISSED" }')"
    echo "- $1: ≥ $3× $2 → ${x}× — $verdict"
  }
  target plaintext hyper 1.10
  target plaintext raw 0.95
  target pipelined hyper 2.00
  target pipelined raw 0.85
  for test in "${tests[@]}"; do target "$test" fastify 4.00; done
  # Introspection's cost: per-poll timing and lag recording on (keel) vs off.
  if [[ -n "${per_core[keel:plaintext]:-}" && -n "${per_core[keel-notiming:plaintext]:-}" ]]; then
    cost="$(awk -v on="${per_core[keel:plaintext]}" -v off="${per_core[keel-notiming:plaintext]}" \
      'BEGIN { printf "%.2f", (off > 0) ? (1 - on / off) * 100 : 0 }')"
    verdict="$(awk -v c="$cost" 'BEGIN { print (c < 2) ? "met" : "MISSED" }')"
    echo "- plaintext: poll timing costs < 2% (keel vs keel-notiming, per core) → ${cost}% — $verdict"
  fi
  for test in "${tests[@]}"; do
    kk="keel:$test" kh="hyper:$test"
    [[ -n "${rps[$kk]:-}" && -n "${rps[$kh]:-}" ]] || continue
    if [[ "$test" != pipelined ]]; then
      v="$(awk -v a="${p99us[$kk]}" -v b="${p99us[$kh]}" 'BEGIN { print (a <= b) ? "met" : "MISSED" }')"
      echo "- $test: p99 no worse than hyper → ${p99[$kk]} vs ${p99[$kh]} — $v"
    fi
    v="$(awk -v a="${rss[$kk]}" -v b="${rss[$kh]}" 'BEGIN { print (a <= b) ? "met" : "MISSED" }')"
    echo "- $test: peak RSS no worse than hyper → ${rss[$kk]} vs ${rss[$kh]} MiB — $v"
  done
} | tee "$OUT/table.md"
echo >&2
echo "run.sh: wrk output, server logs and table.md are in $OUT" >&2
