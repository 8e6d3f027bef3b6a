#!/usr/bin/env bash
# The main job: installs what is missing, builds, and asks the default model
# for a tool call. Extra arguments go to `needle run` (e.g. --query "..." --tools_file f.json).
# Also builds the needlebench Python module and puts build/release/python on
# /usr/bin/python3's path (a needlebench.pth file), so `import needlebench` works.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release --target needle needlebench_core >/dev/null

site_dir=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
pth_line="$PWD/build/release/python"
if [ "$(cat "$site_dir/needlebench.pth" 2>/dev/null)" != "$pth_line" ]; then
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
  "${as_root[@]}" mkdir -p "$site_dir"
  echo "$pth_line" | "${as_root[@]}" tee "$site_dir/needlebench.pth" >/dev/null
fi

if [ $# -eq 0 ]; then
  set -- --query "What's the weather like in San Francisco right now?" \
         --tools_file models/examples/weather_tools.json
fi
build/release/needle run "$@"
