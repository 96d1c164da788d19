#!/usr/bin/env bash
# The README's test command: provisions what the test suite needs, then runs
# `cargo test --workspace "$@"`.
#
#   bash scripts/test.sh                       # the whole suite
#   bash scripts/test.sh -p keel-http          # extra arguments go to `cargo test`
#   bash scripts/test.sh --provision-only      # only the services (what .ci/run does first)
#
# What the suite needs, each provisioned only when missing (so a second run costs a
# second or two):
#   - PostgreSQL on 127.0.0.1:5432, user `postgres` with trust auth, database `test`
#     (keel-pool's tests, the examples on PostgreSQL);
#   - Redis on 127.0.0.1:6379 (keel-pool's Redis tests, the Redis rate-limit store);
#   - curl (tests/getting_started_doc.rs runs the guide's curl lines);
#   - openssl (http/tests/tls_server.rs makes its certificates and runs s_client);
#   - Python 3 with `prometheus_client` (http/tests/ops_metrics.rs checks /metrics with
#     that parser, one Keel did not write) and `websockets` (http/tests/websocket.rs,
#     tests/websocket_echo_process.rs: a WebSocket client Keel did not write);
#   - Node.js with npm, and the packages of http/tests/node (`ws`, `eventsource`:
#     http/tests/websocket.rs, http/tests/sse.rs), installed there by npm (offline from
#     npm's cache when it has them);
#   - iproute2 (`ip`, `ss`) and nftables (`nft`): tests/fault_netns.rs makes network
#     namespaces linked to the host and breaks the link (it says SKIPPED, and passes,
#     only where the kernel or sandbox refuses namespaces);
#   - with KEEL_TEST_CHROMIUM=1 only, Debian's `chromium` (~300 MB):
#     tests/websocket_echo_process.rs loads the example's page headless; without the
#     variable that test says it was skipped.
#   - Python's `h2` (http/tests/h2_floods.rs sends hand-made HTTP/2 frames),
#     `httpx[http2]` and `grpcio` (http/tests/h2_server.rs: real HTTP/2 and gRPC
#     clients), and h2load (Debian's nghttp2-client) for http/tests/h2_server.rs, which
#     also uses Node's `http2` module.
#   - Python's `requests` (http/tests/static_files.rs: conditional and range requests).
# Missing packages come from Debian's apt (as root, or through sudo); prometheus_client
# from pip (into the system Python where pip allows it, else with
# --break-system-packages, else into the user's site-packages).
set -euo pipefail
cd "$(dirname "$0")/.."

provision_only=false
if [ "${1:-}" = "--provision-only" ]; then
  provision_only=true
  shift
fi

say() { printf 'scripts/test.sh: %s\n' "$*"; }

# Root runs commands as is; anyone else goes through sudo when there is one.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root (or sudo) to run: $*"
    return 1
  fi
}

# The first (only) PostgreSQL cluster version Debian installed, e.g. `16`.
pg_version() { ls /etc/postgresql 2>/dev/null | head -1; }

# ===== packages =====

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
{ command -v ip && command -v ss; } >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
if [ -n "${KEEL_TEST_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if ! python3 -c 'import prometheus_client, websockets, h2, grpc, httpx, requests' >/dev/null 2>&1 \
    && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # A fresh Debian cluster wants passwords on TCP; the tests connect with trust auth.
    hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
    as_root sed -i 's/^\(host.*\)scram-sha-256$/\1trust/' "$hba"
  fi
fi

# ===== services =====

pg_isready -h 127.0.0.1 -p 5432 -q \
  || as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start \
  || true
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 \
  || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
  sleep 1
done
# Database `test`: over TCP with trust auth, else as the `postgres` system user.
if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -tAc 'create database test' >/dev/null 2>&1 \
    || as_root su postgres -c "psql -tAc 'create database test'" >/dev/null 2>&1 \
    || true
fi
psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null \
  || { say "PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test) is not reachable"; exit 1; }
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null \
  || { say "Redis on 127.0.0.1:6379 is not reachable"; exit 1; }

# ===== Python packages: prometheus_client, h2, httpx with HTTP/2 =====

pip_install() {
  python3 -m pip install -q "$@" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "$@" 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages "$@"
}
if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  say "installing prometheus_client (pip)"
  pip_install prometheus_client
fi
if ! python3 -c 'import h2, grpc, httpx; httpx.Client(http2=True)' >/dev/null 2>&1; then
  say "installing h2, grpcio and httpx[http2] (pip)"
  pip_install h2 grpcio 'httpx[http2]'
fi
if ! python3 -c 'import requests' >/dev/null 2>&1; then
  say "installing requests (pip)"
  pip_install requests
fi
python3 -c 'import prometheus_client, h2, grpc, httpx, requests; httpx.Client(http2=True)' \
  || { say "python3 cannot import prometheus_client, h2, grpcio, httpx (with HTTP/2) and requests"; exit 1; }

# ===== Python's websockets, Node's ws and eventsource =====

if ! python3 -c 'import websockets' >/dev/null 2>&1; then
  say "installing websockets (pip)"
  python3 -m pip install -q websockets 2>/dev/null \
    || python3 -m pip install -q --break-system-packages websockets 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages websockets
fi
python3 -c 'import websockets' \
  || { say "python3 cannot import websockets"; exit 1; }
if [ ! -d http/tests/node/node_modules/ws ] || [ ! -d http/tests/node/node_modules/eventsource ]; then
  say "installing ws and eventsource (npm, into http/tests/node)"
  (cd http/tests/node && npm install --no-audit --no-fund --prefer-offline >/dev/null) \
    || { say "npm could not install http/tests/node's packages"; exit 1; }
fi

# ===== the suite =====

if "$provision_only"; then
  say "PostgreSQL, Redis, curl, h2load, ip/ss/nft, prometheus_client, websockets, h2, grpcio, httpx and the Node packages are ready"
  exit 0
fi
exec cargo test --workspace "$@"
