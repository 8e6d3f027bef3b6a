#!/usr/bin/env bash
# Installs the project's PyPI packages, pinned, into a virtual environment of Debian's python3
# (.venv at the repository's root, or $NEEDLE_VENV); only what is missing, so a second run costs
# a second. Debian's own python3 and its python3-* packages are left alone.
#   install-pypi.sh          onnx and onnxruntime (python/requirements-peers.txt): the ONNX Runtime peer
#   install-pypi.sh --torch  also PyTorch 2.x (python/requirements-torch.txt, several GB): the pytorch2
#                            peers and training
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${NEEDLE_VENV:-$repo/.venv}"

requirements=("$repo/python/requirements-peers.txt")
for option in "$@"; do
  case "$option" in
    --torch) requirements+=("$repo/python/requirements-torch.txt") ;;
    *) echo "install-pypi.sh: unknown option $option" >&2; exit 2 ;;
  esac
done

if [ ! -x "$venv/bin/python3" ]; then
  if ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  /usr/bin/python3 -m venv "$venv"
fi
# A stamp per requirements file: pip runs only when a file changed since it was installed.
for file in "${requirements[@]}"; do
  stamp="$venv/.installed-$(basename "$file")"
  if [ ! -f "$stamp" ] || ! cmp -s "$file" "$stamp"; then
    echo "installing $(basename "$file") into $venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check --no-input -r "$file"
    cp "$file" "$stamp"
  fi
done
