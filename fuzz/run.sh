#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (or those named as arguments) for a bounded time,
# starting from the committed seed corpus, and fails when any target finds a crash.
#
#   bash fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 bash fuzz/run.sh h1_request_head
#   bash fuzz/run.sh --if-available       # exit 0 with a message when the toolchain is missing
#   FUZZ_RUNS=100000 FUZZ_SEED=1 bash fuzz/run.sh   # a fixed number of inputs from a fixed
#                                         # seed: the same verdict every time (what CI runs)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and the unstable flags it passes to rustc
# (`-Zsanitizer=address`): the nightly toolchain when rustup has one, otherwise the
# stable toolchain with RUSTC_BOOTSTRAP=1 (its x86_64 Linux std ships the sanitizer
# runtime). New inputs libFuzzer finds go to a scratch directory, so
# the committed corpus under fuzz/corpus/ stays as it is; crashes are written to
# fuzz/artifacts/<target>/ with the command that reproduces them.
set -euo pipefail
cd "$(dirname "$0")"

if_available=false
targets=()
for arg in "$@"; do
  case "$arg" in
    --if-available) if_available=true ;;
    -*) echo "fuzz/run.sh: unknown option $arg" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done

seconds="${FUZZ_SECONDS:-60}"
for knob in FUZZ_SECONDS FUZZ_RUNS FUZZ_SEED; do
  value="${!knob:-1}"
  if ! [[ "$value" =~ ^[0-9]+$ ]] || [ "$value" -eq 0 ]; then
    echo "fuzz/run.sh: $knob must be a whole number above 0, got '$value'" >&2
    exit 2
  fi
done
# A fixed seed and a fixed number of inputs make a run repeatable; otherwise it is
# bounded by time and seeded at random.
bound=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && bound=(-runs="$FUZZ_RUNS")
[ -n "${FUZZ_SEED:-}" ] && bound+=(-seed="$FUZZ_SEED")

# The toolchain: cargo-fuzz first (a missing subcommand fails at once), then nightly
# (asked of rustup, so a missing nightly is not installed behind our back), else stable
# with its unstable flags unlocked.
missing=""
cargo=(cargo)
if ! cargo fuzz --version >/dev/null 2>&1; then
  missing="cargo-fuzz is not installed (cargo install cargo-fuzz)"
elif command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly' \
    && cargo +nightly --version >/dev/null 2>&1; then
  cargo=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
if [ -n "$missing" ]; then
  if $if_available; then
    echo "fuzzing SKIPPED: $missing"
    exit 0
  fi
  echo "fuzz/run.sh: $missing" >&2
  exit 1
fi

if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <("${cargo[@]}" fuzz list)
fi

echo "fuzzing ${targets[*]}, ${bound[*]} each ($("${cargo[@]}" --version))"
"${cargo[@]}" fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "corpus/$target"
  echo "== $target =="
  # The first corpus directory receives new inputs; the committed one is only read.
  if ! "${cargo[@]}" fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
    "${bound[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing FAILED: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzzing passed: ${targets[*]}"
