#!/usr/bin/python3
"""needle-bench peer: the Needle checkpoint in PyTorch (python/needle_torch.py).

Prefill is the encoder plus every decoder layer's cross-attention K/V; decode is
NeedleModel.decode_step, one token per step over a self-attention KV cache. The command
line and the output are described in peer_protocol.py and docs/peers.md.

By default the PyTorch of the interpreter that runs it (Debian's python3-torch 1.13 for
needle-bench), in eager mode. --pypi: the project's virtual environment's PyTorch 2.x
(scripts/install-pypi.sh --torch), re-executing this file there. --compile (2.x): encode,
cross_keys_values and decode_step through torch.compile (Inductor's C++ CPU code, dynamic
shapes so that the growing cache does not recompile each step); compiling happens in
untimed passes before the warm-up repetitions.
"""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_protocol as protocol  # noqa: E402

PROGRAM = "pytorch_peer"
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16"}


def cpu_capability(torch):
    """The instruction set PyTorch dispatches its CPU kernels to (e.g. "avx2"), or ""."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip().lower()
    return ""


class Runner:
    def __init__(self, model, torch, tensor_positions=False):
        """tensor_positions: hand decode_step its position as a tensor (read from a fixed RoPE
        table), so that a compiled step is not specialised on each position's value."""
        self.model = model
        self.torch = torch
        self.tensor_positions = tensor_positions

    def prefill(self, ids):
        encoder_ids = self.torch.tensor([ids], dtype=self.torch.long)
        encoder_out = self.model.encode(encoder_ids)
        return self.model.cross_keys_values(encoder_out), encoder_ids != 0

    def greedy(self, cross_kv, encoder_valid, steps, on_step):
        """`steps` decode steps from EOS, feeding back the argmax; on_step(step, logits) after each."""
        self_kv = self.model.empty_self_kv()
        token = protocol.EOS_ID
        for step in range(steps):
            position = self.torch.tensor([step]) if self.tensor_positions else step
            logits, self_kv = self.model.decode_step(self.torch.tensor([[token]]), position, self_kv, cross_kv,
                                                     encoder_valid)
            # argmax returns the first maximum, as the C++ runner's ArgMax does.
            token = int(self.torch.argmax(logits[0]))
            on_step(step, logits[0], token)


def run_once(runner, args, prompt):
    """(timed ns, TTFT ms) of one repetition from fresh state, timed as bench/src/runner.cc does."""
    start = time.perf_counter_ns()
    cross_kv, encoder_valid = runner.prefill(prompt)
    prefilled = time.perf_counter_ns()
    first_token = [prefilled]

    def note_first(step, _logits, _token):
        if step == 0:
            first_token[0] = time.perf_counter_ns()

    runner.greedy(cross_kv, encoder_valid, max(args.n_gen, 1), note_first)
    end = time.perf_counter_ns()
    return protocol.timed_ns(args, start, prefilled, end), (first_token[0] - start) / 1e6


COMPILE_PASSES = 2
SWITCHES = (("--pypi", "run in the project's virtual environment (PyTorch 2.x from PyPI)"),
            ("--compile", "torch.compile the model's functions (PyTorch 2.x)"))


def compiled(model, torch):
    """The model with encode, cross_keys_values and decode_step replaced by compiled versions."""
    for name in ("encode", "cross_keys_values", "decode_step"):
        setattr(model, name, torch.compile(getattr(model, name), dynamic=True))
    return model


def main(argv):
    args = protocol.parse_args(PROGRAM, argv, list(PRECISIONS), SWITCHES)
    if args.pypi:
        protocol.reexec_in_venv(PROGRAM, ["torch"], __file__, argv, always=True)
    import torch

    import needle_torch

    if args.compile and not hasattr(torch, "compile"):
        protocol.fail(PROGRAM, f"--compile needs PyTorch 2.x, this is {torch.__version__} (use --pypi)")

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    try:
        model = needle_torch.NeedleModel.load(args.model).eval()
    except (ValueError, KeyError, OSError) as error:
        protocol.fail(PROGRAM, f"cannot load {args.model}: {error}")
    model.to(getattr(torch, PRECISIONS[args.precision]))
    if args.compile:
        model = compiled(model, torch)
    runner = Runner(model, torch, tensor_positions=args.compile)

    with torch.inference_mode():
        if args.logits:
            cross_kv, encoder_valid = runner.prefill(args.prompt_ids)
            greedy_ids, rows = [], []

            def record(_step, logits, token):
                greedy_ids.append(token)
                rows.append(logits.float().tolist())

            runner.greedy(cross_kv, encoder_valid, args.steps, record)
            protocol.print_json({"greedy_ids": greedy_ids, "logits": rows})
            return

        prompt = protocol.prompt_ids(protocol.prefill_length(args), model.config["vocab_size"])
        samples_ns, samples_ttft_ms = [], []
        # Compiled functions recompile until their guards settle (the first call specialises on
        # the empty cache and on first-call state): COMPILE_PASSES untimed passes first.
        warmup = args.warmup + (COMPILE_PASSES if args.compile else 0)
        for run in range(warmup + args.repetitions):
            timed, ttft_ms = run_once(runner, args, prompt)
            if run >= warmup:
                samples_ns.append(timed)
                samples_ttft_ms.append(ttft_ms)

    protocol.print_json({
        "runtime": f"pytorch {torch.__version__}",
        "engine": "pytorch-compile" if args.compile else "pytorch-eager",
        "precision": args.precision,
        "isa": cpu_capability(torch),
        "samples_ns": samples_ns,
        "samples_ttft_ms": samples_ttft_ms,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })


if __name__ == "__main__":
    main(sys.argv[1:])
