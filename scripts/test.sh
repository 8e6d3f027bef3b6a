#!/usr/bin/env bash
# Every test: installs what is missing, then builds and runs
#   1. the release build's GoogleTest suite and the Python suite (converter,
#      NumPy reference, logit parity with the C++ engine, dataset, trainer),
#      then the accuracy gate: the shipped model on the needle15 test split
#      may not fall more than a point below reports/baselines/,
#   2. the GoogleTest suite under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the static aarch64 build's GoogleTest suite under qemu-aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --cross --test
jobs=$(nproc)

step() { printf '\n=== %s\n' "$*" >&2; }

step "release build"
cmake --preset release >/dev/null
cmake --build build/release -j "$jobs"
ctest --test-dir build/release --output-on-failure --no-tests=error -j "$jobs"

step "python tests (converter, NumPy reference, parity with the C++ engine, needle-eval end to end)"
NEEDLE_BIN="$PWD/build/release/needle" NEEDLE_REQUIRE_BIN=1 /usr/bin/python3 -m pytest -q tests/python

step "accuracy gate: the default model on the needle15 test split (report in reports/ci/needle15-test)"
build/release/needle-eval --system needle:optimized --dataset needle:datasets/needle15/test.jsonl \
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
