"""The command line every needle-bench peer accepts, and what the peers share (docs/peers.md).

Bench mode:
  PEER --model FILE --threads T --precision P --n-prompt NP --n-gen NG --n-depth ND
       --repetitions R --warmup W
  prints one JSON object (runtime, engine, precision, isa, samples_ns, samples_ttft_ms,
  peak_rss_bytes) on stdout.
Logits mode (parity checks):
  PEER --logits --model FILE --prompt-ids 5,9,... --steps K
  prints {"greedy_ids": [K ids], "logits": [[vocab floats] x K]}: greedy decoding from the start
  token EOS for K steps, never stopping at EOS.
Any error: exit status 2 and one line on stderr.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys

EOS_ID = 1
FIRST_ORDINARY_ID = 6  # ids below are special tokens: a prompt never holds them
PROMPT_SEED = 1234  # the C++ runner's seed, so a peer times the very ids needle-bench does
UINT64_MASK = (1 << 64) - 1
# The project's virtual environment for PyPI packages (scripts/install-pypi.sh makes it).
REPO_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VENV_DIR = os.environ.get("NEEDLE_VENV") or os.path.join(REPO_DIR, ".venv")
EXPORT_FLAG = "--export-only"


class PeerError(Exception):
    """A problem the caller must fix; reported as one line on stderr."""


def fail(program, message):
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(2)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        fail(self.prog, message)


def parse_args(program, argv, precisions, switches=()):
    """The parsed command line; checks what argparse cannot (counts, file, precision).

    switches: (flag, help) pairs of the peer's own on/off flags, which its command line in
    ResolvePeer (bench/src/params.cc) puts before the protocol's.
    """
    parser = _OneLineParser(prog=program, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, text in switches:
        parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument("--model", required=True, help="needle checkpoint (.safetensors)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of the runtime")
    parser.add_argument("--precision", default="fp32", help=f"one of {', '.join(precisions)}")
    parser.add_argument("--n-prompt", type=int, default=0, help="prompt test: ids prefilled, timed")
    parser.add_argument("--n-gen", type=int, default=0, help="decode steps, timed")
    parser.add_argument("--n-depth", type=int, default=0, help="untimed prefill before a generation test")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--logits", action="store_true", help="print greedy ids and logits instead of timing")
    parser.add_argument("--prompt-ids", default="", help="logits mode: comma-separated encoder ids")
    parser.add_argument("--steps", type=int, default=1, help="logits mode: decode steps")
    args = parser.parse_args(argv)

    if not os.path.isfile(args.model):
        fail(program, f"model file {args.model} does not exist")
    if args.precision not in precisions:
        fail(program, f"precision {args.precision} is not supported (supported: {', '.join(precisions)})")
    if args.threads < 1:
        fail(program, f"--threads must be at least 1, got {args.threads}")
    if args.logits:
        try:
            args.prompt_ids = [int(item) for item in args.prompt_ids.split(",") if item.strip()]
        except ValueError:
            fail(program, f"--prompt-ids must be comma-separated integers, got {args.prompt_ids!r}")
        if not args.prompt_ids:
            fail(program, "--logits needs --prompt-ids")
        if args.steps < 1:
            fail(program, f"--steps must be at least 1, got {args.steps}")
        return args
    if min(args.n_prompt, args.n_gen, args.n_depth, args.warmup) < 0 or args.repetitions < 1:
        fail(program, "--n-prompt, --n-gen, --n-depth and --warmup must be >= 0 and --repetitions >= 1")
    if args.n_prompt == 0 and (args.n_gen == 0 or args.n_depth == 0):
        fail(program, "nothing to time: give --n-prompt, or --n-gen with --n-depth")
    return args


def prefill_length(args):
    """Ids the encoder reads: the prompt, or for a generation test the untimed depth."""
    return args.n_prompt if args.n_prompt > 0 else args.n_depth


def prompt_ids(count, vocab_size, seed=PROMPT_SEED):
    """Pseudo-random ids in [6, vocab_size): splitmix64, exactly as bench/src/runner.cc draws them."""
    state = seed
    span = max(vocab_size - FIRST_ORDINARY_ID, 1)
    ids = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & UINT64_MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & UINT64_MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & UINT64_MASK
        z ^= z >> 31
        ids.append(FIRST_ORDINARY_ID + z % span)
    return ids


def timed_ns(args, start, prefilled, end):
    """The timed part of one repetition, as bench/src/runner.cc chooses it per test."""
    if args.n_prompt > 0 and args.n_gen > 0:
        return end - start
    if args.n_prompt > 0:
        return prefilled - start
    return end - prefilled


def print_json(value):
    sys.stdout.write(json.dumps(value, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def reexec_in_venv(program, modules, script, argv, always=False):
    """Replace this process with the project's virtual environment's Python running `script argv`,
    unless it runs there already or (without `always`) every one of `modules` can be imported here."""
    # A venv's python is a link to the system's: sys.prefix tells whether this process runs in it.
    in_venv = os.path.realpath(sys.prefix) == os.path.realpath(VENV_DIR)
    if in_venv and all(importlib.util.find_spec(module) is not None for module in modules):
        return
    if not always and all(importlib.util.find_spec(module) is not None for module in modules):
        return
    python = os.path.join(VENV_DIR, "bin", "python3")
    if in_venv or not os.path.exists(python):
        hint = "scripts/install-pypi.sh --torch" if "torch" in modules else "scripts/install-pypi.sh"
        fail(program, f"{', '.join(modules)} not installed in {VENV_DIR}: run {hint}")
    sys.stdout.flush()
    os.execv(python, [python, script, *argv])


def export_in_child(program, script, model, precision):
    """Run `script --export-only MODEL PRECISION` and return the export directory it prints last;
    a failure is this peer's one-line error."""
    export = subprocess.run([sys.executable, script, EXPORT_FLAG, model, precision], capture_output=True, text=True,
                            check=False)
    if export.returncode != 0:
        last_line = (export.stderr.strip().splitlines() or ["no message"])[-1]
        fail(program, f"ONNX export of {model} failed: {last_line}")
    return export.stdout.strip().splitlines()[-1]
