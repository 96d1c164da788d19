#!/usr/bin/env bash
# Soak run: examples/hello (release) under a mixed load for SOAK_SECONDS (default 600),
# asserting that RSS (and the heap, when tracked) stays flat after the warm-up, that open
# fds return to the baseline, and that no request failed unexpectedly. The load and the
# checks are benches/soak/soak.rs; see benches/soak/README.md.
#
#   bash benches/soak/run.sh                      # 10 minutes
#   SOAK_SECONDS=3600 bash benches/soak/run.sh    # an hour
#
# Only 127.0.0.1 is used; the run is bounded by SOAK_SECONDS, and the test stops the
# server it started.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

export SOAK_SECONDS="${SOAK_SECONDS:-600}"
export SOAK_WARMUP="${SOAK_WARMUP:-60}"
for n in SOAK_SECONDS SOAK_WARMUP; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || { echo "run.sh: $n must be a whole number, got '${!n}'" >&2; exit 2; }
done

# The test runs the example binary built next to it: build both in release.
cargo build --release --example hello
cargo test --release --test soak -- --nocapture
