#!/usr/bin/env bash
# Every test: installs what is missing, then builds and runs
#   1. the release build's GoogleTest suite and the Python suite (converter,
#      NumPy reference, logit parity with the C++ engine, dataset, trainer, the
#      needlebench bindings, the notebooks run headless),
#      then the accuracy gate: the shipped model on the needle15 test split
#      may not fall more than a point below reports/baselines/,
#   2. the GoogleTest suite under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the static aarch64 build's GoogleTest suite under qemu-aarch64, and
#      needle-bench on a fake adb farm whose devices run that build's binary,
#   4. the concurrency tests under ThreadSanitizer,
#   5. every libFuzzer target: its seeds and past crashes replayed, then
#      FUZZ_SECONDS (default 30) of fuzzing each.
set -euo pipefail
cd "$(dirname "$0")/.."

# --llama: the real-server test of the OpenAI adapter needs llama.cpp's server (compiled once per
# machine, kept in ~/.cache/needle-bench/venv-llama; later runs find it installed).
scripts/install-deps.sh --cross --test --llama
jobs=$(nproc)

step() { printf '\n=== %s\n' "$*" >&2; }

step "release build"
cmake --preset release >/dev/null
cmake --build build/release -j "$jobs"
ctest --test-dir build/release --output-on-failure --no-tests=error -j "$jobs"

step "python tests (converter, NumPy reference, parity with the C++ engine, needle-eval end to end, bindings, notebooks, bench peers)"
PYTHONPATH="$PWD/build/release/python" NEEDLE_BIN="$PWD/build/release/needle" NEEDLE_REQUIRE_BIN=1 NEEDLE_REQUIRE_PEERS=1 \
  NEEDLE_REQUIRE_LLAMA=1 \
  /usr/bin/python3 -m pytest -q tests/python

step "accuracy gate: the default model on the needle15 test split (report in reports/ci/needle15-test)"
# fp32, the precision the baseline was measured at, under the baseline's system name.
build/release/needle-eval --system needle-optimized=needle:optimized:fp32 --dataset needle:datasets/needle15/test.jsonl \
  --parallel "$jobs" --out reports/ci/needle15-test >/dev/null
/usr/bin/python3 scripts/accuracy_gate.py --baseline reports/baselines/needle15-test/report.json \
  --current reports/ci/needle15-test/report.json

step "ASan + UBSan build"
cmake --preset debug-asan >/dev/null
cmake --build build/debug-asan -j "$jobs"
ctest --test-dir build/debug-asan --output-on-failure --no-tests=error -j "$jobs"

step "aarch64 static build under qemu"
cmake --preset aarch64 >/dev/null
cmake --build build/aarch64 -j "$jobs"
ctest --test-dir build/aarch64 --output-on-failure --no-tests=error -j "$jobs"
NEEDLE_BIN="$PWD/build/release/needle" NEEDLE_AARCH64_BENCH="$PWD/build/aarch64/needle-bench" NEEDLE_REQUIRE_AARCH64=1 \
  /usr/bin/python3 -m pytest -q tests/python/test_bench_farm.py

step "ThreadSanitizer build: the concurrency tests"
cmake --preset tsan >/dev/null
# Every test that runs threads: pools, concurrent sessions, parallel eval requests, the server.
concurrency_tests=(kernels_test optimized_engine_test reference_engine_test generate_test command_system_test
                   openai_system_test serve_test runner_test)
concurrency='Concurrent|ThreadPool|Threads|InParallel|^ServerTest\.|NeedleServeTest'
cmake --build build/tsan -j "$jobs" --target "${concurrency_tests[@]}"
# tests/tsan.supp: what Debian's uninstrumented cpp-httplib library does itself is not checked.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build/tsan --output-on-failure --no-tests=error -j "$jobs" -R "$concurrency"

step "fuzzing: seeds and regressions replayed, then ${FUZZ_SECONDS:-30} s per target"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
