#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, preset "fuzz": clang, ASan + UBSan) and
# runs each one:
#   1. over its seed corpus fuzz/corpus/TARGET and the inputs of every crash
#      found before, fuzz/regressions/TARGET (a replay: any failure fails);
#   2. fuzzing for SECONDS (default 60), new inputs kept in build/fuzz/corpus.
# Crashing inputs land in build/fuzz/artifacts/TARGET/; copy them into
# fuzz/regressions/TARGET/ once fixed, with a unit test for the fix.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
all_targets=(safetensors tokenizer tools_json python_json output_parser dataset serve_request)
targets=("${@:-${all_targets[@]}}")

cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j "$(nproc)" --target "${targets[@]/%/_fuzzer}"

status=0
for target in "${targets[@]}"; do
  fuzzer="build/fuzz/fuzz/${target}_fuzzer"
  seeds="fuzz/corpus/$target"
  regressions="fuzz/regressions/$target"
  corpus="build/fuzz/corpus/$target"
  artifacts="build/fuzz/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  replay=("$seeds"/*)
  if compgen -G "$regressions/*" >/dev/null; then replay+=("$regressions"/*); fi
  printf '\n=== %s: replaying %d seed and regression inputs\n' "$target" "${#replay[@]}" >&2
  if ! "$fuzzer" "${replay[@]}" >"build/fuzz/$target-replay.log" 2>&1; then
    tail -40 "build/fuzz/$target-replay.log" >&2
    status=1
    continue
  fi
  printf '=== %s: fuzzing for %s s\n' "$target" "$seconds" >&2
  # -timeout: an input taking over 10 s counts as a hang; -rss_limit_mb: as a memory blow-up.
  if ! "$fuzzer" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -artifact_prefix="$artifacts" -print_final_stats=1 >"build/fuzz/$target.log" 2>&1; then
    tail -60 "build/fuzz/$target.log" >&2
    status=1
    continue
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|cov: " "build/fuzz/$target.log" | tail -3 >&2
done
exit $status
