#!/usr/bin/python3
"""needle-bench peer: the Needle checkpoint in ONNX Runtime, through onnxruntime-node.

Checks the command line (peer_protocol.py), exports the checkpoint to ONNX once per checkpoint
content (export_onnx.py, in a child process so that PyTorch's memory never counts in the
peak RSS), then replaces itself with `node onnxruntime_runner.mjs`, which times the graphs and
prints the JSON. fp32 only: the export is the fp32 PyTorch graph.
"""

import os
import shutil
import subprocess
import sys

PEERS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, PEERS_DIR)

import peer_protocol as protocol  # noqa: E402

PROGRAM = "onnxruntime_peer"
INSTALL_HINT = ("run `npm ci --ignore-scripts --no-audit --no-fund` in bench/peers "
                "(scripts/install-deps.sh --test installs nodejs, npm and the package)")


def main(argv):
    args = protocol.parse_args(PROGRAM, argv, ["fp32"])
    node = shutil.which("node")
    if node is None:
        protocol.fail(PROGRAM, "node is not installed: apt-get install nodejs npm, then " + INSTALL_HINT)
    if not os.path.isdir(os.path.join(PEERS_DIR, "node_modules", "onnxruntime-node")):
        protocol.fail(PROGRAM, "onnxruntime-node is not installed: " + INSTALL_HINT)

    export = subprocess.run([sys.executable, os.path.join(PEERS_DIR, "export_onnx.py"), "--model", args.model],
                            capture_output=True, text=True, check=False)
    if export.returncode != 0:
        last_line = (export.stderr.strip().splitlines() or ["no message"])[-1]
        protocol.fail(PROGRAM, f"ONNX export of {args.model} failed: {last_line}")
    onnx_dir = export.stdout.strip().splitlines()[-1]

    command = [node, os.path.join(PEERS_DIR, "onnxruntime_runner.mjs"), "--onnx-dir", onnx_dir,
               "--threads", str(args.threads)]
    if args.logits:
        command += ["--logits", "--prompt-ids", ",".join(map(str, args.prompt_ids)), "--steps", str(args.steps)]
    else:
        command += ["--n-prompt", str(args.n_prompt), "--n-gen", str(args.n_gen), "--n-depth", str(args.n_depth),
                    "--repetitions", str(args.repetitions), "--warmup", str(args.warmup)]
    sys.stdout.flush()
    os.execv(node, command)


if __name__ == "__main__":
    main(sys.argv[1:])
