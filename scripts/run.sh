#!/usr/bin/env bash
# The main job: installs what is missing, builds, and asks the default model
# for a tool call. Extra arguments go to `needle run` (e.g. --query "..." --tools_file f.json).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release --target needle >/dev/null

if [ $# -eq 0 ]; then
  set -- --query "What's the weather like in San Francisco right now?" \
         --tools_file models/examples/weather_tools.json
fi
build/release/needle run "$@"
