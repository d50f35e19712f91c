#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz: clang 14, ASan + UBSan) and runs each for
# SECONDS (default 20) on its committed corpus, fuzz/corpus/<target>/, plus the hand-made
# seeds of fuzz/seeds.py. New inputs go to build/fuzz/corpus/, not into the repository;
# `scripts/fuzz.sh SECONDS --merge` folds them, minimised, into fuzz/corpus/ (-merge=1).
# Stops at the first crash, leaving the input in build/fuzz/artifacts/. Details:
# docs/FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
merge="${2:-}"
targets=(http_request json_body ids query last_event_id)

scripts/build.sh fuzz >/dev/null
bin=build/fuzz/fuzz
work=build/fuzz/corpus
mkdir -p build/fuzz/artifacts
rm -rf build/fuzz/seeds && python3 fuzz/seeds.py build/fuzz/seeds
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  log="build/fuzz/$t.log"
  echo "== $t: ${seconds}s"
  if ! "$bin/${t}_fuzzer" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t-" \
      "$work/$t" "fuzz/corpus/$t" "build/fuzz/seeds/$t" >"$log" 2>&1; then
    tail -40 "$log"
    echo "FAILED: $t (input in build/fuzz/artifacts/, log $log)" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tr '\n' ' '
  echo
  if [ "$merge" = "--merge" ]; then
    "$bin/${t}_fuzzer" "${dict[@]}" -merge=1 "fuzz/corpus/$t" "$work/$t" "build/fuzz/seeds/$t" \
      >"build/fuzz/$t.merge.log" 2>&1
  fi
done
